"""TF1 contrib's ``BidirectionalGridLSTMCell``: two ``GridLSTMCell``
grids with weights of their own (scopes ``fwd`` and ``bwd``) over the windows of each step's input;
the ``bwd`` grid runs along each block's windows in reverse order, optionally shifted by
``backward_slice_offset`` columns. Only the frequency direction is bidirectional: time stays causal,
so the cell still runs online. Output and state are the forward grid's, then the backward grid's.
"""

import numbers
from typing import Any

import keras
import tensorflow as tf

from tfseq.rnn_cell.grid_lstm import GridLSTMCell


@keras.saving.register_keras_serializable(package="tfseq")
class BidirectionalGridLSTMCell(GridLSTMCell):
    """TF1 contrib's ``BidirectionalGridLSTMCell(num_units, use_peepholes=False,
    share_time_frequency_weights=False, cell_clip=None, initializer=None, num_unit_shards=1,
    forget_bias=1.0, feature_size=None, frequency_skip=None, num_frequency_blocks=None,
    start_freqindex_list=None, end_freqindex_list=None, couple_input_forget_gates=False,
    backward_slice_offset=0, reuse=None)`` (math in ``GridLSTMCell``'s module docstring).

    The arguments are ``GridLSTMCell``'s without ``state_is_tuple``: the state is always a namedtuple
    (contrib's ``BidirectionalGridLSTMStateTuple``, ``cell.state_tuple_type``) with fields
    ``fwd_state_f<k>_b<b>_{c,m}`` then ``bwd_state_f<k>_b<b>_{c,m}``; ``k`` counts the backward
    grid's windows in its own (reversed) order.

    Args:
        backward_slice_offset: int, the shift in columns of the backward grid's windows (columns
            beyond the input read zeros); 0: the forward grid's windows.

    Call arguments:
        inputs: ``[batch, depth]``.
        states: structured like ``state_size`` (Keras' flat list is accepted too).

    Returns:
        ``(output, new_state)``: ``output`` ``[batch, 4 * num_units * W]`` for ``W`` windows in
        all blocks, the forward grid's then the backward grid's.

    Weights (scope ``bidirectional_grid_lstm_cell``): ``GridLSTMCell``'s, once under ``fwd/``
    and once under ``bwd/`` (``fwd/W_f_0_0``, ``bwd/B_f_0``, ...).

    Raises:
        ValueError: as ``GridLSTMCell``, and a ``backward_slice_offset`` that is not an integer.

    Example:
        >>> cell = BidirectionalGridLSTMCell(8, feature_size=4, frequency_skip=2, num_frequency_blocks=[4])
        >>> outputs, state = tfseq.nn.dynamic_rnn(cell, tf.zeros([2, 5, 10]))  # outputs [2, 5, 128]
    """

    tf1_scope_name = "bidirectional_grid_lstm_cell"
    directions = ("fwd", "bwd")
    state_type_name = "BidirectionalGridLSTMStateTuple"

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        share_time_frequency_weights: bool = False,
        cell_clip: float | None = None,
        initializer: keras.initializers.Initializer | str | None = None,
        num_unit_shards: int | None = 1,
        forget_bias: float = 1.0,
        feature_size: int | None = None,
        frequency_skip: int | None = None,
        num_frequency_blocks: list[int] | None = None,
        start_freqindex_list: list[int] | None = None,
        end_freqindex_list: list[int] | None = None,
        couple_input_forget_gates: bool = False,
        backward_slice_offset: int = 0,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(backward_slice_offset, bool) or not isinstance(backward_slice_offset, numbers.Integral):
            raise ValueError(f"{type(self).__name__}: backward_slice_offset must be an integer, "
                             f"got {backward_slice_offset!r}")
        super().__init__(num_units, use_peepholes, share_time_frequency_weights, cell_clip, initializer,
                         num_unit_shards, forget_bias, feature_size, frequency_skip, num_frequency_blocks,
                         start_freqindex_list, end_freqindex_list, couple_input_forget_gates, True, reuse, **kwargs)
        self.backward_slice_offset = int(backward_slice_offset)

    def grid_windows(self, x: tf.Tensor, direction: str) -> list[list[tf.Tensor]]:
        """The forward grid's windows; the backward grid's shifted and in reverse order per block."""
        if direction == "fwd":
            return self.windows(x, 0)
        return [windows[::-1] for windows in self.windows(x, self.backward_slice_offset)]

    def get_config(self) -> dict:
        config = super().get_config()
        del config["state_is_tuple"]
        return {**config, "backward_slice_offset": self.backward_slice_offset}


__all__ = ["BidirectionalGridLSTMCell"]
