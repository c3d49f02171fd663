"""TF1 contrib's ``CoupledInputForgetGateLSTMCell`` (``tf.contrib.rnn``): an LSTM whose input
gate is ``1 - forget gate`` (Greff et al., "LSTM: A Search Space Odyssey"), with optional
peepholes, projection and layer normalization, under contrib's variable names.

One step, with ``m`` the output state (projected when ``num_proj``)::

    j, f, o = split([x, m] @ W_0 (+ B without layer_norm), 3)
    j, f, o = LN_transform(j), LN_forget(f), LN_output(o)          # if layer_norm
    f = sigmoid(f + forget_bias (+ W_F_diag * c))                  # peephole on the old c
    c' = f * c + (1 - f) * activation(j)
    c' = LN_state(c')                                              # if layer_norm
    m' = sigmoid(o (+ W_O_diag * c')) * activation(c')             # peephole on the new c
    m' = clip(m' @ W_P_0, -proj_clip, proj_clip)                   # if num_proj (clip if proj_clip)

``LN_k(v) = (v - mean(v)) / sqrt(var(v) + 1e-12) * k/gamma + k/beta`` over the units of each row
(contrib's ``layers.layer_norm``). State ``LSTMStateTuple(c, m)`` (or ``concat([c, m], 1)``
with ``state_is_tuple=False``); the output is ``m'``.
"""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell, get_activation, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.cells import _initializer, check_projection

_NORMS = ("transform", "forget", "output", "state")  # contrib's layer-norm scopes, in its order
_EPSILON = 1e-12  # contrib's layers.layer_norm


def _check_shards(owner: str, name: str, value: Any) -> None:
    """contrib's sharding arguments: 1 (its default) or None mean one variable; else ValueError."""
    if value is not None and (isinstance(value, bool) or value != 1):
        raise ValueError(f"{owner}: {name}={value!r} has no meaning in Keras 3; variable sharding is gone, "
                         "use tf.distribute for large models (pass 1 or leave it out)")


@keras.saving.register_keras_serializable(package="tfseq")
class CoupledInputForgetGateLSTMCell(RNNCell):
    """TF1 contrib's ``CoupledInputForgetGateLSTMCell(num_units, use_peepholes=False,
    initializer=None, num_proj=None, proj_clip=None, num_unit_shards=1, num_proj_shards=1,
    forget_bias=1.0, state_is_tuple=True, activation=tanh, reuse=None, layer_norm=False,
    norm_gain=1.0, norm_shift=0.0)`` (math in the module docstring).

    Args:
        num_units: int > 0, the size of ``c``.
        use_peepholes: bool, the diagonal connections ``W_F_diag`` and ``W_O_diag``.
        initializer: of ``W_0``, the peepholes and ``W_P_0`` (default: the TF1 variable scope's,
            else Glorot uniform).
        num_proj: None or int > 0, the size of the projected output ``m``.
        proj_clip: None or float >= 0, clip of the projected ``m`` (needs ``num_proj``).
        num_unit_shards, num_proj_shards: TF1's variable sharding; accepted as 1 (or None).
        forget_bias: number added to the forget gate at every step.
        state_is_tuple: True: ``LSTMStateTuple(c, m)``; False: ``concat([c, m], 1)``.
        activation: callable or name; default ``tanh``.
        reuse: TF1 only; accepted as None.
        layer_norm: bool, layer normalization of ``j``, ``f``, ``o`` and ``c'`` (then ``B`` is
            created, as in contrib, but unused).
        norm_gain, norm_shift: initial values of every ``gamma`` and ``beta``.

    Weights (scope ``coupled_input_forget_gate_lstm_cell``; contrib's sharded names with one
    shard): ``W_0`` ``[depth + (num_proj or num_units), 3 * num_units]``, ``B``
    ``[3 * num_units]`` (zeros), ``W_F_diag``, ``W_O_diag`` ``[num_units]`` (peepholes),
    ``W_P_0`` ``[num_units, num_proj]`` (projection),
    ``{transform,forget,output,state}/{gamma,beta}`` ``[num_units]`` (layer norm). It runs per step.

    Raises:
        ValueError: a bad ``num_units``, ``num_proj``, ``proj_clip`` (or one without
            ``num_proj``), ``forget_bias``, a flag that is not a bool, ``norm_gain``,
            ``norm_shift``, sharding other than 1, or ``reuse``.
    """

    tf1_scope_name = "coupled_input_forget_gate_lstm_cell"
    object_args = ("activation", "initializer")

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        initializer: keras.initializers.Initializer | str | None = None,
        num_proj: int | None = None,
        proj_clip: float | None = None,
        num_unit_shards: int | None = 1,
        num_proj_shards: int | None = 1,
        forget_bias: float = 1.0,
        state_is_tuple: bool = True,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        layer_norm: bool = False,
        norm_gain: float = 1.0,
        norm_shift: float = 0.0,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        _check_shards(owner, "num_unit_shards", num_unit_shards)
        _check_shards(owner, "num_proj_shards", num_proj_shards)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.use_peepholes = check_bool(owner, "use_peepholes", use_peepholes)
        self._initializer_arg = initializer
        self.num_proj, self.proj_clip = check_projection(owner, num_proj, proj_clip)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.state_is_tuple = check_bool(owner, "state_is_tuple", state_is_tuple)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation
        self.layer_norm = check_bool(owner, "layer_norm", layer_norm)
        self.norm_gain = check_number(owner, "norm_gain", norm_gain)
        self.norm_shift = check_number(owner, "norm_shift", norm_shift)

    @property
    def state_size(self) -> Any:
        if self.state_is_tuple:
            return LSTMStateTuple(self.num_units, self.output_size)
        return self.num_units + self.output_size

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    def build(self, input_shape: tuple) -> None:
        depth, n = self.input_depth(input_shape), self.num_units
        init = _initializer(self._initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")
        self.kernel = self.add_tf1_weight("W_0", (depth + self.output_size, 3 * n), init)
        self.bias = self.add_tf1_weight("B", (3 * n,), "zeros")
        self.w_f_diag = self.w_o_diag = self.projection_kernel = None
        if self.layer_norm:
            gain = keras.initializers.Constant(self.norm_gain)
            shift = keras.initializers.Constant(self.norm_shift)
            self.norms = {norm: (self.add_tf1_weight(f"{norm}_gamma", (n,), gain),
                                 self.add_tf1_weight(f"{norm}_beta", (n,), shift)) for norm in _NORMS}
        if self.use_peepholes:
            self.w_f_diag = self.add_tf1_weight("W_F_diag", (n,), init)
            self.w_o_diag = self.add_tf1_weight("W_O_diag", (n,), init)
        if self.num_proj is not None:
            self.projection_kernel = self.add_tf1_weight("W_P_0", (n, self.num_proj), init)

    def _norm(self, value: tf.Tensor, norm: str) -> tf.Tensor:
        if not self.layer_norm:
            return value
        gamma, beta = self.norms[norm]
        mean, variance = tf.nn.moments(value, [1], keepdims=True)
        return tf.nn.batch_normalization(value, mean, variance, beta, gamma, _EPSILON)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        state = self.check_state(states)
        if self.state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev, m_prev = state[:, : self.num_units], state[:, self.num_units :]
        z = tf.matmul(tf.concat([self.check_inputs(inputs), m_prev], 1), self.kernel)
        if not self.layer_norm:
            z = tf.nn.bias_add(z, self.bias)
        j, f, o = tf.split(z, 3, axis=1)  # new input, forget gate, output gate
        j, f, o = self._norm(j, "transform"), self._norm(f, "forget"), self._norm(o, "output")
        f = f + self.forget_bias
        if self.use_peepholes:
            f = f + self.w_f_diag * c_prev
        f = tf.sigmoid(f)
        c = f * c_prev + (1 - f) * self.activation(j)
        c = self._norm(c, "state")
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        m = tf.sigmoid(o) * self.activation(c)
        if self.num_proj is not None:
            m = tf.matmul(m, self.projection_kernel)
            if self.proj_clip is not None:
                m = tf.clip_by_value(m, -self.proj_clip, self.proj_clip)
        return m, (LSTMStateTuple(c, m) if self.state_is_tuple else tf.concat([c, m], 1))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "use_peepholes": self.use_peepholes,
            "initializer": serialize_optional(self._initializer_arg),
            "num_proj": self.num_proj,
            "proj_clip": self.proj_clip,
            "forget_bias": self.forget_bias,
            "state_is_tuple": self.state_is_tuple,
            "activation": serialize_optional(self._activation_arg),
            "layer_norm": self.layer_norm,
            "norm_gain": self.norm_gain,
            "norm_shift": self.norm_shift,
        }
