"""TF1's decoders over lists of steps: ``rnn_decoder``, ``embedding_rnn_decoder``, ``attention_decoder``,
``embedding_attention_decoder``.

For decoder steps ``i = 0 .. T-1``, with ``x_i`` the step input (``decoder_inputs[i]``, or
``loop_function(y_{i-1}, i)`` from step 1 on when a loop function is given) and ``s_0 = initial_state``:

    rnn_decoder:        y_i, s_{i+1} = cell(x_i, s_i)

    attention_decoder:  H = attention_states [batch, L, A];  for each head a:
                        F_a = H W_a                                 (AttnW_a, a 1x1 convolution in TF1)
                        read_a(q) = sum_l p_l H_l,  p = softmax_l(V_a . tanh(F_a,l + linear_a(q)))
                                                    (AttnV_a; linear_a in scope Attention_a)
                        r_0 = zeros, or read(s_0) if initial_state_attention
                        c_i, s_{i+1} = cell(linear([x_i, r_i]), s_i)   (kernel/bias, depth of x_i)
                        r_{i+1} = read(s_{i+1})                      (the state's tensors concatenated)
                        y_i = linear([c_i, r_{i+1}])                 (AttnOutputProjection, output_size)

The embedding decoders look ``decoder_inputs`` (int ``[batch]`` ids) up in ``embedding``
``[num_symbols, embedding_size]`` first; ``feed_previous=True`` feeds back the embedding of the
argmax of the previous output (after ``output_projection`` ``(W, b)``: ``y W + b``), without a
gradient into the embedding when ``update_embedding_for_previous=False``.
"""

from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq.legacy_seq2seq.losses import check_list
from tfseq.legacy_seq2seq.variables import VariableStore, join, open_store, scope_name
from tfseq.nn.rnn import tf1_training
from tfseq.rnn_cell.base import call_cell


def check_loop_function(loop_function: Any) -> None:
    if loop_function is not None and not callable(loop_function):
        raise TypeError(f"loop_function must be callable or None, got {loop_function!r}")


def check_projection(output_projection: Any, num_symbols: int, dtype: tf.DType) -> Any:
    """``output_projection`` as a pair of tensors ``(W [depth, num_symbols], b [num_symbols])``, or None."""
    if output_projection is None:
        return None
    if not isinstance(output_projection, (list, tuple)) or len(output_projection) != 2:
        raise TypeError(f"output_projection must be None or a pair (W, b), got {output_projection!r}")
    weights, biases = (tf.convert_to_tensor(p, dtype=dtype) for p in output_projection)
    if not weights.shape.is_compatible_with([None, num_symbols]):
        raise ValueError(f"output_projection[0] (W) must have shape [depth, {num_symbols}], got {weights.shape}")
    if not biases.shape.is_compatible_with([num_symbols]):
        raise ValueError(f"output_projection[1] (b) must have shape [{num_symbols}], got {biases.shape}")
    return output_projection


def check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def argmax_and_embed(embedding: Any, output_projection: Any = None, update_embedding: bool = True) -> Callable:
    """TF1's greedy loop function: the embedding of the argmax of the (projected) previous output."""

    def loop_function(prev, _):
        if output_projection is not None:
            prev = tf.matmul(prev, output_projection[0]) + output_projection[1]
        embedded = tf.gather(embedding, tf.argmax(prev, 1))
        return embedded if update_embedding else tf.stop_gradient(embedded)

    return loop_function


def embed_steps(embedding: Any, decoder_inputs: list, loop: Callable | None) -> list:
    """The embedded step inputs; with a loop function only step 0's (TF1 never ran the other lookups,
    so ids a greedy decoder ignores may be anything)."""
    if loop is None:
        return [tf.gather(embedding, ids) for ids in decoder_inputs]
    return [tf.gather(embedding, decoder_inputs[0]), *decoder_inputs[1:]]


def run_decoder(
    store: VariableStore,
    scope: str,
    decoder_inputs: list,
    initial_state: Any,
    cell: keras.layers.Layer,
    loop_function: Callable | None,
    training: Any,
) -> tuple[list[tf.Tensor], Any]:
    """:func:`rnn_decoder`'s loop, with the cell's names in ``scope``."""
    with tf.name_scope(scope.rsplit("/", 1)[-1]):
        first = tf.convert_to_tensor(decoder_inputs[0])
        store.use(scope, cell, first.dtype)
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
        scope: TF1 variable scope (default ``rnn_decoder``): it names the ops, and prefixes the
            cell's names in :func:`tf1_variables` when the cell runs here first.
        training: as in :func:`tfseq.nn.dynamic_rnn` (None outside a Keras layer's
            ``call``: ``DropoutWrapper`` drops as in TF1).

    Returns:
        ``(outputs, state)``: a list of ``[batch, cell.output_size]``, one per step, and the
        final state.

    Raises:
        TypeError: ``decoder_inputs`` is not a non-empty list; ``loop_function`` not callable.
    """
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    check_loop_function(loop_function)
    store, cell = open_store(cell)
    scope = scope_name("rnn_decoder", scope)
    context, _ = tf1_training(training)
    with context:
        return run_decoder(store, scope, decoder_inputs, initial_state, cell, loop_function, training)


def run_embedding_decoder(
    store: VariableStore,
    scope: str,
    decoder_inputs: list,
    initial_state: Any,
    cell: keras.layers.Layer,
    num_symbols: int,
    embedding_size: int,
    output_projection: Any,
    feed_previous: bool,
    update_embedding_for_previous: bool,
    dtype: tf.DType,
    training: Any,
) -> tuple[list[tf.Tensor], Any]:
    """:func:`embedding_rnn_decoder` in ``scope`` (the decoder runs in ``scope/rnn_decoder``)."""
    output_projection = check_projection(output_projection, num_symbols, dtype)
    embedding = store.variable(join(scope, "embedding"), (num_symbols, embedding_size), dtype)
    loop = argmax_and_embed(embedding, output_projection, update_embedding_for_previous) if feed_previous else None
    embedded = embed_steps(embedding, decoder_inputs, loop)
    return run_decoder(store, join(scope, "rnn_decoder"), embedded, initial_state, cell, loop, training)


def embedding_rnn_decoder(
    decoder_inputs: Sequence[tf.Tensor],
    initial_state: Any,
    cell: keras.layers.Layer,
    num_symbols: int,
    embedding_size: int,
    output_projection: tuple[Any, Any] | None = None,
    feed_previous: bool = False,
    update_embedding_for_previous: bool = True,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """:func:`rnn_decoder` over embedded ids, with greedy feeding: TF1's ``embedding_rnn_decoder``.

    Args:
        decoder_inputs: list of int ``[batch]`` ids, one per step.
        initial_state, cell, training: as in :func:`rnn_decoder`.
        num_symbols, embedding_size: the embedding ``scope/embedding`` ``[num_symbols, embedding_size]``.
        output_projection: None or ``(W [cell.output_size, num_symbols], b [num_symbols])``, used only
            to pick the fed-back symbol.
        feed_previous: Python bool; True feeds ``embedding[argmax(y_{i-1} W + b)]`` from step 1 on.
        update_embedding_for_previous: False stops the gradient into the fed-back embeddings.
        scope: TF1 variable scope, default ``embedding_rnn_decoder``; the cell runs in ``scope/rnn_decoder``.

    Returns:
        ``(outputs, state)`` as :func:`rnn_decoder`.

    Raises:
        TypeError: ``decoder_inputs`` not a non-empty list; ``output_projection`` not a pair.
        ValueError: ``output_projection`` of the wrong shape; ``num_symbols``/``embedding_size`` not positive.
    """
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    check_positive("num_symbols", num_symbols)
    check_positive("embedding_size", embedding_size)
    store, cell = open_store(cell)
    scope = scope_name("embedding_rnn_decoder", scope)
    context, _ = tf1_training(training)
    with context, tf.name_scope("embedding_rnn_decoder"):
        return run_embedding_decoder(store, scope, decoder_inputs, initial_state, cell, num_symbols, embedding_size,
                                     output_projection, feed_previous, update_embedding_for_previous, tf.float32,
                                     training)


def run_attention_decoder(
    store: VariableStore,
    scope: str,
    decoder_inputs: list,
    initial_state: Any,
    attention_states: Any,
    cell: keras.layers.Layer,
    output_size: int | None,
    num_heads: int,
    loop_function: Callable | None,
    dtype: tf.DType,
    initial_state_attention: bool,
    training: Any,
) -> tuple[list[tf.Tensor], Any]:
    """:func:`attention_decoder`'s math (module docstring), its variables in ``scope``."""
    check_positive("num_heads", num_heads)
    attention_states = tf.convert_to_tensor(attention_states, dtype=dtype)
    if attention_states.shape.rank != 3 or attention_states.shape[2] is None:
        raise ValueError(f"attention_states must be [batch, length, depth] with a known depth, "
                         f"got shape {attention_states.shape}")
    if output_size is None:
        output_size = cell.output_size
    attn_size = int(attention_states.shape[2])
    with tf.name_scope("attention_decoder"):
        features, vectors = [], []
        for a in range(num_heads):
            w = store.variable(join(scope, f"AttnW_{a}"), (1, 1, attn_size, attn_size), dtype)
            features.append(tf.tensordot(attention_states, w[0, 0], 1))  # [batch, L, A]
            vectors.append(store.variable(join(scope, f"AttnV_{a}"), (attn_size,), dtype))

        def read(query):
            query = tf.concat(tf.nest.flatten(query), 1)
            reads = []
            for a in range(num_heads):
                y = store.linear(join(scope, f"Attention_{a}"), [query], attn_size, dtype)
                scores = tf.reduce_sum(vectors[a] * tf.tanh(features[a] + y[:, None, :]), 2)  # [batch, L]
                weights = tf.nn.softmax(scores)
                reads.append(tf.reduce_sum(weights[:, :, None] * attention_states, 1))  # [batch, A]
            return reads

        batch_size = tf.shape(tf.convert_to_tensor(decoder_inputs[0]))[0]
        if initial_state_attention:
            reads = read(initial_state)
        else:
            reads = [tf.zeros(tf.stack([batch_size, attn_size]), dtype) for _ in range(num_heads)]
        store.use(scope, cell, dtype)
        state, outputs, prev = initial_state, [], None
        for i, step_input in enumerate(decoder_inputs):
            if loop_function is not None and prev is not None:
                with tf.name_scope("loop_function"):
                    step_input = loop_function(prev, i)
            step_input = tf.convert_to_tensor(step_input)
            if step_input.shape.rank != 2 or step_input.shape[1] is None:
                raise ValueError(f"attention_decoder: could not infer the input size of step {i} from its shape "
                                 f"{step_input.shape} (must be [batch, depth] with a known depth)")
            x = store.linear(scope, [step_input, *reads], int(step_input.shape[1]), dtype)
            cell_output, state = call_cell(cell, x, state, training)
            reads = read(state)
            output = store.linear(join(scope, "AttnOutputProjection"), [cell_output, *reads], output_size, dtype)
            if loop_function is not None:
                prev = output
            outputs.append(output)
    return outputs, state


def attention_decoder(
    decoder_inputs: Sequence[tf.Tensor],
    initial_state: Any,
    attention_states: tf.Tensor,
    cell: keras.layers.Layer,
    output_size: int | None = None,
    num_heads: int = 1,
    loop_function: Callable | None = None,
    dtype: tf.DType | str | None = None,
    scope: str | None = None,
    initial_state_attention: bool = False,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """RNN decoder reading ``attention_states`` at every step (Vinyals et al. 2015): TF1's ``attention_decoder``.

    The math is in the module docstring. Variables (in ``scope``, default ``attention_decoder``):
    ``AttnW_<a>`` ``[1, 1, A, A]``, ``AttnV_<a>`` ``[A]``, ``Attention_<a>/{kernel,bias}`` per head,
    ``kernel``/``bias`` (the cell's input), ``AttnOutputProjection/{kernel,bias}``, and the cell's own
    names under ``scope`` when it runs here first. They live in the cell's :class:`VariableStore`.

    Args:
        decoder_inputs: list of ``[batch, depth]`` tensors, one per step (depth known).
        initial_state: the cell's start state.
        attention_states: ``[batch, length, A]`` with ``A`` known.
        cell: the decoder cell.
        output_size: depth of the outputs; default ``cell.output_size``.
        num_heads: attention heads (int >= 1).
        loop_function: as in :func:`rnn_decoder`.
        dtype: of the variables and the zero attention reads (default float32).
        scope: TF1 variable scope, default ``attention_decoder``.
        initial_state_attention: True reads the attention from ``initial_state`` for step 0
            (resuming a decoder); False starts from zero reads.
        training: as in :func:`rnn_decoder`.

    Returns:
        ``(outputs, state)``: a list of ``[batch, output_size]``, one per step, and the final state.

    Raises:
        TypeError: ``decoder_inputs`` not a non-empty list, ``loop_function`` not callable.
        ValueError: ``num_heads`` < 1; ``attention_states`` not rank 3 with a known depth; a step
            input of unknown depth.
    """
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    check_loop_function(loop_function)
    store, cell = open_store(cell)
    scope = scope_name("attention_decoder", scope)
    context, _ = tf1_training(training)
    with context:
        return run_attention_decoder(store, scope, decoder_inputs, initial_state, attention_states, cell, output_size,
                                     num_heads, loop_function, tf.as_dtype(dtype or tf.float32),
                                     initial_state_attention, training)


def run_embedding_attention_decoder(
    store: VariableStore,
    scope: str,
    decoder_inputs: list,
    initial_state: Any,
    attention_states: Any,
    cell: keras.layers.Layer,
    num_symbols: int,
    embedding_size: int,
    num_heads: int,
    output_size: int | None,
    output_projection: Any,
    feed_previous: bool,
    update_embedding_for_previous: bool,
    dtype: tf.DType,
    initial_state_attention: bool,
    training: Any,
) -> tuple[list[tf.Tensor], Any]:
    """:func:`embedding_attention_decoder` in ``scope`` (the attention decoder in ``scope/attention_decoder``)."""
    output_projection = check_projection(output_projection, num_symbols, dtype)
    embedding = store.variable(join(scope, "embedding"), (num_symbols, embedding_size), dtype)
    loop = argmax_and_embed(embedding, output_projection, update_embedding_for_previous) if feed_previous else None
    embedded = embed_steps(embedding, decoder_inputs, loop)
    return run_attention_decoder(store, join(scope, "attention_decoder"), embedded, initial_state, attention_states,
                                 cell, output_size, num_heads, loop, dtype, initial_state_attention, training)


def embedding_attention_decoder(
    decoder_inputs: Sequence[tf.Tensor],
    initial_state: Any,
    attention_states: tf.Tensor,
    cell: keras.layers.Layer,
    num_symbols: int,
    embedding_size: int,
    num_heads: int = 1,
    output_size: int | None = None,
    output_projection: tuple[Any, Any] | None = None,
    feed_previous: bool = False,
    update_embedding_for_previous: bool = True,
    dtype: tf.DType | str | None = None,
    scope: str | None = None,
    initial_state_attention: bool = False,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """:func:`attention_decoder` over embedded ids, with greedy feeding: TF1's ``embedding_attention_decoder``.

    Args:
        decoder_inputs: list of int ``[batch]`` ids, one per step.
        num_symbols, embedding_size: the embedding ``scope/embedding`` ``[num_symbols, embedding_size]``.
        output_projection, feed_previous, update_embedding_for_previous: as in
            :func:`embedding_rnn_decoder`.
        scope: TF1 variable scope, default ``embedding_attention_decoder``; the attention decoder
            runs in ``scope/attention_decoder``.
        initial_state, attention_states, cell, num_heads, output_size, dtype: as in :func:`attention_decoder`.
        initial_state_attention, training: as in :func:`attention_decoder`.

    Returns:
        ``(outputs, state)`` as :func:`attention_decoder`.

    Raises:
        TypeError, ValueError: as :func:`attention_decoder` and :func:`embedding_rnn_decoder`.
    """
    decoder_inputs = check_list("decoder_inputs", decoder_inputs)
    check_positive("num_symbols", num_symbols)
    check_positive("embedding_size", embedding_size)
    store, cell = open_store(cell)
    scope = scope_name("embedding_attention_decoder", scope)
    context, _ = tf1_training(training)
    with context, tf.name_scope("embedding_attention_decoder"):
        return run_embedding_attention_decoder(
            store, scope, decoder_inputs, initial_state, attention_states, cell, num_symbols, embedding_size,
            num_heads, output_size, output_projection, feed_previous, update_embedding_for_previous,
            tf.as_dtype(dtype or tf.float32), initial_state_attention, training)


__all__ = ["rnn_decoder", "embedding_rnn_decoder", "attention_decoder", "embedding_attention_decoder"]
