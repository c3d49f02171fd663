"""TF1's ``tf.contrib.crf`` namespace, so a TF1 BiLSTM-CRF program's
``from tensorflow.contrib import crf`` becomes one import::

    from tfseq.compat import contrib_crf as crf

    log_likelihood, transition_params = crf.crf_log_likelihood(unary_scores, gold_tags, lengths)
    loss = tf.reduce_mean(-log_likelihood)
    tags, best_score = crf.crf_decode(unary_scores, transition_params, lengths)

Every name below is the very object of :mod:`tfseq.text` (TF Addons' ``tfa.text``, itself the port
of ``contrib.crf``), with TF1's arguments and results. ``crf_log_likelihood`` without
``transition_params`` creates TF1's ``transitions`` variable (Glorot uniform, or the enclosing
``variable_scope``'s initializer) as a ``keras.Variable`` that no graph collection holds: keep the
returned matrix and hand it to the optimizer. TF1's internal cells ``CrfForwardRnnCell`` and
``CrfDecodeBackwardRnnCell`` are absent (an ``AttributeError`` names them); the functions built on
them are here.
"""

from tfseq.text import (
    CrfDecodeForwardRnnCell,
    crf_binary_score,
    crf_decode,
    crf_decode_backward,
    crf_decode_forward,
    crf_forward,
    crf_log_likelihood,
    crf_log_norm,
    crf_multitag_sequence_score,
    crf_sequence_score,
    crf_unary_score,
    viterbi_decode,
)

__all__ = [
    "CrfDecodeForwardRnnCell",
    "crf_binary_score",
    "crf_decode",
    "crf_decode_backward",
    "crf_decode_forward",
    "crf_forward",
    "crf_log_likelihood",
    "crf_log_norm",
    "crf_multitag_sequence_score",
    "crf_sequence_score",
    "crf_unary_score",
    "viterbi_decode",
]
