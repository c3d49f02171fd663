"""TF1 contrib's small recurrent cells (``tf.contrib.rnn``): ``SRUCell``, ``IndRNNCell``,
``IndyGRUCell``, ``IndyLSTMCell``, ``UGRNNCell`` and ``IntersectionRNNCell``, with contrib's
arguments, math, state layout and variable names.

Each runs per step (no fused kernel). Notation: ``x`` the step input ``[batch, depth]``,
``h``/``s`` the previous state, ``*`` elementwise, ``@`` a matrix product, ``n = num_units``.

* ``SRUCell`` (Lei et al. 2017; TF 1.15's form, with the highway input projected too)::

      x~, f, r, x' = split(x @ kernel, 4);   f, r = sigmoid([f, r] + bias)
      c' = f * c + (1 - f) * x~;            h' = r * activation(c') + (1 - r) * x'   (state c', output h')

* ``IndRNNCell`` (Li et al. 2018): ``h' = activation(x @ kernel_w + h * kernel_u + bias)``.
* ``IndyGRUCell``: a GRU whose recurrent matrices are diagonal (vectors ``*_u``)::

      r, u = split(sigmoid(x @ gates/kernel_w + [h, h] * gates/kernel_u + gates/bias), 2)
      h' = u * h + (1 - u) * activation(x @ candidate/kernel + (r * h) * candidate/kernel_u + candidate/bias)

* ``IndyLSTMCell``: an LSTM with diagonal recurrent weights, state ``LSTMStateTuple(c, h)``::

      i, j, f, o = split(x @ kernel_w + [h, h, h, h] * kernel_u + bias, 4)
      c' = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j);   h' = activation(c') * sigmoid(o)

* ``UGRNNCell`` (Collins et al. 2017)::

      g, c = split([x, s] @ kernel + bias, 2);   g = sigmoid(g + forget_bias)
      s' = g * s + (1 - g) * activation(c)                                        (output s')

* ``IntersectionRNNCell`` (Collins et al. 2017; ``x`` first projected to ``n`` by
  ``in_projection/{kernel,bias}`` when ``depth != n``, which needs ``num_in_proj``)::

      gh, hc, gy, yc = split([x, s] @ kernel + bias, 4)
      gh, gy = sigmoid(gh + forget_bias), sigmoid(gy + forget_bias)
      s' = gh * s + (1 - gh) * tanh(hc);   y' = gy * x + (1 - gy) * y_activation(yc)   (output y', state s')

Initializers are contrib's: weights without one of their own take the TF1 variable scope's
initializer (or the cell's ``initializer``/``kernel_initializer``), else Glorot uniform; the
diagonal ``*_u`` weights are uniform in [-1, 1]; biases are zeros but ``IndyGRUCell``'s
``gates/bias`` (ones).
"""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_positive_int, serialize_optional
from tfseq.rnn_cell.base import LSTMStateTuple, LSTMTupleCell, RNNCell, get_activation, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.cells import _initializer


def add_scoped_weight(cell: RNNCell, tf1_name: str, shape: tuple, initializer: Any) -> keras.Variable:
    """A weight whose TF1 name has a sub-scope (``gates/kernel_w``): Keras forbids ``/`` in weight
    names, so the Keras name spells it ``gates_kernel_w`` and :meth:`RNNCell.tf1_variables` keeps
    the TF1 name."""
    keras_name = tf1_name.replace("/", "_")
    weight = cell.add_tf1_weight(keras_name, shape, initializer)
    if keras_name in cell._tf1_weights:
        del cell._tf1_weights[keras_name]
    cell._tf1_weights[tf1_name] = weight
    return weight


def _diagonal_initializer() -> keras.initializers.Initializer:
    """contrib's ``random_uniform_initializer(-1, 1)`` of the diagonal recurrent weights."""
    return keras.initializers.RandomUniform(-1.0, 1.0)


class _SimpleContribCell(RNNCell):
    """A contrib cell with one ``[batch, num_units]`` state that is also its output (but
    ``IntersectionRNNCell``'s output), and an ``activation`` argument (default tanh)."""

    object_args = ("activation",)

    def __init__(self, num_units: int, activation: Callable | str | None = None, reuse: bool | None = None,
                 **kwargs: Any) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation

    @property
    def state_size(self) -> int:
        return self.num_units

    @property
    def output_size(self) -> int:
        return self.num_units

    def get_config(self) -> dict:
        return {**super().get_config(), "num_units": self.num_units,
                "activation": serialize_optional(self._activation_arg)}


@keras.saving.register_keras_serializable(package="tfseq")
class SRUCell(_SimpleContribCell):
    """TF1 contrib's ``SRUCell(num_units, activation=None, reuse=None, name=None)``: the Simple
    Recurrent Unit (math in the module docstring), as TF 1.15 defines it: the highway term is a
    projection of the input, so any input depth works (the first contrib version added ``x``
    itself and needed depth == ``num_units``; its ``[depth, 3 * num_units]`` kernel does not load).

    Args:
        num_units: int > 0, the size of the state ``c`` and of the output ``h``.
        activation: callable or name; default ``tanh``.
        reuse: TF1 only; accepted as None.

    State ``c`` (one tensor); output ``h``. Weights (scope ``sru_cell``): ``kernel``
    ``[depth, 4 * num_units]`` (Glorot uniform or the scope's initializer), ``bias``
    ``[2 * num_units]`` (zeros).

    Raises:
        ValueError: a bad ``num_units`` or ``reuse``.
    """

    tf1_scope_name = "sru_cell"

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        self.kernel = self.add_tf1_weight("kernel", (depth, 4 * self.num_units), None)
        self.bias = self.add_tf1_weight("bias", (2 * self.num_units,), "zeros")

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev = tf.nest.flatten(self.check_state(states))[0]
        x = self.check_inputs(inputs)
        x_bar, f, r, x_highway = tf.split(tf.matmul(x, self.kernel), 4, axis=1)
        f, r = tf.split(tf.sigmoid(tf.nn.bias_add(tf.concat([f, r], 1), self.bias)), 2, axis=1)
        c = f * c_prev + (1.0 - f) * x_bar
        h = r * self.activation(c) + (1.0 - r) * x_highway
        return h, c


@keras.saving.register_keras_serializable(package="tfseq")
class IndRNNCell(_SimpleContribCell):
    """TF1 contrib's ``IndRNNCell(num_units, activation=None, reuse=None, name=None, dtype=None)``:
    the independently recurrent cell ``h' = activation(x @ kernel_w + h * kernel_u + bias)``.

    Args:
        num_units: int > 0.
        activation: callable or name; default ``tanh`` (the IndRNN paper uses ``relu``).
        reuse: TF1 only; accepted as None.

    State and output ``h``. Weights (scope ``ind_rnn_cell``): ``kernel_w`` ``[depth, num_units]``
    (Glorot uniform or the scope's initializer), ``kernel_u`` ``[1, num_units]`` (uniform in
    [-1, 1]), ``bias`` ``[num_units]`` (zeros).

    Raises:
        ValueError: a bad ``num_units``, ``activation`` name or ``reuse``.
    """

    tf1_scope_name = "ind_rnn_cell"

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        self.kernel_w = self.add_tf1_weight("kernel_w", (depth, self.num_units), None)
        self.kernel_u = self.add_tf1_weight("kernel_u", (1, self.num_units), _diagonal_initializer())
        self.bias = self.add_tf1_weight("bias", (self.num_units,), "zeros")

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        h_prev = tf.nest.flatten(self.check_state(states))[0]
        z = tf.matmul(self.check_inputs(inputs), self.kernel_w) + h_prev * self.kernel_u
        h = self.activation(tf.nn.bias_add(z, self.bias))
        return h, h


class _IndyCell:
    """The ``kernel_initializer``/``bias_initializer`` arguments of the Indy cells."""

    def _keep_initializers(self, kernel_initializer: Any, bias_initializer: Any) -> None:
        self._kernel_initializer_arg = kernel_initializer
        self._bias_initializer_arg = bias_initializer

    def _kernel_init(self) -> Any:
        return _initializer(self._kernel_initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")

    def _bias_init(self, default: Any) -> Any:
        return _initializer(self._bias_initializer_arg, default)

    def _initializer_config(self) -> dict:
        return {"kernel_initializer": serialize_optional(self._kernel_initializer_arg),
                "bias_initializer": serialize_optional(self._bias_initializer_arg)}


@keras.saving.register_keras_serializable(package="tfseq")
class IndyGRUCell(_IndyCell, _SimpleContribCell):
    """TF1 contrib's ``IndyGRUCell(num_units, activation=None, reuse=None, kernel_initializer=None,
    bias_initializer=None, name=None, dtype=None)``: a GRU whose recurrent matrices are diagonal
    (math in the module docstring).

    Args:
        num_units: int > 0.
        activation: callable or name; default ``tanh``.
        reuse: TF1 only; accepted as None.
        kernel_initializer: of ``gates/kernel_w`` and ``candidate/kernel`` (default: the scope's,
            else Glorot uniform).
        bias_initializer: of both biases (default: ones for ``gates/bias``, zeros for
            ``candidate/bias``).

    State and output ``h``. Weights (scope ``indy_gru_cell``): ``gates/kernel_w``
    ``[depth, 2 * num_units]``, ``gates/kernel_u`` ``[1, 2 * num_units]`` (uniform in [-1, 1]),
    ``gates/bias`` ``[2 * num_units]``, ``candidate/kernel`` ``[depth, num_units]``,
    ``candidate/kernel_u`` ``[1, num_units]`` (uniform in [-1, 1]), ``candidate/bias`` ``[num_units]``.

    Raises:
        ValueError: a bad ``num_units``, ``activation`` name or ``reuse``.
    """

    tf1_scope_name = "indy_gru_cell"
    object_args = ("activation", "kernel_initializer", "bias_initializer")

    def __init__(self, num_units: int, activation: Callable | str | None = None, reuse: bool | None = None,
                 kernel_initializer: keras.initializers.Initializer | str | None = None,
                 bias_initializer: keras.initializers.Initializer | str | None = None, **kwargs: Any) -> None:
        super().__init__(num_units, activation, reuse, **kwargs)
        self._keep_initializers(kernel_initializer, bias_initializer)

    def build(self, input_shape: tuple) -> None:
        depth, n = self.input_depth(input_shape), self.num_units
        kernel_init = self._kernel_init()
        self.gates_kernel_w = add_scoped_weight(self, "gates/kernel_w", (depth, 2 * n), kernel_init)
        self.gates_kernel_u = add_scoped_weight(self, "gates/kernel_u", (1, 2 * n), _diagonal_initializer())
        self.gates_bias = add_scoped_weight(self, "gates/bias", (2 * n,), self._bias_init("ones"))
        self.candidate_kernel = add_scoped_weight(self, "candidate/kernel", (depth, n), kernel_init)
        self.candidate_kernel_u = add_scoped_weight(self, "candidate/kernel_u", (1, n), _diagonal_initializer())
        self.candidate_bias = add_scoped_weight(self, "candidate/bias", (n,), self._bias_init("zeros"))

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        h_prev = tf.nest.flatten(self.check_state(states))[0]
        x = self.check_inputs(inputs)
        gates = tf.matmul(x, self.gates_kernel_w) + tf.tile(h_prev, [1, 2]) * self.gates_kernel_u
        r, u = tf.split(tf.sigmoid(tf.nn.bias_add(gates, self.gates_bias)), 2, axis=1)
        candidate = tf.matmul(x, self.candidate_kernel) + (r * h_prev) * self.candidate_kernel_u
        c = self.activation(tf.nn.bias_add(candidate, self.candidate_bias))
        h = u * h_prev + (1 - u) * c
        return h, h

    def get_config(self) -> dict:
        return {**super().get_config(), **self._initializer_config()}


@keras.saving.register_keras_serializable(package="tfseq")
class IndyLSTMCell(_IndyCell, LSTMTupleCell):
    """TF1 contrib's ``IndyLSTMCell(num_units, forget_bias=1.0, activation=None, reuse=None,
    kernel_initializer=None, bias_initializer=None, name=None, dtype=None)``: an LSTM whose
    recurrent matrices are diagonal (math in the module docstring).

    Args:
        num_units: int > 0.
        forget_bias: number added to the forget gate at every step.
        activation: callable or name; default ``tanh``.
        reuse: TF1 only; accepted as None.
        kernel_initializer: of ``kernel_w`` (default: the scope's, else Glorot uniform).
        bias_initializer: of ``bias`` (default zeros).

    State ``LSTMStateTuple(c, h)``; output ``h``. Weights (scope ``indy_lstm_cell``):
    ``kernel_w`` ``[depth, 4 * num_units]``, ``kernel_u`` ``[1, 4 * num_units]`` (uniform in
    [-1, 1]), ``bias`` ``[4 * num_units]``; gate order ``i, j, f, o``.

    Raises:
        ValueError: a bad ``num_units``, ``forget_bias``, ``activation`` name or ``reuse``.
    """

    tf1_scope_name = "indy_lstm_cell"
    object_args = ("activation", "kernel_initializer", "bias_initializer")

    def __init__(self, num_units: int, forget_bias: float = 1.0, activation: Callable | str | None = None,
                 reuse: bool | None = None, kernel_initializer: keras.initializers.Initializer | str | None = None,
                 bias_initializer: keras.initializers.Initializer | str | None = None, **kwargs: Any) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation
        self._keep_initializers(kernel_initializer, bias_initializer)

    def build(self, input_shape: tuple) -> None:
        depth, n = self.input_depth(input_shape), self.num_units
        self.kernel_w = self.add_tf1_weight("kernel_w", (depth, 4 * n), self._kernel_init())
        self.kernel_u = self.add_tf1_weight("kernel_u", (1, 4 * n), _diagonal_initializer())
        self.bias = self.add_tf1_weight("bias", (4 * n,), self._bias_init("zeros"))

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, h_prev = self.check_state(states)
        z = tf.matmul(self.check_inputs(inputs), self.kernel_w) + tf.tile(h_prev, [1, 4]) * self.kernel_u
        i, j, f, o = tf.split(tf.nn.bias_add(z, self.bias), 4, axis=1)
        c = c_prev * tf.sigmoid(f + self.forget_bias) + tf.sigmoid(i) * self.activation(j)
        h = self.activation(c) * tf.sigmoid(o)
        return h, LSTMStateTuple(c, h)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_units": self.num_units, "forget_bias": self.forget_bias,
                "activation": serialize_optional(self._activation_arg), **self._initializer_config()}


@keras.saving.register_keras_serializable(package="tfseq")
class UGRNNCell(_SimpleContribCell):
    """TF1 contrib's ``UGRNNCell(num_units, initializer=None, forget_bias=1.0, activation=tanh,
    reuse=None)``: the update-gate RNN (math in the module docstring).

    Args:
        num_units: int > 0.
        initializer: of ``kernel`` (default: the scope's, else Glorot uniform).
        forget_bias: number added to the update gate at every step.
        activation: callable or name; default ``tanh``.
        reuse: TF1 only; accepted as None.

    State and output ``s``. Weights (scope ``ugrnn_cell``): ``kernel``
    ``[depth + num_units, 2 * num_units]``, ``bias`` ``[2 * num_units]`` (zeros); gate first.

    Raises:
        ValueError: a bad ``num_units``, ``forget_bias``, ``activation`` name or ``reuse``.
    """

    tf1_scope_name = "ugrnn_cell"
    object_args = ("activation", "initializer")

    def __init__(self, num_units: int, initializer: keras.initializers.Initializer | str | None = None,
                 forget_bias: float = 1.0, activation: Callable | str | None = None, reuse: bool | None = None,
                 **kwargs: Any) -> None:
        super().__init__(num_units, activation, reuse, **kwargs)
        self.forget_bias = check_number(type(self).__name__, "forget_bias", forget_bias)
        self._initializer_arg = initializer

    def build(self, input_shape: tuple) -> None:
        depth, n = self.input_depth(input_shape), self.num_units
        init = _initializer(self._initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")
        self.kernel = self.add_tf1_weight("kernel", (depth + n, 2 * n), init)
        self.bias = self.add_tf1_weight("bias", (2 * n,), "zeros")

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        s_prev = tf.nest.flatten(self.check_state(states))[0]
        z = tf.matmul(tf.concat([self.check_inputs(inputs), s_prev], 1), self.kernel) + self.bias
        g, c = tf.split(z, 2, axis=1)
        g = tf.sigmoid(g + self.forget_bias)
        s = g * s_prev + (1.0 - g) * self.activation(c)
        return s, s

    def get_config(self) -> dict:
        return {**super().get_config(), "initializer": serialize_optional(self._initializer_arg),
                "forget_bias": self.forget_bias}


@keras.saving.register_keras_serializable(package="tfseq")
class IntersectionRNNCell(RNNCell):
    """TF1 contrib's ``IntersectionRNNCell(num_units, num_in_proj=None, initializer=None,
    forget_bias=1.0, y_activation=tf.nn.relu, reuse=None)``: the +RNN, gated through time and
    through depth (math in the module docstring).

    Args:
        num_units: int > 0.
        num_in_proj: None or int > 0. Inputs whose depth is not ``num_units`` need it: they are
            projected to ``num_units`` (as in contrib, the projection's width is ``num_units``
            whatever this number is; set it to ``num_units`` for the first layer of a stack).
        initializer: of the kernels (default: the scope's, else Glorot uniform).
        forget_bias: number added to both gates at every step.
        y_activation: callable or name of the depth path; default ``relu``.
        reuse: TF1 only; accepted as None.

    State ``s`` (``[batch, num_units]``); output ``y'`` (``[batch, num_units]``). Weights (scope
    ``intersection_rnn_cell``): ``kernel`` ``[2 * num_units, 4 * num_units]``, ``bias``
    ``[4 * num_units]`` (zeros); with a projection ``in_projection/kernel``
    ``[depth, num_units]`` and ``in_projection/bias`` ``[num_units]`` (zeros).

    Raises:
        ValueError: a bad ``num_units``, ``num_in_proj``, ``forget_bias``, ``y_activation`` name
            or ``reuse``; at build, input depth != ``num_units`` without ``num_in_proj``.
    """

    tf1_scope_name = "intersection_rnn_cell"
    object_args = ("initializer", "y_activation")

    def __init__(self, num_units: int, num_in_proj: int | None = None,
                 initializer: keras.initializers.Initializer | str | None = None, forget_bias: float = 1.0,
                 y_activation: Callable | str | None = None, reuse: bool | None = None, **kwargs: Any) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.num_in_proj = None if num_in_proj is None else check_positive_int(owner, "num_in_proj", num_in_proj)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.y_activation = tf.nn.relu if y_activation is None else get_activation(owner, y_activation)
        self._y_activation_arg = y_activation
        self._initializer_arg = initializer

    @property
    def state_size(self) -> int:
        return self.num_units

    @property
    def output_size(self) -> int:
        return self.num_units

    def build(self, input_shape: tuple) -> None:
        depth, n = self.input_depth(input_shape), self.num_units
        init = _initializer(self._initializer_arg, self.tf1_scope_initializer() or "glorot_uniform")
        self.in_projection_kernel = self.in_projection_bias = None
        if depth != n:
            if not self.num_in_proj:
                raise ValueError(f"{self.name}: IntersectionRNNCell needs input depth == num_units (got {depth} "
                                 f"and {n}) or num_in_proj set (to num_units) to project the inputs")
            self.in_projection_kernel = add_scoped_weight(self, "in_projection/kernel", (depth, n), init)
            self.in_projection_bias = add_scoped_weight(self, "in_projection/bias", (n,), "zeros")
        self.kernel = self.add_tf1_weight("kernel", (2 * n, 4 * n), init)
        self.bias = self.add_tf1_weight("bias", (4 * n,), "zeros")

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        s_prev = tf.nest.flatten(self.check_state(states))[0]
        x = self.check_inputs(inputs)
        if self.in_projection_kernel is not None:
            x = tf.matmul(x, self.in_projection_kernel) + self.in_projection_bias
        z = tf.matmul(tf.concat([x, s_prev], 1), self.kernel) + self.bias
        gh, hc, gy, yc = tf.split(z, 4, axis=1)
        gh, gy = tf.sigmoid(gh + self.forget_bias), tf.sigmoid(gy + self.forget_bias)
        s = gh * s_prev + (1.0 - gh) * tf.tanh(hc)
        y = gy * x + (1.0 - gy) * self.y_activation(yc)
        return y, s

    def get_config(self) -> dict:
        return {**super().get_config(), "num_units": self.num_units, "num_in_proj": self.num_in_proj,
                "initializer": serialize_optional(self._initializer_arg), "forget_bias": self.forget_bias,
                "y_activation": serialize_optional(self._y_activation_arg)}
