"""TF1's ``tf.nn.raw_rnn``: a recurrent loop whose inputs, stopping and emitted values come from
the caller's ``loop_fn``, for decoders that feed back their own outputs (pointer networks,
custom samplers).

``loop_fn(time, cell_output, cell_state, loop_state)`` returns
``(finished, next_input, next_cell_state, emit_output, next_loop_state)``. At ``time = 0`` it
is called with ``cell_output = cell_state = loop_state = None`` and returns the first input,
the initial state and the structure of what is emitted (``None``: the cell's outputs). Then,
while any row is unfinished::

    output, state = cell(next_input, state)
    finished_t, next_input, next_state, emit, loop_state = loop_fn(time + 1, output, state, loop_state)
    rows already finished emit zeros and keep their state
    emit_ta[time] = emit;   finished |= finished_t

Returns ``(emit_ta, final_state, final_loop_state)``: ``emit_ta`` TensorArrays (one per emitted
tensor, ``[time, batch, ...]`` once stacked), ``final_loop_state`` None when ``loop_fn`` started
with None.
"""

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq.nn.rnn import _check_tf1_knobs, _has_unbuilt_layers, prepare_cell, tf1_training
from tfseq.rnn_cell.base import call_cell
from tfseq.rnn_cell.keras_dropout import keras_dropout_masks
from tfseq.rnn_cell.wrappers import build_cell


def _emit_spec(emit_structure, cell, state):
    """``(structure, [TensorShape of one row], [dtype])`` of what each step emits: the cell's
    outputs, or the structure ``loop_fn`` returned at time 0 (tensors shaped like one row's
    emission, as TF1 takes them; sizes or ``TensorShape`` s have the state's dtype)."""
    state_dtype = tf.nest.flatten(state)[0].dtype
    structure = cell.output_size if emit_structure is None else emit_structure
    flat = tf.nest.flatten(structure)
    shapes, dtypes = [], []
    for item in flat:
        shape = tf.TensorShape(item.shape if hasattr(item, "dtype") else item)
        if not shape.is_fully_defined():
            raise ValueError(f"raw_rnn: every emitted tensor needs a known shape, got {shape}")
        shapes.append(shape)
        dtypes.append(tf.as_dtype(item.dtype) if hasattr(item, "dtype") else state_dtype)
    return structure, shapes, dtypes


def raw_rnn(
    cell: keras.layers.Layer,
    loop_fn: Callable,
    parallel_iterations: int | None = None,
    swap_memory: bool = False,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[Any, Any, Any]:
    """TF1's ``raw_rnn(cell, loop_fn, parallel_iterations=None, swap_memory=False, scope=None)``.

    ``training`` as in :func:`~tfseq.nn.dynamic_rnn` (None outside a Keras layer's ``call``:
    TF1's dropout). See the module docstring for ``loop_fn``'s contract.

    Raises:
        TypeError: ``loop_fn`` is not callable.
        ValueError: a bad ``parallel_iterations``/``swap_memory``; ``loop_fn`` returning a next
            state or input whose structure differs from the first ones.
    """
    if not callable(loop_fn):
        raise TypeError(f"raw_rnn: loop_fn must be a callable, got {loop_fn!r}")
    knobs = _check_tf1_knobs("raw_rnn", parallel_iterations, swap_memory)
    context, training = tf1_training(training)
    with tf.name_scope(scope or "rnn"), context:
        time = tf.constant(0, tf.int32)
        finished, next_input, state, emit_structure, loop_state = loop_fn(time, None, None, None)
        initial_loop_state = loop_state
        loop_state = tf.constant(0, tf.int32) if loop_state is None else loop_state
        flat_input = tf.nest.flatten(next_input)
        first_input = tf.convert_to_tensor(flat_input[0])
        prepare_cell(cell, first_input.dtype)
        if len(flat_input) == 1:
            build_cell(cell, first_input.shape)  # weights must not be created inside the while body
        if tf.inside_function() and _has_unbuilt_layers(cell):  # a TF1-style cell builds on first use
            call_cell(cell, next_input, state, training)
        structure, shapes, dtypes = _emit_spec(emit_structure, cell, state)
        batch = tf.shape(first_input)[0]
        zero_emit = tf.nest.pack_sequence_as(
            structure, [tf.zeros(tf.concat([[batch], tf.constant(s.as_list(), tf.int32)], 0), d)
                        for s, d in zip(shapes, dtypes)])
        emit_ta = tf.nest.pack_sequence_as(structure, [
            tf.TensorArray(d, size=0, dynamic_size=True, element_shape=tf.TensorShape([None]).concatenate(s))
            for s, d in zip(shapes, dtypes)])

        def body(time, finished, current_input, emit_ta, state, loop_state):
            output, cell_state = call_cell(cell, current_input, state, training)
            next_time = time + 1
            next_finished, next_input, next_state, emit, next_loop_state = loop_fn(
                next_time, output, cell_state, loop_state)
            try:
                tf.nest.assert_same_structure(state, next_state)
                tf.nest.assert_same_structure(current_input, next_input)
                tf.nest.assert_same_structure(structure, emit)
            except (ValueError, TypeError) as err:
                raise ValueError(f"raw_rnn: loop_fn returned another structure than at time 0: {err}") from err
            loop_state = loop_state if next_loop_state is None else next_loop_state

            def keep_finished(current, candidate):  # finished rows: the old value (zeros for emits)
                if isinstance(current, tf.TensorArray) or current.shape.rank == 0:
                    return candidate
                return tf.where(tf.reshape(finished, [-1] + [1] * (current.shape.rank - 1)), current, candidate)

            emit = tf.nest.map_structure(keep_finished, zero_emit, emit)
            next_state = tf.nest.map_structure(keep_finished, state, next_state)
            emit_ta = tf.nest.map_structure(lambda ta, value: ta.write(time, value), emit_ta, emit)
            return (next_time, tf.logical_or(finished, next_finished), next_input, emit_ta, next_state, loop_state)

        with keras_dropout_masks(cell, batch):  # Keras cells' masks: one per sequence, as keras.layers.RNN
            _, _, _, emit_ta, final_state, final_loop_state = tf.while_loop(
                lambda time, finished, *_: tf.logical_not(tf.reduce_all(finished)), body,
                (time, finished, next_input, emit_ta, state, loop_state), **knobs)
    return emit_ta, final_state, (None if initial_loop_state is None else final_loop_state)
