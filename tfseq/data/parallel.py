"""Parallel corpora for translation: sentence pairs, token ids and length-bucketed batches.

Sources (:func:`load_parallel`):

* ``builtin:spa-eng``: the 50,973 short Tatoeba English-Spanish pairs (English side at most five
  words) shipped with tfseq (``tfseq/data/corpora/spa-eng.txt.gz``, CC-BY 2.0 FR, see
  ``LICENSE-tatoeba.txt``).
* a tab-separated file (``.txt``/``.tsv``, optionally ``.gz``) in the Tatoeba/Anki layout,
  ``English<TAB>Other[<TAB>attribution]``: the columns' languages are ``columns``
  (default: English first, as in every Anki file).
* a directory of line-aligned files ``<split>.<lang>`` or ``<split>.<lang>.gz``
  (Multi30k, IWSLT): ``train``; ``valid``/``val``/``dev``; ``test`` or ``test*`` (the first
  by name, e.g. Multi30k's ``test_2016_flickr``).
* ``tfds:NAME``: a TFDS translation dataset whose features are named by language
  (``tfds:ted_hrlr_translate/pt_to_en``).

Every sentence is Unicode NFC-normalised, its whitespace runs collapsed; a pair with an
empty side is dropped. A source without validation/test splits is split with a fixed-seed
shuffle (:func:`~tfseq.data.sources.holdout_split`). Problems raise
:class:`~tfseq.data.text.DataSourceError` with a one-line message naming the file.

Batches (:class:`BucketedBatches`): pairs are encoded (:func:`encode_pairs`), grouped by
length into buckets and padded to the bucket's upper bound, and short batches are filled up
with copies of their rows at weight 0, so the training step sees only ``len(boundaries)``
distinct shapes and a compiled step is traced once per bucket.
"""

import dataclasses
import os
import unicodedata

import numpy as np

from tfseq.data.bucketing import BucketSchedule
from tfseq.data.sources import holdout_split
from tfseq.data.subwords import BOS_ID, EOS_ID, PAD_ID
from tfseq.data.text import DataSourceError, read_text

CORPORA_DIR = os.path.join(os.path.dirname(__file__), "corpora")
BUILTIN_PARALLEL = {"spa-eng": ("spa-eng.txt.gz", ("en", "es"))}
SPLITS = ("train", "valid", "test")
_VALID_NAMES = ("valid", "val", "dev")


@dataclasses.dataclass
class ParallelCorpus:
    """Sentence pairs ``(source, target)`` of three splits (``valid``/``test`` may be empty)."""

    name: str
    src: str
    tgt: str
    train: list
    valid: list
    test: list

    def split(self, name):
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def summary(self):
        return (f"{self.name} {self.src}->{self.tgt}: {len(self.train):,} train, {len(self.valid):,} valid, "
                f"{len(self.test):,} test pairs")


def normalize(text):
    """Unicode NFC with whitespace runs collapsed to one space and the ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def read_lines(path):
    """Every line of a UTF-8 text file (gzipped if its name ends in ``.gz``), blank ones
    included, so that line-aligned files stay aligned; only the piece after a final newline
    is dropped. Errors are :func:`~tfseq.data.text.read_text`'s."""
    lines = read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _clean(pairs):
    out = []
    for src, tgt in pairs:
        src, tgt = normalize(src), normalize(tgt)
        if src and tgt:
            out.append((src, tgt))
    return out


def read_tsv_pairs(path, columns, src, tgt):
    """``(src, tgt)`` pairs from a tab-separated file whose first two columns are the
    languages ``columns``; further columns (Anki's attribution) are ignored."""
    if src not in columns or tgt not in columns:
        raise DataSourceError(f"{path}: its columns are {columns[0]!r} and {columns[1]!r}; cannot read {src}->{tgt}")
    order = (columns.index(src), columns.index(tgt))
    pairs = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataSourceError(f"{path}: line {number} has no tab; expected '{columns[0]}<TAB>{columns[1]}'")
        pairs.append((fields[order[0]], fields[order[1]]))
    return _clean(pairs)


def read_aligned_pairs(src_path, tgt_path):
    """Pairs from two line-aligned files; their line counts must match."""
    src_lines, tgt_lines = read_lines(src_path), read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise DataSourceError(f"{src_path} has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}")
    return _clean(zip(src_lines, tgt_lines))


def _aligned_file(directory, split, lang):
    for name in (f"{split}.{lang}", f"{split}.{lang}.gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    return None


def _directory_splits(directory, src, tgt):
    names = os.listdir(directory)
    found = {}
    for part, candidates in (("train", ("train",)), ("valid", _VALID_NAMES), ("test", ("test",))):
        if part == "test":
            candidates = ("test",) + tuple(sorted({n.split(".")[0] for n in names if n.startswith("test")}))
        for split in candidates:
            src_file, tgt_file = _aligned_file(directory, split, src), _aligned_file(directory, split, tgt)
            if src_file and tgt_file:
                found[part] = (src_file, tgt_file)
                break
    if "train" not in found:
        raise DataSourceError(f"{directory}: no train.{src} and train.{tgt} (optionally .gz) files")
    return {part: read_aligned_pairs(*files) for part, files in found.items()}


def _tfds_pairs(name, src, tgt, data_dir):
    import tensorflow_datasets as tfds

    from tfseq.data.tfds_source import VALID_SPLIT_NAMES

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if not builder.is_prepared():
            builder.download_and_prepare()
    except Exception as err:  # tfds raises its own errors (not found, offline ...)
        raise DataSourceError(f"tfds:{name}: {(str(err).splitlines() or [type(err).__name__])[0]}") from err
    features = list(builder.info.features.keys())
    if src not in features or tgt not in features:
        raise DataSourceError(f"tfds:{name}: no {src!r} and {tgt!r} features (features: {features})")
    available = set(builder.info.splits.keys())
    parts = {"train": "train", "valid": next((s for s in VALID_SPLIT_NAMES if s in available), None),
             "test": "test" if "test" in available else None}
    if "train" not in available:
        raise DataSourceError(f"tfds:{name}: no 'train' split (splits: {sorted(available)})")
    out = {}
    for part, split in parts.items():
        if split is not None:
            rows = tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))
            out[part] = _clean((r[src].decode("utf-8"), r[tgt].decode("utf-8")) for r in rows)
    return out


def load_parallel(source="builtin:spa-eng", src=None, tgt=None, *, columns=None, data_dir=None,
                  valid_fraction=0.1, test_fraction=0.1, seed=0):
    """Loads a parallel corpus (see the module docstring for the sources).

    Args:
        source: ``"builtin:spa-eng"``, a tab-separated file, a directory of line-aligned
            files, or ``"tfds:NAME"``.
        src, tgt: language codes (``"en"``, ``"de"`` ...). Defaults: the builtin corpus'
            ``es -> en``; required for other sources.
        columns: the two languages of a tab-separated file's columns; default English first
            (``("en", other)``), or ``(src, tgt)`` when neither is English.
        data_dir: the TFDS data directory for ``tfds:`` sources.
        valid_fraction, test_fraction, seed: the fixed-seed shuffled split of sources
            without validation/test splits.

    Returns:
        A :class:`ParallelCorpus`.

    Raises:
        DataSourceError: missing/empty/non-UTF-8 file, mismatched line counts, unknown
            language, an empty training split.
    """
    if source.startswith("builtin:"):
        key = source[len("builtin:"):]
        if key not in BUILTIN_PARALLEL:
            raise DataSourceError(f"unknown builtin corpus {source!r}; choose one of "
                                  f"{', '.join('builtin:' + k for k in BUILTIN_PARALLEL)}")
        filename, cols = BUILTIN_PARALLEL[key]
        src, tgt = src or cols[1], tgt or cols[0]
        parts = {"all": read_tsv_pairs(os.path.join(CORPORA_DIR, filename), cols, src, tgt)}
        name = key
    else:
        if not src or not tgt:
            raise DataSourceError(f"{source}: give the source and target languages (--src, --tgt)")
        if src == tgt:
            raise DataSourceError(f"source and target language are both {src!r}")
        if source.startswith("tfds:"):
            name = source[len("tfds:"):]
            parts = _tfds_pairs(name, src, tgt, data_dir)
        elif os.path.isdir(source):
            parts, name = _directory_splits(source, src, tgt), os.path.basename(os.path.normpath(source))
        else:
            if columns is None:
                columns = ("en", tgt) if src == "en" else ("en", src) if tgt == "en" else (src, tgt)
            parts = {"all": read_tsv_pairs(source, tuple(columns), src, tgt)}
            name = os.path.basename(source).split(".")[0]
    if "all" in parts:
        if not parts["all"]:
            raise DataSourceError(f"{source}: no sentence pairs")
        try:
            train, valid, test = holdout_split(parts["all"], valid_fraction, test_fraction, "shuffled", seed)
        except ValueError as err:
            raise DataSourceError(f"{source}: {err}") from None
    else:
        train, valid, test = parts["train"], parts.get("valid", []), parts.get("test", [])
    if not train:
        raise DataSourceError(f"{source}: the training split has no sentence pairs")
    return ParallelCorpus(name.replace("/", "_"), src, tgt, train, valid, test)


# -- ids and batches ------------------------------------------------------------------------------
def encode_pairs(pairs, src_tokenizer, tgt_tokenizer, max_length=None, reverse_source=False):
    """Token ids of sentence pairs.

    The source is its tokens (reversed if ``reverse_source``, Sutskever et al. 2014); the
    target is ``<s> tokens </s>``. Pairs with more than ``max_length`` source or target
    tokens (start/end not counted) are dropped; ``None`` keeps all.

    Returns:
        ``(examples, kept)``: ``[(src int32 [S], tgt int32 [T + 2])]`` and the indices of the
        kept pairs in ``pairs``.
    """
    examples, kept = [], []
    for i, (src, tgt) in enumerate(pairs):
        src_ids, tgt_ids = src_tokenizer.encode(src), tgt_tokenizer.encode(tgt)
        if not src_ids or (max_length is not None and max(len(src_ids), len(tgt_ids)) > max_length):
            continue
        if reverse_source:
            src_ids = src_ids[::-1]
        examples.append((np.asarray(src_ids, np.int32), np.asarray([BOS_ID] + tgt_ids + [EOS_ID], np.int32)))
        kept.append(i)
    return examples, kept


def bucket_boundaries(max_length, num_buckets):
    """``num_buckets`` increasing padded lengths ending at ``max_length`` (multiples of 4)."""
    if num_buckets < 1 or max_length < 1:
        raise ValueError(f"num_buckets and max_length must be >= 1, got {num_buckets} and {max_length}")
    bounds = sorted({max(4, int(np.ceil(max_length * (i + 1) / num_buckets / 4.0) * 4)) for i in range(num_buckets)})
    bounds[-1] = max(bounds[-1], max_length)
    return bounds


class BucketedBatches(BucketSchedule):
    """Length-bucketed, padded, fixed-shape batches of encoded pairs.

    An example goes to the first bucket whose bound ``b`` holds both its source
    (``len(src) <= b``) and its decoder input/labels (``len(tgt) - 1 <= b``); an example too
    long for the last bucket is an error (filter with ``max_length`` first). Each batch is a
    dict of NumPy arrays::

        source        int32   [batch, b]   source ids, 0-padded
        source_length int32   [batch]
        target_in     int32   [batch, b]   <s> y1 ... yn, 0-padded
        target_out    int32   [batch, b]   y1 ... yn </s>, 0-padded
        target_weight float32 [batch, b]   1 on real target tokens, 0 on padding and filler rows
        index         int32   [batch]      the example's position in ``examples`` (filler rows repeat one)

    Args:
        examples: ``[(src ids, tgt ids)]`` from :func:`encode_pairs`.
        batch_size: rows per batch (every batch has exactly this many).
        boundaries: increasing bucket bounds (:func:`bucket_boundaries`).
        seed: the shuffle seed; epoch ``e`` uses ``default_rng([seed, e])``.
    """

    def __init__(self, examples, batch_size, boundaries, seed=0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"BucketedBatches: batch_size must be a positive integer, got {batch_size!r}")
        self.examples = list(examples)
        self.batch_size = batch_size
        self.boundaries = list(boundaries)
        self.seed = int(seed)
        self.bucket_of = np.empty(len(self.examples), np.int64)
        for i, (src, tgt) in enumerate(self.examples):
            need = max(len(src), len(tgt) - 1)
            bucket = int(np.searchsorted(self.boundaries, need))
            if bucket == len(self.boundaries):
                raise ValueError(f"BucketedBatches: example {i} needs length {need} > the last bucket "
                                 f"{self.boundaries[-1]}; filter with max_length first")
            self.bucket_of[i] = bucket

    def batch(self, bucket, members):
        """The padded batch of ``members`` (filled up to ``batch_size`` with weight-0 copies)."""
        width = self.boundaries[bucket]
        rows = list(members) + [members[0]] * (self.batch_size - len(members))
        out = {"source": np.full((self.batch_size, width), PAD_ID, np.int32),
               "source_length": np.zeros(self.batch_size, np.int32),
               "target_in": np.full((self.batch_size, width), PAD_ID, np.int32),
               "target_out": np.full((self.batch_size, width), PAD_ID, np.int32),
               "target_weight": np.zeros((self.batch_size, width), np.float32),
               "index": np.asarray(rows, np.int32)}
        for r, i in enumerate(rows):
            src, tgt = self.examples[i]
            out["source"][r, :len(src)] = src
            out["source_length"][r] = len(src)
            out["target_in"][r, :len(tgt) - 1] = tgt[:-1]
            out["target_out"][r, :len(tgt) - 1] = tgt[1:]
            if r < len(members):
                out["target_weight"][r, :len(tgt) - 1] = 1.0
        return out
