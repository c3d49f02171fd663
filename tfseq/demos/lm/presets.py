"""Language-model presets: the TF PTB tutorial's configs, frozen, with their published results.

``small``, ``medium`` and ``large`` are the configs of ``tutorials/rnn/ptb/ptb_word_lm.py``
(Zaremba, Sutskever & Vinyals 2014, "Recurrent Neural Network Regularization"), value for
value; ``test`` is the tutorial's ``TestConfig``. ``tiny`` and ``char`` are tfseq's own
char-level configs for the built-in names corpus: ``tiny`` (1x128 LSTM, no dropout, 6 epochs)
trains in well under a minute; ``char``, the command's default, is 2x256 with variational
dropout (keep 0.85) for 8 epochs. Measured on the names test split (``tfseq lm train``, 2-core
CPU): ``tiny`` 1.9954 nats/char, ``char`` 1.9298 nats/char in 2.8 CPU-minutes. Variational
dropout draws one mask per sequence; a fresh mask per step costs about four times the whole
step when the step is compiled with XLA on a CPU.
``small_reg`` is ``small``'s size and number of epochs with variational dropout (keep 0.75)
and tied input/output embeddings (Gal & Ghahramani 2016; Press & Wolf 2017); being
regularised, it stays at learning rate 1.0 for 6 epochs instead of 4. Measured here
(``tfseq lm train --config small|small_reg --data-dir PTB``, 13 epochs each, 2-core CPU):
``small`` valid 117.77 / test 113.84, ``small_reg`` valid 102.43 / test 97.23 (14.6 % lower).

Published word-level PTB perplexities (train / valid / test):

============  =======  ======================  =====================  ====================
preset        epochs   TF tutorial             Zaremba et al. (paper)  notes
============  =======  ======================  =====================  ====================
small         13       37.99 / 121.39 / 115.91  - / 120.7 / 114.5     no dropout
medium        39       48.45 / 86.16 / 82.07    - / 86.2 / 82.7       keep_prob 0.5
large         55       37.87 / 82.62 / 78.29    - / 82.2 / 78.4       keep_prob 0.35
============  =======  ======================  =====================  ====================

The learning rate of epoch ``e`` (0-based) is
``learning_rate * lr_decay ** max(e + 1 - max_epoch, 0)``: constant for ``max_epoch``
epochs, then decayed once per epoch; training stops after ``max_max_epoch`` epochs.

Example:
    >>> from tfseq.demos.lm import presets
    >>> presets.get("small").with_overrides(hidden_size=256).hidden_size
    256
"""

import dataclasses
from typing import Optional

from tfseq.demos.frame import Preset, check_precision
from tfseq.rnn_cell.factory import CELLS

OPTIMIZERS = ("sgd", "adam")


@dataclasses.dataclass(frozen=True)
class LMConfig(Preset):
    """Hyper-parameters of a word/char RNN language model and its training schedule.

    Fields are the PTB tutorial's (``init_scale`` ... ``vocab_size``) plus tfseq's model
    options (``cell``, ``tie_embeddings``, ``variational_dropout``, ``forget_bias``) and the
    published perplexities (``None`` where there are none).
    """

    name: str
    init_scale: float
    learning_rate: float
    max_grad_norm: float
    num_layers: int
    num_steps: int
    hidden_size: int
    max_epoch: int  # epochs at the initial learning rate
    max_max_epoch: int  # total epochs
    keep_prob: float
    lr_decay: float
    batch_size: int
    vocab_size: int
    cell: str = "lstm"
    forget_bias: float = 0.0  # the tutorial's BasicLSTMCell(forget_bias=0.0)
    tie_embeddings: bool = False
    variational_dropout: bool = False
    optimizer: str = "sgd"  # the tutorial's; "adam" (Kingma & Ba 2014) takes the same schedule
    precision: str = "float32"  # or "mixed_bfloat16": float32 weights, bfloat16 compute
    published_valid_ppl: Optional[float] = None
    published_test_ppl: Optional[float] = None

    def __post_init__(self):
        check_precision("LMConfig", self.precision)
        for key in ("num_layers", "num_steps", "hidden_size", "max_epoch", "max_max_epoch",
                    "batch_size", "vocab_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"LMConfig.{key} must be a positive integer, got {value!r}")
        for key in ("init_scale", "learning_rate", "max_grad_norm", "lr_decay"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"LMConfig.{key} must be a positive number, got {value!r}")
        if not 0.0 < self.keep_prob <= 1.0:
            raise ValueError(f"LMConfig.keep_prob must be in (0, 1], got {self.keep_prob!r}")
        if self.cell not in CELLS:
            raise ValueError(f"LMConfig.cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"LMConfig.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")

    def learning_rate_at(self, epoch):
        """The tutorial's schedule: ``learning_rate * lr_decay ** max(epoch + 1 - max_epoch, 0)``."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        return self.learning_rate * self.lr_decay ** max(epoch + 1 - self.max_epoch, 0)


_PRESETS = {
    # The tutorial's TestConfig: a smoke test, not a model.
    "test": LMConfig(
        name="test", init_scale=0.1, learning_rate=1.0, max_grad_norm=1, num_layers=1, num_steps=2,
        hidden_size=2, max_epoch=1, max_max_epoch=1, keep_prob=1.0, lr_decay=0.5, batch_size=20,
        vocab_size=10000,
    ),
    # tfseq's own quick char-level config (names corpus in ~1 min on a laptop CPU).
    "tiny": LMConfig(
        name="tiny", init_scale=0.1, learning_rate=1.0, max_grad_norm=5, num_layers=1, num_steps=16,
        hidden_size=128, max_epoch=4, max_max_epoch=6, keep_prob=1.0, lr_decay=0.5, batch_size=32,
        vocab_size=64,
    ),
    "small": LMConfig(
        name="small", init_scale=0.1, learning_rate=1.0, max_grad_norm=5, num_layers=2, num_steps=20,
        hidden_size=200, max_epoch=4, max_max_epoch=13, keep_prob=1.0, lr_decay=0.5, batch_size=20,
        vocab_size=10000, published_valid_ppl=121.39, published_test_ppl=115.91,
    ),
    "medium": LMConfig(
        name="medium", init_scale=0.05, learning_rate=1.0, max_grad_norm=5, num_layers=2,
        num_steps=35, hidden_size=650, max_epoch=6, max_max_epoch=39, keep_prob=0.5, lr_decay=0.8,
        batch_size=20, vocab_size=10000, published_valid_ppl=86.16, published_test_ppl=82.07,
    ),
    "large": LMConfig(
        name="large", init_scale=0.04, learning_rate=1.0, max_grad_norm=10, num_layers=2,
        num_steps=35, hidden_size=1500, max_epoch=14, max_max_epoch=55, keep_prob=0.35,
        lr_decay=1 / 1.15, batch_size=20, vocab_size=10000, published_valid_ppl=82.62,
        published_test_ppl=78.29,
    ),
    # small's size and epochs, regularised: variational dropout + tied embeddings, and two
    # more epochs at lr 1.0. Measured: test 97.23 vs small's 113.84 (see module docstring).
    "small_reg": LMConfig(
        name="small_reg", init_scale=0.1, learning_rate=1.0, max_grad_norm=5, num_layers=2,
        num_steps=20, hidden_size=200, max_epoch=6, max_max_epoch=13, keep_prob=0.75,
        lr_decay=0.5, batch_size=20, vocab_size=10000, tie_embeddings=True,
        variational_dropout=True,
    ),
    # tfseq's char-level default: tiny's windows and schedule, 2x256 with variational
    # dropout, 8 epochs. Names test split: 1.9298 nats/char (tiny: 1.9954).
    "char": LMConfig(
        name="char", init_scale=0.1, learning_rate=1.0, max_grad_norm=5, num_layers=2, num_steps=16,
        hidden_size=256, max_epoch=5, max_max_epoch=8, keep_prob=0.85, lr_decay=0.5, batch_size=32,
        vocab_size=64, variational_dropout=True,
    ),
}

NAMES = tuple(_PRESETS)


def get(name):
    """The preset called ``name`` (one of :data:`NAMES`)."""
    try:
        return _PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown config {name!r}; choose one of {', '.join(NAMES)}") from None
