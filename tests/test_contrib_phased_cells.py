"""TF1 contrib's ``PhasedLSTMCell``, run by ``nn.dynamic_rnn`` over ``(times, features)`` tuples.

TF 2 has no contrib, so the reference is a NumPy transcription of its math
(``contrib_conv_phased_ref.py``): outputs and states over ragged sequences whose times span several
periods and negative values (1e-5), float64 timestamps too large for float32, the gradients of
both inputs, the initial state and every weight against float64 central differences (times kept
within one period, where contrib's gradient through ``mod`` is the derivative), contrib's variable
names and shapes (written here from contrib's source), initializers, the ``.keras`` round trip and
argument errors.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_gradients_by_finite_differences
from contrib_conv_phased_ref import phased_lstm_step
from nested_cell_harness import SequenceLayer
from numpy_ref import dynamic_rnn as np_dynamic_rnn

from tfseq import nn, rnn_cell

B, T, D = 3, 6, 4
RAGGED = np.array([6, 3, 0], np.int32)

# name -> (make_cell(**keras_kwargs), NumPy step options, {TF1 name: shape})
CASES = {
    "phased": (lambda **kw: rnn_cell.PhasedLSTMCell(5, **kw), {}, {
        "phased_lstm_cell/mask_gates/kernel": (D + 5, 10), "phased_lstm_cell/mask_gates/bias": (10,),
        "phased_lstm_cell/new_input/kernel": (D + 5, 5), "phased_lstm_cell/new_input/bias": (5,),
        "phased_lstm_cell/output_gate/kernel": (D + 5, 5), "phased_lstm_cell/output_gate/bias": (5,),
        "phased_lstm_cell/period": (5,), "phased_lstm_cell/phase": (5,), "phased_lstm_cell/ratio_on": (5,)}),
    "phased_peepholes_leak": (
        lambda **kw: rnn_cell.PhasedLSTMCell(3, use_peepholes=True, leak=0.05, **kw),
        {"use_peepholes": True, "leak": 0.05}, {
            "phased_lstm_cell/mask_gates/kernel": (D + 6, 6), "phased_lstm_cell/mask_gates/bias": (6,),
            "phased_lstm_cell/new_input/kernel": (D + 3, 3), "phased_lstm_cell/new_input/bias": (3,),
            "phased_lstm_cell/output_gate/kernel": (D + 6, 3), "phased_lstm_cell/output_gate/bias": (3,),
            "phased_lstm_cell/period": (3,), "phased_lstm_cell/phase": (3,), "phased_lstm_cell/ratio_on": (3,)}),
}


def _built(name, dtype, period=(1.5, 4.0)):
    """A cell with random weights (open ratios spread over (0.2, 0.8) so every branch of the time
    gate is taken), its weights by TF1 name without the scope, an initial state and features."""
    cell = CASES[name][0](dtype=dtype)
    cell.build(((None, 1), (None, D)))
    rng = np.random.default_rng(sorted(CASES).index(name))
    ranges = {"period": period, "phase": (0.0, 1.0), "ratio_on": (0.2, 0.8)}
    for key, v in cell.tf1_variables().items():
        v.assign(rng.uniform(*ranges.get(key.split("/", 1)[1], (-0.8, 0.8)), v.shape).astype(dtype))
    weights = {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}
    state = tuple(rng.standard_normal((B, n)).astype(dtype) for n in cell.state_size)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return cell, weights, state, x, rng


def _step(name, w):
    return lambda x_t, s: phased_lstm_step(x_t, s, w, **CASES[name][1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    """float32 features with float64 times (contrib's documented pair) over several periods."""
    cell, w, state, x, rng = _built(name, "float32")
    times = rng.uniform(-5.0, 20.0, (B, T, 1))
    want_y, want_state = np_dynamic_rnn(_step(name, w), (times, x), state, RAGGED)
    y, final = nn.dynamic_rnn(cell, (tf.constant(times), tf.constant(x)), sequence_length=RAGGED,
                              initial_state=rnn_cell.LSTMStateTuple(*state))
    assert y.dtype == tf.float32 and isinstance(final, rnn_cell.LSTMStateTuple)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    for got, want in zip(final, want_state):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)


def test_float64_times_are_not_cast():
    """Timestamps near 1e7 (float32 steps of 1.0 there) keep their fractions: the cycle ratio is
    computed in the times' dtype, also inside tf.function and from the zero state."""
    cell, w, _, x, rng = _built("phased", "float32")
    times = 1e7 + np.sort(rng.uniform(0.0, 10.0, (B, T, 1)), axis=1)
    zeros = tuple(np.zeros((B, n), np.float32) for n in cell.state_size)
    want_y, _ = np_dynamic_rnn(_step("phased", w), (times, x), zeros)
    run = tf.function(lambda t, x: nn.dynamic_rnn(cell, (t, x), dtype=tf.float32)[0])
    np.testing.assert_allclose(run(tf.constant(times), tf.constant(x)).numpy(), want_y, atol=1e-5, rtol=1e-5)
    coarse, _ = np_dynamic_rnn(_step("phased", w), (times.astype(np.float32).astype(np.float64), x), zeros)
    assert np.abs(coarse - want_y).max() > 1e-3  # float32 times would have been caught


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy_finite_differences(name):
    """Within one period (0 <= t - phase < period), where the derivative exists everywhere."""
    cell, w, state, x, rng = _built(name, "float64", period=(4.0, 8.0))
    times = rng.uniform(1.0, 4.0, (B, T, 1))
    check_gradients_by_finite_differences(cell, lambda x_t, s, w: phased_lstm_step(x_t, s, w, **CASES[name][1]), (times, x), state, w,
                    weight_key=lambda n: n.split("/", 1)[1])


def test_time_gate_gradient_through_mod_is_contribs():
    """Past the first period contrib's gradient treats mod(t - phase, period) as t - phase minus a
    constant: closed gate (ratio_on 0.2), leak 0.5, period 2, phase 0, t 5.5: r = 1.5 / 2, k = 0.5 r,
    dk/dt = 0.5 / 2, dk/dphase = -0.5 / 2, dk/dperiod = -0.5 * 1.5 / 4 (not the derivative -0.5 * 5.5 / 4)."""
    cell = rnn_cell.PhasedLSTMCell(1, leak=0.5, ratio_on=0.2, dtype="float64")
    cell.build(((None, 1), (None, 1)))
    cell.period.assign([2.0])
    cell.phase.assign([0.0])
    t = tf.constant([[5.5]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(t)
        k = cell.openness(t, tf.float64)
    d_t, d_phase, d_period = tape.gradient(k, [t, cell.phase, cell.period])
    np.testing.assert_allclose(k.numpy(), [[0.375]])
    np.testing.assert_allclose([d_t.numpy()[0, 0], d_phase.numpy()[0], d_period.numpy()[0]], [0.25, -0.25, -0.1875])


@pytest.mark.parametrize("name", sorted(CASES))
def test_tf1_variable_names_and_shapes(name):
    cell = CASES[name][0]()
    nn.dynamic_rnn(cell, (np.ones((B, T, 1), np.float32), np.zeros((B, T, D), np.float32)))
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == CASES[name][2]


def test_initializers_and_frozen_ratio_on():
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.25)):
        cell = rnn_cell.PhasedLSTMCell(400, ratio_on=0.3, trainable_ratio_on=False, period_init_min=2.0,
                                       period_init_max=50.0)
    cell.build(((None, 1), (None, D)))
    np.testing.assert_array_equal(cell.mask_gates_kernel.numpy(), 0.25)
    np.testing.assert_array_equal(cell.output_gate_bias.numpy(), 0.0)
    period, phase = cell.period.numpy(), cell.phase.numpy()
    assert period.min() >= 2.0 and period.max() <= 50.0
    log_period = np.log(period)  # uniform in [log 2, log 50]: mean near the middle
    assert abs(log_period.mean() - np.log(10.0)) < 0.15
    assert np.all((phase >= 0) & (phase <= period)) and phase.std() > 0
    np.testing.assert_allclose(cell.ratio_on_weight.numpy(), 0.3)
    assert cell.ratio_on_weight in cell.non_trainable_weights
    assert "phased_lstm_cell/ratio_on" in cell.tf1_variables()  # still in the checkpoint
    assert len(cell.trainable_weights) == 8


def test_config_and_keras_save_load(tmp_path):
    cell, _, _, x, rng = _built("phased_peepholes_leak", "float32")
    config = cell.get_config()
    assert type(cell).from_config(config).get_config() == config
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(revived) is type(cell) and revived.get_config() == config
    times = np.cumsum(rng.uniform(0.1, 2.0, (B, T, 1)), 1).astype(np.float32)
    t_in, x_in = keras.Input((T, 1)), keras.Input((T, D))
    model = keras.Model([t_in, x_in], SequenceLayer(CASES["phased_peepholes_leak"][0]())([t_in, x_in]))
    for v in model.weights:
        v.assign(rng.uniform(0.5, 3.0, v.shape).astype(np.float32))
    path = os.path.join(str(tmp_path), "phased.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[-1].cell) is rnn_cell.PhasedLSTMCell
    np.testing.assert_array_equal(loaded([times, x]).numpy(), model([times, x]).numpy())


@pytest.mark.parametrize("make_bad, match", [
    (lambda: rnn_cell.PhasedLSTMCell(0), "PhasedLSTMCell: num_units must be a positive integer, got 0"),
    (lambda: rnn_cell.PhasedLSTMCell(4, use_peepholes=1), "use_peepholes must be True or False, got 1"),
    (lambda: rnn_cell.PhasedLSTMCell(4, leak=1.5), r"leak must be a number in \[0.0, 1.0\], got 1.5"),
    (lambda: rnn_cell.PhasedLSTMCell(4, ratio_on=0.0), r"ratio_on must be a number in \(0.0, 1.0\], got 0.0"),
    (lambda: rnn_cell.PhasedLSTMCell(4, trainable_ratio_on="yes"), "trainable_ratio_on must be True or False"),
    (lambda: rnn_cell.PhasedLSTMCell(4, period_init_min=0), r"period_init_min must be a number in \(0.0, inf\)"),
    (lambda: rnn_cell.PhasedLSTMCell(4, period_init_min=5.0, period_init_max=2.0),
     r"period_init_max must be a number in \[5.0, inf\), got 2.0"),
    (lambda: rnn_cell.PhasedLSTMCell(4, reuse=True), "reuse=True has no meaning"),
])
def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


def test_bad_inputs():
    cell = rnn_cell.PhasedLSTMCell(3)
    state = cell.zero_state(2, tf.float32)
    with pytest.raises(ValueError, match=r"inputs must be a pair \(t \[batch, 1\], x \[batch, depth\]\)"):
        cell(tf.zeros((2, 4)), state)
    with pytest.raises(TypeError, match="the time t must be float.*got dtype int32"):
        cell((tf.zeros((2, 1), tf.int32), tf.zeros((2, 4))), state)
    with pytest.raises(ValueError, match=r"the time t must be \[batch, 1\], got shape \(2, 2\)"):
        cell((tf.zeros((2, 2)), tf.zeros((2, 4))), state)
    with pytest.raises(ValueError, match="several float dtypes .*float32, float64.*pass dtype="):
        nn.dynamic_rnn(cell, (tf.zeros((2, T, 1), tf.float64), tf.zeros((2, T, 4))))
