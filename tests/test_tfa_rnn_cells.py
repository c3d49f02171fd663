"""``tfseq.rnn`` against TF Addons 0.23's ``tfa.rnn``, run for real in the TF Addons reference
subprocess: each cell in ``RNN(return_sequences=True, return_state=True)`` on the same weights
(loaded with ``set_weights`` in ``cell.weights`` order, whose names are compared too) gives the
same outputs, final states and gradients of a loss with respect to the inputs and every weight
(1e-5); TF Addons' ``get_config`` builds our cell. Then what the reference cannot share: ESN's own
reservoir (spectral radius, connectivity), dropout in training, argument errors, ``.keras``
round trips and ``import tfseq as tfa``."""

import json
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa_many

import tfseq
from tfseq import rnn

B, T, D, N = 3, 5, 4, 6
rng = np.random.default_rng(11)
X = rng.standard_normal((B, T, D)).astype(np.float32)
DY = rng.standard_normal((B, T, N)).astype(np.float32)

# name: (class, constructor arguments), the same in TF Addons and here (dropout stays 0: the masks' random
# draws differ between Keras 2 and 3, so dropout is checked on its own below)
CASES = {
    "ln_lstm": ("LayerNormLSTMCell", {}),
    "ln_lstm_options": ("LayerNormLSTMCell", {"activation": "relu", "use_bias": False, "norm_epsilon": 0.05,
                                              "unit_forget_bias": False}),
    "ln_simple_rnn": ("LayerNormSimpleRNNCell", {}),
    "ln_simple_rnn_options": ("LayerNormSimpleRNNCell", {"activation": "sigmoid", "use_bias": False,
                                                         "layernorm_epsilon": 0.05}),
    "peephole": ("PeepholeLSTMCell", {}),
    "peephole_split_kernels": ("PeepholeLSTMCell", {"implementation": 1, "recurrent_activation": "tanh"}),
    "nas": ("NASCell", {}),
    "nas_projected_biased": ("NASCell", {"projection": 2, "use_bias": True}),
    "esn": ("ESNCell", {"leaky": 0.7, "connectivity": 0.5}),
    "esn_no_bias": ("ESNCell", {"use_bias": False, "activation": "relu"}),
}


def _built(name):
    cls, kwargs = CASES[name]
    cell = getattr(rnn, cls)(N, **kwargs)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer(X)
    return cell, layer


def _weights(name):
    cell, _ = _built(name)
    return [(0.5 * rng.standard_normal(tuple(w.shape))).astype(np.float32) for w in cell.weights]


WEIGHTS = {name: _weights(name) for name in CASES}

TFA_SOURCE = """
import json
cell = getattr(tfa.rnn, inputs["cls"])(inputs["N"], **inputs["kwargs"])
layer = tf.keras.layers.RNN(cell, return_sequences=True, return_state=True)
x = tf.constant(inputs["x"])
layer(x)
cell.set_weights(inputs["weights"])
variables = list(cell.weights)
with tf.GradientTape() as tape:
    tape.watch(x)
    tape.watch(variables)  # ESN's weights are not trainable
    y, *states = layer(x)
    loss = tf.reduce_sum(y * inputs["dy"][..., :y.shape[-1]])
    loss += sum(tf.reduce_sum(s * (k + 1.5)) for k, s in enumerate(states))
grads = tape.gradient(loss, [x] + variables)
outputs["y"], outputs["dx"] = y, grads[0]
for k, s in enumerate(states):
    outputs[f"state_{k}"] = s
for k, g in enumerate(grads[1:]):
    outputs[f"d_weight_{k}"] = tf.zeros_like(variables[k]) if g is None else g
outputs["names"] = np.array([v.name for v in variables])
outputs["config"] = np.array(json.dumps(cell.get_config()))
"""


@pytest.fixture(scope="module")
def tfa():
    return run_tfa_many([(name, TFA_SOURCE, {"cls": cls, "kwargs": kwargs, "N": N, "x": X, "dy": DY,
                                             "weights": WEIGHTS[name]})
                         for name, (cls, kwargs) in CASES.items()])


def _tail(name):
    """A weight's name below the RNN layer, without the layers' numbering:
    ``rnn_3/nas_cell_2/kernel:0`` -> ``nas_cell/kernel``."""
    return re.sub(r"^[^/]+/([a-z_]+?)(_\d+)?/", r"\1/", name).removesuffix(":0")


@requires_tfa
@pytest.mark.parametrize("name", list(CASES))
def test_cell_matches_tf_addons(tfa, name):
    ref = tfa[name]
    cell, layer = _built(name)
    # Keras 3 puts a sub-layer's weights under its name: LayerNormSimpleRNNCell's gamma is .../layernorm/gamma
    ours = [_tail(w.path).replace("/layernorm/", "/") for w in cell.weights]
    assert ours == [_tail(str(n)) for n in ref["names"]], ref["names"]
    cell.set_weights(WEIGHTS[name])
    x = tf.constant(X)
    variables = [w.value for w in cell.weights]  # the tf.Variables: ESN's are not trainable
    with tf.GradientTape() as tape:
        tape.watch(x)
        tape.watch(variables)
        y, *states = layer(x)
        loss = tf.reduce_sum(y * DY[..., :y.shape[-1]])
        loss += sum(tf.reduce_sum(s * (k + 1.5)) for k, s in enumerate(states))
    grads = tape.gradient(loss, [x] + variables)
    assert len(states) == len([k for k in ref if k.startswith("state_")])
    pairs = [(y, "y"), (grads[0], "dx")] + [(s, f"state_{k}") for k, s in enumerate(states)]
    assert all(g is not None for g in grads)
    pairs += [(g, f"d_weight_{k}") for k, g in enumerate(grads[1:])]
    for ours, key in pairs:
        np.testing.assert_allclose(ours, ref[key], atol=1e-5, err_msg=key)
    # TF Addons' config (Keras 2 serialization) builds the same cell here
    config = json.loads(str(ref["config"]))
    config.pop("name", None)  # TF Addons leaves it out for LayerNormSimpleRNNCell
    twin = type(cell).from_config(config)
    assert twin.get_config() == {**cell.get_config(), "name": twin.name}
    assert twin.get_config().get("implementation") == config.get("implementation")


def test_esn_reservoir_has_the_spectral_radius_and_connectivity():
    cell = rnn.ESNCell(60, connectivity=0.3, spectral_radius=0.7)
    cell.build((None, D))
    w = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(w)).max(), 0.7, rtol=1e-4)
    assert 0.25 < np.mean(w != 0) < 0.35
    assert cell.trainable_weights == [] and len(cell.non_trainable_weights) == 3
    norm2 = rnn.ESNCell(60, connectivity=0.3, spectral_radius=0.7, use_norm2=True)
    norm2.build((None, D))
    np.testing.assert_allclose(np.linalg.norm(norm2.recurrent_kernel.numpy()), 0.7, rtol=1e-5)
    empty = rnn.ESNCell(8, connectivity=0.0)
    empty.build((None, D))
    np.testing.assert_array_equal(empty.recurrent_kernel.numpy(), 0.0)


@pytest.mark.parametrize("cls", ["LayerNormLSTMCell", "LayerNormSimpleRNNCell", "PeepholeLSTMCell"])
def test_dropout_acts_in_training_only(cls):
    plain = getattr(rnn, cls)(N)
    dropped = getattr(rnn, cls)(N, dropout=0.4, recurrent_dropout=0.4, seed=3)
    layers = [keras.layers.RNN(c, return_sequences=True) for c in (plain, dropped)]
    for layer in layers:
        layer(X)
    dropped.set_weights(plain.get_weights())
    np.testing.assert_allclose(layers[1](X, training=False), layers[0](X), atol=1e-6)
    assert np.abs(layers[1](X, training=True) - layers[0](X)).max() > 1e-2
    input_only = getattr(rnn, cls)(N, dropout=0.4, seed=3)
    layer = keras.layers.RNN(input_only, return_sequences=True)
    layer(X)
    input_only.set_weights(plain.get_weights())
    assert np.abs(layer(X, training=True) - layers[0](X)).max() > 1e-2


@pytest.mark.parametrize("cls", ["LayerNormLSTMCell", "LayerNormSimpleRNNCell", "PeepholeLSTMCell", "NASCell", "ESNCell"])
def test_get_initial_state_takes_keras_2_arguments(cls):
    cell = getattr(rnn, cls)(N)
    x0 = tf.constant(X[:, 0])
    sizes = [(B, n) for n in tf.nest.flatten(cell.state_size)]
    for state in (cell.get_initial_state(inputs=x0, batch_size=B, dtype=tf.float32),  # TF Addons' call
                  cell.get_initial_state(x0), cell.get_initial_state(batch_size=B)):
        flat = tf.nest.flatten(state)
        assert [tuple(s.shape) for s in flat] == sizes and all(s.dtype == tf.float32 for s in flat)
        assert all(np.all(s.numpy() == 0) for s in flat)
        output, _ = cell(x0, state)
        assert output.shape[0] == B
    # a single state comes bare (Keras 2), except LayerNormSimpleRNNCell's (Keras 3's SimpleRNNCell lists it)
    assert isinstance(cell.get_initial_state(x0), list) == (cls != "ESNCell")
    assert all(s.dtype == tf.float64 for s in tf.nest.flatten(cell.get_initial_state(tf.cast(x0, tf.float64))))
    with pytest.raises(ValueError, match="pass batch_size or inputs"):
        cell.get_initial_state()


@pytest.mark.parametrize("cls", ["LayerNormLSTMCell", "PeepholeLSTMCell"])
def test_lstm_cells_keep_implementation_in_config(cls):
    cell = getattr(rnn, cls)(N, implementation=1)
    assert cell.get_config()["implementation"] == 1
    assert getattr(rnn, cls).from_config(cell.get_config()).implementation == 1
    assert getattr(rnn, cls)(N).get_config()["implementation"] == 2


@pytest.mark.parametrize("make, match", [
    (lambda: rnn.LayerNormLSTMCell(0), "units must be a positive integer, got 0"),
    (lambda: rnn.LayerNormLSTMCell(N, dropout=1.5), "dropout must be a number in .*got 1.5"),
    (lambda: rnn.LayerNormLSTMCell(N, norm_epsilon=-1.0), "norm_epsilon .*got -1.0"),
    (lambda: rnn.LayerNormSimpleRNNCell(N, recurrent_dropout=-0.1), "recurrent_dropout .*got -0.1"),
    (lambda: rnn.LayerNormSimpleRNNCell(N, layernorm_epsilon=0), "layernorm_epsilon .*got 0"),
    (lambda: rnn.PeepholeLSTMCell(2.5), "units must be a positive integer, got 2.5"),
    (lambda: rnn.PeepholeLSTMCell(N, dropout=1.0), "dropout must be a number in \\[0.0, 1.0\\), got 1.0"),
    (lambda: rnn.NASCell(N, projection=0), "projection must be a positive integer, got 0"),
    (lambda: rnn.NASCell(N, use_bias=1), "use_bias must be True or False, got 1"),
    (lambda: rnn.ESNCell(N, connectivity=1.5), "connectivity must be a number in \\[0.0, 1.0\\], got 1.5"),
    (lambda: rnn.ESNCell(N, leaky=-0.5), "leaky .*got -0.5"),
    (lambda: rnn.ESNCell(N, spectral_radius=-1), "spectral_radius must be a number >= 0.0, got -1"),
    (lambda: rnn.ESNCell(-3), "units must be a positive integer, got -3"),
])
def test_bad_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("name", ["ln_lstm_options", "ln_simple_rnn", "peephole", "nas_projected_biased", "esn"])
def test_keras_round_trip(tmp_path, name):
    cell, _ = _built(name)
    model = keras.Sequential([keras.Input((T, D)), keras.layers.RNN(cell, return_sequences=True)])
    model.layers[0].cell.set_weights(WEIGHTS[name])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    loaded_cell = loaded.layers[0].cell
    assert type(loaded_cell) is type(cell) and loaded_cell.get_config() == cell.get_config()
    np.testing.assert_allclose(loaded(X), model(X), atol=1e-6)


def test_import_tfseq_as_tfa():
    import tfseq as tfa

    assert sorted(tfa.rnn.__all__) == sorted(
        ["ESNCell", "LayerNormLSTMCell", "LayerNormSimpleRNNCell", "NASCell", "PeepholeLSTMCell"])
    for name in tfa.rnn.__all__:
        assert getattr(tfa.rnn, name) is getattr(tfseq.rnn, name)
    outputs, c, m = keras.layers.RNN(tfa.rnn.NASCell(4), return_sequences=True, return_state=True)(X)
    assert outputs.shape == (B, T, 4) and c.shape == m.shape == (B, 4)


@pytest.mark.parametrize("name", sorted(CASES))
def test_mixed_bfloat16_keeps_float32_weights_and_the_float32_numbers(name):
    """Under ``dtype="mixed_bfloat16"`` a cell keeps float32 weights, computes in bfloat16 and
    stays within bfloat16's precision of its float32 twin (4 % of the largest magnitude: ten
    roundings of eight bits, tests/test_mixed_precision.py's tolerance; 6 % for NAS, whose step
    rounds twice as deep a tree of gates), gradients float32."""
    cls, kwargs = CASES[name]
    tol = 0.06 if cls == "NASCell" else 0.04
    results = []
    for dtype in ("float32", "mixed_bfloat16"):
        cell = getattr(rnn, cls)(N, dtype=dtype, **kwargs)
        layer = keras.layers.RNN(cell, return_sequences=True, dtype=dtype)
        layer(X)
        cell.set_weights(WEIGHTS[name])
        assert {w.dtype for w in cell.weights} == {"float32"}, dtype
        with tf.GradientTape() as tape:
            outputs = layer(X)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * DY[..., :outputs.shape[-1]])
        grads = tape.gradient(loss, cell.trainable_weights)
        assert outputs.dtype == (tf.float32 if dtype == "float32" else tf.bfloat16)
        assert all(g.dtype == tf.float32 for g in grads), dtype
        results.append((tf.cast(outputs, tf.float32).numpy(), [g.numpy() for g in grads]))
    (out_ref, grads_ref), (out, grads) = results
    np.testing.assert_allclose(out, out_ref, atol=tol * np.abs(out_ref).max(), rtol=0)
    for mine, ref in zip(grads, grads_ref):
        np.testing.assert_allclose(mine, ref, atol=tol * np.abs(ref).max() + 1e-6, rtol=0)
