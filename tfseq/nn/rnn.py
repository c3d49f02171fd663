"""TF1's RNN drivers: ``dynamic_rnn``, ``static_rnn``, ``bidirectional_dynamic_rnn``,
``static_bidirectional_rnn``.

They run any cell that follows the tfseq contract (:mod:`tfseq.rnn_cell.base`) and Keras
3's own cells (``keras.layers.LSTMCell`` & co.), eagerly or inside ``tf.function``.
TF1 semantics: past a row's ``sequence_length`` the output is zeros and the state is
carried through unchanged, so the final state is the state at each row's last step.

TF1 behaviour the drivers keep, so TF1 programs run with import renames only:

* ``training=None`` (not passed) outside any Keras layer's ``call``: tfseq's own dropout
  (``DropoutWrapper``) drops, as it always did in TF1; Keras cells get None and keep Keras'
  rule (no dropout), as under TF1's drivers. Inside a Keras layer's ``call`` Keras' ``training``
  semantics decide for every cell (see ``rnn_cell.DropoutWrapper``). ``training=False`` turns
  dropout off anywhere, ``True`` on.
* Every call draws new variational dropout masks (TF1: one per ``session.run``), also
  when ``initial_state`` is passed.
* An unbuilt cell takes the inputs' float dtype (float64 inputs: float64 weights).
* NumPy (or Python) float data given with a float ``dtype`` is converted to ``dtype``, as a
  TF1 placeholder of that dtype converted the data fed to it; a tensor of another float
  dtype than ``dtype`` raises ``TypeError`` naming ``inputs`` (TF1 never cast tensors).
* ``static_rnn`` runs a cell that can run fused through the same fused kernel as
  ``dynamic_rnn``, so the two give bit-identical results (as TF1's do).
* ``parallel_iterations`` and ``swap_memory`` are passed to ``tf.while_loop`` (they
  change no result); the fused path ignores them.
"""

import numbers
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq._checks import check_bool, check_optional_bool
from tfseq.nn import fused
from tfseq.rnn_cell.base import adopt_input_dtype, call_cell, dims_compatible, state_dims, tf1_driver_training
from tfseq.rnn_cell.fusion import NotFusable, sequence_kernel
from tfseq.rnn_cell.keras_dropout import keras_dropout_masks
from tfseq.rnn_cell.wrappers import build_cell


def _check_tf1_knobs(fn_name, parallel_iterations, swap_memory):
    """TF1's ``tf.while_loop`` knobs: a positive int (or None) and a bool."""
    if parallel_iterations is not None and (
        isinstance(parallel_iterations, bool)
        or not isinstance(parallel_iterations, numbers.Integral)
        or parallel_iterations <= 0
    ):
        raise ValueError(
            f"{fn_name}: parallel_iterations must be a positive integer or None, got {parallel_iterations!r}"
        )
    check_bool(fn_name, "swap_memory", swap_memory)
    return {"parallel_iterations": parallel_iterations or 32, "swap_memory": swap_memory}


def _inside_keras_call():
    """Whether a Keras layer's ``call`` is running (Keras then owns ``training``)."""
    from keras.src.backend.common import global_state  # no public accessor for the call context

    return global_state.get_global_attribute("current_call_ctx") is not None


def tf1_training(training: bool | tf.Tensor | None) -> tuple[Any, Any]:
    """``(context, training_of_tfseq_dropout)`` of a TF1 driver's call: without ``training``
    outside a Keras call, tfseq's dropout is on (run the cells inside ``context``; the fused
    path, which runs only tfseq cells, takes True); otherwise nothing changes."""
    tf1_default = training is None and not _inside_keras_call()
    return tf1_driver_training(tf1_default), (True if tf1_default else training)


def new_sequence(cell: keras.layers.Layer, initial_state: Any) -> None:
    """Start a new sequence batch: new variational dropout masks (TF1: per ``session.run``).
    With ``initial_state=None`` the zero state does it (``get_initial_state``)."""
    if initial_state is not None and hasattr(cell, "resample_dropout_masks"):
        cell.resample_dropout_masks()


def prepare_cell(cell: keras.layers.Layer, dtype: tf.DType | str | None) -> None:
    """TF1's dtype rule before anything is built: an unbuilt cell takes the inputs' float dtype."""
    adopt_input_dtype(cell, dtype)


def _state_structure(cell):
    size = getattr(cell, "state_size", None)
    if size is None:
        raise TypeError(f"cell must have a state_size (an RNN cell), got {cell!r}")
    return size


def initial_state_for(
    cell: keras.layers.Layer,
    batch_size: int | tf.Tensor | None,
    dtype: tf.DType | str | None,
) -> Any:
    """Zero state of ``cell`` for a batch, for tfseq cells and Keras 3 cells alike."""
    if hasattr(cell, "zero_state"):
        return cell.zero_state(batch_size, dtype)
    if hasattr(cell, "get_initial_state"):  # Keras 3 cells: get_initial_state(batch_size)
        state = cell.get_initial_state(batch_size=batch_size)
        return tf.nest.map_structure(lambda t: tf.cast(t, dtype), state)
    return tf.nest.map_structure(lambda n: tf.zeros([batch_size, n], dtype), _state_structure(cell))


def _start_state(cell, initial_state, inputs, batch_axis, dtype):
    """The given ``initial_state`` (checked against the cell), or zeros of the state dtype."""
    batch_size_static = inputs.shape[batch_axis]
    if initial_state is not None:
        _check_initial_state(cell, initial_state, batch_size_static)
        return initial_state
    batch_size = batch_size_static if batch_size_static is not None else tf.shape(inputs)[batch_axis]
    return initial_state_for(cell, batch_size, _state_dtype(cell, inputs, dtype))


def _check_initial_state(cell, state, batch_size_static):
    sizes = tf.nest.flatten(_state_structure(cell))
    flat = tf.nest.flatten(state)
    if len(flat) != len(sizes):
        raise ValueError(
            f"initial_state must match the cell's state_size={_state_structure(cell)}: "
            f"expected {len(sizes)} tensor(s), got {len(flat)}"
        )
    for tensor, size in zip(flat, sizes):
        shape, dims = tf.TensorShape(tensor.shape), state_dims(size)
        if shape.rank is None or not dims_compatible(shape[1:], dims) or (
            batch_size_static is not None and shape[0] not in (None, batch_size_static)
        ):
            raise ValueError(
                f"initial_state tensors must be [batch, size] with sizes {sizes}, "
                f"got shape {shape}"
            )


def as_driver_inputs(
    fn_name: str,
    name: str,
    inputs: Any,
    dtype: tf.DType | str | None = None,
    initial_state: Any = None,
) -> tf.Tensor:
    """``inputs`` as a tensor, with a TF1 placeholder's conversion: NumPy or Python float data
    becomes ``dtype`` (else the float dtype of ``initial_state``), as float64 data fed to a
    float32 placeholder did. Integer data (ids) and data with neither keep their dtype.

    Raises:
        TypeError: ``inputs`` is a tensor of another float dtype than ``dtype`` (without
            ``initial_state``, ``dtype`` is the dtype of the zero state the cell starts from).
    """
    dtype = None if dtype is None else tf.as_dtype(dtype)
    if isinstance(inputs, (np.ndarray, np.generic, list, tuple, numbers.Number)):
        target = dtype
        if target is None and initial_state is not None:
            target = tf.as_dtype(tf.nest.flatten(initial_state)[0].dtype)
        array = np.asarray(inputs)
        if target is not None and target.is_floating and np.issubdtype(array.dtype, np.floating):
            return tf.convert_to_tensor(array.astype(target.as_numpy_dtype))
        return tf.convert_to_tensor(inputs)  # Python floats: float32, as TensorFlow converts them
    tensor = tf.convert_to_tensor(inputs)
    if initial_state is None and dtype is not None and dtype.is_floating and tensor.dtype.is_floating and (
        tensor.dtype != dtype
    ):
        raise TypeError(
            f"{fn_name}: {name} is a {tensor.dtype.name} tensor but dtype={dtype.name}; cast it "
            f"(tf.cast({name}, tf.{dtype.name})) or pass dtype=tf.{tensor.dtype.name}"
        )
    return tensor


def _check_inputs(fn_name, inputs, time_major, dtype, initial_state):
    """``inputs`` as a tensor of rank 3 or more (a convolutional cell's steps are ``[batch, ...,
    channels]``), or, as in TF1, a tuple of them (``PhasedLSTMCell``'s ``(times, features)``): its
    NumPy parts are converted as one input is, its tensors keep their dtypes (a float64 ``times``)."""
    layout = "[time, batch, depth]" if time_major else "[batch, time, depth]"
    if isinstance(inputs, tuple):
        inputs = tf.nest.map_structure(
            lambda x: x if tf.is_tensor(x) else as_driver_inputs(fn_name, "inputs", x, dtype, initial_state), inputs)
    else:
        inputs = as_driver_inputs(fn_name, "inputs", inputs, dtype, initial_state)
    for x in tf.nest.flatten(inputs):
        if x.shape.rank is None or x.shape.rank < 3:
            raise ValueError(f"inputs must have rank 3 {layout} (or more, for a convolutional cell), got shape {x.shape}")
    return inputs  # integer ids are allowed (EmbeddingWrapper); other cells reject them


def transpose_batch_time(x: Any) -> tf.Tensor:
    """``[batch, time, ...]`` <-> ``[time, batch, ...]``: TF1's ``transpose_batch_time``
    (``tf.contrib.rnn``). A tensor of rank below 2 comes back as it is.

    Raises:
        ValueError: ``x`` has an unknown rank.
    """
    x = tf.convert_to_tensor(x)
    if x.shape.rank is None:
        raise ValueError(f"transpose_batch_time: x must have a known rank, got shape {x.shape}")
    if x.shape.rank < 2:
        return x
    return tf.transpose(x, [1, 0, *range(2, x.shape.rank)])


def best_effort_input_batch_size(flat_input: Sequence[Any]) -> int | tf.Tensor:
    """The batch size of time-major inputs ``[time, batch, ...]``: a Python int where one of
    them knows it statically, else a scalar tensor of the first's. TF1's
    ``best_effort_input_batch_size`` (``tf.contrib.rnn``).

    Raises:
        ValueError: an input of rank below 2, or no inputs.
    """
    flat_input = [tf.convert_to_tensor(x) for x in flat_input]
    if not flat_input:
        raise ValueError("best_effort_input_batch_size: flat_input must hold at least one tensor, got none")
    for x in flat_input:
        if x.shape.rank is None:
            continue
        if x.shape.rank < 2:
            raise ValueError(f"best_effort_input_batch_size: inputs must be [time, batch, ...], got shape {x.shape}")
        if x.shape[1] is not None:
            return int(x.shape[1])
    return tf.shape(flat_input[0])[1]


def _swap_batch_time(inputs):
    """:func:`transpose_batch_time` of each tensor of ``inputs``."""
    return tf.nest.map_structure(transpose_batch_time, inputs)


def _nested_inputs_dtype(inputs, dtype, initial_state):
    """The float dtype a cell reading a tuple of inputs takes: ``dtype``, else the initial state's,
    else the one its float inputs share (TF1 asked for ``dtype`` or ``initial_state`` anyway)."""
    if dtype is not None:
        return tf.as_dtype(dtype)
    if initial_state is not None:
        return tf.as_dtype(tf.nest.flatten(initial_state)[0].dtype)
    floats = {x.dtype for x in tf.nest.flatten(inputs) if x.dtype.is_floating}
    if len(floats) > 1:
        raise ValueError(
            f"inputs hold tensors of several float dtypes ({', '.join(sorted(d.name for d in floats))}): "
            "pass dtype= (the dtype of the state), as TF1 required"
        )
    return floats.pop() if floats else tf.float32


def _state_dtype(cell, inputs, dtype):
    """TF1: the zero state has ``dtype``; by default the inputs' (or the cell's, for ids)."""
    if dtype is not None:
        return dtype
    if inputs.dtype.is_floating:
        return inputs.dtype
    return getattr(cell, "variable_dtype", None) or tf.float32


def _check_sequence_length(sequence_length, batch_size_static):
    if sequence_length is None:
        return None
    if isinstance(sequence_length, numbers.Number):
        raise ValueError(
            f"sequence_length must be a vector of shape [batch], got the scalar {sequence_length!r}"
        )
    seq = tf.convert_to_tensor(sequence_length)
    if not seq.dtype.is_integer:
        raise TypeError(f"sequence_length must be integers, got dtype {seq.dtype.name}")
    if seq.shape.rank != 1 or (
        batch_size_static is not None and seq.shape[0] not in (None, batch_size_static)
    ):
        raise ValueError(
            f"sequence_length must have shape [batch]=[{batch_size_static}], got {seq.shape}"
        )
    return tf.cast(seq, tf.int32)


def step_with_length(
    cell: keras.layers.Layer,
    x_t: tf.Tensor,
    state: Any,
    time: int | tf.Tensor,
    sequence_length: tf.Tensor | Sequence[int] | None,
    training: bool | tf.Tensor | None = None,
) -> tuple[tf.Tensor, Any]:
    """One step of ``cell``; rows whose ``sequence_length <= time`` emit zeros and keep state."""
    output, new_state = call_cell(cell, x_t, state, training)
    new_state = tf.nest.pack_sequence_as(state, tf.nest.flatten(new_state))
    # the carried state keeps the dtype it was given (a mixed_float16 cell computes in float16)
    new_state = tf.nest.map_structure(lambda old, new: tf.cast(new, old.dtype), state, new_state)
    if sequence_length is None:
        return output, new_state
    finished = time >= sequence_length  # [batch]

    def rows(like):  # [batch, 1, ...]: broadcasts over like's [batch, ...]
        rank = like.shape.rank
        return finished[:, None] if rank is None or rank <= 2 else tf.reshape(finished, [-1] + [1] * (rank - 1))

    output = tf.where(rows(output), tf.zeros_like(output), output)
    new_state = tf.nest.map_structure(lambda old, new: tf.where(rows(new), old, new), state, new_state)
    return output, new_state


def dynamic_rnn(
    cell: keras.layers.Layer,
    inputs: tf.Tensor | np.ndarray,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    initial_state: Any = None,
    dtype: tf.DType | str | None = None,
    parallel_iterations: int | None = None,
    swap_memory: bool = False,
    time_major: bool = False,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
    fast: bool | None = None,
    xla: bool | None = None,
) -> tuple[tf.Tensor, Any]:
    """Run ``cell`` over ``inputs`` with a ``tf.while_loop``; TF1's ``tf.nn.dynamic_rnn``.

    Args:
        cell: a tfseq cell or a Keras 3 cell.
        inputs: ``[batch, time, depth]`` (``[time, batch, depth]`` if ``time_major``).
        sequence_length: optional int vector ``[batch]``.
        initial_state: optional, structured like ``cell.state_size``; zeros by default.
        dtype: dtype of the zero state (default: the dtype of ``inputs``).
        time_major: layout of ``inputs`` and ``outputs``.
        scope: name scope for the ops (variable names come from the cell).
        training: passed to the cell (dropout wrappers). ``None`` outside a Keras layer's
            ``call``: ``DropoutWrapper`` drops (TF1), Keras cells keep Keras' rule; inside
            one, Keras' own resolution (module docstring).
        fast: ``None`` (default) runs a fused fast path when the cell allows it
            (:func:`tfseq.nn.fused.plan` says which and why; an ``AttentionWrapper``:
            :func:`tfseq.seq2seq.fused_attention.plan`), ``False`` forces the
            readable per-step loop, ``True`` raises ``ValueError`` if no fast path applies.
        xla: whether the fused path is compiled with XLA: ``None`` (default) inside a
            ``tf.function`` when the number of steps is static, ``True``/``False`` force it
            (:func:`tfseq.nn.fused.uses_xla`). The per-step path is never compiled here.
        parallel_iterations, swap_memory: TF1's ``tf.while_loop`` knobs, passed to the
            per-step loop (no effect on results).

    Returns:
        ``(outputs, final_state)``: outputs ``[batch, time, cell.output_size]`` (or time
        major); ``final_state`` structured like ``cell.state_size``.
    """
    loop_knobs = _check_tf1_knobs("dynamic_rnn", parallel_iterations, swap_memory)
    check_optional_bool("dynamic_rnn", "xla", xla)
    context, fused_training = tf1_training(training)
    with tf.name_scope(scope or "rnn"), context:
        inputs = _check_inputs("dynamic_rnn", inputs, time_major, dtype, initial_state)
        nested = isinstance(inputs, tuple)
        if nested:
            dtype = _nested_inputs_dtype(inputs, dtype, initial_state)
        prepare_cell(cell, dtype if nested else inputs.dtype)
        if not time_major:
            inputs = _swap_batch_time(inputs)  # [time, batch, ...]
        first = tf.nest.flatten(inputs)[0]
        sequence_length = _check_sequence_length(sequence_length, first.shape[1])
        # built before its state is made: a cell may size its state by its input (TimeFreqLSTMCell)
        build_cell(cell, tf.nest.map_structure(lambda x: x.shape[1:], inputs))
        new_sequence(cell, initial_state)
        state = _start_state(cell, initial_state, first, 1, dtype)
        whole = None if nested else _whole_sequence(cell, state, fused_training, fast)
        if whole is not None:
            outputs, final_state = whole(inputs, state, sequence_length)
        elif nested or fused.plan(cell, inputs, fused_training, fast).path == fused.PER_STEP:
            outputs, final_state = _time_loop(cell, inputs, state, sequence_length, training, **loop_knobs)
        else:
            outputs, final_state = fused.run(cell, inputs, state, sequence_length, fused_training, xla=xla)
        if not time_major:
            outputs = _swap_batch_time(outputs)
        return outputs, final_state


def _whole_sequence(cell, state, training, fast):
    """The whole-sequence kernel registered for the cell's class
    (:func:`tfseq.rnn_cell.fusion.sequence_kernel`), or None: ``fast=False``, or no kernel covers
    the cell (``NotFusable``)."""
    if fast is False:
        return None
    try:
        return sequence_kernel(cell, state, training)
    except NotFusable:
        return None


def _has_unbuilt_layers(cell):
    return any(not layer.built for layer in cell._flatten_layers())  # noqa: SLF001 (Keras' layer walk)


def _time_loop(cell, inputs_tm, state, sequence_length, training, parallel_iterations=32, swap_memory=False):
    """The readable per-step path over time-major inputs."""
    flat_inputs = tf.nest.flatten(inputs_tm)  # one tensor, or a tuple's (PhasedLSTMCell)
    num_steps = tf.shape(flat_inputs[0])[0]
    # weights must not be created inside the while body
    build_cell(cell, tf.nest.map_structure(lambda x: x.shape[1:], inputs_tm))
    if tf.inside_function() and _has_unbuilt_layers(cell):
        # A TF1-style cell (own __call__) builds its inner layers on first use: one step
        # outside the loop creates them (its result is discarded).
        call_cell(cell, tf.nest.map_structure(lambda x: x[0], inputs_tm), state, training)
    output_ta = tf.TensorArray(tf.nest.flatten(state)[0].dtype, size=num_steps)
    input_tas = [tf.TensorArray(x.dtype, size=num_steps).unstack(x) for x in flat_inputs]

    def body(time, state, output_ta):
        x_t = tf.nest.pack_sequence_as(inputs_tm, [ta.read(time) for ta in input_tas])
        output, state = step_with_length(cell, x_t, state, time, sequence_length, training)
        return time + 1, state, output_ta.write(time, tf.cast(output, output_ta.dtype))

    with keras_dropout_masks(cell, tf.shape(flat_inputs[0])[1]):  # Keras cells' masks: one per sequence
        _, final_state, output_ta = tf.while_loop(
            lambda time, *_: time < num_steps, body, (tf.constant(0), state, output_ta),
            maximum_iterations=num_steps,  # a bound lets XLA (jit_compile=True) compile the loop and its gradient
            parallel_iterations=parallel_iterations,
            swap_memory=swap_memory,
        )
    outputs = output_ta.stack()
    outputs.set_shape([*flat_inputs[0].shape[:2], *state_dims(cell.output_size)])
    return outputs, final_state


def _static_inputs(
    fn_name: str,
    inputs: Sequence[tf.Tensor | np.ndarray],
    dtype: tf.DType | str | None,
    initial_state: Any,
) -> list[tf.Tensor]:
    """The steps of a static driver as tensors: a non-empty list of ``[batch, ...]``, all of one
    shape (TF1: rank 2 or more, ``[batch, depth]`` or a convolutional cell's ``[batch, *spatial,
    channels]``)."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError(f"inputs must be a non-empty list of [batch, ...] tensors, got {type(inputs).__name__}")
    inputs = [as_driver_inputs(fn_name, f"inputs[{t}]", x, dtype, initial_state) for t, x in enumerate(inputs)]
    for t, x in enumerate(inputs):
        if x.shape.rank is None or x.shape.rank < 2:
            raise ValueError(
                f"inputs[{t}] must have rank 2 [batch, depth] (or more, [batch, ..., channels] for a "
                f"convolutional cell), got shape {x.shape}"
            )
        if not x.shape.is_compatible_with(inputs[0].shape):
            raise ValueError(
                f"every step must have the shape of inputs[0], {inputs[0].shape}; inputs[{t}] has shape {x.shape}"
            )
    return inputs


def static_rnn(
    cell: keras.layers.Layer,
    inputs: Sequence[tf.Tensor | np.ndarray],
    initial_state: Any = None,
    dtype: tf.DType | str | None = None,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
    fast: bool | None = None,
    xla: bool | None = None,
) -> tuple[list[tf.Tensor], Any]:
    """TF1's ``static_rnn``: ``inputs`` is a Python list of ``[batch, depth]`` tensors (or of
    ``[batch, ...]``: a convolutional cell's ``[batch, *spatial, channels]``).

    A cell that can run fused (:func:`tfseq.nn.fused.plan`) runs through the same fused
    kernel as :func:`dynamic_rnn`, so both drivers give bit-identical outputs and states, as
    TF1's do; other cells are stepped one input after another.

    Args:
        cell, initial_state, dtype, sequence_length, scope, training, fast, xla: as in
            :func:`dynamic_rnn`.
        inputs: non-empty list of ``[batch, depth]`` tensors (or arrays), one per step, all of
            one shape; ``[batch, ...]`` of any rank >= 2 for a cell that reads such steps.

    Returns:
        ``(outputs, final_state)`` with ``outputs`` a list of ``[batch, output_size]`` (``[batch,
        *output_size]`` for a cell whose ``output_size`` is a shape). Past a row's
        ``sequence_length`` its outputs are zeros and its state (every tensor, of any rank) is
        carried unchanged.

    Raises:
        TypeError: ``inputs`` is not a non-empty list.
        ValueError: a step of rank below 2 or of another shape than ``inputs[0]``.
    """
    check_optional_bool("static_rnn", "xla", xla)
    context, fused_training = tf1_training(training)
    with tf.name_scope(scope or "rnn"), context:
        inputs = _static_inputs("static_rnn", inputs, dtype, initial_state)
        prepare_cell(cell, inputs[0].dtype)
        batch_static = inputs[0].shape[0]
        sequence_length = _check_sequence_length(sequence_length, batch_static)
        build_cell(cell, inputs[0].shape)  # before its state is made, as in dynamic_rnn
        new_sequence(cell, initial_state)
        state = _start_state(cell, initial_state, inputs[0], 0, dtype)
        inputs_tm = tf.stack(inputs)  # [time, batch, ...]
        if fused.plan(cell, inputs_tm, fused_training, fast).path != fused.PER_STEP:
            outputs, state = fused.run(cell, inputs_tm, state, sequence_length, fused_training, xla=xla)
            return tf.unstack(outputs, num=len(inputs)), state
        outputs = []
        with keras_dropout_masks(cell, tf.shape(tf.nest.flatten(inputs[0])[0])[0]):
            for t, x in enumerate(inputs):
                output, state = step_with_length(cell, x, state, t, sequence_length, training)
                outputs.append(output)
        return outputs, state


def _reverse(inputs_tm, sequence_length):
    """Reverse each row of time-major ``inputs`` within its own length."""
    if sequence_length is None:
        return tf.nest.map_structure(lambda x: tf.reverse(x, [0]), inputs_tm)
    return tf.nest.map_structure(
        lambda x: tf.reverse_sequence(x, sequence_length, seq_axis=0, batch_axis=1), inputs_tm)


def bidirectional_dynamic_rnn(
    cell_fw: keras.layers.Layer,
    cell_bw: keras.layers.Layer,
    inputs: tf.Tensor | np.ndarray,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    initial_state_fw: Any = None,
    initial_state_bw: Any = None,
    dtype: tf.DType | str | None = None,
    parallel_iterations: int | None = None,
    swap_memory: bool = False,
    time_major: bool = False,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[tuple[tf.Tensor, tf.Tensor], tuple[Any, Any]]:
    """TF1's ``bidirectional_dynamic_rnn``.

    Returns ``((output_fw, output_bw), (state_fw, state_bw))``; the backward direction
    reads each row reversed within its own ``sequence_length`` and its outputs are
    re-reversed so both directions are aligned in time. ``training`` as in
    :func:`dynamic_rnn` (None outside a Keras layer's ``call``: TF1's dropout).
    """
    _check_tf1_knobs("bidirectional_dynamic_rnn", parallel_iterations, swap_memory)
    with tf.name_scope(scope or "bidirectional_rnn"):
        inputs = _check_inputs("bidirectional_dynamic_rnn", inputs, time_major, dtype, initial_state_fw)
        inputs_tm = inputs if time_major else _swap_batch_time(inputs)
        seq = _check_sequence_length(sequence_length, tf.nest.flatten(inputs_tm)[0].shape[1])
        kwargs = dict(
            sequence_length=seq, dtype=dtype, time_major=True, training=training,
            parallel_iterations=parallel_iterations, swap_memory=swap_memory,
        )
        out_fw, state_fw = dynamic_rnn(cell_fw, inputs_tm, initial_state=initial_state_fw, scope="fw", **kwargs)
        out_bw, state_bw = dynamic_rnn(
            cell_bw, _reverse(inputs_tm, seq), initial_state=initial_state_bw, scope="bw", **kwargs
        )
        out_bw = _reverse(out_bw, seq)
        if not time_major:
            out_fw, out_bw = _swap_batch_time((out_fw, out_bw))
        return (out_fw, out_bw), (state_fw, state_bw)


def static_bidirectional_rnn(
    cell_fw: keras.layers.Layer,
    cell_bw: keras.layers.Layer,
    inputs: Sequence[tf.Tensor | np.ndarray],
    initial_state_fw: Any = None,
    initial_state_bw: Any = None,
    dtype: tf.DType | str | None = None,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], Any, Any]:
    """TF1's ``static_bidirectional_rnn``: returns ``(outputs, state_fw, state_bw)`` where
    each output is the concatenation ``[fw, bw]`` of one step on axis 1, TF1's: the depth of
    ``[batch, depth]`` steps (the first spatial axis of a convolutional cell's). ``inputs``
    as in :func:`static_rnn`; ``training`` as in :func:`dynamic_rnn`.

    Raises:
        TypeError, ValueError: as :func:`static_rnn`.
    """
    steps = _static_inputs("static_bidirectional_rnn", inputs, dtype, initial_state_fw)
    stacked = tf.stack(steps)  # [time, batch, ...]
    (out_fw, out_bw), (state_fw, state_bw) = bidirectional_dynamic_rnn(
        cell_fw, cell_bw, stacked, sequence_length=sequence_length, initial_state_fw=initial_state_fw,
        initial_state_bw=initial_state_bw, dtype=dtype, time_major=True, scope=scope, training=training,
    )
    outputs = tf.unstack(tf.concat([out_fw, out_bw], axis=2))
    return outputs, state_fw, state_bw
