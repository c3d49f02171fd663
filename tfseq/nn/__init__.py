"""TF1's RNN drivers over tfseq and Keras 3 cells (``raw_rnn`` and ``static_state_saving_rnn``
among them), and the fused fast path: ``from tfseq import nn``.

``nn.RNN`` is ``keras.layers.RNN`` with the fused fast path; ``nn.fused.plan(cell)``
says which path a cell runs. TF1 contrib's sequence-level ``LSTMBlockFusedCell``, ``FusedRNNCellAdaptor``,
``TimeReversedFusedRNN`` and
stacked bidirectional RNNs live here too, ``masked_pool`` (mean, max or attention
pooling of variable-length sequences over their real steps) and ``sparse_cross_entropy``
(the float32 softmax cross-entropy, compiled with XLA inside a plain graph).
"""

from tfseq.nn import fused
from tfseq.nn.block_fused import LSTMBlockFusedCell
from tfseq.nn.fused_rnn_cell import FusedRNNCell, FusedRNNCellAdaptor, TimeReversedFusedRNN
from tfseq.nn.layers import RNN, Dropout
from tfseq.nn.losses import sparse_cross_entropy
from tfseq.nn.pooling import masked_pool
from tfseq.nn.raw_rnn import raw_rnn
from tfseq.nn.rnn import (
    best_effort_input_batch_size,
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
    transpose_batch_time,
)
from tfseq.nn.stack_bidi import (
    stack_bidirectional_checkpoint_target,
    stack_bidirectional_dynamic_rnn,
    stack_bidirectional_rnn,
)
from tfseq.nn.state_saving import static_state_saving_rnn

__all__ = [
    "dynamic_rnn",
    "static_rnn",
    "bidirectional_dynamic_rnn",
    "static_bidirectional_rnn",
    "static_state_saving_rnn",
    "raw_rnn",
    "RNN",
    "Dropout",
    "fused",
    "masked_pool",
    "sparse_cross_entropy",
    # TF1 contrib (tf.contrib.rnn)
    "LSTMBlockFusedCell",
    "FusedRNNCell",
    "FusedRNNCellAdaptor",
    "TimeReversedFusedRNN",
    "stack_bidirectional_dynamic_rnn",
    "stack_bidirectional_rnn",
    "stack_bidirectional_checkpoint_target",
    "transpose_batch_time",
    "best_effort_input_batch_size",
]
