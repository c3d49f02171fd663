"""NumPy reference of TF1's cell formulas (``rnn_cell_impl.py``), independent of TF/Keras.

Weights are passed as a dict keyed by TF1 relative names (``kernel``, ``bias``,
``w_f_diag``, ``projection/kernel``, ``gates/kernel``, ...), states as arrays
(LSTM: ``c``, ``h``). Gate order is TF1's ``i, j, f, o`` (LSTM) and ``r, u`` (GRU).
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def basic_rnn_step(x, h, w, activation=np.tanh):
    h = activation(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"])
    return h, h


def lstm_step(x, c, h, w, forget_bias=1.0, cell_clip=None, proj_clip=None, activation=np.tanh):
    """One LSTMCell/BasicLSTMCell step; peepholes/projection used when their weights are in ``w``."""
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"], 4, axis=1)
    peep = "w_f_diag" in w
    if peep:
        f, i = f + w["w_f_diag"] * c, i + w["w_i_diag"] * c
    c = sigmoid(f + forget_bias) * c + sigmoid(i) * activation(j)
    if cell_clip is not None:
        c = np.clip(c, -cell_clip, cell_clip)
    if peep:
        o = o + w["w_o_diag"] * c  # the output gate looks at the new c
    h = sigmoid(o) * activation(c)
    if "projection/kernel" in w:
        h = h @ w["projection/kernel"]
        if proj_clip is not None:
            h = np.clip(h, -proj_clip, proj_clip)
    return h, (c, h)


def gru_step(x, h, w, activation=np.tanh):
    gates = sigmoid(np.concatenate([x, h], 1) @ w["gates/kernel"] + w["gates/bias"])
    r, u = np.split(gates, 2, axis=1)  # reset, update
    cand = activation(np.concatenate([x, r * h], 1) @ w["candidate/kernel"] + w["candidate/bias"])
    h = u * h + (1 - u) * cand
    return h, h


def dynamic_rnn(step, x, state, sequence_length=None):
    """TF1 ``dynamic_rnn`` over batch-major ``x`` ``[batch, time, ...]`` (or a tuple of such, a
    ``PhasedLSTMCell``'s ``(times, features)``) with ``step(x_t, state)``.

    Past a row's ``sequence_length`` the output is zeros and the state is carried unchanged.
    """
    parts = x if isinstance(x, tuple) else (x,)
    batch, time = parts[0].shape[:2]
    lengths = np.full([batch], time) if sequence_length is None else np.asarray(sequence_length)

    def where_alive(t, new, old):  # rows past their length keep ``old``; any rank
        return np.where((t < lengths).reshape((batch,) + (1,) * (np.ndim(new) - 1)), new, old)

    outputs = []
    for t in range(time):
        out, new_state = step(tuple(p[:, t] for p in parts) if isinstance(x, tuple) else x[:, t], state)
        outputs.append(where_alive(t, out, 0.0))
        state = tuple_map(lambda old, new, t=t: where_alive(t, new, old), state, new_state)
    return np.stack(outputs, 1), state


def tuple_map(fn, a, b):
    if isinstance(a, tuple):
        return tuple(tuple_map(fn, x, y) for x, y in zip(a, b))
    return fn(a, b)
