"""TF1 contrib's ``WeightNormLSTMCell`` (``tf.contrib.rnn``): ``LSTMCell`` whose kernels are weight
normalized (Salimans & Kingma 2016), with contrib's arguments, math, state layout
(``LSTMStateTuple(c, m)``) and variable names.

Each kernel is split in row blocks, one per input it multiplies (``x`` and ``m`` for the gates,
``m`` alone for the projection); every column of block ``b`` is scaled to unit L2 norm and then by
the gain ``norm_<b>`` (one per column)::

    W~ = [l2n(kernel[:depth]) * norm_0; l2n(kernel[depth:]) * norm_1]   (norm=False: W~ = kernel)
    i, j, f, o = split([x, m] @ W~ + bias, 4)
    c' = c * sigmoid(f + forget_bias (+ w_f_diag * c)) + sigmoid(i (+ w_i_diag * c)) * activation(j)
    c' = clip(c', -cell_clip, cell_clip)                                        (if cell_clip)
    m' = sigmoid(o (+ w_o_diag * c')) * activation(c')
    m' = clip(m' @ P~, -proj_clip, proj_clip)  with P~ = l2n(projection/kernel) * projection/norm_0   (if num_proj)

``l2n(v) = v / sqrt(max(sum(v ** 2 over rows), 1e-12))``. With ``norm=False`` the cell computes
contrib ``LSTMCell``'s numbers (its weights have other names).
"""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_optional_nonnegative, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import LSTMStateTuple, get_activation, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.cells import check_projection
from tfseq.rnn_cell.contrib_cells import add_scoped_weight
from tfseq.rnn_cell.contrib_lstm_cells import _ProjectedLSTM

_SCOPE = "wn_lstm_cell"  # contrib's inner variable scope, under the cell's


def _weight_normalized(kernel: tf.Tensor, gains: list, block_rows: list[int]) -> tf.Tensor:
    """``kernel`` with the columns of each row block at unit L2 norm, times that block's gains."""
    blocks = tf.split(kernel, block_rows, axis=0)
    return tf.concat([tf.math.l2_normalize(b, axis=0) * g for b, g in zip(blocks, gains)], axis=0)


@keras.saving.register_keras_serializable(package="tfseq")
class WeightNormLSTMCell(_ProjectedLSTM):
    """TF1 contrib's ``WeightNormLSTMCell(num_units, norm=True, use_peepholes=False, cell_clip=None,
    initializer=None, num_proj=None, proj_clip=None, forget_bias=1, activation=None, reuse=None)``
    (math in the module docstring).

    Args:
        num_units: int > 0, the size of ``c``.
        norm: bool, weight normalization of the kernels (False: plain ``LSTMCell`` math, and no
            ``norm_*`` weights).
        use_peepholes: bool, the diagonal connections ``w_f_diag``, ``w_i_diag``, ``w_o_diag``.
        cell_clip: None or number >= 0, clip of ``c'`` before the output activation.
        initializer: of the kernels, gains and peepholes (default: the TF1 variable scope's, else
            Glorot uniform, which contrib also used for the gains).
        num_proj: None or int > 0, the size of the projected output ``m``.
        proj_clip: None or number >= 0, clip of the projected ``m`` (needs ``num_proj``).
        forget_bias: number added to the forget gate at every step.
        activation: callable or name; default ``tanh``.
        reuse: TF1 only; accepted as None.

    Call arguments:
        inputs: ``[batch, depth]``.
        states: ``LSTMStateTuple(c, m)``: ``[batch, num_units]``, ``[batch, num_proj or num_units]``.

    Returns:
        ``(m', LSTMStateTuple(c', m'))``.

    Weights (scope ``weight_norm_lstm_cell/wn_lstm_cell``): ``kernel``
    ``[depth + (num_proj or num_units), 4 * num_units]``, with ``norm`` ``norm_0`` and ``norm_1``
    ``[4 * num_units]``; ``bias`` ``[4 * num_units]`` (zeros); peepholes ``w_f_diag``,
    ``w_i_diag``, ``w_o_diag`` ``[num_units]``; ``projection/kernel`` ``[num_units, num_proj]``
    and, with ``norm``, ``projection/norm_0`` ``[num_proj]``.

    Raises:
        ValueError: a bad ``num_units``, flag, ``cell_clip``, ``num_proj``, ``proj_clip`` (or one
            without ``num_proj``), ``forget_bias``, ``activation`` name, or ``reuse`` other than None.

    Example:
        >>> cell = WeightNormLSTMCell(32, num_proj=16)
        >>> outputs, state = tfseq.nn.dynamic_rnn(cell, tf.zeros([4, 10, 8]))  # outputs [4, 10, 16]
    """

    tf1_scope_name = "weight_norm_lstm_cell"
    object_args = ("activation", "initializer")

    def __init__(
        self,
        num_units: int,
        norm: bool = True,
        use_peepholes: bool = False,
        cell_clip: float | None = None,
        initializer: keras.initializers.Initializer | str | None = None,
        num_proj: int | None = None,
        proj_clip: float | None = None,
        forget_bias: float = 1.0,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.norm = check_bool(owner, "norm", norm)
        self.use_peepholes = check_bool(owner, "use_peepholes", use_peepholes)
        self.cell_clip = check_optional_nonnegative(owner, "cell_clip", cell_clip)
        self._initializer_arg = initializer
        self.num_proj, self.proj_clip = check_projection(owner, num_proj, proj_clip)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation

    def build(self, input_shape: tuple) -> None:
        depth, n, out = self.input_depth(input_shape), self.num_units, self.output_size
        init = self._kernel_init()
        self.depth = depth
        self.kernel = add_scoped_weight(self, f"{_SCOPE}/kernel", (depth + out, 4 * n), init)
        self.gains = []
        if self.norm:
            self.gains = [add_scoped_weight(self, f"{_SCOPE}/norm_{b}", (4 * n,), init) for b in (0, 1)]
        self.bias = add_scoped_weight(self, f"{_SCOPE}/bias", (4 * n,), "zeros")
        self.w_f_diag = self.w_i_diag = self.w_o_diag = None
        if self.use_peepholes:
            self.w_f_diag = add_scoped_weight(self, f"{_SCOPE}/w_f_diag", (n,), init)
            self.w_i_diag = add_scoped_weight(self, f"{_SCOPE}/w_i_diag", (n,), init)
            self.w_o_diag = add_scoped_weight(self, f"{_SCOPE}/w_o_diag", (n,), init)
        self.projection_kernel, self.projection_gains = None, []
        if self.num_proj is not None:
            self.projection_kernel = add_scoped_weight(self, f"{_SCOPE}/projection/kernel", (n, self.num_proj), init)
            if self.norm:
                self.projection_gains = [
                    add_scoped_weight(self, f"{_SCOPE}/projection/norm_0", (self.num_proj,), init)
                ]

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, m_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        kernel = self.kernel
        if self.norm:
            kernel = _weight_normalized(kernel, self.gains, [self.depth, self.output_size])
        z = tf.nn.bias_add(tf.matmul(tf.concat([x, m_prev], 1), kernel), self.bias)
        i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
        f = f + self.forget_bias
        if self.use_peepholes:
            f, i = f + self.w_f_diag * c_prev, i + self.w_i_diag * c_prev
        c = c_prev * tf.sigmoid(f) + tf.sigmoid(i) * self.activation(j)
        if self.cell_clip is not None:
            c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        m = tf.sigmoid(o) * self.activation(c)
        if self.projection_kernel is not None:
            projection = self.projection_kernel
            if self.norm:
                projection = _weight_normalized(projection, self.projection_gains, [self.num_units])
            m = tf.matmul(m, projection)
            if self.proj_clip is not None:
                m = tf.clip_by_value(m, -self.proj_clip, self.proj_clip)
        return m, LSTMStateTuple(c, m)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "norm": self.norm,
            "use_peepholes": self.use_peepholes,
            "cell_clip": self.cell_clip,
            "initializer": serialize_optional(self._initializer_arg),
            "num_proj": self.num_proj,
            "proj_clip": self.proj_clip,
            "forget_bias": self.forget_bias,
            "activation": serialize_optional(self._activation_arg),
        }


__all__ = ["WeightNormLSTMCell"]
