"""TF Addons' ``NASCell`` on Keras 3: the cell found by neural architecture search (Zoph & Le,
2017), with TF Addons' arguments; its math is ``rnn_cell.NASCell``'s (``nas_step``)."""

from typing import Any

import keras

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn._initial_state import KerasTwoInitialState
from tfseq.rnn_cell.nas_cell import nas_step


@keras.saving.register_keras_serializable(package="tfseq.rnn")
class NASCell(KerasTwoInitialState, keras.layers.Layer):
    """TF Addons' ``tfa.rnn.NASCell(units, projection=None, use_bias=False, ...)``.

    One step, with ``x @ kernel`` and ``m @ recurrent_kernel (+ bias)`` each split in 8 blocks
    ``x_k`` and ``m_k`` of ``units``::

        a0 = σ(x0 + m0)  a1 = relu(x1 + m1)  a2 = σ(x2 + m2)  a3 = relu(x3 * m3)
        a4 = tanh(x4 + m4)  a5 = σ(x5 + m5)  a6 = tanh(x6 + m6)  a7 = σ(x7 + m7)
        c' = tanh(tanh(a0 * a1) + c) * tanh(a2 + a3)
        m' = tanh(c' * tanh(tanh(a4 * a5) + σ(a6 + a7)))        (then m' @ projection_weights)

    The state is ``[c, m]`` (TF Addons' order: ``keras.layers.RNN(..., return_state=True)``
    returns ``outputs, c, m``), the output ``m'``. The same cell with TF1 contrib's arguments and
    ``LSTMStateTuple(c, m)`` is ``tfseq.rnn_cell.NASCell``.

    Args:
        units: int > 0, the size of ``c``.
        projection: None or int > 0, the size of the projected output ``m`` (and of the state's ``m``).
        use_bias: bool, a bias on the recurrent half.
        kernel_initializer: a Keras initializer (Glorot uniform).
        recurrent_initializer: a Keras initializer (Glorot uniform).
        projection_initializer: a Keras initializer (Glorot uniform).
        bias_initializer: a Keras initializer (zeros).

    Weights, in order: ``recurrent_kernel`` ``[projection or units, 8 * units]``, ``kernel``
    ``[depth, 8 * units]``, ``bias`` ``[8 * units]`` (``use_bias``), ``projection_weights``
    ``[units, projection]`` (``projection``).

    Keras 2 → 3: TF Addons' ``get_config`` kept the initializers as they were given (a string
    or an object); here they are Keras-serialized, so any initializer survives ``.keras`` saving.
    """

    def __init__(self, units: int, projection: int | None = None, use_bias: bool = False,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "glorot_uniform",
                 projection_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("NASCell", "units", units)
        self.projection = None if projection is None else check_positive_int("NASCell", "projection", projection)
        self.use_bias = check_bool("NASCell", "use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.projection_initializer = keras.initializers.get(projection_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.output_size = self.projection or self.units
        self.state_size = [self.units, self.output_size]

    def build(self, input_shape: Any) -> None:
        width = 8 * self.units  # the 8 blocks of each matmul
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.output_size, width), initializer=self.recurrent_initializer)
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], width),
                                      initializer=self.kernel_initializer)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(width,), initializer=self.bias_initializer)
        self.projection_weights = None
        if self.projection is not None:
            self.projection_weights = self.add_weight(
                name="projection_weights", shape=(self.units, self.projection),
                initializer=self.projection_initializer)

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> tuple[Any, list]:
        c_prev, m_prev = states
        new_m, new_c = nas_step(inputs, c_prev, m_prev, self.kernel, self.recurrent_kernel, self.bias,
                                self.projection_weights)
        return new_m, [new_c, new_m]

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "projection": self.projection,
                "use_bias": self.use_bias,
                **{name: keras.initializers.serialize(getattr(self, name)) for name in (
                    "kernel_initializer", "recurrent_initializer", "bias_initializer", "projection_initializer")}}
