"""The one training step, always run through a ``tf.distribute`` strategy (the default
strategy, one device, when none is given), as Keras' own trainer does.

Per replica (``strategy.run``)::

    objective, {loss_sum, count} = task.loss(batch_r, training=True)      # under a GradientTape
    g_r = d objective / d weights
    under a strategy:  g = all_reduce_SUM(w_r * g_r),  w_r = count_r / sum_r count_r  ("mean")
                                                       w_r = 1                         ("sum")
    g, norm = clip_by_global_norm(g, max_grad_norm)       (norm only, when max_grad_norm is None)
    optimizer.apply_gradients(g with repeated embedding rows summed)

then ``update_counters(sum over replicas of [loss_sum, count, norm / replicas])``.

* **Repeated embedding rows.** An ``Embedding``'s gradient is a ``tf.IndexedSlices`` with
  one slice per occurrence of an id. Keras 3's ``Adam`` squares each slice before adding
  them up, so a row seen ``k`` times would move by up to ``sqrt(k)`` times the learning rate;
  :func:`sum_duplicate_slices` sums the slices of each row first, which makes every optimizer
  take the dense-gradient step. (Under a strategy the gradients are all-reduced dense.)
* **Mixed precision.** Under a mixed policy (``mixed_bfloat16``) the weights are float32 and
  so are their gradients; the objective must be float32 too (:func:`check_float32_objective`:
  the demos' models return float32 logits).
* **XLA.** Without a strategy the whole step is one XLA program; under one, each replica's
  forward and backward pass is (the all-reduce and the update stay outside).
"""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._xla import HALF_DTYPES
from tfseq.train.task import TaskView


def sum_duplicate_slices(gradient: Any) -> Any:
    """``gradient`` with the slices of each repeated row of a ``tf.IndexedSlices`` summed
    into one (``tf.unique`` + ``tf.math.unsorted_segment_sum``); a dense gradient as it is."""
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, position = tf.unique(gradient.indices)  # rows [U], position [N] in 0..U-1
    values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])  # [U, ...]
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def check_float32_objective(objective: tf.Tensor) -> None:
    """Mixed precision keeps the loss in float32: a ``bfloat16``/``float16`` objective (logits that
    reached the cross-entropy uncast) raises ``TypeError`` at trace time instead of training on a
    loss rounded to 8 (or 11) bits."""
    dtype = tf.as_dtype(getattr(objective, "dtype", tf.float32))
    if dtype in HALF_DTYPES:
        raise TypeError(f"task.loss returned a {dtype.name} objective; compute the loss in float32 "
                        "(cast the logits with tf.cast(logits, tf.float32) before the cross-entropy)")


def make_train_step(task: TaskView, optimizer: keras.optimizers.Optimizer, max_grad_norm: float | None,
                    strategy: tf.distribute.Strategy, distributed: bool, xla: bool,
                    update_counters: Callable[[tf.Tensor], None]) -> Callable[[Any], None]:
    """The ``tf.function`` of one training step.

    Args:
        task: the task (a :class:`~tfseq.train.task.TaskView`).
        optimizer: a Keras optimizer; under a strategy it must apply gradients as given
            (:func:`tfseq.train.distribute.apply_without_reduction`).
        max_grad_norm: clip to this global norm, or ``None``.
        strategy: ``strategy or tf.distribute.get_strategy()``.
        distributed: whether ``strategy`` was given (the replicas' gradients are then weighted
            and all-reduced; otherwise the default strategy runs the step on one device).
        xla: compile with XLA: the whole step without a strategy, each replica's forward and
            backward pass under one.
        update_counters: called in cross-replica context with the step's
            ``[loss_sum, count, grad_norm]`` summed over replicas.
    """
    variables = task.model.trainable_variables

    def gradients(batch):
        with tf.GradientTape() as tape:
            objective, metrics = task.loss(batch, training=True)
        check_float32_objective(objective)
        grads = tape.gradient(objective, variables)
        return tf.cast(metrics["loss_sum"], tf.float32), tf.cast(metrics["count"], tf.float32), grads

    compute = tf.function(gradients, jit_compile=True) if xla and distributed else gradients

    def replica_step(batch):
        loss_sum, count, grads = compute(batch)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        grads = [g for g, _ in pairs]
        replicas = 1
        if distributed:
            context = tf.distribute.get_replica_context()
            replicas = context.num_replicas_in_sync
            if task.objective_reduction == "sum":
                weight = tf.constant(1.0)
            else:
                weight = count / tf.maximum(context.all_reduce(tf.distribute.ReduceOp.SUM, count), 1e-30)
            grads = context.all_reduce(tf.distribute.ReduceOp.SUM, [tf.convert_to_tensor(g) * weight for g in grads])
        if max_grad_norm is None:
            grad_norm = tf.linalg.global_norm(grads)
        else:
            grads, grad_norm = tf.clip_by_global_norm(grads, max_grad_norm)
        optimizer.apply_gradients(zip([sum_duplicate_slices(g) for g in grads], [v for _, v in pairs]))
        return tf.stack([loss_sum, count, grad_norm / replicas])

    def step(batch):
        sums = strategy.run(replica_step, args=(batch,))
        update_counters(strategy.reduce(tf.distribute.ReduceOp.SUM, sums, axis=None))

    return tf.function(step, jit_compile=xla and not distributed)
