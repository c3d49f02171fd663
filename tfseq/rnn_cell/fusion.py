"""How a cell describes its math to the fused fast path: :class:`FusedSpec`.

A cell that the fused kernels of :mod:`tfseq.nn.fused` can run defines one method,
``fused_spec()``, returning a :class:`FusedSpec` (or ``None``: the cell runs per step).
The planner reads nothing else of the cell: no private attributes, no method names.
The spec vouches for the ``call`` of the class that defines ``fused_spec``; a subclass
that overrides ``call`` without overriding ``fused_spec`` runs per step.

Three kinds of sequence kernels exist, each TF1's math with gates from one fused
matmul of ``[x, h]``:

* ``"lstm"``: gates ``i, j, f, o = split([x, h] @ kernel + bias, 4)``;
  ``c' = sigmoid(f + forget_bias [+ w_f_diag * c]) * c + sigmoid(i [+ w_i_diag * c]) * tanh(j)``,
  optionally clipped; ``h' = sigmoid(o [+ w_o_diag * c']) * tanh(c')``, optionally
  projected (``h' @ projection/kernel``) and clipped. Weights ``kernel``, ``bias``,
  ``w_i_diag``/``w_f_diag``/``w_o_diag`` (peepholes), ``projection/kernel``.
* ``"gru"``: TF1's ``GRUCell``; weights ``gates/kernel``, ``gates/bias``,
  ``candidate/kernel``, ``candidate/bias``.
* ``"rnn"``: ``h' = tanh([x, h] @ kernel + bias)``; weights ``kernel``, ``bias``.
"""

import dataclasses
from typing import Any, Callable, Mapping, Optional

KINDS = ("lstm", "gru", "rnn")
CLIP_GRADIENTS = ("masked", "straight_through")


@dataclasses.dataclass(frozen=True)
class FusedSpec:
    """A cell's step math, in the form the fused kernels read.

    Args:
        kind: ``"lstm"``, ``"gru"`` or ``"rnn"`` (see the module docstring).
        units: ``num_units`` (the size of ``c``, and of ``h`` without a projection).
        weights: ``{TF1 relative name: variable}`` (``"kernel"``, ``"gates/kernel"``, ...);
            empty until the cell is built (planning reads only the other fields).
        activation: the cell's activation (the kernels implement ``tanh`` only).
        forget_bias: LSTM: added to the forget-gate pre-activation at every step.
        use_peepholes: LSTM: diagonal peepholes ``w_i_diag``, ``w_f_diag``, ``w_o_diag``.
        cell_clip: LSTM: ``c`` clipped to ``[-cell_clip, cell_clip]`` (None: no clip).
        clip_gradient: LSTM: ``"masked"`` (``tf.clip_by_value``: no gradient through a
            clipped value) or ``"straight_through"`` (TF1's ``LSTMBlockCell`` kernels: the
            gradient passes the clip unchanged).
        num_proj: LSTM: width of the projected ``h`` (``projection/kernel``), or None.
        proj_clip: LSTM: the projected ``h`` clipped to ``[-proj_clip, proj_clip]``.
        state_is_tuple: LSTM: state ``LSTMStateTuple(c, h)`` (True) or ``[c, h]`` concatenated.
    """

    kind: str
    units: int
    weights: Mapping[str, Any]
    activation: Callable
    forget_bias: float = 0.0
    use_peepholes: bool = False
    cell_clip: Optional[float] = None
    clip_gradient: str = "masked"
    num_proj: Optional[int] = None
    proj_clip: Optional[float] = None
    state_is_tuple: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"FusedSpec: kind must be one of {KINDS}, got {self.kind!r}")
        if self.clip_gradient not in CLIP_GRADIENTS:
            raise ValueError(f"FusedSpec: clip_gradient must be one of {CLIP_GRADIENTS}, got {self.clip_gradient!r}")

    @property
    def output_size(self):
        """Width of the output and of the state ``h``."""
        return self.num_proj or self.units

    @property
    def is_basic_lstm(self):
        """An LSTM without peepholes, clipping or projection (the leanest kernel)."""
        return self.kind == "lstm" and not self.use_peepholes and self.cell_clip is None and self.num_proj is None
