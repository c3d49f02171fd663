"""TF1 contrib's stacked bidirectional RNNs: ``stack_bidirectional_dynamic_rnn`` and
``stack_bidirectional_rnn`` (``tf.contrib.rnn``).

Layer ``k`` runs a bidirectional RNN (``cells_fw[k]``, ``cells_bw[k]``) over the
depth-concatenated ``[fw, bw]`` outputs of layer ``k - 1``, so, unlike one
``bidirectional_dynamic_rnn`` over two ``MultiRNNCell``s, each layer sees both directions
of the layer below (Graves et al. 2013, https://arxiv.org/abs/1303.5778)::

    x_0 = inputs
    (fw_k, bw_k), (s_fw_k, s_bw_k) = bidirectional_rnn(cells_fw[k], cells_bw[k], x_k)
    x_{k+1} = concat([fw_k, bw_k], axis=-1)          # [batch, time, out_fw + out_bw]
    outputs = x_L;  states_fw = (s_fw_0, ..., s_fw_{L-1});  states_bw likewise

TF1 variable scopes (what :func:`stack_bidirectional_checkpoint_target` maps for
``tfseq.compat.load_tf1_checkpoint``): the dynamic version
``stack_bidirectional_rnn/cell_<k>/bidirectional_rnn/{fw,bw}/<cell names>``; the static
version passes its ``cell_<k>`` scope to ``static_bidirectional_rnn``, so
``stack_bidirectional_rnn/cell_<k>/{fw,bw}/<cell names>``. ``scope=`` replaces
``stack_bidirectional_rnn`` (here it names the ops; variables keep the cells' names).
"""

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq.nn.rnn import bidirectional_dynamic_rnn, static_bidirectional_rnn

_DEFAULT_SCOPE = "stack_bidirectional_rnn"


def _check_cells(cells_fw, cells_bw, initial_states_fw, initial_states_bw):
    """TF1's checks, with the value echoed."""
    for name, cells in (("cells_fw", cells_fw), ("cells_bw", cells_bw)):
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"{name} must be a non-empty list of RNN cells (one per layer), got {cells!r}")
        for k, cell in enumerate(cells):
            if not hasattr(cell, "state_size"):
                raise TypeError(f"{name}[{k}] must be an RNN cell (with state_size), got {cell!r}")
    if len(cells_fw) != len(cells_bw):
        raise ValueError(
            f"Forward and backward cells must have the same depth, got {len(cells_fw)} and {len(cells_bw)}"
        )
    for name, states in (("initial_states_fw", initial_states_fw), ("initial_states_bw", initial_states_bw)):
        if states is not None and (not isinstance(states, (list, tuple)) or len(states) != len(cells_fw)):
            raise ValueError(
                f"{name} must be a list of initial states, one per layer ({len(cells_fw)}), got {states!r}"
            )


def _layer_state(states, k):
    return None if not states else states[k]


def _stack(cells_fw, cells_bw, inputs, initial_states_fw, initial_states_bw, scope, layer):
    """The stacking both versions share: checks, then ``x_{k+1}, s_fw_k, s_bw_k = layer(k,
    cells_fw[k], cells_bw[k], x_k, initial_states_fw[k], initial_states_bw[k])`` (``None``
    states when not given) under the ``scope`` name scope; ``(x_L, states_fw, states_bw)``."""
    _check_cells(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw = [], []
    layer_input = inputs
    with tf.name_scope(scope or _DEFAULT_SCOPE):
        for k, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            layer_input, state_fw, state_bw = layer(
                k, cell_fw, cell_bw, layer_input, _layer_state(initial_states_fw, k), _layer_state(initial_states_bw, k)
            )
            states_fw.append(state_fw)
            states_bw.append(state_bw)
    return layer_input, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_dynamic_rnn(
    cells_fw: Sequence[keras.layers.Layer],
    cells_bw: Sequence[keras.layers.Layer],
    inputs: tf.Tensor | np.ndarray,
    initial_states_fw: Sequence[Any] | None = None,
    initial_states_bw: Sequence[Any] | None = None,
    dtype: tf.DType | str | None = None,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    parallel_iterations: int | None = None,
    time_major: bool = False,
    scope: str | None = None,
    swap_memory: bool = False,
    training: bool | tf.Tensor | None = None,
) -> tuple[tf.Tensor, tuple, tuple]:
    """TF1's ``tf.contrib.rnn.stack_bidirectional_dynamic_rnn``.

    Args:
        cells_fw, cells_bw: lists of RNN cells, one per layer, the same length.
        inputs: ``[batch, time, depth]`` (``[time, batch, depth]`` if ``time_major``).
        initial_states_fw, initial_states_bw: optional lists of states, one per layer.
        dtype: dtype of the zero states (default: the inputs').
        sequence_length: optional int vector ``[batch]``; TF1 semantics per layer.
        parallel_iterations, swap_memory: TF1's loop knobs (no effect on results).
        time_major: layout of ``inputs`` and ``outputs``.
        scope: name scope of the ops (default ``stack_bidirectional_rnn``).
        training: as in :func:`tfseq.nn.dynamic_rnn` (None outside a Keras layer's
            ``call``: ``DropoutWrapper`` drops as in TF1).

    Returns:
        ``(outputs, states_fw, states_bw)``: ``outputs`` ``[batch, time, out_fw + out_bw]``
        of the last layer; ``states_fw``/``states_bw`` tuples of each layer's final state.

    Raises:
        ValueError: empty or unequal cell lists, initial states not one per layer.
        TypeError: an entry is not an RNN cell.
    """

    def layer(k, cell_fw, cell_bw, layer_input, initial_state_fw, initial_state_bw):
        with tf.name_scope(f"cell_{k}"):
            (out_fw, out_bw), (state_fw, state_bw) = bidirectional_dynamic_rnn(
                cell_fw,
                cell_bw,
                layer_input,
                sequence_length=sequence_length,
                initial_state_fw=initial_state_fw,
                initial_state_bw=initial_state_bw,
                dtype=dtype,
                parallel_iterations=parallel_iterations,
                swap_memory=swap_memory,
                time_major=time_major,
                training=training,
            )
            return tf.concat([out_fw, out_bw], 2), state_fw, state_bw  # [batch, time, out_fw + out_bw]

    return _stack(cells_fw, cells_bw, inputs, initial_states_fw, initial_states_bw, scope, layer)


def stack_bidirectional_rnn(
    cells_fw: Sequence[keras.layers.Layer],
    cells_bw: Sequence[keras.layers.Layer],
    inputs: Sequence[tf.Tensor | np.ndarray],
    initial_states_fw: Sequence[Any] | None = None,
    initial_states_bw: Sequence[Any] | None = None,
    dtype: tf.DType | str | None = None,
    sequence_length: tf.Tensor | Sequence[int] | None = None,
    scope: str | None = None,
    training: bool | tf.Tensor | None = None,
) -> tuple[list[tf.Tensor], tuple, tuple]:
    """TF1's ``tf.contrib.rnn.stack_bidirectional_rnn``: ``inputs`` is a list of ``[batch, depth]``.

    Returns ``(outputs, states_fw, states_bw)`` with ``outputs`` a list of
    ``[batch, out_fw + out_bw]`` (the last layer's). Arguments and errors as in
    :func:`stack_bidirectional_dynamic_rnn`.
    """

    def layer(k, cell_fw, cell_bw, layer_input, initial_state_fw, initial_state_bw):
        return static_bidirectional_rnn(
            cell_fw,
            cell_bw,
            layer_input,
            initial_state_fw=initial_state_fw,
            initial_state_bw=initial_state_bw,
            dtype=dtype,
            sequence_length=sequence_length,
            scope=f"cell_{k}",
            training=training,
        )

    return _stack(cells_fw, cells_bw, inputs, initial_states_fw, initial_states_bw, scope, layer)


def stack_bidirectional_checkpoint_target(
    cells_fw: Sequence[keras.layers.Layer],
    cells_bw: Sequence[keras.layers.Layer],
    dynamic: bool = True,
    scope: str | None = _DEFAULT_SCOPE,
) -> dict[str, tuple[keras.layers.Layer, keras.layers.Layer]]:
    """The ``tfseq.compat.load_tf1_checkpoint`` target of a stack's (built) cells.

    ``{"<scope>/cell_<k>/bidirectional_rnn": (cells_fw[k], cells_bw[k])}`` for the dynamic
    version, ``{"<scope>/cell_<k>": (...)}`` for the static one; load with
    ``compat.load_tf1_checkpoint(path, target)`` (prefix ``scope`` with the program's outer
    scopes, e.g. ``"model/stack_bidirectional_rnn"``).
    """
    _check_cells(cells_fw, cells_bw, None, None)
    inner = "/bidirectional_rnn" if dynamic else ""
    return {f"{scope}/cell_{k}{inner}": (fw, bw) for k, (fw, bw) in enumerate(zip(cells_fw, cells_bw))}


__all__ = ["stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn", "stack_bidirectional_checkpoint_target"]
