"""TF1 contrib's ``ConvLSTMCell``, ``Conv1DLSTMCell``, ``Conv2DLSTMCell`` and ``Conv3DLSTMCell``.

TF 2 has no contrib, so the reference is a NumPy transcription of their math
(``contrib_conv_phased_ref.py``, with its own "SAME" convolution): outputs and states over ragged
sequences of every rank in ``nn.dynamic_rnn`` (1e-5), the gradients of the inputs, both initial
state tensors and every weight against float64 central differences, contrib's variable names and
shapes (written here from contrib's source), initializers, the ``.keras`` round trip and argument
errors. Even windows check TensorFlow's padding (the extra zero at the end). TF1's wrappers and static
drivers around them: ``ResidualWrapper`` (inputs + the cell's outputs, against NumPy; stacked in
``MultiRNNCell``), ``DropoutWrapper``'s variational masks of shape ``[1] + size``, and ``static_rnn`` /
``static_bidirectional_rnn`` on ``[batch, *spatial, channels]`` steps.
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
    keras.utils.set_random_seed(0)
    plain = rnn_cell.Conv2DLSTMCell(input_shape=[4, 4, 8], output_channels=8, kernel_shape=[3, 3])
    plain.build((None, 4, 4, 8))
    limit = np.float32(np.sqrt(6.0 / (9 * 16 + 9 * 32)))  # Glorot uniform of [3, 3, 16, 32], as float32 draws it
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


# --- TF1 wrappers and static drivers around conv cells -----------------------------------------

# conv cells whose output channels equal the input channels: ResidualWrapper's default residual applies
RESIDUAL = {
    "conv1d": lambda name=None: rnn_cell.Conv1DLSTMCell(input_shape=[5, 3], output_channels=3, kernel_shape=[2],
                                                        forget_bias=0.4, name=name),
    "conv2d": lambda name=None: rnn_cell.Conv2DLSTMCell(input_shape=[4, 3, 2], output_channels=2,
                                                        kernel_shape=[3, 2], name=name),
}


def _randomized(cell, seed):
    """``cell`` built for its input shape with weights drawn from ``seed``; returns its NumPy weights."""
    cell.build((None, *cell.cell_input_shape))
    rng = np.random.default_rng(seed)
    for v in cell.trainable_weights:
        v.assign(rng.uniform(-0.6, 0.6, v.shape).astype(np.float32))
    return {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}


def _residual_step(w, **options):
    """TF1's ResidualWrapper of a conv step: the cell's state, ``inputs + cell output``."""
    def step(x_t, s):
        out, new_state = conv_lstm_step(x_t, s, w, **options)
        return x_t + out, new_state
    return step


@pytest.mark.parametrize("name", sorted(RESIDUAL))
def test_residual_wrapper_adds_the_step_inputs(name):
    """TF1's ResidualWrapper adds the inputs to the outputs whatever their rank: outputs are the step
    inputs plus the unwrapped cell's outputs with the same weights (NumPy), states the cell's."""
    cell = RESIDUAL[name]()
    w = _randomized(cell, 5)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, T, *cell.cell_input_shape)).astype(np.float32)
    state = tuple(rng.standard_normal((B, *s.as_list())).astype(np.float32) for s in cell.state_size)
    options = {"forget_bias": cell.forget_bias}
    want_y, want_state = np_dynamic_rnn(_residual_step(w, **options), x, state, RAGGED)
    wrapper = rnn_cell.ResidualWrapper(cell)
    assert wrapper.output_size == cell.output_size and wrapper.state_size == cell.state_size
    y, final = nn.dynamic_rnn(wrapper, x, sequence_length=RAGGED, initial_state=rnn_cell.LSTMStateTuple(*state))
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(final, want_state):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    cell_y, _ = np_dynamic_rnn(lambda x_t, s: conv_lstm_step(x_t, s, w, **options), x, state, RAGGED)
    assert np.abs(want_y - cell_y).max() > 0.1  # the residual changes the outputs


def test_residual_conv_stack_in_multi_rnn_cell_and_dropout_wrapper():
    """MultiRNNCell of residual conv cells (one inside a DropoutWrapper at keep 1) through dynamic_rnn:
    the cells chained in NumPy, each adding its step input to its output."""
    first, second = RESIDUAL["conv2d"]("bottom"), RESIDUAL["conv2d"]("top")
    w_first, w_second = _randomized(first, 1), _randomized(second, 2)
    stack = rnn_cell.MultiRNNCell([
        rnn_cell.DropoutWrapper(rnn_cell.ResidualWrapper(first), output_keep_prob=1.0),
        rnn_cell.ResidualWrapper(second),
    ])
    x = np.random.default_rng(3).standard_normal((B, T, 4, 3, 2)).astype(np.float32)
    zeros = tuple(np.zeros((B, *s.as_list()), np.float32) for s in first.state_size)
    step_first, step_second = _residual_step(w_first), _residual_step(w_second)

    def step(x_t, s):
        y_first, s_first = step_first(x_t, s[0])
        y_second, s_second = step_second(y_first, s[1])
        return y_second, (s_first, s_second)

    want_y, want_state = np_dynamic_rnn(step, x, (zeros, zeros), RAGGED)
    y, final = nn.dynamic_rnn(stack, x, sequence_length=RAGGED)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(tf.nest.flatten(final), tf.nest.flatten(want_state)):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)


def test_residual_wrapper_of_other_output_shape_names_both_shapes():
    cell = rnn_cell.Conv2DLSTMCell(input_shape=[4, 3, 2], output_channels=3, kernel_shape=[3, 3])
    with pytest.raises(ValueError, match=r"must have the same shape, got inputs \[batch, 4, 3, 2\] and outputs "
                                         r"\[batch, 4, 3, 3\]"):
        nn.dynamic_rnn(rnn_cell.ResidualWrapper(cell), np.zeros((B, T, 4, 3, 2), np.float32))
    skip = rnn_cell.Conv1DLSTMCell(input_shape=[5, 2], output_channels=2, kernel_shape=[3], skip_connection=True)
    with pytest.raises(ValueError, match=r"got inputs \[batch, 5, 2\] and outputs \[batch, 5, 4\]"):
        rnn_cell.ResidualWrapper(skip).build((None, 5, 2))


def test_variational_dropout_masks_every_element_of_conv_steps():
    """TF1's variational masks have the shape [1] + size: for conv steps one mask entry per position and
    channel, shared by every row and step (not one per channel); ``input_size`` takes TF1's TensorShape."""
    cell = RESIDUAL["conv2d"]()
    _randomized(cell, 4)
    dropped = rnn_cell.DropoutWrapper(rnn_cell.ResidualWrapper(cell), output_keep_prob=0.5,
                                      variational_recurrent=True, input_size=tf.TensorShape([4, 3, 2]),
                                      dtype=tf.float32, seed=11)
    x = np.random.default_rng(8).standard_normal((B, T, 4, 3, 2)).astype(np.float32)
    y_eval, _ = nn.dynamic_rnn(dropped, x, training=False)
    y_train, _ = nn.dynamic_rnn(dropped, x, training=True)
    kept = y_train.numpy() != 0
    np.testing.assert_allclose(y_train.numpy()[kept], 2 * y_eval.numpy()[kept], rtol=1e-5)
    assert np.all(kept == kept[:1, :1]), "one mask for every row and step"
    mask = kept[0, 0]  # [4, 3, 2]
    assert 0 < mask.mean() < 1
    assert any(0 < mask[..., c].mean() < 1 for c in range(2)), "the mask must vary over positions, not per channel"
    assert dropped.get_config()["input_size"] == [4, 3, 2]
    revived = rnn_cell.DropoutWrapper.from_config(dropped.get_config())
    assert revived.input_size == (4, 3, 2)
    with pytest.raises(ValueError, match=r"input_size=2 is a depth, but the inputs have shape \(None, 4, 3, 2\): "
                                         r"pass their shape after the batch, input_size=\[4, 3, 2\]"):
        rnn_cell.DropoutWrapper(RESIDUAL["conv2d"](), input_size=2).build((None, 4, 3, 2))
    with pytest.raises(ValueError, match=r"input_size=\[4, 3, 1\] but the inputs have shape \(None, 4, 3, 2\)"):
        rnn_cell.DropoutWrapper(RESIDUAL["conv2d"](), input_size=[4, 3, 1]).build((None, 4, 3, 2))


def test_static_rnn_runs_conv_steps_as_dynamic_rnn():
    """TF1's static_rnn runs any cell on a list of [batch, ...] steps: a conv cell on [batch, H, W, C],
    with ragged lengths (zero outputs, states of every rank carried past each row's length)."""
    cell, w, state, x = _built("conv2d", "float32")
    want_y, want_state = np_dynamic_rnn(_reference("conv2d", w), x, state, RAGGED)
    initial = rnn_cell.LSTMStateTuple(*state)
    steps, final = nn.static_rnn(cell, list(np.swapaxes(x, 0, 1)), sequence_length=RAGGED, initial_state=initial)
    assert len(steps) == T and all(tuple(s.shape) == (B, 4, 3, 2) for s in steps)
    np.testing.assert_allclose(np.stack([s.numpy() for s in steps], 1), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(final, want_state):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(final.c.numpy()[2], state[0][2])  # length 0: the initial state
    y, dynamic_final = nn.dynamic_rnn(cell, x, sequence_length=RAGGED, initial_state=initial)
    np.testing.assert_allclose(tf.stack(steps, 1).numpy(), y.numpy(), atol=1e-6)
    for got, want in zip(final, dynamic_final):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_static_bidirectional_rnn_runs_conv_steps():
    """TF1's static_bidirectional_rnn on conv steps: each step's [fw, bw] joined on axis 1, as TF1's."""
    fw, _, _, x = _built("conv1d_even_window", "float32")
    bw = _built("conv1d_even_window", "float32")[0]
    for v in bw.trainable_weights:
        v.assign(v * -0.5)
    (y_fw, y_bw), (state_fw, state_bw) = nn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=RAGGED)
    steps, static_fw, static_bw = nn.static_bidirectional_rnn(fw, bw, list(np.swapaxes(x, 0, 1)),
                                                              sequence_length=RAGGED)
    assert len(steps) == T and tuple(steps[0].shape) == (B, 2 * 5, 3)
    np.testing.assert_allclose(tf.stack(steps, 1).numpy(), tf.concat([y_fw, y_bw], 2).numpy(), atol=1e-6)
    for got, want in zip((*static_fw, *static_bw), (*state_fw, *state_bw)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)
