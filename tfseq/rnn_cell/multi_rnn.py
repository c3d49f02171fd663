"""TF1's ``MultiRNNCell``: a stack of cells run one after another at each time step."""

import warnings
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq.rnn_cell.base import call_cell, reject_tf1_only_args
from tfseq.rnn_cell.fusion import FusedStack
from tfseq.rnn_cell.wrappers import RNNCellWrapper, build_cell, cell_initial_state, check_cell


@keras.saving.register_keras_serializable(package="tfseq")
class MultiRNNCell(RNNCellWrapper):
    """Stacks cells: cell ``k`` reads the output of cell ``k - 1``; the output is the last cell's.

    State is a tuple with one entry per cell (``state_is_tuple=True``) or the
    concatenation of all states (``False``, which needs every cell to have a flat
    state). Cell ``k`` is built with the output size of cell ``k - 1`` as its input depth.

    Passing one cell object twice shares its weights, as in TF1 (with TF1's warning);
    the two cells then need the same input depth.

    The cells are tracked as ``cell_0``, ``cell_1``, ... so that ``tf.train.Checkpoint``,
    ``CheckpointManager`` and SavedModel save and restore their weights (Keras keeps a
    list of layers out of TensorFlow's object graph).

    Args:
        cells: non-empty list or tuple of RNN cells (tfseq cells, wrappers or Keras cells).
        state_is_tuple: bool, TF1's state layout switch.
        reuse: TF1 only; accepted as None.

    TF1 names: ``multi_rnn_cell/cell_<k>/<cell names>``, e.g.
    ``multi_rnn_cell/cell_0/basic_lstm_cell/kernel``.

    Raises:
        TypeError: ``cells`` is not a list/tuple of cells.
        ValueError: ``cells`` is empty, or ``state_is_tuple=False`` with a cell whose state is a tuple.
    """

    tf1_scope_name = "multi_rnn_cell"

    def __init__(
        self,
        cells: Sequence[keras.layers.Layer],
        state_is_tuple: bool = True,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        reject_tf1_only_args("MultiRNNCell", reuse=reuse)
        if not isinstance(cells, (list, tuple)):
            raise TypeError(f"MultiRNNCell: cells must be a list or tuple, but saw: {cells!r}")
        if not cells:
            raise ValueError("MultiRNNCell: must specify at least one cell, got cells=[]")
        cells = [check_cell("MultiRNNCell", f"cells[{k}]", cell) for k, cell in enumerate(cells)]
        if len({id(cell) for cell in cells}) < len(cells):
            warnings.warn(
                "At least two cells provided to MultiRNNCell are the same object and will share weights.",
                stacklevel=2,
            )
        self.state_is_tuple = bool(state_is_tuple)
        if not self.state_is_tuple and any(tf.nest.is_nested(c.state_size) for c in cells):
            raise ValueError(
                "MultiRNNCell: some cells return tuples of states, but state_is_tuple=False. "
                f"State sizes are: {[c.state_size for c in cells]}"
            )
        # The base's single-cell __init__ does not apply: skip it, keep the rest of the base.
        super(RNNCellWrapper, self).__init__(**kwargs)
        self.cells = cells
        for index, cell in enumerate(cells):  # TF's object graph: checkpoint names cell_<k>/...
            self._track_trackable(cell, name=f"cell_{index}", overwrite=True)

    @property
    def _cells(self) -> list[keras.layers.Layer]:
        """TF1's (private) name for :attr:`cells`, which TF1 subclasses read (tensorflow/nmt's GNMT cell)."""
        return self.cells

    @property
    def wrapped_cell(self) -> keras.layers.Layer:
        raise AttributeError("MultiRNNCell wraps several cells: use .cells")

    def wrapped_cells(self) -> list[keras.layers.Layer]:
        return list(self.cells)

    def wrapped_cell_scope(self, index: int) -> str:
        return f"cell_{index}"

    @property
    def state_size(self) -> Any:
        if self.state_is_tuple:
            return tuple(cell.state_size for cell in self.cells)
        return sum(cell.state_size for cell in self.cells)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def build(self, input_shape: tuple) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            build_cell(cell, shape)
            shape = (shape[0], cell.output_size)

    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> Any:
        batch_size, dtype = self.initial_state_args(batch_size, dtype, inputs)
        states = tuple(cell_initial_state(cell, batch_size, dtype) for cell in self.cells)
        return states if self.state_is_tuple else tf.concat(states, 1)

    def split_state(self, states: Any) -> Any:
        """Per-cell states from either layout (and from Keras' flat list)."""
        state = self.check_state(states)
        if self.state_is_tuple:
            return list(state)
        sizes = [cell.state_size for cell in self.cells]
        return tf.split(state, sizes, axis=1)

    def join_states(self, states: Any) -> Any:
        """The stack's state from one state per cell (the inverse of :meth:`split_state`)."""
        return tuple(states) if self.state_is_tuple else tf.concat(list(states), 1)

    def fused_layers(self) -> FusedStack:
        """The stack for the fused path: its cells run layer by layer over whole sequences
        (:mod:`tfseq.rnn_cell.fusion`)."""
        return FusedStack(tuple(self.cells), self.split_state, self.join_states)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        layer_input = inputs
        new_states = []
        for cell, state in zip(self.cells, self.split_state(states)):
            layer_input, new_state = call_cell(cell, layer_input, state, training)
            new_states.append(new_state)
        return layer_input, self.join_states(new_states)

    def get_config(self) -> dict:
        config = super(RNNCellWrapper, self).get_config()
        config["cells"] = [keras.saving.serialize_keras_object(cell) for cell in self.cells]
        config["state_is_tuple"] = self.state_is_tuple
        return config

    @classmethod
    def from_config(cls, config: dict) -> keras.layers.Layer:
        config = dict(config)
        config["cells"] = [keras.saving.deserialize_keras_object(c) for c in config["cells"]]
        return cls(**config)
