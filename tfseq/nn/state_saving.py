"""TF1's ``static_state_saving_rnn``: :func:`tfseq.nn.static_rnn` whose initial state comes from,
and whose final state goes back to, a *state saver*, for truncated back-propagation through time
over segments of long sequences.

A state saver is any object with two methods, as TF1 asked:

* ``state(name)``: the state stored under ``name``, a ``[batch, size]`` tensor;
* ``save_state(name, value)``: store ``value`` under ``name``; it may return the op, tensor or
  variable that stores it (the outputs then depend on it) or ``None``.

TF1 programs used ``tf.contrib.training.SequenceQueueingStateSaver`` (the queues of
``batch_sequences_with_states``), which TF 2 no longer has. In TF 2 a saver over variables does
the same job in eager mode and inside a ``tf.function``::

    class VariableStateSaver:
        def __init__(self, batch, sizes):  # {name: size}
            self.states = {n: tf.Variable(tf.zeros([batch, s]), trainable=False) for n, s in sizes.items()}

        def state(self, name):
            return self.states[name].read_value()

        def save_state(self, name, value):
            return self.states[name].assign(value)

(``keras.layers.RNN(cell, stateful=True)`` is the Keras way to carry state across batches.)
"""

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq.nn.rnn import static_rnn


def _dependencies(saved: list[Any]) -> list[Any]:
    """What ``save_state`` returned that a control dependency can name (ops, tensors, variables)."""
    return [s for s in saved if isinstance(s, (tf.Operation, tf.Tensor, tf.Variable))]


def static_state_saving_rnn(
    cell: keras.layers.Layer,
    inputs: Sequence[tf.Tensor | np.ndarray],
    state_saver: Any,
    state_name: str | tuple | list,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """TF1's ``static_state_saving_rnn``: ``static_rnn`` from ``state_saver``'s state, saving the
    final state back.

    The initial state is ``state_saver.state(name)`` for each name of ``state_name``; after the
    run, ``state_saver.save_state(name, part)`` stores each part of the final state, and the last
    output and the returned state depend on those saves (TF1's control dependencies: fetching
    them stores the state). A row shorter than the segment (``sequence_length``) carries its
    state through the padded steps, as :func:`static_rnn` does, so the saved state is the one at
    its last real step.

    Args:
        cell: an RNN cell.
        inputs: non-empty list of ``[batch, depth]`` tensors, one per step of the segment.
        state_saver: an object with ``state(name)`` and ``save_state(name, value)`` (module docs).
        state_name: one name when ``cell.state_size`` is a single size; otherwise a tuple (or list)
            of names, one per part of the flattened state (``(c_name, h_name)`` for an
            ``LSTMStateTuple``).
        sequence_length, scope, training: as in :func:`tfseq.nn.static_rnn`.

    Returns:
        ``(outputs, final_state)`` as :func:`tfseq.nn.static_rnn`.

    Raises:
        TypeError: ``state_saver`` lacks ``state`` or ``save_state``.
        ValueError: ``state_name`` is a single name for a structured state or the other way
            round, or names a different number of parts than the state has.
    """
    for method in ("state", "save_state"):
        if not callable(getattr(state_saver, method, None)):
            raise TypeError(f"state_saver must have methods state(name) and save_state(name, value); "
                            f"{state_saver!r} has no {method}()")
    state_size = cell.state_size
    structured = tf.nest.is_nested(state_size)
    if structured != tf.nest.is_nested(state_name):
        raise ValueError(f"state_name={state_name!r} must be {'a tuple of names' if structured else 'one name'} "
                         f"for cell.state_size={state_size!r}")
    if structured:
        names = tf.nest.flatten(state_name)
        sizes = tf.nest.flatten(state_size)
        if len(names) != len(sizes):
            raise ValueError(f"state_name={state_name!r} has {len(names)} names but cell.state_size={state_size!r} "
                             f"has {len(sizes)} parts")
        initial_state = tf.nest.pack_sequence_as(state_size, [state_saver.state(n) for n in names])
    else:
        names = [state_name]
        initial_state = state_saver.state(state_name)

    outputs, state = static_rnn(cell, inputs, initial_state=initial_state, sequence_length=sequence_length,
                                scope=scope, training=training)
    parts = tf.nest.flatten(state)
    saved = [state_saver.save_state(name, part) for name, part in zip(names, parts)]
    with tf.control_dependencies(_dependencies(saved)):
        outputs = list(outputs)
        outputs[-1] = tf.nest.map_structure(tf.identity, outputs[-1])
        state = tf.nest.pack_sequence_as(state, [tf.identity(p) for p in parts])
    return outputs, state
