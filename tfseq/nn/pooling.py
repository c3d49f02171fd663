"""Pooling a batch of variable-length sequences over their real steps only."""

import tensorflow as tf


def masked_pool(outputs: tf.Tensor, length: tf.Tensor, pooling: str, scores: tf.Tensor | None = None) -> tuple:
    """Pool ``outputs [batch, T, F]`` over the first ``length`` steps of each row.

    ``pooling``: ``"mean"``, ``"max"`` or ``"attention"`` (then ``scores [batch, T]`` are the
    unnormalised attention logits). Returns ``(pooled [batch, F], weights [batch, T] or None)``.
    """
    mask = tf.sequence_mask(length, tf.shape(outputs)[1], dtype=outputs.dtype)  # [batch, T]
    if pooling == "mean":
        total = tf.reduce_sum(outputs * mask[:, :, None], axis=1)  # [batch, F]
        return total / tf.maximum(tf.cast(length, outputs.dtype), 1.0)[:, None], None
    if pooling == "max":
        lowest = tf.fill(tf.shape(outputs), tf.constant(outputs.dtype.min, outputs.dtype))
        return tf.reduce_max(tf.where(mask[:, :, None] > 0, outputs, lowest), axis=1), None
    if pooling == "attention":
        scores = tf.where(mask > 0, scores, tf.fill(tf.shape(scores), tf.constant(-1e9, scores.dtype)))
        weights = tf.nn.softmax(scores, axis=1)  # [batch, T], zero on padding
        return tf.reduce_sum(outputs * weights[:, :, None], axis=1), weights
    raise ValueError(f"pooling must be mean, max or attention, got {pooling!r}")
