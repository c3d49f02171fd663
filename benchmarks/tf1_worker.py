"""TF1 legacy peer worker: a separate process (``TF_USE_LEGACY_KERAS=1``, graph mode).

Run by :mod:`benchmarks.peers_tf1` as a script, never imported: TF1's legacy cells
(tf-keras) cannot share a process with Keras 3. It imports nothing from tfseq.
Protocol: one JSON request per line on stdin, one JSON reply per line on stdout::

    {"op": "build", "key": k, "bench": b, "family": f, "shape": {...}, "data": path}
        -> {"ok": true} | {"error": "..."}
    {"op": "run", "key": k, "reps": n}  -> {"seconds": s}   (timed here, IPC excluded)
    {"op": "drop", "key": k}            -> {"ok": true}
    {"op": "quit"}

The graphs are the TF PTB tutorial's: ``MultiRNNCell`` of legacy cells + ``dynamic_rnn``,
softmax, ``sum(xent) / batch`` loss, ``clip_by_global_norm(5)``, ``GradientDescentOptimizer(1.0)``;
generation feeds the state back through ``sess.run`` one token at a time.
"""

import json
import os
import sys
import time
import traceback

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf1 = tf.compat.v1
tf1.disable_eager_execution()

_CELLS = {
    "lstm": lambda n: tf1.nn.rnn_cell.BasicLSTMCell(n, forget_bias=0.0),
    "gru": lambda n: tf1.nn.rnn_cell.GRUCell(n),
    "rnn": lambda n: tf1.nn.rnn_cell.BasicRNNCell(n),
}


def _multi_cell(family, shape):
    return tf1.nn.rnn_cell.MultiRNNCell([_CELLS[family](shape["hidden"]) for _ in range(shape["layers"])])


def _checksum(tensors):
    return tf.add_n([tf.reduce_sum(tf.convert_to_tensor(t)) for t in tensors])


def _softmax_vars(data):
    embedding = tf1.get_variable("embedding", initializer=data["embedding"])
    softmax_w = tf1.get_variable("softmax_w", initializer=data["softmax_w"])
    softmax_b = tf1.get_variable("softmax_b", initializer=data["softmax_b"])
    return embedding, softmax_w, softmax_b


def _build_fwd_bwd(family, shape, data, sess):
    cell = _multi_cell(family, shape)
    x = tf.constant(data["x"])
    y, _ = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    loss = tf.reduce_sum(y * tf.constant(data["dy"]))
    fetch = _checksum(tf1.gradients(loss, [x] + tf1.trainable_variables()))
    sess.run(tf1.global_variables_initializer())
    return lambda: sess.run(fetch)


def _build_train(family, shape, data, sess):
    embedding, softmax_w, softmax_b = _softmax_vars(data)
    inputs = tf1.nn.embedding_lookup(embedding, tf.constant(data["ids"]))  # [batch, time, hidden]
    outputs, _ = tf1.nn.dynamic_rnn(_multi_cell(family, shape), inputs, dtype=tf.float32)
    logits = tf.matmul(tf.reshape(outputs, [-1, shape["hidden"]]), softmax_w) + softmax_b
    xent = tf1.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.reshape(tf.constant(data["targets"]), [-1]), logits=logits
    )
    loss = tf.reduce_sum(xent) / shape["batch"]
    tvars = tf1.trainable_variables()
    grads, _ = tf.clip_by_global_norm(tf1.gradients(loss, tvars), 5.0)
    train_op = tf1.train.GradientDescentOptimizer(1.0).apply_gradients(zip(grads, tvars))
    sess.run(tf1.global_variables_initializer())
    return lambda: sess.run([train_op, loss])


def _build_generate(family, shape, data, sess):
    embedding, softmax_w, softmax_b = _softmax_vars(data)
    cell = _multi_cell(family, shape)
    token = tf1.placeholder(tf.int64, [1])
    state = tf.nest.map_structure(
        lambda t: tf1.placeholder(tf.float32, t.shape), cell.zero_state(1, tf.float32)
    )
    with tf1.variable_scope("rnn"):
        y, new_state = cell(tf1.nn.embedding_lookup(embedding, token), state)  # [1, hidden]
    sample = tf1.random.categorical(tf.matmul(y, softmax_w) + softmax_b, 1)[:, 0]  # [1]
    state_phs = tf.nest.flatten(state)
    fetches = [sample] + tf.nest.flatten(new_state)
    zeros = [np.zeros(p.shape.as_list(), np.float32) for p in state_phs]
    sess.run(tf1.global_variables_initializer())

    def generate():
        values = [np.zeros([1], np.int64)] + zeros
        for _ in range(shape["gen_tokens"]):
            values = sess.run(fetches, dict(zip([token] + state_phs, values)))

    return generate


_BUILDERS = {"fwd_bwd": _build_fwd_bwd, "train": _build_train, "generate": _build_generate}


def _timed(fn, reps):
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return time.perf_counter() - start


def main():
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the protocol
    sessions = {}
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "quit":
                break
            if op == "build":
                data = dict(np.load(request["data"]))
                graph = tf.Graph()
                with graph.as_default():
                    tf1.set_random_seed(0)
                    sess = tf1.Session(graph=graph)
                    run = _BUILDERS[request["bench"]](request["family"], request["shape"], data, sess)
                graph.finalize()
                sessions[request["key"]] = (sess, run)
                reply = {"ok": True}
            elif op == "run":
                reply = {"seconds": _timed(sessions[request["key"]][1], request["reps"])}
            elif op == "drop":
                sess, _ = sessions.pop(request["key"])
                sess.close()
                reply = {"ok": True}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception:  # reported to the parent, which marks the implementation failed
            reply = {"error": traceback.format_exc(limit=3)}
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
