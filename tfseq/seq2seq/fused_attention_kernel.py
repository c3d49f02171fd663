"""The hoisted attention loop's math: one step of each layer kind and score, and the loop with its
hand-written backward (``tf.custom_gradient``), used by :mod:`tfseq.seq2seq.fused_attention`.

A layer is ``(kind, units, forget_bias)`` with its weights; ``kind`` is ``"lstm"`` (TF1's
``kernel``, ``bias``), ``"gru"`` (TF1's ``gates/kernel``, ``gates/bias``, ``candidate/kernel``,
``candidate/bias``) or ``"gru_reset_after"`` (Keras' ``GRUCell(reset_after=True)``: ``kernel``,
``recurrent_kernel``, ``bias [2, 3H]``, gates ``z, r, h``). Each layer's gate pre-activations
``z`` are ``G`` wide (``4H`` or ``3H``);
of layer 0 the part that the teacher-forced inputs give, ``x @ W_x + b`` (``W_x [D, G]``, the
inputs' rows of its kernels), is computed for all steps before the loop. A score is ``"luong"``
(``g * keys . h``; arguments ``keys`` and, when scaled, ``g``) or ``"bahdanau"``
(``v . tanh(keys + h @ W_q)``; arguments ``keys`` (with the normalised form's bias added),
``v`` (normalised) and ``W_q``).
"""

from collections.abc import Sequence

import tensorflow as tf

LSTM, GRU, GRU_RESET_AFTER = "lstm", "gru", "gru_reset_after"
LUONG, BAHDANAU = "luong", "bahdanau"
STATES = {LSTM: 2, GRU: 1, GRU_RESET_AFTER: 1}  # state tensors per layer: (c, h) or h
_WEIGHTS = {LSTM: 2, GRU: 4, GRU_RESET_AFTER: 3}


def state_layout(kinds: Sequence[str]) -> tuple[list[int], list[int]]:
    """``(n_states, state_at)``: each layer's number of state tensors and where they start in
    the flat state."""
    n_states = [STATES[k] for k in kinds]
    return n_states, [sum(n_states[:i]) for i in range(len(kinds))]


def split_weights(kind: str, weights: Sequence[tf.Tensor], depth: int) -> tuple:
    """``(W_x [depth, G], bias [G], recurrent kernels)`` of one layer whose input starts with
    ``depth`` hoisted features: LSTM ``[K_rest]``, GRU ``[gates K_rest, candidate K_rest]``,
    reset-after GRU ``[W_rest, U, recurrent bias]``."""
    if kind == LSTM:
        kernel, bias = weights
        return kernel[:depth], bias, [kernel[depth:]]
    if kind == GRU_RESET_AFTER:
        kernel, recurrent_kernel, bias = weights
        return kernel[:depth], bias[0], [kernel[depth:], recurrent_kernel, bias[1]]
    gates_kernel, gates_bias, candidate_kernel, candidate_bias = weights
    return (tf.concat([gates_kernel[:depth], candidate_kernel[:depth]], 1), tf.concat([gates_bias, candidate_bias], 0),
            [gates_kernel[depth:], candidate_kernel[depth:]])


def step(kind: str, inputs: tf.Tensor, state: Sequence[tf.Tensor], pre: tf.Tensor, rest: Sequence[tf.Tensor],
         forget_bias: float) -> tuple:
    """One layer's step: ``(new state, h, saved)``; ``pre`` is the hoisted part of ``z`` (or the
    bias) and ``saved`` what the backward needs: LSTM ``(u, [i, j, f, o], c)`` with
    ``u = [inputs, h_prev]``; GRU ``(u, [inputs, r * h_prev], [r, z, c])``; reset-after GRU
    ``(inputs, h_prev, [z, r, c, U_h h_prev + b_h])``."""
    h_prev = state[-1]
    if kind == GRU_RESET_AFTER:  # Keras: c = tanh(x W_h + b + r * (h U_h + b'))
        units = h_prev.shape[-1]
        xz, xr, xh = tf.split(pre + tf.matmul(inputs, rest[0]), 3, axis=1)
        rz, rr, rh = tf.split(tf.matmul(h_prev, rest[1]) + rest[2], 3, axis=1)
        z, r = tf.sigmoid(xz + rz), tf.sigmoid(xr + rr)
        c = tf.tanh(xh + r * rh)
        h = z * h_prev + (1.0 - z) * c
        return [h], h, (inputs, h_prev, tf.concat([z, r, c, rh], 1))
    u = tf.concat([inputs, h_prev], 1)
    if kind == LSTM:
        i, j, f, o = tf.split(tf.matmul(u, rest[0]) + pre, 4, axis=1)  # input gate, new input, forget, output
        i, j, f, o = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + forget_bias), tf.sigmoid(o)
        c = f * state[0] + i * j
        h = o * tf.tanh(c)
        return [c, h], h, (u, tf.concat([i, j, f, o], 1), c)
    units = h_prev.shape[-1]
    r, z = tf.split(tf.sigmoid(tf.matmul(u, rest[0]) + pre[..., :2 * units]), 2, axis=1)  # reset, update gates
    uc = tf.concat([inputs, r * h_prev], 1)
    c = tf.tanh(tf.matmul(uc, rest[1]) + pre[..., 2 * units:])
    h = z * h_prev + (1.0 - z) * c
    return [h], h, (u, uc, tf.concat([r, z, c], 1))


def score(kind: str, h: tf.Tensor, args: Sequence[tf.Tensor]) -> tuple:
    """``(score [batch, S], saved)`` of the top layer's ``h``; Bahdanau saves ``h @ W_q``."""
    if kind == LUONG:
        raw = tf.einsum("bu,bsu->bs", h, args[0])
        return (args[1] * raw if len(args) > 1 else raw), ()
    keys, v, w_q = args
    query = tf.matmul(h, w_q)  # [batch, U]
    return tf.einsum("bsu,u->bs", tf.tanh(keys + query[:, None, :]), v), (query,)


def attend(h: tf.Tensor, scores: tf.Tensor, mask: tf.Tensor | None, values: tf.Tensor, w_a: tf.Tensor,
           b_a: tf.Tensor | None = None, tanh: bool = False) -> tuple:
    """``(alignments, [h, context], attention)``: masked softmax, context and attention layer
    ``[h, context] @ W_a (+ b_a)``, through ``tanh`` where the layer has it (Luong's)."""
    if mask is not None:
        scores = tf.where(mask, scores, tf.fill(tf.shape(scores), tf.constant(-float("inf"), scores.dtype)))
    alignments = tf.nn.softmax(scores)
    mixed = tf.concat([h, tf.einsum("bs,bsm->bm", alignments, values)], 1)
    attention = tf.matmul(mixed, w_a)
    if b_a is not None:
        attention = attention + b_a
    return alignments, mixed, tf.tanh(attention) if tanh else attention


class Forward:
    """One step of the hoisted loop's forward, shared by the hand-written and the autodiff loop:
    ``step(t, attention, flat_state) -> (attention, flat_state, alignments, output, saved,
    [h_top, context], saved score)``, ``saved`` per layer as :func:`step` returns it.

    Built from the layers' ``kinds``, ``weights``, ``forget_biases``, ``residuals`` and input
    ``drops`` (masks ``[T, batch, width]`` or None), the time-major inputs ``x_tm`` (layer 0's
    input projection is computed here for every step), the attention: ``score_kind``,
    ``score_args``, ``mask``, ``values``, ``w_a``, ``output_attention``, and the layers' output
    dropout ``out_drops`` (masks ``[T, batch, units]`` or None; default none); the attention
    layer's bias ``b_a`` (or None) and ``tanh`` (its activation is tanh, else linear); the
    layers' state dropout ``h_drops`` (a variational mask ``[1, units]`` of the ``h`` each carries
    to its next step, not of the one it passes up, or None).
    """

    def __init__(self, kinds, weights, forget_biases, residuals, drops, x_tm, score_kind, score_args, mask, values,
                 w_a, output_attention, out_drops=None, b_a=None, tanh=False, h_drops=None):
        self.kinds, self.forget_biases, self.residuals, self.drops = kinds, forget_biases, residuals, drops
        self.out_drops = list(out_drops or [None] * len(kinds))
        self.h_drops = list(h_drops or [None] * len(kinds))
        self.score_kind, self.score_args, self.mask, self.values, self.w_a = score_kind, score_args, mask, values, w_a
        self.b_a, self.tanh = b_a, tanh
        self.output_attention = output_attention
        self.n_states, self.state_at = state_layout(kinds)
        depth = x_tm.shape[-1]
        split = [split_weights(kind, w, depth if i == 0 else 0) for i, (kind, w) in enumerate(zip(kinds, weights))]
        self.w_x0 = split[0][0]
        self.xw = tf.einsum("tbd,dg->tbg", x_tm, self.w_x0) + split[0][1]  # [T, batch, G0], hoisted
        self.pres = [None] + [s[1] for s in split[1:]]
        self.rests = [s[2] for s in split]

    def step(self, t, att, state):
        new_state, saved, below = [], [], att
        for layer, kind in enumerate(self.kinds):
            inputs = below if self.drops[layer] is None else below * self.drops[layer][t]
            at = self.state_at[layer]
            got, h, keep = step(kind, inputs, state[at:at + self.n_states[layer]],
                                self.xw[t] if layer == 0 else self.pres[layer], self.rests[layer],
                                self.forget_biases[layer])
            if self.h_drops[layer] is not None:  # state dropout: the h carried on (an LSTM's c is kept)
                got = got[:-1] + [got[-1] * self.h_drops[layer]]
            if self.out_drops[layer] is not None:  # the layer's output, not its state
                h = h * self.out_drops[layer][t]
            below = below + h if self.residuals[layer] else h
            new_state += got
            saved.append(keep)
        scores, query = score(self.score_kind, below, self.score_args)
        align, mixed, att = attend(below, scores, self.mask, self.values, self.w_a, self.b_a, self.tanh)
        return att, new_state, align, att if self.output_attention else below, saved, mixed, query


def _layer_backward(kind, t, saved, d_h, d_c, rest, width, c_first):
    """One layer's step backward: ``(dz [batch, G], d_inputs, d_h_prev, d_c_prev)``; the
    reset-after GRU's ``dz`` is ``[d_input_side, d_recurrent_side]``, ``[batch, 6H]``."""
    if kind == GRU_RESET_AFTER:
        _, hs, zrch = saved
        z, r, c, rh = tf.split(zrch[t], 4, axis=1)
        h_prev = hs[t]
        d_z = d_h * (h_prev - c) * z * (1.0 - z)
        d_a = d_h * (1.0 - z) * (1.0 - c * c)
        d_r = d_a * rh * r * (1.0 - r)
        d_in, d_rec = tf.concat([d_z, d_r, d_a], 1), tf.concat([d_z, d_r, d_a * r], 1)
        return (tf.concat([d_in, d_rec], 1), tf.matmul(d_in, rest[0], transpose_b=True),
                d_h * z + tf.matmul(d_rec, rest[1], transpose_b=True), None)
    if kind == LSTM:
        u, gates, cs = saved
        i, j, f, o = tf.split(gates[t], 4, axis=1)
        tanh_c = tf.tanh(cs[t])
        dc = d_c + d_h * o * (1.0 - tanh_c * tanh_c)
        dz = tf.concat([dc * j * i * (1.0 - i), dc * i * (1.0 - j * j),
                        dc * c_first[t] * f * (1.0 - f), d_h * tanh_c * o * (1.0 - o)], 1)
        du = tf.matmul(dz, rest[0], transpose_b=True)
        return dz, du[:, :width], du[:, width:], dc * f
    us, _, rzc = saved
    r, z, c = tf.split(rzc[t], 3, axis=1)
    h_prev = us[t][:, width:]
    d_zc = d_h * (1.0 - z) * (1.0 - c * c)
    duc = tf.matmul(d_zc, rest[1], transpose_b=True)
    d_rh = duc[:, width:]
    d_zg = tf.concat([d_rh * h_prev * r * (1.0 - r), d_h * (h_prev - c) * z * (1.0 - z)], 1)
    du = tf.matmul(d_zg, rest[0], transpose_b=True)
    return (tf.concat([d_zg, d_zc], 1), duc[:, :width] + du[:, :width],
            d_h * z + d_rh * r + du[:, width:], None)


def carry_finished(done: tf.Tensor | None, old: Sequence[tf.Tensor], new: Sequence[tf.Tensor]) -> list:
    """``new`` where a row goes on, ``old`` where ``done [batch, 1]`` says its sequence has ended
    (TF1's copy-through past a row's length); ``new`` when ``done`` is None."""
    return list(new) if done is None else [tf.where(done, a, b) for a, b in zip(old, new)]


def fused_loop(kinds: Sequence[str], forget_biases: Sequence[float], score_kind: str, mask: tf.Tensor | None,
               drops: Sequence[tf.Tensor | None], output_attention: bool = True,
               residuals: Sequence[bool] | None = None, done: tf.Tensor | None = None,
               out_drops: Sequence[tf.Tensor | None] | None = None, attention_bias: bool = False,
               attention_tanh: bool = False, h_drops: Sequence[tf.Tensor | None] | None = None):
    """The hoisted loop as one ``tf.custom_gradient`` function of
    ``(x_tm, attention_0, *flat_state_0, *layer weights, values, W_a, [b_a,] *score arguments)``
    (``b_a`` with ``attention_bias``; ``attention_tanh``: the attention layer's activation is tanh),
    returning ``(outputs [T, batch, A or H_top], attention, alignments, every step's alignments
    [T, batch, S], *flat_state)``; the outputs are each step's attention, or with
    ``output_attention=False`` the top layer's ``h``. The alignments of every step (an
    ``alignment_history``) are kept for the backward anyway; their gradient joins each step's.
    A layer with ``residuals[layer]`` outputs its input (before dropout) plus its ``h``.

    Forward, per step, it keeps each layer's matmul inputs and gate activations (and the LSTM's
    ``c``), the alignments, ``[h_top, context]`` and Bahdanau's ``h_top @ W_q``. Backward runs
    the steps in reverse with one small matmul per kernel and the attention's chain rule::

        d_pre = d_att (1 - att^2) with a tanh attention layer, else d_att
        d_mixed = d_pre @ W_a^T;  d_h_top, d_ctx = split(d_mixed);  d_b_a = sum d_pre
        d_alpha = d_ctx . values;  d_score = alpha * (d_alpha - sum(alpha * d_alpha))
        Luong:    d_h_top += g * d_score @ keys
        Bahdanau: d_pre = d_score v (1 - tanh^2);  d_q = sum_s d_pre;  d_h_top += d_q @ W_q^T
        LSTM:     do = dh * tanh(c);  dc += dh * o * (1 - tanh(c)^2);  dc_prev = dc * f
                  dz = [dc * j * i (1 - i), dc * i * (1 - j^2), dc * c_prev * f (1 - f), do * o (1 - o)]
        GRU:      d_zc = dh (1 - z)(1 - c^2);  [d_in, d_rh] = d_zc @ K_c^T
                  d_zg = [d_rh * h_prev * r (1 - r), dh (h_prev - c) z (1 - z)];  [d_in', d_h'] = d_zg @ K_g^T
                  dh_prev = dh * z + d_rh * r + d_h'
        reset-after GRU: d_a = dh (1 - z)(1 - c^2);  d_x = [dh (h_prev - c) z (1 - z), d_a * U_h h * r (1 - r), d_a]
                  d_in = d_x @ W^T;  dh_prev = dh * z + [d_x[:2H], d_a * r] @ U^T

    With input dropout, a layer's input is multiplied by the step's mask ``drops[layer][t]`` and
    so is its gradient; with output dropout, the ``h`` a layer passes up (not the one it keeps)
    by ``out_drops[layer][t]``, and so is the gradient that comes down; with state dropout, the
    ``h`` a layer carries to its next step by ``h_drops[layer]`` (``[1, units]``), and so is
    the gradient that comes back from that step. ``done [T, batch, 1]``
    (True where a row's step is skipped): such a row's step outputs zeros and carries its state,
    attention and alignments unchanged; backward, its gradients pass the step unchanged and the
    step adds nothing to any weight's. After the loop
    come every weight gradient as one large matmul over all steps, and Luong's memory gradients
    as batched matmuls (``d_keys = g * sum_t d_score_t (x) h_top_t``, ``d_g = sum(d_keys / g *
    keys)``: no per-step ``[batch, S, depth]`` accumulators, which in bfloat16 on a CPU were a
    third of the backward); Bahdanau's ``d_keys`` and ``d_v`` are summed in the loop (they need
    each step's ``tanh``).
    """
    layers = len(kinds)
    residuals = list(residuals or [False] * layers)
    out_drops = list(out_drops or [None] * layers)
    h_drops = list(h_drops or [None] * layers)
    n_states, state_at = state_layout(kinds)

    @tf.custom_gradient
    def loop(x_tm, att0, *args):
        flat0 = list(args[:sum(n_states)])
        pos = sum(n_states)
        weights = []
        for kind in kinds:
            weights.append(list(args[pos:pos + _WEIGHTS[kind]]))
            pos += _WEIGHTS[kind]
        values, w_a = args[pos], args[pos + 1]
        b_a = args[pos + 2] if attention_bias else None
        s_args = list(args[pos + 2 + int(attention_bias):])
        steps, dtype = tf.shape(x_tm)[0], x_tm.dtype
        units = [flat0[state_at[i]].shape[-1] for i in range(layers)]
        widths = [att0.shape[-1]] + units[:-1]  # each layer's input width before its h
        forward = Forward(kinds, weights, forget_biases, residuals, drops, x_tm, score_kind, s_args, mask, values,
                          w_a, output_attention, out_drops, b_a, attention_tanh, h_drops)
        w_x0, rests = forward.w_x0, forward.rests
        bahdanau = score_kind == BAHDANAU

        def ta():
            return tf.TensorArray(dtype, size=steps)

        def body(t, att, state, align, out, saved, aligns, mixeds, queries, atts):
            new_att, new_state, new_align, output, keep, mixed, query = forward.step(t, att, state)
            if attention_tanh:  # the step's own attention (before carrying finished rows): tanh's derivative
                atts = [atts[0].write(t, new_att)]
            ended = None if done is None else done[t]  # rows past their length: zeros out, everything carried
            att, align, *new_state = carry_finished(ended, [att, align, *state], [new_att, new_align, *new_state])
            if ended is not None:
                output = tf.where(ended, tf.zeros_like(output), output)
                # the c the next step starts from, also after a skipped step inside the sequence (a Keras mask)
                keep = [(kept[0], kept[1], new_state[state_at[i]]) if kinds[i] == LSTM else kept
                        for i, kept in enumerate(keep)]
            new_saved = [[a.write(t, v) for a, v in zip(tas, kept)] for tas, kept in zip(saved, keep)]
            if bahdanau:
                queries = [queries[0].write(t, query[0])]
            return (t + 1, att, new_state, align, out.write(t, output), new_saved, aligns.write(t, new_align),
                    mixeds.write(t, mixed), queries, atts)

        init = (tf.constant(0), att0, flat0, tf.zeros([tf.shape(att0)[0], tf.shape(values)[1]], dtype), ta(),
                [[ta() for _ in range(3)] for _ in kinds], ta(), ta(), [ta()] if bahdanau else [],
                [ta()] if attention_tanh else [])
        _, att, state, align, out, saved, aligns, mixeds, queries, atts = tf.while_loop(
            lambda t, *_: t < steps, body, init, maximum_iterations=steps)
        atts = [a.stack() for a in atts]  # [T, batch, A] with a tanh attention layer
        out = out.stack()  # [T, batch, A or H_top]
        saved = [[a.stack() for a in layer] for layer in saved]
        aligns, mixeds = aligns.stack(), mixeds.stack()
        queries = [q.stack() for q in queries]

        def grad(d_out, d_att, d_align, d_aligns, *d_state):
            d_out = tf.zeros_like(out) if d_out is None else d_out
            d_att = tf.zeros_like(att) if d_att is None else d_att
            d_align = tf.zeros_like(align) if d_align is None else d_align
            d_state = [tf.zeros_like(s) if d is None else d for s, d in zip(state, d_state)]
            c_first = [tf.concat([flat0[state_at[i]][None], saved[i][2][:-1]], 0) if kind == LSTM else None
                       for i, kind in enumerate(kinds)]
            top = units[-1]
            w_a_h, w_a_c = w_a[:top], w_a[top:]
            if bahdanau:
                keys, v, w_q = s_args
                accs0 = [tf.zeros_like(keys), tf.zeros_like(v)]
            else:
                keys, accs0 = s_args[0], []

            def back(t, d_att_next, d_st, d_align_t, dzs, d_atts, d_ctxs, d_scores, accs):
                d_out_t, ended = d_out[t], None if done is None else done[t]
                passed = (d_att_next, d_st, d_align_t)  # what a finished row passes on unchanged
                if ended is not None:  # the step's own math sees zeros for finished rows
                    d_out_t, d_att_next, d_align_t, *d_st = carry_finished(
                        ended, [tf.zeros_like(d_out_t), tf.zeros_like(d_att_next), tf.zeros_like(d_align_t),
                                *[tf.zeros_like(d) for d in d_st]], [d_out_t, d_att_next, d_align_t, *d_st])
                d_att_t = d_out_t + d_att_next if output_attention else d_att_next
                if attention_tanh:  # from here d_att_t is the gradient before the tanh
                    d_att_t = d_att_t * (1.0 - atts[0][t] * atts[0][t])
                alpha = aligns[t]
                d_h = tf.matmul(d_att_t, w_a_h, transpose_b=True)
                if not output_attention:
                    d_h = d_h + d_out_t
                d_ctx = tf.matmul(d_att_t, w_a_c, transpose_b=True)  # [batch, M]
                d_alpha = tf.einsum("bm,bsm->bs", d_ctx, values) + d_align_t
                if d_aligns is not None:  # the alignment history's gradient
                    d_alpha = d_alpha + d_aligns[t]
                d_score = alpha * (d_alpha - tf.reduce_sum(alpha * d_alpha, 1, keepdims=True))
                if bahdanau:
                    tanh = tf.tanh(keys + queries[0][t][:, None, :])
                    d_pre = d_score[:, :, None] * v * (1.0 - tanh * tanh)  # [batch, S, U]
                    d_query = tf.reduce_sum(d_pre, 1)
                    d_h = d_h + tf.matmul(d_query, w_q, transpose_b=True)
                    accs = [accs[0] + d_pre, accs[1] + tf.einsum("bs,bsu->u", d_score, tanh)]
                    d_scores = d_scores.write(t, d_query)
                else:  # Luong: d_score is d(g * raw); the memory's gradients come after the loop
                    d_h = d_h + tf.einsum("bs,bsu->bu", s_args[1] * d_score if len(s_args) > 1 else d_score, keys)
                    d_scores = d_scores.write(t, d_score)
                new_st, new_dzs, from_above = list(d_st), list(dzs), d_h
                for layer in reversed(range(layers)):
                    at = state_at[layer]
                    d_up = from_above if out_drops[layer] is None else from_above * out_drops[layer][t]
                    d_carried = d_st[at + n_states[layer] - 1]  # the gradient of the h carried on
                    if h_drops[layer] is not None:
                        d_carried = d_carried * h_drops[layer]
                    dz, d_in, d_h_prev, d_c_prev = _layer_backward(
                        kinds[layer], t, saved[layer], d_carried + d_up,
                        d_st[at] if kinds[layer] == LSTM else None, rests[layer], widths[layer], c_first[layer])
                    new_dzs[layer] = dzs[layer].write(t, dz)
                    d_in = d_in if drops[layer] is None else d_in * drops[layer][t]
                    from_above = d_in + from_above if residuals[layer] else d_in
                    new_st[at + n_states[layer] - 1] = d_h_prev
                    if d_c_prev is not None:
                        new_st[at] = d_c_prev
                from_above, d_align_prev, *new_st = carry_finished(  # a skipped row passes its gradients on
                    ended, [passed[0], passed[2], *passed[1]], [from_above, tf.zeros_like(d_align_t), *new_st])
                return (t - 1, from_above, new_st, d_align_prev, new_dzs, d_atts.write(t, d_att_t),
                        d_ctxs.write(t, d_ctx), d_scores, accs)

            init = (steps - 1, d_att, d_state, d_align, [ta() for _ in kinds], ta(), ta(), ta(), accs0)
            _, d_att0, d_state0, _, dzs, d_atts, d_ctxs, d_scores, accs = tf.while_loop(
                lambda t, *_: t >= 0, back, init, maximum_iterations=steps)
            dzs, d_atts = [a.stack() for a in dzs], d_atts.stack()  # [T, batch, G], [T, batch, A]
            d_ctxs, d_scores, h_tops = d_ctxs.stack(), d_scores.stack(), mixeds[:, :, :top]
            d_values = tf.einsum("tbs,tbm->bsm", aligns, d_ctxs)
            if bahdanau:
                d_score_args = [accs[0], accs[1], tf.einsum("tbh,tbu->hu", h_tops, d_scores)]
            else:  # the memory's gradients over all steps at once: batched matmuls after the loop
                d_keys = tf.einsum("tbs,tbu->bsu", d_scores, h_tops)
                d_score_args = [d_keys] if len(s_args) == 1 else [s_args[1] * d_keys, tf.reduce_sum(d_keys * keys)]
            d_weights = []
            for layer, kind in enumerate(kinds):
                dz, u = dzs[layer], saved[layer][0]
                d_b = tf.reduce_sum(dz, [0, 1])
                if kind == GRU_RESET_AFTER:
                    n = 3 * units[layer]
                    d_k = tf.einsum("tbi,tbg->ig", u, dz[:, :, :n])
                    if layer == 0:
                        d_k = tf.concat([tf.einsum("tbd,tbg->dg", x_tm, dz[:, :, :n]), d_k], 0)
                    d_weights += [d_k, tf.einsum("tbi,tbg->ig", saved[layer][1], dz[:, :, n:]),
                                  tf.reshape(d_b, [2, n])]
                    continue
                d_x = tf.einsum("tbd,tbg->dg", x_tm, dz) if layer == 0 else None
                if kind == LSTM:
                    d_k = tf.einsum("tbi,tbg->ig", u, dz)
                    d_weights += [d_k if d_x is None else tf.concat([d_x, d_k], 0), d_b]
                    continue
                n = units[layer]
                d_kg = tf.einsum("tbi,tbg->ig", u, dz[:, :, :2 * n])
                d_kc = tf.einsum("tbi,tbg->ig", saved[layer][1], dz[:, :, 2 * n:])
                if d_x is not None:
                    d_kg, d_kc = tf.concat([d_x[:, :2 * n], d_kg], 0), tf.concat([d_x[:, 2 * n:], d_kc], 0)
                d_weights += [d_kg, d_b[:2 * n], d_kc, d_b[2 * n:]]
            dz0 = dzs[0][:, :, :3 * units[0]] if kinds[0] == GRU_RESET_AFTER else dzs[0]
            d_x_tm = tf.einsum("tbg,dg->tbd", dz0, w_x0)
            d_w_a = tf.einsum("tbk,tba->ka", mixeds, d_atts)
            d_b_a = [tf.reduce_sum(d_atts, [0, 1])] if attention_bias else []
            return [d_x_tm, d_att0] + d_state0 + d_weights + [d_values, d_w_a] + d_b_a + d_score_args

        return (out, att, align, aligns, *state), grad

    return loop
