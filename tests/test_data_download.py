"""PTB download path, offline: local file:// archives, checksums, cache, unreachable URLs."""

import hashlib
import io
import tarfile

import pytest

from tfseq.data import DataSourceError, cache_dir, download, fetch_ptb, load_corpus

FILES = {
    "ptb.train.txt": b" the cat sat \n a dog \n",
    "ptb.valid.txt": b" the dog sat \n",
    "ptb.test.txt": b" a cat \n",
}


def sha(content):
    return hashlib.sha256(content).hexdigest()


def make_archive(path, files, extra=()):
    """A simple-examples.tgz look-alike: simple-examples/data/<file> members."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in list(files.items()) + list(extra):
            info = tarfile.TarInfo(name if "/" in name else f"simple-examples/data/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path.as_uri()


def test_fetch_verifies_caches_and_reuses(tmp_path):
    url = make_archive(tmp_path / "simple-examples.tgz", FILES, extra=[("../evil.txt", b"x")])
    checksums = {name: sha(content) for name, content in FILES.items()}
    cache = tmp_path / "cache"
    target = fetch_ptb(cache, url=url, checksums=checksums, char_checksums={})
    assert sorted(p.name for p in (cache / "ptb").iterdir()) == sorted(FILES)
    assert target == str(cache / "ptb")
    for name, content in FILES.items():
        assert (cache / "ptb" / name).read_bytes() == content
    assert not (tmp_path / "evil.txt").exists() and not (cache / "evil.txt").exists()
    assert list((cache / "downloads").iterdir()) == []  # archive removed after extraction
    # cached and verified: no download needed any more
    assert fetch_ptb(cache, url="http://127.0.0.1:9/unreachable.tgz", checksums=checksums) == target


def test_load_corpus_ptb_uses_cache_dir(tmp_path, monkeypatch):
    url = make_archive(tmp_path / "simple-examples.tgz", FILES)
    monkeypatch.setattr(download, "PTB_URL", url)
    monkeypatch.setattr(download, "PTB_SHA256", {n: sha(c) for n, c in FILES.items()})
    corpus = load_corpus("ptb", cache_dir=tmp_path / "cache")
    assert corpus.name == "ptb" and corpus.vocab.decode(corpus.valid) == ["the", "dog", "sat", "<eos>"]
    monkeypatch.setenv("TFSEQ_CACHE", str(tmp_path / "cache"))
    assert load_corpus("ptb").vocab == corpus.vocab  # found through $TFSEQ_CACHE


def test_checksum_mismatch_is_a_clear_error(tmp_path):
    url = make_archive(tmp_path / "simple-examples.tgz", FILES)
    cache = tmp_path / "cache"
    # the real published checksums do not match these stand-in files
    mismatch = r"checksum mismatch for ptb\.\w+\.txt: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64} \(also "
    with pytest.raises(DataSourceError, match=mismatch):
        fetch_ptb(cache, url=url)
    assert not any(p.name in FILES and download.sha256_file(p) != download.PTB_SHA256[p.name]
                   for p in (cache / "ptb").iterdir())  # a file that failed is not left behind


def test_archive_without_the_files(tmp_path):
    url = make_archive(tmp_path / "other.tgz", {"README": b"nothing here\n"})
    with pytest.raises(DataSourceError, match=r"archive has no ptb.test.txt, ptb.train.txt, ptb.valid.txt"):
        fetch_ptb(tmp_path / "cache", url=url)
    (tmp_path / "junk.tgz").write_bytes(b"not an archive")
    with pytest.raises(DataSourceError, match="junk.tgz: not a readable .tgz archive"):
        fetch_ptb(tmp_path / "cache", url=(tmp_path / "junk.tgz").as_uri())


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/simple-examples.tgz", "file:///nonexistent/simple-examples.tgz"])
def test_offline_message_says_where_to_put_the_files(tmp_path, url):
    cache = tmp_path / "cache"
    with pytest.raises(DataSourceError) as info:
        fetch_ptb(cache, url=url, timeout=5)
    message = str(info.value)
    assert message.startswith(f"cannot download {url}") and "offline?" in message
    assert f"into {cache / 'ptb'}" in message and "ptb.train.txt, ptb.valid.txt, ptb.test.txt" in message
    assert "\n" not in message


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSEQ_CACHE", str(tmp_path / "c"))
    assert cache_dir() == str(tmp_path / "c")
    assert cache_dir(tmp_path / "d") == str(tmp_path / "d")
    monkeypatch.delenv("TFSEQ_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == str(tmp_path / ".cache" / "tfseq")
