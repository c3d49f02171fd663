"""Token <-> id mapping, built from the training split only.

A :class:`Vocabulary` is an ordered list of distinct tokens: the special tokens first, in the
order given, then the training tokens by decreasing frequency, ties broken by the token
string (so the same training text always gives the same ids). Tokens not in the vocabulary
encode to the unknown token's id. It round-trips through JSON so a trained model can be
evaluated or sampled later with exactly the ids it was trained on.
"""

import collections
import json
import os
import tempfile

import numpy as np

UNK = "<unk>"
_FORMAT = "tfseq.data.Vocabulary"


class Vocabulary:
    """An ordered token list with an optional unknown token.

    Args:
        tokens: the distinct tokens, in id order (id ``i`` is ``tokens[i]``).
        unk_token: the token that unknown tokens map to; must be in ``tokens``. ``None``
            means no unknown token: encoding an unknown token raises ``KeyError``.

    Raises:
        ValueError: ``tokens`` is empty or has duplicates, or ``unk_token`` is not in it.

    Example:
        >>> vocab = Vocabulary.build("a b a c".split())
        >>> vocab.tokens
        ['<unk>', 'a', 'b', 'c']
        >>> vocab.encode(["a", "z"]).tolist()
        [1, 0]
    """

    def __init__(self, tokens, unk_token=UNK):
        tokens = list(tokens)
        if not tokens:
            raise ValueError("tokens must not be empty, got []")
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"tokens must be str, got {token!r}")
        index = {token: i for i, token in enumerate(tokens)}
        if len(index) != len(tokens):
            dups = [t for t, n in collections.Counter(tokens).items() if n > 1]
            raise ValueError(f"tokens must be distinct, got duplicates {dups[:5]!r}")
        if unk_token is not None and unk_token not in index:
            raise ValueError(f"unk_token must be one of the tokens, got {unk_token!r}")
        self._tokens = tokens
        self._index = index
        self.unk_token = unk_token
        self.unk_id = None if unk_token is None else index[unk_token]

    @classmethod
    def build(cls, tokens, specials=(UNK,), min_count=1, max_size=None, unk_token=UNK):
        """Builds a vocabulary from (training) tokens.

        Args:
            tokens: an iterable of ``str`` tokens, normally the training split only.
            specials: tokens placed first, in this order, whether or not they occur
                (e.g. ``("<pad>", "<unk>", "<s>", "</s>")`` for seq2seq).
            min_count: tokens seen fewer times are left out (they will encode as unknown).
            max_size: at most this many entries in total, specials included (the least
                frequent tokens are dropped); ``None`` for no limit.
            unk_token: the unknown token; must be in ``specials``, or ``None``.

        Returns:
            A :class:`Vocabulary`: specials, then tokens by decreasing count, ties by token.
        """
        specials = tuple(specials)
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < max(1, len(specials))
        ):
            raise ValueError(f"max_size must be an int >= len(specials) (and >= 1), got {max_size!r}")
        if unk_token is not None and unk_token not in specials:
            raise ValueError(f"unk_token must be None or one of specials {specials!r}, got {unk_token!r}")
        counts = collections.Counter(tokens)
        for special in specials:
            counts.pop(special, None)
        ranked = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
        vocab = list(specials) + ranked
        if max_size is not None:
            vocab = vocab[:max_size]
        return cls(vocab, unk_token=unk_token)

    # -- lookup ---------------------------------------------------------------------------
    @property
    def tokens(self):
        """The tokens in id order (a copy)."""
        return list(self._tokens)

    @property
    def size(self):
        """The number of tokens (the model's input/output dimension)."""
        return len(self._tokens)

    def __len__(self):
        return len(self._tokens)

    def __contains__(self, token):
        return token in self._index

    def __eq__(self, other):
        return (
            isinstance(other, Vocabulary)
            and self._tokens == other._tokens
            and self.unk_token == other.unk_token
        )

    def __repr__(self):
        head = ", ".join(repr(t) for t in self._tokens[:5])
        more = ", ..." if len(self) > 5 else ""
        return f"Vocabulary(size={self.size}, tokens=[{head}{more}], unk_token={self.unk_token!r})"

    def id(self, token):
        """The id of ``token``; the unknown id if absent (``KeyError`` without unknown token)."""
        i = self._index.get(token)
        if i is not None:
            return i
        if self.unk_id is None:
            raise KeyError(f"token {token!r} is not in the vocabulary and it has no unk_token")
        return self.unk_id

    def token(self, i):
        """The token with id ``i``."""
        return self._tokens[i]

    def encode(self, tokens):
        """Token list -> ``np.int32`` array of ids (unknown tokens -> :attr:`unk_id`)."""
        get, unk = self._index.get, self.unk_id
        if unk is None:
            ids = [self.id(t) for t in tokens]
        else:
            ids = [get(t, unk) for t in tokens]
        return np.asarray(ids, dtype=np.int32).reshape(-1)

    def decode(self, ids):
        """Ids (any int sequence or array) -> list of tokens.

        Raises:
            ValueError: an id is outside ``[0, size)``.
        """
        flat = np.asarray(ids).reshape(-1)
        if flat.size and not np.issubdtype(flat.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {flat.dtype}")
        bad = flat[(flat < 0) | (flat >= self.size)]
        if bad.size:
            raise ValueError(f"ids must be in [0, {self.size}), got {int(bad[0])}")
        return [self._tokens[i] for i in flat.tolist()]

    # -- serialization --------------------------------------------------------------------
    def to_json(self):
        """A JSON string that :meth:`from_json` turns back into an equal vocabulary."""
        return json.dumps(
            {"format": _FORMAT, "version": 1, "unk_token": self.unk_token, "tokens": self._tokens},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text):
        """Inverse of :meth:`to_json`; ``ValueError`` if ``text`` is not a saved vocabulary."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not a vocabulary JSON document ({err})") from err
        if not isinstance(obj, dict) or obj.get("format") != _FORMAT or "tokens" not in obj:
            raise ValueError(f"not a vocabulary JSON document (format {_FORMAT!r} expected)")
        return cls(obj["tokens"], unk_token=obj.get("unk_token"))

    def save(self, path):
        """Writes :meth:`to_json` to ``path`` atomically (temporary file, then rename)."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".vocab-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.to_json())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def load(cls, path):
        """Reads a vocabulary written by :meth:`save`; ``ValueError`` naming the path if bad."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as err:
            raise ValueError(f"{path}: cannot read vocabulary ({err.strerror or err})") from err
        try:
            return cls.from_json(text)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{path}: {err}") from err


def drop_words(ids: np.ndarray, rate: float, unk_id: int, key: tuple[int, ...]) -> np.ndarray:
    """Word dropout: each non-padding id (> 0) of ``ids`` becomes ``unk_id`` with probability
    ``rate``, drawn from ``numpy.random.default_rng(key)`` (e.g. ``(seed, epoch, batch)``, so a
    resumed run drops the words an uninterrupted one would). A model trained so learns what to
    do with words it has never seen. ``rate`` 0 returns ``ids`` unchanged."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"drop_words: rate must be in [0, 1), got {rate!r}")
    if rate == 0.0:
        return ids
    drop = np.random.default_rng(list(key)).random(ids.shape) < rate
    return np.where(drop & (ids > 0), unk_id, ids).astype(ids.dtype)
