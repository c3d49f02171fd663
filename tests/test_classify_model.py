"""SentenceClassifier: padding never changes a prediction (every pooling, uni and bi), macro F1
on a hand-counted example, the embedding gradient sums repeated words, and a bidirectional
encoder learns a label that only a backward read sees early."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq.demos.classify import presets
from tfseq.demos.classify.model import SentenceClassifier, classifier_from_config, embedding_lookup
from tfseq.demos.classify.task import confusion_matrix, macro_f1


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_padding_is_masked(pooling, bidirectional):
    model = SentenceClassifier(50, 2, embedding_dim=8, num_units=6, num_layers=2, cell="gru",
                               bidirectional=bidirectional, residual=True, dropout=0.3, pooling=pooling, seed=1)
    model.build()
    length = tf.constant([3, 5], tf.int32)
    tight = tf.constant([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]], tf.int32)
    rng = np.random.default_rng(0)
    noisy = np.concatenate([tight.numpy(), rng.integers(1, 50, (2, 4))], axis=1)  # wider, garbage padding
    noisy[0, 3:] = rng.integers(1, 50, 6)
    a = model({"ids": tight, "length": length}, training=False)
    b = model({"ids": tf.constant(noisy, tf.int32), "length": length}, training=False)
    assert a.shape == (2, 2)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-5)


def test_macro_f1_on_a_hand_counted_example():
    # true 0 0 0 1 1 2, predicted 0 1 0 1 2 2:  C = [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # class 0: P 2/2, R 2/3, F1 0.8; class 1: P 1/2, R 1/2, F1 0.5; class 2: P 1/2, R 1/1, F1 2/3
    matrix = confusion_matrix([0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 2, 2], 3)
    np.testing.assert_array_equal(matrix, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert macro_f1(matrix) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3, abs=1e-12)
    assert macro_f1(confusion_matrix([0, 0], [0, 0], 2)) == pytest.approx(0.5)  # class 1 absent: F1 0


def test_repeated_words_move_once_under_adam():
    table = tf.Variable(tf.zeros([4, 2]))
    ids = tf.constant([[1, 1, 1, 1, 2]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(embedding_lookup(tf.convert_to_tensor(table), ids))
    grad = tape.gradient(loss, table)
    assert not isinstance(grad, tf.IndexedSlices)
    np.testing.assert_array_equal(grad.numpy(), [[0, 0], [4, 4], [1, 1], [0, 0]])
    keras.optimizers.Adam(0.1).apply_gradients([(grad, table)])
    np.testing.assert_allclose(table.numpy()[1:3], -0.1, rtol=1e-4)  # Adam's first step is lr per coordinate


def test_config_builds_the_model_and_rejects_bad_values():
    model = classifier_from_config(presets.TINY.with_overrides(pooling="attention", num_layers=2), 30)
    assert model.count_params() > 0 and model.get_config()["pooling"] == "attention"
    with pytest.raises(ValueError, match="pooling must be one of last, mean, max, attention, got 'sum'"):
        presets.TINY.with_overrides(pooling="sum")
    with pytest.raises(ValueError, match="freeze_embeddings needs pretrained vectors"):
        presets.TINY.with_overrides(freeze_embeddings=True)
    with pytest.raises(ValueError, match="dropout must be in"):
        SentenceClassifier(10, dropout=1.0)
    with pytest.raises(ValueError, match=r"ClassifyConfig.word_dropout must be in \[0, 1\), got 1.5"):
        presets.TINY.with_overrides(word_dropout=1.5)
    with pytest.raises(ValueError, match="ClassifyConfig.select_best must be True or False, got 1"):
        presets.TINY.with_overrides(select_best=1)


def _train_toy(bidirectional, steps=150, seed=0):
    """The label is the class of the FIRST of 16 tokens; a vanilla RNN read left to right must
    carry it through 15 distractors to its last state, the backward direction reads it last."""
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    model = SentenceClassifier(20, 2, embedding_dim=8, num_units=8, cell="rnn", bidirectional=bidirectional,
                               pooling="last", seed=seed)
    model.build()
    optimizer = keras.optimizers.Adam(0.01)

    def data(n):
        ids = rng.integers(1, 20, (n, 16)).astype(np.int32)
        return ids, (ids[:, 0] >= 10).astype(np.int32)

    @tf.function
    def step(ids, labels):
        with tf.GradientTape() as tape:
            logits = model({"ids": ids, "length": tf.fill([tf.shape(ids)[0]], 16)}, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

    for _ in range(steps):
        step(*data(32))
    ids, labels = data(500)
    logits = model({"ids": ids, "length": np.full(500, 16, np.int32)}, training=False)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def test_bidirectional_beats_unidirectional_when_the_label_is_in_the_future():
    uni, bi = _train_toy(False), _train_toy(True)
    assert bi > 0.95 and uni < 0.8 and bi - uni > 0.15, (uni, bi)
