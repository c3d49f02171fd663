"""TF1 contrib's ``ConvLSTMCell``, ``Conv1DLSTMCell``, ``Conv2DLSTMCell`` and ``Conv3DLSTMCell``.

TF 2 has no contrib, so the reference is a NumPy transcription of their math
(``contrib_conv_phased_ref.py``, with its own "SAME" convolution): outputs and states over ragged
sequences of every rank in ``nn.dynamic_rnn`` (1e-5), the gradients of the inputs, both initial
state tensors and every weight against float64 central differences, contrib's variable names and
shapes (written here from contrib's source), initializers, the ``.keras`` round trip and argument
errors. Even windows check TensorFlow's padding (the extra zero at the end).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_gradients_by_finite_differences
from contrib_conv_phased_ref import conv_lstm_step
from nested_cell_harness import SequenceLayer
from numpy_ref import dynamic_rnn as np_dynamic_rnn

from tfseq import nn, rnn_cell

B, T = 3, 4
RAGGED = np.array([4, 2, 0], np.int32)

# name -> (make_cell(**keras_kwargs), NumPy step options, {TF1 name: shape})
CASES = {
    "conv1d_even_window": (
        lambda **kw: rnn_cell.Conv1DLSTMCell(input_shape=[5, 2], output_channels=3, kernel_shape=[4],
                                             forget_bias=0.7, **kw),
        {"forget_bias": 0.7},
        {"conv_1d_lstm_cell/kernel": (4, 2 + 3, 12), "conv_1d_lstm_cell/biases": (12,)}),
    "conv2d": (
        lambda **kw: rnn_cell.Conv2DLSTMCell(input_shape=[4, 3, 2], output_channels=2, kernel_shape=[3, 2], **kw),
        {},
        {"conv_2d_lstm_cell/kernel": (3, 2, 2 + 2, 8), "conv_2d_lstm_cell/biases": (8,)}),
    "conv2d_skip_no_bias": (
        lambda **kw: rnn_cell.Conv2DLSTMCell(input_shape=[3, 4, 2], output_channels=3, kernel_shape=[2, 3],
                                             use_bias=False, skip_connection=True, **kw),
        {"skip_connection": True},
        {"conv_2d_lstm_cell/kernel": (2, 3, 2 + 3 + 2, 12)}),
    "conv3d": (
        lambda **kw: rnn_cell.Conv3DLSTMCell(input_shape=[3, 2, 3, 1], output_channels=2, kernel_shape=[2, 1, 3],
                                             **kw),
        {},
        {"conv_3d_lstm_cell/kernel": (2, 1, 3, 1 + 2, 8), "conv_3d_lstm_cell/biases": (8,)}),
    "conv_lstm_named": (
        lambda **kw: rnn_cell.ConvLSTMCell(2, [4, 3, 2], 2, [1, 3], forget_bias=-0.5, name="my_conv", **kw),
        {"forget_bias": -0.5},
        {"my_conv/kernel": (1, 3, 2 + 2, 8), "my_conv/biases": (8,)}),
}


def _built(name, dtype):
    cell = CASES[name][0](dtype=dtype)
    cell.build((None, *cell.cell_input_shape))
    rng = np.random.default_rng(sorted(CASES).index(name))
    for v in cell.trainable_weights:
        v.assign(rng.uniform(-0.6, 0.6, v.shape).astype(dtype))
    weights = {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}
    state = tuple(rng.standard_normal((B, *size.as_list())).astype(dtype) for size in cell.state_size)
    x = rng.standard_normal((B, T, *cell.cell_input_shape)).astype(dtype)
    return cell, weights, state, x


def _reference(name, w):
    options = CASES[name][1]
    return lambda x_t, s: conv_lstm_step(x_t, s, w, **options)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    cell, w, state, x = _built(name, "float32")
    want_y, want_state = np_dynamic_rnn(_reference(name, w), x, state, RAGGED)
    y, final = nn.dynamic_rnn(cell, tf.constant(x), sequence_length=RAGGED,
                              initial_state=rnn_cell.LSTMStateTuple(*state))
    assert isinstance(final, rnn_cell.LSTMStateTuple)
    assert tuple(y.shape) == (B, T, *cell.output_size.as_list())
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(final, want_state):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy_finite_differences(name):
    cell, w, state, x = _built(name, "float64")
    check_gradients_by_finite_differences(cell, lambda x_t, s, w: conv_lstm_step(x_t, s, w, **CASES[name][1]), x, state, w,
                    weight_key=lambda n: n.split("/", 1)[1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_tf1_variable_names_and_shapes(name):
    cell = CASES[name][0]()
    nn.dynamic_rnn(cell, np.zeros((B, T, *cell.cell_input_shape), np.float32))
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == CASES[name][2]


def test_zero_state_time_major_and_tf_function():
    """Without initial_state the zero state of state_size (with a skip connection too: h carries the
    input's channels, so the state keeps its shape); time_major and a traced call agree."""
    cell, w, _, x = _built("conv2d_skip_no_bias", "float32")
    zeros = tuple(np.zeros((B, *s.as_list()), np.float32) for s in cell.state_size)
    assert [z.shape[-1] for z in zeros] == [3, 3 + 2]
    want_y, want_state = np_dynamic_rnn(_reference("conv2d_skip_no_bias", w), x, zeros, RAGGED)
    y, final = nn.dynamic_rnn(cell, x, sequence_length=RAGGED)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(final.h.numpy(), want_state[1], atol=1e-5, rtol=1e-5)
    run = tf.function(lambda x: nn.dynamic_rnn(cell, x, sequence_length=RAGGED, time_major=True))
    y_tm, _ = run(tf.constant(np.swapaxes(x, 0, 1)))
    np.testing.assert_allclose(np.swapaxes(y_tm.numpy(), 0, 1), want_y, atol=1e-5, rtol=1e-5)


def test_bidirectional_dynamic_rnn():
    """The backward cell reads each row reversed within its length; its outputs come back aligned."""
    fw, w_fw, _, x = _built("conv1d_even_window", "float32")
    bw = _built("conv1d_even_window", "float32")[0]
    for v in bw.trainable_weights:
        v.assign(v * -0.5)
    w_bw = {k.split("/", 1)[1]: v.numpy() for k, v in bw.tf1_variables().items()}
    zeros = tuple(np.zeros((B, *s.as_list()), np.float32) for s in fw.state_size)
    reversed_x = np.stack([np.concatenate([row[:n][::-1], row[n:]]) for row, n in zip(x, RAGGED)])
    want_fw, _ = np_dynamic_rnn(_reference("conv1d_even_window", w_fw), x, zeros, RAGGED)
    want_bw, want_bw_state = np_dynamic_rnn(_reference("conv1d_even_window", w_bw), reversed_x, zeros, RAGGED)
    want_bw = np.stack([np.concatenate([row[:n][::-1], row[n:]]) for row, n in zip(want_bw, RAGGED)])
    (y_fw, y_bw), (_, state_bw) = nn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=RAGGED)
    np.testing.assert_allclose(y_fw.numpy(), want_fw, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(y_bw.numpy(), want_bw, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(state_bw.h.numpy(), want_bw_state[1], atol=1e-5, rtol=1e-5)


def test_initializers():
    """The kernel takes the TF1 variable scope's initializer (else Glorot uniform); biases are zeros."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.25)):
        scoped = rnn_cell.Conv1DLSTMCell(input_shape=[5, 2], output_channels=3, kernel_shape=[3])
    scoped.build((None, 5, 2))
    np.testing.assert_array_equal(scoped.kernel.numpy(), 0.25)
    np.testing.assert_array_equal(scoped.biases.numpy(), 0.0)
    plain = rnn_cell.Conv2DLSTMCell(input_shape=[4, 4, 8], output_channels=8, kernel_shape=[3, 3])
    plain.build((None, 4, 4, 8))
    limit = np.sqrt(6.0 / (9 * 16 + 9 * 32))  # Glorot uniform of [3, 3, 16, 32]
    kernel = plain.kernel.numpy()
    assert np.abs(kernel).max() <= limit and kernel.std() > 0.4 * limit


@pytest.mark.parametrize("name", ["conv1d_even_window", "conv2d_skip_no_bias", "conv_lstm_named"])
def test_config_and_keras_save_load(name, tmp_path):
    cell, _, _, x = _built(name, "float32")
    config = cell.get_config()
    assert type(cell).from_config(config).get_config() == config
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(revived) is type(cell) and revived.get_config() == config
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, SequenceLayer(CASES[name][0]())(inputs))
    for v in model.weights:
        v.assign(np.random.default_rng(1).uniform(-0.5, 0.5, v.shape))
    path = os.path.join(str(tmp_path), "conv.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[-1].cell) is type(cell)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("make_bad, match", [
    (lambda: rnn_cell.ConvLSTMCell(4, [3, 3, 3, 3, 1], 2, [1, 1, 1, 1]), "conv_ndims must be 1, 2 or 3, got 4"),
    (lambda: rnn_cell.ConvLSTMCell(True, [3, 1], 2, [1]), "conv_ndims must be 1, 2 or 3, got True"),
    (lambda: rnn_cell.ConvLSTMCell(2, [8, 3], 2, [3, 3]), r"input_shape=\[8, 3\] must be spatial \+ \[channels\], 3"),
    (lambda: rnn_cell.Conv2DLSTMCell(input_shape=[8, 0, 3], output_channels=2, kernel_shape=[3, 3]),
     r"input_shape must be a list of positive integers, got \[8, 0, 3\]"),
    (lambda: rnn_cell.Conv2DLSTMCell(input_shape=[8, 8, 3], output_channels=0, kernel_shape=[3, 3]),
     "output_channels must be a positive integer, got 0"),
    (lambda: rnn_cell.Conv2DLSTMCell(input_shape=[8, 8, 3], output_channels=2, kernel_shape=3),
     "kernel_shape must be a list of 2 positive integers, got 3"),
    (lambda: rnn_cell.Conv1DLSTMCell(input_shape=[8, 3], output_channels=2, kernel_shape=[3, 3]),
     r"kernel_shape must be a list of 1 positive integers, got \[3, 3\]"),
    (lambda: rnn_cell.Conv3DLSTMCell(input_shape=[2, 2, 2, 1], output_channels=2, kernel_shape=[1, 1, 1],
                                     use_bias=1), "use_bias must be True or False, got 1"),
    (lambda: rnn_cell.Conv1DLSTMCell(input_shape=[8, 3], output_channels=2, kernel_shape=[3],
                                     skip_connection=None), "skip_connection must be True or False, got None"),
    (lambda: rnn_cell.Conv1DLSTMCell(input_shape=[8, 3], output_channels=2, kernel_shape=[3], forget_bias="1"),
     "forget_bias must be a number, got '1'"),
    (lambda: rnn_cell.Conv1DLSTMCell(input_shape=[8, 3], output_channels=2, kernel_shape=[3], initializers="ones"),
     "initializers='ones' was unused by contrib"),
    (lambda: rnn_cell.Conv1DLSTMCell(input_shape=[8, 3], output_channels=2, kernel_shape=[3], name="a/b"),
     "name must be a non-empty string without '/', got 'a/b'"),
])
def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


def test_inputs_of_another_shape_fail_at_build():
    cell = rnn_cell.Conv2DLSTMCell(input_shape=[4, 3, 2], output_channels=2, kernel_shape=[3, 3])
    with pytest.raises(ValueError, match=r"inputs must be \[batch, \*input_shape\] = \[batch, \[4, 3, 2\]\].*"
                                         r"\(None, 4, 3, 1\)"):
        cell.build((None, 4, 3, 1))
    cell.build((None, tf.TensorShape([4, 3, 2])))  # MultiRNNCell's (batch, output_size of the cell below)
    assert tuple(cell.kernel.shape) == (3, 3, 2 + 2, 8)
    with pytest.raises(ValueError, match=r"initial_state tensors must be \[batch, size\]"):
        nn.dynamic_rnn(cell, np.zeros((B, T, 4, 3, 2), np.float32),
                       initial_state=(tf.zeros((B, 4, 3, 2)), tf.zeros((B, 4, 3, 2, 1))))
