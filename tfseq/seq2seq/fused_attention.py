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
structures). The backward pass is hand-written (:func:`_fused_loop`, ``tf.custom_gradient``:
the steps in reverse with one small matmul per layer, every weight gradient as one large
matmul after the loop, XLA-compilable), or TensorFlow's autodiff through the loop
(``backward="autodiff"``). :func:`plan` says which path a wrapper takes and why
(``Plan(path, reason)``, as :func:`tfseq.nn.fused.plan`); the per-step path stays the
reference, and the tests prove them equal (outputs, final state and every gradient, 1e-5).
"""

import keras
import tensorflow as tf

from tfseq.nn.fused import Plan
from tfseq.rnn_cell import BasicLSTMCell, LSTMCell, MultiRNNCell
from tfseq.rnn_cell.fusion import NotFusable
from tfseq.seq2seq.attention import LuongAttention
from tfseq.seq2seq.attention_wrapper import AttentionWrapper

HOISTED = "hoisted_luong_lstm"
PER_STEP = "per_step"


def _lstm_layers(cell, training=None):
    """``(layers, dropouts, reason)``: the plain LSTM layers and, per layer, its input dropout
    in this call (a :class:`~tfseq.rnn_cell.fusion.FusedDropout` with per-step masks) or None;
    ``(None, None, reason)`` when the stack is not covered."""
    layers, dropouts = [], []
    for layer in list(cell.cells) if type(cell) is MultiRNNCell else [cell]:
        dropout = None
        if hasattr(layer, "fused_dropout"):  # a dropout wrapper (rnn_cell.fusion's contract)
            inner = layer.wrapped_cells()[0]
            spec = getattr(inner, "fused_spec", lambda: None)()
            if spec is None:
                return None, None, f"layer {layer.name!r} wraps a cell that does not run fused"
            try:
                dropout = layer.fused_dropout(spec, training)
            except NotFusable as error:
                return None, None, str(error)
            if dropout is not None and (dropout.input_masks_by_step is None or dropout.h_mask is not None
                                        or dropout.output_mask is not None):
                return None, None, (f"layer {layer.name!r}: only input dropout that is not variational "
                                    "(input_keep_prob, variational_recurrent=False)")
            layer = inner
        if type(layer) not in (BasicLSTMCell, LSTMCell):
            return None, None, f"layer {layer.name!r} is a {type(layer).__name__}, not a plain (Basic)LSTMCell"
        spec = layer.fused_spec()
        if spec.use_peepholes or spec.cell_clip is not None or spec.num_proj is not None or not spec.state_is_tuple:
            return None, None, f"layer {layer.name!r} has peepholes, a cell clip, a projection or a concatenated state"
        if spec.activation not in (tf.tanh, tf.math.tanh, keras.activations.tanh):
            return None, None, f"layer {layer.name!r} has an activation other than tanh"
        layers.append(layer)
        dropouts.append(dropout)
    return layers, dropouts, None


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
    """Which path teacher forcing through ``cell`` with ``training`` takes:
    ``Plan(HOISTED | PER_STEP, reason)``.

    The hoisted loop covers ``AttentionWrapper`` over a plain ``BasicLSTMCell``/``LSTMCell``
    or a ``MultiRNNCell`` of them (tanh, no peepholes, clip or projection), each optionally in
    a ``DropoutWrapper`` with input dropout only (``input_keep_prob`` a float, not
    variational; with dropout, ``training`` must be a Python bool), one ``LuongAttention``
    (scaled or not, softmax) with its memory set up, an attention layer without bias, the
    default ``cell_input_fn``/``attention_fn``, no alignment history.
    """
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
    layers, dropouts, reason = _lstm_layers(cell.cell, training)
    if layers is None:
        return Plan(PER_STEP, reason)
    stack = list(cell.cell.cells) if type(cell.cell) is MultiRNNCell else [cell.cell]
    if len({id(layer) for layer in stack}) != len(stack):  # a shared layer would draw twice per step
        return Plan(PER_STEP, "a layer appears twice in the stack")
    kernel, reason = _attention_kernel(cell)
    if kernel is None:
        return Plan(PER_STEP, reason)
    return Plan(HOISTED, f"{len(layers)} LSTM layer(s) + Luong attention: x-projection hoisted, one lean loop")


def _lstm(z, c, forget_bias):
    i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
    c = tf.sigmoid(f + forget_bias) * c + tf.sigmoid(i) * tf.tanh(j)
    return c, tf.sigmoid(o) * tf.tanh(c)


def teacher_forced(cell, inputs, initial_state, backward: str = "manual", training: bool | None = None,
                   new_sequence: bool = True):
    """``(outputs [batch, T, attention], final_state)`` of ``nn.dynamic_rnn(cell, inputs,
    initial_state=..., training=training)`` over full-length ``inputs [batch, T, D]``, by the
    hoisted loop.

    Input dropout (a ``DropoutWrapper`` layer's ``input_keep_prob``) draws, before the loop,
    the very masks the per-step path draws step by step (``DropoutWrapper.input_masks_by_step``),
    so both paths drop the same units and leave the wrappers' samplers in the same state.

    Args:
        backward: ``"manual"`` (the hand-written backward of :func:`_fused_loop`) or
            ``"autodiff"`` (TensorFlow differentiates the loop).
        training: a Python bool where a layer has dropout (True: it drops).
        new_sequence: start a new sequence batch first, as ``nn.dynamic_rnn`` does when given
            an ``initial_state`` (``resample_dropout_masks``); ``BasicDecoder`` passes False, as
            ``dynamic_decode`` does not.

    Raises:
        ValueError: when :func:`plan` says the wrapper takes the per-step path, or for an
            unknown ``backward``.
    """
    chosen = plan(cell, training)
    if chosen.path != HOISTED:
        raise ValueError(f"teacher_forced: this wrapper runs per step ({chosen.reason}); use nn.dynamic_rnn")
    if backward not in ("manual", "autodiff"):
        raise ValueError(f"teacher_forced: backward must be 'manual' or 'autodiff', got {backward!r}")
    if new_sequence and hasattr(cell, "resample_dropout_masks"):
        cell.resample_dropout_masks()
    layers, dropouts, _ = _lstm_layers(cell.cell, training)
    inputs = tf.convert_to_tensor(inputs)
    x_tm = tf.transpose(inputs, [1, 0, 2])  # [T, batch, D]
    x_tm, drops = _input_dropout(layers, dropouts, x_tm, initial_state.attention)
    if backward == "manual":
        return _teacher_forced_manual(cell, layers, x_tm, drops, inputs.shape, initial_state)
    mechanism = cell.attention_mechanisms[0]
    attention_kernel, _ = _attention_kernel(cell)
    depth, steps = inputs.shape[-1], tf.shape(inputs)[1]
    dtype = inputs.dtype
    specs = [layer.fused_spec() for layer in layers]
    weights = [(tf.cast(spec.weights["kernel"], dtype), tf.cast(spec.weights["bias"], dtype), float(spec.forget_bias))
               for spec in specs]
    k0, b0, _ = weights[0]
    xw = tf.einsum("tbd,dg->tbg", x_tm, k0[:depth]) + b0  # [T, batch, 4H], hoisted
    k0_rest = k0[depth:]  # [A + H, 4H]
    keys, values = tf.cast(mechanism.keys, dtype), tf.cast(mechanism.values, dtype)  # [batch, S, U], [batch, S, M]
    scale = tf.cast(mechanism.scale_weight, dtype) if mechanism.scale_weight is not None else None
    mask = mechanism.mask  # [batch, S] bool or None
    w_a = tf.cast(attention_kernel, dtype)
    flat_cell_state = tf.nest.flatten(initial_state.cell_state)  # (c0, h0, c1, h1, ...)
    outputs = tf.TensorArray(dtype, size=steps)

    def dropped(layer, value, t):
        return value if drops[layer] is None else value * drops[layer][t]

    def body(t, attention, cell_state, alignments, outputs):
        c_prev, h_prev = cell_state[0::2], cell_state[1::2]
        z = xw[t] + tf.matmul(tf.concat([dropped(0, attention, t), h_prev[0]], 1), k0_rest)  # [batch, 4H]
        c, h = _lstm(z, c_prev[0], weights[0][2])
        new_state = [c, h]
        for layer, ((kernel, bias, forget_bias), c_l, h_l) in enumerate(zip(weights[1:], c_prev[1:], h_prev[1:]), 1):
            c, h = _lstm(tf.matmul(tf.concat([dropped(layer, h, t), h_l], 1), kernel) + bias, c_l, forget_bias)
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


def _input_dropout(layers, dropouts, x_tm, attention):
    """``(x_tm, drops)``: the inputs with layer 0's input dropout applied (before the hoisted
    projection) and, per layer, the ``[T, batch, width]`` masks the loop applies to the rest of
    its input (layer 0: the previous attention; above: the layer below's ``h``), or None."""
    steps, batch = tf.shape(x_tm)[0], tf.shape(x_tm)[1]
    depth, dtype = x_tm.shape[-1], x_tm.dtype
    widths = [depth + attention.shape[-1]] + [layer.fused_spec().output_size for layer in layers[:-1]]
    drops = []
    for layer, (dropout, width) in enumerate(zip(dropouts, widths)):
        if dropout is None:
            drops.append(None)
            continue
        masks = dropout.input_masks_by_step(steps, tf.stack([batch, width]), dtype)  # [T, batch, width]
        if layer == 0:  # the per-step path drops [x_t, attention_{t-1}] as one tensor
            x_tm, masks = x_tm * masks[:, :, :depth], masks[:, :, depth:]
        drops.append(masks)
    return x_tm, drops


def _fused_loop(layers, forget_biases, scaled, mask, drops):
    """The hoisted loop as one ``tf.custom_gradient`` function with a hand-written backward.

    Forward, per step, it keeps each layer's matmul input ``u``, its gate activations and its
    new ``c``, and the attention's alignments and ``[h_top, context]``. Backward runs the steps
    in reverse with one small matmul per layer (``dz @ K^T``) and the attention's chain rule::

        d_mixed = d_att @ W_a^T;  d_h_top, d_ctx = split(d_mixed)
        d_alpha = d_ctx . values;  d_score = alpha * (d_alpha - sum(alpha * d_alpha))
        d_h_top += g * d_score @ keys
        do = dh * tanh(c);  dc += dh * o * (1 - tanh(c)^2);  dc_prev = dc * f
        dz = [dc * j * i (1 - i), dc * i * (1 - j^2), dc * c_prev * f (1 - f), do * o (1 - o)]

    With input dropout, ``u``'s first part is multiplied by the step's mask ``drops[layer][t]``
    and so is its gradient. After the loop come the weight gradients ``u^T dz`` of every step as
    one large matmul, and the
    memory's as batched matmuls over the steps: ``d_keys = g * sum_t d_score_t (x) h_top_t``,
    ``d_values = sum_t alpha_t (x) d_ctx_t``, ``d_g = sum(d_keys / g * keys)`` (no per-step
    ``[batch, S, depth]`` accumulators: in bfloat16 on a CPU they were a third of the backward).
    """

    @tf.custom_gradient
    def loop(x_tm, att0, *args):
        flat0 = list(args[:2 * layers])
        k0, b0 = args[2 * layers], args[2 * layers + 1]
        rest = args[2 * layers + 2:]
        kernels = [k0] + [rest[2 * i] for i in range(layers - 1)]
        biases = [b0] + [rest[2 * i + 1] for i in range(layers - 1)]
        keys, values, w_a = rest[2 * (layers - 1)], rest[2 * (layers - 1) + 1], rest[2 * (layers - 1) + 2]
        g = rest[2 * (layers - 1) + 3] if scaled else None
        depth = x_tm.shape[-1]
        steps = tf.shape(x_tm)[0]
        dtype = x_tm.dtype
        xw = tf.einsum("tbd,dg->tbg", x_tm, k0[:depth]) + b0  # [T, batch, 4H]
        k_rest = [k0[depth:]] + kernels[1:]
        units = flat0[1].shape[-1]

        def ta():
            return tf.TensorArray(dtype, size=steps)

        def body(t, att, state, align, out, us, gates, cs, aligns, mixeds):
            new_state, new_us, new_gates, new_cs = [], [], [], []
            below = None
            for layer in range(layers):
                c_prev, h_prev = state[2 * layer], state[2 * layer + 1]
                u = att if layer == 0 else below
                u = tf.concat([u if drops[layer] is None else u * drops[layer][t], h_prev], 1)
                z = tf.matmul(u, k_rest[layer]) + (xw[t] if layer == 0 else biases[layer])
                i, j, f, o = tf.split(z, 4, axis=1)
                i, j, f, o = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + forget_biases[layer]), tf.sigmoid(o)
                c = f * c_prev + i * j
                below = o * tf.tanh(c)
                new_state += [c, below]
                new_us.append(us[layer].write(t, u))
                new_gates.append(gates[layer].write(t, tf.concat([i, j, f, o], 1)))
                new_cs.append(cs[layer].write(t, c))
            raw = tf.einsum("bu,bsu->bs", below, keys)  # [batch, S]
            score = g * raw if scaled else raw
            if mask is not None:
                score = tf.where(mask, score, tf.fill(tf.shape(score), tf.constant(-float("inf"), dtype)))
            align = tf.nn.softmax(score)
            mixed = tf.concat([below, tf.einsum("bs,bsm->bm", align, values)], 1)  # [batch, H + M]
            att = tf.matmul(mixed, w_a)
            return (t + 1, att, new_state, align, out.write(t, att), new_us, new_gates, new_cs,
                    aligns.write(t, align), mixeds.write(t, mixed))

        init = (tf.constant(0), att0, flat0, tf.zeros([tf.shape(att0)[0], tf.shape(keys)[1]], dtype), ta(),
                [ta() for _ in range(layers)], [ta() for _ in range(layers)], [ta() for _ in range(layers)], ta(), ta())
        _, att, state, align, out, us, gates, cs, aligns, mixeds = tf.while_loop(
            lambda t, *_: t < steps, body, init, maximum_iterations=steps)
        out = out.stack()  # [T, batch, A]
        us, gates, cs = [a.stack() for a in us], [a.stack() for a in gates], [a.stack() for a in cs]
        aligns, mixeds = aligns.stack(), mixeds.stack()

        def grad(d_out, d_att, d_align, *d_state):
            d_out = tf.zeros_like(out) if d_out is None else d_out
            d_att = tf.zeros_like(att) if d_att is None else d_att
            d_align = tf.zeros_like(align) if d_align is None else d_align
            d_state = [tf.zeros_like(s) if d is None else d for s, d in zip(state, d_state)]
            c_first = [tf.concat([flat0[2 * layer][None], cs[layer][:-1]], 0) for layer in range(layers)]
            w_a_h, w_a_c = w_a[:units], w_a[units:]

            def back(t, d_att_next, d_c, d_h, d_align_t, dzs, d_atts, d_ctxs, d_scores):
                d_att_t = d_out[t] + d_att_next
                alpha = aligns[t]
                d_h_top = tf.matmul(d_att_t, w_a_h, transpose_b=True)
                d_ctx = tf.matmul(d_att_t, w_a_c, transpose_b=True)  # [batch, M]
                d_alpha = tf.einsum("bm,bsm->bs", d_ctx, values) + d_align_t
                d_score = alpha * (d_alpha - tf.reduce_sum(alpha * d_alpha, 1, keepdims=True))  # d raw * g
                d_h_top = d_h_top + tf.einsum("bs,bsu->bu", g * d_score if scaled else d_score, keys)
                new_c, new_h, new_dzs = list(d_c), list(d_h), list(dzs)
                from_above = d_h_top
                for layer in reversed(range(layers)):
                    i, j, f, o = tf.split(gates[layer][t], 4, axis=1)
                    tanh_c = tf.tanh(cs[layer][t])
                    dh = d_h[layer] + from_above
                    dc = d_c[layer] + dh * o * (1.0 - tanh_c * tanh_c)
                    dz = tf.concat([dc * j * i * (1.0 - i), dc * i * (1.0 - j * j),
                                    dc * c_first[layer][t] * f * (1.0 - f), dh * tanh_c * o * (1.0 - o)], 1)
                    new_dzs[layer] = dzs[layer].write(t, dz)
                    du = tf.matmul(dz, k_rest[layer], transpose_b=True)
                    split = du.shape[-1] - units
                    from_above, new_h[layer] = du[:, :split], du[:, split:]
                    if drops[layer] is not None:
                        from_above = from_above * drops[layer][t]
                    new_c[layer] = dc * f
                return (t - 1, from_above, new_c, new_h, tf.zeros_like(d_align_t), new_dzs, d_atts.write(t, d_att_t),
                        d_ctxs.write(t, d_ctx), d_scores.write(t, d_score))

            init = (steps - 1, d_att, d_state[0::2], d_state[1::2], d_align, [ta() for _ in range(layers)], ta(),
                    ta(), ta())
            _, d_att0, d_c0, d_h0, _, dzs, d_atts, d_ctxs, d_scores = tf.while_loop(
                lambda t, *_: t >= 0, back, init, maximum_iterations=steps)
            dzs, d_atts = [a.stack() for a in dzs], d_atts.stack()  # [T, batch, 4H], [T, batch, A]
            # the memory's gradients over all steps at once: batched matmuls after the loop
            d_ctxs, d_scores, h_tops = d_ctxs.stack(), d_scores.stack(), mixeds[:, :, :units]
            d_values = tf.einsum("tbs,tbm->bsm", aligns, d_ctxs)
            d_keys = tf.einsum("tbs,tbu->bsu", d_scores, h_tops)
            if scaled:
                d_g = tf.reduce_sum(d_keys * keys)  # sum_t d_score . (h_top . keys)
                d_keys = g * d_keys
            d_kernels = [tf.einsum("tbi,tbg->ig", us[layer], dzs[layer]) for layer in range(layers)]
            d_biases = [tf.reduce_sum(dz, [0, 1]) for dz in dzs]
            d_k0 = tf.concat([tf.einsum("tbd,tbg->dg", x_tm, dzs[0]), d_kernels[0]], 0)
            d_x = tf.einsum("tbg,dg->tbd", dzs[0], k0[:depth])
            d_w_a = tf.einsum("tbk,tba->ka", mixeds, d_atts)
            grads = [d_x, d_att0] + [d for pair in zip(d_c0, d_h0) for d in pair] + [d_k0, d_biases[0]]
            for layer in range(1, layers):
                grads += [d_kernels[layer], d_biases[layer]]
            grads += [d_keys, d_values, d_w_a] + ([d_g] if scaled else [])
            return grads

        return (out, att, align, *state), grad

    return loop


def _teacher_forced_manual(cell, layers, x_tm, drops, input_shape, initial_state):
    mechanism = cell.attention_mechanisms[0]
    attention_kernel, _ = _attention_kernel(cell)
    dtype = x_tm.dtype
    specs = [layer.fused_spec() for layer in layers]
    scaled = mechanism.scale_weight is not None
    # tf.cast: a float32 initial state meets bfloat16 inputs under a mixed-precision policy
    args = [x_tm, tf.cast(tf.convert_to_tensor(initial_state.attention), dtype)]
    args += [tf.cast(tf.convert_to_tensor(t), dtype) for t in tf.nest.flatten(initial_state.cell_state)]
    for spec in specs:
        args += [tf.cast(spec.weights["kernel"], dtype), tf.cast(spec.weights["bias"], dtype)]
    args += [tf.cast(mechanism.keys, dtype), tf.cast(mechanism.values, dtype), tf.cast(attention_kernel, dtype)]
    if scaled:
        args.append(tf.cast(mechanism.scale_weight, dtype))
    loop = _fused_loop(len(layers), [float(spec.forget_bias) for spec in specs], scaled, mechanism.mask, drops)
    out, attention, alignments, *state = loop(*args)
    final = initial_state.clone(
        cell_state=tf.nest.pack_sequence_as(initial_state.cell_state, state), attention=attention,
        alignments=alignments, attention_state=alignments)
    out.set_shape([input_shape[1], input_shape[0], None])
    return tf.transpose(out, [1, 0, 2]), final


def decoder_plan(decoder, inputs, initial_state, kwargs, training=None) -> Plan:
    """Which path ``BasicDecoder(cell, TrainingSampler(), ...)(inputs, initial_state, **kwargs)``
    takes. The hoisted loop needs full-length teacher forcing that ``dynamic_decode`` would run
    for exactly ``T = inputs.shape[1]`` steps: a plain batch-major ``TrainingSampler``,
    batch-major outputs, ``sequence_length`` absent or statically all ``T``, no ``mask``,
    ``maximum_iterations`` absent or ``>= T``; and :func:`plan` of the cell with ``training``."""
    from tfseq.seq2seq.sampler import TrainingSampler

    if type(decoder.sampler) is not TrainingSampler or decoder.sampler.time_major:
        return Plan(PER_STEP, "the sampler is not a batch-major TrainingSampler")
    if decoder.output_time_major or initial_state is None:
        return Plan(PER_STEP, "time-major outputs or no initial_state")
    if set(kwargs) - {"sequence_length"}:
        return Plan(PER_STEP, f"sampler arguments {sorted(set(kwargs) - {'sequence_length'})}")
    if not isinstance(inputs, (tf.Tensor, tf.Variable)) or inputs.shape.rank != 3 or inputs.shape[1] is None:
        return Plan(PER_STEP, "inputs are not one [batch, T, depth] tensor with a static T")
    steps = inputs.shape[1]
    if decoder.maximum_iterations is not None and not (
        isinstance(decoder.maximum_iterations, int) and decoder.maximum_iterations >= steps
    ):
        return Plan(PER_STEP, "maximum_iterations may stop before the inputs end")
    lengths = kwargs.get("sequence_length")
    if lengths is not None:
        value = tf.get_static_value(lengths)
        if value is None or not (value == steps).all():
            return Plan(PER_STEP, "sequence_length is not statically the full length of every row")
    return plan(decoder.cell, training)
