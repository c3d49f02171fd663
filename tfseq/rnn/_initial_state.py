"""Keras 2's ``get_initial_state(inputs=None, batch_size=None, dtype=None)`` for the ``tfseq.rnn``
cells, which TF Addons programs call (Keras 3's cells take ``batch_size`` only)."""

from typing import Any

from keras import ops, tree

from tfseq.rnn_cell.base import initial_state_args


class KerasTwoInitialState:
    """Mixin: ``get_initial_state`` that takes Keras 2's ``inputs`` and ``dtype`` too."""

    # A cell with one state gets it bare (Keras 2, TF Addons); True keeps Keras 3's ``[state]``.
    single_state_in_list = False

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None) -> Any:
        """Zeros ``[batch_size, n]`` for each ``n`` of ``state_size``: a list, or one tensor for a
        single state unless ``single_state_in_list``.

        Args:
            inputs: optional tensor ``[batch, ...]``: gives the batch size when ``batch_size`` is
                None and, if floating, the dtype when ``dtype`` is None.
            batch_size: int or scalar tensor (``keras.layers.RNN`` passes it by keyword).
            dtype: the states' dtype (default: the cell's compute dtype).
        """
        batch_size, dtype = initial_state_args(self, batch_size, dtype, inputs)
        zeros = [ops.zeros((batch_size, n), dtype=dtype) for n in tree.flatten(self.state_size)]
        return zeros if tree.is_nested(self.state_size) or self.single_state_in_list else zeros[0]
