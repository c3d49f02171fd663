"""``tfa.layers.crf`` (TF Addons' module ``tensorflow_addons.layers.crf``): :class:`CRF`, the Keras
CRF layer, defined in :mod:`tfseq.text.crf_layer`."""

from tfseq.text.crf_layer import CRF

__all__ = ["CRF"]
