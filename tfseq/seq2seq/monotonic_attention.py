"""Monotonic attention (Raffel et al., 2017, "Online and Linear-Time Attention by Enforcing
Monotonic Alignments"): TF Addons' / TF1 contrib's ``LuongMonotonicAttention`` and
``BahdanauMonotonicAttention`` and the functions behind them.

A monotonic mechanism scores the memory as Luong or Bahdanau do, adds a learnt scalar
``r`` (``attention_score_bias``, initialised to ``score_bias_init``) and turns each score
into the probability of *stopping* at memory position ``j``::

    p[b, j]  = sigmoid(score[b, j] + r + sigmoid_noise * N(0, 1))    ("hard": 1[score + r > 0])
    a_i[b, j] = p[b, j] * sum_{k <= j} ( a_{i-1}[b, k] * prod_{k <= l < j} (1 - p[b, l]) )

``a_{i-1}`` is the previous step's alignments (the mechanism's state, a one-hot on position 0
at the first step), so attention can only move left to right. :func:`monotonic_attention`
evaluates the recurrence in three ways (``mode``): ``"recursive"`` (a ``tf.scan`` over
memory positions, exact), ``"parallel"`` (closed form with cumulative sums and products,
:func:`safe_cumprod`; the default) and ``"hard"`` (``p`` is 0 or 1).
"""

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq.seq2seq.attention import (
    BahdanauAttention,
    LuongAttention,
    mask_score,
)

MODES = ("parallel", "recursive", "hard")


def safe_cumprod(x: Any, *args: Any, **kwargs: Any) -> tf.Tensor:
    """``cumprod(x)`` computed as ``exp(cumsum(log(clip(x, tiny, 1))))``.

    Stable where ``x`` has entries near 0 (whose plain cumulative product and its gradient
    underflow). Takes ``tf.math.cumprod``'s arguments (``axis``, ``exclusive``, ``reverse``).
    """
    x = tf.convert_to_tensor(x, name="x")
    tiny = np.finfo(x.dtype.as_numpy_dtype).tiny
    return tf.exp(tf.cumsum(tf.math.log(tf.clip_by_value(x, tiny, 1)), *args, **kwargs))


def monotonic_attention(p_choose_i: Any, previous_attention: Any, mode: str) -> tf.Tensor:
    """Monotonic alignments from stopping probabilities (the recurrence in the module docstring).

    Args:
        p_choose_i: ``[batch, max_time]`` in ``[0, 1]``, the probability of stopping at each position.
        previous_attention: ``[batch, max_time]``, the previous step's alignments (a one-hot on
            position 0 at the first step).
        mode: ``"recursive"`` (``tf.scan``, exact), ``"parallel"`` (closed form,
            ``p * c * cumsum(a_prev / clip(c, 1e-10, 1))`` with ``c = safe_cumprod(1 - p,
            exclusive)``) or ``"hard"`` (``p`` in ``{0, 1}``:
            ``q = p * cumsum(a_prev)``, ``a = q * cumprod(1 - q, exclusive)``).

    Returns:
        ``[batch, max_time]`` alignments.

    Raises:
        ValueError: an unknown ``mode``.
    """
    if mode not in MODES:
        raise ValueError(f"monotonic_attention: mode must be 'recursive', 'parallel', or 'hard', got {mode!r}")
    p = tf.convert_to_tensor(p_choose_i, name="p_choose_i")
    previous = tf.convert_to_tensor(previous_attention, name="previous_attention")
    if mode == "recursive":
        batch = tf.shape(p)[0]
        # q_j = (1 - p_{j-1}) q_{j-1} + a_prev_j, over positions j (time-major for tf.scan)
        shifted = tf.concat([tf.ones([batch, 1], p.dtype), 1 - p[:, :-1]], axis=1)  # [batch, max_time]
        q = tf.scan(
            lambda carry, elems: elems[0] * carry + elems[1],
            (tf.transpose(shifted), tf.transpose(previous)),
            initializer=tf.zeros([batch], p.dtype),
        )  # [max_time, batch]
        return p * tf.transpose(q)
    if mode == "parallel":
        cumprod = safe_cumprod(1 - p, axis=1, exclusive=True)
        return p * cumprod * tf.cumsum(previous / tf.clip_by_value(cumprod, 1e-10, 1.0), axis=1)
    p = p * tf.cumsum(previous, axis=1)
    return p * tf.math.cumprod(1 - p, axis=1, exclusive=True)


def monotonic_probability_fn(score: Any, previous_alignments: Any, sigmoid_noise: float, mode: str,
                             seed: int | None = None) -> tf.Tensor:
    """Noisy sigmoid (or, for ``"hard"``, a step at 0) of the scores, then :func:`monotonic_attention`."""
    if sigmoid_noise > 0:
        score = score + sigmoid_noise * tf.random.normal(tf.shape(score), dtype=score.dtype, seed=seed)
    p = tf.cast(score > 0, score.dtype) if mode == "hard" else tf.sigmoid(score)
    return monotonic_attention(p, previous_alignments, mode)


class _MonotonicMixin:
    """The monotonic parts shared by both mechanisms: arguments, the score bias, the
    one-hot initial alignments and the state-dependent probability."""

    def _monotonic_args(self, sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode):
        owner = type(self).__name__
        if mode not in MODES:
            raise ValueError(f"{owner}: mode must be 'recursive', 'parallel', or 'hard', got {mode!r}")
        for name, value in (("sigmoid_noise", sigmoid_noise), ("score_bias_init", score_bias_init)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                raise ValueError(f"{owner}: {name} must be a number, got {value!r}")
        if sigmoid_noise < 0:
            raise ValueError(f"{owner}: sigmoid_noise must be >= 0, got {sigmoid_noise!r}")
        self.sigmoid_noise = float(sigmoid_noise)
        self.sigmoid_noise_seed = sigmoid_noise_seed
        self.score_bias_init = float(score_bias_init)
        self.mode = mode

    def _build_score_bias(self):
        self.attention_score_bias = self._add_tf1_weight(
            "attention_score_bias", (), keras.initializers.Constant(self.score_bias_init)
        )

    def get_config(self):
        config = {**super().get_config(), **self._monotonic_config()}
        config.pop("probability_fn", None)  # fixed: the monotonic recurrence replaces it
        return config

    def initial_alignments(self, batch_size, dtype):
        """One-hot on memory position 0 for every row: ``[batch_size, max_time]``."""
        self._check_memory()
        max_time = self._alignments_size if self._alignments_size is not None else tf.shape(self.keys)[1]
        return tf.one_hot(tf.zeros([batch_size], tf.int32), max_time, dtype=dtype)

    def call(self, inputs, state=None):
        query, previous = (inputs[0], inputs[1]) if state is None else (inputs, state)
        self._check_memory()
        score = self.score(query) + tf.cast(self.attention_score_bias, self.keys.dtype)  # [batch, max_time]
        previous = tf.cast(previous, score.dtype)
        masked = mask_score(score, self.mask, self.score_mask_value)
        alignments = monotonic_probability_fn(masked, previous, self.sigmoid_noise, self.mode, self.sigmoid_noise_seed)
        return alignments, alignments

    def _monotonic_config(self):
        return {
            "sigmoid_noise": self.sigmoid_noise,
            "sigmoid_noise_seed": self.sigmoid_noise_seed,
            "score_bias_init": self.score_bias_init,
            "mode": self.mode,
        }


@keras.saving.register_keras_serializable(package="tfseq")
class LuongMonotonicAttention(_MonotonicMixin, LuongAttention):
    """Monotonic attention with Luong's score: ``score = g * query . keys + r`` (module docstring).

    Args:
        units, memory, memory_sequence_length, scale, dtype, name, memory_layer: as
            :class:`~tfseq.seq2seq.attention.LuongAttention`.
        sigmoid_noise: standard deviation (>= 0) of the noise added before the sigmoid
            during training; 0 at test time.
        sigmoid_noise_seed: seed of that noise.
        score_bias_init: initial value of the score bias ``r`` (negative for long memories).
        mode: ``"parallel"`` (default), ``"recursive"`` or ``"hard"``.

    Weights (TF1 names): ``memory_layer/kernel``, ``luong_monotonic_attention/attention_score_bias``
    and with ``scale`` ``luong_monotonic_attention/attention_g``.
    """

    tf1_scope_name = "luong_monotonic_attention"

    def __init__(self, units: int | None = None, memory: Any = None, memory_sequence_length: Any = None,
                 scale: bool = False,
                 sigmoid_noise: float = 0.0, sigmoid_noise_seed: int | None = None, score_bias_init: float = 0.0,
                 mode: str = "parallel", dtype: Any = None, name: str = "LuongMonotonicAttention",
                 **kwargs: Any) -> None:
        kwargs.pop("probability_fn", None)  # saved configs carry the base class's argument
        self._monotonic_args(sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode)
        super().__init__(units, memory, memory_sequence_length, scale=scale, dtype=dtype, name=name, **kwargs)

    def build_score(self, query_depth):
        super().build_score(query_depth)
        self._build_score_bias()


@keras.saving.register_keras_serializable(package="tfseq")
class BahdanauMonotonicAttention(_MonotonicMixin, BahdanauAttention):
    """Monotonic attention with Bahdanau's score: ``score = v . tanh(keys + q) + r`` (or its
    normalised form), then the module docstring's recurrence.

    Args:
        units: as :class:`~tfseq.seq2seq.attention.BahdanauAttention`, and so are ``memory``,
            ``memory_sequence_length``, ``normalize``, ``kernel_initializer``, ``dtype``, ``name``,
            ``query_layer`` and ``memory_layer``.
        sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode: as
            :class:`LuongMonotonicAttention`.

    Weights (TF1 names): ``memory_layer/kernel``, ``bahdanau_monotonic_attention/{query_layer/kernel,
    attention_v, attention_score_bias}``, with ``normalize`` also ``attention_g``, ``attention_b``.
    """

    tf1_scope_name = "bahdanau_monotonic_attention"

    def __init__(self, units: int | None = None, memory: Any = None, memory_sequence_length: Any = None,
                 normalize: bool = False,
                 sigmoid_noise: float = 0.0, sigmoid_noise_seed: int | None = None, score_bias_init: float = 0.0,
                 mode: str = "parallel", kernel_initializer: Any = "glorot_uniform", dtype: Any = None,
                 name: str = "BahdanauMonotonicAttention", **kwargs: Any) -> None:
        kwargs.pop("probability_fn", None)
        self._monotonic_args(sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode)
        super().__init__(units, memory, memory_sequence_length, normalize=normalize,
                         kernel_initializer=kernel_initializer, dtype=dtype, name=name, **kwargs)


__all__ = [
    "LuongMonotonicAttention",
    "BahdanauMonotonicAttention",
    "monotonic_attention",
    "monotonic_probability_fn",
    "safe_cumprod",
]
