"""Ground floor: the one piece of Keras 3's internals tfseq reads, in one place. Imports nothing
from tfseq (nor Keras: it only looks at an attribute)."""

from typing import Any


def keras_mask(x: Any) -> Any:
    """The Keras mask ``x`` carries, or None. Keras keeps a tensor's mask on the tensor as
    ``_keras_mask`` (``Embedding(mask_zero=True)``, ``Masking`` and the layers that pass a mask
    on set it) and passes it to a layer only where the layer's call gets one tensor."""
    return getattr(x, "_keras_mask", None)
