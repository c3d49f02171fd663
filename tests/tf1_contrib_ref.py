"""TF1 ``contrib`` for the reference subprocess (``tests/tf1_reference.py``), which runs TF 2.21's
``tf.compat.v1`` where ``tf.contrib`` no longer exists.

``TF1_NAMESPACE`` is source text that, run first in a reference case, rebinds ``tf`` to a
TF1-like namespace (``tf.compat.v1`` plus ``tf.contrib.rnn`` = ``tf.compat.v1.nn.rnn_cell``
and ``tf.contrib.legacy_seq2seq``), so that a TF1 program's text runs unchanged.

``legacy_seq2seq`` is not in TF 2.21 at all. The three functions below follow TF 1.15's
``tensorflow/contrib/legacy_seq2seq/python/ops/seq2seq.py`` step by step (``rnn_decoder``,
``sequence_loss_by_example``, ``sequence_loss``), written with ``tf.compat.v1`` ops and the
real TF1 cells, so the reference is TF1's graph code path, not tfseq's.
"""

TF1_NAMESPACE = '''
import types as _types


def _rnn_decoder(decoder_inputs, initial_state, cell, loop_function=None, scope=None):
    with tf1.variable_scope(scope or "rnn_decoder"):
        state = initial_state
        outputs = []
        prev = None
        for i, inp in enumerate(decoder_inputs):
            if loop_function is not None and prev is not None:
                with tf1.variable_scope("loop_function", reuse=True):
                    inp = loop_function(prev, i)
            if i > 0:
                tf1.get_variable_scope().reuse_variables()
            output, state = cell(inp, state)
            outputs.append(output)
            if loop_function is not None:
                prev = output
    return outputs, state


def _sequence_loss_by_example(logits, targets, weights, average_across_timesteps=True,
                              softmax_loss_function=None, name=None):
    if len(targets) != len(logits) or len(weights) != len(logits):
        raise ValueError("lengths differ")
    with tf1.name_scope(name, "sequence_loss_by_example", logits + targets + weights):
        terms = []
        for logit, target, weight in zip(logits, targets, weights):
            if softmax_loss_function is None:
                target = tf1.reshape(target, [-1])
                crossent = tf1.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logit)
            else:
                crossent = softmax_loss_function(labels=target, logits=logit)
            terms.append(crossent * weight)
        log_perps = tf1.add_n(terms)
        if average_across_timesteps:
            total_size = tf1.add_n(weights) + 1e-12
            log_perps /= total_size
    return log_perps


def _sequence_loss(logits, targets, weights, average_across_timesteps=True, average_across_batch=True,
                   softmax_loss_function=None, name=None):
    with tf1.name_scope(name, "sequence_loss", logits + targets + weights):
        cost = tf1.reduce_sum(_sequence_loss_by_example(
            logits, targets, weights, average_across_timesteps=average_across_timesteps,
            softmax_loss_function=softmax_loss_function))
        if average_across_batch:
            batch_size = tf1.shape(targets[0])[0]
            return cost / tf1.cast(batch_size, cost.dtype)
        return cost


legacy_seq2seq = _types.SimpleNamespace(
    rnn_decoder=_rnn_decoder,
    sequence_loss_by_example=_sequence_loss_by_example,
    sequence_loss=_sequence_loss,
)
tf = _types.SimpleNamespace(**{name: getattr(tf1, name) for name in dir(tf1) if not name.startswith("__")})
tf.contrib = _types.SimpleNamespace(rnn=tf1.nn.rnn_cell, legacy_seq2seq=legacy_seq2seq)
'''
