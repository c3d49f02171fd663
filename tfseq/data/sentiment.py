"""Sentence-level sentiment corpora: SST-2 (sentence level and GLUE), MR, and padded batches.

``load_sentiment(source)`` returns a :class:`SentimentCorpus` of ``(tokens, label)`` pairs
(0 = negative, 1 = positive) split into train / valid / test. ``source`` is one of:

* ``"builtin:mr"``: a slice of Pang & Lee's sentence polarity data shipped in the package
  (``tfseq/data/corpora/rt-polarity-slice.txt.gz``: 3,000 positive and 3,000 negative
  snippets, CC BY 4.0; see ``LICENSE-rt-polarity.txt`` there), the offline default.
* a directory holding ``stsa.binary.{train,dev,test}`` (SST-2 sentence level, lines
  ``<label> <sentence>``), or ``sentiment-{train,dev,test}`` (SST-2 as in GLUE/SentEval,
  lines ``<text> <TAB><label>``): the official splits as given. A directory holding both
  copies is refused: their tokenisations differ, and one is a superset of the other.
* a directory holding ``rt-polarity.pos`` and ``rt-polarity.neg`` (MR, one snippet per line,
  labels from the file name), or one file of ``<label> <sentence>`` lines: no official
  split, so the sentences are shuffled with ``numpy.random.default_rng(seed)`` and the last
  ``test_fraction`` and the ``valid_fraction`` before them are held out
  (:attr:`SentimentCorpus.split` records how).
* ``"tfds:glue/sst2"``: TensorFlow Datasets' GLUE SST-2 (train and validation; its test
  labels are hidden, so there is no test split). It must be prepared already or downloadable.

Every text goes through :func:`tokenize` (lower case; punctuation split off words), the
same function ``predict`` applies to a user's sentence. Problems raise
:class:`~tfseq.data.text.DataSourceError` with one line naming the file, line and value.
"""

import dataclasses
import importlib.resources
import os
import re

import numpy as np

from tfseq.data.bucketing import BucketSchedule
from tfseq.data.text import DataSourceError, read_text, split_lines

LABELS = ("negative", "positive")
PAD, UNK = "<pad>", "<unk>"
BUILTIN = {"mr": "rt-polarity-slice.txt.gz"}
_TOKEN = re.compile(r"'?[^\s'\"!?.,;:()\[\]{}]+(?:'[^\s'\"!?.,;:()\[\]{}]+)*|[^\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation (``, . ! ? ; : ( ) " '``) becomes its own token.

    On the PTB-tokenized corpora this is whitespace splitting (``does n't``, ``it 's`` stay
    as they are); on raw text it splits ``witty,`` into ``witty ,`` as the corpora do.

    >>> tokenize("A gorgeous, witty film!")
    ['a', 'gorgeous', ',', 'witty', 'film', '!']
    """
    return _TOKEN.findall(text.lower())


@dataclasses.dataclass(frozen=True)
class SentimentCorpus:
    """Labelled sentences: ``train``/``valid``/``test`` lists of ``(tokens, label)``.

    Attributes:
        name: ``"mr"``, ``"sst2"``, ``"sst2-glue"``, ``"glue-sst2"`` ...
        split: how the splits were made: ``"official"`` or e.g.
            ``"shuffled with default_rng(0); valid 0.1, test 0.1"``.
    """

    name: str
    train: list
    valid: list
    test: list
    split: str = "official"

    def part(self, name):
        """The split called ``name`` (``train``, ``valid``/``validation``, ``test``)."""
        key = {"validation": "valid", "dev": "valid"}.get(name, name)
        if key not in ("train", "valid", "test"):
            raise ValueError(f"split must be train, valid or test, got {name!r}")
        return getattr(self, key)

    def summary(self):
        counts = "/".join(str(len(p)) for p in (self.train, self.valid, self.test))
        positive = sum(label for _, label in self.train) / max(1, len(self.train))
        return f"{self.name}: {counts} train/valid/test sentences ({self.split}), {positive:.0%} positive in train"


def _label(path, number, text):
    if text not in ("0", "1"):
        raise DataSourceError(f"{path}: line {number}: label must be 0 or 1, got {text!r}")
    return int(text)


def _example(path, number, text, label):
    tokens = tokenize(text)
    if not tokens:
        raise DataSourceError(f"{path}: line {number}: no text")
    return tokens, label


def read_labelled_lines(path: str) -> list[tuple[list[str], int]]:
    """``[(tokens, label)]`` of a file of ``<label> <sentence>`` lines (SST-2 sentence level)."""
    out = []
    for number, line in enumerate(split_lines(read_text(path)), 1):
        label, _, text = line.strip().partition(" ")
        out.append(_example(path, number, text, _label(path, number, label)))
    return out


def read_glue_lines(path: str) -> list[tuple[list[str], int]]:
    """``[(tokens, label)]`` of a file of ``<text> <TAB><label>`` lines (GLUE/SentEval SST-2)."""
    out = []
    for number, line in enumerate(split_lines(read_text(path)), 1):
        text, tab, label = line.rpartition("\t")
        if not tab:
            raise DataSourceError(f"{path}: line {number}: expected '<text><TAB><label>', got {line[:40]!r}")
        out.append(_example(path, number, text, _label(path, number, label.strip())))
    return out


def read_polarity_file(path: str, label: int) -> list[tuple[list[str], int]]:
    """``[(tokens, label)]``: every line of an MR ``rt-polarity.pos``/``.neg`` file."""
    return [_example(path, n, line, label) for n, line in enumerate(split_lines(read_text(path)), 1)]


def check_fractions(valid_fraction: float, test_fraction: float) -> None:
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1.0:
        raise ValueError(f"valid_fraction + test_fraction must be < 1, got {valid_fraction} + {test_fraction}")


def seeded_split(examples: list, seed: int, valid_fraction: float, test_fraction: float) -> tuple:
    """``(train, valid, test, description)``: a permutation by ``default_rng(seed)``, then
    the last ``test_fraction`` is test and the ``valid_fraction`` before it is valid."""
    check_fractions(valid_fraction, test_fraction)
    order = np.random.default_rng(seed).permutation(len(examples))
    n_test, n_valid = round(len(examples) * test_fraction), round(len(examples) * valid_fraction)
    n_train = len(examples) - n_test - n_valid
    pick = [examples[i] for i in order]
    note = f"shuffled with default_rng({seed}); valid {valid_fraction:g}, test {test_fraction:g}"
    return pick[:n_train], pick[n_train:n_train + n_valid], pick[n_train + n_valid:], note


def _directory(path, seed, valid_fraction, test_fraction):
    names = set(os.listdir(path))
    sst = {f"stsa.binary.{p}" for p in ("train", "dev", "test")}
    glue = {f"sentiment-{p}" for p in ("train", "dev", "test")}
    if names & sst and names & glue:
        raise DataSourceError(f"{path}: holds both SST-2 copies (stsa.binary.* and sentiment-*); their "
                              "tokenisations differ and one contains the other: keep one per directory")
    if names & sst:
        parts = [read_labelled_lines(os.path.join(path, f"stsa.binary.{p}")) for p in ("train", "dev", "test")]
        return SentimentCorpus("sst2", *parts)
    if names & glue:
        parts = [read_glue_lines(os.path.join(path, f"sentiment-{p}")) for p in ("train", "dev", "test")]
        return SentimentCorpus("sst2-glue", *parts)
    if names & {"rt-polarity.pos", "rt-polarity.neg"}:
        examples = (read_polarity_file(os.path.join(path, "rt-polarity.neg"), 0)
                    + read_polarity_file(os.path.join(path, "rt-polarity.pos"), 1))
        return SentimentCorpus("mr", *seeded_split(examples, seed, valid_fraction, test_fraction))
    raise DataSourceError(f"{path}: no sentiment files (expected stsa.binary.{{train,dev,test}}, "
                          "sentiment-{train,dev,test} or rt-polarity.{pos,neg})")


def _tfds(name, data_dir):
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            builder.download_and_prepare()
    except Exception as err:  # tfds raises its own errors (not found, offline ...)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataSourceError(f"tfds:{name}: {first}") from err
    parts = []
    for split in ("train", "validation"):
        rows = tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))
        parts.append([(tokenize(r["sentence"].decode("utf-8")), int(r["label"])) for r in rows])
    return SentimentCorpus(name.replace("/", "-"), parts[0], parts[1], [], "official; test labels hidden")


def builtin_path(name: str) -> str:
    """The shipped file of ``builtin:<name>``."""
    if name not in BUILTIN:
        raise DataSourceError(f"unknown builtin corpus 'builtin:{name}'; available: builtin:"
                              + ", builtin:".join(sorted(BUILTIN)))
    return str(importlib.resources.files("tfseq.data") / "corpora" / BUILTIN[name])


def load_sentiment(source: str = "builtin:mr", seed: int = 0, valid_fraction: float = 0.1, test_fraction: float = 0.1,
                   data_dir: str | None = None) -> SentimentCorpus:
    """A :class:`SentimentCorpus` from ``source`` (see the module docstring).

    Args:
        source: ``builtin:mr``, a directory, a ``<label> <sentence>`` file or ``tfds:NAME``.
        seed, valid_fraction, test_fraction: the held-out split of sources without one.
        data_dir: TFDS data directory for ``tfds:`` sources.

    Raises:
        DataSourceError: a missing, empty or malformed file (one line naming file, line, value).
    """
    source = os.fspath(source)
    if source.startswith("tfds:"):
        return _tfds(source[5:], data_dir)
    name = None
    if source.startswith("builtin:"):
        name, source = source[8:], builtin_path(source[8:])
    if os.path.isdir(source):
        return _directory(source, seed, valid_fraction, test_fraction)
    examples = read_labelled_lines(source)
    name = name or os.path.basename(source).split(".")[0]
    return SentimentCorpus(name, *seeded_split(examples, seed, valid_fraction, test_fraction))


class SentenceBatches(BucketSchedule):
    """Fixed-shape padded batches of ``(ids, label)`` examples, bucketed by length.

    Each batch is a dict of NumPy arrays (``b`` is the bucket's bound)::

        ids    int32   [batch, b]  token ids, padded with 0 (``<pad>``)
        length int32   [batch]     tokens before the padding
        label  int32   [batch]
        weight float32 [batch]     1 for real rows, 0 for filler rows (the last batch of a bucket)
        index  int32   [batch]     the example's position (filler rows repeat one)

    Args:
        examples: ``[(ids, label)]``; ``ids`` longer than the last bound are truncated.
        batch_size: rows per batch.
        boundaries: increasing bucket bounds, e.g. ``(16, 32, 64)``.
        seed: epoch ``e`` is shuffled with ``default_rng([seed, e])``.
    """

    def __init__(self, examples: list, batch_size: int, boundaries, seed: int = 0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"SentenceBatches: batch_size must be a positive integer, got {batch_size!r}")
        self.boundaries = sorted(int(b) for b in boundaries)
        if not self.boundaries or self.boundaries[0] < 1:
            raise ValueError(f"SentenceBatches: boundaries must be positive lengths, got {boundaries!r}")
        self.examples = [(np.asarray(ids[: self.boundaries[-1]], np.int32), int(label)) for ids, label in examples]
        self.batch_size, self.seed = batch_size, int(seed)
        lengths = np.asarray([max(1, len(ids)) for ids, _ in self.examples], np.int64)
        self.bucket_of = np.searchsorted(self.boundaries, lengths)

    def batch(self, bucket, members):
        width = self.boundaries[bucket]
        rows = list(members) + [members[0]] * (self.batch_size - len(members))
        out = {"ids": np.zeros((self.batch_size, width), np.int32), "length": np.zeros(self.batch_size, np.int32),
               "label": np.zeros(self.batch_size, np.int32), "weight": np.zeros(self.batch_size, np.float32),
               "index": np.asarray(rows, np.int32)}
        for r, i in enumerate(rows):
            ids, label = self.examples[i]
            out["ids"][r, :len(ids)] = ids
            out["length"][r], out["label"][r] = len(ids), label
            out["weight"][r] = 1.0 if r < len(members) else 0.0
        return out


def load_word_vectors(path: str, vocabulary, dim: int, seed: int = 0, scale: float = 0.1) -> tuple[np.ndarray, int]:
    """``(matrix [V, dim] float32, found)``: rows of a word2vec/GloVe *text* file for the
    vocabulary's tokens; other rows uniform in ``[-scale, scale]`` (``<pad>`` row zero).

    A first line of two integers (word2vec's ``count dim`` header) is skipped. A word is
    looked up as is, then lower-cased.

    Raises:
        DataSourceError: missing/empty file, or a line whose vector has another length
            than ``dim`` (names the line and the count).
    """
    tokens = vocabulary.tokens
    index = {t: i for i, t in enumerate(tokens)}
    matrix = np.random.default_rng(seed).uniform(-scale, scale, (len(tokens), dim)).astype(np.float32)
    if PAD in index:
        matrix[index[PAD]] = 0.0
    found = set()
    for number, line in enumerate(split_lines(read_text(path)), 1):
        parts = line.rstrip().split(" ")
        if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue  # word2vec header
        if len(parts) - 1 != dim:
            raise DataSourceError(f"{path}: line {number}: expected a word and {dim} numbers, got "
                                  f"{len(parts) - 1} numbers")
        row = index.get(parts[0], index.get(parts[0].lower()))
        if row is None or row in found:
            continue
        try:
            matrix[row] = np.asarray(parts[1:], np.float32)
        except ValueError:
            raise DataSourceError(f"{path}: line {number}: not a number in the vector of {parts[0]!r}") from None
        found.add(row)
    return matrix, len(found)
