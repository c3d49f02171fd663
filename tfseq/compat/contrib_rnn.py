"""TF1's ``tf.contrib.rnn`` namespace, as far as tfseq has it, so a TF1 program's
``from tensorflow.contrib import rnn`` becomes one import::

    from tfseq.compat import contrib_rnn as rnn

    cell = rnn.BasicLSTMCell(128, forget_bias=1.0)
    outputs, state = rnn.static_rnn(cell, steps, dtype=tf.float32)

``tf.contrib.rnn`` held both the cells (here from :mod:`tfseq.rnn_cell`) and sequence
functions (here from :mod:`tfseq.nn`); every name below is the very object of those modules.
Contrib cells tfseq does not provide (``CompiledWrapper``, ``FusedRNNCellAdaptor``,
``TimeReversedFusedRNN``, ...) are absent: using one is an
``AttributeError`` naming it.
"""

from tfseq.nn import (
    LSTMBlockFusedCell,
    stack_bidirectional_dynamic_rnn,
    stack_bidirectional_rnn,
    static_bidirectional_rnn,
    static_rnn,
    static_state_saving_rnn,
)
from tfseq.rnn_cell import (
    AttentionCellWrapper,
    BasicLSTMCell,
    BasicRNNCell,
    BidirectionalGridLSTMCell,
    Conv1DLSTMCell,
    Conv2DLSTMCell,
    Conv3DLSTMCell,
    ConvLSTMCell,
    CoupledInputForgetGateLSTMCell,
    DeviceWrapper,
    DropoutWrapper,
    EmbeddingWrapper,
    GLSTMCell,
    GridLSTMCell,
    GRUBlockCellV2,
    GRUCell,
    HighwayWrapper,
    IndRNNCell,
    IndyGRUCell,
    IndyLSTMCell,
    InputProjectionWrapper,
    IntersectionRNNCell,
    LayerNormBasicLSTMCell,
    LayerNormLSTMCell,
    LSTMBlockCell,
    LSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
    NASCell,
    OutputProjectionWrapper,
    PhasedLSTMCell,
    ResidualWrapper,
    RNNCell,
    SRUCell,
    TimeFreqLSTMCell,
    UGRNNCell,
    WeightNormLSTMCell,
)

__all__ = [
    "AttentionCellWrapper",
    "BasicLSTMCell",
    "BasicRNNCell",
    "BidirectionalGridLSTMCell",
    "Conv1DLSTMCell",
    "Conv2DLSTMCell",
    "Conv3DLSTMCell",
    "ConvLSTMCell",
    "CoupledInputForgetGateLSTMCell",
    "DeviceWrapper",
    "DropoutWrapper",
    "EmbeddingWrapper",
    "GLSTMCell",
    "GridLSTMCell",
    "GRUBlockCellV2",
    "GRUCell",
    "HighwayWrapper",
    "IndRNNCell",
    "IndyGRUCell",
    "IndyLSTMCell",
    "InputProjectionWrapper",
    "IntersectionRNNCell",
    "LSTMBlockCell",
    "LSTMBlockFusedCell",
    "LSTMCell",
    "LSTMStateTuple",
    "LayerNormBasicLSTMCell",
    "LayerNormLSTMCell",
    "MultiRNNCell",
    "NASCell",
    "OutputProjectionWrapper",
    "PhasedLSTMCell",
    "RNNCell",
    "ResidualWrapper",
    "SRUCell",
    "TimeFreqLSTMCell",
    "UGRNNCell",
    "WeightNormLSTMCell",
    "stack_bidirectional_dynamic_rnn",
    "stack_bidirectional_rnn",
    "static_bidirectional_rnn",
    "static_rnn",
    "static_state_saving_rnn",
]
