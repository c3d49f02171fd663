"""A reference for ``tfseq.legacy_seq2seq``, written from the documented math of TF1's
``tf.contrib.legacy_seq2seq`` (which TF 2.x no longer ships).

Two forms of the same few definitions:

* NumPy functions (this module), independent of TensorFlow. The decoder's cell is any
  ``step(x, state) -> (output, state)`` on arrays: in the reference subprocess it runs the
  real TF1 cell (``tests/test_legacy_seq2seq.py``).
* :data:`TF1_SOURCE`, the losses, decoders and models as ``tf.compat.v1`` graph ops (variables by
  ``tf1.get_variable`` under TF1's scopes and names, the real TF1 cells), for TF1 programs run in the
  reference subprocess (``tests/tf1_reference.py``): they need gradients, which NumPy cannot give.
  ``tests/test_legacy_seq2seq.py`` checks the losses against the NumPy functions;
  ``tests/test_legacy_seq2seq_models.py`` checks tfseq's models and attention decoders against them.
  The attention decoder is written there as its documented math with a 1x1 convolution (tfseq: a matmul):
  ``read(q) = sum_l softmax_l(V . tanh(W h_l + linear(q))) h_l`` per head, the cell fed
  ``linear([x_i, reads])``, the output ``linear([cell output, new reads])``.

The math, for decoder steps ``t = 0 .. T-1`` and a batch row ``b``:

    rnn_decoder:     x_t = loop_function(y_{t-1}, t) if loop_function and t > 0 else decoder_inputs[t]
                     y_t, s_{t+1} = cell(x_t, s_t),  s_0 = initial_state
    by example:      L_b = sum_t w_tb * loss(logits_t, targets_t)_b
                     / (sum_t w_tb + 1e-12)            if average_across_timesteps
    sequence_loss:   sum_b L_b  / batch_size            if average_across_batch

``loss`` is the sparse softmax cross-entropy unless ``softmax_loss_function(labels=, logits=)``
is given. The 1e-12 keeps a row whose weights are all zero at 0 instead of 0/0.
"""

import inspect

import numpy as np

tf, tf1 = None, None  # the graph-op functions run in the reference subprocess, which binds these names

EPSILON = 1e-12  # added to each row's total weight before averaging across time steps


def rnn_decoder(decoder_inputs, initial_state, step, loop_function=None):
    """Run ``step`` over the list ``decoder_inputs``; returns (list of outputs, final state)."""
    state, outputs = initial_state, []
    for t, x in enumerate(decoder_inputs):
        if loop_function is not None and t > 0:
            x = loop_function(outputs[-1], t)  # feed the previous output back instead of the given input
        output, state = step(x, state)
        outputs.append(output)
    return outputs, state


def sparse_xent(logits, labels):
    """Softmax cross-entropy of integer ``labels`` ``[batch]`` under ``logits`` ``[batch, classes]``."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def sequence_loss_by_example(logits, targets, weights, average_across_timesteps=True, softmax_loss_function=None):
    """Per-row weighted loss over the time steps (lists of ``[batch, ...]`` arrays); ``[batch]``."""
    loss = sparse_xent if softmax_loss_function is None else softmax_loss_function
    weighted = sum(np.asarray(loss(logits=z, labels=y)) * w for z, y, w in zip(logits, targets, weights))
    if average_across_timesteps:
        weighted = weighted / (sum(weights) + EPSILON)
    return weighted


def sequence_loss(logits, targets, weights, average_across_timesteps=True, average_across_batch=True,
                  softmax_loss_function=None):
    """The sum over the batch of :func:`sequence_loss_by_example`, divided by the batch size if asked."""
    per_row = sequence_loss_by_example(logits, targets, weights, average_across_timesteps, softmax_loss_function)
    return per_row.sum() / (len(per_row) if average_across_batch else 1)


def _tf1_sequence_loss_by_example(logits, targets, weights, average_across_timesteps=True,
                                  softmax_loss_function=None, name=None):
    with tf1.name_scope(name, "sequence_loss_by_example"):  # noqa: F821 (tf1: the subprocess's tf.compat.v1)
        terms = []
        for z, y, w in zip(logits, targets, weights):
            if softmax_loss_function is None:
                term = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)  # noqa: F821
            else:
                term = softmax_loss_function(labels=y, logits=z)
            terms.append(term * w)
        total = tf1.add_n(terms)  # noqa: F821
        if average_across_timesteps:
            total = total / (tf1.add_n(weights) + EPSILON)  # noqa: F821
        return total


def _tf1_sequence_loss(logits, targets, weights, average_across_timesteps=True, average_across_batch=True,
                       softmax_loss_function=None, name=None):
    with tf1.name_scope(name, "sequence_loss"):  # noqa: F821
        per_row = _tf1_sequence_loss_by_example(logits, targets, weights, average_across_timesteps,
                                                softmax_loss_function)
        total = tf1.reduce_sum(per_row)  # noqa: F821
        if average_across_batch:
            total = total / tf1.cast(tf1.shape(per_row)[0], total.dtype)  # noqa: F821
        return total


# -- the models and decoders, as TF1 graph ops (variables by tf1.get_variable, TF1's scopes and names) --------------

def _tf1_linear(args, output_size):
    """TF1's ``_linear(args, output_size, bias=True)``: ``concat(args) @ kernel + bias`` in the current scope."""
    depth = sum(int(a.shape[1]) for a in args)
    kernel = tf1.get_variable("kernel", [depth, output_size], dtype=args[0].dtype)  # noqa: F821
    bias = tf1.get_variable("bias", [output_size], dtype=args[0].dtype,  # noqa: F821
                            initializer=tf1.zeros_initializer())  # noqa: F821
    return tf1.nn.bias_add(tf1.matmul(tf1.concat(args, 1), kernel), bias)  # noqa: F821


class _TF1EmbeddingWrapper:
    """contrib's EmbeddingWrapper: looks ids up in ``embedding_wrapper/embedding`` (uniform +-sqrt(3)), runs the cell."""

    def __init__(self, cell, embedding_classes, embedding_size):
        self.cell, self.classes, self.size = cell, embedding_classes, embedding_size
        self.output_size, self.state_size = cell.output_size, cell.state_size

    def zero_state(self, batch_size, dtype):
        return self.cell.zero_state(batch_size, dtype)

    def __call__(self, ids, state):
        with tf1.variable_scope("embedding_wrapper", reuse=tf1.AUTO_REUSE):  # noqa: F821
            limit = math.sqrt(3.0)  # noqa: F821 (the subprocess imports math)
            table = tf1.get_variable("embedding", [self.classes, self.size],  # noqa: F821
                                     initializer=tf1.random_uniform_initializer(-limit, limit))  # noqa: F821
            return self.cell(tf1.nn.embedding_lookup(table, tf1.reshape(ids, [-1])), state)  # noqa: F821


class _TF1OutputProjectionWrapper:
    """contrib's OutputProjectionWrapper: the cell, then ``output @ kernel + bias`` in ``output_projection_wrapper``."""

    def __init__(self, cell, output_size):
        self.cell, self.output_size, self.state_size = cell, output_size, cell.state_size

    def zero_state(self, batch_size, dtype):
        return self.cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state):
        with tf1.variable_scope("output_projection_wrapper", reuse=tf1.AUTO_REUSE):  # noqa: F821
            output, state = self.cell(inputs, state)
            return _tf1_linear([output], self.output_size), state


def _tf1_static_rnn(cell, inputs, dtype, scope=None):
    """static_rnn from the zero state, in ``scope`` (default ``rnn``)."""
    with tf1.variable_scope(scope or "rnn"):  # noqa: F821
        state, outputs = cell.zero_state(tf1.shape(inputs[0])[0], dtype), []  # noqa: F821
        for x in inputs:
            output, state = cell(x, state)
            outputs.append(output)
    return outputs, state


def _tf1_argmax_and_embed(embedding, output_projection=None, update_embedding=True):
    def loop_function(prev, _):
        if output_projection is not None:
            prev = tf1.matmul(prev, output_projection[0]) + output_projection[1]  # noqa: F821
        embedded = tf1.nn.embedding_lookup(embedding, tf1.argmax(prev, 1))  # noqa: F821
        return embedded if update_embedding else tf1.stop_gradient(embedded)  # noqa: F821
    return loop_function


def _tf1_rnn_decoder(decoder_inputs, initial_state, cell, loop_function=None, scope=None):
    with tf1.variable_scope(scope or "rnn_decoder"):  # noqa: F821
        state, outputs, prev = initial_state, [], None
        for i, x in enumerate(decoder_inputs):
            if loop_function is not None and prev is not None:
                x = loop_function(prev, i)
            output, state = cell(x, state)
            outputs.append(output)
            prev = output
    return outputs, state


def _tf1_attention_decoder(decoder_inputs, initial_state, attention_states, cell, output_size=None, num_heads=1,
                           loop_function=None, dtype=None, scope=None, initial_state_attention=False):
    output_size = output_size or cell.output_size
    with tf1.variable_scope(scope or "attention_decoder", dtype=dtype) as outer:  # noqa: F821
        dtype = outer.dtype
        length, depth = int(attention_states.shape[1]), int(attention_states.shape[2])
        hidden = tf1.reshape(attention_states, [-1, length, 1, depth])  # noqa: F821
        features, vectors = [], []
        for a in range(num_heads):  # W h_l for every l as a 1x1 convolution
            w = tf1.get_variable(f"AttnW_{a}", [1, 1, depth, depth])  # noqa: F821
            features.append(tf1.nn.conv2d(hidden, w, [1, 1, 1, 1], "SAME"))  # noqa: F821
            vectors.append(tf1.get_variable(f"AttnV_{a}", [depth]))  # noqa: F821

        def attend(query):
            query = tf1.concat(tf.nest.flatten(query), 1)  # noqa: F821
            reads = []
            for a in range(num_heads):
                with tf1.variable_scope(f"Attention_{a}"):  # noqa: F821
                    y = tf1.reshape(_tf1_linear([query], depth), [-1, 1, 1, depth])  # noqa: F821
                    scores = tf1.reduce_sum(vectors[a] * tf1.tanh(features[a] + y), [2, 3])  # noqa: F821
                    p = tf1.reshape(tf1.nn.softmax(scores), [-1, length, 1, 1])  # noqa: F821
                    reads.append(tf1.reduce_sum(p * hidden, [1, 2]))  # noqa: F821
            return reads

        batch = tf1.shape(decoder_inputs[0])[0]  # noqa: F821
        reads = [tf1.zeros(tf1.stack([batch, depth]), dtype) for _ in range(num_heads)]  # noqa: F821
        if initial_state_attention:
            reads = attend(initial_state)
        state, outputs, prev = initial_state, [], None
        for i, x in enumerate(decoder_inputs):
            if i > 0:
                tf1.get_variable_scope().reuse_variables()  # noqa: F821
            if loop_function is not None and prev is not None:
                x = loop_function(prev, i)
            cell_output, state = cell(_tf1_linear([x] + reads, int(x.shape[1])), state)
            with tf1.variable_scope(tf1.get_variable_scope(), reuse=True if i == 0 and initial_state_attention  # noqa: F821
                                    else None):
                reads = attend(state)
            with tf1.variable_scope("AttnOutputProjection"):  # noqa: F821
                output = _tf1_linear([cell_output] + reads, output_size)
            prev = output
            outputs.append(output)
    return outputs, state


def _tf1_embedding_attention_decoder(decoder_inputs, initial_state, attention_states, cell, num_symbols,
                                     embedding_size, num_heads=1, output_size=None, output_projection=None,
                                     feed_previous=False, update_embedding_for_previous=True, dtype=None, scope=None,
                                     initial_state_attention=False):
    with tf1.variable_scope(scope or "embedding_attention_decoder", dtype=dtype):  # noqa: F821
        embedding = tf1.get_variable("embedding", [num_symbols, embedding_size])  # noqa: F821
        loop = (_tf1_argmax_and_embed(embedding, output_projection, update_embedding_for_previous)
                if feed_previous else None)
        embedded = [tf1.nn.embedding_lookup(embedding, i) for i in decoder_inputs]  # noqa: F821
        return _tf1_attention_decoder(embedded, initial_state, attention_states, cell, output_size=output_size,
                                      num_heads=num_heads, loop_function=loop,
                                      initial_state_attention=initial_state_attention)


def _tf1_embedding_attention_seq2seq(encoder_inputs, decoder_inputs, cell, num_encoder_symbols, num_decoder_symbols,
                                     embedding_size, encoder_cell=None, num_heads=1, output_projection=None,
                                     feed_previous=False, dtype=None, scope=None, initial_state_attention=False):
    with tf1.variable_scope(scope or "embedding_attention_seq2seq", dtype=dtype) as outer:  # noqa: F821
        dtype = outer.dtype
        encoder = _TF1EmbeddingWrapper(encoder_cell or copy.deepcopy(cell), num_encoder_symbols,  # noqa: F821
                                       embedding_size)
        encoder_outputs, encoder_state = _tf1_static_rnn(encoder, encoder_inputs, dtype)
        attention_states = tf1.concat([tf1.reshape(e, [-1, 1, cell.output_size])  # noqa: F821
                                       for e in encoder_outputs], 1)
        output_size = None
        if output_projection is None:
            cell, output_size = _TF1OutputProjectionWrapper(cell, num_decoder_symbols), num_decoder_symbols
        return _tf1_embedding_attention_decoder(
            decoder_inputs, encoder_state, attention_states, cell, num_decoder_symbols, embedding_size,
            num_heads=num_heads, output_size=output_size, output_projection=output_projection,
            feed_previous=feed_previous, initial_state_attention=initial_state_attention)


def _tf1_embedding_rnn_decoder(decoder_inputs, initial_state, cell, num_symbols, embedding_size,
                               output_projection=None, feed_previous=False, update_embedding_for_previous=True,
                               scope=None):
    with tf1.variable_scope(scope or "embedding_rnn_decoder"):  # noqa: F821
        embedding = tf1.get_variable("embedding", [num_symbols, embedding_size])  # noqa: F821
        loop = (_tf1_argmax_and_embed(embedding, output_projection, update_embedding_for_previous)
                if feed_previous else None)
        embedded = [tf1.nn.embedding_lookup(embedding, i) for i in decoder_inputs]  # noqa: F821
        return _tf1_rnn_decoder(embedded, initial_state, cell, loop_function=loop)


def _tf1_embedding_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, num_encoder_symbols, num_decoder_symbols,
                               embedding_size, output_projection=None, feed_previous=False, dtype=None, scope=None):
    with tf1.variable_scope(scope or "embedding_rnn_seq2seq", dtype=dtype) as outer:  # noqa: F821
        encoder = _TF1EmbeddingWrapper(copy.deepcopy(cell), num_encoder_symbols, embedding_size)  # noqa: F821
        _, encoder_state = _tf1_static_rnn(encoder, encoder_inputs, outer.dtype)
        if output_projection is None:
            cell = _TF1OutputProjectionWrapper(cell, num_decoder_symbols)
        return _tf1_embedding_rnn_decoder(decoder_inputs, encoder_state, cell, num_decoder_symbols, embedding_size,
                                          output_projection=output_projection, feed_previous=feed_previous)


def _tf1_basic_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, dtype=None, scope=None):
    with tf1.variable_scope(scope or "basic_rnn_seq2seq"):  # noqa: F821
        _, state = _tf1_static_rnn(copy.deepcopy(cell), encoder_inputs, dtype or tf1.float32)  # noqa: F821
        return _tf1_rnn_decoder(decoder_inputs, state, cell)


def _tf1_tied_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, loop_function=None, dtype=None, scope=None):
    with tf1.variable_scope("combined_tied_rnn_seq2seq"):  # noqa: F821
        _, state = _tf1_static_rnn(cell, encoder_inputs, dtype or tf1.float32, scope=scope or "tied_rnn_seq2seq")  # noqa: F821
        tf1.get_variable_scope().reuse_variables()  # noqa: F821
        return _tf1_rnn_decoder(decoder_inputs, state, cell, loop_function, scope=scope or "tied_rnn_seq2seq")


def _tf1_embedding_tied_rnn_seq2seq(encoder_inputs, decoder_inputs, cell, num_symbols, embedding_size,
                                    num_decoder_symbols=None, output_projection=None, feed_previous=False,
                                    dtype=None, scope=None):
    with tf1.variable_scope(scope or "embedding_tied_rnn_seq2seq", dtype=dtype) as outer:  # noqa: F821
        embedding = tf1.get_variable("embedding", [num_symbols, embedding_size])  # noqa: F821
        encoder = [tf1.nn.embedding_lookup(embedding, x) for x in encoder_inputs]  # noqa: F821
        decoder = [tf1.nn.embedding_lookup(embedding, x) for x in decoder_inputs]  # noqa: F821
        if output_projection is None:
            cell = _TF1OutputProjectionWrapper(cell, num_decoder_symbols or num_symbols)
        loop = _tf1_argmax_and_embed(embedding, output_projection) if feed_previous else None
        return _tf1_tied_rnn_seq2seq(encoder, decoder, cell, loop_function=loop, dtype=outer.dtype)


def _tf1_one2many_rnn_seq2seq(encoder_inputs, decoder_inputs_dict, enc_cell, dec_cells_dict, num_encoder_symbols,
                              num_decoder_symbols_dict, embedding_size, feed_previous=False, dtype=None, scope=None):
    outputs, states = {}, {}
    with tf1.variable_scope(scope or "one2many_rnn_seq2seq", dtype=dtype) as outer:  # noqa: F821
        encoder = _TF1EmbeddingWrapper(enc_cell, num_encoder_symbols, embedding_size)
        _, encoder_state = _tf1_static_rnn(encoder, encoder_inputs, outer.dtype)
        for name, decoder_inputs in decoder_inputs_dict.items():
            with tf1.variable_scope("one2many_decoder_" + str(name)):  # noqa: F821
                cell = _TF1OutputProjectionWrapper(dec_cells_dict[name], num_decoder_symbols_dict[name])
                outputs[name], states[name] = _tf1_embedding_rnn_decoder(
                    decoder_inputs, encoder_state, cell, num_decoder_symbols_dict[name], embedding_size,
                    feed_previous=feed_previous)
    return outputs, states


def _tf1_model_with_buckets(encoder_inputs, decoder_inputs, targets, weights, buckets, seq2seq,
                            softmax_loss_function=None, per_example_loss=False, name=None):
    outputs, losses = [], []
    with tf1.name_scope(name, "model_with_buckets"):  # noqa: F821
        for j, (enc_len, dec_len) in enumerate(buckets):
            with tf1.variable_scope(tf1.get_variable_scope(), reuse=True if j > 0 else None):  # noqa: F821
                bucket_outputs, _ = seq2seq(encoder_inputs[:enc_len], decoder_inputs[:dec_len])
                outputs.append(bucket_outputs)
                loss = _tf1_sequence_loss_by_example if per_example_loss else _tf1_sequence_loss
                losses.append(loss(bucket_outputs, targets[:dec_len], weights[:dec_len],
                                   softmax_loss_function=softmax_loss_function))
    return outputs, losses


_TF1_FUNCTIONS = [
    _tf1_sequence_loss_by_example, _tf1_sequence_loss, _tf1_linear, _TF1EmbeddingWrapper, _TF1OutputProjectionWrapper,
    _tf1_static_rnn, _tf1_argmax_and_embed, _tf1_rnn_decoder, _tf1_attention_decoder, _tf1_embedding_attention_decoder,
    _tf1_embedding_attention_seq2seq, _tf1_embedding_rnn_decoder, _tf1_embedding_rnn_seq2seq, _tf1_basic_rnn_seq2seq,
    _tf1_tied_rnn_seq2seq, _tf1_embedding_tied_rnn_seq2seq, _tf1_one2many_rnn_seq2seq, _tf1_model_with_buckets,
]

# Source text for the reference subprocess: defines ``legacy_seq2seq`` (a namespace of the graph-op functions
# above under TF1's names), as a TF 1.x program had it from ``tensorflow.contrib``.
TF1_SOURCE = "\n".join([
    "import copy, math, types as _types",
    f"EPSILON = {EPSILON!r}",
    *(inspect.getsource(f) for f in _TF1_FUNCTIONS),
    "legacy_seq2seq = _types.SimpleNamespace(**{f.__name__[len('_tf1_'):]: f for f in [",
    *(f"    {f.__name__}," for f in _TF1_FUNCTIONS if f.__name__.startswith("_tf1_")),
    "]})",
    "",
])

# The NumPy decoder as source text, to run it over the real TF1 cells in the reference subprocess.
RNN_DECODER_SOURCE = inspect.getsource(rnn_decoder)
