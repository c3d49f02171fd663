"""TF1's whole sequence-to-sequence models over lists of steps, and ``model_with_buckets``.

Every model encodes ``encoder_inputs`` with an RNN (``static_rnn``, in ``<scope>/rnn``) and starts
its decoder from the encoder's final state:

    basic_rnn_seq2seq            float steps; the encoder runs a copy of ``cell`` (weights of its own)
    tied_rnn_seq2seq             float steps; encoder and decoder share ``cell`` and its weights
    embedding_rnn_seq2seq        ids; the encoder embeds them (``EmbeddingWrapper``) around a copy of
                                 ``cell``; :func:`embedding_rnn_decoder` decodes
    embedding_tied_rnn_seq2seq   ids; one embedding for both sides, the tied model
    embedding_attention_seq2seq  ids; :func:`embedding_attention_decoder` attends over the encoder's
                                 outputs ``[batch, encoder steps, cell.output_size]``
    one2many_rnn_seq2seq         one embedding encoder, one :func:`embedding_rnn_decoder` per task

Without ``output_projection`` the decoder's cell is wrapped in an ``OutputProjectionWrapper`` to
``num_decoder_symbols`` logits; with one, the outputs are the cell's (project them yourself, e.g.
in a sampled softmax). ``feed_previous`` may be a scalar bool tensor: both decoders are then built
and ``tf.cond`` picks one (the fed-back embeddings get no gradient, as in TF1).
"""

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq.legacy_seq2seq.decoders import (
    argmax_and_embed,
    check_loop_function,
    check_positive,
    check_projection,
    run_decoder,
    run_embedding_attention_decoder,
    run_embedding_decoder,
)
from tfseq.legacy_seq2seq.losses import check_list, sequence_loss, sequence_loss_by_example
from tfseq.legacy_seq2seq.variables import copy_cell, join, open_store, scope_name
from tfseq.nn.rnn import prepare_cell, static_rnn, tf1_training
from tfseq.rnn_cell.wrappers import EmbeddingWrapper, OutputProjectionWrapper, build_cell, check_cell


def _dtype(dtype: Any) -> tf.DType:
    return tf.as_dtype(dtype or tf.float32)


def _embedding_encoder(store, scope, cell, encoder_inputs, num_symbols, embedding_size, dtype, training, copy=True):
    """``static_rnn`` of an ``EmbeddingWrapper`` (around a copy of ``cell`` if ``copy``) in ``scope/rnn``."""
    wrapper = store.made(join(scope, "rnn") + "#encoder",
                         lambda: EmbeddingWrapper(copy_cell(cell) if copy else cell, num_symbols, embedding_size))
    if (wrapper.embedding_classes, wrapper.embedding_size) != (num_symbols, embedding_size):
        raise ValueError(
            f"Trying to share variable {join(scope, 'rnn/embedding_wrapper/embedding')}, but specified shape "
            f"[{num_symbols}, {embedding_size}] and found shape [{wrapper.embedding_classes}, {wrapper.embedding_size}]")
    if not copy and wrapper.cell is not cell:
        raise ValueError(f"{scope}: pass the same encoder cell object at every call (its weights live in it)")
    store.use(join(scope, "rnn"), wrapper, dtype)
    ids = [tf.reshape(x, [-1, 1]) for x in check_list("encoder_inputs", encoder_inputs)]
    return static_rnn(wrapper, ids, dtype=dtype, scope="rnn", training=training)


def _projected(store, scope, cell, num_symbols):
    """The ``OutputProjectionWrapper(cell, num_symbols)`` a model in ``scope`` created at its first call."""
    wrapper = store.made(join(scope, "#output_projection"), lambda: OutputProjectionWrapper(cell, num_symbols))
    if wrapper.cell is not cell or wrapper.output_size != num_symbols:
        raise ValueError(f"{scope}: the same cell object was used before with another decoder "
                         f"(output_size {wrapper.output_size}, now {num_symbols})")
    return wrapper


def _with_feed_previous(feed_previous, decode, cell, input_depth, dtype, update_in_cond=False):
    """``decode(feed_previous, update_embedding)`` for a Python bool; for a bool tensor both decoders
    under ``tf.cond`` (TF1), with the cell built first so no weight is created inside a branch."""
    if isinstance(feed_previous, (bool, np.bool_)):
        return decode(bool(feed_previous), True)
    feed = tf.convert_to_tensor(feed_previous)
    if feed.dtype != tf.bool or feed.shape.rank not in (0, None):
        raise TypeError(f"feed_previous must be a Python bool or a scalar bool tensor, got {feed_previous!r}")
    prepare_cell(cell, dtype)
    build_cell(cell, (None, input_depth))
    return tf.cond(feed, lambda: decode(True, update_in_cond), lambda: decode(False, update_in_cond))


def basic_rnn_seq2seq(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs: Sequence[tf.Tensor],
    cell: keras.layers.Layer,
    dtype: tf.DType | str = tf.float32,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """Encode with a copy of ``cell`` (``scope/rnn``), decode with ``cell`` (``scope/rnn_decoder``): TF1's
    ``basic_rnn_seq2seq`` (default scope ``basic_rnn_seq2seq``). Lists of ``[batch, depth]`` steps;
    returns ``(outputs, final decoder state)``. ``dtype``: the encoder's zero state."""
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    store, cell = open_store(cell)
    scope = scope_name("basic_rnn_seq2seq", scope)
    context, _ = tf1_training(training)
    with context, tf.name_scope("basic_rnn_seq2seq"):
        enc_cell = store.use(join(scope, "rnn"), store.made(join(scope, "rnn") + "#encoder", lambda: copy_cell(cell)))
        _, state = static_rnn(enc_cell, check_list("encoder_inputs", encoder_inputs), dtype=dtype, scope="rnn",
                              training=training)
        return run_decoder(store, join(scope, "rnn_decoder"), decoder_inputs, state, cell, None, training)


def _tied(store, parent, scope, encoder_inputs, decoder_inputs, cell, loop_function, dtype, training):
    full = join(parent, "combined_tied_rnn_seq2seq", scope or "tied_rnn_seq2seq")
    store.use(full, cell, dtype)
    _, state = static_rnn(cell, check_list("encoder_inputs", encoder_inputs), dtype=dtype, scope="encoder",
                          training=training)
    return run_decoder(store, full, check_list("decoder_inputs", decoder_inputs), state, cell, loop_function, training)


def tied_rnn_seq2seq(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs: Sequence[tf.Tensor],
    cell: keras.layers.Layer,
    loop_function: Callable | None = None,
    dtype: tf.DType | str = tf.float32,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """Encoder and decoder share ``cell`` and its weights: TF1's ``tied_rnn_seq2seq``. The cell's names
    are under ``combined_tied_rnn_seq2seq/<scope>`` (default ``tied_rnn_seq2seq``), as in TF1.
    ``loop_function`` as in :func:`rnn_decoder`; returns ``(outputs, final decoder state)``."""
    check_loop_function(loop_function)
    if scope is not None and not isinstance(scope, str):
        raise TypeError(f"tied_rnn_seq2seq: scope must be a string or None, got {scope!r}")
    store, cell = open_store(cell)
    context, _ = tf1_training(training)
    with context, tf.name_scope("combined_tied_rnn_seq2seq"):
        return _tied(store, tf.compat.v1.get_variable_scope().name, scope, encoder_inputs, decoder_inputs, cell,
                     loop_function, dtype, training)


def embedding_rnn_seq2seq(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs: Sequence[tf.Tensor],
    cell: keras.layers.Layer,
    num_encoder_symbols: int,
    num_decoder_symbols: int,
    embedding_size: int,
    output_projection: tuple[Any, Any] | None = None,
    feed_previous: bool | tf.Tensor = False,
    dtype: tf.DType | str | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """Embedding encoder (a copy of ``cell``) and :func:`embedding_rnn_decoder`: TF1's ``embedding_rnn_seq2seq``.

    Names under ``scope`` (default ``embedding_rnn_seq2seq``): ``rnn/embedding_wrapper/embedding``
    ``[num_encoder_symbols, embedding_size]`` and the encoder cell's; ``embedding_rnn_decoder/embedding``
    and ``embedding_rnn_decoder/rnn_decoder/[output_projection_wrapper/]<cell>``. Ids are int ``[batch]``
    steps; the outputs are logits ``[batch, num_decoder_symbols]`` without ``output_projection``.
    """
    check_positive("num_decoder_symbols", num_decoder_symbols)
    store, cell = open_store(cell)
    scope = scope_name("embedding_rnn_seq2seq", scope)
    dtype = _dtype(dtype)
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    context, _ = tf1_training(training)
    with context, tf.name_scope("embedding_rnn_seq2seq"):
        _, state = _embedding_encoder(store, scope, cell, encoder_inputs, num_encoder_symbols, embedding_size, dtype,
                                      training)
        if output_projection is None:
            cell = _projected(store, scope, cell, num_decoder_symbols)

        def decode(feed, update):
            return run_embedding_decoder(store, join(scope, "embedding_rnn_decoder"), decoder_inputs, state, cell,
                                         num_decoder_symbols, embedding_size, output_projection, feed, update, dtype,
                                         training)

        return _with_feed_previous(feed_previous, decode, cell, embedding_size, dtype)


def embedding_tied_rnn_seq2seq(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs: Sequence[tf.Tensor],
    cell: keras.layers.Layer,
    num_symbols: int,
    embedding_size: int,
    num_decoder_symbols: int | None = None,
    output_projection: tuple[Any, Any] | None = None,
    feed_previous: bool | tf.Tensor = False,
    dtype: tf.DType | str | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """One embedding (``scope/embedding`` ``[num_symbols, embedding_size]``) for both sides and the tied model:
    TF1's ``embedding_tied_rnn_seq2seq`` (default scope ``embedding_tied_rnn_seq2seq``). Outputs are
    logits over ``num_decoder_symbols`` (default ``num_symbols``) without ``output_projection``, which is
    checked against ``num_symbols`` as in TF1."""
    check_positive("num_symbols", num_symbols)
    check_positive("embedding_size", embedding_size)
    if num_decoder_symbols is not None:
        check_positive("num_decoder_symbols", num_decoder_symbols)
    store, cell = open_store(cell)
    scope = scope_name("embedding_tied_rnn_seq2seq", scope)
    dtype = _dtype(dtype)
    output_projection = check_projection(output_projection, num_symbols, dtype)
    context, _ = tf1_training(training)
    with context, tf.name_scope("embedding_tied_rnn_seq2seq"):
        embedding = store.variable(join(scope, "embedding"), (num_symbols, embedding_size), dtype)
        encoder = [tf.gather(embedding, x) for x in check_list("encoder_inputs", encoder_inputs)]
        decoder = [tf.gather(embedding, x) for x in check_list("decoder_inputs", decoder_inputs)]
        if output_projection is None:
            cell = _projected(store, scope, cell, num_decoder_symbols or num_symbols)

        def decode(feed, update):
            loop = argmax_and_embed(embedding, output_projection, update) if feed else None
            return _tied(store, scope, None, encoder, decoder, cell, loop, dtype, training)

        return _with_feed_previous(feed_previous, decode, cell, embedding_size, dtype)


def embedding_attention_seq2seq(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs: Sequence[tf.Tensor],
    cell: keras.layers.Layer,
    num_encoder_symbols: int,
    num_decoder_symbols: int,
    embedding_size: int,
    encoder_cell: keras.layers.Layer | None = None,
    num_heads: int = 1,
    output_projection: tuple[Any, Any] | None = None,
    feed_previous: bool | tf.Tensor = False,
    dtype: tf.DType | str | None = None,
    scope: str | None = None,
    initial_state_attention: bool = False,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """Embedding encoder and :func:`embedding_attention_decoder` over its outputs: TF1's
    ``embedding_attention_seq2seq``, the translate tutorial's model.

    Args:
        encoder_inputs, decoder_inputs: lists of int ``[batch]`` ids, one per step.
        cell: the decoder's cell; the encoder runs ``encoder_cell``, default a copy of ``cell``.
        num_encoder_symbols, num_decoder_symbols, embedding_size: the two vocabularies and the
            embeddings' depth.
        num_heads, initial_state_attention: as in :func:`attention_decoder`.
        output_projection: None (outputs are logits ``[batch, num_decoder_symbols]``) or ``(W, b)``
            (outputs are ``[batch, cell.output_size]``; ``W, b`` pick the fed-back symbols).
        feed_previous: Python bool or scalar bool tensor (module docstring).
        dtype: of the variables and zero states (default float32).
        scope: TF1 variable scope, default ``embedding_attention_seq2seq``.
        training: as in :func:`rnn_decoder`.

    Names under ``scope``: ``rnn/embedding_wrapper/embedding`` and ``rnn/embedding_wrapper/<cell>``;
    ``embedding_attention_decoder/embedding``; ``embedding_attention_decoder/attention_decoder/...``
    (:func:`attention_decoder`'s, with the cell under ``output_projection_wrapper/`` without
    ``output_projection``).

    Returns:
        ``(outputs, state)``: one output per decoder step and the decoder's final state.
    """
    check_positive("num_decoder_symbols", num_decoder_symbols)
    store, cell = open_store(cell)
    scope = scope_name("embedding_attention_seq2seq", scope)
    dtype = _dtype(dtype)
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    if encoder_cell is not None:
        check_cell("embedding_attention_seq2seq", "encoder_cell", encoder_cell)
    context, _ = tf1_training(training)
    with context, tf.name_scope("embedding_attention_seq2seq"):
        source = cell if encoder_cell is None else encoder_cell
        outputs, state = _embedding_encoder(store, scope, source, encoder_inputs, num_encoder_symbols, embedding_size,
                                            dtype, training, copy=encoder_cell is None)
        attention_states = tf.stack(outputs, axis=1)  # [batch, encoder steps, output_size]
        output_size = None
        if output_projection is None:
            cell = _projected(store, scope, cell, num_decoder_symbols)
            output_size = num_decoder_symbols

        def decode(feed, update):
            return run_embedding_attention_decoder(
                store, join(scope, "embedding_attention_decoder"), decoder_inputs, state, attention_states, cell,
                num_decoder_symbols, embedding_size, num_heads, output_size, output_projection, feed, update, dtype,
                initial_state_attention, training)

        return _with_feed_previous(feed_previous, decode, cell, embedding_size, dtype)


def one2many_rnn_seq2seq(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs_dict: Mapping[str, Sequence[tf.Tensor]],
    enc_cell: keras.layers.Layer,
    dec_cells_dict: Mapping[str, keras.layers.Layer],
    num_encoder_symbols: int,
    num_decoder_symbols_dict: Mapping[str, int],
    embedding_size: int,
    feed_previous: bool | tf.Tensor = False,
    dtype: tf.DType | str | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[dict[str, list[tf.Tensor]], dict[str, Any]]:
    """One embedding encoder (``enc_cell`` itself), one :func:`embedding_rnn_decoder` per task: TF1's
    ``one2many_rnn_seq2seq`` (multi-task). Decoder ``name`` runs ``OutputProjectionWrapper(dec_cells_dict[name],
    num_decoder_symbols_dict[name])`` in ``scope/one2many_decoder_<name>/embedding_rnn_decoder`` (default
    scope ``one2many_rnn_seq2seq``); the variables live in ``enc_cell``'s store.

    Returns:
        ``(outputs_dict, state_dict)`` keyed like ``decoder_inputs_dict``.

    Raises:
        TypeError: ``enc_cell`` or a decoder cell is not an RNN cell.
        ValueError: the keys of ``dec_cells_dict`` differ from those of ``decoder_inputs_dict``.
    """
    check_cell("one2many_rnn_seq2seq", "enc_cell", enc_cell)
    if set(dec_cells_dict) != set(decoder_inputs_dict):
        raise ValueError(f"keys of dec_cells_dict {sorted(dec_cells_dict)} != keys of decoder_inputs_dict "
                         f"{sorted(decoder_inputs_dict)}")
    for name, dec_cell in dec_cells_dict.items():
        check_cell("one2many_rnn_seq2seq", f"dec_cells_dict[{name!r}]", dec_cell)
    store, enc_cell = open_store(enc_cell)
    dec_cells_dict = {name: store.resolve(c) for name, c in dec_cells_dict.items()}
    scope = scope_name("one2many_rnn_seq2seq", scope)
    dtype = _dtype(dtype)
    context, _ = tf1_training(training)
    outputs_dict, state_dict = {}, {}
    with context, tf.name_scope("one2many_rnn_seq2seq"):
        _, state = _embedding_encoder(store, scope, enc_cell, encoder_inputs, num_encoder_symbols, embedding_size,
                                      dtype, training, copy=False)
        for name, decoder_inputs in decoder_inputs_dict.items():
            symbols = check_positive(f"num_decoder_symbols_dict[{name!r}]", num_decoder_symbols_dict[name])
            decoder_scope = join(scope, f"one2many_decoder_{name}")
            dec_cell = _projected(store, decoder_scope, dec_cells_dict[name], symbols)
            decoder_inputs = check_list(f"decoder_inputs_dict[{name!r}]", decoder_inputs)

            def decode(feed, update, decoder_scope=decoder_scope, dec_cell=dec_cell, inputs=decoder_inputs,
                       symbols=symbols):
                return run_embedding_decoder(store, join(decoder_scope, "embedding_rnn_decoder"), inputs, state,
                                             dec_cell, symbols, embedding_size, None, feed, update, dtype, training)

            outputs_dict[name], state_dict[name] = _with_feed_previous(feed_previous, decode, dec_cell, embedding_size,
                                                                       dtype, update_in_cond=True)
    return outputs_dict, state_dict


def model_with_buckets(
    encoder_inputs: Sequence[tf.Tensor],
    decoder_inputs: Sequence[tf.Tensor],
    targets: Sequence[tf.Tensor],
    weights: Sequence[tf.Tensor],
    buckets: Sequence[tuple[int, int]],
    seq2seq: Callable[[list, list], tuple[list, Any]],
    softmax_loss_function: Callable | None = None,
    per_example_loss: bool = False,
    name: str | None = None,
) -> tuple[list[list[tf.Tensor]], list[tf.Tensor]]:
    """One model per bucket, all sharing their variables: TF1's ``model_with_buckets``.

    For bucket ``j = (enc_len, dec_len)``: ``outputs_j, _ = seq2seq(encoder_inputs[:enc_len],
    decoder_inputs[:dec_len])`` and its loss over ``targets[:dec_len]``, ``weights[:dec_len]``:
    :func:`sequence_loss` (a scalar), or :func:`sequence_loss_by_example` (``[batch]``) when
    ``per_example_loss``. The buckets share variables because ``seq2seq`` runs the same cell
    objects (their :class:`VariableStore`).

    Returns:
        ``(outputs, losses)``: per bucket, the list of outputs and the loss.

    Raises:
        TypeError: a list argument is not a non-empty list; ``seq2seq`` not callable.
        ValueError: ``buckets`` not a non-empty list of pairs of positive ints; ``encoder_inputs``,
            ``targets`` or ``weights`` shorter than the last bucket needs.
    """
    encoder_inputs = check_list("encoder_inputs", encoder_inputs)
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    targets, weights = check_list("targets", targets), check_list("weights", weights)
    if not callable(seq2seq):
        raise TypeError(f"seq2seq must be a function (encoder_inputs, decoder_inputs) -> (outputs, state), "
                        f"got {seq2seq!r}")
    if not isinstance(buckets, (list, tuple)) or not buckets or not all(
            isinstance(b, (list, tuple)) and len(b) == 2 and all(isinstance(n, numbers.Integral) and n > 0 for n in b)
            for b in buckets):
        raise ValueError(f"buckets must be a non-empty list of (input size, output size) pairs of positive ints, "
                         f"got {buckets!r}")
    last_in, last_out = buckets[-1]
    for what, value, need in (("encoder_inputs", encoder_inputs, last_in), ("targets", targets, last_out),
                              ("weights", weights, last_out)):
        if len(value) < need:
            raise ValueError(f"Length of {what} ({len(value)}) must be at least that of the last bucket ({need})")
    outputs, losses = [], []
    with tf.name_scope(name or "model_with_buckets"):
        for enc_len, dec_len in buckets:
            bucket_outputs, _ = seq2seq(encoder_inputs[:enc_len], decoder_inputs[:dec_len])
            outputs.append(bucket_outputs)
            loss = sequence_loss_by_example if per_example_loss else sequence_loss
            losses.append(loss(bucket_outputs, targets[:dec_len], weights[:dec_len],
                               softmax_loss_function=softmax_loss_function))
    return outputs, losses


__all__ = [
    "basic_rnn_seq2seq",
    "tied_rnn_seq2seq",
    "embedding_rnn_seq2seq",
    "embedding_tied_rnn_seq2seq",
    "embedding_attention_seq2seq",
    "one2many_rnn_seq2seq",
    "model_with_buckets",
]
