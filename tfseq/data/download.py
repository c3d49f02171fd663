"""Checksummed, cached downloads of public corpora (stdlib only, no network in tests).

Files are cached under ``$TFSEQ_CACHE`` or ``~/.cache/tfseq``. A download goes to a
``.part`` file that is renamed into place only when complete; archive members are extracted
by name (no paths from the archive are trusted) and every extracted file is checked against
its published sha256 before it is used. Offline, the caller gets one
:class:`~tfseq.data.text.DataSourceError` line saying which files to put where.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request

from tfseq.data.text import DataSourceError

# Mikolov's "simple-examples" (RNNLM toolkit page). The archive has been repacked over the
# years (a 2016 repack holds only the word-level files), so the archive's own hash is not
# checked: each extracted file is checked against the sha256 of the canonical file
# (also equal to torchtext's PennTreebank MD5 table for the word-level files).
PTB_URL = "https://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
PTB_SHA256 = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
PTB_CHAR_SHA256 = {
    "ptb.char.train.txt": "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
    "ptb.char.valid.txt": "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
    "ptb.char.test.txt": "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
}


def cache_dir(path=None):
    """The cache root: ``path`` if given, else ``$TFSEQ_CACHE``, else ``~/.cache/tfseq``."""
    if path is None:
        path = os.environ.get("TFSEQ_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tfseq")
    return os.fspath(path)


def sha256_file(path):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url, dest, timeout=60.0):
    """Downloads ``url`` (``http(s)://`` or ``file://``) to ``dest`` atomically.

    Raises:
        DataSourceError: the URL cannot be reached or read (the message names it).
    """
    dest = os.fspath(dest)
    directory = os.path.dirname(os.path.abspath(dest))
    os.makedirs(directory, exist_ok=True)
    fd, part = tempfile.mkstemp(prefix=os.path.basename(dest) + ".", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        os.replace(part, dest)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DataSourceError(f"cannot download {url} ({reason})") from err
    finally:
        if os.path.exists(part):
            os.remove(part)
    return dest


def _verified(directory, checksums):
    """True if every file in ``checksums`` exists in ``directory`` with that sha256."""
    for name, expected in checksums.items():
        path = os.path.join(directory, name)
        if not os.path.isfile(path) or sha256_file(path) != expected:
            return False
    return True


def extract_members(archive, names, out_dir):
    """Extracts the archive members whose base names are in ``names`` into ``out_dir``.

    Members are matched by base name and written under that name only (paths inside the
    archive are never used), through a temporary file renamed into place.

    Returns:
        The set of base names extracted.
    """
    found = set()
    os.makedirs(out_dir, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if not member.isfile() or base not in names or base in found:
                    continue
                source = tar.extractfile(member)
                fd, tmp = tempfile.mkstemp(prefix=base + ".", suffix=".tmp", dir=out_dir)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.replace(tmp, os.path.join(out_dir, base))
                found.add(base)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DataSourceError(f"{archive}: not a readable .tgz archive ({err})") from err
    return found


def fetch_ptb(cache=None, url=None, checksums=None, char_checksums=None, timeout=60.0):
    """Returns a directory holding the verified PTB files, downloading them once if needed.

    The word-level files ``ptb.{train,valid,test}.txt`` are required; the char-level files
    ``ptb.char.*.txt`` are kept too when the archive has them (the original does, the 2016
    repack does not) and they pass their checksum.

    Args:
        cache: cache root (default: :func:`cache_dir`); files go to ``<cache>/ptb/``.
        url: where to download ``simple-examples.tgz`` from (default :data:`PTB_URL`;
            ``file://`` works).
        checksums: ``{file name: sha256}`` of the required files (default the canonical
            :data:`PTB_SHA256`); ``char_checksums`` likewise for the optional char files.

    Raises:
        DataSourceError: offline/unreachable (the message says where to put the files),
            or a file is missing from the archive or fails its checksum.
    """
    url = PTB_URL if url is None else url
    checksums = dict(PTB_SHA256 if checksums is None else checksums)
    char_checksums = dict(PTB_CHAR_SHA256 if char_checksums is None else char_checksums)
    target = os.path.join(cache_dir(cache), "ptb")
    if _verified(target, checksums):
        return target
    archive = os.path.join(cache_dir(cache), "downloads", os.path.basename(url) or "ptb.tgz")
    try:
        download(url, archive, timeout=timeout)
    except DataSourceError as err:
        raise DataSourceError(
            f"{err}; offline? Put {', '.join(checksums)} (from simple-examples/data/ in "
            f"simple-examples.tgz) into {target} or pass that directory as the data source"
        ) from err
    try:
        found = extract_members(archive, set(checksums) | set(char_checksums), target)
        missing = sorted(set(checksums) - found)
        if missing:
            raise DataSourceError(f"{url}: archive has no {', '.join(missing)}")
        mismatches = []
        for name, expected in [*checksums.items(), *char_checksums.items()]:
            if name not in found:
                continue
            path = os.path.join(target, name)
            actual = sha256_file(path)
            if actual != expected:
                if name in checksums:
                    mismatches.append((name, expected, actual))
                os.remove(path)  # a file that fails its checksum is never left to be used
        if mismatches:
            name, expected, actual = mismatches[0]
            others = f" (also {', '.join(m[0] for m in mismatches[1:])})" if len(mismatches) > 1 else ""
            raise DataSourceError(
                f"{url}: checksum mismatch for {name}: expected sha256 {expected}, got {actual}{others}"
            )
    finally:
        if os.path.exists(archive):
            os.remove(archive)
    return target
