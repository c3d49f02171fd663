"""TF1's ``tf.nn.rnn_cell`` as Keras 3 layers: the cell contract, the cells and the wrappers.

``from tfseq import rnn_cell`` is a drop-in for ``tf.compat.v1.nn.rnn_cell`` (plus TF1 contrib's
``LSTMBlockCell``, ``GRUBlockCellV2``, ``GRUBlockCell``, ``LayerNormBasicLSTMCell``, ``NASCell``, ``SRUCell``,
``IndRNNCell``, ``IndyGRUCell``, ``IndyLSTMCell``, ``CoupledInputForgetGateLSTMCell``, ``UGRNNCell``,
``IntersectionRNNCell``, ``LayerNormLSTMCell``, ``GLSTMCell``, ``ConvLSTMCell``, ``Conv1DLSTMCell``,
``Conv2DLSTMCell``, ``Conv3DLSTMCell``, ``PhasedLSTMCell``, ``WeightNormLSTMCell``, ``GridLSTMCell``,
``BidirectionalGridLSTMCell``, ``TimeFreqLSTMCell``, ``HighwayWrapper``, ``AttentionCellWrapper``
and ``CompiledWrapper``); ``make_cell`` builds a cell by short name for configs and command lines.
"""

from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell, keras_weight_name, tf1_weight_name
from tfseq.rnn_cell.bidirectional_grid_lstm import BidirectionalGridLSTMCell
from tfseq.rnn_cell.block_cells import GRUBlockCell, GRUBlockCellV2, LSTMBlockCell
from tfseq.rnn_cell.cells import BasicLSTMCell, BasicRNNCell, GRUCell, LSTMCell
from tfseq.rnn_cell.cifg_cell import CoupledInputForgetGateLSTMCell
from tfseq.rnn_cell.contrib_cells import (
    IndRNNCell,
    IndyGRUCell,
    IndyLSTMCell,
    IntersectionRNNCell,
    SRUCell,
    UGRNNCell,
)
from tfseq.rnn_cell.contrib_lstm_cells import GLSTMCell, LayerNormLSTMCell
from tfseq.rnn_cell.contrib_wrappers import AttentionCellWrapper, CompiledWrapper, HighwayWrapper
from tfseq.rnn_cell.conv_lstm import Conv1DLSTMCell, Conv2DLSTMCell, Conv3DLSTMCell, ConvLSTMCell
from tfseq.rnn_cell.dropout import DropoutWrapper
from tfseq.rnn_cell.factory import CELLS, make_cell
from tfseq.rnn_cell.fusion import FusedDropout, FusedSpec, FusedStack, FusedWrapping, NotFusable
from tfseq.rnn_cell.grid_lstm import GridLSTMCell
from tfseq.rnn_cell.layer_norm_cell import LayerNormBasicLSTMCell
from tfseq.rnn_cell.multi_rnn import MultiRNNCell
from tfseq.rnn_cell.nas_cell import NASCell
from tfseq.rnn_cell.phased_lstm import PhasedLSTMCell
from tfseq.rnn_cell.time_freq_lstm import TimeFreqLSTMCell
from tfseq.rnn_cell.weight_norm_lstm import WeightNormLSTMCell
from tfseq.rnn_cell.wrappers import (
    DeviceWrapper,
    EmbeddingWrapper,
    InputProjectionWrapper,
    OutputProjectionWrapper,
    ResidualWrapper,
    RNNCellWrapper,
)

__all__ = [
    "RNNCell",
    "LSTMStateTuple",
    "BasicRNNCell",
    "BasicLSTMCell",
    "LSTMCell",
    "GRUCell",
    "tf1_weight_name",
    "keras_weight_name",
    "RNNCellWrapper",
    "MultiRNNCell",
    "DropoutWrapper",
    "ResidualWrapper",
    "DeviceWrapper",
    "EmbeddingWrapper",
    "InputProjectionWrapper",
    "OutputProjectionWrapper",
    # TF1 contrib's cells (tf.contrib.rnn); LSTMBlockFusedCell is a sequence layer: tfseq.nn.LSTMBlockFusedCell.
    "LSTMBlockCell",
    "GRUBlockCellV2",
    "GRUBlockCell",
    "LayerNormBasicLSTMCell",
    "NASCell",
    "SRUCell",
    "IndRNNCell",
    "IndyGRUCell",
    "IndyLSTMCell",
    "CoupledInputForgetGateLSTMCell",
    "UGRNNCell",
    "IntersectionRNNCell",
    "LayerNormLSTMCell",
    "GLSTMCell",
    "ConvLSTMCell",
    "Conv1DLSTMCell",
    "Conv2DLSTMCell",
    "Conv3DLSTMCell",
    "PhasedLSTMCell",
    "WeightNormLSTMCell",
    "GridLSTMCell",
    "BidirectionalGridLSTMCell",
    "TimeFreqLSTMCell",
    "HighwayWrapper",
    "AttentionCellWrapper",
    "CompiledWrapper",
    # the fused fast path's contract (tfseq.rnn_cell.fusion)
    "FusedSpec",
    "FusedDropout",
    "FusedStack",
    "FusedWrapping",
    "NotFusable",
    "CELLS",
    "make_cell",
]
