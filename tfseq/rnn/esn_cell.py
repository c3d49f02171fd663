"""TF Addons' ``ESNCell`` on Keras 3: the echo state network's reservoir (Jaeger, 2001), a fixed
random recurrent layer whose recurrent matrix is sparse and rescaled to a spectral radius."""

from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn._args import check_real
from tfseq.rnn._initial_state import KerasTwoInitialState


@keras.saving.register_keras_serializable(package="tfseq.rnn")
class ESNCell(KerasTwoInitialState, keras.layers.Layer):
    """TF Addons' ``tfa.rnn.ESNCell``: an echo state network cell. One step::

        h' = (1 - leaky) * h + leaky * act(x @ kernel + h @ recurrent_kernel + bias)

    The state is ``[h]``, the output ``h'``. No weight is trainable (an ESN trains only a
    readout on top of it).

    ``recurrent_kernel`` is drawn with ``recurrent_initializer``, each entry kept with probability
    ``connectivity`` (the others set to 0), then scaled so that its spectral radius (largest
    eigenvalue modulus) is ``spectral_radius``; with ``use_norm2`` it is scaled so that its
    Frobenius norm, an upper bound of the spectral radius that needs no eigenvalues, is
    ``spectral_radius``. A matrix of zeros stays zeros.

    Args:
        units: int > 0, the reservoir's size.
        connectivity: in ``[0, 1]``, the probability that two reservoir units are connected.
        leaky: in ``[0, 1]``, the leaking rate (1: no leaky integration).
        spectral_radius: >= 0, the recurrent matrix's spectral radius (< 1 for the echo state property).
        use_norm2: bool, scale by the Frobenius norm instead of the eigenvalues.
        use_bias: bool.
        activation: a Keras activation (``tanh``).
        kernel_initializer: a Keras initializer (Glorot uniform).
        recurrent_initializer: a Keras initializer (Glorot uniform), before the mask and the scaling.
        bias_initializer: a Keras initializer (zeros).

    Weights (all non-trainable), in order: ``recurrent_kernel`` ``[units, units]``, ``kernel``
    ``[depth, units]``, ``bias`` ``[units]`` (``use_bias``).

    Keras 2 → 3: the reservoir is random in both, but not drawn the same under one
    ``tf.random.set_seed``: to compare with a TF Addons model, copy its weights. Called on a
    list of states, the cell returns its new state as ``[h']`` (Keras 3's cells keep the state's
    structure, which ``keras.layers.StackedRNNCells`` relies on); TF Addons returned ``h'`` bare.
    """

    def __init__(self, units: int, connectivity: float = 0.1, leaky: float = 1, spectral_radius: float = 0.9,
                 use_norm2: bool = False, use_bias: bool = True, activation: Any = "tanh",
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("ESNCell", "units", units)
        self.connectivity = check_real("ESNCell", "connectivity", connectivity, 0.0, 1.0)
        self.leaky = check_real("ESNCell", "leaky", leaky, 0.0, 1.0)
        self.spectral_radius = check_real("ESNCell", "spectral_radius", spectral_radius, 0.0)
        self.use_norm2 = check_bool("ESNCell", "use_norm2", use_norm2)
        self.use_bias = check_bool("ESNCell", "use_bias", use_bias)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = self.units
        self.output_size = self.units

    def _reservoir(self, shape: Any, dtype: Any = None) -> tf.Tensor:
        """The initial ``recurrent_kernel``: sparse, rescaled to ``spectral_radius``."""
        dtype = tf.as_dtype(dtype or self.variable_dtype)
        weights = tf.convert_to_tensor(self.recurrent_initializer(shape, dtype=dtype))
        mask = tf.cast(tf.random.uniform(shape) <= self.connectivity, dtype)
        weights = weights * mask
        radius = tf.constant(self.spectral_radius, dtype)
        if self.use_norm2:
            norm = tf.norm(weights)
            scale = radius / (norm + tf.cast(tf.equal(norm, 0.0), dtype))
        else:
            largest = tf.reduce_max(tf.abs(tf.linalg.eigvals(weights)))
            scale = tf.math.divide_no_nan(radius, tf.cast(largest, dtype))
        return weights * scale

    def build(self, input_shape: Any) -> None:
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, self.units),
                                                initializer=self._reservoir, trainable=False)
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer, trainable=False)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                        trainable=False)

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> tuple[Any, Any]:
        prev = states[0] if isinstance(states, (list, tuple)) else states
        output = tf.matmul(inputs, self.kernel) + tf.matmul(prev, self.recurrent_kernel)
        if self.bias is not None:
            output = output + self.bias
        output = self.activation(output)
        output = (1.0 - self.leaky) * prev + self.leaky * output
        return output, ([output] if isinstance(states, (list, tuple)) else output)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "connectivity": self.connectivity,
                "leaky": self.leaky, "spectral_radius": self.spectral_radius, "use_norm2": self.use_norm2,
                "use_bias": self.use_bias, "activation": keras.activations.serialize(self.activation),
                **{name: keras.initializers.serialize(getattr(self, name)) for name in (
                    "kernel_initializer", "recurrent_initializer", "bias_initializer")}}
