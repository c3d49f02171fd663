"""tfseq.nn.masked_pool: mean, max and attention pooling over each row's real steps, against NumPy."""

import numpy as np
import tensorflow as tf

from tfseq.nn import masked_pool


def test_masked_pool_against_numpy():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(2, 4, 3)).astype(np.float32)
    scores = rng.normal(size=(2, 4)).astype(np.float32)
    length = np.array([2, 4], np.int32)
    mean, _ = masked_pool(tf.constant(h), tf.constant(length), "mean")
    top, _ = masked_pool(tf.constant(h), tf.constant(length), "max")
    pooled, weights = masked_pool(tf.constant(h), tf.constant(length), "attention", tf.constant(scores))
    for row, n in enumerate(length):
        np.testing.assert_allclose(mean[row], h[row, :n].mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(top[row], h[row, :n].max(axis=0), atol=1e-6)
        alpha = np.exp(scores[row, :n]) / np.exp(scores[row, :n]).sum()
        np.testing.assert_allclose(weights[row, :n], alpha, atol=1e-6)
        np.testing.assert_allclose(weights[row, n:], 0.0, atol=1e-7)
        np.testing.assert_allclose(pooled[row], alpha @ h[row, :n], atol=1e-6)
