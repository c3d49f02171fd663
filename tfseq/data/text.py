"""Reading text files and turning text into tokens (word or char level).

Line rule (both levels): text is split on ``"\\n"`` only; every line, including the last one
when the text does not end with a newline, is followed by exactly one end-of-line token. A
blank piece after the final newline is not a line (so ``"a\\n"`` and ``"a"`` tokenize alike).

* ``level="word"``: PTB style, as the TF PTB tutorial's reader. Each line is split on
  whitespace and followed by ``"<eos>"``. On PTB files (every line starts and ends with a space
  and ends with a newline) this is exactly the tutorial's ``text.replace("\\n", "<eos>").split()``, except that a
  blank line is one ``<eos>`` here, where the tutorial's reader makes the glued token
  ``"<eos><eos>"`` (PTB has no blank lines).
* ``level="char"``: every character is a token, and the end of a line is the ``"\\n"`` token
  itself (no ``<eos>`` symbol), so decoding is ``"".join(tokens)``. For a corpus of one name
  per line a name ends with ``"\\n"``, which is where name generation stops.

Files are read strictly as UTF-8 (a leading BOM is dropped) with universal newlines
(``\\r\\n`` and ``\\r`` become ``\\n``). Problems with a file raise :class:`DataSourceError`
(a ``ValueError``) whose message names the path.
"""

import gzip
import os

LEVELS = ("word", "char")
EOS = "<eos>"  # word-level end of line
EOL = "\n"  # char-level end of line


class DataSourceError(ValueError):
    """A data source cannot be used: missing/empty/non-UTF-8 file, bad checksum, offline.

    The message is one line and names the path, URL or dataset, so a command-line tool can
    print it as is.
    """


def check_level(level):
    """Returns ``level`` if it is one of :data:`LEVELS`, else raises ``ValueError``."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return level


def read_text(path):
    """Reads a UTF-8 text file with universal newlines, gzipped if its name ends in ``.gz``.

    Raises:
        DataSourceError: the file is missing, is a directory, cannot be read, is empty
            (whitespace only) or is not valid UTF-8.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataSourceError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataSourceError(f"{path}: is a directory, expected a text file")
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # EOFError: a truncated .gz
        raise DataSourceError(f"{path}: cannot read ({getattr(err, 'strerror', None) or err})") from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataSourceError(
            f"{path}: not UTF-8 text (invalid byte 0x{raw[err.start]:02x} at offset {err.start})"
        ) from err
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataSourceError(f"{path}: file is empty")
    return text


def split_lines(text):
    """Splits text into lines on ``"\\n"``; a blank piece after the last newline is dropped."""
    lines = text.split("\n")
    if not lines[-1].strip():
        lines.pop()
    return lines


def tokenize_lines(lines, level):
    """Tokens of a list of lines (each line gets one end-of-line token); see the module doc."""
    check_level(level)
    tokens = []
    if level == "word":
        for line in lines:
            tokens.extend(line.split())
            tokens.append(EOS)
    else:
        for line in lines:
            tokens.extend(line)
            tokens.append(EOL)
    return tokens


def tokenize(text, level, add_eol=True):
    """Splits ``text`` into a list of string tokens.

    Args:
        text: a ``str``.
        level: ``"word"`` (whitespace-separated words, ``"<eos>"`` after each line) or
            ``"char"`` (characters, ``"\\n"`` after each line).
        add_eol: ``True`` (corpora): a last line without a newline still gets its
            end-of-line token. ``False`` (priming text for sampling): only newlines that are
            in ``text`` give end-of-line tokens, so ``"em"`` stays an unfinished name.

    Returns:
        A list of ``str`` tokens.

    Example:
        >>> tokenize("the cat\\nsat", "word")
        ['the', 'cat', '<eos>', 'sat', '<eos>']
        >>> tokenize("ab\\nc", "char")
        ['a', 'b', '\\n', 'c', '\\n']
        >>> tokenize("ab\\nc", "char", add_eol=False)
        ['a', 'b', '\\n', 'c']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if add_eol:
        return tokenize_lines(split_lines(text), level)
    *lines, tail = text.split("\n")
    tokens = tokenize_lines(lines, level)
    tokens.extend(tail.split() if level == "word" else tail)
    return tokens


def detokenize(tokens, level):
    """Inverse of :func:`tokenize` up to whitespace: tokens back to text.

    Word level joins words with one space and turns ``"<eos>"`` into a newline; char level
    concatenates the characters.
    """
    check_level(level)
    if level == "char":
        return "".join(tokens)
    lines, words = [], []
    for token in tokens:
        if token == EOS:
            lines.append(" ".join(words) + "\n")
            words = []
        else:
            words.append(token)
    return "".join(lines) + " ".join(words)
