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
    x_bar, f, r = np.split(x @ w["kernel"], 3, axis=1)
    f, r = np.split(sigmoid(np.concatenate([f, r], 1) + w["bias"]), 2, axis=1)
    c = f * c + (1.0 - f) * x_bar
    return r * activation(c) + (1.0 - r) * x, c


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
