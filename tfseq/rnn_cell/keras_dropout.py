"""Keras cells' own dropout (``keras.layers.LSTMCell(dropout=..., recurrent_dropout=...)``, and
``GRUCell``'s and ``SimpleRNNCell``'s) in tfseq's per-step loops, by Keras' rule.

A Keras 3 cell draws its dropout masks on first use and keeps them on itself until
``reset_dropout_mask()``; ``keras.layers.RNN`` draws them before its loop (one mask per row for
the whole sequence, the same at every step) and resets them after. A loop that only steps the
cell would draw them inside the loop body and keep them past it: in a ``tf.function`` the next
use fails ("out of scope"), and eagerly every later call reuses the first call's masks (and
fails on another batch size). :func:`keras_dropout_masks` gives tfseq's loops Keras' rule: the
masks of every Keras cell in the stack (inside ``MultiRNNCell``, ``StackedRNNCells`` and any
wrapper, ``AttentionWrapper`` included) drawn before the loop for ``batch_size`` rows, and reset
after it.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import tensorflow as tf


def _draws_dropout(cell: Any) -> bool:
    """A Keras ``DropoutRNNCell`` (its mask methods) with a dropout rate above 0."""
    if not (hasattr(cell, "get_dropout_mask") and hasattr(cell, "reset_recurrent_dropout_mask")):
        return False
    return (getattr(cell, "dropout", 0) or 0) > 0 or (getattr(cell, "recurrent_dropout", 0) or 0) > 0


def keras_dropout_cells(cell: Any) -> list:
    """The Keras cells with dropout in ``cell``'s stack: ``cell`` itself, the layers of a
    ``MultiRNNCell``/``StackedRNNCells`` and the cells inside wrappers, each once."""
    found, seen = [], set()

    def walk(layer):
        if layer is None or id(layer) in seen:
            return
        seen.add(id(layer))
        if _draws_dropout(layer):
            found.append(layer)
        for inner in list(getattr(layer, "cells", None) or []) + [getattr(layer, "cell", None)]:
            if inner is not None and hasattr(inner, "state_size"):
                walk(inner)

    walk(cell)
    return found


@contextlib.contextmanager
def keras_dropout_masks(cell: Any, batch_size: Any) -> Iterator[None]:
    """Within the block, every built Keras cell with dropout in ``cell``'s stack holds masks
    drawn here, before the loop, for ``batch_size`` rows (its input width from its kernel, its
    recurrent width its ``units``, in its compute dtype); after the block, none (Keras'
    ``reset_*_dropout_mask``)."""
    cells = keras_dropout_cells(cell)
    for layer in cells:
        layer.reset_dropout_mask()
        layer.reset_recurrent_dropout_mask()
        if layer.built:
            if layer.dropout > 0:
                layer.get_dropout_mask(tf.zeros(tf.stack([batch_size, layer.kernel.shape[0]]), layer.compute_dtype))
            if layer.recurrent_dropout > 0:
                layer.get_recurrent_dropout_mask(tf.zeros(tf.stack([batch_size, layer.units]), layer.compute_dtype))
    try:
        yield
    finally:
        for layer in cells:
            layer.reset_dropout_mask()
            layer.reset_recurrent_dropout_mask()
