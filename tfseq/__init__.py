"""tfseq: TF1's rnn_cell API as native Keras 3 cells, made fast, and classic sequence models.

``from tfseq import rnn_cell`` is a drop-in for ``tf.compat.v1.nn.rnn_cell``;
``from tfseq import nn`` provides ``dynamic_rnn`` and friends.
"""

__version__ = "0.1.0"

from tfseq import nn, rnn_cell  # noqa: E402,F401
