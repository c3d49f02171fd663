"""TF1 contrib's ``PhasedLSTMCell`` (``tf.contrib.rnn``; Neil et al. 2016, "Phased LSTM"), with
contrib's arguments, math, state layout and variable names.

An LSTM whose units update only while their time gate is open: each unit has a ``period``, a
``phase`` and an open ratio ``ratio_on``, and a step reads the time ``t`` ``[batch, 1]`` next to
the features ``x`` ``[batch, depth]``. ``@`` is a matrix product, ``*`` elementwise, ``[a, b]``
a concatenation on the last axis::

    i, f = split(sigmoid([x, h (, c)] @ mask_gates/kernel + mask_gates/bias), 2)    (c with use_peepholes)
    c~ = f * c + i * tanh([x, h] @ new_input/kernel + new_input/bias)
    h~ = tanh(c~) * sigmoid([x, h (, c~)] @ output_gate/kernel + output_gate/bias)
    r = mod(t - phase, period) / period                       (the cycle ratio; mod's result has period's sign)
    k = 2 r / ratio_on          if r < ratio_on / 2           (opening)
        2 - 2 r / ratio_on      if r < ratio_on               (closing)
        leak * r                otherwise                     (closed: a small leak)
    c' = k * c~ + (1 - k) * c;   h' = k * h~ + (1 - k) * h    (output h', state LSTMStateTuple(c', h'))

As in contrib, ``r`` is computed in the dtype of ``t`` (float64 times keep large timestamps exact)
and its gradient passes through ``mod`` as through ``t - phase`` (no jump at each new period).
The peepholes are full rows of the kernels, not contrib ``LSTMCell``'s diagonal weights.

Run sequences with ``tfseq.nn.dynamic_rnn(cell, (times, features))``: ``times``
``[batch, time, 1]`` and ``features`` ``[batch, time, depth]`` (Keras 3's ``keras.layers.RNN``
takes one input tensor).
"""

import math
import numbers
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn_cell.base import LSTMStateTuple, LSTMTupleCell, reject_tf1_only_args
from tfseq.rnn_cell.contrib_cells import add_scoped_weight


def _check_real(owner: str, name: str, value: Any, low: float, high: float | None, low_open: bool) -> float:
    """A real number in ``(low, high]`` (``low_open``) or ``[low, high]``; ``high=None``: no bound."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and (value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"{'(' if low_open else '['}{low}, {'inf)' if high is None else f'{high}]'}"
        raise ValueError(f"{owner}: {name} must be a number in {bounds}, got {value!r}")
    return float(value)


def _log_uniform(low: float, high: float) -> Any:
    """``exp(U(log(low), log(high)))``: contrib's initializer of the periods."""
    uniform = keras.initializers.RandomUniform(math.log(low), math.log(high))
    return lambda shape, dtype=None: keras.ops.exp(uniform(shape, dtype))


@keras.saving.register_keras_serializable(package="tfseq")
class PhasedLSTMCell(LSTMTupleCell):
    """TF1 contrib's ``PhasedLSTMCell(num_units, use_peepholes=False, leak=0.001, ratio_on=0.1,
    trainable_ratio_on=True, period_init_min=1.0, period_init_max=1000.0, reuse=None)`` (math in
    the module docstring).

    Args:
        num_units: int > 0, the size of ``c`` and ``h``.
        use_peepholes: bool, the gates also read the cell state (``c`` the input and forget
            gates, ``c~`` the output gate).
        leak: number in [0, 1], the slope of ``k`` while the gate is closed (at every call,
            training or not, as in contrib).
        ratio_on: number in (0, 1], the initial open ratio of every unit (contrib allowed 0,
            which divides by zero).
        trainable_ratio_on: bool, whether ``ratio_on`` is trained.
        period_init_min, period_init_max: numbers with ``0 < min <= max``: the periods start
            log-uniform in ``[min, max]``.
        reuse: TF1 only; accepted as None.

    Call arguments:
        inputs: ``(t, x)``: ``t`` ``[batch, 1]`` float (any float dtype; never cast to the
            cell's), ``x`` ``[batch, depth]``.
        states: ``LSTMStateTuple(c, h)``, each ``[batch, num_units]``.

    Returns:
        ``(h', LSTMStateTuple(c', h'))``.

    Weights (scope ``phased_lstm_cell``): ``mask_gates/kernel`` ``[depth + num_units (+ num_units),
    2 * num_units]``, ``new_input/kernel`` ``[depth + num_units, num_units]``,
    ``output_gate/kernel`` ``[depth + num_units (+ num_units), num_units]`` (the TF1 variable
    scope's initializer, else Glorot uniform) and their ``bias`` (zeros); ``period``, ``phase``
    (uniform in ``[0, period]``) and ``ratio_on`` ``[num_units]``.

    Raises:
        ValueError: a bad ``num_units``, flag, ``leak``, ``ratio_on``, ``period_init_min``,
            ``period_init_max``, or ``reuse`` other than None; at call, inputs that are not a
            ``(t, x)`` pair or a ``t`` not ``[batch, 1]``.
        TypeError: at call, a ``t`` that is not float.

    Example:
        >>> cell = PhasedLSTMCell(16)
        >>> times, x = tf.cumsum(tf.ones([4, 10, 1]), 1), tf.zeros([4, 10, 3])
        >>> outputs, state = tfseq.nn.dynamic_rnn(cell, (times, x))  # outputs [4, 10, 16]
    """

    tf1_scope_name = "phased_lstm_cell"

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        leak: float = 0.001,
        ratio_on: float = 0.1,
        trainable_ratio_on: bool = True,
        period_init_min: float = 1.0,
        period_init_max: float = 1000.0,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        self.autocast = False  # Keras would cast float64 times to the cell's dtype; weights are cast in call
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.use_peepholes = check_bool(owner, "use_peepholes", use_peepholes)
        self.leak = _check_real(owner, "leak", leak, 0.0, 1.0, low_open=False)
        self.ratio_on = _check_real(owner, "ratio_on", ratio_on, 0.0, 1.0, low_open=True)
        self.trainable_ratio_on = check_bool(owner, "trainable_ratio_on", trainable_ratio_on)
        self.period_init_min = _check_real(owner, "period_init_min", period_init_min, 0.0, None, low_open=True)
        self.period_init_max = _check_real(owner, "period_init_max", period_init_max, self.period_init_min, None,
                                           low_open=False)

    def build(self, input_shape: tuple) -> None:
        shapes = (list, tuple, tf.TensorShape)
        if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
                and all(isinstance(shape, shapes) for shape in input_shape)):
            raise ValueError(f"{self.name}: inputs must be a pair (t [batch, 1], x [batch, depth]), "
                             f"got input shape {input_shape}")
        depth, n = self.input_depth(input_shape[1]), self.num_units
        peep = n if self.use_peepholes else 0
        self.mask_gates_kernel = add_scoped_weight(self, "mask_gates/kernel", (depth + n + peep, 2 * n), None)
        self.mask_gates_bias = add_scoped_weight(self, "mask_gates/bias", (2 * n,), "zeros")
        self.new_input_kernel = add_scoped_weight(self, "new_input/kernel", (depth + n, n), None)
        self.new_input_bias = add_scoped_weight(self, "new_input/bias", (n,), "zeros")
        self.output_gate_kernel = add_scoped_weight(self, "output_gate/kernel", (depth + n + peep, n), None)
        self.output_gate_bias = add_scoped_weight(self, "output_gate/bias", (n,), "zeros")
        self.period = self.add_tf1_weight("period", (n,), _log_uniform(self.period_init_min, self.period_init_max))
        uniform = keras.initializers.RandomUniform(0.0, 1.0)
        self.phase = self.add_tf1_weight("phase", (n,), lambda shape, dtype=None: uniform(shape, dtype) * self.period)
        self.ratio_on_weight = self.add_tf1_weight("ratio_on", (n,), keras.initializers.Constant(self.ratio_on))
        self.ratio_on_weight.trainable = self.trainable_ratio_on

    def _check_input_dtype(self, inputs: Any) -> None:
        """The features ``x`` set (or must have) the weights' dtype; ``t`` keeps its own."""
        if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
            super()._check_input_dtype(inputs[1])

    def _split_inputs(self, inputs: Any) -> tuple[tf.Tensor, tf.Tensor]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"{self.name}: inputs must be a pair (t [batch, 1], x [batch, depth]), got {inputs!r}")
        t, x = (tf.convert_to_tensor(v) for v in inputs)
        if not t.dtype.is_floating:
            raise TypeError(f"{self.name}: the time t must be float (float64 keeps large timestamps exact), "
                            f"got dtype {t.dtype.name}")
        if t.shape.rank is not None and (t.shape.rank != 2 or t.shape[-1] not in (None, 1)):
            raise ValueError(f"{self.name}: the time t must be [batch, 1], got shape {t.shape}")
        return t, self.check_inputs(x)

    def openness(self, t: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
        """The time gate ``k`` ``[batch, num_units]`` at times ``t`` ``[batch, 1]``, in ``dtype``."""
        period, phase = tf.cast(self.period, t.dtype), tf.cast(self.phase, t.dtype)
        shifted = t - phase
        wrapped = shifted + tf.stop_gradient(tf.math.floormod(shifted, period) - shifted)  # gradient of shifted
        ratio = tf.cast(wrapped / period, dtype)  # r in [0, 1)
        ratio_on = tf.cast(self.ratio_on_weight, dtype)
        opening = 2.0 * ratio / ratio_on
        return tf.where(ratio < 0.5 * ratio_on, opening, tf.where(ratio < ratio_on, 2.0 - opening, self.leak * ratio))

    def call(self, inputs: Any, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        t, x = self._split_inputs(inputs)
        dtype = self.compute_dtype  # x's, but under a mixed-precision policy (no autocast here)
        x = tf.cast(x, dtype)
        c_prev, h_prev = (tf.cast(s, dtype) for s in self.check_state(states))

        def weight(variable):
            return tf.cast(variable, dtype)

        x_h = tf.concat([x, h_prev], 1)
        gate_in = tf.concat([x_h, c_prev], 1) if self.use_peepholes else x_h
        gates = tf.sigmoid(tf.matmul(gate_in, weight(self.mask_gates_kernel)) + weight(self.mask_gates_bias))
        i, f = tf.split(gates, 2, axis=1)  # input gate, forget gate
        new_input = tf.tanh(tf.matmul(x_h, weight(self.new_input_kernel)) + weight(self.new_input_bias))
        c = f * c_prev + i * new_input
        out_in = tf.concat([x_h, c], 1) if self.use_peepholes else x_h
        o = tf.sigmoid(tf.matmul(out_in, weight(self.output_gate_kernel)) + weight(self.output_gate_bias))
        h = tf.tanh(c) * o
        k = self.openness(t, dtype)
        c = k * c + (1.0 - k) * c_prev
        h = k * h + (1.0 - k) * h_prev
        return h, LSTMStateTuple(c, h)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "use_peepholes": self.use_peepholes,
            "leak": self.leak,
            "ratio_on": self.ratio_on,
            "trainable_ratio_on": self.trainable_ratio_on,
            "period_init_min": self.period_init_min,
            "period_init_max": self.period_init_max,
        }


__all__ = ["PhasedLSTMCell"]
