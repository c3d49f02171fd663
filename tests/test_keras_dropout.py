"""Keras cells' own dropout (``keras.layers.LSTMCell(dropout=..., recurrent_dropout=...)``) in
tfseq's per-step loops follows Keras' rule, as ``keras.layers.RNN`` applies it: one mask per row
for the whole sequence, drawn before the loop (the same numbers from the same generator state),
fresh at every call, inside a ``tf.function`` (where a mask drawn inside the loop would be out
of scope for the next use) and eagerly (where it would stay on the cell, for every later batch).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn
from tfseq import seq2seq as s2s
from tfseq.rnn_cell.keras_dropout import keras_dropout_cells

B, T, D, H, S, A = 3, 5, 4, 6, 4, 3
rng = np.random.default_rng(5)
X = rng.standard_normal((B, T, D)).astype(np.float32)
MEMORY = rng.standard_normal((B, S, H)).astype(np.float32)


def keras_cells():
    keras.utils.set_random_seed(1)
    return [keras.layers.LSTMCell(H, dropout=0.4, recurrent_dropout=0.3, seed=2),
            keras.layers.GRUCell(H, dropout=0.4, recurrent_dropout=0.3, seed=2)]


def same_draws(cell, first, second):
    """``first()`` and ``second()`` from the same state of ``cell``'s seed generator."""
    start = cell.seed_generator.state.numpy()
    a = first()
    cell.seed_generator.state.assign(start)
    return a, second()


@pytest.mark.parametrize("driver", ["dynamic_rnn", "static_rnn"])
@pytest.mark.parametrize("cell_index", [0, 1])
@pytest.mark.parametrize("traced", [False, True])
def test_rnn_drivers_drop_as_keras_rnn(driver, cell_index, traced):
    cell = keras_cells()[cell_index]
    x = tf.constant(X)
    keras_rnn = keras.layers.RNN(cell, return_sequences=True)
    keras_rnn(x)  # built

    def ours():
        if driver == "dynamic_rnn":
            return nn.dynamic_rnn(cell, x, dtype=tf.float32, training=True)[0]
        return tf.stack(nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32, training=True)[0], 1)

    run = tf.function(ours) if traced else ours
    mine, ref = same_draws(cell, run, lambda: keras_rnn(x, training=True))
    np.testing.assert_allclose(mine, ref, atol=1e-6, rtol=0)
    no_dropout = keras.layers.RNN(cell, return_sequences=True)(x, training=False)
    assert np.abs(mine - no_dropout).max() > 1e-2  # it did drop
    assert np.abs(run() - mine).max() > 1e-3  # fresh masks at the next call
    # and none left on the cell: another batch size runs
    wider = tf.concat([x, x], 0)
    assert nn.dynamic_rnn(cell, wider, dtype=tf.float32, training=True)[0].shape == (2 * B, T, H)


def test_raw_rnn_drops_as_keras_rnn():
    cell = keras_cells()[0]
    x = tf.constant(X)
    keras_rnn = keras.layers.RNN(cell, return_sequences=True)
    keras_rnn(x)
    inputs_tm = tf.transpose(x, [1, 0, 2])

    def loop_fn(time, output, state, loop_state):
        finished = tf.fill([B], time >= T)
        step_input = tf.cond(time < T, lambda: inputs_tm[tf.minimum(time, T - 1)], lambda: tf.zeros([B, D]))
        if output is None:
            return finished, step_input, [tf.zeros([B, H])] * 2, None, None
        return finished, step_input, state, output, None

    run = tf.function(lambda: tf.transpose(nn.raw_rnn(cell, loop_fn, training=True)[0].stack(), [1, 0, 2]))
    mine, ref = same_draws(cell, run, lambda: keras_rnn(x, training=True))
    np.testing.assert_allclose(mine, ref, atol=1e-6, rtol=0)


def attention_decoder(cell):
    mechanism = s2s.LuongAttention(H, tf.constant(MEMORY))
    return s2s.AttentionWrapper(cell, mechanism, attention_layer_size=A)


@pytest.mark.parametrize("cell_index", [0, 1])
def test_teacher_forcing_through_an_attention_wrapper_drops_as_keras(cell_index):
    """``BasicDecoder(AttentionWrapper(keras cell with dropout), TrainingSampler())`` in a
    ``tf.function`` (the wrapper not yet built at the first call) and eagerly: the masks of a
    hand loop that draws them once before stepping the wrapper, as Keras' RNN does."""
    cell = keras_cells()[cell_index]
    wrapper = attention_decoder(cell)
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler())
    x = tf.constant(X)

    def decode():
        start = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
        return decoder(x, initial_state=start, training=True)[0].rnn_output

    traced = tf.function(decode)
    first = traced()  # builds the wrapper and its cell inside the trace

    def by_hand():
        state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
        cell.get_dropout_mask(tf.zeros([B, D + A]))
        cell.get_recurrent_dropout_mask(tf.zeros([B, H]))
        outputs = []
        for t in range(T):
            output, state = wrapper(x[:, t], state, training=True)
            outputs.append(output)
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
        return tf.stack(outputs, 1)

    for run in (traced, decode):
        mine, ref = same_draws(cell, run, by_hand)
        np.testing.assert_allclose(mine, ref, atol=1e-6, rtol=0)
    assert np.abs(traced() - first).max() > 1e-3  # fresh masks at every call
    assert keras_dropout_cells(wrapper) == [cell]
