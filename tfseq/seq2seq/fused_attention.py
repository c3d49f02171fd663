"""Teacher forcing through an ``AttentionWrapper`` in one lean loop, the target half of the input projection hoisted.

The per-step path (``nn.dynamic_rnn(wrapper, x)``) concatenates ``[x_t, attention_{t-1}, h]``
and multiplies it by the first layer's whole kernel at every step. With teacher forcing
every ``x_t`` is known before the loop, so the ``x`` rows of that kernel are applied to all
steps at once, one large matmul, as the fused LSTM does for its inputs::

    K0 = [K_x; K_ah]                             # rows: x (D), [attention, h] (A + H)
    xw = x @ K_x + b_0                           # [T, batch, G], before the loop
    z0_t = xw_t + [attention_{t-1}, h0_{t-1}] @ K_ah
    LSTM: i, j, f, o = split(z_l, 4);  c = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j);  h = sigmoid(o) * tanh(c)
    GRU:  r, z = sigmoid(split(z_l[:2H]));  c = tanh(xc_t + [input, r * h] @ K_c);  h = z * h + (1 - z) * c
    Luong:    score = g * keys . h_top
    Bahdanau: score = v . tanh(keys + h_top @ W_q)   (normalised: g v / ||v||, keys + b)
    alignments = softmax(score, masked past the memory lengths);  context = alignments @ values
    attention_t = [h_top, context] @ W_a

and the loop body holds only that math (no wrapper bookkeeping, no per-step state
structures). The backward pass is hand-written
(:func:`tfseq.seq2seq.fused_attention_kernel.fused_loop`, ``tf.custom_gradient``: the steps in
reverse with one small matmul per kernel, every weight gradient as one large matmul after the
loop, XLA-compilable), or TensorFlow's autodiff through the loop (``backward="autodiff"``).
:func:`plan` says which path a wrapper takes and why (``Plan(path, reason)``, as
:func:`tfseq.nn.fused.plan`); the per-step path stays the reference, and the tests prove them
equal (outputs, final state and every gradient, 1e-5). Which ``dynamic_decode`` calls take it:
:mod:`tfseq.seq2seq.fused_attention_decode`.
"""

import contextlib

import keras
import tensorflow as tf

from tfseq._xla import inside_xla
from tfseq.nn.fused import Plan, finished_steps, uses_xla
from tfseq.rnn_cell.fusion import NotFusable, placed_cell, register_sequence_kernel
from tfseq.rnn_cell.keras_dropout import keras_dropout_masks
from tfseq.seq2seq import fused_attention_kernel as kernel
from tfseq.seq2seq import fused_attention_layers as stacks
from tfseq.seq2seq.attention import BahdanauAttention, KernelLayerView, LuongAttention
from tfseq.seq2seq.attention_wrapper import AttentionWrapper, AttentionWrapperState

HOISTED = "hoisted"
PER_STEP = "per_step"


def _attention_layer(wrapper):
    """The attention layer as ``(kernel [query + depth, size], bias or None, tanh)``, or None
    (reason as second item)."""
    layer = wrapper.attention_layers[0] if wrapper.attention_layers else None
    if layer is not None:
        if type(layer) is not keras.layers.Dense or (layer.activation is not keras.activations.linear
                                                     and layer.activation not in stacks.TANH):
            return None, "the attention layer is not a keras.layers.Dense with a linear or tanh activation"
        return (layer.kernel, layer.bias if layer.use_bias else None, layer.activation in stacks.TANH), None
    kernels = getattr(wrapper, "_attention_kernels", None)
    if not kernels or kernels[0] is None:
        return None, "the wrapper has no attention layer (the context is the attention)"
    return (kernels[0], None, False), None


def _query_kernel(mechanism):
    """Bahdanau's ``W_q [query, units]``, or None (reason as second item)."""
    layer = mechanism.query_layer
    if isinstance(layer, KernelLayerView):
        return layer.kernel, None
    if type(layer) is not keras.layers.Dense or layer.use_bias or layer.activation is not keras.activations.linear:
        return None, "the mechanism's query_layer is not a bias-free linear keras.layers.Dense"
    return layer.kernel, None


def _score(mechanism, dtype):
    """``(kind, arguments)`` of :func:`tfseq.seq2seq.fused_attention_kernel.score`, cast to ``dtype``."""
    keys = tf.cast(mechanism.keys, dtype)
    if type(mechanism) is LuongAttention:
        scale = mechanism.scale_weight
        return kernel.LUONG, [keys] + ([] if scale is None else [tf.cast(scale, dtype)])
    v = mechanism.attention_v
    if mechanism.normalize:  # as bahdanau_score: g v / ||v||, and the bias inside the tanh
        v = mechanism.attention_g * v * tf.math.rsqrt(tf.reduce_sum(tf.square(v)))
        keys = keys + tf.cast(mechanism.attention_b, dtype)
    return kernel.BAHDANAU, [keys, tf.cast(v, dtype), tf.cast(_query_kernel(mechanism)[0], dtype)]


def plan(cell, training=None) -> Plan:
    """Which path teacher forcing through ``cell`` with ``training`` takes:
    ``Plan(HOISTED | PER_STEP, reason)``.

    The hoisted loop covers ``AttentionWrapper`` over
    * a plain ``BasicLSTMCell``/``LSTMCell`` (tanh, no peepholes, clip or projection) or
      ``GRUCell`` (tanh), each optionally in a ``DropoutWrapper`` with input and output
      dropout (``input_keep_prob``, ``output_keep_prob`` floats, variational or not) and
      variational state dropout of the ``h`` a layer carries (``state_keep_prob``,
      ``variational_recurrent=True``; an LSTM's with TF1's filter keeping ``c``, a GRU's one
      state); with dropout, ``training`` must be a Python bool;
    * Keras' ``LSTMCell`` or ``GRUCell`` (either ``reset_after``; tanh and sigmoid, with bias;
      with their own ``dropout``, ``training`` a Python bool and, when True, no
      ``recurrent_dropout`` and ``implementation=2``: Keras' one input mask per row, drawn
      before the loop as the per-step loops draw it);
    * a ``MultiRNNCell`` or Keras ``StackedRNNCells`` of those, above the first layer optionally
      in a ``ResidualWrapper`` with its default ``residual_fn``;

    each layer optionally in ``DeviceWrapper``s (the whole loop then runs on their one device;
    layers on different devices run per step), and the wrapper itself optionally in one (nmt's
    spelling: every cell in ``DeviceWrapper(cell, "/cpu:0")`` on a machine without a GPU);

    with one ``LuongAttention`` (scaled or not) or ``BahdanauAttention`` (normalised or not; its
    query layer its own kernel or a bias-free linear ``Dense``) with softmax probabilities and
    its memory set up, an attention layer (``attention_layer_size``, or a ``keras.layers.Dense``
    with or without bias, linear or tanh: Luong's ``tanh(W_c [h, context])``), the default
    ``cell_input_fn``/``attention_fn``; ``output_attention`` either way; ``alignment_history``
    either way outside XLA (the history gets every step's alignments after the loop, and their
    gradient reaches each step in the backward).
    """
    cell, device = placed_cell(cell)
    if not isinstance(cell, AttentionWrapper):
        return Plan(PER_STEP, f"{type(cell).__name__} is not an AttentionWrapper")
    if type(cell).call is not AttentionWrapper.call:
        return Plan(PER_STEP, f"{type(cell).__name__} overrides call()")
    if not cell.built:
        return Plan(PER_STEP, "the wrapper is not built yet")
    if cell.cell_input_fn is not None or cell.attention_fn is not None:
        return Plan(PER_STEP, "a custom cell_input_fn or attention_fn")
    if len(cell.attention_mechanisms) != 1:
        return Plan(PER_STEP, "more than one attention mechanism")
    if cell.alignment_history and inside_xla():
        return Plan(PER_STEP, "alignment_history=True under XLA (its TensorArray grows, which XLA cannot compile)")
    mechanism = cell.attention_mechanisms[0]
    if type(mechanism) not in (LuongAttention, BahdanauAttention):
        return Plan(PER_STEP, f"{type(mechanism).__name__} is not LuongAttention or BahdanauAttention")
    if mechanism.probability_fn is not tf.nn.softmax:
        return Plan(PER_STEP, "the mechanism's probability_fn is not softmax")
    if mechanism.keys is None:
        return Plan(PER_STEP, "the mechanism has no memory set up")
    if type(mechanism) is BahdanauAttention and _query_kernel(mechanism)[0] is None:
        return Plan(PER_STEP, _query_kernel(mechanism)[1])
    layers, _, _, devices, reason = stacks.stack_layers(cell.cell, training)
    if layers is None:
        return Plan(PER_STEP, reason)
    if len({device if placed is None else placed for placed in devices}) > 1:
        return Plan(PER_STEP, "the layers run on different devices (one loop runs on one device)")
    stack = stacks.stack(cell.cell)
    if len({id(layer) for layer in stack}) != len(stack):  # a shared layer would draw twice per step
        return Plan(PER_STEP, "a layer appears twice in the stack")
    attention_layer, reason = _attention_layer(cell)
    if attention_layer is None:
        return Plan(PER_STEP, reason)
    kinds = "+".join(sorted({f"Keras {type(layer).__name__[:-4]}" if isinstance(layer, stacks.KERAS_CELLS)
                             else layer.fused_spec().kind.upper() for layer in layers}))
    return Plan(HOISTED, f"{len(layers)} {kinds} layer(s) + {type(mechanism).__name__.replace('Attention', '')} "
                         "attention: x-projection hoisted, one lean loop")


def teacher_forced(cell, inputs, initial_state, backward: str = "manual", training: bool | None = None,
                   new_sequence: bool = True, time_major: bool = False, sequence_length=None, finished=None):
    """``(outputs [batch, T, attention or cell output], final_state)`` of ``nn.dynamic_rnn(cell, inputs,
    initial_state=..., training=training, sequence_length=sequence_length)`` over ``inputs [batch, T, D]``,
    by the hoisted loop: with a ``sequence_length`` ``[batch]``, TF1's semantics past each row's
    length (zero outputs, the whole state carried: each row's final state is the one at its length);
    ``finished [T, batch]`` (True: the step is skipped, as a Keras mask's False) instead gives
    those semantics at any steps.

    Input and output dropout (a ``DropoutWrapper`` layer's ``input_keep_prob`` and
    ``output_keep_prob``) draw, before the loop, the very masks the per-step path draws step by
    step (``DropoutWrapper.masks_by_step``; variational: its one mask per sequence), so both
    paths drop the same units and leave the wrappers' samplers in the same state.

    Inside a ``tf.function`` that is not compiled with XLA, the hand-written loop (forward and
    backward) compiles itself with XLA where :func:`tfseq.nn.fused.uses_xla` says it pays (a
    static number of steps; float32, or any dtype on a GPU), as ``nn.dynamic_rnn``'s fused
    layers do: a training step written as a plain ``tf.function`` (TF Addons' tutorials) runs
    the loop compiled. Dropout masks are drawn outside it, so they are the same numbers.

    Args:
        backward: ``"manual"`` (the hand-written backward of
            :func:`tfseq.seq2seq.fused_attention_kernel.fused_loop`) or ``"autodiff"``
            (TensorFlow differentiates the loop).
        training: a Python bool where a layer has dropout (True: it drops).
        new_sequence: start a new sequence batch first, as ``nn.dynamic_rnn`` does when given
            an ``initial_state`` (``resample_dropout_masks``); ``BasicDecoder`` passes False, as
            ``dynamic_decode`` does not.
        time_major: ``inputs`` and outputs are ``[T, batch, ...]``.

    Raises:
        ValueError: when :func:`plan` says the wrapper takes the per-step path (or it keeps an
            ``alignment_history`` and a ``sequence_length`` or ``finished`` is given), or for an
            unknown ``backward``.
    """
    chosen = plan(cell, training)
    cell, device = placed_cell(cell)
    if chosen.path == HOISTED and (sequence_length is not None or finished is not None) and cell.alignment_history:
        chosen = Plan(PER_STEP, "alignment_history=True with rows ending early")
    if chosen.path != HOISTED:
        raise ValueError(f"teacher_forced: this wrapper runs per step ({chosen.reason}); use nn.dynamic_rnn")
    if backward not in ("manual", "autodiff"):
        raise ValueError(f"teacher_forced: backward must be 'manual' or 'autodiff', got {backward!r}")
    if new_sequence and hasattr(cell, "resample_dropout_masks"):
        cell.resample_dropout_masks()
    layers, dropouts, residuals, devices, _ = stacks.stack_layers(cell.cell, training)
    device = next((placed for placed in devices if placed is not None), device)
    inputs = tf.convert_to_tensor(inputs)
    batch = tf.shape(inputs)[1 if time_major else 0]
    # Keras cells' own masks drawn before the loop, as the per-step loops draw them (Keras' rule)
    with contextlib.nullcontext() if device is None else tf.device(device), keras_dropout_masks(cell.cell, batch):
        return _teacher_forced(cell, layers, dropouts, residuals, inputs, initial_state, backward, time_major,
                               sequence_length, finished)


def _teacher_forced(cell, layers, dropouts, residuals, inputs, initial_state, backward, time_major, sequence_length,
                    finished):
    """:func:`teacher_forced` of a covered ``AttentionWrapper`` over ``inputs`` (a tensor), its
    stack's layers, dropout and residuals as
    :func:`~tfseq.seq2seq.fused_attention_layers.stack_layers` describes them."""
    dtype = inputs.dtype
    x_tm = inputs if time_major else tf.transpose(inputs, [1, 0, 2])  # [T, batch, D]
    x_tm, drops, out_drops, h_drops = stacks.dropout_masks(layers, dropouts, x_tm, initial_state.attention)
    lengths = None if sequence_length is None else tf.cast(sequence_length, tf.int32)
    known = None if lengths is None else tf.get_static_value(lengths)
    if known is not None and x_tm.shape[0] is not None and (known >= x_tm.shape[0]).all():
        lengths = None  # no row ends before the inputs do
    done = finished_steps(tf.shape(x_tm)[0], lengths, finished)  # [T, batch, 1] or None
    kinds, weights, forget_biases, keras_order = zip(*[stacks.layer_math(layer, dtype) for layer in layers])
    mechanism = cell.attention_mechanisms[0]
    score_kind, score_args = _score(mechanism, dtype)
    (w_a, b_a, tanh), _ = _attention_layer(cell)
    values, w_a = tf.cast(mechanism.values, dtype), tf.cast(w_a, dtype)
    b_a = [] if b_a is None else [tf.cast(b_a, dtype)]
    # tf.cast: a float32 initial state meets bfloat16 inputs under a mixed-precision policy
    attention0 = tf.cast(tf.convert_to_tensor(initial_state.attention), dtype)
    flat_state = stacks.swap_keras_lstm_states(
        kinds, keras_order, [tf.cast(tf.convert_to_tensor(t), dtype) for t in tf.nest.flatten(initial_state.cell_state)])
    if backward == "manual":
        loop = kernel.fused_loop(kinds, forget_biases, score_kind, mechanism.mask, drops, cell.output_attention,
                                 residuals, done, out_drops, attention_bias=bool(b_a), attention_tanh=tanh,
                                 h_drops=h_drops)
        if uses_xla(x_tm) and not inside_xla():  # a plain tf.function (a caller's jit_compile compiles it anyway)
            loop = tf.function(loop, jit_compile=True, autograph=False)
        out, attention, alignments, every_step, *state = loop(
            x_tm, attention0, *flat_state, *[w for ws in weights for w in ws], values, w_a, *b_a, *score_args)
    else:
        forward = kernel.Forward(kinds, weights, forget_biases, residuals, drops, x_tm, score_kind, score_args,
                                 mechanism.mask, values, w_a, cell.output_attention, out_drops,
                                 b_a[0] if b_a else None, tanh, h_drops)
        out, attention, alignments, every_step, state = _autodiff_loop(forward, x_tm, attention0, flat_state, done)
    state = stacks.swap_keras_lstm_states(kinds, keras_order, list(state))
    attention_state = alignments
    if done is not None:  # a row that never stepped keeps the alignments it was given
        started = tf.logical_not(tf.reduce_all(done, 0))  # [batch, 1]
        alignments, attention_state = (tf.where(started, alignments, tf.cast(given, alignments.dtype)) for given in (
            initial_state.alignments, initial_state.attention_state))
    history = initial_state.alignment_history
    if cell.alignment_history:  # appended after what it holds, as the per-step path's writes
        history = history.scatter(history.size() + tf.range(tf.shape(every_step)[0]),
                                  tf.cast(every_step, history.dtype))
    final = initial_state.clone(
        cell_state=tf.nest.pack_sequence_as(initial_state.cell_state, state), attention=attention,
        alignments=alignments, attention_state=attention_state, alignment_history=history)
    out.set_shape([x_tm.shape[0], x_tm.shape[1], None])
    return (out if time_major else tf.transpose(out, [1, 0, 2])), final


def _autodiff_loop(forward, x_tm, attention0, flat_state, done=None):
    """The hoisted loop's forward (a :class:`~tfseq.seq2seq.fused_attention_kernel.Forward`) in a
    ``tf.while_loop`` that TensorFlow differentiates: ``(outputs, attention, alignments, every
    step's alignments, flat state)``."""
    steps, dtype = tf.shape(x_tm)[0], x_tm.dtype

    def body(t, attention, state, alignments, outputs, every_step):
        new_attention, new_state, new_alignments, output, _, _, _ = forward.step(t, attention, state)
        every_step = every_step.write(t, new_alignments)
        ended = None if done is None else done[t]
        attention, alignments, *state = kernel.carry_finished(
            ended, [attention, alignments, *state], [new_attention, new_alignments, *new_state])
        if ended is not None:
            output = tf.where(ended, tf.zeros_like(output), output)
        return t + 1, attention, state, alignments, outputs.write(t, output), every_step

    alignments0 = tf.zeros([tf.shape(attention0)[0], tf.shape(forward.values)[1]], dtype)
    _, attention, state, alignments, outputs, every_step = tf.while_loop(
        lambda t, *_: t < steps, body,
        (tf.constant(0), attention0, flat_state, alignments0, tf.TensorArray(dtype, size=steps),
         tf.TensorArray(dtype, size=steps)),
        maximum_iterations=steps)
    return outputs.stack(), attention, alignments, every_step.stack(), state


def _sequence_kernel(cell, state, training=None):
    """``nn.dynamic_rnn``'s and ``nn.RNN``'s whole-sequence kernel for an ``AttentionWrapper``
    (:func:`tfseq.rnn_cell.fusion.register_sequence_kernel`): :func:`teacher_forced` over
    time-major inputs from ``state`` (and a ``sequence_length``, TF1's semantics past each row's
    length, or the ``finished`` steps of a Keras mask), where :func:`plan` covers the wrapper;
    ``state=None`` asks only whether it does."""
    if state is not None and not isinstance(state, AttentionWrapperState):
        raise NotFusable(f"{cell.name}: the initial state is not an AttentionWrapperState")
    if cell.alignment_history:  # the RNN drivers carry no TensorArray; their per-step paths say so
        raise NotFusable(f"{cell.name}: alignment_history=True (a TensorArray)")
    chosen = plan(cell, training)
    if chosen.path != HOISTED:
        raise NotFusable(chosen.reason)

    def run(inputs_tm, state, sequence_length=None, finished=None):  # the driver has started the sequence
        return teacher_forced(cell, inputs_tm, state, training=training, new_sequence=False, time_major=True,
                              sequence_length=sequence_length, finished=finished)

    return run


register_sequence_kernel(AttentionWrapper, _sequence_kernel)
