"""NumPy reference of TF1 contrib's frequency LSTMs (``TimeFreqLSTMCell``, ``GridLSTMCell``,
``BidirectionalGridLSTMCell``), written from their math, independent of TF/Keras.

Weights are a dict keyed by TF1 relative names without the cell's scope (``W_0``, ``W_f_0_0``,
``fwd/W_I_diag_freqt_1``, ...); which options run follows the weights: peepholes when their
``W_*_diag_*`` weights are there, shared time/frequency weights when ``W_t_<b>_0`` is missing, coupled
gates when a kernel has 3 gate columns per unit. Every step is ``step(x, state, w, **layout) ->
(output, new_state)`` with contrib's state layout (a flat tuple of ``c, m`` arrays, or one array).
"""

import numpy as np
from numpy_ref import sigmoid


def window(x, begin, width):
    """Columns ``begin .. begin + width - 1`` of ``x``; a column outside ``x`` reads zeros."""
    out = np.zeros((x.shape[0], width), x.dtype)
    for q in range(width):
        if 0 <= begin + q < x.shape[1]:
            out[:, q] = x[:, begin + q]
    return out


def _clip(c, cell_clip):
    return c if cell_clip is None else np.clip(c, -cell_clip, cell_clip)


def time_freq_step(x, state, w, feature_size, frequency_skip, forget_bias=1.0, cell_clip=None):
    """TimeFreqLSTMCell: one LSTM along the windows; window ``k`` keeps ``state[:, 2kn:(2k+2)n]``."""
    n = w["B"].shape[0] // 4
    count = (x.shape[1] - feature_size) // frequency_skip + 1
    m_below = np.zeros((x.shape[0], n), x.dtype)
    outputs, states = [], []
    for k in range(count):
        c, m = state[:, 2 * k * n : (2 * k + 1) * n], state[:, (2 * k + 1) * n : (2 * k + 2) * n]
        z = np.concatenate([window(x, k * frequency_skip, feature_size), m, m_below], 1) @ w["W_0"] + w["B"]
        i, j, f, o = np.split(z, 4, axis=1)
        if "W_F_diag" in w:
            f, i = f + w["W_F_diag"] * c, i + w["W_I_diag"] * c
        c = _clip(sigmoid(f + forget_bias) * c + sigmoid(i) * np.tanh(j), cell_clip)
        if "W_O_diag" in w:
            o = o + w["W_O_diag"] * c
        m_below = sigmoid(o) * np.tanh(c)
        outputs.append(m_below)
        states += [c, m_below]
    return np.concatenate(outputs, 1), np.concatenate(states, 1)


def _grid_block(windows, previous, w, prefix, b, forget_bias, cell_clip):
    """One block of one grid: ``(outputs [m_t, m_f] per window, states [c_t, m_t] per window)``."""
    kernel_f = w[f"{prefix}W_f_{b}_0"]
    n = (kernel_f.shape[0] - windows[0].shape[1]) // 2
    coupled = kernel_f.shape[1] == 3 * n
    shared = f"{prefix}W_t_{b}_0" not in w
    peepholes = f"{prefix}W_I_diag_freqf_{b}" in w
    time_lstm, time_axis = ("f", "freq") if shared else ("t", "time")

    def gates(z, lstm):
        parts = np.split(z @ w[f"{prefix}W_{lstm}_{b}_0"] + w[f"{prefix}B_{lstm}_{b}"], 3 if coupled else 4, axis=1)
        return (parts[0], parts[1], None, parts[2]) if coupled else tuple(parts)

    def peep(gate, axis, c_f, c_t):
        if not peepholes:
            return 0.0
        return w[f"{prefix}W_{gate}_diag_{axis}f_{b}"] * c_f + w[f"{prefix}W_{gate}_diag_{axis}t_{b}"] * c_t

    c_f = m_f = np.zeros((windows[0].shape[0], n), windows[0].dtype)
    outputs, states = [], []
    for x_k, (c_t, m_t) in zip(windows, previous):
        z = np.concatenate([x_k, m_t, m_f], 1)
        new_c = []
        for (i, j, f, _), axis, c_own in ((gates(z, "f"), "freq", c_f), (gates(z, time_lstm), time_axis, c_t)):
            i = sigmoid(i + peep("I", axis, c_f, c_t))
            f = 1.0 - i if coupled else sigmoid(f + forget_bias + peep("F", axis, c_f, c_t))
            new_c.append(_clip(f * c_own + i * np.tanh(j), cell_clip))
        c_f, c_t = new_c
        m_f = sigmoid(gates(z, "f")[3] + peep("O", "freq", c_f, c_t)) * np.tanh(c_f)
        m_t = sigmoid(gates(z, time_lstm)[3] + peep("O", time_axis, c_f, c_t)) * np.tanh(c_t)
        outputs += [m_t, m_f]
        states += [c_t, m_t]
    return outputs, states


def grid_step(x, state, w, feature_size, frequency_skip, blocks, forget_bias=1.0, cell_clip=None,
              backward_slice_offset=None):
    """GridLSTMCell (``backward_slice_offset=None``) or BidirectionalGridLSTMCell (an int: grids ``fwd/``
    then ``bwd/``, the second over each block's windows reversed and shifted). ``blocks`` is
    ``[(first column, number of windows), ...]``. A concatenated ``state`` (one array) is read at the
    columns of each window's index in its block, as contrib did."""
    grids = [("", 0, False)] if backward_slice_offset is None else [("fwd/", 0, False),
                                                                    ("bwd/", backward_slice_offset, True)]
    tuple_state = isinstance(state, tuple)
    outputs, states, index = [], [], 0
    for prefix, offset, reverse in grids:
        for b, (start, count) in enumerate(blocks):
            windows = [window(x, start + offset + k * frequency_skip, feature_size) for k in range(count)]
            if reverse:
                windows = windows[::-1]
            if tuple_state:
                previous = [(state[2 * (index + k)], state[2 * (index + k) + 1]) for k in range(count)]
            else:
                n = (w[f"W_f_{b}_0"].shape[0] - feature_size) // 2
                previous = [(state[:, 2 * k * n : (2 * k + 1) * n], state[:, (2 * k + 1) * n : (2 * k + 2) * n])
                            for k in range(count)]
            block_outputs, block_states = _grid_block(windows, previous, w, prefix, b, forget_bias, cell_clip)
            outputs += block_outputs
            states += block_states
            index += count
    return np.concatenate(outputs, 1), (tuple(states) if tuple_state else np.concatenate(states, 1))
