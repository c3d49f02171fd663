"""TF1's sequence losses over lists of per-step logits: ``sequence_loss_by_example``, ``sequence_loss``.

With ``x_t`` the cross-entropy of step ``t`` (``[batch]``) and ``w_t`` its weight::

    sequence_loss_by_example = sum_t(w_t * x_t) / (sum_t(w_t) + 1e-12)     # [batch]
                               (without the division if average_across_timesteps=False)
    sequence_loss            = sum_b(sequence_loss_by_example) / batch_size  # scalar
                               (without the division if average_across_batch=False)
"""

from collections.abc import Callable, Sequence

import tensorflow as tf


def check_list(name: str, value: object) -> list:
    """``value`` as a list; ``TypeError`` naming ``name`` unless it is a non-empty list or tuple."""
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"{name} must be a non-empty list of per-step tensors, got {type(value).__name__}: {value!r}")
    return list(value)


def sequence_loss_by_example(
    logits: Sequence[tf.Tensor],
    targets: Sequence[tf.Tensor],
    weights: Sequence[tf.Tensor],
    average_across_timesteps: bool = True,
    softmax_loss_function: Callable | None = None,
    name: str | None = None,
) -> tf.Tensor:
    """Weighted cross-entropy per example (the log-perplexity of each sequence): TF1's function.

    Args:
        logits: list of ``[batch, num_classes]`` tensors, one per step.
        targets: list of int ``[batch]`` tensors (any shape with ``batch`` elements), one per step.
        weights: list of float ``[batch]`` tensors, one per step.
        average_across_timesteps: divide each example's sum by its total weight (+ 1e-12).
        softmax_loss_function: ``(labels=..., logits=...) -> [batch]`` used instead of the
            sparse softmax cross-entropy (e.g. a sampled softmax).
        name: name scope (default ``sequence_loss_by_example``).

    Returns:
        ``[batch]`` float tensor.

    Raises:
        ValueError: the three lists differ in length (all three lengths are named).
        TypeError: an argument is not a non-empty list.
    """
    logits = check_list("logits", logits)
    targets = check_list("targets", targets)
    weights = check_list("weights", weights)
    if not len(logits) == len(targets) == len(weights):
        raise ValueError(
            "logits, targets and weights must have the same length, got "
            f"{len(logits)}, {len(targets)} and {len(weights)}"
        )
    with tf.name_scope(name or "sequence_loss_by_example"):
        weighted = []
        for logit, target, weight in zip(logits, targets, weights):
            if softmax_loss_function is None:
                crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tf.reshape(target, [-1]), logits=logit
                )  # [batch]
            else:
                crossent = softmax_loss_function(labels=target, logits=logit)
            weighted.append(crossent * weight)
        log_perps = tf.add_n(weighted)  # [batch]
        if average_across_timesteps:
            total_weight = tf.add_n(weights) + 1e-12  # avoids 0/0 for all-zero weights, as TF1
            log_perps = log_perps / total_weight
    return log_perps


def sequence_loss(
    logits: Sequence[tf.Tensor],
    targets: Sequence[tf.Tensor],
    weights: Sequence[tf.Tensor],
    average_across_timesteps: bool = True,
    average_across_batch: bool = True,
    softmax_loss_function: Callable | None = None,
    name: str | None = None,
) -> tf.Tensor:
    """Weighted cross-entropy of a batch of sequences: TF1's ``legacy_seq2seq.sequence_loss``.

    The sum over the batch of :func:`sequence_loss_by_example`, divided by the batch size
    (``tf.shape(targets[0])[0]``) when ``average_across_batch``. Arguments and errors as in
    :func:`sequence_loss_by_example`.

    Returns:
        a scalar float tensor.
    """
    with tf.name_scope(name or "sequence_loss"):
        cost = tf.reduce_sum(
            sequence_loss_by_example(
                logits,
                targets,
                weights,
                average_across_timesteps=average_across_timesteps,
                softmax_loss_function=softmax_loss_function,
            )
        )
        if average_across_batch:
            batch_size = tf.shape(targets[0])[0]
            return cost / tf.cast(batch_size, cost.dtype)
        return cost


__all__ = ["sequence_loss_by_example", "sequence_loss"]
