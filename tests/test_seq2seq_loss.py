"""sequence_loss / SequenceLoss against a NumPy reference of contrib's reductions, and a model
whose outputs carry a Keras mask fit and evaluated against real TF Addons 0.23."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa

from tfseq import seq2seq
from tfseq.seq2seq import SequenceLoss, sequence_loss

B, T, V = 3, 4, 5
rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((B, T, V)).astype(np.float32)
TARGETS = rng.integers(0, V, (B, T)).astype(np.int32)
# padding masked by 0 weights (row 2 fully padded: its divisions are 0/0 -> 0), one non-binary weight
WEIGHTS = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], np.float32)
WEIGHTS[0, 1] = 0.5


def numpy_crossent(logits, targets):
    shifted = logits - logits.max(-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_softmax, targets[..., None], -1)[..., 0]  # [B, T]


def safe_div(a, b):
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def numpy_sequence_loss(logits, targets, weights, avg_t, avg_b, sum_t, sum_b):
    x = numpy_crossent(logits, targets) * weights
    nonzero = (weights != 0).astype(np.float32)
    if avg_t and avg_b:
        return safe_div(x.sum(), weights.sum())
    if sum_t and sum_b:
        return safe_div(x.sum(), nonzero.sum())
    if avg_t or avg_b:
        axis = 0 if avg_b else 1
        return safe_div(x.sum(axis), weights.sum(axis))
    if sum_t or sum_b:
        axis = 0 if sum_b else 1
        return safe_div(x.sum(axis), nonzero.sum(axis))
    return x


FORBIDDEN = [
    ("average_across_timesteps", "sum_over_timesteps"),
    ("average_across_batch", "sum_over_batch"),
    ("average_across_batch", "sum_over_timesteps"),
    ("sum_over_batch", "average_across_timesteps"),
]
NAMES = ("average_across_timesteps", "average_across_batch", "sum_over_timesteps", "sum_over_batch")


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=4)))
def test_every_flag_combination_matches_numpy(flags):
    kwargs = dict(zip(NAMES, flags))
    if any(kwargs[a] and kwargs[b] for a, b in FORBIDDEN):
        with pytest.raises(ValueError, match="cannot both be True"):
            sequence_loss(LOGITS, TARGETS, WEIGHTS, **kwargs)
        return
    got = sequence_loss(LOGITS, TARGETS, WEIGHTS, **kwargs).numpy()
    want = numpy_sequence_loss(LOGITS, TARGETS, WEIGHTS, *flags)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_padding_is_ignored_and_one_hot_targets_and_custom_loss_agree():
    # changing logits at padded positions does not change the loss
    noisy = LOGITS.copy()
    noisy[1, 2:] += 100.0
    np.testing.assert_allclose(
        sequence_loss(noisy, TARGETS, WEIGHTS), sequence_loss(LOGITS, TARGETS, WEIGHTS), rtol=1e-6
    )
    one_hot = np.eye(V, dtype=np.float32)[TARGETS]
    np.testing.assert_allclose(
        sequence_loss(LOGITS, one_hot, WEIGHTS), sequence_loss(LOGITS, TARGETS, WEIGHTS), rtol=1e-6
    )
    calls = []

    def custom(labels, logits):
        calls.append((labels.shape, logits.shape))
        return 2.0 * tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    np.testing.assert_allclose(
        sequence_loss(LOGITS, TARGETS, WEIGHTS, softmax_loss_function=custom),
        2.0 * sequence_loss(LOGITS, TARGETS, WEIGHTS).numpy(),
        rtol=1e-6,
    )
    assert calls == [((B * T,), (B * T, V))]


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="logits must be"):
        sequence_loss(LOGITS[0], TARGETS, WEIGHTS)
    with pytest.raises(ValueError, match="weights must be"):
        sequence_loss(LOGITS, TARGETS, WEIGHTS[0])
    with pytest.raises(ValueError, match="average_across_batch must be True or False, got 1"):
        sequence_loss(LOGITS, TARGETS, WEIGHTS, average_across_batch=1)


def test_sequence_loss_class_defaults_config_and_keras_fit():
    loss = SequenceLoss()  # TFA defaults: sum_over_timesteps and sum_over_batch
    want = numpy_sequence_loss(LOGITS, TARGETS, WEIGHTS, False, False, True, True)
    np.testing.assert_allclose(loss(TARGETS, LOGITS, WEIGHTS), want, rtol=1e-6)
    np.testing.assert_allclose(
        loss(TARGETS, LOGITS),
        numpy_sequence_loss(LOGITS, TARGETS, np.ones((B, T), np.float32), False, False, True, True),
        rtol=1e-6,
    )
    per_row = SequenceLoss(average_across_timesteps=True, sum_over_timesteps=False, sum_over_batch=False)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(per_row))
    assert isinstance(revived, SequenceLoss) and revived.average_across_timesteps and not revived.sum_over_timesteps
    with pytest.raises(ValueError, match="cannot both be True"):
        SequenceLoss(average_across_batch=True)  # sum_over_batch is True by default

    model = keras.Sequential([keras.Input((T,)), keras.layers.Embedding(V, 8), keras.layers.Dense(V)])
    model.compile(keras.optimizers.Adam(0.05), loss=SequenceLoss())
    history = model.fit(TARGETS, TARGETS, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@keras.saving.register_keras_serializable(package="tfseq_test")
def doubled_xent(labels, logits):
    return 2.0 * tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def test_sequence_loss_class_saves_its_softmax_loss_function():
    loss = SequenceLoss(softmax_loss_function=doubled_xent)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert revived.softmax_loss_function is doubled_xent
    want = 2.0 * numpy_sequence_loss(LOGITS, TARGETS, WEIGHTS, False, False, True, True)
    np.testing.assert_allclose(revived(TARGETS, LOGITS, WEIGHTS), want, rtol=1e-6)


# A model whose outputs carry a Keras mask (``Embedding(mask_zero=True)`` then ``Dense``), fit and
# evaluated with ``SequenceLoss``; ``K`` and ``s2s`` are the library under test and its Keras.
MASKED_MODEL = """
model = K.Sequential([K.layers.Embedding(inputs["V"], 3, mask_zero=True), K.layers.Dense(inputs["V"])])
model.build((None, inputs["T"]))
model.set_weights(inputs["weights"])
model.compile(K.optimizers.SGD(0.5), loss=s2s.SequenceLoss())
ids, y, w = inputs["ids"], inputs["y"], inputs["w"]
outputs["evaluate"] = np.float32(model.evaluate(ids, y, batch_size=3, verbose=0))
outputs["evaluate_weighted"] = np.float32(model.evaluate(ids, y, sample_weight=w, batch_size=3, verbose=0))
model.fit(ids, y, sample_weight=w, batch_size=3, epochs=2, shuffle=False, verbose=0)
outputs["after_fit"] = model.get_weights()[1]
"""
MASKED_DATA = dict(
    V=V, T=T,
    ids=np.array([[1, 2, 3, 4], [3, 1, 0, 0], [2, 0, 0, 0]], np.int32),  # 0 pads: rows 4, 2 and 1 long
    y=rng.integers(0, V, (B, T)).astype(np.int32),
    w=np.array([[1, 0.5, 1, 2], [1, 1, 1, 1], [3, 1, 1, 1]], np.float32),
    weights=[rng.standard_normal(s).astype(np.float32) for s in ((V, 3), (3, V), (V,))],
)


def test_a_keras_mask_on_the_outputs_weighs_the_loss():
    """The mask multiplies the weights (and ``sample_weight``), called directly and in ``fit``."""
    mask = MASKED_DATA["ids"] != 0
    model = keras.Sequential([keras.layers.Embedding(V, 3, mask_zero=True), keras.layers.Dense(V)])
    model.build((None, T))
    model.set_weights(MASKED_DATA["weights"])
    logits = model(MASKED_DATA["ids"])
    assert logits._keras_mask is not None
    y, w = MASKED_DATA["y"], MASKED_DATA["w"]
    for weights, want_weights in ((None, mask * 1.0), (w, mask * w)):
        want = numpy_sequence_loss(logits.numpy(), y, want_weights.astype(np.float32), False, False, True, True)
        np.testing.assert_allclose(SequenceLoss()(y, logits, weights), want, rtol=1e-6)
    unmasked = numpy_sequence_loss(logits.numpy(), y, np.ones((B, T), np.float32), False, False, True, True)
    assert abs(float(SequenceLoss()(y, logits)) - unmasked) > 1e-3  # the padding would count otherwise


@requires_tfa
def test_fit_and_evaluate_with_a_masked_model_match_tfa():
    """tf.keras 2's ``compile`` weighed TF Addons' ``SequenceLoss`` by the outputs' mask; so does
    Keras 3 with tfseq's: the same losses and the same weights after two epochs."""
    theirs = run_tfa("K = tf.keras\ns2s = tfa.seq2seq\n" + MASKED_MODEL, MASKED_DATA)
    ours = {}
    exec(MASKED_MODEL, dict(K=keras, s2s=seq2seq, np=np, inputs=MASKED_DATA, outputs=ours))
    for key in ("evaluate", "evaluate_weighted", "after_fit"):
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5, rtol=0, err_msg=key)
