"""The slot tagger's CRF layer: log-likelihood and Viterbi decoding against enumerating every tag
sequence of a small example (padding included), and the zero-transition CRF equals the softmax."""

import itertools

import keras
import numpy as np
import pytest

from tfseq.demos.tag.crf import crf_decode, crf_log_likelihood
from tfseq.demos.tag.model import SlotIntentModel, joint_loss


def _score(u, a, path):
    return sum(u[t, y] for t, y in enumerate(path)) + sum(a[path[t - 1], path[t]] for t in range(1, len(path)))


def _example():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 4, 3)).astype(np.float32)  # batch 3, T 4, K 3
    transitions = rng.normal(size=(3, 3)).astype(np.float32)
    length = np.array([4, 2, 1], np.int32)
    tags = rng.integers(0, 3, size=(3, 4)).astype(np.int32)
    return logits, transitions, length, tags


def test_log_likelihood_and_viterbi_equal_brute_force():
    logits, transitions, length, tags = _example()
    loglik = crf_log_likelihood(logits, tags, length, transitions).numpy()
    decoded = crf_decode(logits, length, transitions).numpy()
    for b in range(3):
        n = length[b]
        paths = list(itertools.product(range(3), repeat=n))
        scores = np.array([_score(logits[b], transitions, p) for p in paths], np.float64)
        log_z = np.log(np.exp(scores - scores.max()).sum()) + scores.max()
        gold = _score(logits[b], transitions, tags[b, :n])
        np.testing.assert_allclose(loglik[b], gold - log_z, rtol=1e-5, atol=1e-5)
        assert decoded[b, :n].tolist() == list(paths[int(np.argmax(scores))])
        assert np.all(decoded[b, n:] == 0)
    # padding scores and tags change nothing
    noisy_logits, noisy_tags = logits.copy(), tags.copy()
    noisy_logits[1, 2:] = 50.0
    noisy_tags[2, 1:] = 2
    np.testing.assert_allclose(crf_log_likelihood(noisy_logits, noisy_tags, length, transitions).numpy(), loglik,
                               rtol=1e-6)
    np.testing.assert_array_equal(crf_decode(noisy_logits, length, transitions).numpy(), decoded)


def test_zero_transitions_equal_the_softmax_loss():
    logits, _, length, tags = _example()
    zeros = np.zeros([3, 3], np.float32)
    intent_logits = np.zeros([3, 2], np.float32)
    intent, weight = np.zeros(3, np.int32), np.array([1.0, 1.0, 0.0], np.float32)
    plain, parts = joint_loss(logits, tags, length, intent_logits, intent, weight)
    crf, crf_parts = joint_loss(logits, tags, length, intent_logits, intent, weight, transitions=zeros)
    np.testing.assert_allclose(float(crf_parts["slot_sum"]), float(parts["slot_sum"]), rtol=1e-5)
    np.testing.assert_allclose(float(crf), float(plain), rtol=1e-5)
    np.testing.assert_array_equal(crf_decode(logits, length, zeros).numpy(),
                                  np.where(np.arange(4) < length[:, None], logits.argmax(-1), 0))


def test_model_with_crf_decodes_with_viterbi():
    keras.utils.set_random_seed(0)
    model = SlotIntentModel(20, 6, 3, num_units=6, embedding_size=4, crf=True)
    model.build()
    assert model.transitions.shape == (6, 6)
    model.transitions.assign(np.random.default_rng(0).normal(size=(6, 6)).astype(np.float32) * 3)
    words, length = np.array([[3, 4, 5, 0], [6, 7, 8, 9]], np.int32), np.array([3, 4], np.int32)
    tag_ids, _ = model.predict_ids(words, length)
    slot_logits, _ = model({"words": words, "length": length})
    blocked = np.zeros(6, np.float32)
    blocked[[0, 1]] = -1e9
    expected = crf_decode(slot_logits.numpy() + blocked, length, model.transitions.numpy()).numpy()
    np.testing.assert_array_equal(tag_ids.numpy(), expected)
    assert not np.isin(tag_ids.numpy()[1], [0, 1]).any()
    assert SlotIntentModel.from_config(model.get_config()).crf
    with pytest.raises(ValueError, match="crf must be True or False, got 1"):
        SlotIntentModel(5, 5, 2, 4, 4, crf=1)
