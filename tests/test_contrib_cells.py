"""TF1 contrib's ``SRUCell``, ``IndRNNCell``, ``IndyGRUCell``, ``IndyLSTMCell``, ``UGRNNCell``,
``IntersectionRNNCell`` and ``CoupledInputForgetGateLSTMCell``.

TF 2 has no contrib and TF Addons did not port them, so the reference is a NumPy transcription
of their documented math (``contrib_cells_ref.py``): outputs and states over ragged sequences
in ``nn.dynamic_rnn`` (1e-5), the gradients of the inputs, the initial state and every weight
against float64 central differences of the NumPy reference, contrib's variable names and
shapes (written here from contrib's source), initializers, argument errors and the Keras
baseline (``keras.layers.RNN``, ``.keras`` round trip).
"""

import contrib_cells_ref as ref
import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell, check_gradients_by_finite_differences
from numpy_ref import dynamic_rnn as np_dynamic_rnn

from tfseq import nn, rnn_cell
from tfseq.nn import fused

B, T, D = 3, 5, 4
RAGGED = np.array([5, 2, 0], np.int32)

# name -> (make_cell(**keras_kwargs), NumPy step(x, state, w), {TF1 name: shape})
CASES = {
    "sru": (lambda **kw: rnn_cell.SRUCell(6, **kw), ref.sru_step,
            {"sru_cell/kernel": (D, 4 * 6), "sru_cell/bias": (2 * 6,)}),
    "sru_relu": (lambda **kw: rnn_cell.SRUCell(D, activation="relu", **kw),
                 lambda x, s, w: ref.sru_step(x, s, w, activation=ref.relu), None),
    "ind_rnn": (lambda **kw: rnn_cell.IndRNNCell(5, **kw), ref.ind_rnn_step,
                {"ind_rnn_cell/kernel_w": (D, 5), "ind_rnn_cell/kernel_u": (1, 5), "ind_rnn_cell/bias": (5,)}),
    "ind_rnn_relu": (lambda **kw: rnn_cell.IndRNNCell(5, activation=tf.nn.relu, **kw),
                     lambda x, s, w: ref.ind_rnn_step(x, s, w, activation=ref.relu), None),
    "indy_gru": (lambda **kw: rnn_cell.IndyGRUCell(5, **kw), ref.indy_gru_step, {
        "indy_gru_cell/gates/kernel_w": (D, 10), "indy_gru_cell/gates/kernel_u": (1, 10),
        "indy_gru_cell/gates/bias": (10,), "indy_gru_cell/candidate/kernel": (D, 5),
        "indy_gru_cell/candidate/kernel_u": (1, 5), "indy_gru_cell/candidate/bias": (5,)}),
    "indy_lstm": (lambda **kw: rnn_cell.IndyLSTMCell(5, forget_bias=0.7, **kw),
                  lambda x, s, w: ref.indy_lstm_step(x, s, w, forget_bias=0.7), {
                      "indy_lstm_cell/kernel_w": (D, 20), "indy_lstm_cell/kernel_u": (1, 20),
                      "indy_lstm_cell/bias": (20,)}),
    "ugrnn": (lambda **kw: rnn_cell.UGRNNCell(5, forget_bias=0.5, **kw),
              lambda x, s, w: ref.ugrnn_step(x, s, w, forget_bias=0.5),
              {"ugrnn_cell/kernel": (D + 5, 10), "ugrnn_cell/bias": (10,)}),
    "intersection": (lambda **kw: rnn_cell.IntersectionRNNCell(D, forget_bias=0.3, **kw),
                     lambda x, s, w: ref.intersection_rnn_step(x, s, w, forget_bias=0.3),
                     {"intersection_rnn_cell/kernel": (2 * D, 4 * D), "intersection_rnn_cell/bias": (4 * D,)}),
    "intersection_projected": (
        lambda **kw: rnn_cell.IntersectionRNNCell(5, num_in_proj=5, y_activation="tanh", **kw),
        lambda x, s, w: ref.intersection_rnn_step(x, s, w, y_activation=np.tanh), {
            "intersection_rnn_cell/in_projection/kernel": (D, 5), "intersection_rnn_cell/in_projection/bias": (5,),
            "intersection_rnn_cell/kernel": (10, 20), "intersection_rnn_cell/bias": (20,)}),
    "cifg": (lambda **kw: rnn_cell.CoupledInputForgetGateLSTMCell(5, **kw), ref.cifg_step, {
        "coupled_input_forget_gate_lstm_cell/W_0": (D + 5, 15), "coupled_input_forget_gate_lstm_cell/B": (15,)}),
    "cifg_peepholes_projection_clip": (
        lambda **kw: rnn_cell.CoupledInputForgetGateLSTMCell(5, use_peepholes=True, num_proj=3, proj_clip=0.3,
                                                             forget_bias=0.4, **kw),
        lambda x, s, w: ref.cifg_step(x, s, w, forget_bias=0.4, proj_clip=0.3), {
            **{f"coupled_input_forget_gate_lstm_cell/{k}": v for k, v in {
                "W_0": (D + 3, 15), "B": (15,), "W_F_diag": (5,), "W_O_diag": (5,), "W_P_0": (5, 3)}.items()}}),
    "cifg_layer_norm_concat_state": (
        lambda **kw: rnn_cell.CoupledInputForgetGateLSTMCell(5, use_peepholes=True, layer_norm=True,
                                                             state_is_tuple=False, norm_gain=0.8, **kw),
        lambda x, s, w: ref.cifg_step(x, s, w, state_is_tuple=False), {
            **{f"coupled_input_forget_gate_lstm_cell/{k}": v for k, v in {
                "W_0": (D + 5, 15), "B": (15,), "W_F_diag": (5,), "W_O_diag": (5,)}.items()},
            **{f"coupled_input_forget_gate_lstm_cell/{n}/{p}": (5,) for n in ("transform", "forget", "output", "state")
               for p in ("gamma", "beta")}}),
}


def _built(name, dtype):
    cell = CASES[name][0](dtype=dtype)
    cell.build((None, D))
    rng = np.random.default_rng(sorted(CASES).index(name))
    for v in cell.trainable_weights:
        v.assign(rng.uniform(-0.8, 0.8, v.shape).astype(dtype))
    weights = {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}
    state = tf.nest.map_structure(lambda n: rng.standard_normal((B, n)).astype(dtype), cell.state_size)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return cell, weights, state, x


def _np_state(state):
    """A NumPy reference state: a plain tuple for LSTMStateTuple."""
    return tuple(state) if isinstance(state, tuple) else state


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    cell, w, state, x = _built(name, "float32")
    step = CASES[name][1]
    want_y, want_state = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), x, _np_state(state), RAGGED)
    y, final = nn.dynamic_rnn(cell, tf.constant(x), sequence_length=RAGGED, initial_state=state)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(tf.nest.flatten(final), tf.nest.flatten(want_state)):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    assert fused.plan(cell).path == fused.PER_STEP  # no fused kernel: per step
    # keras.layers.RNN runs the same cell to the same numbers (full lengths)
    keras_y = keras.layers.RNN(cell, return_sequences=True)(x, initial_state=tf.nest.flatten(state))
    full_y, _ = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), x, _np_state(state))
    np.testing.assert_allclose(keras_y.numpy(), full_y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy_finite_differences(name):
    """float64: d(loss)/d(inputs, initial state, every weight) from the tape equals central
    differences of the NumPy reference's loss, along a random direction per source."""
    cell, w, state, x = _built(name, "float64")
    check_gradients_by_finite_differences(cell, CASES[name][1], x, state, w,
                                          weight_key=lambda n: n.split("/", 1)[1], np_state=_np_state)


@pytest.mark.parametrize("name", sorted(k for k, v in CASES.items() if v[2] is not None))
def test_tf1_variable_names_and_shapes(name):
    cell = CASES[name][0]()
    nn.dynamic_rnn(cell, np.zeros((B, T, D), np.float32))
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == CASES[name][2]


def test_initializers():
    """contrib's: diagonal weights uniform in [-1, 1] (whatever the scope's initializer), biases zeros
    but IndyGRUCell's gates/bias (ones); kernels take the TF1 variable scope's initializer."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.25)):
        ind = rnn_cell.IndRNNCell(64)
        gru = rnn_cell.IndyGRUCell(64)
        lstm = rnn_cell.IndyLSTMCell(64, bias_initializer=keras.initializers.Constant(0.5))
        ugrnn = rnn_cell.UGRNNCell(4, initializer=keras.initializers.Constant(-0.5))
    for cell in (ind, gru, lstm, ugrnn):
        cell.build((None, D))
    np.testing.assert_array_equal(ind.kernel_w.numpy(), 0.25)
    for u in (ind.kernel_u, gru.gates_kernel_u, gru.candidate_kernel_u, lstm.kernel_u):
        u = u.numpy()
        assert u.min() >= -1.0 and u.max() <= 1.0 and u.std() > 0.4
    np.testing.assert_array_equal(ind.bias.numpy(), 0.0)
    np.testing.assert_array_equal(gru.gates_bias.numpy(), 1.0)
    np.testing.assert_array_equal(gru.candidate_bias.numpy(), 0.0)
    np.testing.assert_array_equal(gru.candidate_kernel.numpy(), 0.25)
    np.testing.assert_array_equal(lstm.bias.numpy(), 0.5)
    np.testing.assert_array_equal(ugrnn.kernel.numpy(), -0.5)
    np.testing.assert_array_equal(ugrnn.bias.numpy(), 0.0)
    cifg = rnn_cell.CoupledInputForgetGateLSTMCell(4, layer_norm=True, norm_gain=0.7, norm_shift=0.2)
    cifg.build((None, D))
    np.testing.assert_array_equal(cifg.norms["state"][0].numpy(), np.float32(0.7))
    np.testing.assert_array_equal(cifg.norms["forget"][1].numpy(), np.float32(0.2))
    np.testing.assert_array_equal(cifg.bias.numpy(), 0.0)


@pytest.mark.parametrize("make_bad, match", [
    (lambda: rnn_cell.SRUCell(0), "SRUCell: num_units must be a positive integer, got 0"),
    (lambda: rnn_cell.IndRNNCell(4, activation="nope"), "IndRNNCell: unknown activation 'nope'"),
    (lambda: rnn_cell.IndyGRUCell(4, reuse=True), "IndyGRUCell: reuse=True has no meaning"),
    (lambda: rnn_cell.IndyLSTMCell(4, forget_bias="1"), "IndyLSTMCell: forget_bias must be a number, got '1'"),
    (lambda: rnn_cell.UGRNNCell(2.5), "UGRNNCell: num_units must be a positive integer, got 2.5"),
    (lambda: rnn_cell.IntersectionRNNCell(4, num_in_proj=0),
     "IntersectionRNNCell: num_in_proj must be a positive integer, got 0"),
    (lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, proj_clip=1.0), "proj_clip=1.0 needs num_proj"),
    (lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, num_proj=2, proj_clip=-1.0),
     "proj_clip must be a number >= 0 or None, got -1.0"),
    (lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, num_unit_shards=2), "num_unit_shards=2 has no meaning"),
    (lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, use_peepholes=1), "use_peepholes must be True or False"),
    (lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, state_is_tuple=None), "state_is_tuple must be True or"),
    (lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, norm_gain="x"), "norm_gain must be a number, got 'x'"),
])
def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


def test_input_depth_errors_at_build():
    with pytest.raises(ValueError, match="needs input depth == num_units .* or num_in_proj"):
        rnn_cell.IntersectionRNNCell(4).build((None, 3))
    cell = rnn_cell.IntersectionRNNCell(4, num_in_proj=4)  # depth == num_units: contrib adds no projection
    cell.build((None, 4))
    assert sorted(cell.tf1_variables()) == ["intersection_rnn_cell/bias", "intersection_rnn_cell/kernel"]


BASELINE = {
    "SRUCell": (lambda: rnn_cell.SRUCell(3), 3),
    "IndRNNCell": (lambda: rnn_cell.IndRNNCell(4, activation="relu"), 3),
    "IndyGRUCell": (lambda: rnn_cell.IndyGRUCell(4), 3),
    "IndyLSTMCell": (lambda: rnn_cell.IndyLSTMCell(4), 3),
    "UGRNNCell": (lambda: rnn_cell.UGRNNCell(4), 3),
    "IntersectionRNNCell": (lambda: rnn_cell.IntersectionRNNCell(4, num_in_proj=4), 3),
    "CoupledInputForgetGateLSTMCell": (
        lambda: rnn_cell.CoupledInputForgetGateLSTMCell(4, use_peepholes=True, num_proj=2, state_is_tuple=False), 3),
}


@pytest.mark.parametrize("name", sorted(BASELINE))
def test_keras_baseline(name, tmp_path):
    """One step, config round trip, keras.layers.RNN == a loop, tf.function, .keras save/load, training."""
    make, depth = BASELINE[name]
    check_cell(make, tmp_path, depth=depth)
