"""``rnn_cell.NASCell`` (TF1 contrib's NASCell) against TF Addons' ``tfa.rnn.NASCell``, the same
cell on Keras 2, in the TF Addons reference subprocess: outputs, final states and the gradients of
every weight and of the inputs (1e-5), with and without projection and biases; and its TF1 names,
errors and ``.keras`` round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa_many

from tfseq import nn, rnn_cell

B, T, D, N = 3, 5, 4, 6
rng = np.random.default_rng(7)
X = rng.standard_normal((B, T, D)).astype(np.float32)
DY = rng.standard_normal((B, T, N)).astype(np.float32)
CASES = {"plain": (None, False), "projected_biased": (2, True)}


def _weights(num_proj, use_biases):
    out = num_proj or N
    shapes = {"kernel": (D, 8 * N), "recurrent_kernel": (out, 8 * N)}
    if use_biases:
        shapes["bias"] = (8 * N,)
    if num_proj:
        shapes["projection_weights"] = (N, num_proj)
    return {k: (0.4 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}


WEIGHTS = {name: _weights(*spec) for name, spec in CASES.items()}

TFA_SOURCE = """
num_proj = None if inputs["num_proj"] < 0 else int(inputs["num_proj"])  # -1: no projection
use_biases = bool(inputs["use_biases"])
cell = tfa.rnn.NASCell(inputs["N"], projection=num_proj, use_bias=use_biases)
layer = tf.keras.layers.RNN(cell, return_sequences=True, return_state=True)
x = tf.constant(inputs["x"])
layer(x)
for name, value in inputs["weights"].items():
    getattr(cell, name).assign(value)
variables = [getattr(cell, name) for name in sorted(inputs["weights"])]
with tf.GradientTape() as tape:
    tape.watch(x)
    y, c, m = layer(x)
    loss = tf.reduce_sum(y * tf.constant(inputs["dy"])[..., :y.shape[-1]]) + tf.reduce_sum(c) + tf.reduce_sum(m)
grads = tape.gradient(loss, [x] + variables)
outputs["y"], outputs["c"], outputs["m"], outputs["dx"] = y, c, m, grads[0]
for name, g in zip(sorted(inputs["weights"]), grads[1:]):
    outputs["d_" + name] = g
"""


@pytest.fixture(scope="module")
def tfa():
    return run_tfa_many([(name, TFA_SOURCE, {"num_proj": np.int64(-1 if p is None else p), "use_biases": b,
                                             "N": N, "x": X, "dy": DY, "weights": WEIGHTS[name]})
                         for name, (p, b) in CASES.items()])


@requires_tfa
@pytest.mark.parametrize("name", list(CASES))
def test_nas_cell_matches_tf_addons(tfa, name):
    num_proj, use_biases = CASES[name]
    cell = rnn_cell.NASCell(N, num_proj=num_proj, use_biases=use_biases)
    cell.build((None, D))
    for weight, value in WEIGHTS[name].items():
        getattr(cell, weight).assign(value)
    x = tf.constant(X)
    names = sorted(WEIGHTS[name])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, state = nn.dynamic_rnn(cell, x, dtype=tf.float32)
        loss = tf.reduce_sum(y * DY[..., :y.shape[-1]]) + tf.reduce_sum(state.c) + tf.reduce_sum(state.h)
    grads = tape.gradient(loss, [x] + [getattr(cell, w) for w in names])
    ref = tfa[name]
    for ours, key in [(y, "y"), (state.c, "c"), (state.h, "m"), (grads[0], "dx")] + [
            (g, "d_" + w) for w, g in zip(names, grads[1:])]:
        np.testing.assert_allclose(ours, ref[key], atol=1e-5, err_msg=key)



def test_nas_cell_names_shapes_errors_and_round_trip(tmp_path):
    cell = rnn_cell.NASCell(N, num_proj=2, use_biases=True)
    y, state = nn.dynamic_rnn(cell, X, dtype=tf.float32)
    assert y.shape == (B, T, 2) and state.c.shape == (B, N) and state.h.shape == (B, 2)
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == {
        "nas_cell/kernel": (D, 8 * N), "nas_cell/recurrent_kernel": (2, 8 * N), "nas_cell/bias": (8 * N,),
        "nas_cell/projection_weights": (N, 2)}
    np.testing.assert_array_equal(cell.bias.numpy(), 0.0)
    with pytest.raises(ValueError, match="num_units"):
        rnn_cell.NASCell(0)
    with pytest.raises(ValueError, match="num_proj"):
        rnn_cell.NASCell(N, num_proj=-1)
    with pytest.raises(ValueError, match="reuse"):
        rnn_cell.NASCell(N, reuse=True)
    model = keras.Sequential([keras.Input((T, D)), nn.RNN(rnn_cell.NASCell(N, num_proj=2), return_sequences=True)])
    path = tmp_path / "nas.keras"
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(X), model(X), atol=1e-6)
