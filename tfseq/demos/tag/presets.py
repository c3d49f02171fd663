"""Slot-filling presets: a joint bidirectional tagger and intent classifier in three settings, frozen.

* ``tiny``: the offline default, for the shipped 3,000-utterance SNIPS slice (full valid and
  test splits): one bidirectional LSTM layer of 64 units per direction, 10 epochs; about two
  CPU minutes.
* ``atis``: for ATIS (Goo et al. 2018's split, 4,478 training utterances): 2 bidirectional
  LSTM layers of 128 units, word embeddings 128, dropout 0.3, the slot-gated variant, Adam
  3e-3, 12 epochs. Goo et al. (2018): slot-gated 95.2 slot F1 / 94.1 % intent accuracy; a
  joint BiLSTM 94.3 / 92.6.
* ``snips``: for SNIPS (13,084 training utterances, a more open vocabulary): the ``atis``
  model with more word dropout, 3 epochs. Goo et al. (2018): 88.8 / 97.0.

``word_dropout`` replaces a training word by ``<unk>`` with that probability, so the model
learns what to do with the words it has never seen (5-6 % of SNIPS' test words).
"""

import dataclasses

from tfseq.demos.frame import Preset, check_precision
from tfseq.rnn_cell.factory import CELLS

ENCODERS = ("uni", "bi")
VARIANTS = ("joint", "slot_gated")


@dataclasses.dataclass(frozen=True)
class TagConfig(Preset):
    """Hyper-parameters of a joint slot-filling and intent model, its data and its training.

    Model: ``embedding_size``, ``num_units`` (per direction), ``num_layers``, ``cell``
    (``lstm``/``peephole``/``gru``/``rnn``), ``encoder_type`` (``bi``/``uni``), ``variant``
    (``joint``: slots from each word's state, the intent from the final states; ``slot_gated``:
    Goo et al.'s attention contexts and slot gate), ``dropout`` (on embeddings and encoder
    outputs). Data: ``zero_digits`` (digits read as 0), ``word_dropout``, ``num_buckets``.
    Training: ``learning_rate`` (Adam), ``max_grad_norm`` (``None``: no clipping),
    ``batch_size``, ``epochs``, ``intent_weight`` (the intent term's weight in the joint loss).
    """

    name: str
    num_units: int
    embedding_size: int
    batch_size: int
    epochs: int
    learning_rate: float
    num_layers: int = 1
    cell: str = "lstm"
    encoder_type: str = "bi"
    variant: str = "joint"
    dropout: float = 0.0
    word_dropout: float = 0.0
    zero_digits: bool = True
    intent_weight: float = 1.0
    max_grad_norm: float | None = 5.0
    num_buckets: int = 4
    precision: str = "float32"  # or "mixed_bfloat16": float32 weights, bfloat16 compute
    published: str | None = None

    def __post_init__(self):
        check_precision("TagConfig", self.precision)
        for key in ("num_units", "embedding_size", "batch_size", "epochs", "num_layers", "num_buckets"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TagConfig.{key} must be a positive integer, got {value!r}")
        for key, allowed in (("cell", CELLS), ("encoder_type", ENCODERS), ("variant", VARIANTS)):
            if getattr(self, key) not in allowed:
                raise ValueError(f"TagConfig.{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        for key in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"TagConfig.{key} must be in [0, 1), got {getattr(self, key)!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"TagConfig.learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.intent_weight >= 0:
            raise ValueError(f"TagConfig.intent_weight must be >= 0, got {self.intent_weight!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"TagConfig.max_grad_norm must be > 0 or None, got {self.max_grad_norm!r}")


TINY = TagConfig(
    name="tiny", num_units=64, embedding_size=64, batch_size=32, epochs=10, learning_rate=0.005,
    dropout=0.2, word_dropout=0.05, published="none (tfseq's own offline default)",
)
ATIS = TagConfig(
    name="atis", num_units=128, embedding_size=128, num_layers=2, batch_size=32, epochs=12,
    learning_rate=0.003, variant="slot_gated", dropout=0.3, word_dropout=0.02,
    published="Goo et al. 2018 slot-gated: 95.2 slot F1 / 94.1 % intent accuracy (joint BiLSTM 94.3 / 92.6)",
)
SNIPS = TagConfig(
    name="snips", num_units=128, embedding_size=128, num_layers=2, batch_size=32, epochs=3,
    learning_rate=0.003, variant="slot_gated", dropout=0.3, word_dropout=0.1,
    published="Goo et al. 2018 slot-gated: 88.8 slot F1 / 97.0 % intent accuracy",
)
PRESETS = {c.name: c for c in (TINY, ATIS, SNIPS)}


def get(name):
    """The preset called ``name``."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
