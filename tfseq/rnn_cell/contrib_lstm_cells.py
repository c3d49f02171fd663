"""TF1 contrib's full LSTM variants (``tf.contrib.rnn``): ``LayerNormLSTMCell`` and ``GLSTMCell``,
with contrib's arguments, math, state layout (``LSTMStateTuple(c, m)``) and variable names.
Both run per step (no fused kernel). ``n = num_units``, ``m`` the output state (projected when
``num_proj``), ``*`` elementwise, ``@`` a matrix product.

* ``LayerNormLSTMCell`` (not ``LayerNormBasicLSTMCell``, nor TF Addons' ``tfseq.rnn`` cell of the
  same name): ``LSTMCell`` with peepholes, cell clip, projection and layer norm::

      z = [x, m] @ kernel + bias                   (layer_norm_columns: no bias, LN per gate below)
      z = LN_0(x @ kernel_x) + LN_1(m @ kernel_m) + bias        (layer_norm, not layer_norm_columns)
      i, j, f, o = split(z, 4);  i, j, f, o = LN_input(i), LN_transform(j), LN_forget(f), LN_output(o)
      c' = sigmoid(f + forget_bias (+ w_f_diag * c)) * c + sigmoid(i (+ w_i_diag * c)) * activation(j)
      c' = clip(LN_state(c'), -cell_clip, cell_clip)                   (LN if layer_norm; clip if cell_clip)
      m' = sigmoid(o (+ w_o_diag * c')) * activation(c')
      m' = clip(m' @ projection/kernel, -proj_clip, proj_clip)       (if num_proj; LN_0 of it without columns)

  ``LN_k(v) = (v - mean(v)) / sqrt(var(v) + 1e-12) * k/gamma (+ k/beta)`` over each row; the
  ``0``/``1`` norms have no beta (contrib's ``center=False``).

* ``GLSTMCell`` (Kuchaiev & Ginsburg 2017, "Factorization tricks for LSTM networks"): ``G`` groups,
  each an LSTM block with weights of its own (``group<g>/kernel``) reading the ``g``-th slices of
  ``x`` and ``m``::

      i_g, j_g, f_g, o_g = split([x_g, m_g] @ group<g>/kernel, 4)
      i, j, f, o = concat_g(i_g) + bias_i, concat_g(j_g) + bias_j, concat_g(f_g) + bias_f, concat_g(o_g) + bias_o
      c' = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j)      (tanh, whatever activation is)
      m' = sigmoid(o) * activation(c');   m' = m' @ projection/kernel                  (if num_proj)

Weights without an initializer of their own take the cell's ``initializer``, else the TF1
variable scope's, else Glorot uniform; biases are zeros, gammas ``norm_gain``, betas ``norm_shift``.
"""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_optional_nonnegative, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell, get_activation, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.cells import _initializer, check_projection
from tfseq.rnn_cell.contrib_cells import add_scoped_weight

_EPSILON = 1e-12  # contrib's layers.layer_norm
_GATE_NORMS = ("input", "transform", "forget", "output")


def _layer_norm(value: tf.Tensor, gamma: keras.Variable, beta: keras.Variable | None) -> tf.Tensor:
    mean, variance = tf.nn.moments(value, [1], keepdims=True)
    return tf.nn.batch_normalization(value, mean, variance, beta, gamma, _EPSILON)


class _ProjectedLSTM(RNNCell):
    """``num_units``, ``num_proj`` and the ``LSTMStateTuple(c, m)`` state of contrib's LSTMs."""

    @property
    def state_size(self) -> Any:
        return LSTMStateTuple(self.num_units, self.output_size)

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    def _kernel_init(self) -> Any:
        return _initializer(self._initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")


@keras.saving.register_keras_serializable(package="tfseq")
class LayerNormLSTMCell(_ProjectedLSTM):
    """TF1 contrib's ``LayerNormLSTMCell(num_units, use_peepholes=False, cell_clip=None,
    initializer=None, num_proj=None, proj_clip=None, forget_bias=1.0, activation=None,
    layer_norm=True, layer_norm_columns=True, norm_gain=1.0, norm_shift=0.0, reuse=None)``
    (math in the module docstring).

    Args:
        num_units: int > 0, the size of ``c``.
        use_peepholes: bool, the diagonal connections ``w_f_diag``, ``w_i_diag``, ``w_o_diag``.
        cell_clip: None or number >= 0, clip of ``c'`` before the output activation.
        initializer: of the kernels and peepholes (default: the TF1 variable scope's, else
            Glorot uniform).
        num_proj: None or int > 0, the size of the projected output ``m``.
        proj_clip: None or number >= 0, clip of the projected ``m`` (needs ``num_proj``).
        forget_bias: number added to the forget gate at every step.
        activation: callable or name; default ``tanh``.
        layer_norm: bool, layer normalization (of the gates or the two products, and of ``c'``).
        layer_norm_columns: bool; True (contrib's default): one norm per gate
            (``input``, ``transform``, ``forget``, ``output``) and no ``bias``; False: norms ``0``
            and ``1`` of ``x @ kernel_x`` and ``m @ kernel_m`` (Ba et al.) and a ``bias``.
        norm_gain, norm_shift: initial values of every ``gamma`` and ``beta``.
        reuse: TF1 only; accepted as None.

    State ``LSTMStateTuple(c, m)``; output ``m``. Weights (scope ``layer_norm_lstm_cell``):
    ``kernel`` ``[depth + (num_proj or num_units), 4 * num_units]``; ``bias`` ``[4 * num_units]``
    (zeros) unless ``layer_norm`` and ``layer_norm_columns``; with both,
    ``{input,transform,forget,output}/{gamma,beta}`` ``[num_units]``; with ``layer_norm`` only,
    ``0/gamma``, ``1/gamma`` ``[4 * num_units]``; with ``layer_norm``, ``state/{gamma,beta}``
    ``[num_units]``; peepholes ``w_f_diag``, ``w_i_diag``, ``w_o_diag`` ``[num_units]``;
    ``projection/kernel`` ``[num_units, num_proj]`` (and ``projection/0/gamma`` ``[num_proj]``
    with ``layer_norm`` without columns).

    Raises:
        ValueError: a bad ``num_units``, ``cell_clip``, ``num_proj``, ``proj_clip`` (or one without
            ``num_proj``), ``forget_bias``, a flag that is not a bool, ``norm_gain``,
            ``norm_shift``, ``activation`` name or ``reuse``.
    """

    tf1_scope_name = "layer_norm_lstm_cell"
    object_args = ("activation", "initializer")

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        cell_clip: float | None = None,
        initializer: keras.initializers.Initializer | str | None = None,
        num_proj: int | None = None,
        proj_clip: float | None = None,
        forget_bias: float = 1.0,
        activation: Callable | str | None = None,
        layer_norm: bool = True,
        layer_norm_columns: bool = True,
        norm_gain: float = 1.0,
        norm_shift: float = 0.0,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.use_peepholes = check_bool(owner, "use_peepholes", use_peepholes)
        self.cell_clip = check_optional_nonnegative(owner, "cell_clip", cell_clip)
        self._initializer_arg = initializer
        self.num_proj, self.proj_clip = check_projection(owner, num_proj, proj_clip)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation
        self.layer_norm = check_bool(owner, "layer_norm", layer_norm)
        self.layer_norm_columns = check_bool(owner, "layer_norm_columns", layer_norm_columns)
        self.norm_gain = check_number(owner, "norm_gain", norm_gain)
        self.norm_shift = check_number(owner, "norm_shift", norm_shift)

    def build(self, input_shape: tuple) -> None:
        depth, n, out = self.input_depth(input_shape), self.num_units, self.output_size
        init = self._kernel_init()
        gain, shift = keras.initializers.Constant(self.norm_gain), keras.initializers.Constant(self.norm_shift)
        per_gate = self.layer_norm and self.layer_norm_columns
        per_product = self.layer_norm and not self.layer_norm_columns
        self.depth = depth
        self.kernel = self.add_tf1_weight("kernel", (depth + out, 4 * n), init)
        self.product_gammas = self.gate_norms = ()
        if per_product:
            self.product_gammas = tuple(add_scoped_weight(self, f"{k}/gamma", (4 * n,), gain) for k in "01")
        self.bias = None if per_gate else self.add_tf1_weight("bias", (4 * n,), "zeros")
        if per_gate:
            self.gate_norms = tuple(
                (add_scoped_weight(self, f"{k}/gamma", (n,), gain), add_scoped_weight(self, f"{k}/beta", (n,), shift))
                for k in _GATE_NORMS
            )
        self.state_norm = None
        if self.layer_norm:
            self.state_norm = (
                add_scoped_weight(self, "state/gamma", (n,), gain),
                add_scoped_weight(self, "state/beta", (n,), shift),
            )
        self.w_f_diag = self.w_i_diag = self.w_o_diag = None
        if self.use_peepholes:
            self.w_f_diag = self.add_tf1_weight("w_f_diag", (n,), init)
            self.w_i_diag = self.add_tf1_weight("w_i_diag", (n,), init)
            self.w_o_diag = self.add_tf1_weight("w_o_diag", (n,), init)
        self.projection_kernel = self.projection_gamma = None
        if self.num_proj is not None:
            self.projection_kernel = add_scoped_weight(self, "projection/kernel", (n, self.num_proj), init)
            if per_product:
                self.projection_gamma = add_scoped_weight(self, "projection/0/gamma", (self.num_proj,), gain)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, m_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        if self.product_gammas:
            kernel_x, kernel_m = self.kernel[: self.depth], self.kernel[self.depth :]
            z = _layer_norm(tf.matmul(x, kernel_x), self.product_gammas[0], None) + _layer_norm(
                tf.matmul(m_prev, kernel_m), self.product_gammas[1], None
            )
        else:
            z = tf.matmul(tf.concat([x, m_prev], 1), self.kernel)
        if self.bias is not None:
            z = tf.nn.bias_add(z, self.bias)
        i, j, f, o = tf.split(z, 4, axis=1)
        if self.gate_norms:
            i, j, f, o = (_layer_norm(v, gamma, beta) for v, (gamma, beta) in zip((i, j, f, o), self.gate_norms))
        f = f + self.forget_bias
        if self.use_peepholes:
            f, i = f + self.w_f_diag * c_prev, i + self.w_i_diag * c_prev
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * self.activation(j)
        if self.state_norm is not None:
            c = _layer_norm(c, *self.state_norm)
        if self.cell_clip is not None:
            c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        m = tf.sigmoid(o) * self.activation(c)
        if self.projection_kernel is not None:
            m = tf.matmul(m, self.projection_kernel)
            if self.projection_gamma is not None:
                m = _layer_norm(m, self.projection_gamma, None)
            if self.proj_clip is not None:
                m = tf.clip_by_value(m, -self.proj_clip, self.proj_clip)
        return m, LSTMStateTuple(c, m)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "use_peepholes": self.use_peepholes,
            "cell_clip": self.cell_clip,
            "initializer": serialize_optional(self._initializer_arg),
            "num_proj": self.num_proj,
            "proj_clip": self.proj_clip,
            "forget_bias": self.forget_bias,
            "activation": serialize_optional(self._activation_arg),
            "layer_norm": self.layer_norm,
            "layer_norm_columns": self.layer_norm_columns,
            "norm_gain": self.norm_gain,
            "norm_shift": self.norm_shift,
        }


@keras.saving.register_keras_serializable(package="tfseq")
class GLSTMCell(_ProjectedLSTM):
    """TF1 contrib's ``GLSTMCell(num_units, initializer=None, num_proj=None, number_of_groups=1,
    forget_bias=1.0, activation=tanh, reuse=None)``: the group LSTM (math in the module docstring).

    Args:
        num_units: int > 0, divisible by ``number_of_groups``.
        initializer: of the group kernels and the projection (default: the TF1 variable scope's,
            else Glorot uniform).
        num_proj: None or int > 0 divisible by ``number_of_groups``, the projected output size.
        number_of_groups: int > 0, ``G``; each group has its own kernel.
        forget_bias: number added to the forget gate at every step.
        activation: callable or name of the output path (``activation(c')``); default ``tanh``.
            As in contrib, the candidate ``j`` always goes through ``tanh``.
        reuse: TF1 only; accepted as None.

    State ``LSTMStateTuple(c, m)``; output ``m``. Weights (scope ``glstm_cell``):
    ``group<g>/kernel`` ``[depth / G + (num_proj or num_units) / G, 4 * num_units / G]`` for
    ``g = 0 .. G-1`` (no bias), ``bias_i``, ``bias_j``, ``bias_f``, ``bias_o`` ``[num_units]``
    (zeros), ``projection/kernel`` ``[num_units, num_proj]``.

    Raises:
        ValueError: a bad ``num_units``, ``num_proj``, ``number_of_groups`` (or sizes it does not
            divide), ``forget_bias``, ``activation`` name or ``reuse``; at build, an input depth
            ``number_of_groups`` does not divide.
    """

    tf1_scope_name = "glstm_cell"
    object_args = ("activation", "initializer")

    def __init__(
        self,
        num_units: int,
        initializer: keras.initializers.Initializer | str | None = None,
        num_proj: int | None = None,
        number_of_groups: int = 1,
        forget_bias: float = 1.0,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self._initializer_arg = initializer
        self.num_proj = None if num_proj is None else check_positive_int(owner, "num_proj", num_proj)
        self.number_of_groups = check_positive_int(owner, "number_of_groups", number_of_groups)
        for name, value in (("num_units", self.num_units), ("num_proj", self.num_proj)):
            if value is not None and value % self.number_of_groups:
                raise ValueError(
                    f"{owner}: {name}={value} must be divisible by number_of_groups={self.number_of_groups}"
                )
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation

    def build(self, input_shape: tuple) -> None:
        depth, groups, n = self.input_depth(input_shape), self.number_of_groups, self.num_units
        if depth % groups:
            raise ValueError(f"{self.name}: input depth {depth} must be divisible by number_of_groups={groups}")
        self.input_group, self.output_group, self.unit_group = depth // groups, self.output_size // groups, n // groups
        init = self._kernel_init()
        self.group_kernels = [
            add_scoped_weight(
                self, f"group{g}/kernel", (self.input_group + self.output_group, 4 * self.unit_group), init
            )
            for g in range(groups)
        ]
        self.gate_biases = [self.add_tf1_weight(f"bias_{gate}", (n,), "zeros") for gate in "ijfo"]
        self.projection_kernel = None
        if self.num_proj is not None:
            self.projection_kernel = add_scoped_weight(self, "projection/kernel", (n, self.num_proj), init)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, m_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        parts = [[], [], [], []]  # i, j, f, o of each group
        for g, kernel in enumerate(self.group_kernels):
            x_g = x[:, g * self.input_group : (g + 1) * self.input_group]
            m_g = m_prev[:, g * self.output_group : (g + 1) * self.output_group]
            for gate, part in zip(parts, tf.split(tf.matmul(tf.concat([x_g, m_g], 1), kernel), 4, axis=1)):
                gate.append(part)
        i, j, f, o = (tf.nn.bias_add(tf.concat(p, 1), b) for p, b in zip(parts, self.gate_biases))
        c = tf.sigmoid(f + self.forget_bias) * c_prev + tf.sigmoid(i) * tf.tanh(j)
        m = tf.sigmoid(o) * self.activation(c)
        if self.projection_kernel is not None:
            m = tf.matmul(m, self.projection_kernel)
        return m, LSTMStateTuple(c, m)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "initializer": serialize_optional(self._initializer_arg),
            "num_proj": self.num_proj,
            "number_of_groups": self.number_of_groups,
            "forget_bias": self.forget_bias,
            "activation": serialize_optional(self._activation_arg),
        }


__all__ = ["LayerNormLSTMCell", "GLSTMCell"]
