"""Fused fast paths for whole sequences, in one place; the per-step loop stays the reference.

``dynamic_rnn`` (and :class:`tfseq.nn.RNN`) ask :func:`plan` whether a cell can run
fused; if so :func:`run` computes the same numbers as the readable per-step loop
(``tfseq.nn.rnn._time_loop``), faster:

1. **Input projection hoisted out of the loop.** TF1's fused kernel ``[depth + h, k*h]``
   is sliced into its input rows ``W_x`` and recurrent rows ``W_h`` (the weights and
   their TF1 names stay the cell's). ``x @ W_x + bias`` for every time step is one
   ``[time * batch, depth]`` matmul; the loop does only ``h @ W_h`` and the gate math.
2. **A hand-written backward pass** (``tf.custom_gradient``): the reverse loop does one
   ``dz @ W_h^T`` matmul and a few element-wise ops per step; the weight gradients
   ``H_prev^T @ dZ`` and ``X^T @ dZ`` are single large matmuls after the loop, instead
   of one small matmul per step accumulated inside it.

What runs fused (anything else falls back to the per-step path, see :func:`plan`). The
planner knows no cell class: cells, wrappers and stacks describe themselves
(:mod:`tfseq.rnn_cell.fusion`), and it reads only those descriptions:

* **Any cell that describes its math with ``fused_spec()``** (a
  :class:`tfseq.rnn_cell.fusion.FusedSpec`: kind ``lstm``/``gru``/``rnn``, weights by TF1
  name, ``forget_bias``, peepholes, ``cell_clip``, ``num_proj``/``proj_clip``, state
  layout): ``BasicRNNCell``, ``BasicLSTMCell``, ``LSTMCell`` with every option,
  ``GRUCell``, ``LSTMBlockCell``, ``GRUBlockCellV2``, with the default ``tanh``
  activation, whose compute dtype is the inputs' dtype (or, under a mixed-precision policy
  such as ``mixed_bfloat16``, whose variable dtype is: the inputs are then cast, Keras'
  autocast, and the float32 weights are cast to the compute dtype, so their gradients come
  back float32; outputs and final state keep the initial state's dtype). A subclass that
  overrides ``call`` but not ``fused_spec`` runs per step.
* A wrapper that describes its dropout with ``fused_dropout(spec, training)`` around one
  of those: ``DropoutWrapper`` (see *Dropout* below).
* Around either, wrappers that describe themselves with ``fused_wrapping()``:
  ``DeviceWrapper`` (the layer's whole sequence runs on its device) and ``ResidualWrapper``
  with its default ``residual_fn`` (the layer's inputs, before its input dropout, are added to
  its outputs; not past a row's length, where the outputs stay zeros). A ``ResidualWrapper``
  inside a ``DropoutWrapper`` runs per step.
* A stack that describes its layers with ``fused_layers()``: ``MultiRNNCell`` of the
  above, run layer by layer (each layer's input projection is then one matmul over the
  previous layer's whole output sequence).

**Dropout.** Input/output dropout is applied to the whole sequence at once with the
wrapper's own sampler. Variational masks (one ``[1, size]`` mask per sequence, same seed
and salt) are then the per-step path's very masks; per-step masks
(``variational_recurrent=False``) have the same distribution but other random numbers.
State dropout runs fused only where it is a variational mask on an LSTM's ``h`` (tuple
state, TF1's default filter keeping ``c``). ``training`` must be a Python bool (or None
with every keep probability 1). The whole rule is ``DropoutWrapper.fused_dropout``.

``sequence_length`` keeps TF1's semantics in every fused path: past a row's length the
output is zeros and the state is carried unchanged.

The kernels (:mod:`tfseq.nn.kernels`; the LSTM with peepholes, clipping or a projection
in :mod:`tfseq.nn.kernels_lstm`): sequences of a static length up to
:data:`~tfseq.nn.kernels.MAX_UNROLL` steps run as unrolled Python loops;
longer or unknown lengths run in a bounded ``tf.while_loop``.

**XLA.** Inside a ``tf.function``, when the number of steps is static, the whole fused stack
(projections, loops, hand-written backward) is compiled with XLA (:func:`uses_xla`; ``xla=``
overrides it): XLA fuses the gate math and runs the loop without TensorFlow's per-op
dispatch. Eagerly, or with an unknown length, nothing is compiled (each new shape would be
a new program). Dropout masks are drawn before the compiled program, with the wrapper's
own sampler (XLA's random numbers differ from TensorFlow's). A caller's own
``jit_compile=True`` step compiles both paths too (``tfseq.train.Trainer`` does so).

Not fused: other activations, per-step or non-LSTM state dropout, Keras cells, other
wrappers (a ``ResidualWrapper`` with a ``residual_fn``, two residual wrappers on one layer),
cells without ``fused_spec`` or whose ``fused_spec()`` is None (``LayerNormBasicLSTMCell`` with
layer norm or dropout); no GPU (cuDNN) branch yet.

Tested equal to the per-step path (outputs, final states, gradients <= 1e-5) in
``tests/test_fused.py``. The hand-written gradients are first-order only: second
derivatives (a gradient of a gradient) need ``fast=False``.
"""

import collections
import contextlib
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_optional_bool
from tfseq._xla import inside_xla, xla_pays_for
from tfseq.nn.kernels import gru_sequence, lstm_sequence, rnn_sequence
from tfseq.nn.kernels_lstm import lstm_ext_sequence
from tfseq.rnn_cell.base import LSTMStateTuple
from tfseq.rnn_cell.fusion import FusedDropout, FusedSpec, FusedStack, NotFusable, check_not_overridden, peel_wrappings
from tfseq.rnn_cell.wrappers import build_cell

PER_STEP = "per_step"

Plan = collections.namedtuple("Plan", ["path", "reason"])
Plan.__doc__ = """Which path runs a cell: ``path`` (``"fused_lstm"``, ``"fused_gru"``,
``"fused_rnn"``, ``"fused_multi[lstm,lstm]"`` or ``"per_step"``) and ``reason`` (why)."""

_TANH = {tf.tanh, tf.math.tanh, tf.nn.tanh, keras.activations.tanh, keras.ops.tanh}

# One fusable layer: its spec, the cell that owns the weights, its dropout in this call (or None),
# the device it runs on (or None) and whether its inputs are added to its outputs.
_Layer = collections.namedtuple("_Layer", ["spec", "core", "dropout", "device", "residual"])


# -- planning ----------------------------------------------------------------------


def _describing(obj, method):
    """Whether ``obj`` describes itself with ``method`` (``fused_spec``, ``fused_dropout``,
    ``fused_layers``); the description vouches only for the step of the class defining it."""
    owner = next((cls for cls in type(obj).__mro__ if method in vars(cls)), None)
    if owner is None:
        return False
    # Not a subclass's call(), nor a TF1-style subclass overriding __call__(inputs, state, scope=None).
    check_not_overridden(obj, owner, ("call", "__call__"))
    return True


def _spec(cell) -> FusedSpec:
    """The :class:`~tfseq.rnn_cell.fusion.FusedSpec` of a cell the fused kernels cover."""
    if not _describing(cell, "fused_spec"):
        raise NotFusable(f"{type(cell).__name__} has no fused kernel")
    spec = cell.fused_spec()
    if spec is None:
        raise NotFusable(f"{cell.name}: fused_spec() is None")
    if spec.activation not in _TANH:
        raise NotFusable(f"{cell.name}: activation {spec.activation!r} is not tanh")
    return spec


def _layer(cell, training) -> _Layer:
    """One fusable layer: a cell with ``fused_spec()``, or a dropout wrapper of one, inside any
    device and (at most one) residual wrapper."""
    cell, device, residual = peel_wrappings(cell)
    if not _describing(cell, "fused_dropout"):
        return _Layer(_spec(cell), cell, None, device, residual)
    wrapped = cell.wrapped_cells()
    if len(wrapped) != 1:
        raise NotFusable(f"{cell.name}: a dropout wrapper of {len(wrapped)} cells")
    core = wrapped[0]
    spec = _spec(core)
    dropout = cell.fused_dropout(spec, training)
    if dropout is not None and dropout.h_mask is not None and spec.kind != "lstm":
        raise NotFusable(f"{cell.name}: state dropout of a {type(core).__name__} (the fused layers drop an "
                         "LSTM's h only)")
    return _Layer(spec, core, dropout, device, residual)


def _stack(cell) -> FusedStack | None:
    """The cell's :class:`~tfseq.rnn_cell.fusion.FusedStack`, or None for a single layer."""
    return cell.fused_layers() if _describing(cell, "fused_layers") else None


def _layers(cell, training):
    stack = _stack(cell)
    cells = [cell] if stack is None else stack.cells
    return stack, [_layer(c, training) for c in cells]


def _path_name(stack, layers):
    kinds = [layer.spec.kind for layer in layers]
    if stack is not None:
        return f"fused_multi[{','.join(kinds)}]"
    return f"fused_{kinds[0]}"


@tf.autograph.experimental.do_not_convert  # plain Python on Python values; traced as is
def plan(
    cell: keras.layers.Layer,
    inputs: tf.Tensor | None = None,
    training: bool | tf.Tensor | None = None,
    fast: bool | None = None,
) -> Plan:
    """Choose the path for ``cell``: a :class:`Plan` ``(path, reason)``.

    Args:
        cell: the RNN cell ``dynamic_rnn`` would run.
        inputs: optional sequence tensor; its dtype must match the cell's weights.
        training: as passed to ``dynamic_rnn`` (matters for ``DropoutWrapper``).
        fast: ``None`` picks the fused path when it applies, ``False`` forces the
            per-step path, ``True`` requires the fused path.

    Raises:
        ValueError: ``fast=True`` but the cell cannot run fused (the message says why),
            or ``fast`` is not None/True/False.
    """
    check_optional_bool("plan", "fast", fast)
    if fast is False:
        return Plan(PER_STEP, "fast=False")
    try:
        stack, layers = _layers(cell, training)
        if inputs is not None:
            dtype = tf.as_dtype(inputs.dtype)
            for layer in layers:
                policy = layer.core.dtype_policy
                if dtype.name not in (policy.compute_dtype, policy.variable_dtype):
                    raise NotFusable(f"{layer.core.name}: inputs are {dtype.name}, weights {policy.compute_dtype}")
            if len({layer.core.compute_dtype for layer in layers}) > 1:
                raise NotFusable(f"{cell.name}: layers of different compute dtypes")
    except NotFusable as err:
        if fast:
            raise ValueError(f"fast=True but {cell.name} cannot run fused: {err}") from None
        return Plan(PER_STEP, str(err))
    return Plan(_path_name(stack, layers), "fast=True" if fast else "the cell allows it")


# -- running -----------------------------------------------------------------------


@tf.autograph.experimental.do_not_convert  # plain Python on Python values
def uses_xla(inputs_tm: tf.Tensor, xla: bool | None = None) -> bool:
    """Whether :func:`run` compiles the fused stack with XLA for ``inputs_tm [time, batch, depth]``.

    ``xla=None`` (default): inside a ``tf.function`` when the number of steps is static
    (XLA compiles one program per shape; a static length means the caller's trace already
    fixes it, so no extra compilations). Eagerly, or with an unknown length, no XLA; nor for
    ``bfloat16``/``float16`` inputs on a machine without a GPU, where XLA's CPU backend is the
    slower one (:func:`tfseq._xla.xla_pays_for`).
    ``True``/``False`` force it on/off; ``True`` eagerly compiles a new program at every
    call (for tests), and a caller's own ``jit_compile=True`` function compiles everything
    in it whatever ``xla`` says.

    Raises:
        ValueError: ``xla`` is not None/True/False.
    """
    if check_optional_bool("uses_xla", "xla", xla) is not None:
        return xla
    return tf.inside_function() and inputs_tm.shape[0] is not None and xla_pays_for(inputs_tm.dtype)


def finished_steps(num_steps: Any, sequence_length: Any = None, finished: Any = None) -> tf.Tensor | None:
    """``[time, batch, 1]`` bool, True where a row's step is skipped (zeros out, state carried):
    ``finished [time, batch]`` as given (a Keras mask's negation), else TF1's from each row's
    ``sequence_length`` on; None with neither."""
    if finished is None and sequence_length is not None:
        finished = tf.range(num_steps)[:, None] >= sequence_length[None, :]  # [time, batch]
    return None if finished is None else tf.cast(finished, tf.bool)[:, :, None]


@tf.autograph.experimental.do_not_convert  # plain Python on Python values; traced as is
def run(
    cell: keras.layers.Layer,
    inputs_tm: tf.Tensor,
    state: Any,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    training: bool | tf.Tensor | None = None,
    finished: tf.Tensor | None = None,
    xla: bool | None = None,
) -> tuple[tf.Tensor, Any]:
    """Run a fusable ``cell`` (see :func:`plan`) over time-major ``inputs_tm``.

    Args:
        cell: a cell for which :func:`plan` returned a fused path.
        inputs_tm: ``[time, batch, depth]``.
        state: initial state, structured like ``cell.state_size``.
        sequence_length: optional int32 ``[batch]``: TF1 semantics past each length.
        training: as for :func:`plan`.
        finished: optional bool ``[time, batch]``, True where a step is skipped (output
            zeros, state carried); overrides ``sequence_length`` (Keras masks).
        xla: compile the stack with XLA (``jit_compile``): see :func:`uses_xla`. Dropout
            masks are drawn outside the compiled program, so they are the same numbers
            with or without XLA.

    Returns:
        ``(outputs [time, batch, output_size], final_state)`` like the per-step path.
    """
    build_cell(cell, inputs_tm.shape[1:])  # builds every wrapped core too, as the per-step path does
    stack, layers = _layers(cell, training)  # after building: the specs hold the weights
    compile_with_xla = uses_xla(inputs_tm, xla)
    finished = finished_steps(tf.shape(inputs_tm)[0], sequence_length, finished)
    # Mixed precision (Keras' autocast): the kernels compute in the cells' compute dtype, outputs
    # and final state come back in the given state's dtype, as the per-step path gives them.
    state = tf.nest.map_structure(tf.convert_to_tensor, state)
    given_dtype = tf.nest.flatten(state)[0].dtype
    compute_dtype = tf.as_dtype(layers[0].core.compute_dtype)
    inputs_tm = tf.cast(inputs_tm, compute_dtype)
    state = tf.nest.map_structure(lambda s: tf.cast(s, compute_dtype), state)
    states = [state] if stack is None else stack.split_state(state)
    masks = _dropout_masks(layers, inputs_tm)

    devices = {layer.device for layer in layers}

    def stack_of(chosen):
        def run_layers(x, states, finished, masks):
            new_states = []
            for layer, layer_state, layer_masks in zip(chosen, states, masks):
                x, new_state = _run_layer(layer.spec, x, layer_state, finished, *layer_masks, residual=layer.residual)
                new_states.append(new_state)
            return x, new_states

        if compile_with_xla and not inside_xla():  # else the caller's program compiles it
            return tf.function(run_layers, jit_compile=True, autograph=False)
        return run_layers

    if len(devices) > 1:  # layers on devices of their own: one program per layer, on its device
        outputs, new_states = inputs_tm, []
        for layer, layer_state, layer_masks in zip(layers, states, masks):
            with _on(layer.device):
                outputs, (new_state,) = stack_of([layer])(outputs, [layer_state], finished, [layer_masks])
            new_states.append(new_state)
    else:
        with _on(devices.pop()):
            outputs, new_states = stack_of(layers)(inputs_tm, list(states), finished, masks)
    final_state = new_states[0] if stack is None else stack.join_states(new_states)
    final_state = tf.nest.map_structure(lambda s: tf.cast(s, given_dtype), final_state)
    return tf.cast(outputs, given_dtype), final_state


def _on(device):
    """``tf.device(device)``, or no placement for None."""
    return contextlib.nullcontext() if device is None else tf.device(device)


def _dropout_masks(layers, inputs_tm):
    """Per layer ``(input_mask, h_mask, output_mask)``, each ``None`` where no dropout applies.

    A mask is the wrapper's own dropout applied to ones (``1 / keep_prob`` or 0, see
    :class:`~tfseq.rnn_cell.fusion.FusedDropout`), drawn in the per-step path's order:
    ``[1, size]`` for variational masks, ``[time, batch, size]`` per-step masks otherwise.
    ``h_mask`` is the variational state dropout of an LSTM's ``h`` (always ``[1, size]``)."""
    time_batch = tf.shape(inputs_tm)[:2]
    depth = inputs_tm.shape[-1]
    dtype = inputs_tm.dtype

    def ones(dropout: FusedDropout, size: int) -> Any:
        if dropout.variational:
            return tf.ones([1, size], dtype)
        return tf.ones(tf.concat([time_batch, [size]], 0), dtype)

    masks = []
    for layer in layers:
        spec, dropout = layer.spec, layer.dropout
        in_mask = h_mask = out_mask = None
        if dropout is not None:
            if dropout.input_mask is not None:
                in_mask = dropout.input_mask(ones(dropout, depth))
            if dropout.h_mask is not None:
                h_mask = dropout.h_mask(tf.ones([1, spec.output_size], dtype))
            if dropout.output_mask is not None:
                out_mask = dropout.output_mask(ones(dropout, spec.output_size))
        masks.append((in_mask, h_mask, out_mask))
        depth = spec.output_size
    return masks


def _run_layer(spec, x, state, finished, in_mask, h_mask, out_mask, residual=False):
    """One layer over the whole sequence, as ``spec`` describes it; ``residual``: its inputs
    (before input dropout) added to its outputs, except at the ``finished`` steps."""
    given = x
    if in_mask is not None:
        x = x * in_mask
    depth = x.shape[-1]
    # float32 master weights of a mixed-precision cell: their casts' gradients come back float32
    w = {name: tf.cast(tf.convert_to_tensor(v), x.dtype) for name, v in spec.weights.items()}
    if spec.kind == "lstm":
        outputs, new_state = _run_lstm(spec, w, x, state, finished, h_mask)
    elif spec.kind == "gru":
        h0 = tf.nest.flatten(state)[0]
        gates_kernel, candidate_kernel = w["gates/kernel"], w["candidate/kernel"]
        w_x = tf.concat([gates_kernel[:depth], candidate_kernel[:depth]], 1)  # [depth, 3h]
        xw = _project(x, w_x, tf.concat([w["gates/bias"], w["candidate/bias"]], 0))
        outputs, new_state = gru_sequence(xw, h0, gates_kernel[depth:], candidate_kernel[depth:], finished)
    else:
        h0 = tf.nest.flatten(state)[0]
        xw = _project(x, w["kernel"][:depth], w["bias"])
        outputs, new_state = rnn_sequence(xw, h0, w["kernel"][depth:], finished)
    if out_mask is not None:
        outputs = outputs * out_mask
    if residual:
        outputs = outputs + (given if finished is None else tf.where(finished, tf.zeros_like(given), given))
    return outputs, new_state


def _run_lstm(spec, w, x, state, finished, h_mask):
    if spec.state_is_tuple:
        c0, h0 = state
    else:
        state = tf.nest.flatten(state)[0]
        c0, h0 = state[:, : spec.units], state[:, spec.units :]
    depth, n = x.shape[-1], spec.units
    kernel = w["kernel"]
    # TF1 adds forget_bias at every step; folded into the hoisted bias here.
    bias = w["bias"] + tf.constant([0.0] * (2 * n) + [spec.forget_bias] * n + [0.0] * n, dtype=kernel.dtype)
    xw = _project(x, kernel[:depth], bias)
    if spec.is_basic_lstm:
        outputs, c, h = lstm_sequence(xw, c0, h0, kernel[depth:], finished, h_mask)
    else:
        peepholes = (w["w_i_diag"], w["w_f_diag"], w["w_o_diag"]) if spec.use_peepholes else None
        outputs, c, h = lstm_ext_sequence(
            xw, c0, h0, kernel[depth:], finished, h_mask, peepholes=peepholes, cell_clip=spec.cell_clip,
            straight_through=spec.clip_gradient == "straight_through",
            projection=w.get("projection/kernel") if spec.num_proj else None, proj_clip=spec.proj_clip,
        )
    return outputs, (LSTMStateTuple(c, h) if spec.state_is_tuple else tf.concat([c, h], 1))


def _project(x, w_x, bias):
    """``x @ w_x + bias`` for every step at once: ``[time, batch, depth] -> [time, batch, k]``."""
    shape = tf.shape(x)
    flat = tf.reshape(x, [-1, x.shape[-1]])  # [time * batch, depth]
    xw = tf.matmul(flat, w_x) + bias
    xw = tf.reshape(xw, [shape[0], shape[1], w_x.shape[-1]])
    xw.set_shape(x.shape[:2].concatenate([w_x.shape[-1]]))
    return xw
