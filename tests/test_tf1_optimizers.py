"""TF1's optimizers (``tf.compat.v1.train.*``) update tfseq's weights inside ``tf.function``
through ``tfseq.compat.trainable_variables``, with TF1's update rules."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import compat, nn, rnn_cell

LR = 0.5


def _model():
    cell = rnn_cell.MultiRNNCell([
        rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), output_keep_prob=1.0),
        rnn_cell.GRUCell(3),
    ])
    projection = keras.layers.Dense(2)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 3)), tf.float32)
    return cell, projection, x


def _loss(cell, projection, x):
    outputs, _ = nn.dynamic_rnn(cell, x, dtype=tf.float32)
    return tf.reduce_sum(tf.sin(projection(outputs)))


def test_trainable_variables_are_the_layers_weights():
    cell, projection, x = _model()
    _loss(cell, projection, x)
    tvars = compat.trainable_variables(cell, projection, cell)  # repeated objects count once
    weights = cell.trainable_weights + projection.trainable_weights
    assert all(isinstance(v, tf.Variable) for v in tvars)
    assert len(tvars) == len(weights)
    for tf_var, weight in zip(tvars, weights):
        assert tf_var is compat.tf_variable(weight)
        weight.assign(weight + 1.0)  # one storage: the layer sees what the optimizer writes
        np.testing.assert_array_equal(tf_var.numpy(), weight.numpy())
    by_name = compat.trainable_variables(cell.tf1_variables())
    assert {id(v) for v in by_name} == {id(compat.tf_variable(w)) for w in cell.trainable_weights}


def test_gradient_descent_step_inside_tf_function_is_w_minus_lr_g():
    cell, projection, x = _model()
    _loss(cell, projection, x)
    tvars = compat.trainable_variables(cell, projection)
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(LR)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = _loss(cell, projection, x)
        grads = tape.gradient(loss, tvars)
        optimizer.apply_gradients(zip(grads, tvars))
        return grads

    with tf.GradientTape() as tape:  # the gradient w.r.t. the Keras weights, taken eagerly
        loss = _loss(cell, projection, x)
    keras_grads = tape.gradient(loss, cell.trainable_weights + projection.trainable_weights)
    before = [v.numpy() for v in tvars]
    grads = step()
    assert all(g is not None for g in grads)
    for g, keras_g in zip(grads, keras_grads):
        np.testing.assert_allclose(g.numpy(), keras_g.numpy(), rtol=1e-5, atol=1e-6)  # XLA in the function
    for var, w, g in zip(tvars, before, grads):
        np.testing.assert_allclose(var.numpy(), w - np.float32(LR) * g.numpy(), rtol=0, atol=1e-7)
    assert any(np.abs(var.numpy() - w).max() > 1e-4 for var, w in zip(tvars, before))


def test_adam_creates_its_slots_inside_tf_function_and_follows_tf1s_rule():
    cell, projection, x = _model()
    _loss(cell, projection, x)
    tvars = compat.trainable_variables(cell, projection)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    optimizer = tf.compat.v1.train.AdamOptimizer(LR, beta1, beta2, eps)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = _loss(cell, projection, x)
        grads = tape.gradient(loss, tvars)
        optimizer.apply_gradients(zip(grads, tvars))
        return grads

    w = [v.numpy().astype(np.float64) for v in tvars]
    m = [np.zeros_like(v) for v in w]
    s = [np.zeros_like(v) for v in w]
    for t in (1, 2):
        grads = step()
        lr_t = LR * np.sqrt(1 - beta2**t) / (1 - beta1**t)  # TF1's AdamOptimizer
        for k, g in enumerate(grads):
            g = g.numpy().astype(np.float64)
            m[k] = beta1 * m[k] + (1 - beta1) * g
            s[k] = beta2 * s[k] + (1 - beta2) * g * g
            w[k] = w[k] - lr_t * m[k] / (np.sqrt(s[k]) + eps)
            np.testing.assert_allclose(tvars[k].numpy(), w[k], rtol=1e-5, atol=1e-5)


def test_trainable_variables_rejects_other_objects():
    with pytest.raises(TypeError, match="expected Keras layers, variables, or lists/dicts of them, got 'kernel'"):
        compat.trainable_variables("kernel")
    with pytest.raises(TypeError, match="expected a Keras or TensorFlow variable, got 3"):
        compat.tf_variable(3)
