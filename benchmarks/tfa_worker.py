"""TF Addons peer worker: tensorflow/nmt's attention model through ``tfa.seq2seq`` (tf-keras).

Run by :mod:`benchmarks.seq2seq` as a script: TF Addons 0.23 imports only
against Keras 2, so it runs in a process of its own with ``TF_USE_LEGACY_KERAS=1``, every
``tf_keras*`` module aliased as ``keras*`` before ``tensorflow_addons`` is imported, and
``np.Inf`` (removed in NumPy 2) restored. It imports nothing from tfseq; imported, it lends
its program (:class:`Model`, :func:`train_step`, written against ``keras`` and ``tfa`` modules
passed in), which :mod:`benchmarks.seq2seq` also runs on Keras 3 with ``tfa`` = ``tfseq``, the
only change a user makes. Protocol (that of
:mod:`benchmarks.tf1_worker`): one JSON request per line on stdin, one JSON reply per line::

    {"op": "probe"}  -> {"ok": true, "versions": {...}} | {"error": "..."}
    {"op": "build", "key": k, "bench": b, "jit": bool, "shape": {...}, "data": path}
        -> {"first_call_s": s, "check": [...], "ops": n, "loop_body_ops": [n, ...]}
           (first call = trace + compile + one step; ops: :func:`graph_ops`)
    {"op": "run", "key": k, "reps": n}  -> {"seconds": s}   (timed here, IPC excluded)
    {"op": "drop", "key": k}            -> {"ok": true}
    {"op": "quit"}

The model (weights from ``data``, TF1 layout, converted to ``tf.keras.layers.LSTMCell``'s):
a bidirectional ``RNN(LSTMCell)`` encoder, ``AttentionWrapper(StackedRNNCells([LSTMCell] * 2),
LuongAttention(scale=True), attention_layer_size=units, output_attention=True)`` started
from the encoder's (forward, backward) final states, a bias-free ``Dense(vocab)``; training
is ``BasicDecoder(TrainingSampler)`` with the projection after the decoder or inside it,
mean token cross-entropy, ``clip_by_global_norm(5)``, SGD(1.0) (nmt's defaults); decoding
is ``BasicDecoder(GreedyEmbeddingSampler)`` or ``BeamSearchDecoder`` with a length penalty.
"""

import json
import os
import sys
import time
import traceback
import warnings

if __name__ == "__main__":  # as the worker; imported, it only lends its pure helpers
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

np.Inf = np.inf  # NumPy 2 removed it; tensorflow_addons still uses it


def _import_tfa():
    import tf_keras

    for name in list(sys.modules):  # tensorflow_addons imports `keras`: give it Keras 2
        if name == "tf_keras" or name.startswith("tf_keras."):
            sys.modules["keras" + name[len("tf_keras"):]] = sys.modules[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "TF Addons supports TF < 2.16": known
        import tensorflow_addons

    return tf_keras, tensorflow_addons


def keras_lstm_weights(kernel, bias, input_depth, forget_bias):
    """TF1 ``BasicLSTMCell`` ``kernel [D+H, 4H]``, ``bias [4H]`` (gates i, j, f, o; ``forget_bias``
    added in the step) -> ``tf.keras.layers.LSTMCell``'s ``[kernel, recurrent_kernel, bias]`` (i, f, c, o)."""
    i, j, f, o = np.split(kernel, 4, axis=1)
    k = np.concatenate([i, f, j, o], axis=1)
    bi, bj, bf, bo = np.split(bias, 4)
    return [k[:input_depth], k[input_depth:], np.concatenate([bi, bf + forget_bias, bj, bo])]


def graph_ops(fn):
    """Op counts of a traced ``tf.function``: ``{"ops": all nodes (graph + its functions),
    "loop_body_ops": nodes of each ``while`` body, largest first}`` (training: forward and backward)."""
    graph_def = fn.get_concrete_function().graph.as_graph_def()
    functions = graph_def.library.function
    bodies = sorted((len(f.node_def) for f in functions if "while_body" in f.signature.name), reverse=True)
    return {"ops": len(graph_def.node) + sum(len(f.node_def) for f in functions), "loop_body_ops": bodies}


class Model:
    """nmt's model built from TF1-layout weights (see the module docstring)."""

    def __init__(self, keras, tfa, weights, shape):
        units, vocab = shape["units"], shape["vocab"]
        self.tfa, self.shape = tfa, shape
        self.src_embedding = tf.Variable(weights["src_embedding"], name="src_embedding")
        self.tgt_embedding = tf.Variable(weights["tgt_embedding"], name="tgt_embedding")
        cells = {name: keras.layers.LSTMCell(units) for name in ("enc_fw", "enc_bw", "dec0", "dec1")}
        self.encoder = keras.layers.Bidirectional(
            keras.layers.RNN(cells["enc_fw"], return_sequences=True, return_state=True),
            backward_layer=keras.layers.RNN(cells["enc_bw"], return_sequences=True, return_state=True,
                                            go_backwards=True))
        # build every layer with one tiny call, then load the weights
        memory, state = self.encode(tf.zeros([1, 2], tf.int32), tf.constant([2]))
        self.mechanism = tfa.seq2seq.LuongAttention(units, memory=memory, scale=True)
        self.cell = tfa.seq2seq.AttentionWrapper(keras.layers.StackedRNNCells([cells["dec0"], cells["dec1"]]),
                                                 self.mechanism, attention_layer_size=units, output_attention=True)
        self.projection = keras.layers.Dense(vocab, use_bias=False)
        self.cell(tf.zeros([1, units]), self.initial_state(1, state))
        self.projection(tf.zeros([1, units]))
        depths = {"enc_fw": units, "enc_bw": units, "dec0": 2 * units, "dec1": units}
        # Bidirectional rebuilds its layers from their configs: load the cells it runs
        cells.update(enc_fw=self.encoder.forward_layer.cell, enc_bw=self.encoder.backward_layer.cell)
        for name, cell in cells.items():
            cell.set_weights(keras_lstm_weights(weights[f"{name}_kernel"], weights[f"{name}_bias"], depths[name],
                                                float(weights["forget_bias"])))
        self.mechanism.memory_layer.kernel.assign(weights["memory_kernel"])
        self.mechanism.scale_weight.assign(weights["attention_g"])
        self.cell._attention_layers[0].kernel.assign(weights["attention_kernel"])
        self.projection.kernel.assign(weights["projection"])

    def encode(self, source, source_length):
        """``(memory [batch, S, 2 units], (fw_state, bw_state))``; the mechanism is set up on it."""
        x = tf.nn.embedding_lookup(self.src_embedding, source)
        mask = tf.sequence_mask(source_length, tf.shape(source)[1])
        memory, fw_h, fw_c, bw_h, bw_c = self.encoder(x, mask=mask)
        return memory, ([fw_h, fw_c], [bw_h, bw_c])

    def initial_state(self, rows, encoder_state):
        state = self.cell.get_initial_state(batch_size=rows, dtype=tf.float32)
        return state.clone(cell_state=tf.nest.pack_sequence_as(state.cell_state, tf.nest.flatten(encoder_state)))

    @property
    def trainable_variables(self):
        return ([self.src_embedding, self.tgt_embedding] + self.encoder.trainable_variables
                + self.cell.trainable_variables + self.projection.trainable_variables)


def train_step(model, keras, batch, inside):
    """``step() -> loss``: the program's compiled-to-be training step (``inside``: the projection as
    ``BasicDecoder``'s output layer)."""
    tfa, shape = model.tfa, model.shape
    optimizer = keras.optimizers.SGD(1.0)
    decoder = tfa.seq2seq.BasicDecoder(model.cell, tfa.seq2seq.TrainingSampler(),
                                       output_layer=model.projection if inside else None,
                                       maximum_iterations=shape["target_length"])

    def step():
        with tf.GradientTape() as tape:
            memory, encoder_state = model.encode(batch["source"], batch["source_length"])
            model.mechanism.setup_memory(memory, memory_sequence_length=batch["source_length"])
            x = tf.nn.embedding_lookup(model.tgt_embedding, batch["target_in"])  # [batch, T, units]
            outputs, _, _ = decoder(x, initial_state=model.initial_state(shape["batch"], encoder_state),
                                    sequence_length=batch["target_length"])
            logits = outputs.rnn_output if inside else model.projection(outputs.rnn_output)  # [batch, T, V]
            xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["target_out"], logits=logits)
            loss = tf.reduce_mean(xent)
        variables = model.trainable_variables
        grads, _ = tf.clip_by_global_norm(tape.gradient(loss, variables), 5.0)
        optimizer.apply_gradients(zip(grads, variables))
        return loss

    return step


def _decode(model, batch, beam):
    tfa, shape = model.tfa, model.shape
    rows = shape["decode_batch"] * (shape["beam_width"] if beam else 1)
    start = tf.fill([shape["decode_batch"]], int(shape["start_id"]))
    if beam:
        decoder = tfa.seq2seq.BeamSearchDecoder(model.cell, shape["beam_width"], output_layer=model.projection,
                                                length_penalty_weight=shape["length_penalty"],
                                                maximum_iterations=shape["decode_steps"])
    else:
        decoder = tfa.seq2seq.BasicDecoder(model.cell, tfa.seq2seq.GreedyEmbeddingSampler(),
                                           output_layer=model.projection, maximum_iterations=shape["decode_steps"])

    def decode():
        memory, encoder_state = model.encode(batch["decode_source"], batch["decode_source_length"])
        lengths = batch["decode_source_length"]
        if beam:
            memory = tfa.seq2seq.tile_batch(memory, shape["beam_width"])
            lengths = tfa.seq2seq.tile_batch(lengths, shape["beam_width"])
            encoder_state = tfa.seq2seq.tile_batch(encoder_state, shape["beam_width"])
        model.mechanism.setup_memory(memory, memory_sequence_length=lengths)
        outputs, _, _ = decoder(model.tgt_embedding, start_tokens=start, end_token=int(shape["end_id"]),
                                initial_state=model.initial_state(rows, encoder_state))
        return outputs.predicted_ids[:, :, 0] if beam else outputs.sample_id  # [batch, L]

    return decode


def build(request, keras, tfa):
    """``(run, first_call_s, check, ops)``: the compiled workload, its first call's time, its check
    values and its op counts (:func:`graph_ops`)."""
    data = dict(np.load(request["data"]))
    shape, bench = request["shape"], request["bench"]
    model = Model(keras, tfa, data, shape)
    batch = {name: tf.constant(data[name]) for name in ("source", "source_length", "target_in", "target_out",
                                                        "target_length", "decode_source", "decode_source_length")}
    if bench.startswith("train"):
        fn = tf.function(train_step(model, keras, batch, inside=bench == "train_inside"),
                         jit_compile=request["jit"])
    else:
        fn = tf.function(_decode(model, batch, beam=bench == "beam"), jit_compile=request["jit"])
    start = time.perf_counter()
    first = fn().numpy()
    first_call_s = time.perf_counter() - start
    # training: the losses of the first two steps (the second shows the update); decoding: the ids
    check = [float(first), float(fn().numpy())] if bench.startswith("train") else first.tolist()
    return fn, first_call_s, check, graph_ops(fn)


def _timed(fn, reps):
    start = time.perf_counter()
    for _ in range(reps):
        result = fn()
    np.asarray(result)
    return time.perf_counter() - start


def main():
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the protocol
    runs, modules = {}, None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "quit":
                break
            if op in ("probe", "build") and modules is None:
                modules = _import_tfa()
            if op == "probe":
                reply = {"ok": True, "versions": {"tensorflow": tf.__version__, "tf_keras": modules[0].__version__,
                                                  "tensorflow_addons": modules[1].__version__}}
            elif op == "build":
                fn, first_call_s, check, ops = build(request, *modules)
                runs[request["key"]] = fn
                reply = {"first_call_s": first_call_s, "check": check, **ops}
            elif op == "run":
                reply = {"seconds": _timed(runs[request["key"]], request["reps"])}
            elif op == "drop":
                runs.pop(request["key"])
                reply = {"ok": True}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception:  # noqa: BLE001 - reported to the parent, which marks the implementation failed
            reply = {"error": traceback.format_exc(limit=3)}
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
