"""TF1's ``tf.contrib.legacy_seq2seq``: ``rnn_decoder``, ``sequence_loss_by_example``, ``sequence_loss``.

``from tfseq import legacy_seq2seq`` replaces ``tf.contrib.legacy_seq2seq`` (char-rnn style
code). Same arguments, defaults and semantics as TF 1.15: sequences are Python lists of
per-step tensors (``[batch, ...]``), one entry per time step. For new code prefer
``tfseq.nn.dynamic_rnn`` and a per-token loss over ``[batch, time, vocab]`` logits.

The losses, with ``x_t`` the cross-entropy of step ``t`` (``[batch]``) and ``w_t`` its weight::

    sequence_loss_by_example = sum_t(w_t * x_t) / (sum_t(w_t) + 1e-12)     # [batch]
                               (without the division if average_across_timesteps=False)
    sequence_loss            = sum_b(sequence_loss_by_example) / batch_size  # scalar
                               (without the division if average_across_batch=False)
"""

from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq.nn.rnn import prepare_cell, tf1_training
from tfseq.rnn_cell.base import call_cell


def _check_list(name, value):
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"{name} must be a non-empty list of per-step tensors, got {type(value).__name__}: {value!r}")
    return list(value)


def rnn_decoder(
    decoder_inputs: Sequence[tf.Tensor],
    initial_state: Any,
    cell: keras.layers.Layer,
    loop_function: Callable | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """Run ``cell`` over a list of step inputs from ``initial_state``: TF1's ``rnn_decoder``.

    Args:
        decoder_inputs: list of ``[batch, depth]`` tensors, one per step.
        initial_state: the cell's start state (e.g. an encoder's final state).
        cell: any tfseq (or Keras, or TF1-style) RNN cell.
        loop_function: optional ``(prev_output, i) -> next_input``; when given, every
            step after the first feeds ``loop_function(output of step i - 1, i)`` instead of
            ``decoder_inputs[i]`` (greedy decoding; only ``decoder_inputs[0]`` and the
            length of the list are used). TF1 applies no gradient stop: the function may.
        scope: name scope of the ops (default ``rnn_decoder``); variable names come from the cell.
        training: as in :func:`tfseq.nn.dynamic_rnn` (None outside a Keras layer's
            ``call``: ``DropoutWrapper`` drops as in TF1).

    Returns:
        ``(outputs, state)``: a list of ``[batch, cell.output_size]``, one per step, and the
        final state.

    Raises:
        TypeError: ``decoder_inputs`` is not a non-empty list; ``loop_function`` not callable.
    """
    decoder_inputs = _check_list("decoder_inputs", decoder_inputs)
    if loop_function is not None and not callable(loop_function):
        raise TypeError(f"loop_function must be callable or None, got {loop_function!r}")
    context, _ = tf1_training(training)
    with tf.name_scope(scope or "rnn_decoder"), context:
        first = tf.convert_to_tensor(decoder_inputs[0])
        prepare_cell(cell, first.dtype)
        state, outputs, prev = initial_state, [], None
        for i, step_input in enumerate(decoder_inputs):
            if loop_function is not None and prev is not None:
                with tf.name_scope("loop_function"):
                    step_input = loop_function(prev, i)
            output, state = call_cell(cell, tf.convert_to_tensor(step_input), state, training)
            outputs.append(output)
            if loop_function is not None:
                prev = output
    return outputs, state


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
    logits = _check_list("logits", logits)
    targets = _check_list("targets", targets)
    weights = _check_list("weights", weights)
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


__all__ = ["rnn_decoder", "sequence_loss_by_example", "sequence_loss"]
