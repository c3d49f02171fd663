"""Checks for cells whose steps read a tuple of inputs (``PhasedLSTMCell``'s ``(t, x)``) or whose
outputs and states have more than two axes (``ConvLSTMCell``'s ``[batch, *spatial, channels]``),
where ``cell_harness`` assumes one ``[batch, depth]`` input and ``[batch, n]`` states.

:func:`check_gradients` is ``cell_harness.check_gradients_by_finite_differences`` for them;
:func:`SequenceLayer` runs a cell through ``tfseq.nn.dynamic_rnn`` in a Keras model (for the
``.keras`` round trip: Keras 3's ``keras.layers.RNN`` takes neither).
"""

import keras
import numpy as np
import tensorflow as tf
from contrib_conv_phased_ref import dynamic_rnn as np_dynamic_rnn

from tfseq import nn


def check_gradients(cell, step, x, state, weights, weight_key, seed=11, eps=1e-6):
    """float64: ``d(loss)/d(every input, initial state tensor, weight)`` from the tape through
    ``nn.dynamic_rnn(cell)`` equals central differences of the NumPy reference's loss along a random
    direction per source. ``x`` is an array or a tuple of arrays, ``state`` a tuple of arrays,
    ``step(x_t, state, w)`` the reference step over ``weights`` keyed by ``weight_key(tf1 name)``."""
    nested = isinstance(x, tuple)
    flat_x, flat_state = list(x) if nested else [x], list(state)
    rng = np.random.default_rng(seed)
    y_shape = np_dynamic_rnn(lambda x_t, s: step(x_t, s, weights), x, tuple(state))[0].shape
    dy = rng.standard_normal(y_shape)
    ds = [rng.standard_normal(s.shape) for s in flat_state]

    def np_loss(flat_x, flat_state, w):
        inputs = tuple(flat_x) if nested else flat_x[0]
        y, final = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), inputs, tuple(flat_state))
        return float(np.sum(np.sin(3.0 * y) * dy) + sum(np.sum(f * d) for f, d in zip(final, ds)))

    x_t = [tf.constant(v) for v in flat_x]
    s_t = [tf.constant(s) for s in flat_state]
    with tf.GradientTape() as tape:
        tape.watch([*x_t, *s_t])
        y, final = nn.dynamic_rnn(cell, tuple(x_t) if nested else x_t[0], initial_state=tuple(s_t))
        loss = tf.reduce_sum(tf.sin(3.0 * y) * dy) + tf.add_n(
            [tf.reduce_sum(f * d) for f, d in zip(tf.nest.flatten(final), ds)])
    np.testing.assert_allclose(float(loss), np_loss(flat_x, flat_state, weights), rtol=1e-10)
    named = cell.tf1_variables()
    grads = tape.gradient(loss, [*x_t, *s_t, *named.values()])

    def replaced(values, k, v):
        return [v if i == k else other for i, other in enumerate(values)]

    sources = [(f"x{k}", v, lambda v, k=k: np_loss(replaced(flat_x, k, v), flat_state, weights))
               for k, v in enumerate(flat_x)]
    sources += [(f"state{k}", s, lambda v, k=k: np_loss(flat_x, replaced(flat_state, k, v), weights))
                for k, s in enumerate(flat_state)]
    for name in named:
        key = weight_key(name)
        sources.append((name, weights[key], lambda v, key=key: np_loss(flat_x, flat_state, {**weights, key: v})))
    for (label, base, loss_at), grad in zip(sources, grads):
        direction = rng.standard_normal(base.shape)
        numeric = (loss_at(base + eps * direction) - loss_at(base - eps * direction)) / (2 * eps)
        analytic = 0.0 if grad is None else float(np.sum(np.asarray(grad) * direction))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=label)


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
