"""Language-model batching as in the TF PTB tutorial's reader (``ptb_producer``).

The token stream of length ``n`` is truncated to ``batch_size * batch_len`` tokens
(``batch_len = n // batch_size``) and reshaped row-major to ``data[batch_size, batch_len]``:
row ``b`` is the ``b``-th contiguous slice of the stream. Window ``k`` is::

    x = data[:, k * num_steps : (k + 1) * num_steps]          # [batch_size, num_steps]
    y = data[:, k * num_steps + 1 : (k + 1) * num_steps + 1]  # x shifted by one token

for ``k`` in ``range(epoch_size)``, ``epoch_size = (batch_len - 1) // num_steps``. Row ``b`` of
window ``k + 1`` continues row ``b`` of window ``k``, so an RNN's final state of one batch is
the right initial state of the next (truncated BPTT); reset it at each epoch.
"""

import numpy as np
import tensorflow as tf


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def lm_epoch_size(n_tokens, batch_size, num_steps):
    """Number of ``(x, y)`` windows in one epoch over ``n_tokens`` tokens (may be 0)."""
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, (int, np.integer)) or n_tokens < 0:
        raise ValueError(f"n_tokens must be an int >= 0, got {n_tokens!r}")
    batch_size = _check_positive_int("batch_size", batch_size)
    num_steps = _check_positive_int("num_steps", num_steps)
    batch_len = int(n_tokens) // batch_size
    return max(0, (batch_len - 1) // num_steps)


def _as_ids(ids):
    if isinstance(ids, tf.Tensor):
        ids = ids.numpy()
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"ids must be a 1-D sequence of token ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {array.dtype}")
    return array.astype(np.int32, copy=False)


def lm_windows(ids, batch_size, num_steps):
    """The PTB-tutorial windows as NumPy arrays ``(x, y)``, each ``[epoch_size, batch_size, num_steps]``.

    Raises:
        ValueError: ``batch_size``/``num_steps`` not positive ints, or fewer tokens than one
            window needs (``batch_size * (num_steps + 1)``).
    """
    ids = _as_ids(ids)
    epoch_size = lm_epoch_size(ids.size, batch_size, num_steps)  # checks batch_size, num_steps
    batch_size, num_steps = int(batch_size), int(num_steps)
    if epoch_size == 0:
        raise ValueError(
            f"too few tokens ({ids.size}) for one window with batch_size={batch_size} and "
            f"num_steps={num_steps}: need at least batch_size * (num_steps + 1) = "
            f"{batch_size * (num_steps + 1)}; decrease batch_size or num_steps"
        )
    batch_len = ids.size // batch_size
    data = ids[: batch_size * batch_len].reshape(batch_size, batch_len)  # [B, L]
    span = epoch_size * num_steps
    # [B, E*T] -> [B, E, T] -> [E, B, T]
    x = data[:, :span].reshape(batch_size, epoch_size, num_steps).transpose(1, 0, 2)
    y = data[:, 1 : span + 1].reshape(batch_size, epoch_size, num_steps).transpose(1, 0, 2)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def lm_batches(ids, batch_size, num_steps, start=0):
    """A ``tf.data.Dataset`` of ``(x, y)`` int32 ``[batch_size, num_steps]`` LM windows.

    One pass over the dataset is one epoch; see the module docstring for the layout.

    Args:
        ids: 1-D integer token ids (e.g. ``Corpus.train``).
        batch_size: rows per batch (independent streams).
        num_steps: tokens per row per batch (the truncated-BPTT length).
        start: first window to yield, in ``[0, epoch_size]``: resuming an epoch that was
            interrupted after ``start`` windows yields exactly the remaining windows.

    Returns:
        A ``tf.data.Dataset`` with ``lm_epoch_size(len(ids), batch_size, num_steps) - start``
        elements, in order, with static shapes.

    Raises:
        ValueError: bad ``batch_size``, ``num_steps`` or ``start``, or too few tokens.

    Example:
        >>> ds = lm_batches(np.arange(100), batch_size=4, num_steps=5)
        >>> [x.shape for x, y in ds][:1]
        [TensorShape([4, 5])]
    """
    x, y = lm_windows(ids, batch_size, num_steps)
    epoch_size = x.shape[0]
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start <= epoch_size:
        raise ValueError(f"start must be an int in [0, epoch_size={epoch_size}], got {start!r}")
    return tf.data.Dataset.from_tensor_slices((x[start:], y[start:]))
