"""TF1's RNN drivers over tfseq and Keras 3 cells, and the fused fast path: ``from tfseq import nn``.

``nn.RNN`` is ``keras.layers.RNN`` with the fused fast path; ``nn.fused.plan(cell)``
says which path a cell runs.
"""

from tfseq.nn import fused
from tfseq.nn.layers import RNN
from tfseq.nn.rnn import (
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
)

__all__ = ["dynamic_rnn", "static_rnn", "bidirectional_dynamic_rnn", "static_bidirectional_rnn", "RNN", "fused"]

from tfseq.nn.block_fused import LSTMBlockFusedCell  # noqa: E402  (TF1 contrib's sequence-level LSTM)

__all__ += ["LSTMBlockFusedCell"]

from tfseq.nn.stack_bidi import (  # noqa: E402  (TF1 contrib's stacked bidirectional RNNs)
    stack_bidirectional_checkpoint_target,
    stack_bidirectional_dynamic_rnn,
    stack_bidirectional_rnn,
)

__all__ += ["stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn", "stack_bidirectional_checkpoint_target"]
