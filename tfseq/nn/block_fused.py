"""TF1 contrib's ``LSTMBlockFusedCell``: a whole-sequence LSTM layer (the ``BlockLSTM`` op's math).

It lives in ``tfseq.nn`` rather than ``tfseq.rnn_cell`` because it is a sequence layer
that runs a driver, not a one-step cell.
"""

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq.nn.rnn import dynamic_rnn
from tfseq.rnn_cell.base import reject_tf1_only_args
from tfseq.rnn_cell.block_cells import LSTMBlockCell


@keras.saving.register_keras_serializable(package="tfseq")
class LSTMBlockFusedCell(keras.layers.Layer):
    """TF1 contrib's ``LSTMBlockFusedCell``: :class:`tfseq.rnn_cell.LSTMBlockCell`'s LSTM run
    over a time-major sequence in one call, on tfseq's fused path.

    Same math, gradients (straight-through ``cell_clip``) and TF1 variable names as
    ``LSTMBlockCell``, under the scope ``name`` (default ``lstm_fused_cell``:
    ``lstm_fused_cell/kernel``, ``lstm_fused_cell/bias``, ``.../w_i_diag``...). Past a row's
    ``sequence_length`` the output is zeros and the final state is the state at the row's
    last step (contrib masked the op's outputs and gathered the states the same way).

    Args:
        num_units: int > 0.
        forget_bias, cell_clip, use_peephole: as in :class:`tfseq.rnn_cell.LSTMBlockCell`.
        reuse: TF1 only; accepted as None.
        dtype: the layer's dtype (Keras dtype policy).
        name: layer name and TF1 variable scope.

    Call arguments:
        inputs: ``[time, batch, depth]`` float, or a list of ``time`` tensors ``[batch, depth]``.
        initial_state: optional ``(c, h)``, each ``[batch, num_units]``; zeros by default.
        dtype: dtype of the zero state (default: the inputs').
        sequence_length: optional int ``[batch]``.
        scope: TF1's variable scope of the weights (``<scope>/kernel``), as in TF1 taken from the
            first call only; default the layer's ``name``.

    Returns:
        ``(outputs, LSTMStateTuple(c, h))``: outputs ``[time, batch, num_units]`` (a list of
        ``[batch, num_units]`` when the inputs were a list).

    Raises:
        ValueError: bad constructor arguments (see ``LSTMBlockCell``), inputs not of rank 3,
            an ``initial_state`` that is not a pair.

    Example:
        >>> lstm = tfseq.nn.LSTMBlockFusedCell(8)
        >>> outputs, (c, h) = lstm(tf.zeros([5, 2, 3]), dtype=tf.float32)   # [5, 2, 8]
    """

    def __init__(
        self,
        num_units: int,
        forget_bias: float = 1.0,
        cell_clip: float | None = None,
        use_peephole: bool = False,
        reuse: bool | None = None,
        dtype: tf.DType | str | None = None,
        name: str | None = "lstm_fused_cell",
        **kwargs: Any,
    ):
        reject_tf1_only_args(type(self).__name__, reuse=reuse)
        self.cell = LSTMBlockCell(num_units, forget_bias=forget_bias, cell_clip=cell_clip,
                                  use_peephole=use_peephole, dtype=dtype, name=name)
        super().__init__(dtype=dtype, name=name, **kwargs)
        self._scope_fixed = False

    @property
    def num_units(self) -> int:
        return self.cell.num_units

    @property
    def state_size(self) -> Any:
        """``LSTMStateTuple(num_units, num_units)`` (also makes the layer a
        ``compat.load_tf1_checkpoint`` target; pass ``scope=""`` or the scope it ran in)."""
        return self.cell.state_size

    def build(self, input_shape: tuple) -> None:
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]  # a list of per-step [batch, depth] shapes
        depth = tuple(input_shape)[-1]
        if depth is None:
            raise ValueError(f"{self.name}: the last dimension of inputs must be known, got shape {input_shape}")
        self.cell.build((None, depth))

    def call(
        self,
        inputs: tf.Tensor | Sequence[tf.Tensor],
        initial_state: Any = None,
        dtype: tf.DType | str | None = None,
        sequence_length: tf.Tensor | Sequence[int] | None = None,
        scope: str | None = None,
    ) -> tuple[tf.Tensor, Any]:
        if not self._scope_fixed:  # TF1's layers took their variable scope from the first call
            if scope is not None:
                self.cell.tf1_scope_name = str(scope)
            self._scope_fixed = True
        is_list = isinstance(inputs, (list, tuple))
        x = tf.stack(list(inputs)) if is_list else tf.convert_to_tensor(inputs)
        if x.shape.rank != 3:
            raise ValueError(f"{self.name}: inputs must be [time, batch, depth], got shape {x.shape}")
        if initial_state is not None and len(initial_state) != 2:
            raise ValueError(f"{self.name}: initial_state must be a pair (c, h), got {initial_state!r}")
        outputs, state = dynamic_rnn(self.cell, x, sequence_length=sequence_length, initial_state=initial_state,
                                     dtype=dtype, time_major=True)
        return (tf.unstack(outputs) if is_list else outputs), state

    def tf1_variables(self) -> dict[str, keras.Variable]:
        """``{"<name>/kernel": variable, ...}``, contrib's names."""
        return self.cell.tf1_variables()

    def get_config(self) -> dict:
        config = self.cell.get_config()
        return {
            **super().get_config(),
            **{key: config[key] for key in ("num_units", "forget_bias", "cell_clip", "use_peephole")},
        }
