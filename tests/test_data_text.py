"""Tokenization (word/char line rules) and strict UTF-8 reading."""

import pytest

from tfseq.data import DataSourceError, detokenize, read_text, tokenize


def test_word_level_appends_eos_per_line():
    assert tokenize(" the cat \n sat down\n", "word") == ["the", "cat", "<eos>", "sat", "down", "<eos>"]
    # a last line without newline still ends with <eos>; a blank line is one <eos>
    assert tokenize("a\n\nb", "word") == ["a", "<eos>", "<eos>", "b", "<eos>"]
    assert tokenize("", "word") == []


def test_word_level_equals_tf_tutorial_reader_on_newline_terminated_text():
    text = " no it was n't black monday \n but while the new york stock exchange \n <unk> N \n"
    assert tokenize(text, "word") == text.replace("\n", "<eos>").split()
    # a blank line (none in PTB) is one <eos> here; the tutorial's reader would fuse two
    # end-of-lines into the single token "<eos><eos>"
    assert "<eos><eos>" in " a \n\n b \n".replace("\n", "<eos>").split()
    assert tokenize(" a \n\n b \n", "word") == ["a", "<eos>", "<eos>", "b", "<eos>"]


def test_char_level_uses_newline_as_end_of_line():
    assert tokenize("ab\nc", "char") == ["a", "b", "\n", "c", "\n"]
    assert tokenize("ab\nc\n", "char") == ["a", "b", "\n", "c", "\n"]
    assert tokenize("a b\n\n", "char") == ["a", " ", "b", "\n", "\n"]
    names = "emma\nolivia\nava"
    tokens = tokenize(names, "char")
    assert "".join(tokens).split("\n")[:-1] == ["emma", "olivia", "ava"]
    assert tokens[-1] == "\n"


def test_priming_text_without_end_of_line():
    assert tokenize("em", "char", add_eol=False) == ["e", "m"]
    assert tokenize("ab\nc", "char", add_eol=False) == ["a", "b", "\n", "c"]
    assert tokenize("ab\n", "char", add_eol=False) == ["a", "b", "\n"]
    assert tokenize("the cat\nsat on", "word", add_eol=False) == ["the", "cat", "<eos>", "sat", "on"]
    assert tokenize("", "word", add_eol=False) == []


def test_detokenize_inverts_tokenize():
    text = "first line\nsecond  line here\n"
    assert detokenize(tokenize(text, "word"), "word") == "first line\nsecond line here\n"
    assert detokenize(tokenize(text, "char"), "char") == text
    assert detokenize(["a", "b"], "word") == "a b"


def test_bad_level_and_type():
    with pytest.raises(ValueError, match="level must be one of .*'byte'"):
        tokenize("abc", "byte")
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize(b"abc", "word")


def test_read_text_normalizes_newlines_and_bom(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\rthree\n")
    assert read_text(path) == "one\ntwo\nthree\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"caf\xe9\n", r"not UTF-8 text \(invalid byte 0xe9 at offset 3\)"),
        (b"", "file is empty"),
        (b" \n\n", "file is empty"),
    ],
)
def test_read_text_errors_name_the_path(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataSourceError, match=f"bad.txt: {message}") as info:
        read_text(path)
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_read_text_missing_and_directory(tmp_path):
    with pytest.raises(DataSourceError, match="nope.txt: no such file"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(DataSourceError, match="is a directory"):
        read_text(tmp_path)


def test_read_text_reads_gzip_and_names_a_truncated_one(tmp_path):
    import gzip

    path = tmp_path / "corpus.txt.gz"
    with gzip.open(path, "wb") as f:
        f.write("héllo\r\nworld\n".encode("utf-8"))
    assert read_text(path) == "héllo\nworld\n"
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(path.read_bytes()[:-8])  # the gzip trailer cut off
    with pytest.raises(DataSourceError, match=r"broken\.txt\.gz: cannot read"):
        read_text(broken)
