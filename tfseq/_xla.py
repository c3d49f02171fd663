"""Ground floor: "is the code being traced part of an XLA program?" and "does XLA pay for this
dtype here?", each asked in one place, and the one op whose fastest spelling depends on the first.

TensorFlow has no public test for the first; this reads the same private flag TF's own control
flow uses. Imports nothing from tfseq.
"""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # no public "inside jit_compile?" test


def inside_xla() -> bool:
    """Whether the code being traced is part of an XLA (``jit_compile=True``) program.

    False when executing eagerly. Inside a caller's XLA program a nested ``jit_compile``
    function would only add a program boundary (measured: a GRU training step then recompiled
    at every call), and XLA drops ``Assert`` ops, so callers check this first.
    """
    if tf.executing_eagerly():
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


HALF_DTYPES = (tf.bfloat16, tf.float16)


def xla_pays_for(dtype: tf.dtypes.DType | str) -> bool:
    """Whether compiling with XLA is the faster default for computation in ``dtype`` here.

    False for ``bfloat16``/``float16`` on a machine without a GPU: XLA's CPU backend runs
    half-precision programs slower than TensorFlow's own kernels (oneDNN) do; measured under
    ``mixed_bfloat16`` for tensorflow/nmt's attention model in every tfseq layout (the
    translation demo's ``nn.dynamic_rnn`` forward among them) and the PTB LSTM step
    (benchmarks/RESULTS.md, "Mixed precision" and "A second machine"). True otherwise.
    """
    if tf.as_dtype(dtype) not in HALF_DTYPES:
        return True
    return bool(tf.config.list_logical_devices("GPU"))


def argmax(values: tf.Tensor) -> tf.Tensor:
    """``tf.argmax(values, axis=-1, output_type=tf.int32)``: the index of each row's largest
    entry, the first of tied maxima.

    Inside an XLA program it is written as two reductions (the row's maximum, then the lowest
    index holding it), which XLA's CPU backend vectorises, instead of its single
    ``(value, index)`` reduction, which it does not: over greedy decoding's ``[32, 8000]``
    logits, 95 against 210 microseconds a step (benchmarks/RESULTS.md, "decoding under XLA"). Outside XLA,
    ``tf.argmax`` (TensorFlow's own kernel is the faster one there). The indices are the same
    wherever the row holds no NaN; with NaNs ``tf.argmax`` itself answers differently under
    XLA and without it, and this returns some index in range.
    """
    depth = values.shape[-1]
    if depth is None or not inside_xla():
        return tf.argmax(values, axis=-1, output_type=tf.int32)
    top = tf.reduce_max(values, axis=-1, keepdims=True)
    at = tf.where(tf.equal(values, top), tf.range(depth, dtype=tf.int32), depth)
    return tf.minimum(tf.reduce_min(at, axis=-1), depth - 1)
