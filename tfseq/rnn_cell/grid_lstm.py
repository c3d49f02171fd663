"""TF1 contrib's ``GridLSTMCell`` (Kalchbrenner et al. 2016, "Grid Long Short-Term Memory"; peepholes
after Sainath & Li 2016), with contrib's arguments, math, state layout and variable names; it runs per
step (no fused kernel). ``BidirectionalGridLSTMCell`` (its own module) runs two of its grids.

Each step's input ``x`` ``[batch, depth]`` is a frequency axis cut into blocks of windows of
``feature_size`` columns, one window every ``frequency_skip`` columns. Without
``start_freqindex_list`` there is one block, starting at column 0, of ``num_frequency_blocks[0]``
windows (which must be all that fit in ``depth``); with it, block ``b`` starts at
``start_freqindex_list[b]`` and holds the ``num_frequency_blocks[b]`` windows that fit before
``end_freqindex_list[b]``. Each block has weights of its own (suffix ``_<b>``).

In a block, two LSTMs share every window ``x_k``: a T-LSTM whose state ``(c_k, m_k)`` is window
``k``'s from the previous step, and an F-LSTM whose state ``(c_freq, m_freq)`` comes from window
``k - 1`` of this step (zeros for ``k = 0``)::

    z = [x_k, m_k, m_freq]
    iF, jF, fF, oF = split(z @ W_f_<b>_0 + B_f_<b>, 4)    # input gate, new input, forget gate, output gate
    iT, jT, fT, oT = split(z @ W_t_<b>_0 + B_t_<b>, 4)    # (the F-LSTM's with share_time_frequency_weights)
    iF = sigmoid(iF (+ W_I_diag_freqf_<b> * c_freq + W_I_diag_freqt_<b> * c_k))
    fF = sigmoid(fF + forget_bias (+ W_F_diag_freqf_<b> * c_freq + W_F_diag_freqt_<b> * c_k))
    iT, fT: the same with the W_*_diag_time{f,t}_<b> peepholes (the freq ones when shared)
    c_freq' = clip(fF * c_freq + iF * tanh(jF));    c_k' = clip(fT * c_k + iT * tanh(jT))
    m_freq' = sigmoid(oF (+ W_O_diag_freqf_<b> * c_freq' + W_O_diag_freqt_<b> * c_k')) * tanh(c_freq')
    m_k'    = sigmoid(oT (+ W_O_diag_timef_<b> * c_freq' + W_O_diag_timet_<b> * c_k')) * tanh(c_k')

With ``couple_input_forget_gates`` there is no ``f`` (``split(.., 3)`` gives ``i, j, o``) and the
forget gate is ``1 - i``. ``clip`` is to ``[-cell_clip, cell_clip]`` when ``cell_clip`` is set.

The output is ``concat(m_0', m_freq'_0, m_1', m_freq'_1, ..)`` over the windows of every block; the
state, per window, ``(c_k', m_k')``: a namedtuple with fields ``state_f<k>_b<b>_c``,
``state_f<k>_b<b>_m`` (``cell.state_tuple_type``), or their concatenation with
``state_is_tuple=False``.
"""

import collections
import functools
import numbers
import warnings
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_optional_nonnegative, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import RNNCell, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.cifg_cell import _check_shards
from tfseq.rnn_cell.contrib_cells import add_scoped_weight
from tfseq.rnn_cell.time_freq_lstm import fresh_initializer, window_count


@functools.lru_cache(maxsize=None)
def _state_tuple_type(type_name: str, fields: tuple[str, ...]) -> type:
    """One namedtuple class per layout, so equal cells give states of the same type."""
    return collections.namedtuple(type_name, fields)


def _int_list(owner: str, name: str, value: Any, minimum: int) -> tuple[int, ...] | None:
    """None (or an empty list, as contrib read it), else a list of ints >= ``minimum``."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return None
    if not isinstance(value, (list, tuple)) or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum for v in value
    ):
        raise ValueError(f"{owner}: {name} must be a list of integers >= {minimum}, got {value!r}")
    return tuple(int(v) for v in value)


def _window_starts(owner: str, feature_size: int, skip: int, counts: Any, starts: Any, ends: Any) -> tuple:
    """Per block, the first column of each window; contrib's block arguments checked on the way."""
    counts = _int_list(owner, "num_frequency_blocks", counts, 1)
    if counts is None:
        raise ValueError(f"{owner}: num_frequency_blocks must be a non-empty list of positive integers, got None")
    starts = _int_list(owner, "start_freqindex_list", starts, 0)
    ends = _int_list(owner, "end_freqindex_list", ends, 0)
    if starts is None:
        if ends is not None:
            raise ValueError(f"{owner}: end_freqindex_list={list(ends)} needs start_freqindex_list")
        if len(counts) != 1:
            raise ValueError(f"{owner}: num_frequency_blocks={list(counts)} must have one entry without "
                             "start_freqindex_list")
        return (tuple(k * skip for k in range(counts[0])),)
    if ends is None or len(ends) != len(starts) or len(counts) != len(starts):
        raise ValueError(f"{owner}: start_freqindex_list={list(starts)}, end_freqindex_list="
                         f"{None if ends is None else list(ends)} and num_frequency_blocks={list(counts)} "
                         "must have the same length")
    for b, (start, end, count) in enumerate(zip(starts, ends, counts)):
        fits = window_count(end - start, feature_size, skip)
        if fits != count:
            raise ValueError(f"{owner}: num_frequency_blocks[{b}]={count}, but [{start}, {end}) holds {fits} "
                             f"window(s) of feature_size={feature_size} every frequency_skip={skip}")
    return tuple(tuple(start + k * skip for k in range(count)) for start, count in zip(starts, counts))


@keras.saving.register_keras_serializable(package="tfseq")
class GridLSTMCell(RNNCell):
    """TF1 contrib's ``GridLSTMCell(num_units, use_peepholes=False, share_time_frequency_weights=False,
    cell_clip=None, initializer=None, num_unit_shards=1, forget_bias=1.0, feature_size=None,
    frequency_skip=None, num_frequency_blocks=None, start_freqindex_list=None, end_freqindex_list=None,
    couple_input_forget_gates=False, state_is_tuple=True, reuse=None)`` (math in the module docstring).

    Args:
        num_units: int > 0, the size of every ``c`` and ``m``.
        use_peepholes: bool, the diagonal connections ``W_{F,I,O}_diag_{freq,time}{f,t}_<b>``.
        share_time_frequency_weights: bool, the T-LSTM uses the F-LSTM's weights and peepholes.
        cell_clip: None or number >= 0, clip of every new ``c``.
        initializer: of the kernels and peepholes (default: the TF1 variable scope's, else Glorot
            uniform). contrib stored this argument without using it.
        num_unit_shards: TF1's variable sharding; accepted as 1 (or None).
        forget_bias: number added to the forget gates at every step.
        feature_size: int > 0, the width of a window (required).
        frequency_skip: int > 0, the shift between two windows of a block (required).
        num_frequency_blocks: list of ints > 0, the number of windows of each block (required).
        start_freqindex_list, end_freqindex_list: None, or lists of ints >= 0: the column where
            each block starts, and the column its windows must end before.
        couple_input_forget_gates: bool, forget gate ``1 - i`` (three gates instead of four).
        state_is_tuple: True: a namedtuple of ``[batch, num_units]`` tensors; False: their
            concatenation. With several blocks and False, every block reads its previous state
            at the columns of its window index counted from 0, as contrib did (a warning says so).
        reuse: TF1 only; accepted as None.

    Call arguments:
        inputs: ``[batch, depth]``.
        states: structured like ``state_size`` (Keras' flat list is accepted too).

    Returns:
        ``(output, new_state)``: ``output`` ``[batch, 2 * num_units * W]`` for ``W`` windows in all.

    Weights (scope ``grid_lstm_cell``; contrib's sharded names with one shard), for each block
    ``b``: ``W_f_<b>_0`` ``[feature_size + 2 * num_units, G * num_units]`` and ``B_f_<b>`` ``[G *
    num_units]`` (zeros), ``G = 3`` with coupled gates else 4; unless shared, ``W_t_<b>_0`` and
    ``B_t_<b>``; with peepholes ``W_{F,I,O}_diag_freq{f,t}_<b>`` (and unless shared
    ``W_{F,I,O}_diag_time{f,t}_<b>``) ``[num_units]``, without the ``F`` ones when coupled.

    Raises:
        ValueError: a bad ``num_units``, ``cell_clip``, ``forget_bias``, ``feature_size``,
            ``frequency_skip``, block list (or block lists that disagree), a flag that is not a
            bool, sharding other than 1 or ``reuse``; at build, an input depth whose windows do
            not match ``num_frequency_blocks`` or that ends before a block's last window.

    Example:
        >>> cell = GridLSTMCell(8, feature_size=4, frequency_skip=2, num_frequency_blocks=[4])
        >>> outputs, state = tfseq.nn.dynamic_rnn(cell, tf.zeros([2, 5, 10]))  # outputs [2, 5, 64]
    """

    tf1_scope_name = "grid_lstm_cell"
    object_args = ("initializer",)
    directions = ("",)  # variable sub-scopes of the grids; the bidirectional cell has two
    state_type_name = "GridLSTMStateTuple"

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        share_time_frequency_weights: bool = False,
        cell_clip: float | None = None,
        initializer: keras.initializers.Initializer | str | None = None,
        num_unit_shards: int | None = 1,
        forget_bias: float = 1.0,
        feature_size: int | None = None,
        frequency_skip: int | None = None,
        num_frequency_blocks: list[int] | None = None,
        start_freqindex_list: list[int] | None = None,
        end_freqindex_list: list[int] | None = None,
        couple_input_forget_gates: bool = False,
        state_is_tuple: bool = True,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        _check_shards(owner, "num_unit_shards", num_unit_shards)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.use_peepholes = check_bool(owner, "use_peepholes", use_peepholes)
        self.share_time_frequency_weights = check_bool(owner, "share_time_frequency_weights",
                                                       share_time_frequency_weights)
        self.cell_clip = check_optional_nonnegative(owner, "cell_clip", cell_clip)
        self._initializer_arg = initializer
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.feature_size = check_positive_int(owner, "feature_size", feature_size)
        self.frequency_skip = check_positive_int(owner, "frequency_skip", frequency_skip)
        self.window_starts = _window_starts(owner, self.feature_size, self.frequency_skip, num_frequency_blocks,
                                            start_freqindex_list, end_freqindex_list)
        self.num_frequency_blocks = [len(starts) for starts in self.window_starts]
        self.start_freqindex_list = _int_list(owner, "start_freqindex_list", start_freqindex_list, 0)
        self.end_freqindex_list = _int_list(owner, "end_freqindex_list", end_freqindex_list, 0)
        self.couple_input_forget_gates = check_bool(owner, "couple_input_forget_gates", couple_input_forget_gates)
        self.state_is_tuple = check_bool(owner, "state_is_tuple", state_is_tuple)
        if not self.state_is_tuple and len(self.window_starts) > 1:
            warnings.warn(f"{owner}: with state_is_tuple=False every block reads its previous state from the "
                          "first block's columns, as contrib did; state_is_tuple=True keeps each block's own",
                          stacklevel=2)
        self.total_windows = sum(self.num_frequency_blocks)

    @property
    def state_tuple_type(self) -> type | None:
        """The namedtuple class of the state (contrib's ``state_tuple_type``); None for a concatenated one."""
        if not self.state_is_tuple:
            return None
        fields = [f"{d + '_' if d else ''}state_f{k:02d}_b{b:02d}_{part}" for d in self.directions
                  for b, starts in enumerate(self.window_starts) for k in range(len(starts)) for part in "cm"]
        return _state_tuple_type(self.state_type_name, tuple(fields))

    @property
    def state_size(self) -> Any:
        pairs = len(self.directions) * self.total_windows
        if not self.state_is_tuple:
            return 2 * self.num_units * pairs
        return self.state_tuple_type(*([self.num_units] * (2 * pairs)))

    @property
    def output_size(self) -> int:
        return 2 * self.num_units * self.total_windows * len(self.directions)

    def build(self, input_shape: tuple) -> None:
        depth, skip = self.input_depth(input_shape), self.frequency_skip
        if self.start_freqindex_list is None and window_count(depth, self.feature_size, skip) != self.total_windows:
            raise ValueError(f"{self.name}: input depth {depth} holds {window_count(depth, self.feature_size, skip)} "
                             f"window(s) of feature_size={self.feature_size} every frequency_skip={skip}, but "
                             f"num_frequency_blocks={self.num_frequency_blocks}")
        last_end = max(starts[-1] for starts in self.window_starts) + self.feature_size
        if last_end > depth:
            raise ValueError(f"{self.name}: input depth {depth} ends before the last window, which needs {last_end} "
                             f"columns (start_freqindex_list={list(self.start_freqindex_list)})")
        self.block_weights = [[self._add_block_weights(direction, b) for b in range(len(self.window_starts))]
                              for direction in self.directions]  # [direction][block] -> {name without _<b>: weight}

    def _add_block_weights(self, direction: str, block: int) -> dict[str, keras.Variable]:
        """One block's weights in contrib's order, keyed by their TF1 names without the block suffix."""
        n, gates = self.num_units, 3 if self.couple_input_forget_gates else 4
        kernel_shape = (self.feature_size + 2 * n, gates * n)
        scope = f"{direction}/" if direction else ""
        weights = {}

        def add(name: str, tf1_name: str, shape: tuple, initializer: Any) -> None:
            weights[name] = add_scoped_weight(self, scope + tf1_name, shape, initializer)

        lstms = "f" if self.share_time_frequency_weights else "ft"
        for lstm in lstms:
            add(f"W_{lstm}", f"W_{lstm}_{block}_0", kernel_shape, fresh_initializer(self, self._initializer_arg))
            add(f"B_{lstm}", f"B_{lstm}_{block}", (gates * n,), "zeros")
        if self.use_peepholes:
            for axis in ("freq", "time")[: len(lstms)]:
                for gate in "IO" if self.couple_input_forget_gates else "FIO":
                    for side in "ft":
                        name = f"W_{gate}_diag_{axis}{side}"
                        add(name, f"{name}_{block}", (n,), fresh_initializer(self, self._initializer_arg))
        return weights

    # -- one step -------------------------------------------------------------------------------
    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        state = self.check_state(states)
        x = self.check_inputs(inputs)
        outputs, new_states = [], []
        for d, direction in enumerate(self.directions):
            first = d * self.total_windows  # index of this grid's first window in the state
            for b, windows in enumerate(self.grid_windows(x, direction)):
                previous = self._previous_state(state, first, len(windows))
                block_outputs, block_states = self._block_step(self.block_weights[d][b], windows, previous)
                outputs += block_outputs
                new_states += block_states
                first += len(windows)
        new_state = self.state_tuple_type(*new_states) if self.state_is_tuple else tf.concat(new_states, 1)
        return tf.concat(outputs, 1), new_state

    def grid_windows(self, x: tf.Tensor, direction: str) -> list[list[tf.Tensor]]:
        """Per block, the windows that the grid of ``direction`` reads, in its order."""
        return self.windows(x, 0)

    def windows(self, x: tf.Tensor, offset: int) -> list[list[tf.Tensor]]:
        """Per block, its windows ``[batch, feature_size]`` of ``x`` shifted by ``offset`` columns
        (zeros beyond ``x``)."""
        if offset:
            x = tf.pad(x, [[0, 0], [max(0, -offset), max(0, offset)]])
        shift = max(offset, 0)  # where column 0 + offset lies in the padded x
        return [[x[:, s + shift : s + shift + self.feature_size] for s in starts] for starts in self.window_starts]

    def _previous_state(self, state: Any, first: int, count: int) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """``(c, m)`` of windows ``first .. first + count - 1``; a concatenated state is read, as
        contrib did, at the columns of the window's index in its block."""
        n = self.num_units
        if self.state_is_tuple:
            return [(state[2 * (first + k)], state[2 * (first + k) + 1]) for k in range(count)]
        return [(state[:, 2 * k * n : (2 * k + 1) * n], state[:, (2 * k + 1) * n : (2 * k + 2) * n])
                for k in range(count)]

    def _block_step(self, w: dict, windows: list[tf.Tensor], previous: list) -> tuple[list, list]:
        """The grid of one block: ``([m_k', m_freq'] per window, [c_k', m_k'] per window)``."""
        zeros = tf.zeros([tf.shape(windows[0])[0], self.num_units], windows[0].dtype)
        c_freq, m_freq = zeros, zeros  # the F-LSTM starts from zeros at the first window of a block
        time_weights = "f" if self.share_time_frequency_weights else "t"
        time_axis = "freq" if self.share_time_frequency_weights else "time"
        outputs, states = [], []
        for x_k, (c_time, m_time) in zip(windows, previous):
            z = tf.concat([x_k, m_time, m_freq], 1)
            gates_freq = self._gates(z, w["W_f"], w["B_f"])
            gates_time = self._gates(z, w[f"W_{time_weights}"], w[f"B_{time_weights}"])
            c_freq_new = self._new_c(gates_freq, w, "freq", c_freq, c_time, c_own=c_freq)
            c_time_new = self._new_c(gates_time, w, time_axis, c_freq, c_time, c_own=c_time)
            o_freq = gates_freq[3] + self._peephole(w, "O", "freq", c_freq_new, c_time_new)
            o_time = gates_time[3] + self._peephole(w, "O", time_axis, c_freq_new, c_time_new)
            c_freq, m_freq = c_freq_new, tf.sigmoid(o_freq) * tf.tanh(c_freq_new)
            m_time_new = tf.sigmoid(o_time) * tf.tanh(c_time_new)
            outputs += [m_time_new, m_freq]
            states += [c_time_new, m_time_new]
        return outputs, states

    def _gates(self, z: tf.Tensor, kernel: keras.Variable, bias: keras.Variable) -> tuple:
        """``(i, j, f, o)`` before their activations; ``f`` is None with coupled gates."""
        parts = tf.split(tf.nn.bias_add(tf.matmul(z, kernel), bias), 3 if self.couple_input_forget_gates else 4, 1)
        if self.couple_input_forget_gates:
            i, j, o = parts  # input gate, new input, output gate
            return i, j, None, o
        return tuple(parts)  # input gate, new input, forget gate, output gate

    def _peephole(self, w: dict, gate: str, axis: str, c_freq: tf.Tensor, c_time: tf.Tensor) -> Any:
        if not self.use_peepholes:
            return 0.0
        return w[f"W_{gate}_diag_{axis}f"] * c_freq + w[f"W_{gate}_diag_{axis}t"] * c_time

    def _new_c(self, gates: tuple, w: dict, axis: str, c_freq: tf.Tensor, c_time: tf.Tensor, c_own: tf.Tensor) -> tf.Tensor:
        """``f * c_own + i * tanh(j)``, gates peeping at the previous ``c_freq`` and ``c_time``."""
        i, j, f, _ = gates
        i = tf.sigmoid(i + self._peephole(w, "I", axis, c_freq, c_time))
        if self.couple_input_forget_gates:
            f = 1.0 - i
        else:
            f = tf.sigmoid(f + self.forget_bias + self._peephole(w, "F", axis, c_freq, c_time))
        c = f * c_own + i * tf.tanh(j)
        if self.cell_clip is not None:
            c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
        return c

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "use_peepholes": self.use_peepholes,
            "share_time_frequency_weights": self.share_time_frequency_weights,
            "cell_clip": self.cell_clip,
            "initializer": serialize_optional(self._initializer_arg),
            "forget_bias": self.forget_bias,
            "feature_size": self.feature_size,
            "frequency_skip": self.frequency_skip,
            "num_frequency_blocks": list(self.num_frequency_blocks),
            "start_freqindex_list": None if self.start_freqindex_list is None else list(self.start_freqindex_list),
            "end_freqindex_list": None if self.end_freqindex_list is None else list(self.end_freqindex_list),
            "couple_input_forget_gates": self.couple_input_forget_gates,
            "state_is_tuple": self.state_is_tuple,
        }


__all__ = ["GridLSTMCell"]
