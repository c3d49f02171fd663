"""TF1 contrib's ``NASCell`` (``tf.contrib.rnn.NASCell``; TF Addons: ``tfa.rnn.NASCell``): the
recurrent cell found by neural architecture search (Zoph & Le, 2017).

One step, with ``x @ kernel`` and ``m @ recurrent_kernel (+ bias)`` each split in 8 blocks
``x_k`` and ``m_k`` of ``num_units``::

    a0 = sigmoid(x0 + m0)   a1 = relu(x1 + m1)   a2 = sigmoid(x2 + m2)   a3 = relu(x3 * m3)
    a4 = tanh(x4 + m4)      a5 = sigmoid(x5 + m5) a6 = tanh(x6 + m6)     a7 = sigmoid(x7 + m7)
    b0 = tanh(tanh(a0 * a1) + c)   b1 = tanh(a2 + a3)   b2 = tanh(a4 * a5)   b3 = sigmoid(a6 + a7)
    c' = b0 * b1;   m' = tanh(c' * tanh(b2 + b3))   (then m' @ projection_weights with num_proj)

State ``LSTMStateTuple(c, m)``; the output is ``m'``.
"""

from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell, reject_tf1_only_args

_NAS_BASE = 8  # blocks of each matmul


def nas_step(inputs: tf.Tensor, c_prev: tf.Tensor, m_prev: tf.Tensor, kernel: Any, recurrent_kernel: Any,
             bias: Any = None, projection_weights: Any = None) -> tuple[tf.Tensor, tf.Tensor]:
    """One NAS step (the math in this module's docstring): ``(m', c')``.

    Shared by ``rnn_cell.NASCell`` (TF1 contrib's arguments, state ``(c, m)``) and
    ``tfseq.rnn.NASCell`` (TF Addons' arguments, state ``[c, m]``). ``bias`` (``[8 * units]``)
    is added to the recurrent half; ``projection_weights`` (``[units, proj]``) projects ``m'``.
    """
    x = tf.split(tf.matmul(inputs, kernel), _NAS_BASE, axis=1)
    m = tf.matmul(m_prev, recurrent_kernel)
    if bias is not None:
        m = tf.nn.bias_add(m, bias)
    m = tf.split(m, _NAS_BASE, axis=1)
    sigmoid, tanh, relu = tf.sigmoid, tf.tanh, tf.nn.relu
    a = [sigmoid(x[0] + m[0]), relu(x[1] + m[1]), sigmoid(x[2] + m[2]), relu(x[3] * m[3]),
         tanh(x[4] + m[4]), sigmoid(x[5] + m[5]), tanh(x[6] + m[6]), sigmoid(x[7] + m[7])]
    b0 = tanh(tanh(a[0] * a[1]) + c_prev)
    c = b0 * tanh(a[2] + a[3])
    new_m = tanh(c * tanh(tanh(a[4] * a[5]) + sigmoid(a[6] + a[7])))
    if projection_weights is not None:
        new_m = tf.matmul(new_m, projection_weights)
    return new_m, c


@keras.saving.register_keras_serializable(package="tfseq")
class NASCell(RNNCell):
    """TF1 contrib's ``NASCell(num_units, num_proj=None, use_biases=False, reuse=None)``.

    Args:
        num_units: int > 0, the size of ``c``.
        num_proj: None or int > 0, the size of the projected output ``m`` (and of the state's ``m``).
        use_biases: bool, a bias on the recurrent half (zeros).
        reuse: TF1 only; accepted as None.

    Weights (TF1 names): ``nas_cell/kernel`` ``[depth, 8 * num_units]``,
    ``nas_cell/recurrent_kernel`` ``[num_proj or num_units, 8 * num_units]``, ``nas_cell/bias``
    ``[8 * num_units]`` (``use_biases``), ``nas_cell/projection_weights`` ``[num_units, num_proj]``;
    Glorot uniform (or a TF1 variable scope's initializer), the bias zeros. It runs per step.
    """

    tf1_scope_name = "nas_cell"

    def __init__(self, num_units: int, num_proj: int | None = None, use_biases: bool = False,
                 reuse: bool | None = None, **kwargs: Any) -> None:
        reject_tf1_only_args("NASCell", reuse=reuse)
        super().__init__(**kwargs)
        self.num_units = check_positive_int("NASCell", "num_units", num_units)
        self.num_proj = None if num_proj is None else check_positive_int("NASCell", "num_proj", num_proj)
        self.use_biases = check_bool("NASCell", "use_biases", use_biases)

    @property
    def state_size(self) -> LSTMStateTuple:
        return LSTMStateTuple(self.num_units, self.output_size)

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        width = _NAS_BASE * self.num_units
        self.recurrent_kernel = self.add_tf1_weight("recurrent_kernel", (self.output_size, width), None)
        self.kernel = self.add_tf1_weight("kernel", (depth, width), None)
        self.bias = self.add_tf1_weight("bias", (width,), "zeros") if self.use_biases else None
        self.projection_weights = None
        if self.num_proj is not None:
            self.projection_weights = self.add_tf1_weight("projection_weights", (self.num_units, self.num_proj), None)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, m_prev = self.check_state(states)
        new_m, c = nas_step(self.check_inputs(inputs), c_prev, m_prev, self.kernel, self.recurrent_kernel,
                            self.bias, self.projection_weights)
        return new_m, LSTMStateTuple(c, new_m)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_units": self.num_units, "num_proj": self.num_proj,
                "use_biases": self.use_biases}
