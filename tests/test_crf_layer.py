"""``tfa.layers.CRF`` and ``tfa.text.CRFModelWrapper`` (``tfseq.layers`` / ``tfseq.text``) against
real TF Addons 0.23, run in its reference subprocess: the same program text on both sides, with the
same weights. The layer's four outputs, its weight names and order, and the gradients of the CRF
negative log-likelihood for the inputs and every weight (≤ 1e-5), with the default options, without
the kernel, without the boundaries, with a right-padding mask and under a ``mixed_float16`` policy;
and three SGD steps of ``CRFModelWrapper.fit`` with sample weights (losses, evaluation, predicted
tags, final weights). Also the ``.keras`` round trip of both, the mask of a masking layer, the
left-padding error and the argument checks."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa_many

import tfseq as tfa
from tfseq.layers import crf as layers_crf
from tfseq.text import crf_wrapper

B, T, F, K, H = 3, 5, 6, 4, 7
rng = np.random.default_rng(5)


def _layer_case(use_kernel=True, use_boundary=True, mask=None, dtype="float32"):
    features = F if use_kernel else K
    shapes = [(K, K)] + [(K,), (K,)] * use_boundary + [(F, K), (K,)] * use_kernel
    return {
        "use_kernel": use_kernel,
        "use_boundary": use_boundary,
        "dtype": dtype,
        "x": rng.normal(size=(B, T, features)).astype(np.float32),
        "mask": np.zeros((0,), bool) if mask is None else np.array(mask, bool),
        "y": rng.integers(0, K, size=(B, T)).astype(np.int32),
        "sw": rng.uniform(0.5, 1.5, size=(B,)).astype(np.float32),
        "weights": [rng.normal(size=shape).astype(np.float32) for shape in shapes],
    }


LAYER_CASES = {
    "default": _layer_case(),
    "no_kernel": _layer_case(use_kernel=False),
    "no_boundary": _layer_case(use_boundary=False),
    "masked": _layer_case(mask=[[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]),
    "mixed_float16": _layer_case(dtype="mixed_float16"),
}

# Run as is by TF Addons (tf.keras is Keras 2 there) and here (``tfa`` is tfseq): ``inputs`` is the case.
LAYER_SOURCE = """
layer = tfa.layers.CRF(K, use_kernel=bool(inputs["use_kernel"]), use_boundary=bool(inputs["use_boundary"]),
                       dtype=str(inputs["dtype"]), name="crf")
x = tf.constant(inputs["x"])
mask = tf.constant(inputs["mask"]) if inputs["mask"].size else None
layer(x, mask=mask)
layer.set_weights(inputs["weights"])
outputs["names"] = np.array([w.name.split("/")[-1].split(":")[0] for w in layer.weights])
with tf.GradientTape() as tape:
    tape.watch(x)
    decoded, potentials, lengths, kernel = layer(x, mask=mask)
    log_likelihood, _ = tfa.text.crf_log_likelihood(potentials, inputs["y"], lengths, kernel)
    loss = tf.reduce_mean(-log_likelihood * inputs["sw"])
grads = tape.gradient(loss, [x] + layer.trainable_weights)
outputs["decoded"], outputs["potentials"], outputs["lengths"], outputs["kernel"] = decoded, potentials, lengths, kernel
outputs["dtypes"] = np.array([t.dtype.name for t in (decoded, potentials, lengths, kernel)])
outputs["loss"], outputs["dx"] = loss, grads[0]
for i, g in enumerate(grads[1:]):
    outputs[f"d{i}"] = g
"""

FIT_X = rng.normal(size=(4, T, F)).astype(np.float32)
FIT_CASE = {
    "x": FIT_X,
    "y": rng.integers(0, K, size=(4, T)).astype(np.int32),
    "sw": rng.uniform(0.5, 1.5, size=(4,)).astype(np.float32),
    "base_weights": [rng.normal(size=(F, H)).astype(np.float32) * 0.5, rng.normal(size=(H,)).astype(np.float32) * 0.1],
    "crf_weights": [rng.normal(size=s).astype(np.float32) * 0.5 for s in [(K, K), (K,), (K,), (H, K), (K,)]],
}

# Three SGD steps of CRFModelWrapper.fit (one batch per epoch), with per-sequence sample weights.
FIT_SOURCE = """
x = inputs["x"]
inp = keras.Input(shape=x.shape[1:])
base = keras.Model(inp, keras.layers.Dense(H, activation="tanh")(inp))
model = tfa.text.CRFModelWrapper(base, K)
model(x)
base.set_weights(inputs["base_weights"])
model.crf_layer.set_weights(inputs["crf_weights"])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), run_eagerly=RUN_EAGERLY)
history = model.fit(x, inputs["y"], sample_weight=inputs["sw"], batch_size=len(x), epochs=3, shuffle=False,
                    verbose=0).history
outputs["crf_loss"], outputs["loss"] = history["crf_loss"], history["loss"]
outputs["eval"] = model.evaluate(x, inputs["y"], verbose=0, return_dict=True)["crf_loss"]
outputs["pred"] = model.predict(x, verbose=0)
for i, w in enumerate(model.crf_layer.get_weights() + base.get_weights()):
    outputs[f"w{i}"] = w
"""

_PRELUDE = f"K, H = {K}, {H}\n"


@pytest.fixture(scope="module")
def reference():
    cases = [(name, _PRELUDE + LAYER_SOURCE, case) for name, case in LAYER_CASES.items()]
    # Eagerly in TF Addons (it traces slowly); here in a tf.function, as fit runs by default.
    cases.append(("fit", _PRELUDE + "keras, RUN_EAGERLY = tf.keras, True\n" + FIT_SOURCE, FIT_CASE))
    return run_tfa_many(cases)


def _ours(source, case):
    outputs = {}
    exec(_PRELUDE + source, {"tf": tf, "np": np, "tfa": tfa, "keras": keras, "RUN_EAGERLY": False, "inputs": case,
                             "outputs": outputs})
    return {k: np.asarray(v) for k, v in outputs.items()}


def _assert_same(ours, ref, tol=1e-5):
    assert set(ours) == set(ref)
    for key in sorted(ref):
        if ref[key].dtype.kind in "iubU":
            np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)
        else:
            assert ours[key].dtype == ref[key].dtype, key
            np.testing.assert_allclose(ours[key], ref[key], rtol=tol, atol=tol, err_msg=key)


@requires_tfa
@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_layer_matches_tf_addons(reference, name):
    """Outputs, dtypes, weight names and order, the loss and every gradient."""
    ours, ref = _ours(LAYER_SOURCE, LAYER_CASES[name]), reference[name]
    expected_names = ["chain_kernel"] + ["left_boundary", "right_boundary"] * LAYER_CASES[name]["use_boundary"]
    expected_names += ["kernel", "bias"] * LAYER_CASES[name]["use_kernel"]
    assert list(ref["names"]) == expected_names
    assert list(ref["dtypes"]) == ["int32", "float32", "int64", "float32"]
    _assert_same(ours, ref)


@requires_tfa
def test_model_wrapper_training_matches_tf_addons(reference):
    ours, ref = _ours(FIT_SOURCE, FIT_CASE), reference["fit"]
    assert ref["crf_loss"].shape == (3,) and not np.allclose(ref["crf_loss"][0], ref["crf_loss"][-1])
    _assert_same(ours, ref)


def test_public_names():
    assert tfa.layers.CRF is layers_crf.CRF is tfa.text.crf_layer.CRF
    assert tfa.text.CRFModelWrapper is crf_wrapper.CRFModelWrapper
    layer = tfa.layers.CRF(3, use_boundary=False, chain_initializer="zeros", name="tags")
    clone = tfa.layers.CRF.from_config(layer.get_config())
    assert (clone.units, clone.use_boundary, clone.use_kernel, clone.name) == (3, False, True, "tags")
    assert isinstance(clone.chain_initializer, keras.initializers.Zeros)


def test_mask_of_a_masking_layer_and_left_padding():
    tokens = np.array([[3, 1, 2, 0, 0], [4, 0, 0, 0, 0]])
    embed = keras.layers.Embedding(6, F, mask_zero=True)
    layer = tfa.layers.CRF(K)
    decoded, potentials, lengths, _ = layer(embed(tokens))
    np.testing.assert_array_equal(lengths, [3, 1])
    explicit = layer(embed(tokens), mask=tokens > 0)
    np.testing.assert_array_equal(decoded, explicit[0])
    np.testing.assert_allclose(potentials, explicit[1])
    assert keras.ops.all(decoded[:, 3:] == 0)
    with pytest.raises(NotImplementedError, match="left padding"):
        layer(embed(tokens), mask=np.array([[0, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool))
    with pytest.raises(ValueError, match=r"CRF: mask must be 2-D .*\(2, 5, 1\)"):
        layer(embed(tokens), mask=np.ones((2, 5, 1), bool))


def test_keras_file_round_trip(tmp_path):
    x = FIT_X
    inp = keras.Input((T, F))
    model = keras.Model(inp, tfa.layers.CRF(K, boundary_initializer="random_normal")(inp))
    path = os.path.join(tmp_path, "crf.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_array_equal(a, b)

    base_in = keras.Input((T, F))
    wrapper = tfa.text.CRFModelWrapper(keras.Model(base_in, keras.layers.Dense(H)(base_in)), K)
    wrapper.compile(optimizer=keras.optimizers.SGD(0.1))
    wrapper(x)
    path = os.path.join(tmp_path, "wrapper.keras")
    wrapper.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, tfa.text.CRFModelWrapper)
    np.testing.assert_array_equal(wrapper(x), loaded(x))
    before = wrapper.train_on_batch(x, FIT_CASE["y"], return_dict=True)
    after = loaded.train_on_batch(x, FIT_CASE["y"], return_dict=True)
    assert before == after
    for a, b in zip(wrapper.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "CRF: units must be a positive integer, got 0"),
        ({"units": "4"}, "CRF: units must be a positive integer, got '4'"),
        ({"units": 4, "use_boundary": 1}, "CRF: use_boundary must be True or False, got 1"),
        ({"units": 4, "use_kernel": None}, "CRF: use_kernel must be True or False, got None"),
        ({"units": 4, "chain_initializer": "nope"}, "CRF: chain_initializer must be a Keras initializer .* 'nope'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfa.layers.CRF(**kwargs)


def test_bad_base_model():
    with pytest.raises(ValueError, match="CRFModelWrapper: base_model must be a Keras model or layer, got None"):
        tfa.text.CRFModelWrapper(None, K)
