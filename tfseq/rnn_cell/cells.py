"""TF1's four cells, with TF1's math, arguments, defaults and variable names.

Each class has the same skeleton: ``__init__`` (validate + store), ``state_size`` /
``output_size``, ``build`` (all weights, TF1 names), ``call`` (math only),
``get_config`` (mirror of ``__init__``). The contract is in :mod:`tfseq.rnn_cell.base`.
"""

import numbers
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_optional_nonnegative, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell, get_activation, reject_tf1_only_args
from tfseq.rnn_cell.fusion import FusedSpec


def _initializer(init, default):
    """``init`` (a user's argument) as a Keras initializer, else ``default`` (TF1's ``get_variable``
    default is the variable scope's initializer, else ``glorot_uniform``: ``RNNCell.tf1_scope_initializer``)."""
    return keras.initializers.get(default if init is None else init)


def check_projection(owner: str, num_proj: Any, proj_clip: Any) -> tuple[int | None, float | None]:
    """An LSTM's ``(num_proj, proj_clip)``: a positive int or None, and a clip >= 0 or None that
    needs ``num_proj`` (TF1 ignored a clip without a projection; here it is an error)."""
    num_proj = None if num_proj is None else check_positive_int(owner, "num_proj", num_proj)
    clip = check_optional_nonnegative(owner, "proj_clip", proj_clip)
    if clip is not None and num_proj is None:
        raise ValueError(f"{owner}: proj_clip={proj_clip!r} needs num_proj (got num_proj=None)")
    return num_proj, clip


class _UnitsCell(RNNCell):
    """What the TF1 cells share: ``num_units``, ``activation`` (TF1 default ``tanh``), TF1-only
    arguments accepted at their default (``tf1_only``), and one ``[batch, num_units]`` state
    and output unless a subclass says otherwise."""

    def __init__(self, num_units, activation=None, tf1_only=None, **kwargs):
        owner = type(self).__name__
        reject_tf1_only_args(owner, **(tf1_only or {}))
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation

    @property
    def state_size(self):
        return self.num_units

    @property
    def output_size(self):
        return self.num_units

    def get_config(self):
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "activation": serialize_optional(self._activation_arg),
        }


@keras.saving.register_keras_serializable(package="tfseq")
class BasicRNNCell(_UnitsCell):
    """The Elman cell: ``h' = activation([x, h] @ kernel + bias)``; output is ``h'``.

    Args:
        num_units: int > 0, the state and output size.
        activation: callable or Keras activation name; default ``tanh``.
        reuse: TF1 only; accepted as None (see :mod:`tfseq.rnn_cell.base`).

    Weights (TF1 names): ``basic_rnn_cell/kernel`` ``[depth + num_units, num_units]``
    (Glorot uniform), ``basic_rnn_cell/bias`` ``[num_units]`` (zeros).
    """

    tf1_scope_name = "basic_rnn_cell"
    object_args = ("activation",)

    def __init__(
        self,
        num_units: int,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_units, activation, tf1_only={"reuse": reuse}, **kwargs)

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        self.kernel = self.add_tf1_weight("kernel", (depth + self.num_units, self.num_units), None)
        self.bias = self.add_tf1_weight("bias", (self.num_units,), "zeros")

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        h_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        h = self.activation(tf.matmul(tf.concat([x, h_prev], 1), self.kernel) + self.bias)
        return h, h

    def fused_spec(self) -> FusedSpec | None:
        """This step's math for the fused path (:class:`tfseq.rnn_cell.fusion.FusedSpec`)."""
        return FusedSpec("rnn", self.num_units, dict(self._tf1_weights), self.activation)



@keras.saving.register_keras_serializable(package="tfseq")
class LSTMCell(_UnitsCell):
    """TF1's ``LSTMCell``: optional peepholes, cell clipping and a projection.

    With gates split from one fused matmul ``z = [x, h] @ kernel + bias``::

        i, j, f, o = split(z, 4)          # input gate, new input, forget gate, output gate
        f += forget_bias                  # added at every step, never stored
        if use_peepholes: f += w_f_diag * c;  i += w_i_diag * c
        c' = sigmoid(f) * c + sigmoid(i) * activation(j)
        c' = clip(c', -cell_clip, cell_clip)                 # if cell_clip
        if use_peepholes: o += w_o_diag * c'                 # looks at the new c
        h' = sigmoid(o) * activation(c')
        h' = clip(h' @ projection_kernel, -proj_clip, proj_clip)   # if num_proj

    State is ``LSTMStateTuple(c, h)`` (``state_is_tuple=True``) or the concatenation
    ``[c, h]`` (``False``); the output is ``h'`` (``num_proj`` wide when projecting).

    Args:
        num_units: int > 0, the size of ``c``.
        use_peepholes: bool, diagonal peephole connections.
        cell_clip: None or float >= 0, clip of the stored ``c`` (as in TF1, any value but
            None clips: 0.0 clips ``c`` to zero).
        initializer: initializer of kernel, peepholes and projection (default Glorot uniform).
        num_proj: None or int > 0, projection size of ``h``.
        proj_clip: None or float >= 0, clip of the projected ``h`` (needs ``num_proj``).
        forget_bias: float added to the forget gate pre-activation.
        state_is_tuple: bool, TF1's state layout switch.
        activation: callable or name; default ``tanh``.
        num_unit_shards, num_proj_shards, reuse: TF1 only; accepted as None.

    Weights: ``kernel`` ``[depth + (num_proj or num_units), 4 * num_units]``, ``bias``
    ``[4 * num_units]`` (zeros), ``w_f_diag``/``w_i_diag``/``w_o_diag`` ``[num_units]``,
    ``projection/kernel`` ``[num_units, num_proj]``.
    """

    tf1_scope_name = "lstm_cell"
    object_args = ("activation", "initializer")

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        cell_clip: float | None = None,
        initializer: keras.initializers.Initializer | str | None = None,
        num_proj: int | None = None,
        proj_clip: float | None = None,
        num_unit_shards: int | None = None,
        num_proj_shards: int | None = None,
        forget_bias: float = 1.0,
        state_is_tuple: bool = True,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        tf1_only = {"reuse": reuse, "num_unit_shards": num_unit_shards, "num_proj_shards": num_proj_shards}
        super().__init__(num_units, activation, tf1_only=tf1_only, **kwargs)
        owner = type(self).__name__
        self.use_peepholes = bool(use_peepholes)
        self.cell_clip = check_optional_nonnegative(owner, "cell_clip", cell_clip)  # TF1: 0.0 clips to 0
        self.num_proj, self.proj_clip = check_projection(owner, num_proj, proj_clip)
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real):
            raise ValueError(f"{owner}: forget_bias must be a number, got {forget_bias!r}")
        self.forget_bias = float(forget_bias)
        self.state_is_tuple = bool(state_is_tuple)
        self._initializer_arg = initializer

    @property
    def state_size(self) -> Any:
        h_size = self.num_proj or self.num_units
        if self.state_is_tuple:
            return LSTMStateTuple(self.num_units, h_size)
        return self.num_units + h_size

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        init = _initializer(self._initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")  # TF1's default
        h_size = self.num_proj or self.num_units
        self.kernel = self.add_tf1_weight("kernel", (depth + h_size, 4 * self.num_units), init)
        self.bias = self.add_tf1_weight("bias", (4 * self.num_units,), "zeros")
        if self.use_peepholes:
            self.w_f_diag = self.add_tf1_weight("w_f_diag", (self.num_units,), init)
            self.w_i_diag = self.add_tf1_weight("w_i_diag", (self.num_units,), init)
            self.w_o_diag = self.add_tf1_weight("w_o_diag", (self.num_units,), init)
        if self.num_proj is not None:
            self.projection_kernel = self.add_tf1_weight(
                "projection_kernel", (self.num_units, self.num_proj), init
            )

    def split_state(self, states: Any) -> Any:
        """``(c, h)`` from either state layout."""
        state = self.check_state(states)
        if self.state_is_tuple:
            return state
        return state[:, : self.num_units], state[:, self.num_units :]

    def join_state(self, c: tf.Tensor, h: tf.Tensor) -> Any:
        return LSTMStateTuple(c, h) if self.state_is_tuple else tf.concat([c, h], 1)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, h_prev = self.split_state(states)
        x = self.check_inputs(inputs)
        z = tf.matmul(tf.concat([x, h_prev], 1), self.kernel) + self.bias
        i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
        f = f + self.forget_bias
        if self.use_peepholes:
            f = f + self.w_f_diag * c_prev
            i = i + self.w_i_diag * c_prev
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * self.activation(j)
        if self.cell_clip is not None:
            c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.w_o_diag * c
        h = tf.sigmoid(o) * self.activation(c)
        if self.num_proj is not None:
            h = tf.matmul(h, self.projection_kernel)
            if self.proj_clip is not None:
                h = tf.clip_by_value(h, -self.proj_clip, self.proj_clip)
        return h, self.join_state(c, h)

    def fused_spec(self) -> FusedSpec | None:
        """This step's math for the fused path (:class:`tfseq.rnn_cell.fusion.FusedSpec`)."""
        return FusedSpec(
            "lstm", self.num_units, dict(self._tf1_weights), self.activation, forget_bias=self.forget_bias,
            use_peepholes=self.use_peepholes, cell_clip=self.cell_clip, num_proj=self.num_proj,
            proj_clip=self.proj_clip, state_is_tuple=self.state_is_tuple,
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "use_peepholes": self.use_peepholes,
            "cell_clip": self.cell_clip,
            "initializer": serialize_optional(self._initializer_arg),
            "num_proj": self.num_proj,
            "proj_clip": self.proj_clip,
            "forget_bias": self.forget_bias,
            "state_is_tuple": self.state_is_tuple,
        }



@keras.saving.register_keras_serializable(package="tfseq")
class BasicLSTMCell(LSTMCell):
    """TF1's ``BasicLSTMCell``: :class:`LSTMCell` without peepholes, clipping or projection.

    Same math (``c' = sigmoid(f + forget_bias) * c + sigmoid(i) * activation(j)``,
    ``h' = sigmoid(o) * activation(c')``), gate order ``i, j, f, o``, TF1 scope
    ``basic_lstm_cell`` with ``kernel`` ``[depth + num_units, 4 * num_units]`` and
    ``bias`` ``[4 * num_units]``.

    Args:
        num_units, forget_bias, state_is_tuple, activation, reuse: as in :class:`LSTMCell`.
    """

    tf1_scope_name = "basic_lstm_cell"

    def __init__(
        self,
        num_units: int,
        forget_bias: float = 1.0,
        state_is_tuple: bool = True,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            num_units,
            forget_bias=forget_bias,
            state_is_tuple=state_is_tuple,
            activation=activation,
            reuse=reuse,
            **kwargs,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        for key in ("use_peepholes", "cell_clip", "initializer", "num_proj", "proj_clip"):
            del config[key]
        return config


@keras.saving.register_keras_serializable(package="tfseq")
class GRUCell(_UnitsCell):
    """TF1's ``GRUCell`` (Cho et al. 2014), reset applied before the candidate matmul::

        r, u = split(sigmoid([x, h] @ gates_kernel + gates_bias), 2)   # reset, update
        c    = activation([x, r * h] @ candidate_kernel + candidate_bias)
        h'   = u * h + (1 - u) * c

    Args:
        num_units: int > 0.
        activation: callable or name; default ``tanh``.
        kernel_initializer: default Glorot uniform.
        bias_initializer: default 1.0 for the gates and 0.0 for the candidate (TF1).
        reuse: TF1 only; accepted as None.

    Weights (TF1 names): ``gates/kernel`` ``[depth + num_units, 2 * num_units]``,
    ``gates/bias``, ``candidate/kernel`` ``[depth + num_units, num_units]``,
    ``candidate/bias`` (Keras names ``gates_kernel`` etc.).
    """

    tf1_scope_name = "gru_cell"
    object_args = ("activation", "kernel_initializer", "bias_initializer")

    def __init__(
        self,
        num_units: int,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        kernel_initializer: keras.initializers.Initializer | str | None = None,
        bias_initializer: keras.initializers.Initializer | str | None = None,
        **kwargs: Any,
    ):
        super().__init__(num_units, activation, tf1_only={"reuse": reuse}, **kwargs)
        self._kernel_initializer_arg = kernel_initializer
        self._bias_initializer_arg = bias_initializer

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        n = self.num_units
        kernel_init = _initializer(self._kernel_initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")
        gate_bias_init = _initializer(self._bias_initializer_arg, keras.initializers.Constant(1.0))
        candidate_bias_init = _initializer(self._bias_initializer_arg, "zeros")
        self.gates_kernel = self.add_tf1_weight("gates_kernel", (depth + n, 2 * n), kernel_init)
        self.gates_bias = self.add_tf1_weight("gates_bias", (2 * n,), gate_bias_init)
        self.candidate_kernel = self.add_tf1_weight("candidate_kernel", (depth + n, n), kernel_init)
        self.candidate_bias = self.add_tf1_weight("candidate_bias", (n,), candidate_bias_init)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        h_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        gates = tf.sigmoid(tf.matmul(tf.concat([x, h_prev], 1), self.gates_kernel) + self.gates_bias)
        r, u = tf.split(gates, 2, axis=1)  # reset gate, update gate
        candidate = tf.matmul(tf.concat([x, r * h_prev], 1), self.candidate_kernel)
        c = self.activation(candidate + self.candidate_bias)
        h = u * h_prev + (1 - u) * c
        return h, h

    def fused_spec(self) -> FusedSpec | None:
        """This step's math for the fused path (:class:`tfseq.rnn_cell.fusion.FusedSpec`)."""
        return FusedSpec("gru", self.num_units, dict(self._tf1_weights), self.activation)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "kernel_initializer": serialize_optional(self._kernel_initializer_arg),
            "bias_initializer": serialize_optional(self._bias_initializer_arg),
        }

