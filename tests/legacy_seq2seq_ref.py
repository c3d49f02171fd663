"""A reference for ``tfseq.legacy_seq2seq``, written from the documented math of TF1's
``tf.contrib.legacy_seq2seq`` (which TF 2.x no longer ships).

Two forms of the same few definitions:

* NumPy functions (this module), independent of TensorFlow. The decoder's cell is any
  ``step(x, state) -> (output, state)`` on arrays: in the reference subprocess it runs the
  real TF1 cell (``tests/test_legacy_seq2seq.py``).
* :data:`TF1_SOURCE`, the losses as ``tf.compat.v1`` graph ops, for TF1 programs run in the
  reference subprocess (``tests/tf1_reference.py``): they need gradients, which NumPy cannot give.
  ``tests/test_legacy_seq2seq.py`` checks it against the NumPy functions.

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


# Source text for the reference subprocess: defines ``legacy_seq2seq`` (a namespace with the two losses
# as graph ops), as a TF 1.x program had it from ``tensorflow.contrib``.
TF1_SOURCE = "\n".join([
    f"EPSILON = {EPSILON!r}",
    inspect.getsource(_tf1_sequence_loss_by_example),
    inspect.getsource(_tf1_sequence_loss),
    "import types as _types",
    ("legacy_seq2seq = _types.SimpleNamespace(sequence_loss_by_example=_tf1_sequence_loss_by_example,"
     " sequence_loss=_tf1_sequence_loss)"),
    "",
])

# The NumPy decoder as source text, to run it over the real TF1 cells in the reference subprocess.
RNN_DECODER_SOURCE = inspect.getsource(rnn_decoder)
