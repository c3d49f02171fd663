"""Corpora for language models: where the text comes from and how it is split.

``load_corpus(source, level)`` returns a :class:`Corpus` of id arrays with a vocabulary
built from the training split only. ``source`` is one of:

* ``"builtin:names"`` / ``"builtin:shakespeare"``: corpora shipped inside the package
  (the offline default; see ``tfseq/data/corpora/README.md`` for provenance). Their natural
  level is ``"char"``.
* a directory in PTB layout, ``ptb.train.txt``, ``ptb.valid.txt``, ``ptb.test.txt`` (or
  ``train.txt``, ``valid.txt``, ``test.txt``): the official splits are used as given. At char
  level a PTB directory uses Mikolov's char files ``ptb.char.{train,valid,test}.txt`` when all
  three exist (whitespace-separated symbols, ``_`` between words, ``"\\n"`` after each line);
  otherwise the same symbols are derived from the word files with Mikolov's documented rule
  (words of a line joined by ``_``), which reproduces the published char files exactly.
  A directory with ``train.txt`` etc. is tokenized like any text at either level.
* one text file, or a list of files read in order: the lines are split into train / valid /
  test by ``valid_fraction`` and ``test_fraction`` (see :func:`holdout_split`).
* ``"ptb"``: the canonical public PTB download (checksummed, cached; see
  :mod:`tfseq.data.download`). A local directory named ``ptb`` must be written ``./ptb``.
* ``"tfds:NAME"``: any TFDS text dataset (see :mod:`tfseq.data.tfds_source`); a dataset
  without a validation or test split is split by lines like a text file.
"""

import dataclasses
import importlib.resources
import os

import numpy as np

from tfseq.data import download as _download
from tfseq.data.text import (
    EOL,
    DataSourceError,
    check_level,
    detokenize,
    read_text,
    split_lines,
    tokenize_lines,
)
from tfseq.data.vocab import UNK, Vocabulary

SPLIT_ORDERS = ("contiguous", "shuffled")


@dataclasses.dataclass(frozen=True)
class BuiltinCorpus:
    """A corpus shipped in ``tfseq/data/corpora/``."""

    file: str
    level: str  # natural tokenization level
    split: str  # line order used for the held-out splits (see holdout_split)
    description: str


BUILTIN_CORPORA = {
    "names": BuiltinCorpus(
        "names.txt", "char", "shuffled",
        "32,033 US first names, one per line (makemore, MIT; SSA 2018 data)",
    ),
    "shakespeare": BuiltinCorpus(
        "shakespeare.txt", "char", "contiguous",
        "first 99,843 bytes of Tiny Shakespeare (char-rnn; public-domain text)",
    ),
}


@dataclasses.dataclass(frozen=True, eq=False)
class Corpus:
    """Token ids of the three splits and the vocabulary that encodes them.

    Attributes:
        train, valid, test: 1-D ``np.int32`` id arrays (``valid``/``test`` may be empty when
            their fraction is 0).
        vocab: the :class:`~tfseq.data.vocab.Vocabulary` (built from ``train`` only, unless
            one was passed to :func:`load_corpus`).
        level: ``"word"`` or ``"char"``.
        name: a short name of the source (for logs and run names).
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    vocab: Vocabulary
    level: str
    name: str

    def summary(self):
        """One line: name, level, vocabulary size, tokens per split, unknown rate."""
        parts = [f"{self.name} ({self.level}): vocab {self.vocab.size}"]
        for split in ("train", "valid", "test"):
            ids = getattr(self, split)
            text = f"{split} {ids.size:,}"
            if self.vocab.unk_id is not None and ids.size:
                text += f" ({np.mean(ids == self.vocab.unk_id):.1%} unk)"
            parts.append(text)
        return ", ".join(parts) + " tokens"

    def lines(self):
        """The lines of all three splits, decoded from the ids (no file is read again), e.g.
        to tell generated lines from known ones."""
        ids = np.concatenate([self.train, self.valid, self.test])
        return split_lines(detokenize(self.vocab.decode(ids), self.level))

    def __repr__(self):
        return f"Corpus({self.summary()})"


def builtin_corpus_path(name):
    """Path of a shipped corpus file; ``ValueError`` listing the names if unknown."""
    if name not in BUILTIN_CORPORA:
        raise DataSourceError(f"unknown builtin corpus {name!r}; available: {', '.join(sorted(BUILTIN_CORPORA))}")
    return str(importlib.resources.files("tfseq.data") / "corpora" / BUILTIN_CORPORA[name].file)


def check_fractions(valid_fraction, test_fraction):
    """``ValueError`` unless both fractions are numbers in [0, 1) with a sum below 1."""
    for arg, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"{arg} must be a number in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1:
        raise ValueError(
            f"valid_fraction + test_fraction must be < 1, got {valid_fraction} + {test_fraction}"
        )


def holdout_split(lines, valid_fraction=0.1, test_fraction=0.1, order="contiguous", seed=0):
    """Splits a list of lines into ``(train, valid, test)`` line lists, deterministically.

    ``n_valid = round(n * valid_fraction)`` and ``n_test = round(n * test_fraction)`` lines
    (at least one each when the fraction is > 0), the rest is train.

    * ``order="contiguous"``: train is the first lines, then valid, then test (the usual split
      of running text such as Shakespeare: no sentence is cut, context stays intact).
    * ``order="shuffled"``: the lines are first permuted with ``numpy.random.default_rng(seed)``
      (for independent lines such as names, which may be sorted, e.g. by popularity).

    Raises:
        ValueError: bad fractions, bad ``order``, or too few lines to leave one for train.
    """
    check_fractions(valid_fraction, test_fraction)
    if order not in SPLIT_ORDERS:
        raise ValueError(f"order must be one of {SPLIT_ORDERS}, got {order!r}")
    n = len(lines)
    n_valid = max(1, round(n * valid_fraction)) if valid_fraction > 0 else 0
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    n_train = n - n_valid - n_test
    if n_train < 1:
        raise ValueError(
            f"too few lines ({n}) to hold out valid_fraction={valid_fraction} and "
            f"test_fraction={test_fraction} and keep a training line"
        )
    if order == "shuffled":
        perm = np.random.default_rng(seed).permutation(n)
        lines = [lines[i] for i in perm]
    return lines[:n_train], lines[n_train : n_train + n_valid], lines[n_train + n_valid :]


# -- PTB layout -------------------------------------------------------------------------
PTB_LAYOUTS = (("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"), ("train.txt", "valid.txt", "test.txt"))
PTB_CHAR_FILES = ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt")


def ptb_char_tokens_from_words(text):
    """Mikolov's char-level PTB symbols from word-level text (``_`` between words, ``"\\n"`` per line)."""
    tokens = []
    for line in split_lines(text):
        tokens.extend("_".join(line.split()))
        tokens.append(EOL)
    return tokens


def ptb_char_tokens(text):
    """Symbols of a ``ptb.char.*.txt`` file: whitespace-separated per line, ``"\\n"`` per line."""
    tokens = []
    for line in split_lines(text):
        tokens.extend(line.split())
        tokens.append(EOL)
    return tokens


def _ptb_dir_tokens(directory, level):
    for layout in PTB_LAYOUTS:
        if os.path.isfile(os.path.join(directory, layout[0])):
            break
    else:
        raise DataSourceError(
            f"{directory}: no ptb.train.txt (expected a directory with ptb.train.txt, ptb.valid.txt, "
            "ptb.test.txt, or train.txt, valid.txt, test.txt)"
        )
    paths = [os.path.join(directory, f) for f in layout]
    char_paths = [os.path.join(directory, f) for f in PTB_CHAR_FILES]
    if level == "char" and layout is PTB_LAYOUTS[0] and all(os.path.isfile(p) for p in char_paths):
        return [ptb_char_tokens(read_text(p)) for p in char_paths]
    texts = [read_text(p) for p in paths]  # names the missing/empty/non-UTF-8 file
    if level == "char" and layout is PTB_LAYOUTS[0]:
        return [ptb_char_tokens_from_words(t) for t in texts]
    return [tokenize_lines(split_lines(t), level) for t in texts]


def _split_tokens(lines, level, valid_fraction, test_fraction, order, seed):
    parts = holdout_split(lines, valid_fraction, test_fraction, order=order, seed=seed)
    return [tokenize_lines(part, level) for part in parts]


def _file_lines(paths):
    lines = []
    for path in paths:
        lines.extend(split_lines(read_text(path)))
    return lines


def _tfds_tokens(name, level, data_dir, text_key, tfds_splits, order, valid_fraction, test_fraction, seed):
    from tfseq.data.tfds_source import load_tfds_texts  # imports tensorflow_datasets

    texts, _ = load_tfds_texts(name, data_dir=data_dir, text_key=text_key, splits=tfds_splits)
    if not texts["train"].strip():
        raise DataSourceError(f"tfds:{name}: the train split has no text")
    # a missing valid/test split is held out from train's lines
    train, valid, test = holdout_split(
        split_lines(texts["train"]),
        valid_fraction if texts["valid"] is None else 0,
        test_fraction if texts["test"] is None else 0,
        order=order,
        seed=seed,
    )
    lines = {"train": train, "valid": valid, "test": test}
    for part in ("valid", "test"):
        if texts[part] is not None:
            lines[part] = split_lines(texts[part])
    return [tokenize_lines(lines[part], level) for part in ("train", "valid", "test")]


def load_corpus(
    source,
    level=None,
    *,
    valid_fraction=0.1,
    test_fraction=0.1,
    split=None,
    seed=0,
    vocab=None,
    specials=(UNK,),
    min_count=1,
    max_vocab_size=None,
    cache_dir=None,
    data_dir=None,
    text_key=None,
    tfds_splits=None,
):
    """Loads a corpus, tokenizes it and encodes it with a train-only vocabulary.

    Args:
        source: ``"builtin:NAME"``, ``"ptb"``, ``"tfds:NAME"``, a directory in PTB layout,
            a text file, or a list of text files (see the module docstring).
        level: ``"word"`` or ``"char"``; ``None`` means the source's natural level
            (``"char"`` for builtin corpora, ``"word"`` otherwise).
        valid_fraction, test_fraction: share of lines held out when the source has no such
            split of its own (text files, builtin corpora, TFDS datasets without it);
            ignored for PTB directories.
        split: line order for held-out splits, ``"contiguous"`` or ``"shuffled"``
            (:func:`holdout_split`); ``None``: ``"shuffled"`` for ``builtin:names``,
            ``"contiguous"`` otherwise.
        seed: the seed of the ``"shuffled"`` order.
        vocab: an existing :class:`Vocabulary` to encode with (e.g. the one saved with a
            trained model); ``None`` builds one from the training tokens.
        specials, min_count, max_vocab_size: passed to :meth:`Vocabulary.build`
            (``max_vocab_size`` as ``max_size``).
        cache_dir: download cache for ``"ptb"`` (default ``$TFSEQ_CACHE`` or ``~/.cache/tfseq``).
        data_dir: TFDS data directory for ``"tfds:NAME"``.
        text_key: TFDS text feature name (auto-detected when ``None``).
        tfds_splits: TFDS split overrides, e.g. ``{"valid": "train[90%:]"}``.

    Returns:
        A :class:`Corpus`.

    Raises:
        DataSourceError (a ``ValueError``): missing, empty or non-UTF-8 files (the message
            names the path), unknown builtin or TFDS name, download problems.
        ValueError: bad ``level``, fractions or ``split``.
    """
    if level is not None:
        check_level(level)
    check_fractions(valid_fraction, test_fraction)
    if split is not None and split not in SPLIT_ORDERS:
        raise ValueError(f"split must be one of {SPLIT_ORDERS} or None, got {split!r}")
    held_out = dict(valid_fraction=valid_fraction, test_fraction=test_fraction, seed=seed)

    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("source must name at least one file, got []")
        paths = [os.fspath(p) for p in source]
        level = level or "word"
        tokens = _split_tokens(_file_lines(paths), level, order=split or "contiguous", **held_out)
        name = "+".join(os.path.basename(p) for p in paths)
    elif isinstance(source, str) and source.startswith("builtin:"):
        name = source[len("builtin:") :]
        path = builtin_corpus_path(name)
        spec = BUILTIN_CORPORA[name]
        level = level or spec.level
        tokens = _split_tokens(split_lines(read_text(path)), level, order=split or spec.split, **held_out)
    elif isinstance(source, str) and source.startswith("tfds:"):
        name = source[len("tfds:") :]
        level = level or "word"
        tokens = _tfds_tokens(name, level, data_dir, text_key, tfds_splits, order=split or "contiguous", **held_out)
        name = name.split("/")[0].split(":")[0]
    elif source == "ptb":
        level = level or "word"
        tokens = _ptb_dir_tokens(_download.fetch_ptb(cache_dir), level)
        name = "ptb"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        level = level or "word"
        if os.path.isdir(path):
            tokens = _ptb_dir_tokens(path, level)
        elif os.path.exists(path):
            tokens = _split_tokens(_file_lines([path]), level, order=split or "contiguous", **held_out)
        else:
            raise DataSourceError(
                f"{path}: no such file or directory (expected builtin:NAME, ptb, tfds:NAME, "
                "a directory in PTB layout, or text file(s))"
            )
        name = os.path.basename(os.path.normpath(path)) or path
    else:
        raise TypeError(f"source must be a str, path or list of paths, got {type(source).__name__}")

    train_tokens, valid_tokens, test_tokens = tokens
    if not train_tokens:
        raise DataSourceError(f"{name}: the training split is empty")
    if vocab is None:
        vocab = Vocabulary.build(
            train_tokens, specials=specials, min_count=min_count, max_size=max_vocab_size,
            unk_token=UNK if UNK in tuple(specials) else None,
        )
    elif not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a Vocabulary or None, got {type(vocab).__name__}")
    try:
        ids = [vocab.encode(t) for t in tokens]
    except KeyError as err:  # a given vocabulary without unk_token
        raise DataSourceError(f"{name}: {err.args[0]}") from err
    return Corpus(train=ids[0], valid=ids[1], test=ids[2], vocab=vocab, level=level, name=name)
