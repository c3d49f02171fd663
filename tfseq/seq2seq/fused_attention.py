"""Teacher forcing through an ``AttentionWrapper`` in one lean loop, the target half of the input projection hoisted.

The per-step path (``nn.dynamic_rnn(wrapper, x)``) concatenates ``[x_t, attention_{t-1}, h]``
and multiplies it by the first layer's whole kernel at every step. With teacher forcing
every ``x_t`` is known before the loop, so the ``x`` rows of that kernel are applied to all
steps at once, one large matmul, as the fused LSTM does for its inputs::

    K0 = [K_x; K_ah]                             # rows: x (D), [attention, h] (A + H)
    xw = x @ K_x + b_0                           # [T, batch, 4H], before the loop
    z0_t = xw_t + [attention_{t-1}, h0_{t-1}] @ K_ah
    i, j, f, o = split(z_l, 4);  c = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j)
    h = sigmoid(o) * tanh(c);    z_{l+1} = [h_l, h_{l+1, t-1}] @ K_{l+1} + b_{l+1}
    score = g * keys . h_top  (masked past the memory lengths);  alignments = softmax(score)
    context = alignments @ values;  attention_t = [h_top, context] @ W_a

and the loop body holds only that math (no wrapper bookkeeping, no per-step state
structures). The backward pass is TensorFlow's autodiff through the loop. :func:`plan` says
which path a wrapper takes and why (``Plan(path, reason)``, as :func:`tfseq.nn.fused.plan`);
the per-step path stays the reference, and the tests prove the two equal (outputs, final
state and every gradient, 1e-5).
"""

import keras
import tensorflow as tf

from tfseq.nn.fused import Plan
from tfseq.rnn_cell import BasicLSTMCell, LSTMCell, MultiRNNCell
from tfseq.seq2seq.attention import LuongAttention
from tfseq.seq2seq.attention_wrapper import AttentionWrapper

HOISTED = "hoisted_luong_lstm"
PER_STEP = "per_step"


def _lstm_layers(cell):
    layers = list(cell.cells) if type(cell) is MultiRNNCell else [cell]
    for layer in layers:
        if type(layer) not in (BasicLSTMCell, LSTMCell):
            return None, f"layer {layer.name!r} is a {type(layer).__name__}, not a plain (Basic)LSTMCell"
        spec = layer.fused_spec()
        if spec.use_peepholes or spec.cell_clip is not None or spec.num_proj is not None or not spec.state_is_tuple:
            return None, f"layer {layer.name!r} has peepholes, a cell clip, a projection or a concatenated state"
        if spec.activation not in (tf.tanh, tf.math.tanh, keras.activations.tanh):
            return None, f"layer {layer.name!r} has an activation other than tanh"
    return layers, None


def _attention_kernel(wrapper):
    """The attention layer's ``[query + depth, size]`` weight, or None (reason as second item)."""
    layer = wrapper.attention_layers[0] if wrapper.attention_layers else None
    if layer is not None:
        if type(layer) is not keras.layers.Dense or layer.use_bias or layer.activation is not keras.activations.linear:
            return None, "the attention layer is not a bias-free linear keras.layers.Dense"
        return layer.kernel, None
    kernels = getattr(wrapper, "_attention_kernels", None)
    if not kernels or kernels[0] is None:
        return None, "the wrapper has no attention layer (the context is the attention)"
    return kernels[0], None


def plan(cell, training=None) -> Plan:
    """Which path teacher forcing through ``cell`` takes: ``Plan(HOISTED | PER_STEP, reason)``.

    The hoisted loop covers ``AttentionWrapper`` over a plain ``BasicLSTMCell``/``LSTMCell``
    or a ``MultiRNNCell`` of them (tanh, no peepholes, clip or projection), one
    ``LuongAttention`` (scaled or not, softmax) with its memory set up, an attention layer
    without bias, the default ``cell_input_fn``/``attention_fn``, no alignment history.
    """
    del training  # plain LSTM layers have no dropout: the same math either way
    if not isinstance(cell, AttentionWrapper):
        return Plan(PER_STEP, f"{type(cell).__name__} is not an AttentionWrapper")
    if not cell.built:
        return Plan(PER_STEP, "the wrapper is not built yet")
    if cell.cell_input_fn is not None or cell.attention_fn is not None:
        return Plan(PER_STEP, "a custom cell_input_fn or attention_fn")
    if len(cell.attention_mechanisms) != 1:
        return Plan(PER_STEP, "more than one attention mechanism")
    if cell.alignment_history:
        return Plan(PER_STEP, "alignment_history=True (kept per step)")
    mechanism = cell.attention_mechanisms[0]
    if type(mechanism) is not LuongAttention:
        return Plan(PER_STEP, f"{type(mechanism).__name__} is not LuongAttention")
    if mechanism.probability_fn is not tf.nn.softmax:
        return Plan(PER_STEP, "the mechanism's probability_fn is not softmax")
    if mechanism.keys is None:
        return Plan(PER_STEP, "the mechanism has no memory set up")
    layers, reason = _lstm_layers(cell.cell)
    if layers is None:
        return Plan(PER_STEP, reason)
    kernel, reason = _attention_kernel(cell)
    if kernel is None:
        return Plan(PER_STEP, reason)
    return Plan(HOISTED, f"{len(layers)} LSTM layer(s) + Luong attention: x-projection hoisted, one lean loop")


def _lstm(z, c, forget_bias):
    i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
    c = tf.sigmoid(f + forget_bias) * c + tf.sigmoid(i) * tf.tanh(j)
    return c, tf.sigmoid(o) * tf.tanh(c)


def teacher_forced(cell, inputs, initial_state):
    """``(outputs [batch, T, attention], final_state)`` of ``nn.dynamic_rnn(cell, inputs,
    initial_state=...)`` over full-length ``inputs [batch, T, D]``, by the hoisted loop.

    Raises:
        ValueError: when :func:`plan` says the wrapper takes the per-step path.
    """
    chosen = plan(cell)
    if chosen.path != HOISTED:
        raise ValueError(f"teacher_forced: this wrapper runs per step ({chosen.reason}); use nn.dynamic_rnn")
    mechanism = cell.attention_mechanisms[0]
    layers, _ = _lstm_layers(cell.cell)
    attention_kernel, _ = _attention_kernel(cell)
    inputs = tf.convert_to_tensor(inputs)
    depth, steps = inputs.shape[-1], tf.shape(inputs)[1]
    dtype = inputs.dtype
    weights = [(tf.cast(layer.fused_spec().weights["kernel"], dtype), tf.cast(layer.fused_spec().weights["bias"], dtype),
                float(layer.fused_spec().forget_bias)) for layer in layers]
    k0, b0, _ = weights[0]
    x_tm = tf.transpose(inputs, [1, 0, 2])  # [T, batch, D]
    xw = tf.einsum("tbd,dg->tbg", x_tm, k0[:depth]) + b0  # [T, batch, 4H], hoisted
    k0_rest = k0[depth:]  # [A + H, 4H]
    keys, values = tf.cast(mechanism.keys, dtype), tf.cast(mechanism.values, dtype)  # [batch, S, U], [batch, S, M]
    scale = tf.cast(mechanism.scale_weight, dtype) if mechanism.scale_weight is not None else None
    mask = mechanism.mask  # [batch, S] bool or None
    w_a = tf.cast(attention_kernel, dtype)
    flat_cell_state = tf.nest.flatten(initial_state.cell_state)  # (c0, h0, c1, h1, ...)
    outputs = tf.TensorArray(dtype, size=steps)

    def body(t, attention, cell_state, alignments, outputs):
        c_prev, h_prev = cell_state[0::2], cell_state[1::2]
        z = xw[t] + tf.matmul(tf.concat([attention, h_prev[0]], 1), k0_rest)  # [batch, 4H]
        c, h = _lstm(z, c_prev[0], weights[0][2])
        new_state = [c, h]
        for (kernel, bias, forget_bias), c_l, h_l in zip(weights[1:], c_prev[1:], h_prev[1:]):
            c, h = _lstm(tf.matmul(tf.concat([h, h_l], 1), kernel) + bias, c_l, forget_bias)
            new_state += [c, h]
        score = tf.einsum("bu,bsu->bs", h, keys)  # [batch, S]
        if scale is not None:
            score = scale * score
        if mask is not None:
            score = tf.where(mask, score, tf.fill(tf.shape(score), tf.constant(-float("inf"), dtype)))
        alignments = tf.nn.softmax(score)  # [batch, S]
        context = tf.einsum("bs,bsm->bm", alignments, values)  # [batch, M]
        attention = tf.matmul(tf.concat([h, context], 1), w_a)  # [batch, A]
        return t + 1, attention, new_state, alignments, outputs.write(t, attention)

    _, attention, cell_state, alignments, outputs = tf.while_loop(
        lambda t, *_: t < steps, body,
        (tf.constant(0), initial_state.attention, flat_cell_state, initial_state.alignments, outputs),
        maximum_iterations=steps)
    final = initial_state.clone(
        cell_state=tf.nest.pack_sequence_as(initial_state.cell_state, cell_state), attention=attention,
        alignments=alignments, attention_state=alignments)
    out = outputs.stack()  # [T, batch, A]
    out.set_shape([inputs.shape[1], inputs.shape[0], None])
    return tf.transpose(out, [1, 0, 2]), final
