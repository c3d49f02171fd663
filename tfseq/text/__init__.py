"""TF Addons' ``tfa.text`` CRF (the port of TF1's ``tf.contrib.crf``): ``from tfseq import text``.

A linear-chain conditional random field over per-step tag potentials, as the output layer of a
tagger (BiLSTM-CRF): :func:`crf_log_likelihood` for the loss, :func:`crf_decode` (in TensorFlow)
or :func:`viterbi_decode` (in NumPy) for the best tags. The names, arguments, defaults and results
are TF Addons 0.23's; :mod:`tfseq.text.crf` gives the math. TF1 programs import
:mod:`tfseq.compat.contrib_crf` instead (``from tfseq.compat import contrib_crf as crf``).

:class:`CRFModelWrapper` (TF Addons' ``tfa.text.CRFModelWrapper``) trains a base model topped by
the Keras CRF layer (:mod:`tfseq.text.crf_layer`, which TF Addons programs import as
``tfa.layers.CRF``) with ``model.fit``.
"""

from tfseq.text import crf, crf_wrapper
from tfseq.text.crf import (
    CrfDecodeForwardRnnCell,
    crf_binary_score,
    crf_constrained_decode,
    crf_decode,
    crf_decode_backward,
    crf_decode_forward,
    crf_filtered_inputs,
    crf_forward,
    crf_log_likelihood,
    crf_log_norm,
    crf_multitag_sequence_score,
    crf_sequence_score,
    crf_unary_score,
    viterbi_decode,
)
from tfseq.text.crf_wrapper import CRFModelWrapper

__all__ = [
    "crf",
    "CrfDecodeForwardRnnCell",
    "crf_binary_score",
    "crf_constrained_decode",
    "crf_decode",
    "crf_decode_backward",
    "crf_decode_forward",
    "crf_filtered_inputs",
    "crf_forward",
    "crf_log_likelihood",
    "crf_log_norm",
    "crf_multitag_sequence_score",
    "crf_sequence_score",
    "crf_unary_score",
    "viterbi_decode",
    "crf_wrapper",
    "CRFModelWrapper",
]
