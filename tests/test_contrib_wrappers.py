"""TF1 contrib's ``HighwayWrapper``, ``AttentionCellWrapper``, ``LayerNormLSTMCell`` and ``GLSTMCell``.

TF 2 has no contrib and TF Addons did not port them, so the reference is a NumPy transcription of
contrib's math (``contrib_cells_ref.py``): outputs and states over ragged sequences in
``nn.dynamic_rnn`` and full ones in ``keras.layers.RNN`` (1e-5), the gradients of the inputs, the
initial state and every weight against float64 central differences of the NumPy reference,
contrib's variable names and shapes (written here from contrib's source), initializers, argument
errors and the Keras baseline (``keras.layers.RNN``, ``.keras`` round trip).
"""

import contrib_cells_ref as ref
import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell, check_gradients_by_finite_differences
from numpy_ref import dynamic_rnn as np_dynamic_rnn
from numpy_ref import gru_step, lstm_step

from tfseq import nn, rnn_cell
from tfseq.nn import fused

B, T, D = 3, 5, 4
RAGGED = np.array([5, 2, 0], np.int32)


def sub(w, prefix):
    """The weights under ``prefix``, keyed by the rest of their names."""
    return {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}


def _lstm(prefix):
    return lambda x, s, w: lstm_step(x, s[0], s[1], sub(w, prefix))


def _gru(prefix):
    return lambda x, s, w: gru_step(x, s, sub(w, prefix))


AW = "attention_cell_wrapper/"

# name -> (make_cell(**keras_kwargs), NumPy step(x, state, w) on full TF1 names, {TF1 name: shape})
CASES = {
    "highway": (
        lambda **kw: rnn_cell.HighwayWrapper(rnn_cell.LSTMCell(D, **kw), **kw),
        lambda x, s, w: ref.highway_step(x, s, w, _lstm("lstm_cell/")),
        {"carry_w": (D, D), "carry_b": (D,), "lstm_cell/kernel": (2 * D, 4 * D), "lstm_cell/bias": (4 * D,)}),
    "highway_uncoupled": (
        lambda **kw: rnn_cell.HighwayWrapper(rnn_cell.GRUCell(D, **kw), couple_carry_transform_gates=False,
                                             carry_bias_init=0.5, **kw),
        lambda x, s, w: ref.highway_step(x, s, w, _gru("gru_cell/"), coupled=False),
        {"carry_w": (D, D), "carry_b": (D,), "transform_w": (D, D), "transform_b": (D,),
         "gru_cell/gates/kernel": (2 * D, 2 * D), "gru_cell/gates/bias": (2 * D,),
         "gru_cell/candidate/kernel": (2 * D, D), "gru_cell/candidate/bias": (D,)}),
    "attention": (
        lambda **kw: rnn_cell.AttentionCellWrapper(rnn_cell.LSTMCell(5, **kw), attn_length=3, **kw),
        lambda x, s, w: ref.attention_step(x, s, w, _lstm(AW + "lstm_cell/"), 3),
        {**{AW + k: v for k, v in {
            "kernel": (D + 5, D), "bias": (D,), "attention/attn_w": (1, 1, 5, 5), "attention/attn_v": (5,),
            "attention/kernel": (10, 5), "attention/bias": (5,), "attn_output_projection/kernel": (10, 5),
            "attn_output_projection/bias": (5,), "lstm_cell/kernel": (D + 5, 20), "lstm_cell/bias": (20,)}.items()}}),
    "attention_sizes_concat_state": (
        lambda **kw: rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(5, **kw), attn_length=2, attn_size=3,
                                                   attn_vec_size=6, input_size=7, state_is_tuple=False, **kw),
        lambda x, s, w: ref.attention_step(x, s, w, _gru(AW + "gru_cell/"), 2, state_is_tuple=False,
                                           cell_state_size=5),
        {**{AW + k: v for k, v in {
            "kernel": (D + 3, 7), "bias": (7,), "attention/attn_w": (1, 1, 3, 6), "attention/attn_v": (6,),
            "attention/kernel": (5, 6), "attention/bias": (6,), "attn_output_projection/kernel": (8, 3),
            "attn_output_projection/bias": (3,), "gru_cell/gates/kernel": (12, 10), "gru_cell/gates/bias": (10,),
            "gru_cell/candidate/kernel": (12, 5), "gru_cell/candidate/bias": (5,)}.items()}}),
    "ln_lstm": (
        lambda **kw: rnn_cell.LayerNormLSTMCell(5, forget_bias=0.6, **kw),
        lambda x, s, w: ref.layer_norm_lstm_step(x, s, sub(w, "layer_norm_lstm_cell/"), forget_bias=0.6),
        {"layer_norm_lstm_cell/kernel": (D + 5, 20),
         **{f"layer_norm_lstm_cell/{n}/{p}": (5,) for n in ("input", "transform", "forget", "output", "state")
            for p in ("gamma", "beta")}}),
    "ln_lstm_products_peepholes_projection_clips": (
        lambda **kw: rnn_cell.LayerNormLSTMCell(5, use_peepholes=True, cell_clip=0.9, num_proj=3, proj_clip=0.1,
                                                layer_norm_columns=False, activation="softsign", **kw),
        lambda x, s, w: ref.layer_norm_lstm_step(x, s, sub(w, "layer_norm_lstm_cell/"), cell_clip=0.9,
                                                 proj_clip=0.1, activation=lambda v: v / (1 + np.abs(v))),
        {f"layer_norm_lstm_cell/{k}": v for k, v in {
            "kernel": (D + 3, 20), "0/gamma": (20,), "1/gamma": (20,), "bias": (20,), "state/gamma": (5,),
            "state/beta": (5,), "w_f_diag": (5,), "w_i_diag": (5,), "w_o_diag": (5,), "projection/kernel": (5, 3),
            "projection/0/gamma": (3,)}.items()}),
    "ln_lstm_off": (
        lambda **kw: rnn_cell.LayerNormLSTMCell(5, layer_norm=False, use_peepholes=True, **kw),
        lambda x, s, w: ref.layer_norm_lstm_step(x, s, sub(w, "layer_norm_lstm_cell/")),
        {f"layer_norm_lstm_cell/{k}": v for k, v in {
            "kernel": (D + 5, 20), "bias": (20,), "w_f_diag": (5,), "w_i_diag": (5,), "w_o_diag": (5,)}.items()}),
    "glstm": (
        lambda **kw: rnn_cell.GLSTMCell(5, forget_bias=0.3, **kw),
        lambda x, s, w: ref.glstm_step(x, s, sub(w, "glstm_cell/"), forget_bias=0.3),
        {"glstm_cell/group0/kernel": (D + 5, 20),
         **{f"glstm_cell/bias_{g}": (5,) for g in "ijfo"}}),
    "glstm_groups_projection": (
        lambda **kw: rnn_cell.GLSTMCell(6, num_proj=4, number_of_groups=2, activation="softsign", **kw),
        lambda x, s, w: ref.glstm_step(x, s, sub(w, "glstm_cell/"), groups=2,
                                       activation=lambda v: v / (1 + np.abs(v))),
        {"glstm_cell/group0/kernel": (D // 2 + 2, 12), "glstm_cell/group1/kernel": (D // 2 + 2, 12),
         **{f"glstm_cell/bias_{g}": (6,) for g in "ijfo"}, "glstm_cell/projection/kernel": (6, 4)}),
}


def _built(name, dtype):
    cell = CASES[name][0](dtype=dtype)
    cell.build((None, D))
    rng = np.random.default_rng(sorted(CASES).index(name))
    weights = {}
    for k, v in cell.tf1_variables().items():
        v.assign(rng.uniform(-0.8, 0.8, v.shape).astype(dtype))
        weights[k] = v.numpy()
    state = tf.nest.map_structure(lambda n: rng.standard_normal((B, n)).astype(dtype), cell.state_size)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return cell, weights, state, x


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    cell, w, state, x = _built(name, "float32")
    step = CASES[name][1]
    want_y, want_state = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), x, state, RAGGED)
    y, final = nn.dynamic_rnn(cell, tf.constant(x), sequence_length=RAGGED, initial_state=state)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    assert len(tf.nest.flatten(final)) == len(tf.nest.flatten(want_state))
    for got, want in zip(tf.nest.flatten(final), tf.nest.flatten(want_state)):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    assert fused.plan(cell).path == fused.PER_STEP  # no fused kernel: per step
    keras_y = keras.layers.RNN(cell, return_sequences=True)(x, initial_state=tf.nest.flatten(state))
    full_y, _ = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), x, state)
    np.testing.assert_allclose(keras_y.numpy(), full_y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy_finite_differences(name):
    """float64: d(loss)/d(inputs, initial state, every weight, the wrapped cell's too) from the tape
    equals central differences of the NumPy reference's loss, along a random direction per source."""
    cell, w, state, x = _built(name, "float64")
    check_gradients_by_finite_differences(cell, CASES[name][1], x, state, w)


@pytest.mark.parametrize("name", sorted(CASES))
def test_tf1_variable_names_and_shapes(name):
    cell = CASES[name][0]()
    nn.dynamic_rnn(cell, np.zeros((B, T, D), np.float32))
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == CASES[name][2]


def test_initializers():
    """contrib's: carry_b = carry_bias_init, transform_b = -carry_bias_init, other biases zeros,
    gammas norm_gain, betas norm_shift; kernels take the cell's initializer, else the TF1
    variable scope's."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.25)):
        highway = rnn_cell.HighwayWrapper(rnn_cell.GRUCell(D), couple_carry_transform_gates=False,
                                          carry_bias_init=2.0)
        attention = rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(D), attn_length=2)
    glstm = rnn_cell.GLSTMCell(4, number_of_groups=2, num_proj=2, initializer=keras.initializers.Constant(-0.5))
    ln = rnn_cell.LayerNormLSTMCell(4, norm_gain=0.7, norm_shift=0.2, layer_norm_columns=False, num_proj=2)
    for cell in (highway, attention, glstm, ln):
        cell.build((None, D))
    np.testing.assert_array_equal(highway.carry_w.numpy(), 0.25)
    np.testing.assert_array_equal(highway.carry_b.numpy(), 2.0)
    np.testing.assert_array_equal(highway.transform_b.numpy(), -2.0)
    variables = attention.tf1_variables()
    for name in ("kernel", "attention/attn_w", "attention/attn_v", "attention/kernel", "attn_output_projection/kernel"):
        np.testing.assert_array_equal(variables[AW + name].numpy(), 0.25)
    for name in ("bias", "attention/bias", "attn_output_projection/bias"):
        np.testing.assert_array_equal(variables[AW + name].numpy(), 0.0)
    for name, v in glstm.tf1_variables().items():
        np.testing.assert_array_equal(v.numpy(), 0.0 if "bias" in name else -0.5)
    variables = ln.tf1_variables()
    for name in ("0/gamma", "1/gamma", "state/gamma", "projection/0/gamma"):
        np.testing.assert_array_equal(variables[f"layer_norm_lstm_cell/{name}"].numpy(), np.float32(0.7))
    np.testing.assert_array_equal(variables["layer_norm_lstm_cell/state/beta"].numpy(), np.float32(0.2))
    np.testing.assert_array_equal(variables["layer_norm_lstm_cell/bias"].numpy(), 0.0)


def test_glstm_groups_have_their_own_weights():
    """Group 0's units read only group 0's slices of x and m: zeroing group 1's kernel leaves them as they were."""
    cell, w, state, x = _built("glstm_groups_projection", "float32")
    cell.projection_kernel.assign(np.eye(6, 4, dtype=np.float32))
    before, _ = cell(x[:, 0], state)
    cell.group_kernels[1].assign(np.zeros_like(w["glstm_cell/group1/kernel"]))
    after, _ = cell(x[:, 0], state)
    np.testing.assert_array_equal(after.numpy()[:, :3], before.numpy()[:, :3])
    assert np.abs(after.numpy()[:, 3:] - before.numpy()[:, 3:]).max() > 1e-3


@pytest.mark.parametrize("make_bad, error, match", [
    (lambda: rnn_cell.HighwayWrapper(rnn_cell.GRUCell(4), couple_carry_transform_gates=1), ValueError,
     "HighwayWrapper: couple_carry_transform_gates must be True or False"),
    (lambda: rnn_cell.HighwayWrapper(rnn_cell.GRUCell(4), carry_bias_init="1"), ValueError,
     "HighwayWrapper: carry_bias_init must be a number, got '1'"),
    (lambda: rnn_cell.HighwayWrapper("cell"), TypeError, "HighwayWrapper: cell must be an RNN cell"),
    (lambda: rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(4), attn_length=0), ValueError,
     "AttentionCellWrapper: attn_length must be a positive integer, got 0"),
    (lambda: rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(4), 2, attn_size=-1), ValueError,
     "AttentionCellWrapper: attn_size must be a positive integer, got -1"),
    (lambda: rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(4), 2, attn_vec_size=1.5), ValueError,
     "attn_vec_size must be a positive integer, got 1.5"),
    (lambda: rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(4), 2, input_size=0), ValueError,
     "input_size must be a positive integer, got 0"),
    (lambda: rnn_cell.AttentionCellWrapper(rnn_cell.LSTMCell(4), 2, state_is_tuple=False), ValueError,
     "state_is_tuple=False needs a cell whose state is one tensor"),
    (lambda: rnn_cell.AttentionCellWrapper(rnn_cell.GRUCell(4), 2, reuse=True), ValueError,
     "reuse=True has no meaning"),
    (lambda: rnn_cell.LayerNormLSTMCell(0), ValueError, "LayerNormLSTMCell: num_units must be a positive integer"),
    (lambda: rnn_cell.LayerNormLSTMCell(4, cell_clip=-1.0), ValueError, "cell_clip must be a number >= 0"),
    (lambda: rnn_cell.LayerNormLSTMCell(4, proj_clip=1.0), ValueError, "proj_clip=1.0 needs num_proj"),
    (lambda: rnn_cell.LayerNormLSTMCell(4, layer_norm_columns="yes"), ValueError,
     "layer_norm_columns must be True or False"),
    (lambda: rnn_cell.LayerNormLSTMCell(4, norm_shift=None), ValueError, "norm_shift must be a number, got None"),
    (lambda: rnn_cell.GLSTMCell(5, number_of_groups=2), ValueError,
     "GLSTMCell: num_units=5 must be divisible by number_of_groups=2"),
    (lambda: rnn_cell.GLSTMCell(4, num_proj=3, number_of_groups=2), ValueError,
     "num_proj=3 must be divisible by number_of_groups=2"),
    (lambda: rnn_cell.GLSTMCell(4, number_of_groups=0), ValueError, "number_of_groups must be a positive integer"),
    (lambda: rnn_cell.GLSTMCell(4, activation="nope"), ValueError, "GLSTMCell: unknown activation 'nope'"),
])
def test_bad_arguments(make_bad, error, match):
    with pytest.raises(error, match=match):
        make_bad()


def test_input_depth_errors_at_build():
    with pytest.raises(ValueError, match="HighwayWrapper needs input depth == cell output_size, got input depth 3 "
                                         "and output_size 4"):
        rnn_cell.HighwayWrapper(rnn_cell.GRUCell(4)).build((None, 3))
    with pytest.raises(ValueError, match="input depth 3 must be divisible by number_of_groups=2"):
        rnn_cell.GLSTMCell(4, number_of_groups=2).build((None, 3))


BASELINE = {
    "HighwayWrapper": lambda: rnn_cell.HighwayWrapper(rnn_cell.GRUCell(3), couple_carry_transform_gates=False),
    "AttentionCellWrapper": lambda: rnn_cell.AttentionCellWrapper(rnn_cell.LSTMCell(4), attn_length=2, attn_size=3),
    "LayerNormLSTMCell": lambda: rnn_cell.LayerNormLSTMCell(4, use_peepholes=True, num_proj=2),
    "GLSTMCell": lambda: rnn_cell.GLSTMCell(4, number_of_groups=2, num_proj=2),
}


@pytest.mark.parametrize("name", sorted(BASELINE))
def test_keras_baseline(name, tmp_path):
    """One step, config round trip, keras.layers.RNN == a loop, tf.function, .keras save/load, training."""
    check_cell(BASELINE[name], tmp_path, depth=3 if name != "GLSTMCell" else 4)
