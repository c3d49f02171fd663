"""TF1's ``tf.nn.rnn_cell`` as Keras 3 layers: ``from tfseq import rnn_cell``."""

from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell, keras_weight_name, tf1_weight_name
from tfseq.rnn_cell.cells import BasicLSTMCell, BasicRNNCell, GRUCell, LSTMCell

__all__ = [
    "RNNCell",
    "LSTMStateTuple",
    "BasicRNNCell",
    "BasicLSTMCell",
    "LSTMCell",
    "GRUCell",
    "tf1_weight_name",
    "keras_weight_name",
]

from tfseq.rnn_cell.dropout import DropoutWrapper  # noqa: E402
from tfseq.rnn_cell.multi_rnn import MultiRNNCell  # noqa: E402
from tfseq.rnn_cell.wrappers import (  # noqa: E402
    DeviceWrapper,
    EmbeddingWrapper,
    InputProjectionWrapper,
    OutputProjectionWrapper,
    ResidualWrapper,
    RNNCellWrapper,
)

__all__ += [
    "RNNCellWrapper",
    "MultiRNNCell",
    "DropoutWrapper",
    "ResidualWrapper",
    "DeviceWrapper",
    "EmbeddingWrapper",
    "InputProjectionWrapper",
    "OutputProjectionWrapper",
]

# TF1 contrib's cells (tf.contrib.rnn); LSTMBlockFusedCell is a sequence layer: tfseq.nn.LSTMBlockFusedCell.
from tfseq.rnn_cell.block_cells import GRUBlockCellV2, LSTMBlockCell  # noqa: E402
from tfseq.rnn_cell.fusion import FusedSpec  # noqa: E402
from tfseq.rnn_cell.layer_norm_cell import LayerNormBasicLSTMCell  # noqa: E402

__all__ += ["LSTMBlockCell", "GRUBlockCellV2", "LayerNormBasicLSTMCell", "FusedSpec"]
