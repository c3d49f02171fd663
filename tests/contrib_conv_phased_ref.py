"""NumPy reference of TF1 contrib's ``ConvLSTMCell`` (1-3 D), ``PhasedLSTMCell`` and
``WeightNormLSTMCell``, written from their equations, independent of TF/Keras.

Weights are a dict keyed by TF1 relative names without the cell's scope (``kernel``, ``biases``,
``mask_gates/kernel``, ``period``, ``norm_0``, ``projection/kernel``, ...); every step is
``step(x, state, w, **options) -> (output, new_state)`` with contrib's state layout (a ``(c, h)``
tuple); ``numpy_ref.dynamic_rnn`` runs a step over sequences of any rank, or over a tuple of them.
"""

import itertools

import numpy as np
from numpy_ref import sigmoid


def conv_same(x, kernel):
    """Stride-1 convolution with TensorFlow's "SAME" padding (an odd total puts the extra zero at the
    end): ``x`` ``[batch, *spatial, c_in]``, ``kernel`` ``[*window, c_in, c_out]``."""
    window = kernel.shape[:-2]
    spatial = x.shape[1:-1]
    pads = [(0, 0)] + [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in window] + [(0, 0)]
    padded = np.pad(x, pads)
    out = np.zeros((x.shape[0], *spatial, kernel.shape[-1]), np.result_type(x, kernel))
    for offset in itertools.product(*(range(k) for k in window)):
        patch = padded[(slice(None), *(slice(o, o + n) for o, n in zip(offset, spatial)), slice(None))]
        out += patch @ kernel[offset]  # [batch, *spatial, c_in] @ [c_in, c_out]
    return out


def conv_lstm_step(x, state, w, forget_bias=1.0, skip_connection=False):
    c, h = state
    z = conv_same(np.concatenate([x, h], -1), w["kernel"]) + w.get("biases", 0.0)
    i, j, f, o = np.split(z, 4, axis=-1)
    c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
    h = np.tanh(c) * sigmoid(o)
    if skip_connection:
        h = np.concatenate([h, x], -1)
    return h, (c, h)


def phased_lstm_step(inputs, state, w, leak=0.001, use_peepholes=False):
    t, x = inputs
    c, h = state
    xh = np.concatenate([x, h], 1)
    gate_in = np.concatenate([xh, c], 1) if use_peepholes else xh
    i, f = np.split(sigmoid(gate_in @ w["mask_gates/kernel"] + w["mask_gates/bias"]), 2, axis=1)
    c_new = f * c + i * np.tanh(xh @ w["new_input/kernel"] + w["new_input/bias"])
    out_in = np.concatenate([xh, c_new], 1) if use_peepholes else xh
    h_new = np.tanh(c_new) * sigmoid(out_in @ w["output_gate/kernel"] + w["output_gate/bias"])
    ratio = np.mod(t - w["phase"], w["period"]) / w["period"]  # [batch, n], in [0, 1)
    r_on = w["ratio_on"]
    k = np.where(ratio < 0.5 * r_on, 2 * ratio / r_on, np.where(ratio < r_on, 2 - 2 * ratio / r_on, leak * ratio))
    c_new = k * c_new + (1 - k) * c
    h_new = k * h_new + (1 - k) * h
    return h_new, (c_new, h_new)


def _l2n(v):
    return v / np.sqrt(np.maximum((v**2).sum(0, keepdims=True), 1e-12))


def weight_norm_lstm_step(x, state, w, forget_bias=1.0, cell_clip=None, proj_clip=None, activation=np.tanh):
    """Peepholes, gains and projection used when their weights are in ``w``."""
    c, m = state
    kernel = w["kernel"]
    if "norm_0" in w:
        d = x.shape[1]
        kernel = np.concatenate([_l2n(kernel[:d]) * w["norm_0"], _l2n(kernel[d:]) * w["norm_1"]], 0)
    i, j, f, o = np.split(np.concatenate([x, m], 1) @ kernel + w["bias"], 4, axis=1)
    peep = "w_f_diag" in w
    if peep:
        f, i = f + w["w_f_diag"] * c, i + w["w_i_diag"] * c
    c = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j)
    if cell_clip is not None:
        c = np.clip(c, -cell_clip, cell_clip)
    if peep:
        o = o + w["w_o_diag"] * c
    m = sigmoid(o) * activation(c)
    if "projection/kernel" in w:
        p = w["projection/kernel"]
        if "projection/norm_0" in w:
            p = _l2n(p) * w["projection/norm_0"]
        m = m @ p
        if proj_clip is not None:
            m = np.clip(m, -proj_clip, proj_clip)
    return m, (c, m)


