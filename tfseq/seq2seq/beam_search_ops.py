"""Beam-search bookkeeping as pure functions (no weights): tiling, scoring, one search step, back-tracing.

Notation: ``B`` batch, ``W`` beam width, ``V`` vocabulary, ``T`` decoding steps.
One step (:func:`beam_search_step`) extends every live beam by every token::

    log p(y_1..t) = log p(y_1..t-1) + log softmax(logits_t)[y_t]           (finished beams: only
                                                                             end_token, at +0)
    score = log p / lp(len),   lp(len) = ((5 + len) / 6) ** alpha          (GNMT, Wu et al. 2016)
                  + beta * sum_j log(min(coverage_j, 1))                   (coverage, if beta != 0)

keeps the ``W`` best ``(beam, token)`` pairs per batch row (``top_k`` over ``W * V``),
and records each survivor's parent beam. A finished beam is frozen: its only child is
``end_token`` with log-probability 0 and unchanged length. :func:`gather_tree` then
follows the parent pointers back from the last step.

Within one beam every token but ``end_token`` shares the beam's log-probability, length
penalty and coverage term, so its score grows with its log-probability: only the beam's
``W`` most probable other tokens and ``end_token`` can be among the ``W`` survivors. The
step therefore scores those ``W + 1`` candidates per beam (:func:`beam_candidates`) and
runs the top-k over ``W * (W + 1)`` of them instead of ``W * V``: the same survivors,
scores and log-probabilities (the same float operations on the same values), without the
five ``[B, W, V]`` passes of masking, adding, penalising and dividing. Exact float ties are
broken as over ``W * V`` (the lower beam, then the lower token id) among the candidates.
Inside XLA the step's ``[B, W, V]`` log-probabilities are never written out either
(:func:`log_softmax_top_k`).

:func:`tile_batch` remembers what it tiled (:func:`tiled_from`), so that an attention
mechanism over a tiled memory reads each sentence's rows once per step.
"""

import math
import weakref
from typing import Any

import tensorflow as tf

from tfseq._checks import check_positive_int
from tfseq._xla import inside_xla


def tile_batch(t: Any, multiplier: int, name: str | None = None) -> Any:
    """Repeat each batch entry ``multiplier`` times: ``[B, ...] -> [B * multiplier, ...]``.

    Rows come out as ``t[0], t[0], ..., t[1], t[1], ...`` (what ``BeamSearchDecoder``
    expects of the encoder outputs and state, unlike ``tf.tile``). Works on nested
    structures.

    Raises:
        ValueError: ``multiplier`` is not a positive integer, or a tensor has unknown rank or rank 0.
    """
    multiplier = check_positive_int("tile_batch", "multiplier", multiplier)

    def tile_one(x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank is None or x.shape.rank < 1:
            raise ValueError(f"tile_batch: tensors must have a known rank >= 1, got shape {x.shape}")
        tiled = tf.repeat(x, multiplier, axis=0)  # [B * multiplier, ...]
        static_batch = None if x.shape[0] is None else x.shape[0] * multiplier
        tiled.set_shape(tf.TensorShape([static_batch]).concatenate(x.shape[1:]))
        _remember_tiling(tiled, x, multiplier)
        return tiled

    with tf.name_scope(name or "tile_batch"):
        return tf.nest.map_structure(tile_one, t)


_TILED: dict = {}  # id(a tile_batch output) -> (weak reference to it, its source, multiplier)


def _remember_tiling(tiled, source, multiplier):
    key = id(tiled)
    _TILED[key] = (weakref.ref(tiled, lambda _, key=key: _TILED.pop(key, None)), source, multiplier)


def tiled_from(t: Any) -> tuple | None:
    """``(source, multiplier)`` when ``t`` is a tensor that :func:`tile_batch` returned (so
    ``t = tf.repeat(source, multiplier, axis=0)``), else None.

    An attention mechanism whose memory comes from ``tile_batch`` reads it per group of
    ``multiplier`` rows from the source (:meth:`~tfseq.seq2seq.attention.AttentionMechanism.setup_memory`):
    beam search's ``W`` copies of each sentence's memory are then read once a step, not ``W`` times.
    """
    entry = _TILED.get(id(t))
    if entry is None or entry[0]() is not t:
        return None
    return entry[1], entry[2]


def merge_batch_beams(t):
    """``[B, W, ...] -> [B * W, ...]`` (rank >= 2 tensors; TensorArrays and scalars pass)."""
    if isinstance(t, tf.TensorArray) or t.shape.rank < 2:
        return t
    shape = tf.shape(t)
    merged = tf.reshape(t, tf.concat([[shape[0] * shape[1]], shape[2:]], 0))
    static = None if t.shape[0] is None or t.shape[1] is None else t.shape[0] * t.shape[1]
    merged.set_shape(tf.TensorShape([static]).concatenate(t.shape[2:]))
    return merged


def split_batch_beams(t, batch_size, beam_width):
    """``[B * W, ...] -> [B, W, ...]`` (rank >= 1 tensors; TensorArrays and scalars pass)."""
    if isinstance(t, tf.TensorArray) or t.shape.rank < 1:
        return t
    split = tf.reshape(t, tf.concat([[batch_size, beam_width], tf.shape(t)[1:]], 0))
    split.set_shape(tf.TensorShape([tf.get_static_value(batch_size), beam_width]).concatenate(t.shape[1:]))
    return split


def gather_beams(t, parent_ids):
    """Select beams: ``t [B, W, ...]``, ``parent_ids [B, W]`` -> ``t[b, parent_ids[b, w], ...]``.

    TensorArrays and tensors of rank < 2 (e.g. an attention state's step counter) pass through.
    """
    if isinstance(t, tf.TensorArray) or t.shape.rank < 2:
        return t
    return tf.gather(t, parent_ids, axis=1, batch_dims=1)


def length_penalty(lengths, weight):
    """GNMT length penalty ``((5 + lengths) / 6) ** weight`` (``1.0`` when ``weight`` is 0)."""
    static = tf.get_static_value(tf.convert_to_tensor(weight))
    if static is not None and static == 0:
        return 1.0
    weight = tf.convert_to_tensor(weight, tf.float32)
    return (5.0 + tf.cast(lengths, tf.float32)) ** weight / tf.constant(6.0) ** weight


def candidate_length_penalty(lengths, finished, end_token, vocab_size, weight, dtype, ids=None):
    """``lp`` of every candidate ``[B, W, V]`` (broadcastable), or ``1.0`` when ``weight`` is 0;
    of the candidates ``ids [B, W, C]`` only, when given.

    A candidate's length is its beam's ``lengths`` plus one, except for ``end_token`` and
    for finished beams (TF1/TFA's rule). Only two lengths occur per beam, so ``lp`` is
    computed on ``[B, W]`` and selected per token instead of raising ``[B, W, V]`` to a power.
    """
    if isinstance(length_penalty(0, weight), float):
        return 1.0
    same = tf.cast(length_penalty(lengths, weight), dtype)[:, :, tf.newaxis]  # [B, W, 1]
    grown = tf.cast(length_penalty(lengths + 1, weight), dtype)[:, :, tf.newaxis]
    ids = tf.range(vocab_size)[tf.newaxis, tf.newaxis] if ids is None else ids
    keeps_length = tf.logical_or(finished[:, :, tf.newaxis], tf.equal(ids, end_token))  # [B, W, V or C]
    return tf.where(keeps_length, same, grown)


def coverage_penalty(accumulated_attention, finished, weight):
    """``beta * sum_j log(min(a_j, 1))`` over source positions ``j`` of the accumulated
    attention ``[B, W, S]`` (positions never attended, e.g. padding, count as 1), applied
    to ``finished [B, W]`` beams only (TF1/TFA). Returns ``[B, W, 1]``."""
    safe = tf.where(tf.equal(accumulated_attention, 0.0), tf.ones_like(accumulated_attention), accumulated_attention)
    penalty = tf.reduce_sum(tf.math.log(tf.minimum(safe, 1.0)), axis=2)  # [B, W]
    penalty *= tf.cast(finished, penalty.dtype)
    return tf.expand_dims(penalty * weight, 2)


def mask_finished(step_log_probs, finished, end_token):
    """Freeze finished beams: their row becomes ``0`` at ``end_token`` and ``dtype.min`` elsewhere.

    ``step_log_probs [B, W, V]``, ``finished [B, W]``.
    """
    vocab_size = tf.shape(step_log_probs)[2]
    dtype = step_log_probs.dtype
    frozen_row = tf.one_hot(end_token, vocab_size, on_value=tf.constant(0.0, dtype), off_value=dtype.min, dtype=dtype)
    return tf.where(tf.expand_dims(finished, 2), frozen_row[tf.newaxis, tf.newaxis, :], step_log_probs)


def attention_probs(cell_state):
    """Mean alignments ``[B, W, S]`` of every attention state inside ``cell_state`` (duck-typed:
    a namedtuple with ``alignments`` and ``cell_state``), or None when there is none."""
    states = [cell_state] if _is_attention_state(cell_state) else []
    if not states and isinstance(cell_state, (tuple, list)):
        states = [s for s in cell_state if _is_attention_state(s)]
    if not states:
        return None
    probs = []
    for state in states:
        alignments = state.alignments
        if isinstance(alignments, (tuple, list)):  # several mechanisms: their mean
            alignments = tf.reduce_mean(tf.stack(list(alignments), -1), -1)
        probs.append(alignments)
    return probs[0] if len(probs) == 1 else tf.reduce_mean(tf.stack(probs, -1), -1)


def _is_attention_state(state):
    return hasattr(state, "alignments") and hasattr(state, "cell_state")


def beam_search_step(
    logits,
    cell_state,
    log_probs,
    finished,
    lengths,
    accumulated_attention,
    end_token,
    length_penalty_weight,
    coverage_penalty_weight,
    output_all_scores=False,
    prune=None,
):
    """One beam-search step on split tensors; returns ``(scores, word_ids, parent_ids, new_state)``.

    Args:
        logits: ``[B, W, V]`` this step's logits of each beam.
        cell_state: the cell's new state, split to ``[B, W, ...]`` (reordered here).
        log_probs: ``[B, W]`` accumulated log-probabilities.
        finished: ``[B, W]`` bool; lengths: ``[B, W]`` int64 (finished beams stop growing).
        accumulated_attention: ``[B, W, S]`` or None (only with a coverage penalty).
        end_token: int32 scalar; length_penalty_weight, coverage_penalty_weight: floats.
        output_all_scores: return every candidate's penalised score ``[B, W, V]`` (before the
            top-k) instead of the survivors' ``[B, W]``.
        prune: score only each beam's ``W + 1`` possible survivors (see the module notes);
            ``None`` decides by :func:`can_prune`, ``False`` scores all ``W * V`` pairs.

    Returns:
        ``scores [B, W]`` (penalised, sorted best first), ``word_ids [B, W]`` int32,
        ``parent_ids [B, W]`` int32, and ``(cell_state, log_probs, finished, lengths,
        accumulated_attention)`` of the surviving beams.
    """
    batch_size, beam_width = tf.shape(logits)[0], log_probs.shape[1] or tf.shape(log_probs)[1]
    vocab_size = logits.shape[-1] or tf.shape(logits)[-1]
    if prune is None:
        prune = can_prune(beam_width, vocab_size, output_all_scores)
    # mixed precision: bfloat16/float16 logits join the float32 log-probs before the softmax
    logits = tf.cast(logits, log_probs.dtype)
    if prune:  # [B, W, W + 1] candidates
        ids, step_log_probs = beam_candidates(logits, finished, end_token, beam_width)
    else:  # every token
        ids, step_log_probs = None, mask_finished(log_softmax(logits), finished, end_token)  # [B, W, V]
    total_log_probs = tf.expand_dims(log_probs, 2) + step_log_probs

    if accumulated_attention is not None:
        probs = attention_probs(cell_state)  # [B, W, S]
        probs = tf.cast(probs, accumulated_attention.dtype)
        accumulated_attention = accumulated_attention + probs * tf.expand_dims(
            tf.cast(tf.logical_not(finished), probs.dtype), 2
        )
    scores = total_log_probs / candidate_length_penalty(
        lengths, finished, end_token, vocab_size, length_penalty_weight, log_probs.dtype, ids
    )
    if accumulated_attention is not None:
        scores += coverage_penalty(accumulated_attention, finished, coverage_penalty_weight)

    top_scores, top_indices = tf.math.top_k(tf.reshape(scores, [batch_size, -1]), k=beam_width)  # [B, W]
    if ids is None:
        word_ids = tf.cast(tf.math.floormod(top_indices, vocab_size), tf.int32)
        parent_ids = tf.cast(top_indices // vocab_size, tf.int32)
    else:
        word_ids = tf.gather(tf.reshape(ids, [batch_size, -1]), top_indices, batch_dims=1)
        parent_ids = tf.cast(top_indices // (beam_width + 1), tf.int32)
    next_log_probs = tf.gather(tf.reshape(total_log_probs, [batch_size, -1]), top_indices, batch_dims=1)

    parent_finished = tf.gather(finished, parent_ids, batch_dims=1)
    next_finished = tf.logical_or(parent_finished, tf.equal(word_ids, end_token))
    next_lengths = tf.gather(lengths, parent_ids, batch_dims=1) + tf.cast(tf.logical_not(parent_finished), tf.int64)
    if accumulated_attention is not None:
        accumulated_attention = tf.gather(accumulated_attention, parent_ids, batch_dims=1)
    next_cell_state = tf.nest.map_structure(lambda t: gather_beams(t, parent_ids), cell_state)
    return (
        scores if output_all_scores else top_scores,
        word_ids,
        parent_ids,
        (next_cell_state, next_log_probs, next_finished, next_lengths, accumulated_attention),
    )


def can_prune(beam_width, vocab_size, output_all_scores=False) -> bool:
    """Whether :func:`beam_search_step` can score ``W + 1`` candidates per beam: a static
    beam width and vocabulary with ``V > W + 1``, and no request for every token's score."""
    return (not output_all_scores and isinstance(beam_width, int) and isinstance(vocab_size, int)
            and vocab_size > beam_width + 1)


def _chunk_size(length, k):
    """A chunk length for :func:`row_top_k` over rows of ``length`` (about ``sqrt(length) / 2``,
    a divisor of ``length`` when one is near), or None when plain ``top_k`` is as good."""
    if length < 64 * k:
        return None
    target = max(k, round(math.sqrt(length) / 2))
    divisors = [c for c in range(max(2, target // 2), 2 * target + 1) if length % c == 0]
    return min(divisors, key=lambda c: abs(c - target)) if divisors else target


def row_top_k(values: tf.Tensor, k: int) -> tuple:
    """``tf.math.top_k(values, k)`` over the last axis (static length), in two small passes.

    The last axis is cut into chunks; a row's ``k`` largest entries lie in the ``k`` chunks
    with the largest maxima (any entry outside them has ``k`` chunk maxima, ``k`` distinct
    entries, above it), so one ``reduce_max``, a top-k over the chunk maxima and a top-k
    over the ``k`` chosen chunks, kept in index order, give ``top_k``'s values and indices,
    including its tie rule (the lower index first): ordering entries by (value, lower
    index first) orders chunks the same way. Rows whose length is not a multiple of the
    chunk are padded with ``-inf`` past their end, which ranks below every entry.
    """
    length = values.shape[-1]
    chunk = _chunk_size(length, k) if isinstance(length, int) else None
    if chunk is None:
        return tf.math.top_k(values, k=k)
    blocks = _blocks(values, chunk)
    return _top_k_of_blocks(blocks, tf.reduce_max(blocks, -1), k)


def _blocks(values, chunk):
    """``values [..., n] -> [..., ceil(n / chunk), chunk]``, padded with ``-inf``."""
    length, lead = values.shape[-1], tf.shape(values)[:-1]
    chunks = -(-length // chunk)
    if chunks * chunk != length:
        pad = tf.fill(tf.concat([lead, [chunks * chunk - length]], 0), tf.constant(-math.inf, values.dtype))
        values = tf.concat([values, pad], -1)
    return tf.reshape(values, tf.concat([lead, [chunks, chunk]], 0))


def _top_k_of_blocks(blocks, block_max, k, monotone=None):
    """:func:`row_top_k`'s two passes over ``blocks [..., chunks, chunk]`` with their maxima
    ``block_max [..., chunks]``, ranking ``monotone(entry)`` where given: an element-wise
    non-decreasing map (so ``monotone(max) = max(monotone)``), applied only to the chunk
    maxima and the entries of the chosen chunks."""
    monotone = monotone or (lambda x: x)
    lead, batch_dims = tf.shape(blocks)[:-2], blocks.shape.rank - 2
    chunk = blocks.shape[-1]
    _, best = tf.math.top_k(monotone(block_max), k=k)  # [..., k] chunk numbers
    best = tf.sort(best, -1)  # index order, for top_k's tie rule
    picked = tf.reshape(tf.gather(blocks, best, batch_dims=batch_dims), tf.concat([lead, [k * chunk]], 0))
    top_values, at = tf.math.top_k(monotone(picked), k=k)
    return top_values, tf.gather(best, at // chunk, batch_dims=batch_dims) * chunk + at % chunk


def _log_softmax_of(logits, row_max):
    """The element-wise map ``x -> (x - max) - log(sum(exp(logits - max)))`` of each row of
    ``logits``: what ``tf.nn.log_softmax`` computes, as XLA writes it, for any entries ``x``
    read from that row (``[..., n]``, the leading axes those of ``logits``)."""
    log_sum = tf.math.log(tf.reduce_sum(tf.exp(logits - row_max), -1, keepdims=True))
    return lambda x: (x - row_max) - log_sum


def log_softmax(logits: tf.Tensor) -> tf.Tensor:
    """``tf.nn.log_softmax(logits)`` over the last axis; inside XLA written out as
    :func:`_log_softmax_of` does, so that the whole-vocabulary step and the candidates of
    :func:`log_softmax_top_k` compute every log-probability with the same operations."""
    if not inside_xla():
        return tf.nn.log_softmax(logits)
    return _log_softmax_of(logits, tf.reduce_max(logits, -1, keepdims=True))(logits)


def log_softmax_top_k(logits: tf.Tensor, k: int) -> tuple:
    """``top_k(log_softmax(logits), k)`` over the last axis, and ``log_prob_at(i)``, the
    log-probability of token ``i`` in every row: ``(values, indices, log_prob_at)``.

    Outside XLA: ``tf.nn.log_softmax`` (one fused kernel), then :func:`row_top_k`. Inside XLA
    the log-probabilities are never written out: the rows are read once for their chunk
    maxima (whose maximum is the row's) and once for the sum of exponentials, and only the
    chunk maxima, the entries of the chosen chunks and the entries asked for are mapped to
    log-probabilities (:func:`_log_softmax_of`, non-decreasing, so it ranks them as it ranks
    the log-probabilities). The values are those of :func:`log_softmax` bit for bit.
    """
    if not inside_xla():
        step_log_probs = tf.nn.log_softmax(logits)
        values, indices = row_top_k(step_log_probs, k)
        return values, indices, lambda i: tf.gather(step_log_probs, i, axis=-1)
    length = logits.shape[-1]
    chunk = _chunk_size(length, k) if isinstance(length, int) else None
    if chunk is None:
        to_log_probs = _log_softmax_of(logits, tf.reduce_max(logits, -1, keepdims=True))
        values, indices = tf.math.top_k(to_log_probs(logits), k=k)
    else:
        blocks = _blocks(logits, chunk)
        block_max = tf.reduce_max(blocks, -1)
        # the row maximum from the chunk maxima (not a second pass over the row), spelled as a
        # minimum so that XLA does not merge it with their reduction into one over the row
        row_max = -tf.reduce_min(-block_max, -1, keepdims=True)
        to_log_probs = _log_softmax_of(logits, row_max)
        values, indices = _top_k_of_blocks(blocks, block_max, k, to_log_probs)
    return values, indices, lambda i: to_log_probs(tf.gather(logits, [i], axis=-1))[..., 0]


def _drop_end_token(ids, values, end_token, keep):
    """The first ``keep`` entries of ``ids``/``values [..., keep + 1]`` that are not ``end_token``
    (at most one is), in their order."""
    order = tf.argsort(tf.cast(tf.equal(ids, end_token), tf.int32), axis=-1, stable=True)[..., :keep]
    return tf.gather(ids, order, batch_dims=ids.shape.rank - 1), tf.gather(values, order, batch_dims=ids.shape.rank - 1)


def beam_candidates(logits, finished, end_token, beam_width):
    """Each beam's possible survivors ``(token ids, log-probabilities)``, ``[B, W, W + 1]`` each,
    sorted by token id: its ``W`` most probable tokens other than ``end_token`` and
    ``end_token``; for a finished beam the values :func:`mask_finished` gives them (``0`` at
    ``end_token``, ``dtype.min`` elsewhere) and, as the lowest-index ties that a top-k over
    the whole frozen row picks, the ``W`` lowest token ids other than ``end_token``.

    ``logits [B, W, V]`` this step's, ``finished [B, W]``; the log-probabilities are
    :func:`log_softmax`'s (:func:`log_softmax_top_k`).
    """
    dtype = logits.dtype
    top_values, top_ids, log_prob_at = log_softmax_top_k(logits, beam_width + 1)  # [B, W, W + 1]
    ids, values = _drop_end_token(top_ids, top_values, end_token, beam_width)  # [B, W, W]
    low_ids = tf.range(beam_width + 1)
    low_ids, _ = _drop_end_token(low_ids, low_ids, end_token, beam_width)  # [W]
    frozen = finished[:, :, tf.newaxis]
    ids = tf.where(frozen, tf.broadcast_to(low_ids, tf.shape(ids)), ids)
    values = tf.where(frozen, tf.constant(dtype.min, dtype), values)
    end_values = tf.where(finished, tf.constant(0.0, dtype), log_prob_at(end_token))
    ids = tf.concat([ids, tf.fill(tf.shape(end_values[:, :, tf.newaxis]), end_token)], 2)  # [B, W, W + 1]
    values = tf.concat([values, end_values[:, :, tf.newaxis]], 2)
    order = tf.argsort(ids, axis=2, stable=True)
    return tf.gather(ids, order, batch_dims=2), tf.gather(values, order, batch_dims=2)


def gather_tree(step_ids: Any, parent_ids: Any, max_sequence_lengths: Any, end_token: Any) -> tf.Tensor:
    """Full beams from per-step ids and parent pointers (TF1's ``GatherTree`` op, in pure TF).

    For batch ``b`` and final beam ``w``, walking back from ``t = L_b - 1`` (``L_b =
    min(max_sequence_lengths[b], T)``) with ``k = w``: ``out[t] = step_ids[t, b, k]``,
    then ``k = parent_ids[t, b, k]``. Steps ``>= L_b`` and every step after a beam's first
    ``end_token`` are ``end_token``.

    Args:
        step_ids: ``[T, B, W]`` int32; parent_ids: ``[T, B, W]`` int32 in ``[0, W)``.
        max_sequence_lengths: ``[B]`` int32; end_token: int32 scalar.

    Returns:
        ``[T, B, W]`` int32 token ids of each final beam.
    """
    step_ids = tf.convert_to_tensor(step_ids, tf.int32)
    parent_ids = tf.convert_to_tensor(parent_ids, tf.int32)
    end_token = tf.convert_to_tensor(end_token, tf.int32)
    shape = tf.shape(step_ids)
    max_time, beam_width = shape[0], shape[2]
    lengths = tf.minimum(tf.convert_to_tensor(max_sequence_lengths, tf.int32), max_time)
    active = tf.transpose(tf.sequence_mask(lengths, max_time))[:, :, tf.newaxis]  # [T, B, 1]
    checks = []
    if not inside_xla():  # XLA drops (and logs) Assert ops
        checks.append(
            tf.debugging.assert_equal(
                tf.reduce_all((parent_ids >= 0) & (parent_ids < beam_width) | tf.logical_not(active)),
                True,
                message="gather_tree: parent_ids must be in [0, beam_width) "
                "(all parent ids must be positive and less than beam_width)",
            )
        )
    identity = tf.broadcast_to(tf.range(beam_width)[tf.newaxis], shape[1:])  # [B, W]

    def back_step(carry, elems):
        _, beam = carry  # beam: [B, W], which beam of step t each final beam passes through
        ids_t, parents_t, active_t = elems  # [B, W], [B, W], [B, 1]
        beam = tf.where(active_t, beam, identity)
        ids = tf.where(active_t, tf.gather(ids_t, beam, batch_dims=1), end_token)
        return ids, tf.where(active_t, tf.gather(parents_t, beam, batch_dims=1), identity)

    with tf.control_dependencies(checks):
        ids, _ = tf.scan(back_step, (step_ids, parent_ids, active), initializer=(identity, identity), reverse=True)
    # everything after a beam's first end_token becomes end_token
    seen_end = tf.cumsum(tf.cast(tf.equal(ids, end_token), tf.int32), axis=0, exclusive=True) > 0
    return tf.where(seen_end, end_token, ids)


def history_rows(parent_ids, sequence_length):
    """Which row of step ``t``'s cell call produced final beam ``w``'s token ``t``: ``[T, B, W]``.

    At step ``t`` the cell runs on the beams kept at step ``t - 1``, so the row behind
    token ``t`` of final beam ``w`` is that token's *parent*: ``parent_ids[t, b, k_t]``,
    where ``k_t`` is the beam ``w`` passes through at step ``t``. (TF1 contrib and TF Addons
    index by ``k_t`` itself, one step off: their reordered ``alignment_history`` rows
    belong to other hypotheses.) Steps past a beam's length keep row ``w``.
    """
    shape = tf.shape(parent_ids)
    beam_ids = tf.broadcast_to(tf.range(shape[2])[tf.newaxis, tf.newaxis], shape)  # [T, B, W]
    max_lengths = tf.cast(tf.reduce_max(sequence_length, axis=1), tf.int32)
    path = gather_tree(beam_ids, parent_ids, max_lengths, end_token=shape[2] + 1)  # k_t, [T, B, W]
    in_bound = tf.transpose(tf.sequence_mask(sequence_length, maxlen=shape[0]), [2, 0, 1])  # [T, B, W]
    path = tf.where(in_bound, path, beam_ids)
    rows = tf.gather(parent_ids, path, axis=2, batch_dims=2)  # parent_ids[t, b, k_t]
    return tf.where(in_bound, rows, beam_ids)


def reorder_history(t, parent_ids, sequence_length):
    """Per-step history ``t [T, B * W, ...]`` (written by the cell, e.g. ``alignment_history``)
    ordered along the final beams: row ``(b, w)`` of step ``t`` is what produced token ``t``
    of final beam ``w`` (see :func:`history_rows`)."""
    shape = tf.shape(parent_ids)
    flat = tf.reshape(t, tf.stack([shape[0], shape[1], shape[2], -1]))
    ordered = tf.gather(flat, history_rows(parent_ids, sequence_length), axis=2, batch_dims=2)
    return tf.reshape(ordered, tf.shape(t))


def gather_tree_from_array(t: Any, parent_ids: Any, sequence_length: Any) -> tf.Tensor:
    """Reorder a stacked per-step tensor along the final beams, as TF Addons does (by ``k_t``).

    ``BeamSearchDecoder`` uses :func:`reorder_history` instead, which picks the row that
    really produced each token (this function is kept for TFA code that calls it).

    Args:
        t: ``[T, B * W, ...]`` or ``[T, B, W, ...]``.
        parent_ids: ``[T, B, W]``; sequence_length: ``[B, W]`` lengths of the beams.

    Returns:
        ``t`` with, at every step, the beam each final beam descends from (steps past a
        beam's length keep their own beam).
    """
    shape = tf.shape(parent_ids)
    max_time, batch_size, beam_width = shape[0], shape[1], shape[2]
    beam_ids = tf.broadcast_to(tf.range(beam_width)[tf.newaxis, tf.newaxis], shape)  # [T, B, W]
    max_lengths = tf.cast(tf.reduce_max(sequence_length, axis=1), tf.int32)
    sorted_beams = gather_tree(beam_ids, parent_ids, max_lengths, end_token=beam_width + 1)
    in_bound = tf.transpose(tf.sequence_mask(sequence_length, maxlen=max_time), [2, 0, 1])  # [T, B, W]
    sorted_beams = tf.where(in_bound, sorted_beams, beam_ids)
    flat = tf.reshape(t, tf.stack([max_time, batch_size, beam_width, -1]))
    ordered = tf.gather(flat, sorted_beams, axis=2, batch_dims=2)
    return tf.reshape(ordered, tf.shape(t))
