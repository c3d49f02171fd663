"""TF1's RNN drivers over tfseq (and Keras 3) cells: ``from tfseq import nn``."""

from tfseq.nn.rnn import (
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
)

__all__ = ["dynamic_rnn", "static_rnn", "bidirectional_dynamic_rnn", "static_bidirectional_rnn"]

from tfseq.nn import fused  # noqa: E402  (fast paths: fused.plan(cell) says which one runs)
from tfseq.nn.layers import RNN  # noqa: E402

__all__ += ["RNN", "fused"]
