"""Cells by short name, for configs and command lines: ``make_cell("gru", 128)``."""

from tfseq.rnn_cell.base import RNNCell
from tfseq.rnn_cell.cells import BasicLSTMCell, BasicRNNCell, GRUCell, LSTMCell

CELLS = ("lstm", "peephole", "gru", "rnn")


def make_cell(kind: str, num_units: int, forget_bias: float = 0.0, name: str | None = None) -> RNNCell:
    """A tfseq cell by short name: ``lstm`` (BasicLSTMCell), ``peephole`` (LSTMCell with
    peepholes), ``gru`` (GRUCell) or ``rnn`` (BasicRNNCell)."""
    if kind == "lstm":
        return BasicLSTMCell(num_units, forget_bias=forget_bias, name=name)
    if kind == "peephole":
        return LSTMCell(num_units, use_peepholes=True, forget_bias=forget_bias, name=name)
    if kind == "gru":
        return GRUCell(num_units, name=name)
    if kind == "rnn":
        return BasicRNNCell(num_units, name=name)
    raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {kind!r}")
