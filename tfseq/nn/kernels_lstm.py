"""The fused LSTM kernel with TF1 ``LSTMCell``'s options: peepholes, ``cell_clip``, ``num_proj``
and ``proj_clip`` (also ``LSTMBlockCell``'s straight-through clip). The plain LSTM keeps its
leaner kernel in :mod:`tfseq.nn.kernels`; the conventions (hoisted ``xw``, ``finished``,
hand-written backward, first-order gradients) are the same.

One step, with ``xw_t = x_t @ W_x + bias`` (``forget_bias`` folded into the ``f`` block)::

    i, j, f, o = split(xw_t + h @ W_h, 4)
    i += w_i * c;  f += w_f * c                       # peepholes look at the old c
    c' = clip(sigmoid(f) * c + sigmoid(i) * tanh(j))   # cell_clip
    o += w_o * c'                                      # the output gate looks at the new c
    m  = sigmoid(o) * tanh(c')
    h' = clip(m @ P)                                   # num_proj, proj_clip

Backward per step (``dh``: total gradient into ``h'``, ``dc``: from the next step)::

    dh *= [|m @ P| <= proj_clip];  dm = dh @ P^T
    do = dm * tanh(c') * o(1 - o)
    dc' = (dc + dm * o(1 - tanh(c')^2) + do * w_o) * [|c'_raw| <= cell_clip]   # "masked" clip
    di, dj, df = dc' * j i(1-i), dc' * i (1 - j^2), dc' * c f(1-f)
    dc_prev = dc' * f + di * w_i + df * w_f;  dh_prev = [di, dj, df, do] @ W_h^T

The weight gradients (``W_h``, peepholes, ``P``) are single reductions after the loop.
"""

import tensorflow as tf

from tfseq.nn.kernels import flat_matmul, fused_op, scan, scan_inputs, states_before, zero_finished


def lstm_ext_sequence(
    xw: tf.Tensor, c0: tf.Tensor, h0: tf.Tensor, w_h: tf.Tensor, finished: tf.Tensor | None = None,
    h_mask: tf.Tensor | None = None, peepholes: tuple | None = None, cell_clip: float | None = None,
    straight_through: bool = False, projection: tf.Tensor | None = None, proj_clip: float | None = None,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """TF1's full ``LSTMCell`` over a sequence. Returns ``(outputs, c_T, h_T)``.

    Args:
        xw: ``[T, B, 4n]``, ``x @ W_x + bias`` with ``forget_bias`` in the ``f`` block.
        c0, h0: ``[B, n]``, ``[B, p]`` (``p = num_proj or n``).
        w_h: ``[p, 4n]``, the recurrent rows of the kernel.
        finished: optional bool ``[T, B, 1]``: skipped steps (zeros out, state carried).
        h_mask: optional ``[1, p]`` variational dropout of the carried ``h``.
        peepholes: optional ``(w_i, w_f, w_o)``, each ``[n]``.
        cell_clip: optional float > 0. ``straight_through``: the clip passes gradients
            unchanged (TF1's block kernels) instead of blocking them (``tf.clip_by_value``).
        projection: optional ``[n, p]``; ``proj_clip``: optional float > 0.
    """
    options = dict(peep=peepholes is not None, proj=projection is not None, cell_clip=cell_clip,
                   mask_c=cell_clip is not None and not straight_through, proj_clip=proj_clip)
    inputs = (xw, c0, h0, w_h) + (tuple(peepholes) if options["peep"] else ()) + (
        (projection,) if options["proj"] else ())

    def forward(*args):
        return _forward(options, *args)

    def backward(d_outputs, inputs, saved, finished, h_mask):
        return _backward(options, d_outputs, inputs, saved, finished, h_mask)

    outputs, c_last, h_last = fused_op(forward, backward, inputs, (finished, h_mask))
    outputs.set_shape(xw.shape[:2].concatenate(h0.shape[-1:]))
    return outputs, c_last, h_last


def _unpack(options, inputs):
    """``xw, c0, h0, w_h, (w_i, w_f, w_o) or None, projection or None``."""
    xw, c0, h0, w_h, rest = inputs[0], inputs[1], inputs[2], inputs[3], list(inputs[4:])
    peep = tuple(rest[:3]) if options["peep"] else None
    proj = rest[-1] if options["proj"] else None
    return xw, c0, h0, w_h, peep, proj


def _forward(options, *args):
    *inputs, finished, h_mask = args
    xw, c0, h0, w_h, peep, proj = _unpack(options, inputs)
    clip, proj_clip, mask_c = options["cell_clip"], options["proj_clip"], options["mask_c"]
    keep_h_states = finished is not None or h_mask is not None  # else the carried h is the output h

    def step(carry, slices):
        c_prev, h_prev = carry
        z_i, z_j, z_f, z_o = tf.split(slices[0] + tf.matmul(h_prev, w_h), 4, axis=1)
        if peep is not None:
            z_i, z_f = z_i + peep[0] * c_prev, z_f + peep[1] * c_prev
        i, j, f = tf.sigmoid(z_i), tf.tanh(z_j), tf.sigmoid(z_f)
        c_raw = f * c_prev + i * j
        c = c_raw if clip is None else tf.clip_by_value(c_raw, -clip, clip)
        if peep is not None:
            z_o = z_o + peep[2] * c
        o = tf.sigmoid(z_o)
        m = o * tf.tanh(c)
        h = m if proj is None else tf.matmul(m, proj)
        saved = (c, tf.concat([i, j, f, o], 1))
        if proj is not None:
            saved += (m,)
        if mask_c:  # where tf.clip_by_value passes gradients
            saved += (tf.cast(tf.abs(c_raw) <= clip, c.dtype),)
        if proj_clip is not None:
            saved += (tf.cast(tf.abs(h) <= proj_clip, h.dtype),)
            h = tf.clip_by_value(h, -proj_clip, proj_clip)
        h_state = h if h_mask is None else h * h_mask
        if finished is not None:  # finished rows carry their state
            c = tf.where(slices[1], c_prev, c)
            h_state = tf.where(slices[1], h_prev, h_state)
            saved = (c,) + saved[1:]
        return (c, h_state), (h,) + saved + ((h_state,) if keep_h_states else ())

    num_saved = 3 + (proj is not None) + mask_c + (proj_clip is not None) + keep_h_states
    (c_last, h_last), seqs = scan(step, scan_inputs(finished, [xw]), (c0, h0), num_saved)
    h_all, c_states, ijfo, rest = seqs[0], seqs[1], seqs[2], list(seqs[3:])
    m_all = rest.pop(0) if proj is not None else None
    c_keep = rest.pop(0) if mask_c else None
    h_keep = rest.pop(0) if proj_clip is not None else None
    h_states = rest.pop(0) if keep_h_states else h_all
    return (zero_finished(finished, h_all), c_last, h_last), (c_states, h_states, ijfo, m_all, c_keep, h_keep)


def _backward(options, d_outputs, inputs, saved, finished, h_mask):
    d_outputs, d_c_last, d_h_last = d_outputs
    _, c0, h0, w_h, peep, proj = _unpack(options, inputs)
    c_states, h_states, ijfo, m_all, c_keep, h_keep = saved
    i, j, f, o = tf.split(ijfo, 4, axis=2)
    c_prev = states_before(c0, c_states)
    tanh_c = tf.tanh(c_states)
    # The coefficients that do not depend on the gradient, for all steps at once.
    coefficients = [j * i * (1 - i), i * (1 - j * j), c_prev * f * (1 - f), tanh_c * o * (1 - o),
                    o * (1 - tanh_c * tanh_c), f] + ([c_keep] if c_keep is not None else [])
    a = tf.concat(coefficients, 2)
    w_h_t = tf.transpose(w_h)
    proj_t = None if proj is None else tf.transpose(proj)
    sequences = [d_outputs, a] + ([h_keep] if h_keep is not None else [])
    done_index = len(sequences)

    def back(carry, slices):
        dc, dh = carry
        a_i, a_j, a_f, a_o, a_c, f_t, *keep_c = tf.split(slices[1], len(coefficients), axis=1)
        dh_total = slices[0] + (dh if h_mask is None else dh * h_mask)
        if h_keep is not None:
            dh_total = dh_total * slices[2]
        dm = dh_total if proj_t is None else tf.matmul(dh_total, proj_t)
        d_o = dm * a_o
        dc_total = dc + dm * a_c
        if peep is not None:
            dc_total = dc_total + d_o * peep[2]
        if keep_c:
            dc_total = dc_total * keep_c[0]
        d_i, d_f = dc_total * a_i, dc_total * a_f
        dz = tf.concat([d_i, dc_total * a_j, d_f, d_o], 1)
        dc_prev = dc_total * f_t
        if peep is not None:
            dc_prev = dc_prev + d_i * peep[0] + d_f * peep[1]
        dh_prev = tf.matmul(dz, w_h_t)
        outputs = (dz, dh_total) if proj is not None else (dz,)
        if finished is None:
            return (dc_prev, dh_prev), outputs
        done = slices[done_index]  # a skipped step passes the gradient through; its outputs are zeroed after
        return (tf.where(done, dc, dc_prev), tf.where(done, dh, dh_prev)), outputs

    (dc0, dh0), outs = scan(back, scan_inputs(finished, sequences), (d_c_last, d_h_last),
                             2 if proj is not None else 1, reverse=True)
    dz = zero_finished(finished, outs[0])
    grads = [dz, dc0, dh0, flat_matmul(states_before(h0, h_states), dz)]
    if peep is not None:
        d_i, _, d_f, d_o = tf.split(dz, 4, axis=2)
        grads += [tf.reduce_sum(d_i * c_prev, [0, 1]), tf.reduce_sum(d_f * c_prev, [0, 1]),
                  tf.reduce_sum(d_o * c_states, [0, 1])]
    if proj is not None:
        grads.append(flat_matmul(m_all, zero_finished(finished, outs[1])))
    return tuple(grads)
