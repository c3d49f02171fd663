"""TF1 contrib's ``LayerNormBasicLSTMCell`` (``tensorflow/contrib/rnn/python/ops/rnn_cell.py``).

No TF op implements it and ``tf.compat.v1`` has no contrib, so the math is checked against
a NumPy transcription of contrib's ``call`` and ``layers.layer_norm`` (moments over the
units, ``tf.nn.batch_normalization`` with epsilon 1e-12), the gradients against float64
central differences, the recurrent dropout by its formula (the candidate only, 1/keep_prob
scaling, DropoutWrapper's training rule), plus the Keras baseline and argument errors.
The variable names are checked with the other contrib cells in ``test_block_cells.py``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell
from numpy_ref import dynamic_rnn as np_dynamic_rnn
from numpy_ref import sigmoid

from tfseq import nn, rnn_cell
from tfseq.nn import fused

ATOL = 1e-5
B, T, D = 3, 6, 4
RAGGED = np.array([6, 3, 0], np.int32)


def np_layer_norm(v, gamma, beta):
    mean = v.mean(1, keepdims=True)
    var = ((v - mean) ** 2).mean(1, keepdims=True)
    return (v - mean) / np.sqrt(var + 1e-12) * gamma + beta


def np_layer_norm_lstm_step(x, state, w, forget_bias, layer_norm):
    """contrib's LayerNormBasicLSTMCell.call, in NumPy (no dropout)."""
    c, h = state
    z = np.concatenate([x, h], 1) @ w["kernel"] + (0.0 if layer_norm else w["bias"])
    i, j, f, o = np.split(z, 4, axis=1)
    if layer_norm:
        i, j, f, o = (np_layer_norm(v, w[f"{s}/gamma"], w[f"{s}/beta"])
                      for v, s in zip((i, j, f, o), ("input", "transform", "forget", "output")))
    new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * np.tanh(j)
    if layer_norm:
        new_c = np_layer_norm(new_c, w["state/gamma"], w["state/beta"])
    new_h = np.tanh(new_c) * sigmoid(o)
    return new_h, (new_c, new_h)


def randomized(cell, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    for v in cell.trainable_weights:
        v.assign(rng.uniform(-0.8, 0.8, v.shape).astype(dtype))
    return {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}


@pytest.mark.parametrize("layer_norm", [True, False], ids=["layer_norm", "no_layer_norm"])
def test_layer_norm_lstm_matches_numpy(layer_norm):
    cell = rnn_cell.LayerNormBasicLSTMCell(5, forget_bias=0.6, layer_norm=layer_norm, norm_gain=0.9, norm_shift=0.1)
    cell.build((None, D))
    w = randomized(cell)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    state = tuple(rng.standard_normal((B, 5)).astype(np.float32) for _ in range(2))
    want_y, (want_c, want_h) = np_dynamic_rnn(
        lambda x_t, s: np_layer_norm_lstm_step(x_t, s, w, 0.6, layer_norm), x, state, RAGGED)
    y, (c, h) = nn.dynamic_rnn(cell, tf.constant(x), sequence_length=RAGGED,
                               initial_state=rnn_cell.LSTMStateTuple(*state), training=False)
    for got, want in ((y, want_y), (c, want_c), (h, want_h)):
        np.testing.assert_allclose(got.numpy(), want, atol=ATOL, rtol=ATOL)
    # Without layer norm and dropout it is BasicLSTMCell's step, and runs fused (same numbers).
    expected_path = fused.PER_STEP if layer_norm else "fused_lstm"
    assert fused.plan(cell, training=False).path == expected_path


def test_layer_norm_lstm_gradients_match_finite_differences():
    """float64: the tape's gradients (inputs, state, every weight) equal central differences."""
    cell = rnn_cell.LayerNormBasicLSTMCell(3, dtype="float64", norm_gain=1.1, norm_shift=-0.2)
    cell.build((None, 2))
    randomized(cell, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = tf.constant(rng.standard_normal((2, 3, 2)))
    state = rnn_cell.LSTMStateTuple(*(tf.constant(rng.standard_normal((2, 3))) for _ in range(2)))

    def loss():
        y, (c, h) = nn.dynamic_rnn(cell, x, initial_state=state, training=False, fast=False)
        return tf.reduce_sum(tf.sin(3.0 * y)) + tf.reduce_sum(c * h)

    with tf.GradientTape() as tape:
        tape.watch([x, *state])
        value = loss()
    sources = [x, *state] + cell.trainable_weights
    for source, grad in zip(sources, tape.gradient(value, sources)):
        direction = rng.standard_normal(source.shape)
        eps = 1e-6
        if isinstance(source, keras.Variable):
            original = source.numpy()
            source.assign(original + eps * direction)
            plus = loss()
            source.assign(original - eps * direction)
            minus = loss()
            source.assign(original)
        else:  # inputs / state: perturb the tensor the closure reads
            plus, minus = _perturbed_losses(cell, x, state, source, direction, eps)
        numeric = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(float(tf.reduce_sum(grad * direction)), float(numeric), rtol=1e-6, atol=1e-8)


def _perturbed_losses(cell, x, state, source, direction, eps):
    values = []
    for sign in (1.0, -1.0):
        shifted = [t + sign * eps * direction if t is source else t for t in (x, *state)]
        y, (c, h) = nn.dynamic_rnn(cell, shifted[0], initial_state=rnn_cell.LSTMStateTuple(*shifted[1:]),
                                   training=False, fast=False)
        values.append(tf.reduce_sum(tf.sin(3.0 * y)) + tf.reduce_sum(c * h))
    return values


def test_layer_norm_lstm_recurrent_dropout():
    """contrib's dropout acts on the candidate g = tanh(j) only (never on c), with a fresh
    mask per step, kept units scaled by 1/keep_prob; it follows DropoutWrapper's training rule."""
    keep = 0.5
    cell = rnn_cell.LayerNormBasicLSTMCell(64, layer_norm=False, dropout_keep_prob=keep, dropout_prob_seed=4)
    cell.build((None, D))
    w = randomized(cell)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, D)).astype(np.float32)
    c, h = (rng.standard_normal((8, 64)).astype(np.float32) for _ in range(2))
    i, j, f, _ = np.split(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"], 4, axis=1)
    kept_term, candidate = c * sigmoid(f + 1.0), sigmoid(i) * np.tanh(j)
    _, (c_train, _) = cell(tf.constant(x), (tf.constant(c), tf.constant(h)), training=True)
    kept = (c_train.numpy() - kept_term) / candidate > 1.0 / (2 * keep)  # the mask: ratio 0 or 1/keep
    np.testing.assert_allclose(c_train.numpy(), kept_term + candidate * kept / keep, atol=1e-5)
    assert 0.4 < kept.mean() < 0.6  # 512 units
    _, (c_eval, _) = cell(tf.constant(x), (tf.constant(c), tf.constant(h)), training=False)
    np.testing.assert_allclose(c_eval.numpy(), kept_term + candidate, atol=1e-5)
    assert fused.plan(cell).reason == f"{cell.name}: fused_spec() is None"  # dropout runs per step
    # Same training rule as DropoutWrapper, whatever the caller passes (or not).
    wrapper = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(64), output_keep_prob=keep, seed=4)
    xs = tf.constant(rng.standard_normal((8, 3, D)).astype(np.float32))
    # (a TF1 driver without training drops, as TF1 did; the expected value keeps the comparison
    # from passing when neither drops)
    for kwargs, drops in (({}, True), ({"training": True}, True), ({"training": False}, False)):
        cell_drops = _varies(lambda: nn.dynamic_rnn(cell, xs, **kwargs)[0])
        wrapper_drops = _varies(lambda: nn.dynamic_rnn(wrapper, xs, **kwargs)[0])
        assert cell_drops == wrapper_drops == drops, kwargs
    layer = keras.layers.RNN(cell)
    assert _varies(lambda: layer(xs, training=True)) and not _varies(lambda: layer(xs))


def _varies(fn):
    """Whether two calls give different numbers (dropout active)."""
    return not np.allclose(fn().numpy(), fn().numpy())



def test_layer_norm_lstm_keep_prob_variable():
    """TF1's placeholder idiom: a tf.Variable keep probability, checked when the cell runs."""
    keep = tf.Variable(1.0)
    cell = rnn_cell.LayerNormBasicLSTMCell(32, dropout_keep_prob=keep)
    x = tf.constant(np.random.default_rng(5).standard_normal((4, 3, D)).astype(np.float32))
    run = tf.function(lambda: nn.dynamic_rnn(cell, x, training=True)[0])
    assert not _varies(run)  # keep 1.0: no dropout even in training
    keep.assign(0.5)
    assert _varies(run)
    keep.assign(1.5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="dropout_keep_prob must be in"):
        run()
    keep.assign(0.7)
    assert cell.get_config()["dropout_keep_prob"] == pytest.approx(0.7)
    assert fused.plan(cell, training=False).path == fused.PER_STEP
    with pytest.raises(ValueError, match="dropout_keep_prob must be a number or a scalar float tensor"):
        rnn_cell.LayerNormBasicLSTMCell(4, dropout_keep_prob=tf.ones([2]))


@pytest.mark.parametrize("make_bad, match", [
    (lambda: rnn_cell.LayerNormBasicLSTMCell(4, dropout_keep_prob=0.0),
     r"LayerNormBasicLSTMCell: dropout_keep_prob must be in \(0, 1\], got 0.0"),
    (lambda: rnn_cell.LayerNormBasicLSTMCell(4, layer_norm="yes"),
     "LayerNormBasicLSTMCell: layer_norm must be True or False, got 'yes'"),
    (lambda: rnn_cell.LayerNormBasicLSTMCell(4, norm_gain=None), "LayerNormBasicLSTMCell: norm_gain must be a number"),
    (lambda: rnn_cell.LayerNormBasicLSTMCell(4, dropout_prob_seed=1.5),
     "LayerNormBasicLSTMCell: dropout_prob_seed must be an int or None, got 1.5"),
])


def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


def test_keras_baseline(tmp_path):
    check_cell(lambda: rnn_cell.LayerNormBasicLSTMCell(4, dropout_keep_prob=0.8), tmp_path, training=False)


def test_input_size_is_deprecated_and_unused():
    with pytest.warns(UserWarning, match="input_size parameter is deprecated"):
        cell = rnn_cell.LayerNormBasicLSTMCell(4, input_size=3)
    cell.build((None, 5))  # TF1 ignored it too
    assert cell.kernel.shape == (9, 16)
