"""TF1 contrib's ``WeightNormLSTMCell``.

TF 2 has no contrib, so the reference is a NumPy transcription of its math
(``contrib_conv_phased_ref.py``): outputs and states over ragged sequences in ``nn.dynamic_rnn``
(1e-5), the gradients of the inputs, the initial state and every weight against float64 central
differences, contrib's variable names and shapes (written here from contrib's source), the
equivalence ``norm=False`` == ``LSTMCell``, initializers, argument errors and the Keras baseline
(``keras.layers.RNN``, ``.keras`` round trip).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell, check_gradients_by_finite_differences
from contrib_conv_phased_ref import weight_norm_lstm_step
from numpy_ref import dynamic_rnn as np_dynamic_rnn

from tfseq import nn, rnn_cell

B, T, D = 3, 5, 4
RAGGED = np.array([5, 2, 0], np.int32)
SCOPE = "weight_norm_lstm_cell/wn_lstm_cell"

# name -> (make_cell(**keras_kwargs), NumPy step options, {TF1 name: shape})
CASES = {
    "norm": (lambda **kw: rnn_cell.WeightNormLSTMCell(5, **kw), {},
             {f"{SCOPE}/{k}": v for k, v in {"kernel": (D + 5, 20), "norm_0": (20,), "norm_1": (20,),
                                              "bias": (20,)}.items()}),
    "norm_peepholes_projection_clips": (
        lambda **kw: rnn_cell.WeightNormLSTMCell(5, use_peepholes=True, cell_clip=0.6, num_proj=3, proj_clip=0.25,
                                                 forget_bias=0.4, activation="relu", **kw),
        {"forget_bias": 0.4, "cell_clip": 0.6, "proj_clip": 0.25, "activation": lambda z: np.maximum(z, 0.0)},
        {f"{SCOPE}/{k}": v for k, v in {
            "kernel": (D + 3, 20), "norm_0": (20,), "norm_1": (20,), "bias": (20,), "w_f_diag": (5,),
            "w_i_diag": (5,), "w_o_diag": (5,), "projection/kernel": (5, 3), "projection/norm_0": (3,)}.items()}),
    "no_norm_projection": (
        lambda **kw: rnn_cell.WeightNormLSTMCell(4, norm=False, num_proj=2, **kw), {},
        {f"{SCOPE}/{k}": v for k, v in {"kernel": (D + 2, 16), "bias": (16,), "projection/kernel": (4, 2)}.items()}),
}


def _key(tf1_name):
    return tf1_name[len(SCOPE) + 1:]


def _built(name, dtype):
    cell = CASES[name][0](dtype=dtype)
    cell.build((None, D))
    rng = np.random.default_rng(sorted(CASES).index(name))
    for v in cell.trainable_weights:
        v.assign(rng.uniform(-0.8, 0.8, v.shape).astype(dtype))
    weights = {_key(k): v.numpy() for k, v in cell.tf1_variables().items()}
    state = rnn_cell.LSTMStateTuple(*(rng.standard_normal((B, n)).astype(dtype) for n in cell.state_size))
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return cell, weights, state, x


def _step(name):
    return lambda x, s, w: weight_norm_lstm_step(x, s, w, **CASES[name][1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    cell, w, state, x = _built(name, "float32")
    want_y, want_state = np_dynamic_rnn(lambda x_t, s: _step(name)(x_t, s, w), x, tuple(state), RAGGED)
    y, final = nn.dynamic_rnn(cell, tf.constant(x), sequence_length=RAGGED, initial_state=state)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(final, want_state):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy_finite_differences(name):
    cell, w, state, x = _built(name, "float64")
    check_gradients_by_finite_differences(cell, _step(name), x, state, w, weight_key=_key, np_state=tuple)


@pytest.mark.parametrize("name", sorted(CASES))
def test_tf1_variable_names_and_shapes(name):
    cell = CASES[name][0]()
    nn.dynamic_rnn(cell, np.zeros((B, T, D), np.float32))
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == CASES[name][2]


def test_without_norm_equals_lstm_cell():
    """contrib: norm=False gives LSTMCell's numbers (same weights, other names)."""
    kwargs = dict(use_peepholes=True, cell_clip=0.8, num_proj=3, proj_clip=0.5, forget_bias=0.3)
    weight_norm = rnn_cell.WeightNormLSTMCell(5, norm=False, **kwargs)
    lstm = rnn_cell.LSTMCell(5, **kwargs)
    x = np.random.default_rng(0).standard_normal((B, T, D)).astype(np.float32)
    y_wn, state_wn = nn.dynamic_rnn(weight_norm, x, sequence_length=RAGGED)
    nn.dynamic_rnn(lstm, x)
    lstm_weights = {k.split("/", 1)[1]: v for k, v in lstm.tf1_variables().items()}
    for name, v in weight_norm.tf1_variables().items():
        lstm_weights[_key(name)].assign(v)
    y_lstm, state_lstm = nn.dynamic_rnn(lstm, x, sequence_length=RAGGED)
    np.testing.assert_allclose(y_wn.numpy(), y_lstm.numpy(), atol=1e-6)
    np.testing.assert_allclose(state_wn.c.numpy(), state_lstm.c.numpy(), atol=1e-6)


def test_initializers():
    """Kernels, gains and peepholes take the cell's initializer, else the TF1 variable scope's; the bias zeros."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.25)):
        scoped = rnn_cell.WeightNormLSTMCell(4, use_peepholes=True, num_proj=2)
        own = rnn_cell.WeightNormLSTMCell(4, initializer=keras.initializers.Constant(-0.5))
    scoped.build((None, D))
    own.build((None, D))
    for name, v in scoped.tf1_variables().items():
        np.testing.assert_array_equal(v.numpy(), 0.0 if name.endswith("/bias") else 0.25, err_msg=name)
    np.testing.assert_array_equal(own.kernel.numpy(), -0.5)
    np.testing.assert_array_equal(own.gains[1].numpy(), -0.5)


@pytest.mark.parametrize("make_bad, match", [
    (lambda: rnn_cell.WeightNormLSTMCell(0), "WeightNormLSTMCell: num_units must be a positive integer, got 0"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, norm=None), "norm must be True or False, got None"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, use_peepholes="no"), "use_peepholes must be True or False, got 'no'"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, cell_clip=-1.0), "cell_clip must be a number >= 0 or None, got -1.0"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, num_proj=0), "num_proj must be a positive integer, got 0"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, proj_clip=1.0), "proj_clip=1.0 needs num_proj"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, forget_bias=None), "forget_bias must be a number, got None"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, activation="nope"), "unknown activation 'nope'"),
    (lambda: rnn_cell.WeightNormLSTMCell(4, reuse=True), "reuse=True has no meaning"),
])
def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


def test_keras_baseline(tmp_path):
    """One step, config round trip, keras.layers.RNN == a loop, tf.function, .keras save/load, training."""
    check_cell(lambda: rnn_cell.WeightNormLSTMCell(4, use_peepholes=True, num_proj=2), tmp_path, depth=3,
               weight_shapes={f"{SCOPE}/{k}": v for k, v in {
                   "kernel": (5, 16), "norm_0": (16,), "norm_1": (16,), "bias": (16,), "w_f_diag": (4,),
                   "w_i_diag": (4,), "w_o_diag": (4,), "projection/kernel": (4, 2), "projection/norm_0": (2,)}.items()})
