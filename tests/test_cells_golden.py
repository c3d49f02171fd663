"""Goldens with provenance: TF1's own published numbers, the NumPy reference beside them.

TF1's ``rnn_cell_test.py`` (testGRUCell, testBasicLSTMCell / testLSTMBlockCell) builds
the cells under ``variable_scope("root", initializer=constant_initializer(0.5))`` and
feeds ``x=[[1, 1]]`` and every state entry 0.1. The scope initializer reaches only the
kernels: TF1 creates LSTM biases with ``zeros_initializer`` and GRU biases with 1.0
(gates) / 0.0 (candidate). :func:`test_tf1_itself_publishes_these_numbers` re-runs that
exact set-up on the real TF1 code and reads the biases back, so the layout is measured,
not assumed.
"""

import keras
import numpy as np
import numpy_ref
import pytest
import tensorflow as tf
from cell_harness import half_kernels as _half_kernels
from tf1_reference import run_tf1

from tfseq import rnn_cell

GRU_PUBLISHED = 0.175991
LSTM_STACK_PUBLISHED = {"output": 0.24024698, "c0": 0.68967271, "h0": 0.44848421, "c1": 0.39897051, "h1": 0.24024698}

X = np.array([[1.0, 1.0]], np.float32)
STATE = np.full([1, 2], 0.1, np.float32)


def test_tf1_itself_publishes_these_numbers():
    out = run_tf1(
        """
        x = tf1.constant(inputs["x"]); m = tf1.constant(inputs["m"])
        with tf1.variable_scope("root", initializer=tf1.constant_initializer(0.5)):
            g, _ = tf1.nn.rnn_cell.GRUCell(2)(x, m)
            cells = [tf1.nn.rnn_cell.BasicLSTMCell(2) for _ in range(2)]
            y, ((c0, h0), (c1, h1)) = tf1.nn.rnn_cell.MultiRNNCell(cells)(x, ((m, m), (m, m)))
        sess.run(tf1.global_variables_initializer())
        for key, t in dict(gru=g, output=y, c0=c0, h0=h0, c1=c1, h1=h1).items():
            outputs[key] = sess.run(t)
        for v in tf1.global_variables():
            outputs["var:" + v.op.name] = sess.run(v)
        """,
        {"x": X, "m": STATE},
    )
    np.testing.assert_allclose(out["gru"], [[GRU_PUBLISHED] * 2], atol=1e-6)
    for key, value in LSTM_STACK_PUBLISHED.items():
        np.testing.assert_allclose(out[key], [[value] * 2], atol=1e-7, err_msg=key)
    # the weight layout behind the numbers: kernels 0.5, LSTM biases 0, GRU gate bias 1, candidate bias 0
    lstm0 = "var:root/multi_rnn_cell/cell_0/basic_lstm_cell/"
    assert np.all(out[lstm0 + "kernel"] == 0.5) and np.all(out[lstm0 + "bias"] == 0.0)
    assert np.all(out["var:root/gru_cell/gates/kernel"] == 0.5)
    assert np.all(out["var:root/gru_cell/gates/bias"] == 1.0)
    assert np.all(out["var:root/gru_cell/candidate/bias"] == 0.0)


def test_gru_published_number():
    cell = rnn_cell.GRUCell(2, kernel_initializer=keras.initializers.Constant(0.5))
    h, _ = cell(tf.constant(X), tf.constant(STATE))
    # default biases are TF1's: gates 1.0, candidate 0.0
    weights = {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}
    assert np.all(weights["gates/bias"] == 1.0) and np.all(weights["candidate/bias"] == 0.0)
    expected, _ = numpy_ref.gru_step(X, STATE, weights)
    np.testing.assert_allclose(expected, [[GRU_PUBLISHED] * 2], atol=1e-6)  # NumPy reference
    np.testing.assert_allclose(h.numpy(), [[GRU_PUBLISHED] * 2], atol=1e-6)  # tfseq


@pytest.mark.parametrize("state_is_tuple", [True, False])
def test_two_stacked_basic_lstm_published_numbers(state_is_tuple):
    cells = [rnn_cell.BasicLSTMCell(2, state_is_tuple=state_is_tuple) for _ in range(2)]
    state = rnn_cell.LSTMStateTuple(tf.constant(STATE), tf.constant(STATE))
    if not state_is_tuple:  # TF1's [1, 4] concatenated [c, h] per layer
        state = tf.concat(state, 1)
    # stack by hand: layer 1 reads layer 0's output
    for cell in cells:
        cell.build((1, 2))
        _half_kernels(cell)
    y0, s0 = cells[0](tf.constant(X), state)
    y1, s1 = cells[1](y0, state)
    if not state_is_tuple:
        np.testing.assert_allclose(
            tf.concat([s0, s1], 1).numpy(),
            [[0.68967271, 0.68967271, 0.44848421, 0.44848421, 0.39897051, 0.39897051, 0.24024698, 0.24024698]],
            atol=1e-6,
        )
        s0, s1 = (rnn_cell.LSTMStateTuple(s[:, :2], s[:, 2:]) for s in (s0, s1))
    got = {"output": y1, "c0": s0.c, "h0": s0.h, "c1": s1.c, "h1": s1.h}

    # NumPy reference beside the golden
    w = {"kernel": np.full([4, 8], 0.5), "bias": np.zeros(8)}
    ref_y0, (ref_c0, ref_h0) = numpy_ref.lstm_step(X, STATE, STATE, w)
    ref_y1, (ref_c1, ref_h1) = numpy_ref.lstm_step(ref_y0, STATE, STATE, w)
    ref = {"output": ref_y1, "c0": ref_c0, "h0": ref_h0, "c1": ref_c1, "h1": ref_h1}
    for key, published in LSTM_STACK_PUBLISHED.items():
        np.testing.assert_allclose(ref[key], [[published] * 2], atol=1e-6, err_msg=f"numpy {key}")
        np.testing.assert_allclose(got[key].numpy(), [[published] * 2], atol=1e-6, err_msg=f"tfseq {key}")


# ---- every cell option, one step, against the NumPy reference with random weights -------------
NUMPY_CASES = {
    "basic_rnn": ("BasicRNNCell(3)", numpy_ref.basic_rnn_step, {}),
    "basic_rnn_relu": ("BasicRNNCell(3, activation='relu')", numpy_ref.basic_rnn_step,
                       {"activation": lambda z: np.maximum(z, 0)}),
    "basic_lstm_fb0": ("BasicLSTMCell(3, forget_bias=0.0)", numpy_ref.lstm_step, {"forget_bias": 0.0}),
    "basic_lstm_fb2.5": ("BasicLSTMCell(3, forget_bias=2.5)", numpy_ref.lstm_step, {"forget_bias": 2.5}),
    "lstm_peep_clip": (
        "LSTMCell(3, use_peepholes=True, cell_clip=0.5)", numpy_ref.lstm_step, {"cell_clip": 0.5}),
    "lstm_proj_clip": (
        "LSTMCell(3, num_proj=2, proj_clip=0.1)", numpy_ref.lstm_step, {"proj_clip": 0.1}),
    "lstm_softsign": (
        "LSTMCell(3, activation='softsign')", numpy_ref.lstm_step, {"activation": lambda z: z / (1 + np.abs(z))}),
    "gru": ("GRUCell(3)", numpy_ref.gru_step, {}),
    "gru_sigmoid": ("GRUCell(3, activation='sigmoid')", numpy_ref.gru_step, {"activation": numpy_ref.sigmoid}),
}


@pytest.mark.parametrize("name", list(NUMPY_CASES))
def test_one_step_matches_numpy(name):
    expr, step, kwargs = NUMPY_CASES[name]
    cell = eval("rnn_cell." + expr, {"rnn_cell": rnn_cell})
    rng = np.random.default_rng(7)
    x = 2.0 * rng.standard_normal((4, 5)).astype(np.float32)
    cell.build(x.shape)
    weights = {}
    for key, variable in cell.tf1_variables().items():
        weights[key.split("/", 1)[1]] = rng.uniform(-1, 1, variable.shape).astype(np.float32)
        variable.assign(weights[key.split("/", 1)[1]])
    flat_state = [rng.standard_normal((4, n)).astype(np.float32) for n in tf.nest.flatten(cell.state_size)]
    y, new_state = cell(tf.constant(x), tf.nest.pack_sequence_as(cell.state_size, flat_state))
    ref_y, ref_state = step(x, *flat_state, weights, **kwargs)
    np.testing.assert_allclose(y.numpy(), ref_y, atol=1e-5)
    for got, want in zip(tf.nest.flatten(new_state), tf.nest.flatten(ref_state)):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)
