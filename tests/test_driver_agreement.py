"""The TF1 drivers agree as TF1's do: ``static_rnn`` and ``dynamic_rnn`` give bit-identical
results for the same cell, and NumPy data is converted as a TF1 placeholder converted it."""

import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq.nn import fused

B, T, D = 3, 5, 4
X = np.random.default_rng(7).normal(size=(B, T, D)).astype(np.float32)
LENGTHS = np.array([5, 2, 0], np.int32)

CELLS = {
    "basic_lstm": lambda: rnn_cell.BasicLSTMCell(3, forget_bias=1.0),
    "lstm_full": lambda: rnn_cell.LSTMCell(3, use_peepholes=True, cell_clip=0.5, num_proj=2, proj_clip=0.4),
    "gru": lambda: rnn_cell.GRUCell(3),
    "basic_rnn": lambda: rnn_cell.BasicRNNCell(3),
    "block_lstm": lambda: rnn_cell.LSTMBlockCell(3, use_peephole=True, cell_clip=0.5),
    "multi_dropout": lambda: rnn_cell.MultiRNNCell([
        rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(3), output_keep_prob=0.7, seed=3),
        rnn_cell.GRUCell(2),
    ]),
}


def _both(cell, x, **kwargs):
    """``(dynamic, static)``, each ``[outputs [batch, time, out]] + flat final state`` and the
    gradients of a loss over both with respect to the inputs and the cell's weights."""
    results = []
    for driver in ("dynamic", "static"):
        x_var = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_var)
            if driver == "dynamic":
                outputs, state = nn.dynamic_rnn(cell, x_var, dtype=tf.float32, **kwargs)
            else:
                steps, state = nn.static_rnn(cell, tf.unstack(x_var, axis=1), dtype=tf.float32, **kwargs)
                outputs = tf.stack(steps, 1)
            loss = tf.reduce_sum(tf.sin(outputs)) + sum(tf.reduce_sum(s * s) for s in tf.nest.flatten(state))
        grads = tape.gradient(loss, [x_var] + cell.trainable_weights)
        results.append([outputs] + tf.nest.flatten(state) + grads)
    return results


def _assert_identical(dynamic, static):
    assert len(dynamic) == len(static)
    for a, b in zip(dynamic, static):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name", sorted(CELLS))
def test_static_rnn_is_bit_identical_to_dynamic_rnn_where_the_cell_runs_fused(name):
    cell = CELLS[name]()
    assert fused.plan(cell, tf.constant(X), training=False).path != fused.PER_STEP
    _ = nn.dynamic_rnn(cell, X)  # build
    for v in cell.trainable_weights:  # non-trivial biases and peepholes
        v.assign(np.random.default_rng(len(v.path)).uniform(-0.5, 0.5, v.shape).astype(np.float32))
    _assert_identical(*_both(cell, X, sequence_length=LENGTHS, training=False))
    _assert_identical(*_both(cell, X[:, :2], training=False))  # short and unrolled

    @tf.function
    def in_function():
        return _both(cell, X, sequence_length=LENGTHS, training=False)

    _assert_identical(*in_function())  # both compiled by the same XLA program


def test_static_and_dynamic_draw_the_same_variational_masks():
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(3), input_keep_prob=0.6, output_keep_prob=0.7,
                                   state_keep_prob=0.8, variational_recurrent=True, input_size=D, seed=5)
    _ = nn.dynamic_rnn(cell, X)
    results = []
    for driver in ("dynamic", "static"):
        cell.sequence_seed.state.assign([4, 0])
        if driver == "dynamic":
            outputs, state = nn.dynamic_rnn(cell, X, training=True)
        else:
            steps, state = nn.static_rnn(cell, list(np.transpose(X, [1, 0, 2])), training=True)
            outputs = tf.stack(steps, 1)
        results.append([outputs] + tf.nest.flatten(state))
    assert np.mean(results[0][0].numpy() == 0) > 0.1  # dropout did drop
    _assert_identical(*results)


def test_static_rnn_fast_false_and_a_per_step_cell_still_step():
    cell = rnn_cell.ResidualWrapper(rnn_cell.GRUCell(D), residual_fn=lambda inputs, outputs: inputs - outputs)
    assert fused.plan(cell).path == fused.PER_STEP
    steps, _ = nn.static_rnn(cell, list(np.transpose(X, [1, 0, 2])))
    ref, _ = nn.dynamic_rnn(cell, X)
    np.testing.assert_allclose(tf.stack(steps, 1).numpy(), ref.numpy(), atol=1e-6)
    lstm = rnn_cell.BasicLSTMCell(3)
    fast, _ = nn.static_rnn(lstm, list(np.transpose(X, [1, 0, 2])))
    slow, _ = nn.static_rnn(lstm, list(np.transpose(X, [1, 0, 2])), fast=False)
    np.testing.assert_allclose(tf.stack(fast, 1).numpy(), tf.stack(slow, 1).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="fast=True but .* cannot run fused"):
        nn.static_rnn(cell, list(np.transpose(X, [1, 0, 2])), fast=True)


# -- NumPy data as a TF1 placeholder converted it -------------------------------------------

X64 = X.astype(np.float64)
DRIVERS = {
    "dynamic_rnn": lambda c, b, x, **kw: nn.dynamic_rnn(c, x, **kw),
    "static_rnn": lambda c, b, x, **kw: nn.static_rnn(c, list(np.transpose(x, [1, 0, 2])), **kw),
    "bidirectional_dynamic_rnn": lambda c, b, x, **kw: nn.bidirectional_dynamic_rnn(c, b, x, **kw),
    "static_bidirectional_rnn": lambda c, b, x, **kw: nn.static_bidirectional_rnn(
        c, b, list(np.transpose(x, [1, 0, 2])), **kw),
    "stack_bidirectional_dynamic_rnn": lambda c, b, x, **kw: nn.stack_bidirectional_dynamic_rnn([c], [b], x, **kw),
    "stack_bidirectional_rnn": lambda c, b, x, **kw: nn.stack_bidirectional_rnn(
        [c], [b], list(np.transpose(x, [1, 0, 2])), **kw),
}


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_float64_numpy_data_with_float32_dtype_is_converted_like_a_placeholder(driver):
    run = DRIVERS[driver]
    cells = rnn_cell.GRUCell(3), rnn_cell.BasicLSTMCell(2)
    from_float64 = run(*cells, X64, dtype=tf.float32)
    assert {t.dtype for t in tf.nest.flatten(from_float64)} == {tf.float32}
    assert {v.dtype for c in cells for v in c.weights} == {"float32"}
    from_float32 = run(*cells, X, dtype=tf.float32)  # the data a float32 placeholder held
    for a, b in zip(tf.nest.flatten(from_float64), tf.nest.flatten(from_float32)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_numpy_data_takes_the_initial_states_dtype_and_ids_keep_theirs():
    cell = rnn_cell.GRUCell(3)
    y, _ = nn.dynamic_rnn(cell, X64, initial_state=tf.zeros([B, 3]))
    assert y.dtype == tf.float32
    y, _ = nn.dynamic_rnn(rnn_cell.GRUCell(3), X64.tolist())  # Python floats: float32, as TensorFlow has it
    assert y.dtype == tf.float32
    ids = np.array([[1, 2, 0, 3]] * B, np.int64)[..., None]
    embedded = rnn_cell.EmbeddingWrapper(rnn_cell.GRUCell(3), embedding_classes=5, embedding_size=2)
    y, _ = nn.dynamic_rnn(embedded, ids, dtype=tf.float32)
    assert y.dtype == tf.float32


def test_a_tensor_of_another_float_dtype_is_a_type_error_naming_inputs():
    with pytest.raises(TypeError, match=r"dynamic_rnn: inputs is a float64 tensor but dtype=float32; cast it"):
        nn.dynamic_rnn(rnn_cell.GRUCell(3), tf.constant(X64), dtype=tf.float32)
    with pytest.raises(TypeError, match=r"static_rnn: inputs\[0\] is a float64 tensor but dtype=float32"):
        nn.static_rnn(rnn_cell.GRUCell(3), tf.unstack(tf.constant(X64), axis=1), dtype=tf.float32)
