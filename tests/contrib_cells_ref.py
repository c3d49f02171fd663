"""NumPy reference of TF1 contrib's small cells (``tf.contrib.rnn``), written from their documented
math, independent of TF/Keras. Weights are a dict keyed by TF1 relative names without the cell's
scope (``kernel_w``, ``gates/kernel_u``, ``W_0``, ...); every step is ``step(x, state, w, **options)
-> (output, new_state)`` with contrib's state layout (LSTM-like: a ``(c, h)`` tuple)."""

import numpy as np
from numpy_ref import sigmoid


def relu(z):
    return np.maximum(z, 0.0)


def layer_norm(v, gamma, beta):
    mean = v.mean(1, keepdims=True)
    var = ((v - mean) ** 2).mean(1, keepdims=True)
    return (v - mean) / np.sqrt(var + 1e-12) * gamma + beta


def sru_step(x, c, w, activation=np.tanh):
    x_bar, f, r, x_highway = np.split(x @ w["kernel"], 4, axis=1)
    f, r = np.split(sigmoid(np.concatenate([f, r], 1) + w["bias"]), 2, axis=1)
    c = f * c + (1.0 - f) * x_bar
    return r * activation(c) + (1.0 - r) * x_highway, c


def ind_rnn_step(x, h, w, activation=np.tanh):
    h = activation(x @ w["kernel_w"] + h * w["kernel_u"] + w["bias"])
    return h, h


def indy_gru_step(x, h, w, activation=np.tanh):
    gates = sigmoid(x @ w["gates/kernel_w"] + np.concatenate([h, h], 1) * w["gates/kernel_u"] + w["gates/bias"])
    r, u = np.split(gates, 2, axis=1)
    cand = activation(x @ w["candidate/kernel"] + r * h * w["candidate/kernel_u"] + w["candidate/bias"])
    h = u * h + (1 - u) * cand
    return h, h


def indy_lstm_step(x, state, w, forget_bias=1.0, activation=np.tanh):
    c, h = state
    i, j, f, o = np.split(x @ w["kernel_w"] + np.tile(h, [1, 4]) * w["kernel_u"] + w["bias"], 4, axis=1)
    c = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j)
    h = activation(c) * sigmoid(o)
    return h, (c, h)


def ugrnn_step(x, s, w, forget_bias=1.0, activation=np.tanh):
    g, c = np.split(np.concatenate([x, s], 1) @ w["kernel"] + w["bias"], 2, axis=1)
    g = sigmoid(g + forget_bias)
    s = g * s + (1.0 - g) * activation(c)
    return s, s


def intersection_rnn_step(x, s, w, forget_bias=1.0, y_activation=relu):
    if "in_projection/kernel" in w:
        x = x @ w["in_projection/kernel"] + w["in_projection/bias"]
    gh, hc, gy, yc = np.split(np.concatenate([x, s], 1) @ w["kernel"] + w["bias"], 4, axis=1)
    gh, gy = sigmoid(gh + forget_bias), sigmoid(gy + forget_bias)
    s = gh * s + (1.0 - gh) * np.tanh(hc)
    return gy * x + (1.0 - gy) * y_activation(yc), s


def cifg_step(x, state, w, forget_bias=1.0, proj_clip=None, state_is_tuple=True, activation=np.tanh):
    """CoupledInputForgetGateLSTMCell; peepholes, projection and layer norm when their weights are in ``w``."""
    n = w["W_0"].shape[1] // 3
    c, m = state if state_is_tuple else (state[:, :n], state[:, n:])
    norm = "transform/gamma" in w
    z = np.concatenate([x, m], 1) @ w["W_0"] + (0.0 if norm else w["B"])
    j, f, o = np.split(z, 3, axis=1)
    if norm:
        j, f, o = (layer_norm(v, w[f"{s}/gamma"], w[f"{s}/beta"]) for v, s in zip((j, f, o), ("transform", "forget", "output")))
    f = f + forget_bias + (w["W_F_diag"] * c if "W_F_diag" in w else 0.0)
    f = sigmoid(f)
    c = f * c + (1 - f) * activation(j)
    if norm:
        c = layer_norm(c, w["state/gamma"], w["state/beta"])
    if "W_O_diag" in w:
        o = o + w["W_O_diag"] * c
    m = sigmoid(o) * activation(c)
    if "W_P_0" in w:
        m = m @ w["W_P_0"]
        if proj_clip is not None:
            m = np.clip(m, -proj_clip, proj_clip)
    return m, ((c, m) if state_is_tuple else np.concatenate([c, m], 1))


def _flatten(state):
    if isinstance(state, tuple):
        return [leaf for part in state for leaf in _flatten(part)]
    return [state]


def highway_step(x, state, w, inner, coupled=True):
    """HighwayWrapper around ``inner(x, state, w)``; ``w`` holds ``carry_w``, ``carry_b`` (and the
    ``transform_*`` weights when not ``coupled``) next to the inner cell's."""
    y, state = inner(x, state, w)
    carry = sigmoid(x @ w["carry_w"] + w["carry_b"])
    transform = 1.0 - carry if coupled else sigmoid(x @ w["transform_w"] + w["transform_b"])
    return x * carry + y * transform, state


def attention_step(x, state, w, inner, attn_length, state_is_tuple=True, cell_state_size=None):
    """AttentionCellWrapper around ``inner(x, cell_state, w)``; ``w`` keyed by names under
    ``attention_cell_wrapper/``. State ``(cell_state, attns, attn_states)`` or its concatenation."""
    p = "attention_cell_wrapper/"
    a = w[p + "attn_output_projection/bias"].shape[0]
    if state_is_tuple:
        cell_state, attns, attn_states = state
    else:
        n = cell_state_size
        cell_state, attns, attn_states = state[:, :n], state[:, n : n + a], state[:, n + a :]
    window = attn_states.reshape(-1, attn_length, a)
    x = np.concatenate([x, attns], 1) @ w[p + "kernel"] + w[p + "bias"]
    y, cell_state = inner(x, cell_state, w)
    q = np.concatenate(_flatten(cell_state), 1) @ w[p + "attention/kernel"] + w[p + "attention/bias"]
    features = window @ w[p + "attention/attn_w"][0, 0]  # [b, L, V]
    scores = np.sum(w[p + "attention/attn_v"] * np.tanh(features + q[:, None, :]), 2)
    weights = np.exp(scores - scores.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    attns = np.sum(weights[:, :, None] * window, 1)
    out = np.concatenate([y, attns], 1) @ w[p + "attn_output_projection/kernel"] + w[p + "attn_output_projection/bias"]
    window = np.concatenate([window[:, 1:], out[:, None, :]], 1).reshape(-1, attn_length * a)
    if state_is_tuple:
        return out, (cell_state, attns, window)
    return out, np.concatenate([cell_state, attns, window], 1)


def _norm_no_center(v, gamma):
    return layer_norm(v, gamma, 0.0)


def layer_norm_lstm_step(x, state, w, forget_bias=1.0, cell_clip=None, proj_clip=None, activation=np.tanh):
    """contrib's LayerNormLSTMCell; which norms, peepholes and projection run follows the weights in ``w``."""
    c, m = state
    if "0/gamma" in w:  # layer_norm without columns: a norm per product, then the bias
        depth = x.shape[1]
        z = _norm_no_center(x @ w["kernel"][:depth], w["0/gamma"]) + _norm_no_center(m @ w["kernel"][depth:], w["1/gamma"])
    else:
        z = np.concatenate([x, m], 1) @ w["kernel"]
    if "bias" in w:
        z = z + w["bias"]
    i, j, f, o = np.split(z, 4, axis=1)
    if "input/gamma" in w:
        i, j, f, o = (layer_norm(v, w[f"{k}/gamma"], w[f"{k}/beta"])
                      for v, k in zip((i, j, f, o), ("input", "transform", "forget", "output")))
    if "w_f_diag" in w:
        f, i = f + w["w_f_diag"] * c, i + w["w_i_diag"] * c
    c = sigmoid(f + forget_bias) * c + sigmoid(i) * activation(j)
    if "state/gamma" in w:
        c = layer_norm(c, w["state/gamma"], w["state/beta"])
    if cell_clip is not None:
        c = np.clip(c, -cell_clip, cell_clip)
    if "w_o_diag" in w:
        o = o + w["w_o_diag"] * c
    m = sigmoid(o) * activation(c)
    if "projection/kernel" in w:
        m = m @ w["projection/kernel"]
        if "projection/0/gamma" in w:
            m = _norm_no_center(m, w["projection/0/gamma"])
        if proj_clip is not None:
            m = np.clip(m, -proj_clip, proj_clip)
    return m, (c, m)


def glstm_step(x, state, w, groups=1, forget_bias=1.0, activation=np.tanh):
    """contrib's GLSTMCell: group ``g`` reads the ``g``-th slices of ``x`` and ``m`` with ``group<g>/kernel``."""
    c, m = state
    xs, ms = np.split(x, groups, axis=1), np.split(m, groups, axis=1)
    parts = [np.split(np.concatenate([xs[g], ms[g]], 1) @ w[f"group{g}/kernel"], 4, axis=1) for g in range(groups)]
    i, j, f, o = (np.concatenate([p[k] for p in parts], 1) + w[f"bias_{gate}"] for k, gate in enumerate("ijfo"))
    c = sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j)
    m = sigmoid(o) * activation(c)
    if "projection/kernel" in w:
        m = m @ w["projection/kernel"]
    return m, (c, m)
