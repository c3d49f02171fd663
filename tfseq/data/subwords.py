"""Sentence <-> token ids for translation: sentencepiece subwords or words, with fixed specials.

Both tokenizers reserve the same four ids, so a model never depends on which one it was
trained with: ``0 = <pad>``, ``1 = <unk>``, ``2 = <s>`` (start), ``3 = </s>`` (end).

* :class:`SubwordTokenizer`: a sentencepiece unigram model trained *in memory* on the
  training sentences of one language (``sentencepiece.SentencePieceTrainer.train`` with a
  ``model_writer``), no normalisation of its own (the data layer already applied Unicode
  NFC), so ``decode(encode(s)) == s`` up to runs of spaces.
* :class:`WordTokenizer`: words and punctuation marks (``\\w+`` runs and single other
  characters) with a train-only :class:`~tfseq.data.vocab.Vocabulary`; ``decode`` joins
  tokens with spaces and removes the space before closing punctuation and after opening
  punctuation (``¿``, ``¡``, ``(``), which is enough to score BLEU on detokenised text.

Either one saves to a single JSON file (:meth:`save`, :func:`load_tokenizer`) kept in the
run directory, so evaluation and decoding use exactly the ids training used.
"""

import base64
import io
import json
import os
import re
import tempfile

from tfseq.data.vocab import Vocabulary

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
TOKENIZERS = ("sentencepiece", "word")
_FORMAT = "tfseq.data.subwords"

_WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}»…])")
_NO_SPACE_AFTER = re.compile(r"([¿¡(\[{«]) ")


class SubwordTokenizer:
    """sentencepiece subwords (unigram LM) with the shared special ids.

    Args:
        model_proto: the serialised sentencepiece model (``bytes``), as :meth:`train` makes.

    Example:
        >>> tok = SubwordTokenizer.train(["the cat sat", "the dog ran"] * 50, vocab_size=20)
        >>> tok.decode(tok.encode("the cat ran"))
        'the cat ran'
    """

    kind = "sentencepiece"

    def __init__(self, model_proto):
        import sentencepiece

        self.model_proto = bytes(model_proto)
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=self.model_proto)
        if [self._sp.id_to_piece(i) for i in range(4)] != list(SPECIALS):
            raise ValueError("SubwordTokenizer: model_proto must reserve ids 0-3 for <pad>, <unk>, <s>, </s>")

    @classmethod
    def train(cls, sentences, vocab_size):
        """Trains on ``sentences`` (an iterable of ``str``) in memory.

        ``vocab_size`` is an upper bound: a small corpus gets fewer pieces
        (``hard_vocab_limit=False``) rather than an error. Training uses one thread, so the
        same sentences always give the same model.
        """
        import sentencepiece

        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 8:
            raise ValueError(f"SubwordTokenizer: vocab_size must be an int >= 8, got {vocab_size!r}")
        sentences = [s for s in sentences if s.strip()]
        if not sentences:
            raise ValueError("SubwordTokenizer: no training sentences")
        buffer = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buffer, vocab_size=vocab_size,
            model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
            normalization_rule_name="identity", pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID,
            eos_id=EOS_ID, pad_piece=PAD, unk_piece=UNK, bos_piece=BOS, eos_piece=EOS,
            num_threads=1, minloglevel=2, input_sentence_size=0, shuffle_input_sentence=False,
        )
        return cls(buffer.getvalue())

    @property
    def size(self):
        return int(self._sp.get_piece_size())

    def encode(self, text):
        """Token ids of one sentence (no start/end tokens)."""
        return list(self._sp.encode(text))

    def decode(self, ids):
        """Text of token ids; specials are dropped."""
        return self._sp.decode([int(i) for i in ids if int(i) > EOS_ID])

    def pieces(self, ids):
        """The pieces of ``ids`` as strings (for attention plots)."""
        return [self._sp.id_to_piece(int(i)) for i in ids]

    def to_json(self):
        return {"format": _FORMAT, "kind": self.kind, "model": base64.b64encode(self.model_proto).decode("ascii")}


class WordTokenizer:
    """Words and punctuation marks with a train-only vocabulary and the shared special ids.

    Args:
        tokens: the vocabulary in id order; must start with ``<pad>, <unk>, <s>, </s>``.

    Example:
        >>> tok = WordTokenizer.train(["¿Qué tal?", "Muy bien."])
        >>> tok.decode(tok.encode("¿Muy bien?"))
        '¿Muy bien?'
    """

    kind = "word"

    def __init__(self, tokens):
        tokens = list(tokens)
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"WordTokenizer: tokens must start with {SPECIALS}, got {tokens[:4]!r}")
        self.vocab = Vocabulary(tokens, unk_token=UNK)

    @staticmethod
    def split(text):
        """``"¿Qué tal?"`` -> ``["¿", "Qué", "tal", "?"]``."""
        return _WORD_PATTERN.findall(text)

    @classmethod
    def train(cls, sentences, vocab_size=None, min_count=1):
        """Vocabulary of the words in ``sentences``; at most ``vocab_size`` entries with specials."""
        words = [w for s in sentences for w in cls.split(s)]
        if not words:
            raise ValueError("WordTokenizer: no training sentences")
        vocab = Vocabulary.build(words, specials=SPECIALS, min_count=min_count, max_size=vocab_size)
        return cls(vocab.tokens)

    @property
    def size(self):
        return self.vocab.size

    def encode(self, text):
        return self.vocab.encode(self.split(text)).tolist()

    def decode(self, ids):
        text = " ".join(self.vocab.decode([int(i) for i in ids if int(i) > EOS_ID or int(i) == UNK_ID]))
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))

    def pieces(self, ids):
        return self.vocab.decode([int(i) for i in ids])

    def to_json(self):
        return {"format": _FORMAT, "kind": self.kind, "tokens": self.vocab.tokens}


def train_tokenizer(kind, sentences, vocab_size):
    """A :class:`SubwordTokenizer` (``kind="sentencepiece"``) or :class:`WordTokenizer`
    (``"word"``) trained on ``sentences``."""
    if kind == "sentencepiece":
        return SubwordTokenizer.train(sentences, vocab_size)
    if kind == "word":
        return WordTokenizer.train(sentences, vocab_size)
    raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {kind!r}")


def save_tokenizer(tokenizer, path):
    """Writes ``tokenizer`` to ``path`` (JSON) atomically."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tokenizer-", dir=os.path.dirname(path) or ".")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(tokenizer.to_json(), f)
    os.replace(tmp, path)


def load_tokenizer(path):
    """Reads a tokenizer written by :func:`save_tokenizer`."""
    with open(os.fspath(path), encoding="utf-8") as f:
        saved = json.load(f)
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a tfseq tokenizer file")
    if saved["kind"] == "sentencepiece":
        return SubwordTokenizer(base64.b64decode(saved["model"]))
    if saved["kind"] == "word":
        return WordTokenizer(saved["tokens"])
    raise ValueError(f"{path}: unknown tokenizer kind {saved['kind']!r}")
