"""Translation presets: tensorflow/nmt's attentive RNN model in three sizes, frozen.

* ``tiny``: tfseq's own offline default. The shipped Tatoeba es->en corpus (50,973 short pairs),
  sentencepiece subwords, a 2-layer LSTM (one bidirectional encoder layer) of 128 units
  with scaled Luong attention, 3 epochs: test BLEU 32.27 greedy on the 5,097 held-out pairs
  (about 10 CPU-minutes on a 2-core CPU).
* ``multi30k``: for Multi30k task 1 (29k captions, ~13 words). The size and training of
  bentrevett/pytorch-seq2seq's attention model (notebook 3, Bahdanau et al. 2015):
  embeddings 256 (here: ``num_units``), bidirectional GRU encoder and GRU decoder of 512
  units, Bahdanau attention, dropout 0.5, Adam 1e-3, gradient norm clipped to 1, batch 128,
  10 epochs. Published there: 28.36 test BLEU on the de->en direction (GPU, word level,
  spaCy tokens). tfseq's encoder state goes to the decoder unchanged (nmt's
  ``pass_hidden_state``), so the bidirectional encoder has two layers here and the decoder
  two as well (nmt requires as many encoder states as decoder layers).
* ``iwslt``: tensorflow/nmt's ``standard_hparams/iwslt15.json`` (Luong et al. 2015,
  IWSLT'15 en->vi, 133k pairs, word vocabularies of 17k/7.7k): 2-layer LSTM of 512 units,
  bidirectional encoder, scaled Luong attention, dropout 0.2, uniform init +-0.1, SGD
  learning rate 1.0 for 12k steps, halved 4 times from step 8k (``luong234``), gradient
  norm 5, batch 128, lengths up to 50, beam 10 with length penalty 1.0. Published: 25.5
  BLEU greedy, 26.1 beam 10 on tst2013 (about 35 min on a TitanX).

``max_grad_norm=None`` means no clipping; ``epochs`` replaces nmt's ``num_train_steps``
(the CLI prints the steps per epoch). Learning rate at step ``t`` (nmt's ``_get_learning_rate_warmup``
and ``_get_learning_rate_decay``): ``warmup_steps`` steps of ``lr * 0.01 ** ((W - t) / W)``,
then constant, then nmt's ``decay_scheme``: staircase halvings over the last third of
training (``luong234``) or the last half (``luong5``/``luong10``); see
:class:`~tfseq.demos.translate.task.NMTLearningRate`.
"""

import dataclasses
from typing import Optional

from tfseq.demos.frame import Preset, check_precision
from tfseq.rnn_cell.factory import CELLS

ATTENTIONS = ("luong", "scaled_luong", "bahdanau", "normed_bahdanau")
ENCODERS = ("uni", "bi")
OPTIMIZERS = ("adam", "sgd")
DECAY_SCHEMES = ("none", "luong234", "luong5", "luong10")
TOKENIZERS = ("sentencepiece", "word")


@dataclasses.dataclass(frozen=True)
class TranslationConfig(Preset):
    """Hyper-parameters of an attentive RNN translation model, its data and its training.

    Data: ``tokenizer``, ``src_vocab_size``/``tgt_vocab_size`` (upper bounds), ``max_length``
    (pairs with more tokens are dropped from training), ``num_buckets`` (padded shapes),
    ``reverse_source``. Model: see :class:`~tfseq.demos.translate.model.TranslationModel`.
    Training: ``optimizer`` (``adam``/``sgd``), ``learning_rate``, ``warmup_steps``,
    ``decay_scheme``, ``max_grad_norm`` (``None``: no clipping), ``batch_size``, ``epochs``.
    Evaluation: ``beam_width`` (1: greedy), ``length_penalty``, ``max_length_ratio`` (decoded
    length limit relative to the longest source in the batch).
    """

    name: str
    num_units: int
    num_layers: int
    batch_size: int
    epochs: int
    learning_rate: float
    cell: str = "lstm"
    encoder_type: str = "bi"
    residual: bool = False
    dropout: float = 0.0
    attention: str = "scaled_luong"
    output_attention: bool = True
    attention_layer: bool = True
    pass_hidden_state: bool = True
    init_weight: Optional[float] = 0.1
    optimizer: str = "adam"
    warmup_steps: int = 0
    decay_scheme: str = "none"
    max_grad_norm: Optional[float] = 5.0
    tokenizer: str = "sentencepiece"
    src_vocab_size: int = 8000
    tgt_vocab_size: int = 8000
    max_length: int = 50
    num_buckets: int = 5
    reverse_source: bool = False
    beam_width: int = 1
    length_penalty: float = 0.0
    max_length_ratio: float = 2.0
    precision: str = "float32"  # or "mixed_bfloat16": float32 weights, bfloat16 compute
    published_bleu: Optional[str] = None

    def __post_init__(self):
        check_precision("TranslationConfig", self.precision)
        for key in ("num_units", "num_layers", "batch_size", "epochs", "src_vocab_size", "tgt_vocab_size",
                    "max_length", "num_buckets", "beam_width"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TranslationConfig.{key} must be a positive integer, got {value!r}")
        for key, allowed in (("cell", CELLS), ("encoder_type", ENCODERS), ("attention", ATTENTIONS),
                             ("optimizer", OPTIMIZERS), ("decay_scheme", DECAY_SCHEMES),
                             ("tokenizer", TOKENIZERS)):
            if getattr(self, key) not in allowed:
                raise ValueError(f"TranslationConfig.{key} must be one of {', '.join(allowed)}, "
                                 f"got {getattr(self, key)!r}")
        if self.encoder_type == "bi" and self.num_layers % 2:
            raise ValueError(f"TranslationConfig.num_layers must be even for encoder_type='bi' (half the "
                             f"encoder layers read each direction), got {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TranslationConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"TranslationConfig.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(f"TranslationConfig.max_grad_norm must be > 0 or None, got {self.max_grad_norm!r}")
        if self.init_weight is not None and not self.init_weight > 0:
            raise ValueError(f"TranslationConfig.init_weight must be > 0 or None, got {self.init_weight!r}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"TranslationConfig.warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")
        if not self.length_penalty >= 0:
            raise ValueError(f"TranslationConfig.length_penalty must be >= 0, got {self.length_penalty!r}")
        if not self.max_length_ratio > 0:
            raise ValueError(f"TranslationConfig.max_length_ratio must be > 0, got {self.max_length_ratio!r}")


TINY = TranslationConfig(
    name="tiny", num_units=128, num_layers=2, batch_size=64, epochs=3, learning_rate=0.003,
    dropout=0.1, src_vocab_size=1000, tgt_vocab_size=1000, max_length=16, num_buckets=3,
    published_bleu="none (tfseq's own offline default)",
)
MULTI30K = TranslationConfig(
    name="multi30k", num_units=512, num_layers=2, batch_size=128, epochs=10, learning_rate=0.001,
    cell="gru", dropout=0.5, attention="bahdanau", max_grad_norm=1.0, src_vocab_size=8000,
    tgt_vocab_size=8000, max_length=50, num_buckets=5, beam_width=5, length_penalty=1.0,
    published_bleu="28.36 test BLEU de->en (bentrevett/pytorch-seq2seq notebook 3, GPU)",
)
IWSLT = TranslationConfig(
    name="iwslt", num_units=512, num_layers=2, batch_size=128, epochs=12, learning_rate=1.0,
    dropout=0.2, attention="scaled_luong", optimizer="sgd", decay_scheme="luong234", max_grad_norm=5.0,
    tokenizer="word", src_vocab_size=17191, tgt_vocab_size=7709, max_length=50, num_buckets=5,
    beam_width=10, length_penalty=1.0,
    published_bleu="25.5 greedy / 26.1 beam 10 on tst2013 en->vi (tensorflow/nmt, TitanX)",
)
PRESETS = {c.name: c for c in (TINY, MULTI30K, IWSLT)}


def get(name):
    """The preset called ``name``."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
