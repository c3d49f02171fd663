"""TF1 contrib's block cells, ``tf.contrib.rnn.LSTMBlockCell`` and ``GRUBlockCellV2``.

In TF1 each was one monolithic op (``LSTMBlockCell``, ``GRUBlockCell``). Here each is a
readable step with the op's math (proven against ``tf.raw_ops`` in
``tests/test_block_cells.py``) that runs whole sequences on tfseq's fused path
(:meth:`fused_spec`). Checkpoint names are contrib's, so TF1 checkpoints load with
``tfseq.compat.load_tf1_checkpoint``. ``LSTMBlockFusedCell`` (a sequence layer) is
``tfseq.nn.LSTMBlockFusedCell``.
"""

import numbers
import warnings
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn_cell.base import LSTMStateTuple, LSTMTupleCell, reject_tf1_only_args
from tfseq.rnn_cell.cells import GRUCell
from tfseq.rnn_cell.fusion import FusedSpec


def check_number(owner: str, name: str, value: Any) -> float:
    """A real number (not a bool), as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {name} must be a number, got {value!r}")
    return float(value)


def check_block_cell_clip(owner: str, cell_clip: float | None) -> float | None:
    """contrib's rule: None or a number; ``cell_clip <= 0`` (contrib passes -1 for None) disables it."""
    return None if cell_clip is None else check_number(owner, "cell_clip", cell_clip)


def check_name(owner: str, name: str) -> str:
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"{owner}: name must be a non-empty string without '/', got {name!r}")
    return name


@keras.saving.register_keras_serializable(package="tfseq")
class LSTMBlockCell(LSTMTupleCell):
    """TF1 contrib's ``LSTMBlockCell``: the ``LSTMBlockCell`` op's LSTM, one step.

    With ``z = [x, h] @ kernel + bias``::

        i, j, f, o = split(z, 4)                      # input gate, new input, forget gate, output gate
        i += w_i_diag * c;  f += w_f_diag * c         # if use_peephole
        c' = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j)
        c' = clip(c', -cell_clip, cell_clip)          # only if cell_clip > 0
        o += w_o_diag * c'                            # if use_peephole
        h' = sigmoid(o) * tanh(c')

    Like the op's hand-written gradient, the clip passes gradients unchanged
    (straight-through), where ``LSTMCell(cell_clip=...)`` (``tf.clip_by_value``) blocks them.
    State ``LSTMStateTuple(c, h)``; output ``h'``.

    Args:
        num_units: int > 0.
        forget_bias: number added to the forget gate pre-activation at every step.
        cell_clip: None (contrib's default: no clipping, the op gets -1) or a number;
            values <= 0 disable clipping, as in the op.
        use_peephole: bool, diagonal peephole connections.
        dtype: the layer's dtype (Keras dtype policy); default the global policy.
        reuse: TF1 only; accepted as None.
        name: the layer name and TF1 variable scope, default ``"lstm_cell"`` (contrib's,
            shared with ``tf.nn.rnn_cell.LSTMCell``).

    Weights (TF1 names under ``name``): ``kernel`` ``[depth + num_units, 4 * num_units]``
    (Glorot uniform), ``bias`` ``[4 * num_units]`` (zeros), ``w_i_diag``/``w_f_diag``/
    ``w_o_diag`` ``[num_units]`` (Glorot uniform) with ``use_peephole``.

    Raises:
        ValueError: a bad ``num_units``, ``forget_bias``, ``cell_clip``, ``use_peephole``,
            ``name``, or ``reuse`` other than None.
    """

    def __init__(
        self,
        num_units: int,
        forget_bias: float = 1.0,
        cell_clip: float | None = None,
        use_peephole: bool = False,
        dtype: tf.DType | str | None = None,
        reuse: bool | None = None,
        name: str | None = "lstm_cell",
        **kwargs: Any,
    ):
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(dtype=dtype, name=check_name(owner, name), **kwargs)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.cell_clip = check_block_cell_clip(owner, cell_clip)
        self.use_peephole = check_bool(owner, "use_peephole", use_peephole)
        self.tf1_scope_name = name

    @property
    def clips(self) -> bool:
        """Whether ``c`` is clipped (``cell_clip > 0``)."""
        return self.cell_clip is not None and self.cell_clip > 0

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        n = self.num_units
        self.kernel = self.add_tf1_weight("kernel", (depth + n, 4 * n), None)  # the scope's, else glorot
        self.bias = self.add_tf1_weight("bias", (4 * n,), "zeros")
        if self.use_peephole:
            self.w_i_diag = self.add_tf1_weight("w_i_diag", (n,), None)
            self.w_f_diag = self.add_tf1_weight("w_f_diag", (n,), None)
            self.w_o_diag = self.add_tf1_weight("w_o_diag", (n,), None)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, h_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        z = tf.matmul(tf.concat([x, h_prev], 1), self.kernel) + self.bias
        i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
        if self.use_peephole:
            i = i + self.w_i_diag * c_prev
            f = f + self.w_f_diag * c_prev
        c = tf.sigmoid(f + self.forget_bias) * c_prev + tf.sigmoid(i) * tf.tanh(j)
        if self.clips:  # straight-through: clipped value, unclipped gradient (the op's)
            c = c + tf.stop_gradient(tf.clip_by_value(c, -self.cell_clip, self.cell_clip) - c)
        if self.use_peephole:
            o = o + self.w_o_diag * c
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, LSTMStateTuple(c, h)

    def fused_spec(self) -> FusedSpec | None:
        """This step's math for the fused path (:class:`tfseq.rnn_cell.fusion.FusedSpec`)."""
        return FusedSpec(
            "lstm", self.num_units, dict(self._tf1_weights), tf.tanh, forget_bias=self.forget_bias,
            use_peepholes=self.use_peephole, cell_clip=self.cell_clip if self.clips else None,
            clip_gradient="straight_through",
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "forget_bias": self.forget_bias,
            "cell_clip": self.cell_clip,
            "use_peephole": self.use_peephole,
        }


@keras.saving.register_keras_serializable(package="tfseq")
class GRUBlockCellV2(GRUCell):
    """TF1 contrib's ``GRUBlockCellV2``: the ``GRUBlockCell`` op's GRU with ``GRUCell``'s names.

    The math is TF1's ``GRUCell`` (reset before the candidate matmul)::

        r, u = split(sigmoid([x, h] @ gates/kernel + gates/bias), 2)   # reset, update
        c    = tanh([x, r * h] @ candidate/kernel + candidate/bias)
        h'   = u * h + (1 - u) * c

    Args:
        num_units: int > 0; exactly one of ``num_units`` and ``cell_size`` (contrib's
            deprecated spelling) must be given.
        cell_size: int > 0, the old name of ``num_units``.
        reuse: TF1 only; accepted as None.
        name: the layer name and TF1 variable scope, default ``"gru_cell"``.

    Weights (TF1 names under ``name``): ``gates/kernel`` ``[depth + n, 2n]`` (Glorot
    uniform), ``gates/bias`` ``[2n]`` (ones), ``candidate/kernel`` ``[depth + n, n]``,
    ``candidate/bias`` ``[n]`` (zeros).

    Raises:
        ValueError: both or neither of ``num_units``/``cell_size``, a bad size or name.
    """

    def __init__(
        self,
        num_units: int | None = None,
        cell_size: int | None = None,
        reuse: bool | None = None,
        name: str | None = "gru_cell",
        **kwargs: Any,
    ):
        owner = type(self).__name__
        if (num_units is None) == (cell_size is None):
            raise ValueError(
                f"{owner}: exactly one of num_units or cell_size must be given, got num_units={num_units!r}, "
                f"cell_size={cell_size!r}"
            )
        if cell_size is not None:
            warnings.warn(f"{owner}: cell_size is deprecated, use num_units", DeprecationWarning, stacklevel=2)
            num_units = check_positive_int(owner, "cell_size", cell_size)
        super().__init__(num_units, reuse=reuse, name=check_name(owner, name), **kwargs)
        self.tf1_scope_name = name

    def get_config(self) -> dict:
        config = super().get_config()
        for key in ("activation", "kernel_initializer", "bias_initializer"):
            del config[key]
        return config


@keras.saving.register_keras_serializable(package="tfseq")
class GRUBlockCell(GRUBlockCellV2):
    """TF1 contrib's deprecated ``GRUBlockCell``: :class:`GRUBlockCellV2` (its math, arguments and
    fused path) under the variable names the first version had, so its checkpoints load.

    Weights (TF1 names under ``name``, default ``"gru_cell"``): ``w_ru`` ``[depth + n, 2n]``
    (reset and update gates), ``b_ru`` ``[2n]`` (ones), ``w_c`` ``[depth + n, n]`` (candidate),
    ``b_c`` ``[n]`` (zeros).
    """

    _FIRST_NAMES = {"gates/kernel": "w_ru", "gates/bias": "b_ru", "candidate/kernel": "w_c", "candidate/bias": "b_c"}

    def tf1_variables(self) -> dict[str, keras.Variable]:
        """``{"gru_cell/w_ru": variable, ...}``: the first ``GRUBlockCell``'s names."""
        prefix = f"{self.tf1_scope_name}/"
        return {prefix + self._FIRST_NAMES[name[len(prefix):]]: var for name, var in super().tf1_variables().items()}
