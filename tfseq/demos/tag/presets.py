"""Slot-filling presets: a joint bidirectional tagger and intent classifier in three settings, frozen.

* ``tiny``: the offline default, for the shipped 3,000-utterance SNIPS slice (full valid and
  test splits): one bidirectional LSTM layer of 64 units per direction, 10 epochs; about two
  CPU minutes.
* ``atis``: for ATIS (Goo et al. 2018's split, 4,478 training utterances): an ensemble of two
  taggers trained side by side (``members=2``), each with 2 bidirectional LSTM layers of 128
  units, word embeddings 256 plus a character CNN (64 filters of width 3 over 32-dimensional
  character embeddings), the slot-gated variant with max pooling for the intent, a CRF output
  layer, dropout 0.4, word dropout 0.05, Adam 3e-3 decayed by 0.85 per epoch, batches of 16,
  16 epochs, keeping the best validation epoch (the tagger chosen among twenty-five settings on
  seed 0's validation score, the ensemble on three seeds' mean validation score). Measured
  (seeds 0, 1, 2): test slot F1 95.55 ± 0.20, intent accuracy 96.86 ± 0.12 %, in at most 8.9
  CPU minutes (one tagger: 95.18 ± 0.19 and 97.01 ± 0.22 % in 4.9). Goo et al. (2018):
  slot-gated 95.2 slot F1 / 94.1 % intent accuracy; a joint BiLSTM 94.3 / 92.6.
* ``snips``: for SNIPS (13,084 training utterances, a more open vocabulary: its many rare
  entity names are where the character features help most): an ensemble of two taggers of the
  ``atis`` kind with word embeddings 128, token-level intent (``token_intent``), dropout 0.3,
  word dropout 0.1, learning-rate decay 0.75, 5 epochs (the tagger chosen among seventeen
  settings on seed 0's validation score, the ensemble on three seeds' mean). Measured (seeds 0,
  1, 2): test slot F1 92.09 ± 0.03, intent accuracy 97.71 ± 0.15 %, in at most 6.5 CPU minutes
  (one tagger: 90.59 ± 0.45 and 97.86 ± 0.43 % in 3.5). Goo et al. (2018): 88.8 / 97.0.

``word_dropout`` replaces a training word by ``<unk>`` with that probability, so the model
learns what to do with the words it has never seen (5-6 % of SNIPS' test words).
"""

import dataclasses

from tfseq.demos.frame import Preset, check_precision
from tfseq.rnn_cell.factory import CELLS
from tfseq.train.averaging import check_decay

ENCODERS = ("uni", "bi")
VARIANTS = ("joint", "slot_gated")
POOLINGS = ("last", "max")


@dataclasses.dataclass(frozen=True)
class TagConfig(Preset):
    """Hyper-parameters of a joint slot-filling and intent model, its data and its training.

    Model: ``embedding_size``, ``num_units`` (per direction), ``num_layers``, ``cell``
    (``lstm``/``peephole``/``gru``/``rnn``), ``encoder_type`` (``bi``/``uni``), ``variant``
    (``joint``: slots from each word's state, the intent from the final states; ``slot_gated``:
    Goo et al.'s attention contexts and slot gate), ``dropout`` (on embeddings and encoder
    outputs), ``intent_pooling`` (what the intent layer reads besides the variant's
    attention: ``last``, the final states ``[h_fw at the last word; h_bw at the first]``, or
    ``max``, the element-wise maximum of the encoder states over the words).
    Character features: ``char_embedding_size`` (0: none; else each word also reads a
    character CNN, ``char_filters`` filters of width ``char_kernel`` over the embeddings of
    its first ``max_chars`` characters, max-pooled over them, concatenated with its word
    embedding). ``crf``: a linear-chain CRF output layer (learned tag transitions, the CRF's
    negative log-likelihood as the slot loss, Viterbi decoding). ``token_intent``: every word
    predicts the intent and feeds its prediction to its slot layer; the utterance's intent is
    the words' mean log-probability (Qin et al. 2019's token-level intent; ``intent_pooling``
    is then unused). Data: ``zero_digits``
    (digits read as 0), ``word_dropout``, ``num_buckets``.
    Training: ``learning_rate`` (Adam), ``learning_rate_decay`` (epoch ``e`` trains with
    ``learning_rate * learning_rate_decay ** e``), ``max_grad_norm`` (``None``: no clipping),
    ``batch_size``, ``epochs``, ``intent_weight`` (the intent term's weight in the joint loss),
    ``select_best`` (keep the weights of the epoch with the best validation score, slot F1
    plus intent accuracy, instead of the last epoch's: the run's final checkpoint,
    ``model.keras`` and test scores are that epoch's), ``weight_average`` (``None``, or the
    decay of an exponential moving average of the weights, e.g. 0.999, which validation scores
    and ``select_best`` keeps: :class:`~tfseq.train.WeightAverage`). ``members``: 1, or an
    ensemble of that many taggers of this configuration, with their own initial weights and
    dropout, trained side by side on the same batches and decoded together (their mean slot
    scores, CRF transitions and intent log-probabilities:
    :class:`~tfseq.demos.tag.model.TaggerEnsemble`).
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
    intent_pooling: str = "last"
    char_embedding_size: int = 0
    char_filters: int = 64
    char_kernel: int = 3
    max_chars: int = 20
    learning_rate_decay: float = 1.0
    select_best: bool = False
    crf: bool = False
    token_intent: bool = False
    weight_average: float | None = None
    members: int = 1
    precision: str = "float32"  # or "mixed_bfloat16": float32 weights, bfloat16 compute
    published: str | None = None

    @property
    def uses_chars(self) -> bool:
        """Whether the model reads character features (``char_embedding_size > 0``)."""
        return self.char_embedding_size > 0

    def learning_rate_at(self, epoch: int) -> float:
        """The learning rate of 0-based ``epoch``: ``learning_rate * learning_rate_decay ** epoch``."""
        return self.learning_rate * self.learning_rate_decay ** epoch

    def __post_init__(self):
        check_precision("TagConfig", self.precision)
        for key in ("num_units", "embedding_size", "batch_size", "epochs", "num_layers", "num_buckets",
                    "char_filters", "char_kernel", "max_chars", "members"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TagConfig.{key} must be a positive integer, got {value!r}")
        value = self.char_embedding_size
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"TagConfig.char_embedding_size must be an integer >= 0 (0: no character "
                             f"features), got {value!r}")
        if not 0.0 < self.learning_rate_decay <= 1.0:
            raise ValueError(f"TagConfig.learning_rate_decay must be in (0, 1], got {self.learning_rate_decay!r}")
        for key in ("select_best", "crf", "zero_digits", "token_intent"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"TagConfig.{key} must be True or False, got {getattr(self, key)!r}")
        for key, allowed in (("cell", CELLS), ("encoder_type", ENCODERS), ("variant", VARIANTS),
                             ("intent_pooling", POOLINGS)):
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
        check_decay("TagConfig.weight_average", self.weight_average)


TINY = TagConfig(
    name="tiny", num_units=64, embedding_size=64, batch_size=32, epochs=10, learning_rate=0.005,
    dropout=0.2, word_dropout=0.05, published="none (tfseq's own offline default)",
)
ATIS = TagConfig(
    name="atis", num_units=128, embedding_size=256, num_layers=2, batch_size=16, epochs=16,
    learning_rate=0.003, learning_rate_decay=0.85, variant="slot_gated", dropout=0.4, word_dropout=0.05,
    intent_pooling="max", char_embedding_size=32, char_filters=64, crf=True, select_best=True, members=2,
    published="Goo et al. 2018 slot-gated: 95.2 slot F1 / 94.1 % intent accuracy (joint BiLSTM 94.3 / 92.6)",
)
SNIPS = TagConfig(
    name="snips", num_units=128, embedding_size=128, num_layers=2, batch_size=16, epochs=5,
    learning_rate=0.003, learning_rate_decay=0.75, variant="slot_gated", dropout=0.3, word_dropout=0.1,
    char_embedding_size=32, char_filters=64, crf=True, token_intent=True, select_best=True, members=2,
    published="Goo et al. 2018 slot-gated: 88.8 slot F1 / 97.0 % intent accuracy",
)
PRESETS = {c.name: c for c in (TINY, ATIS, SNIPS)}


def get(name):
    """The preset called ``name``."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
