"""TF1 contrib's ``TimeFreqLSTMCell`` (Sainath & Li 2016, an LSTM over time and frequency), with
contrib's arguments, math, state layout and variable names; and the frequency-window helpers that
``GridLSTMCell`` shares.

Each step's input ``x`` ``[batch, depth]`` is read as a frequency axis and cut into ``F`` windows of
``feature_size`` columns, one every ``frequency_skip`` columns:
``x_k = x[:, k * frequency_skip : k * frequency_skip + feature_size]`` for
``k = 0 .. F - 1``, ``F = (depth - feature_size) // frequency_skip + 1``. One LSTM (one set of weights)
runs along the windows; window ``k`` keeps its own ``(c_k, m_k)`` from step to step and also reads the
output of window ``k - 1`` of the same step, ``m_freq`` (zeros for ``k = 0``)::

    i, j, f, o = split([x_k, m_k, m_freq] @ W_0 + B, 4)     # input gate, new input, forget gate, output gate
    c_k' = sigmoid(f + forget_bias (+ W_F_diag * c_k)) * c_k + sigmoid(i (+ W_I_diag * c_k)) * tanh(j)
    c_k' = clip(c_k', -cell_clip, cell_clip)                                          (if cell_clip)
    m_k' = sigmoid(o (+ W_O_diag * c_k')) * tanh(c_k');    m_freq = m_k'

The output is ``concat(m_0', .., m_{F-1}')`` ``[batch, F * num_units]``; the state is one tensor,
``concat(c_0', m_0', c_1', m_1', ..)`` ``[batch, 2 * F * num_units]`` (contrib's layout). Unlike
contrib, whose ``state_size`` and ``output_size`` said ``2 * num_units`` and ``num_units`` whatever
``F`` was (so only explicit states of the real size worked), the sizes here are the real ones; they
need the input depth, known after ``build`` or from ``input_size=``.
"""

from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_optional_nonnegative, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import RNNCell, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.cells import _initializer
from tfseq.rnn_cell.cifg_cell import _check_shards


def window_count(span: int, feature_size: int, frequency_skip: int) -> int:
    """contrib's number of frequency windows in ``span`` columns: ``int((span - feature_size) / skip) + 1``."""
    return int((span - feature_size) / frequency_skip) + 1


def fresh_initializer(cell: RNNCell, initializer: Any) -> Any:
    """The initializer of one weight: ``initializer``, else the TF1 variable scope's, else Glorot
    uniform; a Keras initializer is re-made from its config, so weights of the same shape do not
    start equal (TF1 drew every variable anew)."""
    init = _initializer(initializer, cell.tf1_scope_initializer() or "glorot_uniform")
    if isinstance(init, keras.initializers.Initializer):
        return type(init).from_config(init.get_config())
    return init


@keras.saving.register_keras_serializable(package="tfseq")
class TimeFreqLSTMCell(RNNCell):
    """TF1 contrib's ``TimeFreqLSTMCell(num_units, use_peepholes=False, cell_clip=None,
    initializer=None, num_unit_shards=1, forget_bias=1.0, feature_size=None, frequency_skip=1,
    reuse=None)`` (math in the module docstring).

    Args:
        num_units: int > 0, the size of each window's ``c`` and ``m``.
        use_peepholes: bool, the diagonal connections ``W_F_diag``, ``W_I_diag``, ``W_O_diag``.
        cell_clip: None or number >= 0, clip of every ``c'`` before the output activation.
        initializer: of ``W_0`` and the peepholes (default: the TF1 variable scope's, else Glorot
            uniform). contrib stored this argument without using it.
        num_unit_shards: TF1's variable sharding; accepted as 1 (or None).
        forget_bias: number added to the forget gate at every step.
        feature_size: int > 0, the width of a frequency window. Required (contrib's default None
            failed at the first step).
        frequency_skip: int > 0, the shift between two windows.
        reuse: TF1 only; accepted as None.
        input_size: None or int >= ``feature_size``, the input depth (not a TF1 argument). The
            state and output sizes depend on it, so it is needed before the cell is built to ask
            for them: ``keras.layers.RNN(cell)`` reads ``state_size`` when it is constructed,
            before it builds the cell (without it: ``ValueError`` naming ``input_size``), and a
            zero state; ``build`` sets it. The TF1 drivers (``tfseq.nn.dynamic_rnn`` & co.) build
            the cell first and need no ``input_size``.

    Call arguments:
        inputs: ``[batch, depth]``.
        states: ``[batch, 2 * F * num_units]``, contrib's ``concat(c_0, m_0, c_1, m_1, ..)``.

    Returns:
        ``(m, new_state)``: ``m`` ``[batch, F * num_units]`` and the new state.

    Weights (scope ``time_freq_lstm_cell``; contrib's sharded names with one shard): ``W_0``
    ``[feature_size + 2 * num_units, 4 * num_units]``, ``B`` ``[4 * num_units]`` (zeros), and with
    peepholes ``W_F_diag``, ``W_I_diag``, ``W_O_diag`` ``[num_units]``.

    Raises:
        ValueError: a bad ``num_units``, ``cell_clip``, ``forget_bias``, ``feature_size``,
            ``frequency_skip``, ``input_size``, a flag that is not a bool, sharding other than 1 or
            ``reuse``; the sizes asked for before the input depth is known; at build, an input
            depth below ``feature_size`` or other than ``input_size``.

    Example:
        >>> cell = TimeFreqLSTMCell(8, feature_size=4, frequency_skip=2, input_size=10)  # 4 windows
        >>> outputs, state = tfseq.nn.dynamic_rnn(cell, tf.zeros([2, 5, 10]))  # outputs [2, 5, 32]
    """

    tf1_scope_name = "time_freq_lstm_cell"
    object_args = ("initializer",)

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        cell_clip: float | None = None,
        initializer: keras.initializers.Initializer | str | None = None,
        num_unit_shards: int | None = 1,
        forget_bias: float = 1.0,
        feature_size: int | None = None,
        frequency_skip: int = 1,
        reuse: bool | None = None,
        input_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        _check_shards(owner, "num_unit_shards", num_unit_shards)
        super().__init__(**kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.use_peepholes = check_bool(owner, "use_peepholes", use_peepholes)
        self.cell_clip = check_optional_nonnegative(owner, "cell_clip", cell_clip)
        self._initializer_arg = initializer
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.feature_size = check_positive_int(owner, "feature_size", feature_size)
        self.frequency_skip = check_positive_int(owner, "frequency_skip", frequency_skip)
        self.input_size = None
        if input_size is not None:
            self.input_size = self._check_depth(owner, "input_size", check_positive_int(owner, "input_size", input_size))

    def _check_depth(self, owner: str, what: str, depth: int) -> int:
        if depth < self.feature_size:
            raise ValueError(f"{owner}: {what}={depth} is narrower than feature_size={self.feature_size}")
        return depth

    @property
    def num_windows(self) -> int:
        """``F``, the number of frequency windows of an input (needs the input depth)."""
        if self.input_size is None:
            raise ValueError(
                f"{self.name}: the state and output sizes depend on the input depth (one c and m per "
                "frequency window), unknown before the cell is built; keras.layers.RNN(cell) asks for them when "
                "it is constructed, before it builds the cell: pass input_size=depth to TimeFreqLSTMCell (or "
                "build the cell first, cell.build((None, depth)))"
            )
        return window_count(self.input_size, self.feature_size, self.frequency_skip)

    @property
    def state_size(self) -> int:
        return 2 * self.num_units * self.num_windows

    @property
    def output_size(self) -> int:
        return self.num_units * self.num_windows

    def build(self, input_shape: tuple) -> None:
        depth = self._check_depth(self.name, "input depth", self.input_depth(input_shape))
        if self.input_size is not None and depth != self.input_size:
            raise ValueError(f"{self.name}: input depth {depth} differs from input_size={self.input_size}")
        self.input_size, n = depth, self.num_units
        init = self._initializer_arg
        self.kernel = self.add_tf1_weight("W_0", (self.feature_size + 2 * n, 4 * n), fresh_initializer(self, init))
        self.bias = self.add_tf1_weight("B", (4 * n,), "zeros")
        self.w_f_diag = self.w_i_diag = self.w_o_diag = None
        if self.use_peepholes:
            self.w_f_diag = self.add_tf1_weight("W_F_diag", (n,), fresh_initializer(self, init))
            self.w_i_diag = self.add_tf1_weight("W_I_diag", (n,), fresh_initializer(self, init))
            self.w_o_diag = self.add_tf1_weight("W_O_diag", (n,), fresh_initializer(self, init))

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        state = self.check_state(states)
        x = self.check_inputs(inputs)
        n, size, skip = self.num_units, self.feature_size, self.frequency_skip
        m_freq = tf.zeros([tf.shape(x)[0], n], x.dtype)  # the first window has no lower neighbour
        outputs, new_state = [], []
        for k in range(self.num_windows):
            c_prev, m_prev = state[:, 2 * k * n : (2 * k + 1) * n], state[:, (2 * k + 1) * n : (2 * k + 2) * n]
            z = tf.nn.bias_add(tf.matmul(tf.concat([x[:, k * skip : k * skip + size], m_prev, m_freq], 1), self.kernel),
                               self.bias)
            i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
            f = f + self.forget_bias
            if self.use_peepholes:
                f, i = f + self.w_f_diag * c_prev, i + self.w_i_diag * c_prev
            c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(j)
            if self.cell_clip is not None:
                c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
            if self.use_peepholes:
                o = o + self.w_o_diag * c
            m_freq = tf.sigmoid(o) * tf.tanh(c)
            outputs.append(m_freq)
            new_state += [c, m_freq]
        return tf.concat(outputs, 1), tf.concat(new_state, 1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "use_peepholes": self.use_peepholes,
            "cell_clip": self.cell_clip,
            "initializer": serialize_optional(self._initializer_arg),
            "forget_bias": self.forget_bias,
            "feature_size": self.feature_size,
            "frequency_skip": self.frequency_skip,
            "input_size": self.input_size,
        }


__all__ = ["TimeFreqLSTMCell"]
