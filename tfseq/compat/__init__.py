"""TF1 migration: load TF1 checkpoints into tfseq cells, convert to and from Keras 3's cells,
hand TF1 optimizers the variables they can update, and ``tf.contrib.rnn``'s namespace.

``from tfseq import compat``; see :mod:`tfseq.compat.checkpoint`,
:mod:`tfseq.compat.keras_convert`, :mod:`tfseq.compat.variables` and
:mod:`tfseq.compat.contrib_rnn` (``from tfseq.compat import contrib_rnn as rnn``).
"""

from tfseq.compat.checkpoint import load_tf1_checkpoint, tf1_variable_names
from tfseq.compat.keras_convert import from_keras_cell, to_keras_cell
from tfseq.compat.variables import tf_variable, trainable_variables

__all__ = [
    "load_tf1_checkpoint",
    "tf1_variable_names",
    "to_keras_cell",
    "from_keras_cell",
    "trainable_variables",
    "tf_variable",
]
