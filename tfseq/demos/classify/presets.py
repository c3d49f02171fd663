"""Sentiment classification presets, frozen.

* ``tiny``: the offline default, for the shipped MR slice (6,000 snippets): a 1-layer
  bidirectional LSTM of 64 units per direction over 64-dim embeddings, max pooling, a few
  CPU minutes. Measured figures are in ``docs/demos/classify.md``.
* ``sst2``: for SST-2 (``--data`` a directory with ``stsa.binary.*`` or ``sentiment-*``): two
  bidirectional LSTM layers of 150 units per direction (a residual connection around the
  second) over 300-dim random embeddings, 4 epochs of batches of 64, keeping the epoch with the
  best validation accuracy (chosen among five settings by validation mean). Measured on the
  GLUE phrases (``sentiment-*``): 84.6 % test accuracy, the mean of seeds 0, 1, 2 (Tai et al.
  2015's BiLSTM, 168 units, GloVe, phrase labels: 87.5 %; Kim 2014's CNN from random vectors
  82.7 %).
* ``mr``: for MR (``--data`` a directory with ``rt-polarity.{pos,neg}``; split with a fixed
  seed): one bidirectional LSTM layer of 150 units per direction over 300-dim random
  embeddings, batches of 32, learning rate 0.0005, word dropout 0.2, 4 epochs keeping the one
  with the best validation accuracy (chosen among seven settings by the validation mean of a
  10-fold cross-validation, Kim (2014)'s protocol); measured 77.15 % the mean of that
  cross-validation (his CNN-rand: 76.1 %).
"""

import dataclasses

from tfseq.demos.frame import Preset, check_precision
from tfseq.rnn_cell.factory import CELLS
from tfseq.train.averaging import check_decay

POOLINGS = ("last", "mean", "max", "attention")


@dataclasses.dataclass(frozen=True)
class ClassifyConfig(Preset):
    """Hyper-parameters of a sentence classifier, its data and its training.

    Model: ``embedding_dim``, ``num_units`` (per direction), ``num_layers``, ``cell``,
    ``bidirectional``, ``residual`` (from the second layer on), ``dropout`` (on every cell's
    input and on the pooled features), ``pooling`` (:data:`POOLINGS`), ``attention_units``
    (attention pooling's hidden size). ``vectors``: a word2vec/GloVe text file (``None``:
    random embeddings), ``freeze_embeddings``. Data: ``min_count`` (rarer training words
    become ``<unk>``), ``word_dropout`` (a training word becomes ``<unk>`` with this
    probability, drawn anew each batch), ``max_vocab`` (``None``: no limit), ``max_length`` (longer sentences
    are truncated), ``num_buckets``. Training: ``batch_size``, ``epochs``, ``learning_rate``
    (Adam), ``max_grad_norm`` (``None``: no clipping), ``select_best`` (keep the weights of
    the epoch with the best validation accuracy instead of the last epoch's: the run's final
    checkpoint, ``model.keras`` and test scores are that epoch's), ``weight_average`` (``None``,
    or the decay of a moving average of the weights that validation scores and the run ends
    with: :class:`~tfseq.train.WeightAverage`).
    """

    name: str
    embedding_dim: int
    num_units: int
    epochs: int
    num_layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    residual: bool = False
    dropout: float = 0.5
    word_dropout: float = 0.0
    pooling: str = "max"
    attention_units: int = 64
    vectors: str | None = None
    freeze_embeddings: bool = False
    min_count: int = 1
    max_vocab: int | None = None
    max_length: int = 64
    num_buckets: int = 4
    batch_size: int = 32
    learning_rate: float = 0.001
    max_grad_norm: float | None = 5.0
    select_best: bool = False
    weight_average: float | None = None
    precision: str = "float32"  # or "mixed_bfloat16": float32 weights, bfloat16 compute
    published: str | None = None

    def __post_init__(self):
        check_precision("ClassifyConfig", self.precision)
        for key in ("embedding_dim", "num_units", "epochs", "num_layers", "attention_units", "min_count",
                    "max_length", "num_buckets", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ClassifyConfig.{key} must be a positive integer, got {value!r}")
        for key, allowed in (("cell", CELLS), ("pooling", POOLINGS)):
            if getattr(self, key) not in allowed:
                raise ValueError(f"ClassifyConfig.{key} must be one of {', '.join(allowed)}, "
                                 f"got {getattr(self, key)!r}")
        for key in ("bidirectional", "residual", "freeze_embeddings", "select_best"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"ClassifyConfig.{key} must be True or False, got {getattr(self, key)!r}")
        if self.max_vocab is not None and (isinstance(self.max_vocab, bool) or not isinstance(self.max_vocab, int)
                                           or self.max_vocab < 3):
            raise ValueError(f"ClassifyConfig.max_vocab must be an integer >= 3 or None, got {self.max_vocab!r}")
        for key in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"ClassifyConfig.{key} must be in [0, 1), got {getattr(self, key)!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"ClassifyConfig.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"ClassifyConfig.max_grad_norm must be > 0 or None, got {self.max_grad_norm!r}")
        check_decay("ClassifyConfig.weight_average", self.weight_average)
        if self.freeze_embeddings and self.vectors is None:
            raise ValueError("ClassifyConfig.freeze_embeddings needs pretrained vectors (vectors=PATH), got "
                             "vectors=None")


TINY = ClassifyConfig(name="tiny", embedding_dim=64, num_units=64, epochs=4, dropout=0.5, min_count=2,
                      max_length=48, num_buckets=3, published="none (tfseq's own offline default)")
SST2 = ClassifyConfig(name="sst2", embedding_dim=300, num_units=150, num_layers=2, residual=True, epochs=4,
                      dropout=0.5, min_count=1, max_length=64, num_buckets=4, batch_size=64, select_best=True,
                      published="Tai et al. 2015 BiLSTM (GloVe, phrase labels) 87.5; Kim 2014 CNN-rand 82.7")
MR = ClassifyConfig(name="mr", embedding_dim=300, num_units=150, epochs=4, dropout=0.5, word_dropout=0.2,
                    min_count=1, max_length=64, num_buckets=4, batch_size=32, learning_rate=0.0005, select_best=True,
                    published="Kim 2014 CNN-rand 76.1 (10-fold CV)")
PRESETS = {c.name: c for c in (TINY, SST2, MR)}


def get(name):
    """The preset called ``name``."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
