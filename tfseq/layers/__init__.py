"""TF Addons' ``tfa.layers`` of tfseq: the Keras CRF layer, ``CRF`` (``import tfseq as tfa;
tfa.layers.CRF(num_tags)``).

:class:`CRF` is TF Addons 0.23's linear-chain CRF output layer as a Keras 3 layer: Viterbi tags,
potentials, lengths and transition matrix in one call, over :mod:`tfseq.text`'s CRF functions. Its
code lives in :mod:`tfseq.text.crf_layer`, beside the ``tfa.text.CRFModelWrapper`` that builds it.
"""

from tfseq.layers import crf
from tfseq.layers.crf import CRF

__all__ = ["crf", "CRF"]
