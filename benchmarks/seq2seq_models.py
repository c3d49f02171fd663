"""The seq2seq benchmark's models and workloads in this process: tfseq, plain Keras 3, keras-hub.

tfseq's side is :class:`~tfseq.demos.translate.model.TranslationModel` (tensorflow/nmt's
model), driven through ``tfseq.seq2seq`` as the TF Addons worker (:mod:`benchmarks.tfa_worker`)
drives ``tfa.seq2seq``: teacher forcing with ``BasicDecoder(TrainingSampler)`` (the
projection after the decoder, nmt's layout, or inside it), and the model's own
``nn.dynamic_rnn`` forward; greedy ``BasicDecoder(GreedyEmbeddingSampler)``; beam search with
``BeamSearchDecoder``. The plain Keras 3 encoder-decoder (:func:`keras_model`) has the same
sizes but attends after its decoder LSTMs (no input feeding), so it does less work and is a
speed reference, not a parity check. keras-hub's samplers drive tfseq's attention cell.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from benchmarks.translate import per_step_forward
from tfseq import nn, seq2seq
from tfseq.data.subwords import BOS_ID, EOS_ID
from tfseq.demos.translate.model import TranslationModel
from tfseq.seq2seq import fused_attention


@dataclasses.dataclass(frozen=True)
class Seq2seqShape:
    """nmt's model at one size; decoding runs ``2 * source_length`` steps (``max_length_ratio`` 2)."""

    batch: int = 64
    source_length: int = 20
    target_length: int = 22
    vocab: int = 8000
    units: int = 256
    decode_batch: int = 32
    beam_width: int = 5
    length_penalty: float = 1.0

    @property
    def decode_steps(self):
        return 2 * self.source_length

    def as_dict(self):
        return {**dataclasses.asdict(self), "decode_steps": self.decode_steps, "start_id": BOS_ID, "end_id": EOS_ID}


QUICK = Seq2seqShape(batch=4, source_length=5, target_length=6, vocab=50, units=16, decode_batch=3, beam_width=2)

# TranslationModel weight -> the worker's name (TF1 layout, see tfa_worker.keras_lstm_weights)
_WEIGHT_NAMES = {
    "src_embedding/embeddings": "src_embedding", "tgt_embedding/embeddings": "tgt_embedding",
    "encoder_fw_cell_0/kernel": "enc_fw_kernel", "encoder_fw_cell_0/bias": "enc_fw_bias",
    "encoder_bw_cell_0/kernel": "enc_bw_kernel", "encoder_bw_cell_0/bias": "enc_bw_bias",
    "decoder_cell_0/kernel": "dec0_kernel", "decoder_cell_0/bias": "dec0_bias",
    "decoder_cell_1/kernel": "dec1_kernel", "decoder_cell_1/bias": "dec1_bias",
    "memory_layer_kernel": "memory_kernel", "attention_g": "attention_g",
    "attention_layer/kernel": "attention_kernel", "output_projection/kernel": "projection",
}
FORGET_BIAS = 1.0  # TranslationModel's BasicLSTMCell


def make_model(shape, reference=None, precision="float32"):
    """A built TranslationModel (bi encoder, 2 layers, scaled Luong); ``reference``'s weights when given.
    ``precision``: its Keras dtype policy, ``"float32"`` or ``"mixed_bfloat16"`` (float32 weights)."""
    model = TranslationModel(shape.vocab, shape.vocab, shape.units, num_layers=2, encoder_type="bi",
                             attention="scaled_luong", init_weight=0.1, seed=0, dtype=precision)
    model.build()
    if reference is not None:
        model.set_weights(reference.get_weights())
    return model


def export_weights(model):
    """``{worker name: array}`` of the model's weights, plus ``forget_bias``."""
    out = {"forget_bias": np.float32(FORGET_BIAS)}
    for weight in model.weights:
        matches = [name for suffix, name in _WEIGHT_NAMES.items() if weight.path.endswith(suffix)]
        if len(matches) != 1:
            raise ValueError(f"no single worker name for weight {weight.path!r}: {matches}")
        out[matches[0]] = np.asarray(weight.numpy())
    if len(out) != len(_WEIGHT_NAMES) + 1:
        raise ValueError(f"expected {len(_WEIGHT_NAMES)} weights, got {sorted(out)}")
    return out


def make_batch(shape, seed=0):
    """Random ids (never the start or end token), full lengths; numpy arrays for both processes."""
    rng = np.random.default_rng(seed)

    def ids(rows, length):
        return rng.integers(4, shape.vocab, (rows, length)).astype(np.int32)

    return {
        "source": ids(shape.batch, shape.source_length),
        "source_length": np.full([shape.batch], shape.source_length, np.int32),
        "target_in": ids(shape.batch, shape.target_length),
        "target_out": ids(shape.batch, shape.target_length),
        "target_length": np.full([shape.batch], shape.target_length, np.int32),
        "decode_source": ids(shape.decode_batch, shape.source_length),
        "decode_source_length": np.full([shape.decode_batch], shape.source_length, np.int32),
    }


def sgd_step(variables, forward, xent=None):
    """nmt's update: mean token cross-entropy, ``clip_by_global_norm(5)``, SGD(1.0); returns the loss.
    ``xent(labels, logits)``: the per-token cross-entropy (default: TF's op on float32 logits;
    tfseq's rows use ``tfseq.nn.sparse_cross_entropy``, its own XLA program in a plain graph)."""
    optimizer = keras.optimizers.SGD(1.0)
    if xent is None:
        def xent(labels, logits):
            logits = tf.cast(logits, tf.float32)  # mixed precision: bfloat16 logits, the loss in float32
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    def loss():
        logits, targets = forward()
        return tf.reduce_mean(xent(targets, logits))

    return _sgd_update(variables, loss, optimizer)


def _sgd_update(variables, loss, optimizer):
    """``step() -> loss()``, its gradients clipped to global norm 5 and applied: nmt's update."""

    def step():
        with tf.GradientTape() as tape:
            value = loss()
        grads, _ = tf.clip_by_global_norm(tape.gradient(value, variables), 5.0)
        optimizer.apply_gradients(zip(grads, variables))
        return value

    return step


def tfseq_train(model, shape, batch, layout):
    """Teacher-forced training step. ``layout``: ``"after"`` / ``"inside"`` (BasicDecoder, the
    projection after it or inside it), ``"dynamic_rnn"`` (``nn.dynamic_rnn`` over the wrapper:
    the per-step path) or
    ``"hoisted"`` / ``"hoisted_autodiff"`` (:func:`tfseq.seq2seq.fused_attention.teacher_forced`
    with its hand-written backward / with autodiff, projection after) or ``"nmt_tf1"``
    (tensorflow/nmt's TF1 spelling: ``dynamic_decode(BasicDecoder(cell, TrainingHelper(inputs,
    lengths, time_major=True), initial_state), output_time_major=True)``, projection after)."""
    b = {k: tf.constant(v) for k, v in batch.items()}
    decoder = seq2seq.BasicDecoder(model.attention_cell, seq2seq.TrainingSampler(),
                                   output_layer=model.projection if layout == "inside" else None,
                                   maximum_iterations=shape.target_length)

    def forward():
        if layout == "dynamic_rnn":  # the per-step path (TranslationModel's forward takes the hoisted loop)
            return per_step_forward(model)(b), b["target_out"]
        memory, encoder_state = model.encode(b["source"], b["source_length"], training=True)
        model.mechanism.setup_memory(memory, memory_sequence_length=b["source_length"])
        x = model.tgt_embedding(b["target_in"])  # [batch, T, units]
        state = model.decoder_initial_state(model.attention_cell, shape.batch, encoder_state)
        if layout.startswith("hoisted"):
            backward = "autodiff" if layout == "hoisted_autodiff" else "manual"
            outputs, _ = fused_attention.teacher_forced(model.attention_cell, x, state, backward=backward)
            return model.projection(outputs), b["target_out"]
        if layout == "nmt_tf1":
            helper = seq2seq.TrainingHelper(tf.transpose(x, [1, 0, 2]), b["target_length"], time_major=True)
            outputs, _, _ = seq2seq.dynamic_decode(seq2seq.BasicDecoder(model.attention_cell, helper, state),
                                                   output_time_major=True, swap_memory=True, training=True)
            logits = tf.transpose(model.projection(outputs.rnn_output), [1, 0, 2])
            return logits, b["target_out"]
        outputs, _, _ = decoder(x, initial_state=state, sequence_length=b["target_length"], training=True)
        logits = outputs.rnn_output if layout == "inside" else model.projection(outputs.rnn_output)
        return logits, b["target_out"]

    return sgd_step(model.trainable_variables, forward, nn.sparse_cross_entropy)


PARTS = ("encoder", "attention decoder", "projection + loss")


def tfseq_train_part(model, shape, batch, part):
    """One part of the hoisted nmt-layout training step (:func:`tfseq_train`, ``"hoisted"``) alone,
    forward + backward + its SGD update, on the shapes the step gives it: ``"encoder"`` (source
    embedding, both LSTM directions; a fixed random cotangent on the memory and states),
    ``"attention decoder"`` (memory keys, target embedding, the hoisted loop with its hand-written
    backward; gradients also for the memory and the initial states) or ``"projection + loss"``
    (the output projection and ``nn.sparse_cross_entropy`` on ``[batch, T, units]`` outputs).
    Their times against the whole step's say where its time goes."""
    b = {k: tf.constant(v) for k, v in batch.items()}
    rng = np.random.default_rng(1)
    memory, encoder_state = model.encode(b["source"], b["source_length"])

    def cotangent(t):
        return tf.constant(rng.standard_normal(t.shape).astype(np.float32))

    if part == "encoder":
        variables = [v for v in model.trainable_variables if "encoder" in v.path or "src_embedding" in v.path]
        weights = [cotangent(t) for t in [memory, *tf.nest.flatten(encoder_state)]]

        def loss():
            out, state = model.encode(b["source"], b["source_length"], training=True)
            return tf.add_n([tf.reduce_sum(tf.cast(t, w.dtype) * w)
                            for t, w in zip([out, *tf.nest.flatten(state)], weights)])
    elif part == "attention decoder":
        # float32 variables (the update's dtype); cast to the model's compute dtype where used
        inputs = [tf.Variable(tf.cast(t, tf.float32)) for t in [memory, *tf.nest.flatten(encoder_state)]]
        variables = [v for v in model.trainable_variables if not any(
            name in v.path for name in ("encoder", "src_embedding", "output_projection"))] + inputs
        weights = cotangent(tf.zeros([shape.batch, shape.target_length, shape.units]))

        def loss():
            values = [tf.cast(v, memory.dtype) for v in inputs]
            model.mechanism.setup_memory(values[0], memory_sequence_length=b["source_length"])
            state = model.decoder_initial_state(model.attention_cell, shape.batch,
                                                tf.nest.pack_sequence_as(encoder_state, values[1:]))
            outputs, _ = fused_attention.teacher_forced(model.attention_cell, model.tgt_embedding(b["target_in"]),
                                                        state)
            return tf.reduce_sum(tf.cast(outputs, weights.dtype) * weights)
    elif part == "projection + loss":
        outputs = tf.Variable(rng.standard_normal([shape.batch, shape.target_length, shape.units]).astype(np.float32))
        variables = [model.projection.kernel, outputs]

        def loss():
            return tf.reduce_mean(nn.sparse_cross_entropy(b["target_out"], model.projection(outputs)))
    else:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return _sgd_update(variables, loss, keras.optimizers.SGD(1.0))


def part_flops(shape, part):
    """FLOPs of one :func:`tfseq_train_part` (forward x 3); they add up to :func:`flops` of a step."""
    parts = flops_parts(shape, "train")
    u, s = shape.units, shape.source_length
    keys = 3 * shape.batch * s * 2 * (2 * u) * u  # the memory keys: with the decoder here
    encoder = parts["encoder (both directions, memory keys)"]
    return {"encoder": encoder - keys,
            "attention decoder": parts["decoder LSTMs"] + parts["attention (scores, context, layer)"] + keys,
            "projection + loss": parts["output projection"]}[part]


def _encode_for_decoding(model, shape, b, tile):
    memory, encoder_state = model.encode(b["decode_source"], b["decode_source_length"])
    lengths = b["decode_source_length"]
    if tile > 1:
        memory, lengths, encoder_state = (seq2seq.tile_batch(t, tile) for t in (memory, lengths, encoder_state))
    model.mechanism.setup_memory(memory, memory_sequence_length=lengths)
    return encoder_state


def tfseq_decode(model, shape, batch, beam):
    """Encode + greedy (``beam=False``) or beam-search decode; returns ``fn() -> ids [batch, L]``."""
    b = {k: tf.constant(v) for k, v in batch.items()}
    width = shape.beam_width if beam else 1
    start = tf.fill([shape.decode_batch], BOS_ID)
    if beam:
        decoder = seq2seq.BeamSearchDecoder(model.attention_cell, width, embedding_fn=model.tgt_embedding,
                                            output_layer=model.projection, length_penalty_weight=shape.length_penalty,
                                            maximum_iterations=shape.decode_steps)
    else:
        decoder = seq2seq.BasicDecoder(model.attention_cell, seq2seq.GreedyEmbeddingSampler(model.tgt_embedding),
                                       output_layer=model.projection, maximum_iterations=shape.decode_steps)

    def decode():
        encoder_state = _encode_for_decoding(model, shape, b, width)
        state = model.decoder_initial_state(model.attention_cell, shape.decode_batch * width, encoder_state)
        outputs, _, _ = decoder(None, start_tokens=start, end_token=EOS_ID, initial_state=state)
        return outputs.predicted_ids[:, :, 0] if beam else outputs.sample_id  # [batch, L]

    return decode


def keras_hub_decode(model, shape, batch, sampler, beam):
    """keras-hub's ``sampler`` (a ``tf.while_loop``) stepping tfseq's attention cell through its
    ``next(prompt, cache, index)`` contract; the sampler repeats the cache for its beams itself."""
    b = {k: tf.constant(v) for k, v in batch.items()}
    width = shape.beam_width if beam else 1
    prompt = tf.concat([tf.fill([shape.decode_batch, 1], BOS_ID),
                        tf.zeros([shape.decode_batch, shape.decode_steps], tf.int32)], 1)

    def decode():
        encoder_state = _encode_for_decoding(model, shape, b, width)
        state = model.decoder_initial_state(model.attention_cell, shape.decode_batch * width, encoder_state)
        state = tf.nest.map_structure(lambda t: t[::width], state)  # one row per sentence
        template = state

        def next_fn(prompt, cache, index):
            step_state = tf.nest.pack_sequence_as(template, list(cache))
            output, step_state = model.attention_cell(model.tgt_embedding(prompt[:, index - 1]), step_state)
            return model.projection(output), None, tuple(tf.nest.flatten(step_state))

        return sampler(next_fn, prompt, cache=tuple(tf.nest.flatten(state)), index=1)[:, 1:]

    return decode


def keras_model(shape):
    """Plain Keras 3 encoder-decoder of nmt's sizes: bidirectional ``LSTM`` encoder, two decoder
    ``LSTM`` layers started from its (forward, backward) states, ``keras.layers.Attention`` over
    projected keys after the decoder (no input feeding), a tanh attention layer, the softmax."""
    units = shape.units
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    memory, fw_h, fw_c, bw_h, bw_c = keras.layers.Bidirectional(
        keras.layers.LSTM(units, return_sequences=True, return_state=True))(
        keras.layers.Embedding(shape.vocab, units)(source))
    x = keras.layers.Embedding(shape.vocab, units)(target)
    x = keras.layers.LSTM(units, return_sequences=True)(x, initial_state=[fw_h, fw_c])
    x = keras.layers.LSTM(units, return_sequences=True)(x, initial_state=[bw_h, bw_c])
    keys = keras.layers.Dense(units, use_bias=False)(memory)
    context = keras.layers.Attention()([x, memory, keys])  # dot scores of x against the keys
    attention = keras.layers.Dense(units, activation="tanh", use_bias=False)(keras.layers.Concatenate()([x, context]))
    return keras.Model([source, target], keras.layers.Dense(shape.vocab, use_bias=False)(attention))


def keras_train(model, shape, batch):
    b = {k: tf.constant(v) for k, v in batch.items()}
    return sgd_step(model.trainable_variables,
                    lambda: (model([b["source"], b["target_in"]], training=True), b["target_out"]))


def matmul_floor(shape, workload):
    """The workload's matrix products alone (``workload``: ``greedy``, ``beam`` or a training
    group, :func:`_train_floor`): the FLOPs of :func:`flops_parts`, in their dependency order,
    with nothing else, and as XLA likes them best (the encoder's input projection for all steps
    at once, every loop unrolled). Each decoding step's next input is a slice of the step's
    logits, so no step can start before the last one ends. Any implementation of the same math
    is at most this fast on the machine: its time over this one's bounds what a faster
    implementation could still win. Returns ``fn() -> scalar``."""
    if workload.startswith("train"):
        return _train_floor(shape)
    u, s, v, b = shape.units, shape.source_length, shape.vocab, shape.decode_batch
    rows = b * (shape.beam_width if workload == "beam" else 1)
    rng = np.random.default_rng(0)

    def weight(*dims):
        return tf.constant((rng.standard_normal(dims) / np.sqrt(dims[-2])).astype(np.float32))

    source, input_kernel, recurrent_kernels = weight(b * s, u), weight(u, 8 * u), weight(2, u, 4 * u)
    memory_kernel, layer_kernels = weight(2 * u, u), (weight(3 * u, 4 * u), weight(2 * u, 4 * u))
    attention_kernel, projection, first_input = weight(3 * u, u), weight(u, v), weight(rows, u)

    def run():
        inputs = tf.reshape(source @ input_kernel, [b, s, 2, 4 * u])  # both directions, all steps
        states, outputs = [tf.zeros([b, u])] * 2, [[], []]
        for t in range(s):
            for d, step in ((0, t), (1, s - 1 - t)):
                states[d] = (inputs[:, step, d] + states[d] @ recurrent_kernels[d])[:, :u]
                outputs[d].append(states[d])
        memory = tf.concat([tf.stack(outputs[0], 1), tf.stack(outputs[1][::-1], 1)], -1)  # [b, s, 2u]
        keys = tf.reshape(tf.reshape(memory, [b * s, 2 * u]) @ memory_kernel, [b, s, u])
        group = rows // b  # a sentence's beams read its memory once a step, as tfseq reads tile_batch's rows
        x, attention, h0, h1 = first_input, tf.zeros([rows, u]), tf.zeros([rows, u]), tf.zeros([rows, u])
        for _ in range(shape.decode_steps):
            h0 = (tf.concat([x, attention, h0], 1) @ layer_kernels[0])[:, :u]
            h1 = (tf.concat([h0, h1], 1) @ layer_kernels[1])[:, :u]
            scores = tf.einsum("bgk,bsk->bgs", tf.reshape(h1, [b, group, u]), keys)
            context = tf.reshape(tf.einsum("bgs,bsd->bgd", scores, memory), [rows, 2 * u])
            attention = tf.concat([h1, context], 1) @ attention_kernel
            x = (attention @ projection)[:, :u]
        return tf.reduce_sum(x)

    return run


def _train_floor(shape):
    """The training step's matrix products alone: the forward of :func:`matmul_floor` with
    teacher forcing (the target's input projection for all steps at once, the output projection
    after the loop), then the backward in reverse dependency order: per step the transposed
    products that carry the gradient to the step before (decoder, then both encoder directions),
    after each loop every weight's gradient as one large product. Where the real backward has
    element-wise gate derivatives, the floor passes the gradient on unchanged (four copies for
    four gates). Three times the forward FLOPs, as :func:`flops_parts` counts."""
    u, s, n, v, b = shape.units, shape.source_length, shape.target_length, shape.vocab, shape.batch
    rng = np.random.default_rng(0)

    def weight(*dims):
        return tf.constant((rng.standard_normal(dims) / np.sqrt(dims[-2])).astype(np.float32))

    source, target, input_kernel, recurrent_kernels = weight(b * s, u), weight(b * n, u), weight(u, 8 * u), \
        weight(2, u, 4 * u)
    memory_kernel, x_kernel, ah_kernel, kernel_1 = weight(2 * u, u), weight(u, 4 * u), weight(2 * u, 4 * u), \
        weight(2 * u, 4 * u)
    attention_kernel, projection = weight(3 * u, u), weight(u, v)

    def gates(d):  # the gradient of four gates, each taken as d itself
        return tf.concat([d] * 4, 1)

    def run():
        inputs = tf.reshape(source @ input_kernel, [b, s, 2, 4 * u])
        states, enc = [tf.zeros([b, u])] * 2, [[], []]  # enc[d][k]: the state before direction d's k-th step
        for t in range(s):
            for d, step in ((0, t), (1, s - 1 - t)):
                enc[d].append(states[d])
                states[d] = (inputs[:, step, d] + states[d] @ recurrent_kernels[d])[:, :u]
        outs = [[], []]
        for d in (0, 1):  # the outputs in source order
            outs[d] = enc[d][1:] + [states[d]]
        memory = tf.concat([tf.stack(outs[0], 1), tf.stack(outs[1][::-1], 1)], -1)  # [b, s, 2u]
        flat_memory = tf.reshape(memory, [b * s, 2 * u])
        keys = tf.reshape(flat_memory @ memory_kernel, [b, s, u])
        xw = tf.reshape(target @ x_kernel, [b, n, 4 * u])
        attention, h0, h1 = tf.zeros([b, u]), tf.zeros([b, u]), tf.zeros([b, u])
        in0, in1, in_a, scores_all, h1_all, out = [], [], [], [], [], []
        for t in range(n):
            in0.append(tf.concat([attention, h0], 1))
            h0 = (xw[:, t] + in0[-1] @ ah_kernel)[:, :u]
            in1.append(tf.concat([h0, h1], 1))
            h1 = (in1[-1] @ kernel_1)[:, :u]
            scores = tf.einsum("rk,rsk->rs", h1, keys)
            context = tf.einsum("rs,rsd->rd", scores, memory)
            in_a.append(tf.concat([h1, context], 1))
            attention = in_a[-1] @ attention_kernel
            scores_all.append(scores)
            h1_all.append(h1)
            out.append(attention)
        flat_out = tf.reshape(tf.stack(out, 1), [b * n, u])
        logits = flat_out @ projection  # [b * n, v]; its gradient taken as the logits themselves
        d_out = tf.reshape(logits @ tf.transpose(projection), [b, n, u])
        grads = [tf.transpose(flat_out) @ logits]
        d_attention, d_h0, d_h1 = tf.zeros([b, u]), tf.zeros([b, u]), tf.zeros([b, u])
        d_keys, d_memory = tf.zeros([b, s, u]), tf.zeros([b, s, 2 * u])
        dz0, dz1, d_a = [None] * n, [None] * n, [None] * n
        for t in reversed(range(n)):
            d_a[t] = d_out[:, t] + d_attention
            d_in_a = d_a[t] @ tf.transpose(attention_kernel)
            d_context = d_in_a[:, u:]
            d_scores = tf.einsum("rd,rsd->rs", d_context, memory)
            d_memory += tf.einsum("rs,rd->rsd", scores_all[t], d_context)
            d_keys += tf.einsum("rs,rk->rsk", d_scores, h1_all[t])
            dz1[t] = gates(d_in_a[:, :u] + d_h1 + tf.einsum("rs,rsk->rk", d_scores, keys))
            d_in1 = dz1[t] @ tf.transpose(kernel_1)
            dz0[t] = gates(d_in1[:, :u] + d_h0)
            d_in0 = dz0[t] @ tf.transpose(ah_kernel)
            d_attention, d_h0, d_h1 = d_in0[:, :u], d_in0[:, u:], d_in1[:, u:]

        def flat(steps):
            return tf.reshape(tf.stack(steps, 1), [b * n, -1])

        dz0_flat = flat(dz0)
        grads += [tf.transpose(flat(in0)) @ dz0_flat, tf.transpose(flat(in1)) @ flat(dz1),
                  tf.transpose(flat(in_a)) @ flat(d_a), tf.transpose(target) @ dz0_flat,
                  dz0_flat @ tf.transpose(x_kernel)]
        flat_d_keys = tf.reshape(d_keys, [b * s, u])
        grads.append(tf.transpose(flat_memory) @ flat_d_keys)
        d_memory += tf.reshape(flat_d_keys @ tf.transpose(memory_kernel), [b, s, 2 * u])
        d_states, dz_enc = [tf.zeros([b, u])] * 2, [[None] * s, [None] * s]
        for t in reversed(range(s)):
            for d, step in ((0, t), (1, s - 1 - t)):
                dz_enc[d][step] = gates(d_states[d] + d_memory[:, step, d * u:(d + 1) * u])
                d_states[d] = dz_enc[d][step] @ tf.transpose(recurrent_kernels[d])
        for d in (0, 1):
            order = range(s) if d == 0 else range(s - 1, -1, -1)  # direction d's k-th step reads enc[d][k]
            dz = tf.stack([dz_enc[d][step] for step in order], 1)
            grads.append(tf.transpose(tf.reshape(tf.stack(enc[d], 1), [b * s, u])) @ tf.reshape(dz, [b * s, 4 * u]))
        dz_in = tf.reshape(tf.stack([tf.stack(dz_enc[0], 1), tf.stack(dz_enc[1], 1)], 2), [b * s, 8 * u])
        grads += [tf.transpose(source) @ dz_in, dz_in @ tf.transpose(input_kernel)]
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return run


def flops_parts(shape, workload):
    """``{part: FLOPs}`` of one iteration (multiply-adds x 2; training: forward x 3 for forward + backward)."""
    u, s, v = shape.units, shape.source_length, shape.vocab
    if workload.startswith("train"):
        sentences, rows, steps, factor = shape.batch, shape.batch, shape.target_length, 3
    else:
        rows = shape.decode_batch * (shape.beam_width if workload == "beam" else 1)
        sentences, steps, factor = shape.decode_batch, shape.decode_steps, 1
    per_row_step = {  # one decoder row, one step
        "decoder LSTMs": 2 * (3 * u) * 4 * u + 2 * (2 * u) * 4 * u,  # [x, attention, h] -> 4u; [h0, h1] -> 4u
        "attention (scores, context, layer)": 2 * s * u + 2 * s * 2 * u + 2 * (3 * u) * u,
        "output projection": 2 * u * v,
    }
    parts = {"encoder (both directions, memory keys)": sentences * s * (2 * 2 * (2 * u) * 4 * u + 2 * (2 * u) * u)}
    parts.update({name: rows * steps * f for name, f in per_row_step.items()})
    return {name: factor * f for name, f in parts.items()}


def flops(shape, workload):
    """FLOPs of one iteration (the sum of :func:`flops_parts`)."""
    return sum(flops_parts(shape, workload).values())
