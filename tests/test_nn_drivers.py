"""tfseq.nn drivers: TF1 semantics against NumPy and hand loops, Keras 3 cells, eager vs tf.function."""

import keras
import numpy as np
import numpy_ref
import pytest
import tensorflow as tf
from cell_harness import randomize

from tfseq import nn, rnn_cell

B, T, D, H = 4, 6, 3, 5
RNG = np.random.default_rng(3)
X_NP = RNG.standard_normal((B, T, D)).astype(np.float32)
X = tf.constant(X_NP)
LENGTHS = np.array([6, 4, 1, 0], np.int32)


def tf1_weights(cell):
    return {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}


@pytest.mark.parametrize("name", ["basic_rnn", "lstm_peep_proj", "lstm_not_tuple", "gru"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_dynamic_rnn_matches_numpy(name, ragged):
    cell, step = {
        "basic_rnn": (rnn_cell.BasicRNNCell(H), lambda x, s, w: numpy_ref.basic_rnn_step(x, s, w)),
        "lstm_peep_proj": (rnn_cell.LSTMCell(H, use_peepholes=True, num_proj=2, forget_bias=0.3),
                           lambda x, s, w: numpy_ref.lstm_step(x, *s, w, forget_bias=0.3)),
        "lstm_not_tuple": (rnn_cell.BasicLSTMCell(H, state_is_tuple=False), None),
        "gru": (rnn_cell.GRUCell(H), lambda x, s, w: numpy_ref.gru_step(x, s, w)),
    }[name]
    cell.build((B, D))
    randomize(cell)
    w = tf1_weights(cell)
    if name == "lstm_not_tuple":  # NumPy state is the concatenated [c, h]
        def step(x, s, w):
            y, (c, h) = numpy_ref.lstm_step(x, s[:, :H], s[:, H:], w)
            return y, np.concatenate([c, h], 1)
    seq = LENGTHS if ragged else None
    flat_init = [RNG.standard_normal((B, n)).astype(np.float32) for n in tf.nest.flatten(cell.state_size)]
    init_np = tuple(flat_init) if len(flat_init) > 1 else flat_init[0]
    y_ref, s_ref = numpy_ref.dynamic_rnn(lambda x, s: step(x, s, w), X_NP, init_np, seq)
    y, s = nn.dynamic_rnn(cell, X, sequence_length=seq,
                          initial_state=tf.nest.pack_sequence_as(cell.state_size, flat_init))
    np.testing.assert_allclose(y.numpy(), y_ref, atol=1e-5)
    for got, want in zip(tf.nest.flatten(s), tf.nest.flatten(s_ref)):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)
    if ragged:  # zero-length row: zero outputs, state is the initial state
        assert np.all(y.numpy()[3] == 0)
        for got, init in zip(tf.nest.flatten(s), flat_init):
            np.testing.assert_array_equal(got.numpy()[3], init[3])


KERAS_CELLS = {
    "LSTMCell": lambda: keras.layers.LSTMCell(H),
    "GRUCell": lambda: keras.layers.GRUCell(H),
    "SimpleRNNCell": lambda: keras.layers.SimpleRNNCell(H),
}


@pytest.mark.parametrize("name", list(KERAS_CELLS))
def test_dynamic_rnn_with_keras_cells_equals_hand_loop(name):
    cell = KERAS_CELLS[name]()
    y, state = nn.dynamic_rnn(cell, X, sequence_length=LENGTHS)
    assert y.shape == (B, T, H)
    for row, length in enumerate(LENGTHS):
        s = cell.get_initial_state(batch_size=1)
        for t in range(T):
            out, s = cell(X[row : row + 1, t], s)
            if t < length:
                np.testing.assert_allclose(y[row, t].numpy(), out[0].numpy(), atol=1e-6)
                final = s
            else:
                assert np.all(y[row, t].numpy() == 0)
        if length == 0:
            final = cell.get_initial_state(batch_size=1)
        for got, want in zip(tf.nest.flatten(state), tf.nest.flatten(final)):
            np.testing.assert_allclose(got[row].numpy(), want[0].numpy(), atol=1e-6)


def test_keras_lstm_cell_with_converted_weights_equals_tf1_basic_lstm():
    """TF1 kernel [x; h] x (i, j, f, o) -> Keras kernel/recurrent_kernel x (i, f, c, o), forget_bias in the bias."""
    tf1_cell = rnn_cell.BasicLSTMCell(H, forget_bias=1.0)
    tf1_cell.build((B, D))
    randomize(tf1_cell, seed=5)
    y_tf1, s_tf1 = nn.dynamic_rnn(tf1_cell, X, sequence_length=LENGTHS)
    w = tf1_weights(tf1_cell)

    def reorder(m):  # (i, j, f, o) -> (i, f, j, o)
        i, j, f, o = np.split(m, 4, axis=-1)
        return np.concatenate([i, f, j, o], -1)

    bias = w["bias"].copy()
    bias[2 * H : 3 * H] += 1.0  # forget_bias
    keras_cell = keras.layers.LSTMCell(H)
    keras_cell.build((B, D))
    keras_cell.set_weights([reorder(w["kernel"][:D]), reorder(w["kernel"][D:]), reorder(bias)])
    y_keras, (h_keras, c_keras) = nn.dynamic_rnn(keras_cell, X, sequence_length=LENGTHS)
    np.testing.assert_allclose(y_keras.numpy(), y_tf1.numpy(), atol=1e-5)
    np.testing.assert_allclose(c_keras.numpy(), s_tf1.c.numpy(), atol=1e-5)
    np.testing.assert_allclose(h_keras.numpy(), s_tf1.h.numpy(), atol=1e-5)


def test_keras_gru_cell_reset_before_equals_tf1_gru():
    """TF1 GRU (r, u) == Keras GRUCell(reset_after=False) (z, r, h) with blocks reordered."""
    tf1_cell = rnn_cell.GRUCell(H)
    tf1_cell.build((B, D))
    randomize(tf1_cell, seed=6)
    w = tf1_weights(tf1_cell)
    r_k, u_k = np.split(w["gates/kernel"], 2, axis=1)
    r_b, u_b = np.split(w["gates/bias"], 2)
    kernel = np.concatenate([u_k, r_k, w["candidate/kernel"]], 1)  # [D + H, 3H] as (z, r, h)
    keras_cell = keras.layers.GRUCell(H, reset_after=False)
    keras_cell.build((B, D))
    keras_cell.set_weights([kernel[:D], kernel[D:], np.concatenate([u_b, r_b, w["candidate/bias"]])])
    y_tf1, s_tf1 = nn.dynamic_rnn(tf1_cell, X)
    y_keras, s_keras = nn.dynamic_rnn(keras_cell, X)
    np.testing.assert_allclose(y_keras.numpy(), y_tf1.numpy(), atol=1e-5)
    np.testing.assert_allclose(tf.nest.flatten(s_keras)[0].numpy(), s_tf1.numpy(), atol=1e-5)


@pytest.mark.parametrize("make_cell", [lambda: rnn_cell.LSTMCell(H, use_peepholes=True, num_proj=2),
                                       lambda: rnn_cell.GRUCell(H), lambda: keras.layers.LSTMCell(H)],
                         ids=["tfseq_lstm", "tfseq_gru", "keras_lstm"])
def test_eager_equals_tf_function_with_unknown_shapes(make_cell):
    cell = make_cell()

    def run(x, seq):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y, state = nn.dynamic_rnn(cell, x, sequence_length=seq)
            loss = tf.reduce_sum(y * y) + sum(tf.reduce_sum(s) for s in tf.nest.flatten(state))
        return y, state, tape.gradient(loss, [x] + cell.trainable_weights)

    traced = tf.function(run, input_signature=[tf.TensorSpec([None, None, D]), tf.TensorSpec([None], tf.int32)])
    graph_results = traced(X, LENGTHS)  # first call builds the cell inside the trace
    eager_results = run(X, tf.constant(LENGTHS))
    for got, want in zip(tf.nest.flatten(graph_results), tf.nest.flatten(eager_results)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    width = cell.output_size if hasattr(cell, "output_size") else H
    assert traced(X[:2, :3], LENGTHS[:2] // 2)[0].shape == (2, 3, width)


def test_time_major_equals_batch_major():
    cell = rnn_cell.GRUCell(H)
    y, s = nn.dynamic_rnn(cell, X, sequence_length=LENGTHS)
    y_tm, s_tm = nn.dynamic_rnn(cell, tf.transpose(X, [1, 0, 2]), sequence_length=LENGTHS, time_major=True)
    np.testing.assert_allclose(tf.transpose(y_tm, [1, 0, 2]).numpy(), y.numpy(), atol=1e-6)
    np.testing.assert_allclose(s_tm.numpy(), s.numpy(), atol=1e-6)


def test_static_rnn_equals_dynamic_rnn():
    cell = rnn_cell.LSTMCell(H, use_peepholes=True)
    y, s = nn.dynamic_rnn(cell, X, sequence_length=LENGTHS)
    y_list, s_static = nn.static_rnn(cell, tf.unstack(X, axis=1), sequence_length=LENGTHS)
    assert len(y_list) == T
    np.testing.assert_allclose(tf.stack(y_list, 1).numpy(), y.numpy(), atol=1e-6)
    np.testing.assert_allclose(s_static.c.numpy(), s.c.numpy(), atol=1e-6)


def test_bidirectional_backward_reverses_within_each_length():
    cell_fw, cell_bw = rnn_cell.GRUCell(H), rnn_cell.BasicLSTMCell(3)
    (y_fw, y_bw), (s_fw, s_bw) = nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, X, sequence_length=LENGTHS)
    y_ref, s_ref = nn.dynamic_rnn(cell_fw, X, sequence_length=LENGTHS)
    np.testing.assert_allclose(y_fw.numpy(), y_ref.numpy(), atol=1e-6)
    for row, length in enumerate(LENGTHS):
        if length == 0:
            assert np.all(y_bw[row].numpy() == 0)
            continue
        reversed_row = X[row : row + 1, :length][:, ::-1]
        y_row, s_row = nn.dynamic_rnn(cell_bw, reversed_row)
        np.testing.assert_allclose(y_bw[row, :length].numpy(), y_row[0, ::-1].numpy(), atol=1e-6)
        assert np.all(y_bw[row, length:].numpy() == 0)
        np.testing.assert_allclose(s_bw.h[row].numpy(), s_row.h[0].numpy(), atol=1e-6)


def test_static_bidirectional_rnn_concatenates_directions():
    cell_fw, cell_bw = rnn_cell.GRUCell(H), rnn_cell.GRUCell(2)
    (y_fw, y_bw), (s_fw, s_bw) = nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, X, sequence_length=LENGTHS)
    outputs, s_fw2, s_bw2 = nn.static_bidirectional_rnn(cell_fw, cell_bw, tf.unstack(X, axis=1),
                                                        sequence_length=LENGTHS)
    assert len(outputs) == T and outputs[0].shape == (B, H + 2)
    np.testing.assert_allclose(tf.stack(outputs, 1).numpy(), tf.concat([y_fw, y_bw], 2).numpy(), atol=1e-6)
    np.testing.assert_allclose(s_bw2.numpy(), s_bw.numpy(), atol=1e-6)


def test_training_flag_reaches_the_cell():
    cell = keras.layers.LSTMCell(H, dropout=0.5, seed=1)
    y_infer, _ = nn.dynamic_rnn(cell, X, training=False)
    y_default, _ = nn.dynamic_rnn(cell, X)
    y_train, _ = nn.dynamic_rnn(cell, X, training=True)
    np.testing.assert_allclose(y_default.numpy(), y_infer.numpy(), atol=1e-6)
    assert np.abs(y_train.numpy() - y_infer.numpy()).max() > 1e-3


def test_zero_state_dtype_and_scope():
    cell = rnn_cell.BasicLSTMCell(H)
    state = cell.zero_state(B, tf.float32)
    assert isinstance(state, rnn_cell.LSTMStateTuple) and state.dtype == tf.float32
    y, _ = nn.dynamic_rnn(cell, X, dtype=tf.float32, scope="encoder")
    y2, _ = nn.dynamic_rnn(cell, X)  # the scope names ops only; the weights are the cell's
    np.testing.assert_array_equal(y.numpy(), y2.numpy())

    def op_scopes(fast, **kwargs):  # the top-level name scopes of the traced graph's ops
        fn = tf.function(lambda x: nn.dynamic_rnn(cell, x, fast=fast, **kwargs)[0])
        graph = fn.get_concrete_function(tf.TensorSpec(X.shape, tf.float32)).graph
        return {op.name.split("/")[0] for op in graph.get_operations() if "/" in op.name}

    for fast in (False, None):  # the per-step loop and the fused path
        assert op_scopes(fast, scope="encoder") == {"encoder"}
        assert op_scopes(fast) == {"rnn"}  # TF1's default scope


def test_dynamic_rnn_feeds_integer_ids_to_an_embedding_wrapper():
    """TF1 pattern: EmbeddingWrapper + dynamic_rnn over int ids [batch, time, 1]."""
    cell = rnn_cell.EmbeddingWrapper(rnn_cell.GRUCell(4), embedding_classes=10, embedding_size=3)
    ids = np.random.RandomState(0).randint(0, 10, (2, 5, 1)).astype(np.int32)
    outputs, state = nn.dynamic_rnn(cell, ids, sequence_length=[5, 3])
    assert outputs.dtype == tf.float32 and state.dtype == tf.float32
    # equals looking the ids up first and running the bare cell on the vectors
    embedded = tf.gather(cell.tf1_variables()["embedding_wrapper/embedding"], ids[..., 0])
    expected, expected_state = nn.dynamic_rnn(cell.cell, embedded, sequence_length=[5, 3])
    np.testing.assert_allclose(outputs, expected, atol=1e-6)
    np.testing.assert_allclose(state, expected_state, atol=1e-6)
