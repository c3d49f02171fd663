"""A linear-chain CRF over per-word tag scores: its log-likelihood and Viterbi decoding, as pure functions.

For one utterance of ``n`` words with unary scores ``u_t(y)`` (``logits [T, K]``) and a
learned transition matrix ``A [K, K]`` (``A[i, j]``: tag ``i`` followed by tag ``j``), a tag
sequence ``y`` scores::

    s(y) = sum_{t < n} u_t(y_t) + sum_{1 <= t < n} A[y_{t-1}, y_t]

    log Z = log sum_y exp s(y)                       (forward algorithm:
            alpha_0 = u_0,  alpha_t(j) = logsumexp_i(alpha_{t-1}(i) + A[i, j]) + u_t(j),
            log Z = logsumexp_j alpha_{n-1}(j))
    log p(y) = s(y) - log Z

    viterbi: delta_0 = u_0, delta_t(j) = max_i(delta_{t-1}(i) + A[i, j]) + u_t(j), then follow the
             argmax back from argmax_j delta_{n-1}(j)

Positions ``t >= n`` (padding) take no part: alpha and delta are carried through them
unchanged. With ``A = 0`` the CRF is the per-word softmax: ``-log p(y)`` is the sum of the
words' cross-entropies (a test checks it, and checks both functions against enumerating every
tag sequence of a small example).
"""

import tensorflow as tf


def crf_log_likelihood(logits, tags, length, transitions):
    """``log p(tags)`` per utterance, ``[batch]``.

    Args:
        logits: ``[batch, T, K]`` unary scores.
        tags: int ``[batch, T]`` gold tags (anything past ``length``).
        length: int ``[batch]`` words per utterance (>= 1).
        transitions: ``[K, K]``.
    """
    steps = tf.shape(logits)[1]
    mask = tf.sequence_mask(length, steps, dtype=logits.dtype)  # [batch, T]
    unary = tf.reduce_sum(tf.gather(logits, tags, axis=2, batch_dims=2) * mask, axis=1)  # [batch]
    pair = tf.gather_nd(transitions, tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1))  # [batch, T - 1]
    binary = tf.reduce_sum(pair * mask[:, 1:], axis=1)  # [batch]
    return unary + binary - _log_partition(logits, mask, transitions)


def _log_partition(logits, mask, transitions):
    """``log Z [batch]`` by the forward algorithm (module docstring)."""
    def step(alpha, inputs):
        u_t, m_t = inputs  # [batch, K], [batch]
        new = tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1) + u_t  # [batch, K]
        return tf.where(m_t[:, None] > 0, new, alpha)

    rest = (tf.transpose(logits[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:]))  # time-major
    alpha = tf.foldl(step, rest, initializer=logits[:, 0])  # [batch, K]
    return tf.reduce_logsumexp(alpha, axis=1)


def crf_decode(logits, length, transitions):
    """The highest-scoring tag sequence, int32 ``[batch, T]`` (0 past ``length``)."""
    steps = tf.shape(logits)[1]
    num_tags = tf.shape(logits)[2]
    mask = tf.sequence_mask(length, steps)  # [batch, T]

    def step(carry, inputs):
        delta, _ = carry
        u_t, m_t = inputs
        scores = delta[:, :, None] + transitions[None]  # [batch, K (from), K (to)]
        best_from = tf.argmax(scores, axis=1, output_type=tf.int32)  # [batch, K]
        new = tf.reduce_max(scores, axis=1) + u_t
        keep = tf.broadcast_to(tf.range(num_tags)[None], tf.shape(best_from))  # identity past the length
        return tf.where(m_t[:, None], new, delta), tf.where(m_t[:, None], best_from, keep)

    rest = (tf.transpose(logits[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:]))
    first = (logits[:, 0], tf.zeros_like(logits[:, 0], tf.int32))
    deltas, pointers = tf.scan(step, rest, initializer=first)  # [T - 1, batch, K] each
    last_delta = tf.concat([first[0][None], deltas], axis=0)[-1]  # [batch, K]
    last = tf.argmax(last_delta, axis=1, output_type=tf.int32)  # [batch], the tag at length - 1

    def back(tag, pointer):  # pointer [batch, K]: the best previous tag for each tag
        return tf.gather(pointer, tag, axis=1, batch_dims=1)

    previous = tf.scan(back, pointers, initializer=last, reverse=True)  # [T - 1, batch]: tags 0 .. T-2
    path = tf.concat([tf.transpose(previous), last[:, None]], axis=1)  # [batch, T]
    return tf.where(mask, path, 0)
