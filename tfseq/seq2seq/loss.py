"""``sequence_loss``: TF1 contrib's / TF Addons' weighted cross-entropy over ``[batch, time]``."""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import deserialize_optional, serialize_optional
from tfseq._keras import keras_mask
from tfseq._xla import HALF_DTYPES
from tfseq.nn.losses import sparse_cross_entropy


def _check_flags(average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch):
    flags = dict(
        average_across_timesteps=average_across_timesteps,
        average_across_batch=average_across_batch,
        sum_over_timesteps=sum_over_timesteps,
        sum_over_batch=sum_over_batch,
    )
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f"sequence_loss: {name} must be True or False, got {value!r}")
    for a, b, why in (
        ("average_across_timesteps", "sum_over_timesteps", ""),
        ("average_across_batch", "sum_over_batch", ""),
        ("average_across_batch", "sum_over_timesteps", " because of ambiguous order"),
        ("sum_over_batch", "average_across_timesteps", " because of ambiguous order"),
    ):
        if flags[a] and flags[b]:
            raise ValueError(f"sequence_loss: {a} and {b} cannot both be True{why}")


def sequence_loss(
    logits: Any,
    targets: Any,
    weights: Any,
    average_across_timesteps: bool = True,
    average_across_batch: bool = True,
    sum_over_timesteps: bool = False,
    sum_over_batch: bool = False,
    softmax_loss_function: Callable | None = None,
    name: str | None = None,
) -> tf.Tensor:
    """Weighted cross-entropy of a sequence of logits, reduced as TF1 contrib / TFA do.

    With ``x[b, t] = w[b, t] * CE(logits[b, t], targets[b, t])``:

    ========================================= ===============================================
    flags set                                 result
    ========================================= ===============================================
    average_across_timesteps and _batch       ``sum x / sum w`` (scalar; default)
    sum_over_timesteps and sum_over_batch     ``sum x / count(w != 0)`` (scalar)
    average_across_timesteps only             ``sum_t x / sum_t w`` (``[batch]``)
    average_across_batch only                 ``sum_b x / sum_b w`` (``[time]``)
    sum_over_timesteps only                   ``sum_t x / count_t(w != 0)`` (``[batch]``)
    sum_over_batch only                       ``sum_b x / count_b(w != 0)`` (``[time]``)
    none                                      ``x`` (``[batch, time]``)
    ========================================= ===============================================

    Divisions by zero give 0 (``divide_no_nan``). Padding is masked by ``weights = 0``.

    Args:
        logits: float ``[batch, time, vocab]``; ``bfloat16``/``float16`` logits (mixed precision)
            are cast to ``float32`` first, so the softmax and the loss are ``float32``.
        targets: int ``[batch, time]`` ids (or float ``[batch, time, vocab]`` one-hot/probabilities).
        weights: float ``[batch, time]``, e.g. ``tf.sequence_mask(lengths, time, tf.float32)``.
        average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch:
            the reduction, see the table.
        softmax_loss_function: ``f(labels=[n], logits=[n, vocab]) -> [n]`` instead of the
            sparse softmax cross-entropy (called with keyword arguments).
        name: name scope.

    Returns:
        A float tensor of rank 0, 1 or 2 (see the table).

    Raises:
        ValueError: wrong ranks, non-bool flags, or an incompatible pair of flags.
    """
    logits, targets, weights = (tf.convert_to_tensor(x) for x in (logits, targets, weights))
    if logits.shape.rank != 3:
        raise ValueError(f"sequence_loss: logits must be [batch, time, vocab], got shape {logits.shape}")
    if targets.shape.rank not in (2, 3):
        raise ValueError(
            f"sequence_loss: targets must be [batch, time] ids or [batch, time, vocab], got shape {targets.shape}"
        )
    if weights.shape.rank != 2:
        raise ValueError(f"sequence_loss: weights must be [batch, time], got shape {weights.shape}")
    if softmax_loss_function is not None and not callable(softmax_loss_function):
        raise TypeError(f"sequence_loss: softmax_loss_function must be callable or None, got {softmax_loss_function!r}")
    _check_flags(average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch)
    with tf.name_scope(name or "sequence_loss"):
        vocab = tf.shape(logits)[2]
        flat_logits = tf.reshape(logits, [-1, vocab])  # [batch * time, vocab]
        if softmax_loss_function is None and targets.shape.rank == 2:
            # float32 for half-precision logits (cast inside); its own XLA program in a plain graph
            crossent = sparse_cross_entropy(tf.reshape(targets, [-1]), flat_logits)
        else:
            if flat_logits.dtype in HALF_DTYPES:  # mixed precision: the softmax and the loss in float32
                flat_logits = tf.cast(flat_logits, tf.float32)
                targets = tf.cast(targets, tf.float32) if targets.dtype in HALF_DTYPES else targets
            if softmax_loss_function is not None:
                crossent = softmax_loss_function(labels=tf.reshape(targets, [-1]), logits=flat_logits)
            else:
                crossent = tf.nn.softmax_cross_entropy_with_logits(
                    labels=tf.reshape(targets, [-1, vocab]), logits=flat_logits
                )
        weights = tf.cast(weights, crossent.dtype)
        crossent = tf.reshape(crossent, tf.shape(logits)[:2]) * weights  # [batch, time]

        if average_across_timesteps and average_across_batch:
            return tf.math.divide_no_nan(tf.reduce_sum(crossent), tf.reduce_sum(weights))
        if sum_over_timesteps and sum_over_batch:
            count = tf.cast(tf.math.count_nonzero(weights), crossent.dtype)
            return tf.math.divide_no_nan(tf.reduce_sum(crossent), count)
        if average_across_timesteps or average_across_batch:
            axis = 0 if average_across_batch else 1
            return tf.math.divide_no_nan(tf.reduce_sum(crossent, axis), tf.reduce_sum(weights, axis))
        if sum_over_timesteps or sum_over_batch:
            axis = 0 if sum_over_batch else 1
            count = tf.cast(tf.math.count_nonzero(weights, axis), crossent.dtype)
            return tf.math.divide_no_nan(tf.reduce_sum(crossent, axis), count)
        return crossent


@keras.saving.register_keras_serializable(package="tfseq")
class SequenceLoss(keras.losses.Loss):
    """``sequence_loss`` as a Keras loss: ``loss(y_true [batch, time] ids, y_pred [batch, time, vocab],
    sample_weight [batch, time])``. Defaults (TFA's): mean over non-zero weights
    (``sum_over_timesteps=sum_over_batch=True``). ``sample_weight=None`` weighs every token 1.
    A Keras mask on ``y_pred`` (a model's outputs after ``Embedding(mask_zero=True)``) multiplies
    the weights: Keras 3's rule for every loss, and what tf.keras 2's ``compile``/``fit`` did with
    TF Addons' ``SequenceLoss`` (called directly, TF Addons' ignored the mask).

    Args: as :func:`sequence_loss`; ``softmax_loss_function`` must then be a registered
    serialisable function for the loss to be saved.
    """

    def __init__(
        self,
        average_across_timesteps: bool = False,
        average_across_batch: bool = False,
        sum_over_timesteps: bool = True,
        sum_over_batch: bool = True,
        softmax_loss_function: Callable | None = None,
        name: str = "sequence_loss",
        **kwargs: Any,
    ) -> None:
        _check_flags(average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch)
        super().__init__(name=name, reduction=None, **kwargs)
        self.average_across_timesteps = average_across_timesteps
        self.average_across_batch = average_across_batch
        self.sum_over_timesteps = sum_over_timesteps
        self.sum_over_batch = sum_over_batch
        self.softmax_loss_function = softmax_loss_function

    def __call__(self, y_true, y_pred, sample_weight=None):
        mask = keras_mask(y_pred)
        if sample_weight is None:
            sample_weight = tf.ones(tf.shape(y_pred)[:2], y_pred.dtype)
        if mask is not None:
            sample_weight = tf.cast(sample_weight, y_pred.dtype) * tf.cast(mask, y_pred.dtype)
        return sequence_loss(
            y_pred,
            y_true,
            sample_weight,
            average_across_timesteps=self.average_across_timesteps,
            average_across_batch=self.average_across_batch,
            sum_over_timesteps=self.sum_over_timesteps,
            sum_over_batch=self.sum_over_batch,
            softmax_loss_function=self.softmax_loss_function,
            name=self.name,
        )

    def call(self, y_true, y_pred):
        return self(y_true, y_pred)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        return {
            **config,
            "average_across_timesteps": self.average_across_timesteps,
            "average_across_batch": self.average_across_batch,
            "sum_over_timesteps": self.sum_over_timesteps,
            "sum_over_batch": self.sum_over_batch,
            "softmax_loss_function": serialize_optional(self.softmax_loss_function),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["softmax_loss_function"] = deserialize_optional(config.get("softmax_loss_function"))
        return cls(**config)
