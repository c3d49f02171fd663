"""``nn.sparse_cross_entropy``: TF's sparse softmax cross-entropy of float32 logits, in value and
gradient, whether it runs as its own XLA program (inside a plain graph) or not (eagerly, inside
an XLA program, forced off); half-precision logits give float32 losses, float64 logits float64;
bad labels and bad arguments are refused by name."""

import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn
from tfseq.nn.losses import compiles_loss

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((3, 4, 11)).astype(np.float32) * 3
LABELS = RNG.integers(0, 11, (3, 4)).astype(np.int32)


def reference(logits):
    """Value and gradient of TF's op on float32 logits (NumPy arrays)."""
    x = tf.Variable(logits)
    with tf.GradientTape() as tape:
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=LABELS, logits=x)
        total = tf.reduce_sum(loss * np.arange(1, 13, dtype=np.float32).reshape(3, 4))
    return loss.numpy(), tape.gradient(total, x).numpy()


def value_and_grad(logits_dtype, xla, jit_compile=False, in_function=True):
    x = tf.Variable(LOGITS)

    def run():
        with tf.GradientTape() as tape:
            loss = nn.sparse_cross_entropy(LABELS, tf.cast(x, logits_dtype), xla=xla)
            total = tf.reduce_sum(loss * np.arange(1, 13, dtype=np.float32).reshape(3, 4))
        return loss, tape.gradient(total, x)

    loss, grad = tf.function(run, jit_compile=jit_compile)() if in_function else run()
    return loss.numpy(), grad.numpy(), loss.dtype


@pytest.mark.parametrize("xla, jit_compile, in_function", [
    (None, False, True),  # its own XLA program inside a plain graph
    (None, True, True),  # part of the caller's XLA program
    (None, False, False),  # eagerly
    (False, False, True),
    (True, False, False),
])
def test_equals_tf_in_value_and_gradient(xla, jit_compile, in_function):
    want_loss, want_grad = reference(LOGITS)
    loss, grad, dtype = value_and_grad(tf.float32, xla, jit_compile, in_function)
    assert dtype == tf.float32
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("half", [tf.bfloat16, tf.float16])
def test_half_precision_logits_give_the_float32_loss_of_their_values(half):
    rounded = tf.cast(tf.cast(LOGITS, half), tf.float32).numpy()
    want_loss, want_grad = reference(rounded)
    loss, grad, dtype = value_and_grad(half, None)
    assert dtype == tf.float32
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6, atol=1e-6)
    # the gradient flows back through the cast to half precision
    np.testing.assert_allclose(grad, want_grad, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("xla", [None, False])
def test_float64_logits_keep_their_dtype(xla):
    loss = tf.function(lambda: nn.sparse_cross_entropy(LABELS, LOGITS.astype(np.float64), xla=xla))()
    assert loss.dtype == tf.float64
    np.testing.assert_allclose(loss.numpy(), reference(LOGITS)[0], rtol=1e-6)


def test_when_the_loss_is_its_own_xla_program():
    x = tf.constant(LOGITS)
    assert not compiles_loss(x)  # eagerly
    assert tf.function(lambda: compiles_loss(x))()
    assert not tf.function(lambda: compiles_loss(x), jit_compile=True)()
    unknown = tf.function(lambda v: compiles_loss(v), input_signature=[tf.TensorSpec([None, 4, 11])])
    assert not unknown(x)
    assert compiles_loss(x, xla=True) and not tf.function(lambda: compiles_loss(x, xla=False))()
    graph = tf.function(lambda v: nn.sparse_cross_entropy(LABELS, v)).get_concrete_function(x).graph
    calls = [op for op in graph.get_operations() if op.type.endswith("PartitionedCall")]
    assert [op.get_attr("_XlaMustCompile") for op in calls] == [True]


@pytest.mark.parametrize("bad", [-1, 11])
@pytest.mark.parametrize("xla", [None, False])
def test_a_label_out_of_range_is_an_error_also_when_compiled(bad, xla):
    labels = LABELS.copy()
    labels[1, 2] = bad
    run = tf.function(lambda: nn.sparse_cross_entropy(labels, LOGITS, xla=xla))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels|Received a label value"):
        run()


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="sparse_cross_entropy: logits must be floating point, got int32"):
        nn.sparse_cross_entropy(LABELS, LABELS)
    with pytest.raises(ValueError, match="sparse_cross_entropy: xla must be None, True or False, got 'yes'"):
        nn.sparse_cross_entropy(LABELS, LOGITS, xla="yes")
