"""``sparse_cross_entropy``: the softmax cross-entropy of integer labels (float32 for a
mixed-precision model's logits), fast outside XLA too.

``tf.nn.sparse_softmax_cross_entropy_with_logits`` over a large vocabulary is a sizeable part
of a training step that runs as a plain graph: a step with a half-precision model, which
tfseq does not compile with XLA on a CPU (:func:`tfseq._xla.xla_pays_for`), or one run with
``jit_compile=False``. Compiled with XLA, the cast to float32, the softmax and its gradient
fuse into a few passes over the logits: tensorflow/nmt's mixed-precision training step (8,000
words) ran 1.09-1.12x faster with its loss compiled this way (``benchmarks/RESULTS.md``).
"""

from typing import Any

import tensorflow as tf

from tfseq._checks import check_optional_bool
from tfseq._xla import HALF_DTYPES, inside_xla


def _crossent(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    if logits.dtype in HALF_DTYPES:  # mixed precision: the softmax and the loss in float32
        logits = tf.cast(logits, tf.float32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


_compiled = tf.function(_crossent, jit_compile=True, autograph=False)


@tf.autograph.experimental.do_not_convert  # plain Python on Python values
def compiles_loss(logits: tf.Tensor, xla: bool | None = None) -> bool:
    """Whether :func:`sparse_cross_entropy` runs as its own XLA program for ``logits``.

    ``xla=None`` (default): inside a ``tf.function`` that is not itself compiled with XLA,
    when the logits' shape is fully known (the caller's trace fixes it: one program per
    shape, no extra compilations); eagerly, or inside an XLA program (which compiles the
    loss with everything else), no. ``True``/``False`` force it on/off.

    Raises:
        ValueError: ``xla`` is not None/True/False.
    """
    if check_optional_bool("sparse_cross_entropy", "xla", xla) is not None:
        return xla
    return tf.inside_function() and not inside_xla() and logits.shape.is_fully_defined()


def sparse_cross_entropy(labels: Any, logits: Any, xla: bool | None = None) -> tf.Tensor:
    """``-log softmax(logits)[labels]``: labels ``[d_0, ..., d_{n-1}]`` (int), logits
    ``[d_0, ..., d_{n-1}, classes]``. ``bfloat16``/``float16`` logits (a mixed-precision model's)
    are cast to float32 first, so their loss is float32; float32 and float64 logits keep their
    dtype. Equals ``tf.nn.sparse_softmax_cross_entropy_with_logits`` of those logits.

    Compiled as its own XLA program where :func:`compiles_loss` says so. A label outside
    ``[0, classes)`` is then still an ``InvalidArgumentError`` (checked before the program;
    XLA alone would give NaN).

    Raises:
        ValueError: non-float logits, or ``xla`` is not None/True/False.
    """
    logits = tf.convert_to_tensor(logits)
    labels = tf.convert_to_tensor(labels)
    if not logits.dtype.is_floating:
        raise ValueError(f"sparse_cross_entropy: logits must be floating point, got {logits.dtype.name}")
    if not compiles_loss(logits, xla):
        return _crossent(labels, logits)
    classes = tf.shape(logits, out_type=labels.dtype)[-1]
    message = "sparse_cross_entropy: labels must be in [0, classes)"
    with tf.control_dependencies([tf.debugging.assert_non_negative(labels, message=message),
                                  tf.debugging.assert_less(labels, classes, message=message)]):
        labels = tf.identity(labels)
    return _compiled(labels, logits)
