"""The matmuls alone: how fast any implementation of a workload's math could run on this machine.

A workload's FLOPs (:func:`benchmarks.shapes.bench_flops`) are matrix products, most of them
small and chained step to step. :func:`make` times exactly those products, in their dependency
order, with nothing else (no gate nonlinearities, no loss, no optimizer update), arranged as
XLA likes them best: every loop unrolled, each layer's input projection for all steps at once
(forward) and its weight gradients as one product over all steps (backward). Per layer, with
``k`` gate blocks (LSTM 4, GRU 3, RNN 1), inputs ``X [B*T, H]`` and gate gradients ``G``:

    forward   P = X @ Wx;    h_t = sum of the k blocks of (P_t + h_{t-1} @ Wh)
    backward  c_t = G_t @ Wh^T (chained from t = T down to 1);  dWh = H_prev^T @ G;
              dWx = X^T @ G;  dX = G @ Wx^T (the next layer down's output gradient)

with ``G_t`` the step's output gradient plus ``c_{t+1}``, repeated ``k`` times (a stand-in for
the gates' elementwise backward). ``train`` adds the softmax projection ``Y @ Ws`` and its two
gradient products. Forward + backward is 3x the forward FLOPs, the count every implementation's
GFLOP/s is computed from, so an implementation's speed over this one's is the fraction of the
achievable it reaches, and this one's speed over a peer's bounds what any implementation of the
same math could still gain over that peer here.
"""

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from benchmarks import tf_harness
from benchmarks.shapes import GATE_BLOCKS, Shape

NAME = "matmuls alone (XLA)"


def make(bench: str, family: str, shape: Shape) -> Callable[[int], float]:
    """``run(reps) -> seconds`` of ``bench`` (``fwd_bwd`` or ``train``) for ``family``'s FLOPs at ``shape``."""
    if bench not in ("fwd_bwd", "train"):
        raise ValueError(f"the matmul floor covers fwd_bwd and train, got bench={bench!r}")
    return tf_harness.timed(tf.function(_program(bench, family, shape), jit_compile=True))


def _program(bench, family, shape):
    k, h, b, t, v = GATE_BLOCKS[family], shape.hidden, shape.batch, shape.num_steps, shape.vocab
    rng = np.random.default_rng(0)

    def constant(*dims):
        return tf.constant((rng.standard_normal(dims) / np.sqrt(dims[0])).astype(np.float32))

    inputs, output_gradient = constant(t * b, h), constant(t * b, h)  # time-major rows
    kernels = [(constant(h, k * h), constant(h, k * h)) for _ in range(shape.layers)]  # (Wx, Wh)
    softmax = constant(h, v)

    def forward(x, wx, wh):
        projected = tf.reshape(x @ wx, [t, b, k * h])
        state, outputs = tf.zeros([b, h]), []
        for step in range(t):
            gates = tf.reshape(projected[step] + state @ wh, [b, k, h])
            state = tf.reduce_sum(gates, 1)  # reads every gate block, as a cell does
            outputs.append(state)
        return tf.concat(outputs, 0)  # [t * b, h]

    def backward(x, previous, gradient, wx, wh):
        gradient = tf.reshape(gradient, [t, b, h])
        carry, gates = tf.zeros([b, h]), [None] * t
        for step in reversed(range(t)):
            gates[step] = tf.tile(gradient[step] + carry, [1, k])  # [b, k * h]
            carry = tf.matmul(gates[step], wh, transpose_b=True)
        gates = tf.concat(gates, 0)  # [t * b, k * h]
        weight_gradients = (tf.matmul(previous, gates, transpose_a=True), tf.matmul(x, gates, transpose_a=True))
        return tf.matmul(gates, wx, transpose_b=True), weight_gradients

    def run():
        layer_inputs, layer_outputs, x = [], [], inputs
        for wx, wh in kernels:
            layer_inputs.append(x)
            x = forward(x, wx, wh)
            layer_outputs.append(x)
        # Every product is summed whole: a sum of a slice would let XLA compute only that slice.
        total, gradient = tf.constant(0.0), output_gradient
        if bench == "train":
            logits = x @ softmax  # the logits stand in for their own gradient
            gradient = tf.matmul(logits, softmax, transpose_b=True)
            total += tf.reduce_sum(tf.matmul(x, logits, transpose_a=True))
        for (wx, wh), x_in, y in zip(reversed(kernels), reversed(layer_inputs), reversed(layer_outputs)):
            previous = tf.concat([tf.zeros([b, h]), y[:-b]], 0)  # h_{t-1} of every step, [t * b, h]
            gradient, weight_gradients = backward(x_in, previous, gradient, wx, wh)
            total += sum(tf.reduce_sum(w) for w in weight_gradients)
        return total + tf.reduce_sum(gradient)

    return run
