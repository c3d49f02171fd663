"""tfseq: TF1's rnn_cell API as native Keras 3 cells, made fast, and classic sequence models.

``from tfseq import rnn_cell`` is a drop-in for ``tf.compat.v1.nn.rnn_cell``;
``from tfseq import nn`` provides ``dynamic_rnn`` and friends. Sub-packages are imported
on first use, so ``import tfseq`` alone does not load TensorFlow.
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("rnn_cell", "nn", "rnn", "seq2seq", "text", "layers", "legacy_seq2seq", "compat", "data", "train", "demos", "cli")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tfseq.{name}")
    raise AttributeError(f"module 'tfseq' has no attribute {name!r}")
