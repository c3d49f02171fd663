"""Exact conversions between tfseq's TF1 cells and Keras 3's built-in cells.

=====================================  =============================================
tfseq (TF1 layout)                     Keras 3
=====================================  =============================================
``BasicLSTMCell`` / ``LSTMCell``       ``keras.layers.LSTMCell``
(no peepholes, clipping, projection)   (``recurrent_activation="sigmoid"``)
``GRUCell``                            ``keras.layers.GRUCell(reset_after=False)``
``BasicRNNCell``                       ``keras.layers.SimpleRNNCell``
=====================================  =============================================

What changes is only the weight layout (the math is the same):

* TF1 keeps one kernel ``[depth + units, k * units]`` over ``[x, h]``; Keras splits it
  into ``kernel`` (the ``depth`` rows) and ``recurrent_kernel`` (the ``units`` rows).
* LSTM gate blocks: TF1 ``i, j, f, o`` <-> Keras ``i, f, c, o`` (``j`` is Keras' ``c``),
  and TF1's ``forget_bias`` (added at every step) is folded into the Keras ``f`` bias.
  States: TF1 ``LSTMStateTuple(c, h)``, Keras ``[h, c]``.
* GRU blocks: TF1 ``gates`` = ``r, u`` plus ``candidate``, Keras ``z, r, h`` with
  ``z = u``; ``reset_after=True`` (Keras' default, cuDNN's GRU) applies the reset gate
  after the recurrent matmul and has no exact TF1 equivalent.

Anything that cannot convert exactly is refused with ``ValueError`` naming the reason.
Outputs agree to float rounding (one fused matmul vs two, ``forget_bias`` pre-added).
"""

import keras
import numpy as np

from tfseq.rnn_cell.cells import BasicLSTMCell, BasicRNNCell, GRUCell, LSTMCell


def _activation_name(fn):
    """A Keras activation's registered name (``"sigmoid"``), or the callable itself if it has none."""
    try:
        name = keras.activations.serialize(fn)
    except (ValueError, TypeError):
        return fn
    return name if isinstance(name, str) else fn


def _keras_activation(cell):
    """The tfseq cell's activation as Keras takes it (TF1's default None is tanh)."""
    config = cell.get_config()["activation"]
    return "tanh" if config is None else keras.activations.get(config)


def _tfseq_activation(keras_activation):
    name = _activation_name(keras_activation)
    return None if name == "tanh" else name  # None: TF1's default tanh


def _require_built(cell, what):
    if not cell.built:
        raise ValueError(f"{what}: build {cell.name} first (call it once, or cell.build((None, depth)))")


def _blocks(matrix, n):
    return np.split(np.asarray(matrix), n, axis=-1)


def _loaded_keras_cell(target, kernel, bias):
    """Build Keras cell ``target`` and load a TF1 ``[x, h]`` kernel (split into ``kernel`` and
    ``recurrent_kernel``) and bias, both already in Keras' gate order."""
    depth = kernel.shape[0] - target.units
    target.build((None, depth))
    target.kernel.assign(kernel[:depth])
    target.recurrent_kernel.assign(kernel[depth:])
    target.bias.assign(bias)
    return target


def _tf1_kernel(keras_cell):
    """Keras' ``kernel`` over ``recurrent_kernel``: TF1's one ``[x, h]`` kernel."""
    return np.concatenate([keras_cell.kernel.numpy(), keras_cell.recurrent_kernel.numpy()], 0)


# -- tfseq -> Keras -------------------------------------------------------------------------


def to_keras_cell(cell: keras.layers.Layer) -> keras.layers.Layer:
    """A built tfseq cell as the equivalent Keras 3 cell, weights included.

    Args:
        cell: a built ``BasicLSTMCell``/``LSTMCell`` (no peepholes, ``cell_clip`` or
            ``num_proj``), ``GRUCell`` or ``BasicRNNCell``.

    Returns:
        A built ``keras.layers.LSTMCell``, ``GRUCell(reset_after=False)`` or ``SimpleRNNCell``.

    Raises:
        ValueError: the cell uses something Keras' cell cannot express, or is not built.
        TypeError: not one of the convertible cells (wrappers: convert the cells inside).
    """
    what = f"to_keras_cell({type(cell).__name__})"
    if isinstance(cell, LSTMCell):
        for attr, reason in [
            ("use_peepholes", "keras.layers.LSTMCell has no peephole connections"),
            ("cell_clip", "keras.layers.LSTMCell cannot clip the cell state"),
            ("num_proj", "keras.layers.LSTMCell has no output projection"),
        ]:
            if getattr(cell, attr):
                raise ValueError(f"{what}: {attr}={getattr(cell, attr)!r} cannot convert exactly: {reason}")
        _require_built(cell, what)
        i, j, f, o = _blocks(cell.kernel.numpy(), 4)  # TF1 gate order
        b_i, b_j, b_f, b_o = _blocks(cell.bias.numpy(), 4)
        target = keras.layers.LSTMCell(
            cell.num_units, activation=_keras_activation(cell), recurrent_activation="sigmoid",
            dtype=cell.dtype_policy,
        )
        return _loaded_keras_cell(  # Keras gate order i, f, c, o
            target, np.concatenate([i, f, j, o], 1), np.concatenate([b_i, b_f + cell.forget_bias, b_j, b_o])
        )
    if isinstance(cell, GRUCell):
        _require_built(cell, what)
        r, u = _blocks(cell.gates_kernel.numpy(), 2)  # TF1: reset, update
        b_r, b_u = _blocks(cell.gates_bias.numpy(), 2)
        target = keras.layers.GRUCell(
            cell.num_units, activation=_keras_activation(cell), recurrent_activation="sigmoid",
            reset_after=False, dtype=cell.dtype_policy,
        )
        return _loaded_keras_cell(  # Keras: z (= update), r, h
            target,
            np.concatenate([u, r, cell.candidate_kernel.numpy()], 1),
            np.concatenate([b_u, b_r, cell.candidate_bias.numpy()]),
        )
    if isinstance(cell, BasicRNNCell):
        _require_built(cell, what)
        target = keras.layers.SimpleRNNCell(
            cell.num_units, activation=_keras_activation(cell), dtype=cell.dtype_policy
        )
        return _loaded_keras_cell(target, cell.kernel.numpy(), cell.bias.numpy())
    raise TypeError(
        f"to_keras_cell: no exact Keras 3 cell for {type(cell).__name__}; convertible are BasicLSTMCell, "
        "LSTMCell, GRUCell and BasicRNNCell (for wrappers, convert the cells inside)"
    )


# -- Keras -> tfseq -------------------------------------------------------------------------


def _check_keras_cell(what, keras_cell):
    _require_built(keras_cell, what)
    for attr in ("dropout", "recurrent_dropout"):
        rate = getattr(keras_cell, attr, 0.0)
        if rate:
            raise ValueError(
                f"{what}: {attr}={rate!r} cannot convert exactly: TF1 cells have no built-in dropout "
                "(set it to 0 and wrap the converted cell in tfseq.rnn_cell.DropoutWrapper)"
            )
    recurrent = getattr(keras_cell, "recurrent_activation", None)
    if recurrent is not None and _activation_name(recurrent) != "sigmoid":
        raise ValueError(
            f"{what}: recurrent_activation={_activation_name(recurrent)!r} cannot convert exactly: "
            "TF1 cells use sigmoid gates"
        )


def _bias(keras_cell, size):
    return keras_cell.bias.numpy() if keras_cell.use_bias else np.zeros([size], keras_cell.kernel.dtype)


def from_keras_cell(keras_cell: keras.layers.Layer, forget_bias: float = 0.0) -> keras.layers.Layer:
    """A built Keras 3 cell as the equivalent tfseq (TF1) cell, weights included.

    Args:
        keras_cell: a built ``keras.layers.LSTMCell``, ``GRUCell(reset_after=False)`` or
            ``SimpleRNNCell`` with sigmoid gates and no dropout.
        forget_bias: for LSTM, the TF1 ``forget_bias`` of the new cell; it is subtracted
            from the Keras ``f`` bias so the math is unchanged (0.0, the default, is
            bit-exact; other values are exact up to float rounding).

    Returns:
        A built ``BasicLSTMCell``, ``GRUCell`` or ``BasicRNNCell``.

    Raises:
        ValueError: something TF1's cell cannot express (``reset_after=True``, dropout,
            non-sigmoid gates), or the Keras cell is not built.
        TypeError: not one of the convertible Keras cells.
    """
    what = f"from_keras_cell({type(keras_cell).__name__})"
    if isinstance(keras_cell, keras.layers.LSTMCell):
        _check_keras_cell(what, keras_cell)
        n = keras_cell.units
        depth = keras_cell.kernel.shape[0]
        i, f, c, o = _blocks(_tf1_kernel(keras_cell), 4)  # Keras gate order
        b_i, b_f, b_c, b_o = _blocks(_bias(keras_cell, 4 * n), 4)
        cell = BasicLSTMCell(n, forget_bias=forget_bias, activation=_tfseq_activation(keras_cell.activation),
                             dtype=keras_cell.dtype_policy)
        cell.build((None, depth))
        cell.kernel.assign(np.concatenate([i, c, f, o], 1))  # TF1 gate order i, j, f, o
        cell.bias.assign(np.concatenate([b_i, b_c, b_f - np.float32(forget_bias), b_o]))
        return cell
    if isinstance(keras_cell, keras.layers.GRUCell):
        if keras_cell.reset_after:
            raise ValueError(
                f"{what}: reset_after=True cannot convert exactly: it applies the reset gate after the "
                "recurrent matmul (cuDNN's GRU), TF1's GRUCell before it; use GRUCell(reset_after=False)"
            )
        _check_keras_cell(what, keras_cell)
        n = keras_cell.units
        depth = keras_cell.kernel.shape[0]
        z, r, h = _blocks(_tf1_kernel(keras_cell), 3)  # Keras: update, reset, candidate
        b_z, b_r, b_h = _blocks(_bias(keras_cell, 3 * n), 3)
        cell = GRUCell(n, activation=_tfseq_activation(keras_cell.activation), dtype=keras_cell.dtype_policy)
        cell.build((None, depth))
        cell.gates_kernel.assign(np.concatenate([r, z], 1))  # TF1: reset, update
        cell.gates_bias.assign(np.concatenate([b_r, b_z]))
        cell.candidate_kernel.assign(h)
        cell.candidate_bias.assign(b_h)
        return cell
    if isinstance(keras_cell, keras.layers.SimpleRNNCell):
        _check_keras_cell(what, keras_cell)
        n = keras_cell.units
        depth = keras_cell.kernel.shape[0]
        cell = BasicRNNCell(n, activation=_tfseq_activation(keras_cell.activation), dtype=keras_cell.dtype_policy)
        cell.build((None, depth))
        cell.kernel.assign(_tf1_kernel(keras_cell))
        cell.bias.assign(_bias(keras_cell, n))
        return cell
    raise TypeError(
        f"from_keras_cell: no exact TF1 cell for {type(keras_cell).__name__}; convertible are "
        "keras.layers.LSTMCell, GRUCell(reset_after=False) and SimpleRNNCell"
    )
