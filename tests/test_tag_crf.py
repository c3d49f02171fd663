"""The slot tagger's CRF output layer, on the library's CRF (:mod:`tfseq.text`, checked against TF
Addons and brute force in ``test_text_crf.py``): the zero-transition CRF equals the softmax loss, the
model decodes with Viterbi under its own ``crf_transitions`` weight."""

import keras
import numpy as np
import pytest

from tfseq import text
from tfseq.demos.tag.model import SlotIntentModel, joint_loss


def _example():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 4, 3)).astype(np.float32)  # batch 3, T 4, K 3
    transitions = rng.normal(size=(3, 3)).astype(np.float32)
    length = np.array([4, 2, 1], np.int32)
    tags = rng.integers(0, 3, size=(3, 4)).astype(np.int32)
    return logits, transitions, length, tags


def test_zero_transitions_equal_the_softmax_loss():
    logits, _, length, tags = _example()
    zeros = np.zeros([3, 3], np.float32)
    intent_logits = np.zeros([3, 2], np.float32)
    intent, weight = np.zeros(3, np.int32), np.array([1.0, 1.0, 0.0], np.float32)
    plain, parts = joint_loss(logits, tags, length, intent_logits, intent, weight)
    crf_loss, crf_parts = joint_loss(logits, tags, length, intent_logits, intent, weight, transitions=zeros)
    np.testing.assert_allclose(float(crf_parts["slot_sum"]), float(parts["slot_sum"]), rtol=1e-5)
    np.testing.assert_allclose(float(crf_loss), float(plain), rtol=1e-5)
    np.testing.assert_array_equal(text.crf_decode(logits, zeros, length)[0].numpy(),
                                  np.where(np.arange(4) < length[:, None], logits.argmax(-1), 0))


def test_model_with_crf_decodes_with_viterbi():
    keras.utils.set_random_seed(0)
    model = SlotIntentModel(20, 6, 3, num_units=6, embedding_size=4, crf=True)
    model.build()
    assert model.transitions.shape == (6, 6)
    assert model.transitions.path.endswith("/crf_transitions")  # the checkpoint's name
    assert any(w is model.transitions for w in model.trainable_weights)
    model.transitions.assign(np.random.default_rng(0).normal(size=(6, 6)).astype(np.float32) * 3)
    words, length = np.array([[3, 4, 5, 0], [6, 7, 8, 9]], np.int32), np.array([3, 4], np.int32)
    tag_ids, _ = model.predict_ids(words, length)
    slot_logits, _ = model({"words": words, "length": length})
    blocked = np.zeros(6, np.float32)
    blocked[[0, 1]] = -1e9
    expected, _ = text.crf_decode(slot_logits.numpy() + blocked, model.transitions.numpy(), length)
    np.testing.assert_array_equal(tag_ids.numpy(), expected.numpy())
    assert tag_ids.numpy()[0, 3] == 0
    assert not np.isin(tag_ids.numpy()[1], [0, 1]).any()
    assert SlotIntentModel.from_config(model.get_config()).crf
    with pytest.raises(ValueError, match="crf must be True or False, got 1"):
        SlotIntentModel(5, 5, 2, 4, 4, crf=1)
