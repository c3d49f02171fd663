"""tfseq._random and tfseq.nn.Dropout: Keras' numbers, in a graph and under XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq._random import next_seed, uniform


def test_uniform_equals_keras_random_in_a_graph_and_advances_the_generator_alike():
    ours, theirs = keras.random.SeedGenerator(7), keras.random.SeedGenerator(7)
    draw = tf.function(lambda: (uniform([3, 5], ours), keras.random.uniform([3, 5], seed=theirs)))
    for _ in range(3):  # equal draw after draw: both advance their generator by one
        a, b = draw()
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ours.state.numpy(), theirs.state.numpy())
    assert next_seed(keras.random.SeedGenerator(7)).dtype == tf.int32


def test_uniform_under_xla_with_a_run_time_seed_draws_keras_numbers():
    """Under XLA, with a seed known only at run time (nothing folded at compile time), the
    draws equal Keras' default-algorithm draws in the same XLA program, and are uniform."""
    seeds = tf.Variable([3, 4], dtype=tf.int32)
    draw = tf.function(lambda: (uniform([200, 500], seeds.read_value(), tf.float32),
                                tf.random.stateless_uniform([200, 500], seed=seeds.read_value())), jit_compile=True)
    first, default = (x.numpy() for x in draw())
    np.testing.assert_array_equal(first, default)
    seeds.assign([3, 5])
    second = draw()[0].numpy()
    assert 0.0 <= first.min() and first.max() < 1.0
    assert abs(first.mean() - 0.5) < 0.01 and abs(first.var() - 1 / 12) < 0.01
    assert np.histogram(first, bins=10, range=(0, 1))[0].min() > 9000  # each tenth within 10 % of 10,000
    assert not np.array_equal(first, second)


def test_dropout_wrapper_under_xla_keeps_the_right_fraction_and_matches_the_graph_in_distribution():
    """A compiled training step drops what an uncompiled one drops, in expectation."""
    x = tf.ones([256, 10, 64], tf.float32)

    def kept(jit):
        keras.utils.set_random_seed(1)
        cell = rnn_cell.DropoutWrapper(rnn_cell.BasicRNNCell(4), input_keep_prob=0.7, seed=11)
        cell.build(x.shape[1:])

        def run():
            state = cell.get_initial_state(batch_size=x.shape[0], dtype=tf.float32)
            masks = []
            for t in range(x.shape[1]):
                masks.append(cell.drop_inputs(x[:, t]))
                cell(x[:, t], state, training=True)
            return tf.stack(masks)

        return tf.function(run, jit_compile=jit)().numpy()

    for jit in (False, True):
        masks = kept(jit)
        assert np.all((masks == 0.0) | np.isclose(masks, 1 / 0.7))
        assert abs((masks > 0).mean() - 0.7) < 0.01


@pytest.mark.parametrize("noise_shape", [None, (None, 1, 8)])
def test_nn_dropout_equals_keras_dropout_in_a_graph_and_under_xla(noise_shape):
    x = tf.ones([512, 12, 8])  # 4,096 independent draws with the shared noise shape: 4 sigma is 0.03
    ours = nn.Dropout(0.3, noise_shape=noise_shape, seed=5)
    theirs = keras.layers.Dropout(0.3, noise_shape=noise_shape, seed=5)
    graph = tf.function(lambda: (ours(x, training=True), theirs(x, training=True)))
    for _ in range(2):
        a, b = graph()
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    compiled, compiled_keras = (t.numpy() for t in tf.function(
        lambda: (ours(x, training=True), theirs(x, training=True)), jit_compile=True)())
    np.testing.assert_array_equal(compiled, compiled_keras)  # Keras' masks under XLA too
    assert np.all((compiled == 0.0) | np.isclose(compiled, 1 / 0.7))
    assert abs((compiled > 0).mean() - 0.7) < 0.03
    if noise_shape is not None:  # one mask per row, shared over time
        assert np.all(compiled == compiled[:, :1])
    np.testing.assert_array_equal(ours(x, training=False).numpy(), x.numpy())
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(revived) is nn.Dropout and revived.get_config() == ours.get_config()
