"""``BeamSearchDecoder``: TF Addons' beam search (GNMT length and coverage penalties) as a Keras layer.

The math lives in :mod:`tfseq.seq2seq.beam_search_ops` (pure functions); this module
holds the decoder and its state/output structures.
"""

import collections
import numbers
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int, deserialize_optional, serialize_optional
from tfseq._xla import HALF_DTYPES
from tfseq.rnn_cell.base import call_cell
from tfseq.rnn_cell.wrappers import check_cell
from tfseq.seq2seq import beam_search_ops as ops
from tfseq.seq2seq.basic_decoder import OUTPUT_LAYER_HINT, check_end_token, check_state_batch, rnn_output_size
from tfseq.seq2seq.decoder import BaseDecoder
from tfseq.seq2seq.sampler import check_embedding_fn, embedding_lookup_fn, serialize_embedding_fn


class BeamSearchDecoderState(
    collections.namedtuple(
        "BeamSearchDecoderState", ("cell_state", "log_probs", "finished", "lengths", "accumulated_attention_probs")
    )
):
    """Loop state of a ``BeamSearchDecoder``.

    Attributes:
        cell_state: the cell's state, every tensor split to ``[B, W, ...]``.
        log_probs: ``[B, W]`` accumulated log-probabilities.
        finished: ``[B, W]`` bool.
        lengths: ``[B, W]`` int64 lengths (including the end token).
        accumulated_attention_probs: ``[B, W, S]`` summed attention (coverage penalty) or ``()``.
    """

    __slots__ = ()


class BeamSearchDecoderOutput(
    collections.namedtuple("BeamSearchDecoderOutput", ("scores", "predicted_ids", "parent_ids"))
):
    """One step of beam search: ``scores`` (penalised, best first), ``predicted_ids`` and
    ``parent_ids``, each ``[B, W]`` (``[B, T, W]`` once stacked)."""

    __slots__ = ()


class FinalBeamSearchDecoderOutput(
    collections.namedtuple("FinalBeamDecoderOutput", ("predicted_ids", "beam_search_decoder_output"))
):
    """``predicted_ids [B, T, W]``: the full beams, best first (from :func:`gather_tree`);
    ``beam_search_decoder_output``: the per-step :class:`BeamSearchDecoderOutput`."""

    __slots__ = ()


def _check_weight(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"BeamSearchDecoder: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


_TFA_POSITIONAL = (
    "embedding_fn",
    "output_layer",
    "length_penalty_weight",
    "coverage_penalty_weight",
    "reorder_tensor_arrays",
    "output_all_scores",
)
_TF1_INPUTS = ("embedding", "start_tokens", "end_token", "initial_state")
_TF1_POSITIONAL = (
    "start_tokens",
    "end_token",
    "initial_state",
    "beam_width",
    "output_layer",
    "length_penalty_weight",
    "coverage_penalty_weight",
    "reorder_tensor_arrays",
    "output_all_scores",
)


def _tf1_spelling(second, args, tf1_inputs):
    """TF1 contrib's ``BeamSearchDecoder(cell, embedding, start_tokens, end_token, initial_state,
    beam_width, output_layer=None, ...)`` (positional or keywords) -> ``(beam_width, TFA-order
    positional options, {embedding, start_tokens, end_token, initial_state})``."""
    is_tf1_positional = not isinstance(second, numbers.Integral) and len(args) >= 4
    if not is_tf1_positional:
        missing = sorted(set(_TF1_INPUTS[1:]) - set(tf1_inputs)) if tf1_inputs else []
        if missing:
            raise TypeError(
                f"BeamSearchDecoder: the TF1 spelling needs start_tokens, end_token and initial_state; "
                f"missing {missing}"
            )
        return second, args, tf1_inputs
    named = dict(zip(_TF1_POSITIONAL, args))
    if len(args) > len(_TF1_POSITIONAL):
        raise TypeError(f"BeamSearchDecoder: too many positional arguments ({2 + len(args)})")
    tf1_inputs = {"embedding": second, **{k: named.pop(k) for k in _TF1_INPUTS[1:]}, **tf1_inputs}
    beam_width = named.pop("beam_width")
    rest = tuple(named[k] for k in _TFA_POSITIONAL[1:] if k in named)
    return beam_width, (None,) + rest, tf1_inputs


def _tf1_inputs_by_position(args, tf1_inputs):
    """TF1's ``BeamSearchDecoder(cell, embedding, start_tokens, end_token, initial_state,
    beam_width=W, ...)``: the positional ``args`` are its first inputs, in that order."""
    if len(args) > len(_TF1_INPUTS):
        raise TypeError(f"BeamSearchDecoder: with beam_width= given by name, at most {len(_TF1_INPUTS) + 1} "
                        f"positional arguments (cell, {', '.join(_TF1_INPUTS)}), got {1 + len(args)}")
    named = dict(zip(_TF1_INPUTS, args))
    twice = sorted(set(named) & set(tf1_inputs))
    if twice:
        raise TypeError(f"BeamSearchDecoder: got multiple values for {twice}")
    return {**named, **tf1_inputs}


@keras.saving.register_keras_serializable(package="tfseq")
class BeamSearchDecoder(BaseDecoder):
    """Beam search over a cell's outputs, keeping the ``beam_width`` best hypotheses per row.

    At every step each live beam is extended by every token; hypotheses are ranked by

        score = log p(y_1..t) / ((5 + |y|) / 6) ** length_penalty_weight
                + coverage_penalty_weight * sum_j log(min(sum_t a_tj, 1))   (finished beams)

    and the best ``beam_width`` survive (:func:`~tfseq.seq2seq.beam_search_ops.beam_search_step`).
    ``|y|`` is TF1/TFA's: a candidate ending in ``end_token`` is scored without it, and from the
    next step on its length counts it. A beam that emits ``end_token`` is frozen. At the end the beams are traced back
    through their parents (:func:`gather_tree`), best first.

    The cell's initial state (and an attention mechanism's memory) must hold ``B * W``
    rows, tiled with :func:`tile_batch` (not ``tf.tile``).

    Args:
        cell: any RNN cell (an ``AttentionWrapper`` for attention models).
        beam_width: positive int ``W``.
        embedding_fn: ``ids [B, W] -> [B, W, depth]`` (e.g. a ``keras.layers.Embedding``);
            else pass the ``embedding`` matrix when calling.
        output_layer: optional layer mapping the cell output to vocabulary logits.
        length_penalty_weight: ``alpha >= 0`` of the GNMT length penalty (0 disables it).
        coverage_penalty_weight: ``beta >= 0`` (0 disables it; needs an attention cell).
        reorder_tensor_arrays: at the end, reorder ``TensorArray`` s in the cell state (an
            attention ``alignment_history``) along the final beams and return them stacked
            ``[T, B * W, ...]``: row ``(b, w)`` of step ``t`` is what produced token ``t`` of
            final beam ``w`` (TFA's reorder is one step off; see ``beam_search_ops.history_rows``).
        output_all_scores: if True, ``BeamSearchDecoderOutput.scores`` holds every token's
            penalised score, ``[B, W, V]`` per step (``[B, T, W, V]`` stacked), not only the
            ``[B, W]`` scores of the chosen tokens.
        **kwargs: loop settings of :class:`~tfseq.seq2seq.decoder.BaseDecoder`.

    TF1 contrib's spelling ``BeamSearchDecoder(cell, embedding, start_tokens, end_token,
    initial_state, beam_width, output_layer=None, ...)`` (positional, keywords, or the first
    ones positional and the rest by name; ``embedding`` a matrix or a callable) is accepted
    too: then ``dynamic_decode(decoder)`` needs no inputs.

    Call arguments:
        embedding: embedding matrix ``[vocab, depth]`` or None (with ``embedding_fn``).
        start_tokens: int ``[B]``; end_token: int scalar in ``[0, vocab)``.
        initial_state: the cell state for ``B * W`` rows.
        training: passed to the cell.

    Returns:
        ``(FinalBeamSearchDecoderOutput, BeamSearchDecoderState, lengths [B, W])``.

    Raises:
        ValueError: ``beam_width < 1``; a negative or non-finite penalty weight;
            ``end_token`` outside the vocabulary; ``initial_state`` not of batch ``B * W``.
    """

    def __init__(
        self,
        cell: Any,
        *args: Any,
        beam_width: int | None = None,
        embedding_fn: Callable | None = None,
        output_layer: keras.layers.Layer | None = None,
        length_penalty_weight: float = 0.0,
        coverage_penalty_weight: float = 0.0,
        reorder_tensor_arrays: bool = True,
        output_all_scores: bool = False,
        **kwargs: Any,
    ) -> None:
        tf1_inputs = {k: kwargs.pop(k) for k in _TF1_INPUTS if k in kwargs}
        if beam_width is None:  # TF Addons' BeamSearchDecoder(cell, beam_width, ...) or TF1's all positional
            if not args:
                raise TypeError("BeamSearchDecoder: missing beam_width")
            beam_width, args = args[0], args[1:]
        elif args:  # TF1's first inputs positional, beam_width=... by keyword
            args, tf1_inputs = (), _tf1_inputs_by_position(args, tf1_inputs)
        if args or tf1_inputs:
            beam_width, args, tf1_inputs = _tf1_spelling(beam_width, args, tf1_inputs)
        options = dict(zip(_TFA_POSITIONAL, args))
        if len(args) > len(_TFA_POSITIONAL):
            raise TypeError(f"BeamSearchDecoder: too many positional arguments ({2 + len(args)})")
        embedding_fn = options.get("embedding_fn", embedding_fn)
        output_layer = options.get("output_layer", output_layer)
        length_penalty_weight = options.get("length_penalty_weight", length_penalty_weight)
        coverage_penalty_weight = options.get("coverage_penalty_weight", coverage_penalty_weight)
        reorder_tensor_arrays = options.get("reorder_tensor_arrays", reorder_tensor_arrays)
        output_all_scores = options.get("output_all_scores", output_all_scores)
        if callable(tf1_inputs.get("embedding")):
            embedding_fn = tf1_inputs.pop("embedding")
        self._tf1_inputs = tf1_inputs
        if isinstance(cell, keras.layers.Layer):
            kwargs.setdefault("dtype", cell.dtype_policy)
        super().__init__(**kwargs)
        self.cell = check_cell("BeamSearchDecoder", "cell", cell)
        self.beam_width = check_positive_int("BeamSearchDecoder", "beam_width", beam_width)
        self.embedding_fn = check_embedding_fn("BeamSearchDecoder", embedding_fn)
        if output_layer is not None and not isinstance(output_layer, keras.layers.Layer):
            raise TypeError(f"BeamSearchDecoder: {OUTPUT_LAYER_HINT}, got {output_layer!r}")
        self.output_layer = output_layer
        self.length_penalty_weight = _check_weight("length_penalty_weight", length_penalty_weight)
        self.coverage_penalty_weight = _check_weight("coverage_penalty_weight", coverage_penalty_weight)
        self.reorder_tensor_arrays = check_bool("BeamSearchDecoder", "reorder_tensor_arrays", reorder_tensor_arrays)
        self.output_all_scores = check_bool("BeamSearchDecoder", "output_all_scores", output_all_scores)

    def call(self, embedding, start_tokens=None, end_token=None, initial_state=None, training=None, **kwargs):
        return super().call(
            embedding,
            initial_state=initial_state,
            training=training,
            start_tokens=start_tokens,
            end_token=end_token,
            **kwargs,
        )

    def initialize(self, embedding=None, start_tokens=None, end_token=None, initial_state=None):
        """``(finished [B, W], start inputs [B, W, depth], BeamSearchDecoderState)``."""
        owner = "BeamSearchDecoder"
        if self._tf1_inputs and start_tokens is None and end_token is None and initial_state is None:
            embedding = self._tf1_inputs.get("embedding")  # TF1: everything given at construction
            start_tokens, end_token = self._tf1_inputs["start_tokens"], self._tf1_inputs["end_token"]
            initial_state = self._tf1_inputs["initial_state"]
        self._embed = self.embedding_fn if embedding is None else embedding_lookup_fn(owner, embedding)
        if self._embed is None:
            raise ValueError(f"{owner}: pass an embedding matrix when calling, or set embedding_fn")
        if start_tokens is None or end_token is None or initial_state is None:
            raise ValueError(f"{owner}: start_tokens, end_token and initial_state are required")
        start_tokens = tf.convert_to_tensor(start_tokens, tf.int32, name="start_tokens")
        if start_tokens.shape.rank != 1:
            raise ValueError(f"{owner}: start_tokens must be a vector [batch], got shape {start_tokens.shape}")
        self._end_token = tf.convert_to_tensor(end_token, tf.int32, name="end_token")
        if self._end_token.shape.rank != 0:
            raise ValueError(f"{owner}: end_token must be a scalar, got shape {self._end_token.shape}")
        check_end_token(owner, self._end_token, self.cell, self.output_layer)
        self._batch_size = tf.size(start_tokens)
        static_batch = start_tokens.shape[0]
        hint = (
            f" = {static_batch} start_tokens x beam_width {self.beam_width}; tile the encoder state and "
            f"memory with tile_batch(t, multiplier={self.beam_width})"
        )
        check_state_batch(owner, initial_state, None if static_batch is None else static_batch * self.beam_width, hint)
        cell_state = tf.nest.map_structure(
            lambda t: ops.split_batch_beams(t, self._batch_size, self.beam_width), initial_state
        )
        start_ids = tf.tile(start_tokens[:, tf.newaxis], [1, self.beam_width])  # [B, W]
        start_inputs = self._embed(start_ids)  # [B, W, depth]
        dtype = tf.nest.flatten(cell_state)[0].dtype
        if dtype in HALF_DTYPES:  # mixed precision: log-probs, penalties and scores in float32
            dtype = tf.float32
        self._dtype_of_state = dtype
        alive = tf.one_hot(tf.zeros([self._batch_size], tf.int32), self.beam_width, True, False, dtype=tf.bool)
        log_probs = tf.where(
            alive, tf.constant(0.0, dtype), tf.constant(-np.inf, dtype)
        )  # [B, W]: only beam 0 at t = 0
        finished = tf.logical_not(alive)
        accumulated = ()
        if self.coverage_penalty_weight != 0.0:
            accumulated = ops.attention_probs(cell_state)
            if accumulated is None:
                raise ValueError(f"{owner}: coverage_penalty_weight must be 0.0 unless the cell is attentional")
            accumulated = tf.cast(accumulated, dtype)
        state = BeamSearchDecoderState(
            cell_state=cell_state,
            log_probs=log_probs,
            finished=finished,
            lengths=tf.zeros([self._batch_size, self.beam_width], tf.int64),
            accumulated_attention_probs=accumulated,
        )
        return finished, start_inputs, state

    @property
    def batch_size(self):
        return self._batch_size

    @property
    def tracks_own_finished(self):
        return True  # beams are reordered between steps

    @property
    def output_size(self):
        beams = tf.TensorShape([self.beam_width])
        scores = beams
        if self.output_all_scores:
            vocab = rnn_output_size(self.cell, self.output_layer)[-1]
            scores = tf.TensorShape([self.beam_width, vocab])
        return BeamSearchDecoderOutput(scores, beams, beams)

    @property
    def output_dtype(self):
        return BeamSearchDecoderOutput(self._dtype_of_state, tf.int32, tf.int32)

    def step(self, time, inputs, state, training=None):
        cell_inputs = tf.nest.map_structure(ops.merge_batch_beams, inputs)  # [B * W, depth]
        cell_state = tf.nest.map_structure(ops.merge_batch_beams, state.cell_state)
        cell_outputs, next_cell_state = call_cell(self.cell, cell_inputs, cell_state, training)
        next_cell_state = tf.nest.pack_sequence_as(cell_state, tf.nest.flatten(next_cell_state))
        split = lambda t: ops.split_batch_beams(t, self._batch_size, self.beam_width)  # noqa: E731
        cell_outputs = tf.nest.map_structure(split, cell_outputs)  # [B, W, out]
        next_cell_state = tf.nest.map_structure(split, next_cell_state)
        if self.output_layer is not None:
            cell_outputs = self.output_layer(cell_outputs)  # [B, W, V]
        accumulated = state.accumulated_attention_probs if self.coverage_penalty_weight != 0.0 else None
        scores, word_ids, parent_ids, (cell_state, log_probs, finished, lengths, accumulated) = ops.beam_search_step(
            cell_outputs,
            next_cell_state,
            state.log_probs,
            state.finished,
            state.lengths,
            accumulated,
            self._end_token,
            self.length_penalty_weight,
            self.coverage_penalty_weight,
            self.output_all_scores,
        )
        next_state = BeamSearchDecoderState(
            cell_state, log_probs, finished, lengths, () if accumulated is None else accumulated
        )
        next_inputs = self._embed(word_ids)  # [B, W, depth]
        return BeamSearchDecoderOutput(scores, word_ids, parent_ids), next_state, next_inputs, finished

    def finalize(self, outputs, final_state, sequence_lengths):
        """Trace the beams back (``outputs`` are time-major here) and reorder TensorArrays."""
        max_lengths = tf.cast(tf.reduce_max(final_state.lengths, axis=1), tf.int32)  # [B]
        predicted_ids = ops.gather_tree(outputs.predicted_ids, outputs.parent_ids, max_lengths, self._end_token)
        if self.reorder_tensor_arrays:
            final_state = final_state._replace(
                cell_state=tf.nest.map_structure(
                    lambda t: self._sort_array(t, outputs.parent_ids, final_state.lengths), final_state.cell_state
                )
            )
        return FinalBeamSearchDecoderOutput(predicted_ids, outputs), final_state

    def _sort_array(self, t, parent_ids, lengths):
        if not isinstance(t, tf.TensorArray):
            return t
        element = t.element_shape
        batch = tf.get_static_value(self._batch_size)
        if (
            element.rank is None
            or element.rank < 1
            or (batch is not None and element[0] is not None and element[0] != batch * self.beam_width)
        ):
            tf.get_logger().warning(
                f"BeamSearchDecoder: a TensorArray with elements {element} cannot be reordered along the beams "
                "(need [batch * beam_width, ...]); returned as is. Pass reorder_tensor_arrays=False to silence this."
            )
            return t
        return ops.reorder_history(t.stack(), parent_ids, lengths)

    def get_config(self):
        if self._tf1_inputs:
            raise TypeError(
                "BeamSearchDecoder: a decoder holding TF1 inputs (start_tokens, initial_state) cannot "
                "be saved; pass them when calling the decoder"
            )
        return {
            **super().get_config(),
            "cell": keras.saving.serialize_keras_object(self.cell),
            "beam_width": self.beam_width,
            "embedding_fn": serialize_embedding_fn("BeamSearchDecoder", self.embedding_fn),
            "output_layer": serialize_optional(self.output_layer),
            "length_penalty_weight": self.length_penalty_weight,
            "coverage_penalty_weight": self.coverage_penalty_weight,
            "reorder_tensor_arrays": self.reorder_tensor_arrays,
            "output_all_scores": self.output_all_scores,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("cell", "embedding_fn", "output_layer"):
            config[key] = deserialize_optional(config.get(key))
        return cls(**config)
