"""Slot-filling corpora: words, one BIO slot tag per word, and an intent per utterance.

The layout is the one of Goo et al. (2018)'s ATIS and SNIPS releases::

    <dir>/train/seq.in    one utterance per line, words separated by whitespace
    <dir>/train/seq.out   one BIO tag per word, line-aligned with seq.in
    <dir>/train/label     one intent per line (multi-intent labels joined with '#')
    <dir>/valid/...       the same three files (optional)
    <dir>/test/...        the same three files (optional)

Each file may also be gzipped (``seq.in.gz``). Tokens are ``str.split()`` (any run of
whitespace: SNIPS has double, leading and trailing spaces). Every tag is ``O``, ``B-<type>``
or ``I-<type>``; an ``I-`` tag that does not continue a chunk of its type is kept as it is
(conlleval, and so the chunk F1, treats it as the start of a chunk).

Problems raise :class:`~tfseq.data.text.DataSourceError` with one line naming the file, the
line and the value: ``train/seq.out: line 7 has 5 tags but seq.in line 7 has 6 words``.

:class:`SlotBatches` pads encoded utterances into fixed-shape, length-bucketed batches::

    words   int32   [batch, b]  word ids, 0-padded
    tags    int32   [batch, b]  tag ids, 0-padded
    length  int32   [batch]     words in the utterance
    intent  int32   [batch]     intent id
    weight  float32 [batch]     1 for a real row, 0 for a filler row (the last batch of a bucket)
    index   int32   [batch]     the row's position in the example list
    chars   int32   [batch, b, C]  character ids of each word, 0-padded (only when the examples
                                   carry them: :meth:`SlotVocabularies.encode` with ``max_chars``)
"""

import dataclasses
import os

import numpy as np

from tfseq.data.bucketing import BucketSchedule
from tfseq.data.text import DataSourceError, read_text, split_lines
from tfseq.data.vocab import Vocabulary

SPLITS = ("train", "valid", "test")
FILES = ("seq.in", "seq.out", "label")
PAD, UNK = "<pad>", "<unk>"
BUILTIN_SLOTS = {"builtin:snips": "snips"}  # name -> folder under tfseq/data/corpora/


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One line of a slot corpus: ``words`` and ``tags`` (same length), ``intent``."""

    words: tuple
    tags: tuple
    intent: str


@dataclasses.dataclass
class SlotCorpus:
    """Utterances of a slot corpus by split (``valid``/``test`` may be empty)."""

    name: str
    train: list
    valid: list
    test: list

    def split(self, name):
        """The utterances of ``"train"``, ``"valid"`` (or ``"validation"``) or ``"test"``."""
        name = {"validation": "valid"}.get(name, name)
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)

    def summary(self):
        return (f"{self.name}: {len(self.train)} train / {len(self.valid)} valid / {len(self.test)} test "
                f"utterances")


def check_tag(tag, where):
    """``tag`` if it is ``O``, ``B-<type>`` or ``I-<type>``; else a one-line ``DataSourceError``."""
    if tag == "O" or (len(tag) > 2 and tag[:2] in ("B-", "I-")):
        return tag
    raise DataSourceError(f"{where}: tag {tag!r} is not BIO (expected O, B-<type> or I-<type>)")


def _find(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    raise DataSourceError(f"{os.path.join(directory, name)}: no such file")


def _short(path):
    """``train/seq.in`` for messages: the split folder and the file name."""
    return os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))


def read_split(directory):
    """The :class:`Utterance` list of one split folder holding ``seq.in``, ``seq.out``, ``label``.

    Raises:
        DataSourceError: a file is missing, empty or not UTF-8; the three files have different
            line counts; a line has no words, or not as many tags as words; a tag is not BIO.
    """
    paths = [_find(directory, name) for name in FILES]
    lines = [split_lines(read_text(path)) for path in paths]
    (words_path, tags_path, label_path), (words_lines, tags_lines, labels) = paths, lines
    for path, count in ((tags_path, len(tags_lines)), (label_path, len(labels))):
        if count != len(words_lines):
            raise DataSourceError(f"{path}: has {count} lines but {_short(words_path)} has {len(words_lines)}")
    utterances = []
    for number, (text, tag_text, intent) in enumerate(zip(words_lines, tags_lines, labels), start=1):
        words, tags, intent = tuple(text.split()), tuple(tag_text.split()), intent.strip()
        if not words:
            raise DataSourceError(f"{words_path}: line {number} has no words")
        if len(tags) != len(words):
            raise DataSourceError(f"{tags_path}: line {number} has {len(tags)} tags but {_short(words_path)} line "
                                  f"{number} has {len(words)} words")
        for tag in tags:
            check_tag(tag, f"{tags_path}: line {number}")
        if not intent or len(intent.split()) != 1:
            raise DataSourceError(f"{label_path}: line {number}: expected one intent label, got {intent!r}")
        utterances.append(Utterance(words, tags, intent))
    return utterances


def builtin_slots_path(name):
    """The folder of a shipped slot corpus (``builtin:snips``)."""
    if name not in BUILTIN_SLOTS:
        raise DataSourceError(f"unknown builtin slot corpus {name!r}; choose one of {', '.join(BUILTIN_SLOTS)}")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpora", BUILTIN_SLOTS[name])


def load_slots(source="builtin:snips"):
    """A :class:`SlotCorpus` from ``builtin:snips`` (the shipped slice) or a directory with
    ``train/`` and optionally ``valid/`` and ``test/`` split folders."""
    directory = builtin_slots_path(source) if source.startswith("builtin:") else os.fspath(source)
    if not os.path.isdir(directory):
        raise DataSourceError(f"{directory}: no such directory (expected train/, valid/, test/ with seq.in, "
                              "seq.out, label)")
    if not os.path.isdir(os.path.join(directory, "train")):
        raise DataSourceError(f"{directory}: has no train/ folder")
    splits = {}
    for split in SPLITS:
        folder = os.path.join(directory, split)
        splits[split] = read_split(folder) if os.path.isdir(folder) else []
    name = source[len("builtin:"):] if source.startswith("builtin:") else os.path.basename(os.path.normpath(directory))
    return SlotCorpus(name, splits["train"], splits["valid"], splits["test"])


def normalize_word(word, zero_digits=True):
    """The word as the model sees it: every digit ``0`` with ``zero_digits`` (``24th`` -> ``00th``)."""
    if not zero_digits:
        return word
    return "".join("0" if ch.isdigit() else ch for ch in word)


@dataclasses.dataclass
class SlotVocabularies:
    """Word, tag and intent vocabularies built from the training split.

    Words, characters and tags have ``<pad>`` (id 0) and ``<unk>`` (id 1) first; intents have
    ``<unk>`` (id 0). Characters are those of the training words as the model sees them
    (after ``zero_digits``); ``chars`` is ``None`` for a vocabulary saved without them. A tag
    or intent that never occurs in training (ATIS' test has six such tags and
    four such intents) encodes to ``<unk>``: the model never predicts it, so it always counts
    as an error, which is how Goo et al. (2018) score them.
    """

    words: Vocabulary
    tags: Vocabulary
    intents: Vocabulary
    zero_digits: bool = True
    chars: Vocabulary | None = None

    @classmethod
    def build(cls, train, zero_digits=True, min_count=1):
        words = [normalize_word(w, zero_digits) for u in train for w in u.words]
        return cls(Vocabulary.build(words, specials=(PAD, UNK), min_count=min_count),
                   Vocabulary.build([t for u in train for t in u.tags], specials=(PAD, UNK)),
                   Vocabulary.build([u.intent for u in train], specials=(UNK,)), zero_digits,
                   Vocabulary.build([ch for w in words for ch in w], specials=(PAD, UNK)))

    def encode_words(self, words):
        return self.words.encode([normalize_word(w, self.zero_digits) for w in words])

    def encode_chars(self, words, max_chars):
        """``int32 [len(words), max_chars]``: each word's character ids, 0-padded; a word longer
        than ``max_chars`` keeps its first ``max_chars`` characters."""
        if self.chars is None:
            raise ValueError("SlotVocabularies: this vocabulary has no characters (saved without them); "
                             "build it again from the training split")
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise ValueError(f"encode_chars: max_chars must be a positive integer, got {max_chars!r}")
        out = np.zeros((len(words), max_chars), np.int32)
        for i, word in enumerate(words):
            ids = self.chars.encode(list(normalize_word(word, self.zero_digits)[:max_chars]))
            out[i, :len(ids)] = ids
        return out

    def encode(self, utterance, max_chars=None):
        """``(word ids, tag ids, intent id)`` of an :class:`Utterance`, and its
        :meth:`encode_chars` as a fourth item when ``max_chars`` is given."""
        encoded = (self.encode_words(utterance.words), self.tags.encode(list(utterance.tags)),
                   int(self.intents.encode([utterance.intent])[0]))
        if max_chars is None:
            return encoded
        return (*encoded, self.encode_chars(utterance.words, max_chars))

    def to_json(self):
        import json

        data = {"words": self.words.to_json(), "tags": self.tags.to_json(), "intents": self.intents.to_json(),
                "zero_digits": self.zero_digits}
        if self.chars is not None:
            data["chars"] = self.chars.to_json()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text):
        import json

        data = json.loads(text)
        chars = Vocabulary.from_json(data["chars"]) if "chars" in data else None
        return cls(Vocabulary.from_json(data["words"]), Vocabulary.from_json(data["tags"]),
                   Vocabulary.from_json(data["intents"]), bool(data["zero_digits"]), chars)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())


def length_boundaries(longest, num_buckets):
    """``num_buckets`` increasing padded lengths (multiples of 4) ending at ``longest`` or above."""
    if num_buckets < 1 or longest < 1:
        raise ValueError(f"num_buckets and longest must be >= 1, got {num_buckets} and {longest}")
    bounds = sorted({max(4, int(np.ceil(longest * (i + 1) / num_buckets / 4.0) * 4)) for i in range(num_buckets)})
    bounds[-1] = max(bounds[-1], longest)
    return bounds


class SlotBatches(BucketSchedule):
    """Length-bucketed, padded batches of encoded utterances (layout in the module docstring).

    Args:
        examples: ``[(word ids, tag ids, intent id)]`` or, with characters,
            ``[(word ids, tag ids, intent id, char ids [words, C])]`` (:meth:`SlotVocabularies.encode`).
        batch_size: rows per batch (every batch has exactly this many; filler rows weigh 0).
        boundaries: increasing bucket lengths; an utterance goes to the first that holds it.
        seed: the shuffle seed; epoch ``e`` uses ``default_rng([seed, e])``.
    """

    def __init__(self, examples, batch_size, boundaries, seed=0):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"SlotBatches: batch_size must be a positive integer, got {batch_size!r}")
        self.examples, self.batch_size = list(examples), batch_size
        self.boundaries, self.seed = list(boundaries), int(seed)
        lengths = np.asarray([len(e[0]) for e in self.examples], np.int64)
        self.max_chars = self.examples[0][3].shape[1] if self.examples and len(self.examples[0]) > 3 else None
        self.bucket_of = np.searchsorted(self.boundaries, lengths)
        if len(lengths) and self.bucket_of.max() == len(self.boundaries):
            i = int(np.argmax(self.bucket_of))
            raise ValueError(f"SlotBatches: example {i} has {lengths[i]} words > the last bucket "
                             f"{self.boundaries[-1]}")

    def batch(self, bucket, members):
        """The padded batch of ``members`` (filled up to ``batch_size`` with weight-0 copies)."""
        width = self.boundaries[bucket]
        rows = list(members) + [members[0]] * (self.batch_size - len(members))
        out = {"words": np.zeros((self.batch_size, width), np.int32),
               "tags": np.zeros((self.batch_size, width), np.int32),
               "length": np.zeros(self.batch_size, np.int32), "intent": np.zeros(self.batch_size, np.int32),
               "weight": np.zeros(self.batch_size, np.float32), "index": np.asarray(rows, np.int32)}
        if self.max_chars is not None:
            out["chars"] = np.zeros((self.batch_size, width, self.max_chars), np.int32)
        for r, i in enumerate(rows):
            words, tags, intent = self.examples[i][:3]
            if self.max_chars is not None:
                out["chars"][r, :len(words)] = self.examples[i][3]
            out["words"][r, :len(words)] = words
            out["tags"][r, :len(tags)] = tags
            out["length"][r], out["intent"][r] = len(words), intent
            out["weight"][r] = 1.0 if r < len(members) else 0.0
        return out
