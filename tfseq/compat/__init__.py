"""TF1 migration: load TF1 checkpoints into tfseq cells, convert to and from Keras 3's cells.

``from tfseq import compat``; see :mod:`tfseq.compat.checkpoint` and
:mod:`tfseq.compat.keras_convert`.
"""

from tfseq.compat.checkpoint import load_tf1_checkpoint, tf1_variable_names
from tfseq.compat.keras_convert import from_keras_cell, to_keras_cell

__all__ = ["load_tf1_checkpoint", "tf1_variable_names", "to_keras_cell", "from_keras_cell"]
