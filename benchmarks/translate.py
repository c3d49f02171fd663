"""Translation training throughput: tfseq's attentive model against a plain Keras 3 encoder-decoder.

    python -m benchmarks.translate                       # units 256, batch 64, length 20, vocab 8000
    python -m benchmarks.translate --units 128 --rounds 5
    python -m benchmarks.translate --layers 2 --encoder bi --attention scaled_luong --dropout 0.3  # the docs' Multi30k model
    python -m benchmarks.translate --units 512 --batch 128 --layers 2 --cell gru --attention bahdanau --dropout 0.5
                                                         # the multi30k preset's model

Both models have the same size: embeddings of ``units``, a one-layer LSTM encoder and a
one-layer LSTM decoder of ``units`` started from the encoder's state, Luong (dot) attention
with an attention layer ``tanh([h, context] W)`` of ``units``, a ``vocab``-way softmax,
Adam, a masked per-token cross-entropy. They differ in what tfseq's model does and Keras'
layers cannot: tfseq's ``AttentionWrapper`` feeds each step's attention vector into the next
step (Luong et al.'s input feeding, nmt's default), so attention runs inside the recurrence;
the Keras model (``keras.layers.LSTM`` + ``keras.layers.Attention``, how keras-io's examples
build it) attends once after the decoder LSTM. Each is timed as one compiled training step
(``tf.function``), with and without XLA, interleaved (:mod:`benchmarks.timing`); the figure
is target tokens per second. The ratio is of each side's fastest setting.

tfseq's model trains its decoder through ``seq2seq.fused_attention``'s hoisted loop where that
plans so (LSTM or GRU cells, Luong or Bahdanau attention, input dropout); the ``tfseq per-step``
rows run the same model's decoder through ``nn.dynamic_rnn`` (the per-step path, the same
numbers and dropout masks). ``--layers``, ``--cell``, ``--encoder``, ``--attention`` and
``--dropout`` set tfseq's model (the translate demo's fields); the Keras rows run only for its one-layer LSTM form (``--dropout`` as their
LSTMs' input dropout); ``--precision mixed_bfloat16`` runs both models under Keras' mixed policy.
"""

import argparse
import os


def _batch(batch, length, vocab, seed=0):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    ids = lambda: tf.constant(rng.integers(4, vocab, (batch, length)), tf.int32)  # noqa: E731
    return {"source": ids(), "source_length": tf.fill([batch], length), "target_in": ids(), "target_out": ids(),
            "target_weight": tf.ones([batch, length], tf.float32)}


def keras_model(vocab, units, dropout=0.0, dtype="float32"):
    """The plain Keras 3 encoder-decoder: LSTM encoder, LSTM decoder, ``keras.layers.Attention``;
    ``dtype``: every layer's dtype policy."""
    import keras

    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    enc_out, h, c = keras.layers.LSTM(units, return_sequences=True, return_state=True, dropout=dropout, dtype=dtype)(
        keras.layers.Embedding(vocab, units, dtype=dtype)(source))
    dec_out = keras.layers.LSTM(units, return_sequences=True, dropout=dropout, dtype=dtype)(
        keras.layers.Embedding(vocab, units, dtype=dtype)(target), initial_state=[h, c])
    context = keras.layers.Attention(dtype=dtype)([dec_out, enc_out])  # dot-product (Luong) scores
    attention = keras.layers.Dense(units, activation="tanh", use_bias=False, dtype=dtype)(
        keras.layers.Concatenate(dtype=dtype)([dec_out, context]))
    logits = keras.layers.Dense(vocab, use_bias=False, dtype=dtype)(attention)
    return keras.Model([source, target], logits)


def _step(model, forward, jit):
    import keras
    import tensorflow as tf

    from tfseq.demos.translate.model import masked_xent

    optimizer = keras.optimizers.Adam(1e-3)

    def step(batch):
        with tf.GradientTape() as tape:
            loss_sum, count = masked_xent(forward(batch), batch["target_out"], batch["target_weight"])
            loss = loss_sum / count
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return tf.function(step, jit_compile=jit)


def per_step_forward(model):
    """``TranslationModel``'s training forward with the decoder per step (``nn.dynamic_rnn``, ``fast=False``)."""
    import tensorflow as tf

    from tfseq import nn

    def forward(batch):
        memory, encoder_state = model.encode(batch["source"], batch["source_length"], training=True)
        model.mechanism.setup_memory(memory, memory_sequence_length=batch["source_length"])
        state = model.decoder_initial_state(model.attention_cell, tf.shape(batch["source"])[0], encoder_state)
        outputs, _ = nn.dynamic_rnn(model.attention_cell, model.tgt_embedding(batch["target_in"]),
                                    initial_state=state, training=True, fast=False)
        return tf.cast(model.projection(outputs), tf.float32)

    return forward


def candidates(args):
    import numpy as np

    from benchmarks.timing import Candidate, timed
    from tfseq.demos.translate.model import TranslationModel

    batch = _batch(args.batch, args.length, args.vocab)

    def make_tfseq(jit, per_step=False):
        def make():
            model = TranslationModel(args.vocab, args.vocab, args.units, num_layers=args.layers, cell=args.cell,
                                     encoder_type=args.encoder, attention=args.attention, dropout=args.dropout,
                                     init_weight=None, seed=0, dtype=args.precision)
            model.build()
            forward = per_step_forward(model) if per_step else (lambda b: model(b, training=True))
            step = _step(model, forward, jit)
            return timed(lambda: step(batch), np.asarray)
        return make

    def make_keras(jit):
        def make():
            model = keras_model(args.vocab, args.units, args.dropout, args.precision)
            step = _step(model, lambda b: model([b["source"], b["target_in"]], training=True), jit)
            return timed(lambda: step(batch), np.asarray)
        return make

    cands = [Candidate("tfseq", "tfseq", make_tfseq(False)), Candidate("tfseq+xla", "tfseq", make_tfseq(True)),
             Candidate("tfseq per-step", "tfseq per-step", make_tfseq(False, True)),
             Candidate("tfseq per-step+xla", "tfseq per-step", make_tfseq(True, True))]
    if args.layers == 1 and args.encoder == "uni" and args.cell == "lstm":
        cands += [Candidate("keras", "keras", make_keras(False)), Candidate("keras+xla", "keras", make_keras(True))]
    return cands


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.translate", description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=20, help="source and target length (tokens)")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--layers", type=int, default=1, help="tfseq's num_layers (even for --encoder bi)")
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm", help="tfseq's cells")
    parser.add_argument("--encoder", choices=["uni", "bi"], default="uni")
    parser.add_argument("--attention", choices=["luong", "scaled_luong", "bahdanau", "normed_bahdanau"],
                        default="luong")
    parser.add_argument("--dropout", type=float, default=0.0, help="input dropout of every cell, in [0, 1)")
    parser.add_argument("--precision", choices=["float32", "mixed_bfloat16"], default="float32",
                        help="both models' Keras dtype policy")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per timed sample")
    args = parser.parse_args(argv)
    for name in ("units", "batch", "length", "vocab", "rounds", "layers"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if not 0.0 <= args.dropout < 1.0:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}")
    if args.encoder == "bi" and args.layers % 2:
        parser.error(f"--layers must be even with --encoder bi, got {args.layers}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from benchmarks.timing import measure, summarize

    results = measure(candidates(args), args.rounds, min_time=args.min_time, log=print)
    tokens = args.batch * args.length
    best = {}
    print(f"training step, units {args.units}, batch {args.batch}, length {args.length}, vocab {args.vocab}, "
          f"{args.precision}, tfseq: {args.layers} {args.cell} layer(s), {args.encoder} encoder, {args.attention}, "
          f"dropout {args.dropout} "
          f"(target tokens/s, median of {args.rounds} interleaved rounds)")
    for name, result in results.items():
        if "error" in result:
            print(f"  {name:18s} failed: {result['error']}")
            continue
        stats = summarize(result["samples"])
        speed = tokens / stats["median_s"]
        best[name.split("+")[0]] = max(best.get(name.split("+")[0], 0.0), speed)
        print(f"  {name:18s} {speed:10,.0f} tokens/s  ({stats['median_s'] * 1e3:.1f} ms/step, "
              f"min {stats['min_s'] * 1e3:.1f}, max {stats['max_s'] * 1e3:.1f})")
    for other in ("keras", "tfseq per-step"):
        if "tfseq" in best and other in best:
            print(f"tfseq / {other} (fastest setting of each): {best['tfseq'] / best[other]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
