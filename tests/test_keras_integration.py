"""tfseq cells inside Keras 3: RNN, Bidirectional, masking, states, models, saving, XLA, mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell, copy_weights, python_loop

from tfseq import nn, rnn_cell

B, T, D = 3, 5, 4
X = tf.constant(np.random.default_rng(1).standard_normal((B, T, D)), tf.float32)

HARNESS_CASES = {
    "basic_rnn": (lambda: rnn_cell.BasicRNNCell(4), {"basic_rnn_cell/kernel": (7, 4), "basic_rnn_cell/bias": (4,)}),
    "basic_lstm": (
        lambda: rnn_cell.BasicLSTMCell(4, forget_bias=0.5),
        {"basic_lstm_cell/kernel": (7, 16), "basic_lstm_cell/bias": (16,)},
    ),
    "basic_lstm_not_tuple": (
        lambda: rnn_cell.BasicLSTMCell(4, state_is_tuple=False),
        {"basic_lstm_cell/kernel": (7, 16), "basic_lstm_cell/bias": (16,)},
    ),
    "lstm_full": (
        lambda: rnn_cell.LSTMCell(4, use_peepholes=True, cell_clip=3.0, num_proj=2, proj_clip=2.0,
                                  initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=1)),
        {"lstm_cell/kernel": (5, 16), "lstm_cell/bias": (16,), "lstm_cell/w_f_diag": (4,),
         "lstm_cell/w_i_diag": (4,), "lstm_cell/w_o_diag": (4,), "lstm_cell/projection/kernel": (4, 2)},
    ),
    "lstm_not_tuple_softsign": (
        lambda: rnn_cell.LSTMCell(4, num_proj=3, state_is_tuple=False, activation="softsign"),
        {"lstm_cell/kernel": (6, 16), "lstm_cell/bias": (16,), "lstm_cell/projection/kernel": (4, 3)},
    ),
    "gru": (
        lambda: rnn_cell.GRUCell(4),
        {"gru_cell/gates/kernel": (7, 8), "gru_cell/gates/bias": (8,),
         "gru_cell/candidate/kernel": (7, 4), "gru_cell/candidate/bias": (4,)},
    ),
    "gru_custom_init": (
        lambda: rnn_cell.GRUCell(2, activation="relu", kernel_initializer="orthogonal", bias_initializer="ones"),
        {"gru_cell/gates/kernel": (5, 4), "gru_cell/gates/bias": (4,),
         "gru_cell/candidate/kernel": (5, 2), "gru_cell/candidate/bias": (2,)},
    ),
}


@pytest.mark.parametrize("name", list(HARNESS_CASES))
def test_cell_harness(name, tmp_path):
    make_cell, shapes = HARNESS_CASES[name]
    check_cell(make_cell, tmp_path, weight_shapes=shapes)


def test_rnn_layer_equals_dynamic_rnn_with_return_state():
    cell = rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    y, c, h = layer(X)  # Keras flattens the LSTMStateTuple into (c, h)
    y_ref, state_ref = nn.dynamic_rnn(cell, X)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), atol=1e-6)
    np.testing.assert_allclose(c.numpy(), state_ref.c.numpy(), atol=1e-6)
    np.testing.assert_allclose(h.numpy(), state_ref.h.numpy(), atol=1e-6)
    assert c.shape == (B, 3) and h.shape == (B, 2)


def test_rnn_layer_initial_state_is_used():
    cell = rnn_cell.GRUCell(3)
    h0 = tf.constant(np.random.default_rng(2).standard_normal((B, 3)), tf.float32)
    y = keras.layers.RNN(cell, return_sequences=True)(X, initial_state=[h0])
    y_ref, _ = nn.dynamic_rnn(cell, X, initial_state=h0)
    y_zero, _ = nn.dynamic_rnn(cell, X)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), atol=1e-6)
    assert np.abs(y_ref.numpy() - y_zero.numpy()).max() > 1e-3


def test_bidirectional_equals_bidirectional_dynamic_rnn():
    layer = keras.layers.Bidirectional(keras.layers.RNN(rnn_cell.BasicLSTMCell(3), return_sequences=True))
    y = layer(X)
    cell_fw, cell_bw = layer.forward_layer.cell, layer.backward_layer.cell
    assert isinstance(cell_bw, rnn_cell.BasicLSTMCell) and cell_bw is not cell_fw
    (y_fw, y_bw), _ = nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, X)
    np.testing.assert_allclose(y.numpy(), tf.concat([y_fw, y_bw], -1).numpy(), atol=1e-6)
    # the backward half really runs backwards: it equals a loop over the time-reversed input
    y_loop, _ = python_loop(cell_bw, X[:, ::-1])
    np.testing.assert_allclose(y_bw.numpy(), y_loop.numpy()[:, ::-1], atol=1e-6)


LENGTHS = np.array([5, 2, 3], np.int32)
MASK = np.arange(T)[None, :] < LENGTHS[:, None]  # [B, T]
X_PADDED = tf.where(MASK[:, :, None], X, 0.0)


@pytest.mark.parametrize("via", ["masking_layer", "mask_argument"])
def test_mask_with_zero_output_equals_dynamic_rnn_sequence_length(via):
    cell = rnn_cell.LSTMCell(3, use_peepholes=True)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True)
    if via == "masking_layer":
        inputs = keras.Input((T, D))
        model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
        y, c, h = model(X_PADDED)
    else:
        y, c, h = layer(X_PADDED, mask=tf.constant(MASK))
    y_ref, state_ref = nn.dynamic_rnn(cell, X_PADDED, sequence_length=LENGTHS)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), atol=1e-6)
    np.testing.assert_allclose(c.numpy(), state_ref.c.numpy(), atol=1e-6)
    np.testing.assert_allclose(h.numpy(), state_ref.h.numpy(), atol=1e-6)


def test_mask_without_zero_output_repeats_last_output():
    """Keras' default differs from TF1: masked steps repeat the previous output, not zeros."""
    cell = rnn_cell.GRUCell(3)
    y = keras.layers.RNN(cell, return_sequences=True)(X_PADDED, mask=tf.constant(MASK))
    y_ref, _ = nn.dynamic_rnn(cell, X_PADDED, sequence_length=LENGTHS)
    y, y_ref = y.numpy(), y_ref.numpy()
    np.testing.assert_allclose(y[MASK], y_ref[MASK], atol=1e-6)
    for row, length in enumerate(LENGTHS):
        for t in range(length, T):
            np.testing.assert_allclose(y[row, t], y_ref[row, length - 1], atol=1e-6)


def test_stateful_carries_state_and_resets():
    inputs = keras.Input((None, D), batch_size=B)
    layer = keras.layers.RNN(rnn_cell.BasicLSTMCell(3), return_sequences=True, stateful=True)
    model = keras.Model(inputs, layer(inputs))
    first = model(X[:, :2]).numpy()
    second = model(X[:, 2:]).numpy()
    y_ref, _ = nn.dynamic_rnn(layer.cell, X)
    np.testing.assert_allclose(np.concatenate([first, second], 1), y_ref.numpy(), atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(model(X[:, :2]).numpy(), first, atol=1e-6)


def test_rnn_layer_config_round_trip():
    layer = keras.layers.RNN(rnn_cell.LSTMCell(3, num_proj=2, forget_bias=0.0, state_is_tuple=False), return_state=True)
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert isinstance(clone.cell, rnn_cell.LSTMCell)
    assert clone.cell.get_config() == layer.cell.get_config()
    assert clone.cell.num_proj == 2 and clone.cell.forget_bias == 0.0 and clone.cell.state_is_tuple is False


class TinyTagger(keras.Model):
    """A subclassed model: a tfseq cell inside RNN, then a dense head."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rnn = keras.layers.RNN(rnn_cell.GRUCell(4), return_sequences=True)
        self.head = keras.layers.Dense(2)

    def call(self, inputs):
        return self.head(self.rnn(inputs))


def test_functional_and_subclassed_models_agree():
    subclassed = TinyTagger()
    y_sub = subclassed(X)
    inputs = keras.Input((T, D))
    sequence = keras.layers.RNN(rnn_cell.GRUCell(4), return_sequences=True)(inputs)
    functional = keras.Model(inputs, keras.layers.Dense(2)(sequence))
    functional.set_weights(subclassed.get_weights())
    np.testing.assert_allclose(functional(X).numpy(), y_sub.numpy(), atol=1e-6)
    h, _ = nn.dynamic_rnn(subclassed.rnn.cell, X)
    np.testing.assert_allclose(subclassed.head(h).numpy(), y_sub.numpy(), atol=1e-6)
    subclassed.compile(optimizer="sgd", loss="mse")
    history = subclassed.fit(X, tf.zeros((B, T, 2)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_jit_compile_predict_equals_eager():
    inputs = keras.Input((T, D))
    y = keras.layers.RNN(rnn_cell.LSTMCell(3, use_peepholes=True, cell_clip=1.0))(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(y))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is True
    np.testing.assert_allclose(model.predict(X, verbose=0), model(X).numpy(), atol=1e-5)
    history = model.fit(X, tf.ones((B, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.fixture
def mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.parametrize("make_cell", [lambda: rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2),
                                       lambda: rnn_cell.GRUCell(3), lambda: rnn_cell.BasicRNNCell(3)],
                         ids=["lstm", "gru", "basic_rnn"])
def test_mixed_float16_runs_and_outputs_float16(make_cell, mixed_precision):
    cell = make_cell()
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.RNN(cell, return_sequences=True)(inputs))
    y = model(X)
    assert y.dtype == tf.float16
    assert all(w.dtype == "float32" for w in cell.weights)  # variables stay float32
    assert np.all(np.isfinite(y.numpy()))
    keras.mixed_precision.set_global_policy("float32")
    reference = keras.layers.RNN(type(cell).from_config({**cell.get_config(), "dtype": "float32"}),
                                 return_sequences=True)
    reference(X)
    copy_weights(cell, reference.cell)
    np.testing.assert_allclose(y.numpy().astype(np.float32), reference(X).numpy(), atol=1e-2)


def test_lstm_cell_without_peepholes_equals_basic_lstm_cell():
    basic = rnn_cell.BasicLSTMCell(3, forget_bias=0.7)
    full = rnn_cell.LSTMCell(3, forget_bias=0.7)
    y_basic, s_basic = nn.dynamic_rnn(basic, X)
    full.build((B, D))
    copy_weights(basic, full)
    y_full, s_full = nn.dynamic_rnn(full, X)
    np.testing.assert_array_equal(y_full.numpy(), y_basic.numpy())
    np.testing.assert_array_equal(s_full.c.numpy(), s_basic.c.numpy())
    assert sorted(full.tf1_variables()) == ["lstm_cell/bias", "lstm_cell/kernel"]
    assert sorted(basic.tf1_variables()) == ["basic_lstm_cell/bias", "basic_lstm_cell/kernel"]


@pytest.mark.parametrize("make_cell", [lambda: rnn_cell.LSTMCell(3, use_peepholes=True),
                                       lambda: rnn_cell.GRUCell(3), lambda: keras.layers.LSTMCell(3)],
                         ids=["lstm", "gru", "keras_lstm"])
@pytest.mark.parametrize("seq", [None, [5, 2, 0]], ids=["full", "ragged"])
def test_dynamic_rnn_under_mixed_float16(make_cell, seq, mixed_precision):
    """The cell computes in float16; the carried state keeps the dtype it was given (float32 here)."""
    cell = make_cell()
    y, state = nn.dynamic_rnn(cell, X, sequence_length=seq)
    y_graph, _ = tf.function(lambda x: nn.dynamic_rnn(cell, x, sequence_length=seq))(X)
    assert y.dtype == tf.float32 and all(s.dtype == tf.float32 for s in tf.nest.flatten(state))
    np.testing.assert_allclose(y_graph.numpy(), y.numpy(), atol=2e-3)  # float16 rounding differs in graphs
    keras.mixed_precision.set_global_policy("float32")
    reference = type(cell).from_config({**cell.get_config(), "dtype": "float32"})
    reference.build((B, D))
    copy_weights(cell, reference)
    y_ref, _ = nn.dynamic_rnn(reference, X, sequence_length=seq)
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), atol=1e-2)
    assert np.abs(y.numpy() - y_ref.numpy()).max() > 0  # it really ran in float16
