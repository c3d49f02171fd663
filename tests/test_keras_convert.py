"""tfseq (TF1) cells <-> Keras 3 built-in cells: identical outputs and states, exact refusals."""

import keras
import numpy as np
import pytest

from tfseq import compat, nn, rnn_cell

rng = np.random.default_rng(5)
X = rng.standard_normal((3, 6, 4)).astype(np.float32)
ATOL = 1e-6  # one fused matmul vs two, forget_bias pre-added: float rounding only


def _randomize(cell):
    """Non-trivial weights everywhere, biases included (defaults are zeros/ones)."""
    for var in cell.trainable_weights:
        var.assign(rng.uniform(-0.6, 0.6, var.shape).astype(np.float32))
    return cell


def _keras_run(keras_cell, x):
    out = keras.layers.RNN(keras_cell, return_sequences=True, return_state=True)(x)
    return out[0], list(out[1:])


def _tf1_states_as_keras(cell, state):
    """TF1 LSTMStateTuple(c, h) -> Keras [h, c]; single-tensor states unchanged."""
    if isinstance(state, rnn_cell.LSTMStateTuple):
        return [state.h, state.c]
    return [state]


CELLS = {
    "basic_lstm": lambda: rnn_cell.BasicLSTMCell(5),  # forget_bias 1.0 folded into the Keras bias
    "lstm_relu": lambda: rnn_cell.LSTMCell(5, forget_bias=0.5, activation="relu"),
    "gru": lambda: rnn_cell.GRUCell(5),
    "basic_rnn": lambda: rnn_cell.BasicRNNCell(5, activation="sigmoid"),
}
KERAS_TYPES = {"basic_lstm": keras.layers.LSTMCell, "lstm_relu": keras.layers.LSTMCell,
               "gru": keras.layers.GRUCell, "basic_rnn": keras.layers.SimpleRNNCell}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_to_keras_and_back_gives_identical_outputs_and_states(name):
    cell = CELLS[name]()
    cell.build((None, 4))
    _randomize(cell)
    y, state = nn.dynamic_rnn(cell, X)
    keras_cell = compat.to_keras_cell(cell)
    assert type(keras_cell) is KERAS_TYPES[name]
    if name == "gru":
        assert keras_cell.reset_after is False
    y_keras, states_keras = _keras_run(keras_cell, X)
    np.testing.assert_allclose(y_keras.numpy(), y.numpy(), atol=ATOL)
    for got, ref in zip(states_keras, _tf1_states_as_keras(cell, state), strict=True):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=ATOL)
    # and back: Keras -> tfseq gives the TF1 cell again
    back = compat.from_keras_cell(keras_cell)
    y_back, _ = nn.dynamic_rnn(back, X)
    np.testing.assert_allclose(y_back.numpy(), y.numpy(), atol=ATOL)
    if name == "gru":  # pure reordering: bit-identical weights
        for key, var in cell.tf1_variables().items():
            np.testing.assert_array_equal(back.tf1_variables()[key].numpy(), var.numpy())


@pytest.mark.parametrize("make", [
    lambda: keras.layers.LSTMCell(3, activation="relu"),
    lambda: keras.layers.LSTMCell(3, use_bias=False),
    lambda: keras.layers.GRUCell(3, reset_after=False),
    lambda: keras.layers.SimpleRNNCell(3),
], ids=["lstm_relu", "lstm_no_bias", "gru", "simple_rnn"])
def test_from_keras_gives_identical_outputs_and_states(make):
    keras_cell = make()
    keras_cell.build((None, 4))
    _randomize(keras_cell)
    y_keras, states_keras = _keras_run(keras_cell, X)
    cell = compat.from_keras_cell(keras_cell)
    y, state = nn.dynamic_rnn(cell, X)
    np.testing.assert_allclose(y.numpy(), y_keras.numpy(), atol=ATOL)
    for got, ref in zip(_tf1_states_as_keras(cell, state), states_keras, strict=True):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), atol=ATOL)


def test_from_keras_lstm_with_forget_bias_keeps_the_math():
    keras_cell = keras.layers.LSTMCell(3)
    keras_cell.build((None, 4))
    _randomize(keras_cell)
    cell = compat.from_keras_cell(keras_cell, forget_bias=1.0)
    assert cell.forget_bias == 1.0 and isinstance(cell, rnn_cell.BasicLSTMCell)
    np.testing.assert_allclose(nn.dynamic_rnn(cell, X)[0].numpy(), _keras_run(keras_cell, X)[0].numpy(), atol=ATOL)


@pytest.mark.parametrize("make, reason", [
    (lambda: rnn_cell.LSTMCell(3, use_peepholes=True), "use_peepholes=True cannot convert exactly: .*no peephole"),
    (lambda: rnn_cell.LSTMCell(3, cell_clip=2.0), "cell_clip=2.0 cannot convert exactly"),
    (lambda: rnn_cell.LSTMCell(3, num_proj=2), "num_proj=2 cannot convert exactly: .*no output projection"),
    (lambda: rnn_cell.GRUCell(3), "build gru_cell.* first"),
], ids=["peepholes", "cell_clip", "num_proj", "unbuilt"])
def test_to_keras_refuses_with_the_reason(make, reason):
    with pytest.raises(ValueError, match=reason):
        compat.to_keras_cell(make())


def test_to_keras_refuses_wrappers():
    with pytest.raises(TypeError, match="no exact Keras 3 cell for MultiRNNCell.*convert the cells inside"):
        compat.to_keras_cell(rnn_cell.MultiRNNCell([rnn_cell.GRUCell(2)]))


@pytest.mark.parametrize("make, reason", [
    (lambda: keras.layers.GRUCell(3), "reset_after=True cannot convert exactly"),
    (lambda: keras.layers.LSTMCell(3, recurrent_activation="hard_sigmoid"),
     "recurrent_activation='hard_sigmoid' cannot convert exactly: TF1 cells use sigmoid gates"),
    (lambda: keras.layers.LSTMCell(3, recurrent_dropout=0.2), "recurrent_dropout=0.2 cannot convert exactly"),
    (lambda: keras.layers.SimpleRNNCell(3, dropout=0.1), "dropout=0.1 cannot convert exactly"),
])
def test_from_keras_refuses_with_the_reason(make, reason):
    keras_cell = make()
    keras_cell.build((None, 4))
    with pytest.raises(ValueError, match=reason):
        compat.from_keras_cell(keras_cell)


def test_from_keras_refuses_layers_that_are_not_cells():
    with pytest.raises(TypeError, match="no exact TF1 cell for LSTM"):
        compat.from_keras_cell(keras.layers.LSTM(3))


def test_converted_keras_cell_runs_in_the_fused_keras_lstm_layer():
    """The point of converting: a trained TF1 LSTM onto keras.layers.LSTM (cuDNN-capable)."""
    cell = rnn_cell.BasicLSTMCell(5)
    cell.build((None, 4))
    _randomize(cell)
    keras_cell = compat.to_keras_cell(cell)
    layer = keras.layers.LSTM(5, return_sequences=True)
    layer.build((None, 6, 4))
    layer.set_weights(keras_cell.get_weights())
    np.testing.assert_allclose(layer(X).numpy(), nn.dynamic_rnn(cell, X)[0].numpy(), atol=ATOL)
