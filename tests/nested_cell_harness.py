"""For cells whose steps read a tuple of inputs (``PhasedLSTMCell``'s ``(t, x)``) or whose
outputs and states have more than two axes (``ConvLSTMCell``'s ``[batch, *spatial, channels]``):
:class:`SequenceLayer` runs a cell through ``tfseq.nn.dynamic_rnn`` in a Keras model, for the
``.keras`` round trip (Keras 3's ``keras.layers.RNN`` takes neither). Their gradients are checked
by ``cell_harness.check_gradients_by_finite_differences``.
"""

import keras

from tfseq import nn


@keras.saving.register_keras_serializable(package="tfseq_tests")
class SequenceLayer(keras.layers.Layer):
    """``nn.dynamic_rnn(cell, inputs)[0]`` as a Keras layer (a tuple of inputs goes in as a list)."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def build(self, input_shape):
        def step(shape):  # [batch, time, ...] -> [batch, ...]
            return (shape[0], *shape[2:])

        if self.cell.built:  # a loaded cell is built from its own build config
            return
        nested = isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple))
        self.cell.build(tuple(step(s) for s in input_shape) if nested else step(input_shape))

    def call(self, inputs):
        inputs = tuple(inputs) if isinstance(inputs, (list, tuple)) else inputs
        return nn.dynamic_rnn(self.cell, inputs, dtype=self.cell.compute_dtype)[0]

    def get_config(self):
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)
