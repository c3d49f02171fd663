"""The three timed workloads for TensorFlow implementations (tfseq and Keras 3 peers).

Every TF implementation is a *stack* of ``shape.layers`` recurrent layers with:

- ``sequence(x)``: ``[batch, time, hidden] -> [batch, time, hidden]``;
- ``step(x, states)``: one token, ``[batch, hidden] -> ([batch, hidden], states)``;
- ``initial_states(batch)``: zero states in the structure ``step`` expects;
- ``variables``: its trainable variables (after ``build(hidden)``);
- ``jit_compile`` (optional, False by default): when True, the timed ``fwd_bwd`` and
  ``train`` steps are compiled whole with XLA (``tf.function(jit_compile=True)``), as
  ``tfseq lm train`` compiles its training step; generation is not affected.
- ``compute_dtype`` (optional, float32 by default): ``tf.bfloat16`` for a stack of
  ``mixed_bfloat16`` cells; the workloads then feed it bfloat16 inputs, compute the softmax
  layer in bfloat16 (float32 weights cast) and the loss in float32.

The workloads around the stack are identical for every implementation (same
embedding, softmax, loss, clipping and update code), so only the recurrent part differs:

- ``fwd_bwd``: forward + backward through the stack (gradients of inputs and weights);
- ``train``: the TF PTB tutorial's step: embedding -> stack -> softmax -> loss (sum over
  time of the batch-mean cross-entropy) -> global-norm clip 5 -> SGD (lr 1.0);
- ``generate``: batch 1, one token per ``tf.function`` call: embedding -> ``step`` ->
  softmax -> sample, for ``shape.gen_tokens`` tokens; stacks with ``in_graph_loop = True``
  run the same steps inside one graph ``tf.while_loop`` (how ``tfseq.demos.lm.generate``
  samples).

Each ``make_*`` returns a callable ``run(reps) -> seconds`` that runs ``reps`` iterations
and waits for their results.
"""

import numpy as np
import tensorflow as tf

from benchmarks import timing

LEARNING_RATE = 1.0
MAX_GRAD_NORM = 5.0
INIT_SCALE = 0.1  # the tutorial's uniform init


def make_data(shape, seed=0):
    """Inputs shared by every implementation of one shape (NumPy, float32 / int32)."""
    rng = np.random.default_rng(seed)
    size = (shape.batch, shape.num_steps)
    return {
        "ids": rng.integers(0, shape.vocab, size=size, dtype=np.int32),
        "targets": rng.integers(0, shape.vocab, size=size, dtype=np.int32),
        "x": rng.uniform(-1, 1, size=size + (shape.hidden,)).astype(np.float32),
        "dy": rng.uniform(-1, 1, size=size + (shape.hidden,)).astype(np.float32),
        "embedding": rng.uniform(-INIT_SCALE, INIT_SCALE, (shape.vocab, shape.hidden)).astype(np.float32),
        "softmax_w": rng.uniform(-INIT_SCALE, INIT_SCALE, (shape.hidden, shape.vocab)).astype(np.float32),
        "softmax_b": np.zeros([shape.vocab], np.float32),
    }


def timed(fn):
    """``run(reps) -> seconds`` around a function that returns a small tensor; reading the
    last result waits for every iteration."""
    return timing.timed(fn, np.asarray)


def _checksum(tensors):
    """A scalar that depends on every tensor, so no computation is pruned."""
    return tf.add_n([tf.reduce_sum(tf.convert_to_tensor(t)) for t in tensors])


def _step_function(stack):
    """``tf.function`` for a timed sequence step: XLA-compiled whole when ``stack.jit_compile``."""
    return tf.function(jit_compile=bool(getattr(stack, "jit_compile", False)))


def _compute_dtype(stack):
    return getattr(stack, "compute_dtype", tf.float32)


def make_fwd_bwd(stack, shape, data):
    stack.build(shape.hidden)
    x = tf.constant(data["x"])
    dy = tf.constant(data["dy"])
    variables = list(stack.variables)
    compute = _compute_dtype(stack)

    @_step_function(stack)
    def fwd_bwd():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = stack.sequence(tf.cast(x, compute))  # [batch, time, hidden]
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * dy)
        grads = tape.gradient(loss, [x] + variables)
        return _checksum(grads)

    return timed(fwd_bwd)


class _LanguageModel:
    """Embedding and softmax around a stack, as plain ``tf.Variable``s."""

    def __init__(self, stack, shape, data):
        stack.build(shape.hidden)
        self.stack = stack
        self.shape = shape
        self.embedding = tf.Variable(data["embedding"], name="embedding")
        self.softmax_w = tf.Variable(data["softmax_w"], name="softmax_w")
        self.softmax_b = tf.Variable(data["softmax_b"], name="softmax_b")
        self.variables = [self.embedding] + list(stack.variables) + [self.softmax_w, self.softmax_b]

    def logits(self, hidden):  # [n, hidden] -> [n, vocab], in hidden's dtype (float32 weights cast)
        return tf.matmul(hidden, tf.cast(self.softmax_w, hidden.dtype)) + tf.cast(self.softmax_b, hidden.dtype)


def make_train(stack, shape, data):
    model = _LanguageModel(stack, shape, data)
    ids = tf.constant(data["ids"])
    targets = tf.constant(data["targets"])

    compute = _compute_dtype(stack)

    @_step_function(stack)
    def train_step():
        with tf.GradientTape() as tape:
            inputs = tf.cast(tf.gather(model.embedding, ids), compute)  # [batch, time, hidden]
            outputs = tf.cast(stack.sequence(inputs), compute)  # [batch, time, hidden]
            logits = model.logits(tf.reshape(outputs, [-1, shape.hidden]))  # [batch*time, vocab]
            logits = tf.cast(logits, tf.float32)  # the loss in float32
            xent = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.reshape(targets, [-1]), logits=logits
            )
            loss = tf.reduce_sum(xent) / shape.batch
        grads = tape.gradient(loss, model.variables)
        grads, _ = tf.clip_by_global_norm(grads, MAX_GRAD_NORM)
        for var, grad in zip(model.variables, grads):
            if isinstance(grad, tf.IndexedSlices):  # the embedding: sparse update, as TF1's SGD
                var.scatter_sub(tf.IndexedSlices(LEARNING_RATE * grad.values, grad.indices, grad.dense_shape))
            else:
                var.assign_sub(LEARNING_RATE * grad)
        return loss

    return timed(train_step)


def make_generate(stack, shape, data):
    model = _LanguageModel(stack, shape, data)

    @tf.function
    def next_token(token, states):  # token [1] int64
        x = tf.gather(model.embedding, token)  # [1, hidden]
        y, states = stack.step(x, states)  # [1, hidden]
        sample = tf.random.categorical(model.logits(y), 1)[:, 0]  # [1]
        return sample, states

    def generate():
        token = tf.zeros([1], tf.int64)
        states = stack.initial_states(1)
        for _ in range(shape.gen_tokens):
            token, states = next_token(token, states)
        return token

    @tf.function
    def generate_in_graph():  # the whole sampling loop in one graph while_loop
        def body(t, token, states):
            token, states = next_token(token, states)
            return t + 1, token, states

        _, token, _ = tf.while_loop(
            lambda t, *_: t < shape.gen_tokens, body, (0, tf.zeros([1], tf.int64), stack.initial_states(1))
        )
        return token

    return timed(generate_in_graph if getattr(stack, "in_graph_loop", False) else generate)


WORKLOADS = {"fwd_bwd": make_fwd_bwd, "train": make_train, "generate": make_generate}


def matmul(m, k, n, dtype="float32", jit=False):
    """``run(reps) -> seconds`` of an ``[m, k] @ [k, n]`` matmul in ``dtype``, in a ``tf.function``
    (compiled with XLA when ``jit``)."""
    rng = np.random.default_rng(1)
    a = tf.cast(tf.constant(rng.standard_normal((m, k), dtype=np.float32)), dtype)
    b = tf.cast(tf.constant(rng.standard_normal((k, n), dtype=np.float32)), dtype)

    @tf.function(jit_compile=jit)
    def product():
        return tf.cast(tf.matmul(a, b)[0, 0], tf.float32)  # a float32 scalar to wait on (NumPy has no bfloat16)

    return timed(product)


def matmul_ceiling(size):
    """``run(reps) -> seconds`` of a ``[size, size] @ [size, size]`` float32 matmul."""
    return matmul(size, size, size)
