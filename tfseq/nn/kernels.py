"""The fused sequence kernels behind :mod:`tfseq.nn.fused`: forward loops and hand-written
backward passes for TF1's LSTM, GRU and basic RNN.

Each takes the hoisted input projection ``xw [time, batch, k * h]`` (bias included),
the initial state, the recurrent rows of the kernel and the optional ``finished``
mask ``[time, batch, 1]`` (True: skip the step), and returns time-major outputs and
the final state. Forward and backward loops are ``step(carry, slices)`` functions
run by :func:`scan`; the backward pass is written by hand (``tf.custom_gradient``):
the reverse loop does one small matmul per step, and the weight gradients are single
large matmuls after the loop. First-order gradients only.

The building blocks are public, for every kernel module (:mod:`tfseq.nn.kernels_lstm`):
:func:`scan` (the loop), :func:`fused_op` (forward + hand-written backward as one op),
:func:`scan_inputs`, :func:`states_before`, :func:`zero_finished`, :func:`flat_matmul`.
"""

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

# Sequences with a static length up to MAX_UNROLL steps run as unrolled Python loops (no
# loop overhead for generation's single steps); longer ones in tf.while_loop, measured as
# fast as unrolling at 20 steps x 200 units and 1.2-1.3x faster at 35 steps x 650 units.
MAX_UNROLL = 8
_PARALLEL_ITERATIONS = 32  # lets the reverse loop's writes overlap the next step


def scan(
    step: Callable,
    sequences: Sequence[tf.Tensor],
    carry: Any,
    num_outputs: int,
    reverse: bool = False,
) -> tuple[Any, list[tf.Tensor]]:
    """``carry, outputs_t = step(carry, [s[t] for s in sequences])`` for every ``t``.

    Returns ``(final_carry, [outputs stacked over time])`` in time order, also when
    ``reverse`` runs from the last step to the first. Outputs have the dtype of
    ``sequences[0]``.
    """
    num_steps = sequences[0].shape[0]
    if num_steps is not None and num_steps <= MAX_UNROLL:
        slices = [tf.unstack(seq, num=num_steps) for seq in sequences]
        outputs = [None] * num_steps
        for t in reversed(range(num_steps)) if reverse else range(num_steps):
            carry, outputs[t] = step(carry, [s[t] for s in slices])
        return carry, [tf.stack(out) for out in zip(*outputs)]
    if num_steps is None:
        num_steps = tf.shape(sequences[0])[0]
    inputs = [tf.TensorArray(seq.dtype, size=num_steps).unstack(seq) for seq in sequences]
    dtype = sequences[0].dtype

    def body(t, carry, out_tas):
        carry, outputs = step(carry, [ta.read(t) for ta in inputs])
        return t + (-1 if reverse else 1), carry, [ta.write(t, out) for ta, out in zip(out_tas, outputs)]

    out_tas = [tf.TensorArray(dtype, size=num_steps) for _ in range(num_outputs)]
    start = tf.convert_to_tensor(num_steps - 1 if reverse else 0)
    _, carry, out_tas = tf.while_loop(
        (lambda t, *_: t >= 0) if reverse else (lambda t, *_: t < num_steps),
        body,
        (start, carry, out_tas),
        parallel_iterations=_PARALLEL_ITERATIONS,
        maximum_iterations=num_steps,  # a bound lets XLA (jit_compile=True) compile the loop
    )
    return carry, [ta.stack() for ta in out_tas]


def states_before(first: tf.Tensor, states: tf.Tensor) -> tf.Tensor:
    """``[first, states[0], ..., states[T-2]]``: the state each step started from."""
    return tf.concat([first[None], states[:-1]], 0)


def _zeros_for_none(grads, values):
    return [tf.zeros_like(v) if g is None else g for g, v in zip(grads, values)]


def flat_matmul(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """``sum_t a[t]^T @ b[t]`` as one matmul: ``[T, B, m], [T, B, n] -> [m, n]``."""
    return tf.matmul(tf.reshape(a, [-1, a.shape[-1]]), tf.reshape(b, [-1, b.shape[-1]]), transpose_a=True)


def zero_finished(finished: tf.Tensor | None, values: tf.Tensor) -> tf.Tensor:
    """``values [T, B, n]`` with the skipped steps zeroed: done once for the whole
    sequence after a loop, not per step inside it."""
    return values if finished is None else tf.where(finished, tf.zeros_like(values), values)


def scan_inputs(finished: tf.Tensor | None, sequences: Sequence[tf.Tensor]) -> list:
    """The scan inputs: ``sequences`` plus the ``finished`` mask when there is one."""
    return list(sequences) + ([] if finished is None else [finished])


def fused_op(forward: Callable, backward: Callable, inputs: tuple, consts: tuple) -> Any:
    """``forward(*inputs, *consts) -> (outputs, saved)`` as one differentiable op whose
    gradient w.r.t. ``inputs`` is the hand-written ``backward(d_outputs, inputs, saved, *consts)``
    (``consts``: the ``finished`` mask and such, no gradient)."""

    @tf.custom_gradient
    def op(*inputs):
        outputs, saved = forward(*inputs, *consts)

        def grad(*d_outputs):
            return backward(tuple(_zeros_for_none(d_outputs, outputs)), inputs, saved, *consts)

        return outputs, grad

    return op(*inputs)


def lstm_sequence(xw: tf.Tensor, c0: tf.Tensor, h0: tf.Tensor, w_h: tf.Tensor, finished: tf.Tensor | None = None,
                  h_mask: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """TF1's LSTM over a sequence: ``xw [T, B, 4h]`` is ``x @ W_x + bias`` with
    ``forget_bias`` already added to the ``f`` block. Returns ``(outputs, c_T, h_T)``.

    ``h_mask`` (optional ``[1, h]``): ``DropoutWrapper``'s variational state dropout, the
    state ``h`` carried to the next step (and returned) is ``h * h_mask``, the output is ``h``.
    """
    outputs, c_last, h_last = fused_op(_lstm_forward, _lstm_backward, (xw, c0, h0, w_h), (finished, h_mask))
    outputs.set_shape(xw.shape[:2].concatenate(h0.shape[-1:]))
    return outputs, c_last, h_last


def _lstm_forward(xw, c0, h0, w_h, finished, h_mask):
    keep_h_states = finished is not None or h_mask is not None  # else the carried h is the output h

    def step(carry, slices):
        c_prev, h_prev = carry
        z = slices[0] + tf.matmul(h_prev, w_h)
        s = tf.sigmoid(z)
        i, _, f, o = tf.split(s, 4, axis=1)  # input gate, (new input), forget gate, output gate
        j = tf.tanh(tf.split(z, 4, axis=1)[1])
        c = f * c_prev + i * j
        h = o * tf.tanh(c)
        h_state = h if h_mask is None else h * h_mask  # the state dropout of a DropoutWrapper
        if finished is not None:  # finished rows carry their state
            c = tf.where(slices[1], c_prev, c)
            h_state = tf.where(slices[1], h_prev, h_state)
        return (c, h_state), (h, c, s, j) + ((h_state,) if keep_h_states else ())

    (c_last, h_last), seqs = scan(step, scan_inputs(finished, [xw]), (c0, h0), 5 if keep_h_states else 4)
    h_states = seqs[4] if keep_h_states else seqs[0]
    return (zero_finished(finished, seqs[0]), c_last, h_last), (seqs[1], seqs[2], seqs[3], h_states)


def _lstm_backward(d_outputs, inputs, saved, finished, h_mask):
    d_outputs, d_c_last, d_h_last = d_outputs
    _, c0, h0, w_h = inputs
    c_states, sig, j_all, h_states = saved
    i, _, f, o = tf.split(sig, 4, axis=2)
    tanh_c = tf.tanh(c_states)
    # Per step: dh = dh_next + dy, dc = dc_next + dh * a_c,
    # dz = [dc * a_i, dc * a_j, dc * a_f, dh * a_o], dh_prev = dz @ W_h^T, dc_prev = dc * f;
    # the a_* do not depend on the gradient, so they are computed for all steps at once.
    a_ijfo = tf.concat([j_all * i * (1 - i), i * (1 - j_all * j_all), states_before(c0, c_states) * f * (1 - f),
                        tanh_c * o * (1 - o)], 2)
    a_cf = tf.concat([o * (1 - tanh_c * tanh_c), f], 2)
    w_h_t = tf.transpose(w_h)

    def back(carry, slices):
        dc, dh = carry
        dy, a, a_c_f = slices[:3]
        dh_total = dy + (dh if h_mask is None else dh * h_mask)
        a_c, f_t = tf.split(a_c_f, 2, axis=1)
        dc_total = dc + dh_total * a_c
        dz = tf.concat([dc_total, dc_total, dc_total, dh_total], 1) * a
        dc_prev, dh_prev = dc_total * f_t, tf.matmul(dz, w_h_t)
        if finished is None:
            return (dc_prev, dh_prev), (dz,)
        done = slices[3]  # a skipped step passes the gradient through; its dz is zeroed after the loop
        return (tf.where(done, dc, dc_prev), tf.where(done, dh, dh_prev)), (dz,)

    sequences = scan_inputs(finished, [d_outputs, a_ijfo, a_cf])
    (dc0, dh0), (dz,) = scan(back, sequences, (d_c_last, d_h_last), 1, reverse=True)
    dz = zero_finished(finished, dz)
    return dz, dc0, dh0, flat_matmul(states_before(h0, h_states), dz)


def gru_sequence(xw: tf.Tensor, h0: tf.Tensor, w_gates_h: tf.Tensor, w_candidate_h: tf.Tensor,
                 finished: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """TF1's GRU over a sequence: ``xw [T, B, 3h]`` is ``x @ [W_gates_x, W_candidate_x]
    + [gates_bias, candidate_bias]``. Returns ``(outputs, h_T)``."""
    outputs, h_last = fused_op(_gru_forward, _gru_backward, (xw, h0, w_gates_h, w_candidate_h), (finished,))
    outputs.set_shape(xw.shape[:2].concatenate(h0.shape[-1:]))
    return outputs, h_last


def _gru_forward(xw, h0, w_gates_h, w_candidate_h, finished):
    n = h0.shape[-1]

    def step(h_prev, slices):
        x_gates, x_candidate = tf.split(slices[0], [2 * n, n], axis=1)
        ru = tf.sigmoid(x_gates + tf.matmul(h_prev, w_gates_h))
        r, u = tf.split(ru, 2, axis=1)  # reset gate, update gate
        candidate = tf.tanh(x_candidate + tf.matmul(r * h_prev, w_candidate_h))
        h = u * h_prev + (1 - u) * candidate
        if finished is None:
            return h, (h, ru, candidate)
        h_state = tf.where(slices[1], h_prev, h)  # finished rows carry their state
        return h_state, (h, ru, candidate, h_state)

    h_last, seqs = scan(step, scan_inputs(finished, [xw]), h0, 3 if finished is None else 4)
    h_states = seqs[0] if finished is None else seqs[3]
    return (zero_finished(finished, seqs[0]), h_last), (seqs[1], seqs[2], h_states)


def _gru_backward(d_outputs, inputs, saved, finished):
    d_outputs, d_h_last = d_outputs
    _, h0, w_gates_h, w_candidate_h = inputs
    ru_all, cand_all, h_states = saved
    h_prev = states_before(h0, h_states)
    r, u = tf.split(ru_all, 2, axis=2)
    # Per step: dzc = dh * (1-u)(1-c^2), d(r*h) = dzc @ Wc^T,
    # dzg = [d(r*h) * h * r(1-r), dh * (h-c) * u(1-u)], dh_prev = dh*u + d(r*h)*r + dzg @ Wg^T.
    a = tf.concat([(h_prev - cand_all) * u * (1 - u), (1 - u) * (1 - cand_all * cand_all),
                   u, r, h_prev * r * (1 - r)], 2)
    w_gates_t, w_candidate_t = tf.transpose(w_gates_h), tf.transpose(w_candidate_h)

    def back(dh, slices):
        dy, a_t = slices[:2]
        dh_total = dh + dy
        a_u, a_c, u_t, r_t, a_r = tf.split(a_t, 5, axis=1)
        dzc = dh_total * a_c
        d_rh = tf.matmul(dzc, w_candidate_t)
        dzg = tf.concat([d_rh * a_r, dh_total * a_u], 1)
        dh_prev = dh_total * u_t + d_rh * r_t + tf.matmul(dzg, w_gates_t)
        if finished is None:
            return dh_prev, (dzg, dzc)
        return tf.where(slices[2], dh, dh_prev), (dzg, dzc)  # dzg, dzc zeroed after the loop

    dh0, (dzg, dzc) = scan(back, scan_inputs(finished, [d_outputs, a]), d_h_last, 2, reverse=True)
    dzg, dzc = zero_finished(finished, dzg), zero_finished(finished, dzc)
    d_w_gates = flat_matmul(h_prev, dzg)
    d_w_candidate = flat_matmul(r * h_prev, dzc)
    return tf.concat([dzg, dzc], 2), dh0, d_w_gates, d_w_candidate


def rnn_sequence(xw: tf.Tensor, h0: tf.Tensor, w_h: tf.Tensor,
                 finished: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """TF1's BasicRNNCell over a sequence: ``h' = tanh(xw_t + h @ w_h)``; ``(outputs, h_T)``."""
    outputs, h_last = fused_op(_rnn_forward, _rnn_backward, (xw, h0, w_h), (finished,))
    outputs.set_shape(xw.shape)
    return outputs, h_last


def _rnn_forward(xw, h0, w_h, finished):
    def step(h_prev, slices):
        h = tf.tanh(slices[0] + tf.matmul(h_prev, w_h))
        if finished is None:
            return h, (h,)
        h_state = tf.where(slices[1], h_prev, h)  # finished rows carry their state
        return h_state, (h, h_state)

    h_last, seqs = scan(step, scan_inputs(finished, [xw]), h0, 1 if finished is None else 2)
    h_new = seqs[0]
    h_states = h_new if finished is None else seqs[1]
    return (zero_finished(finished, h_new), h_last), (h_new, h_states)


def _rnn_backward(d_outputs, inputs, saved, finished):
    d_outputs, d_h_last = d_outputs
    _, h0, w_h = inputs
    h_new, h_states = saved
    w_h_t = tf.transpose(w_h)

    def back(dh, slices):
        dy, a = slices[:2]
        dz = (dh + dy) * a
        if finished is None:
            return tf.matmul(dz, w_h_t), (dz,)
        return tf.where(slices[2], dh, tf.matmul(dz, w_h_t)), (dz,)  # dz zeroed after the loop

    dh0, (dz,) = scan(back, scan_inputs(finished, [d_outputs, 1 - h_new * h_new]), d_h_last, 1, reverse=True)
    dz = zero_finished(finished, dz)
    return dz, dh0, flat_matmul(states_before(h0, h_states), dz)
