"""Sentiment classification: test accuracy on the real corpora, and training throughput
against the same model written with plain Keras 3 layers.

    python -m benchmarks.classify_quality quality --data DIR --config sst2 [key=value ...]
    python -m benchmarks.classify_quality throughput [--steps 30]

``quality`` runs ``tfseq classify train`` (a fresh run in a temporary logdir) and prints its
test line and the wall time; ``--seeds 0 1 2`` repeats it. ``throughput`` times training
steps (forward, backward, Adam) of tfseq's :class:`~tfseq.demos.classify.model.SentenceClassifier`
(bidirectional LSTM, max pooling) and of ``Embedding -> Bidirectional(LSTM) ->
GlobalMaxPooling1D -> Dense`` on the same random batches, each in one ``tf.function``
(with and without XLA), and prints sentences per second and their ratio.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time


def quality(args):
    results = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as logdir:
            argv = [sys.executable, "-m", "tfseq", "classify", "train", "--data", args.data, "--config", args.config,
                    "--logdir", logdir, "--run", f"seed{seed}", "--seed", str(seed), "--no-progress", *args.overrides]
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stdout, done.stderr, file=sys.stderr)
            return done.returncode
        print(done.stdout.strip())
        match = re.search(r"^test: accuracy ([\d.]+)%", done.stdout, re.MULTILINE)
        accuracy = float(match[1]) if match else float("nan")
        results.append(accuracy)
        print(f"seed {seed}: test accuracy {accuracy:.2f} % in {seconds / 60:.1f} min: {' '.join(argv[1:])}",
              flush=True)
    if len(results) > 1:
        import numpy as np

        print(f"test accuracy over seeds {args.seeds}: mean {np.mean(results):.2f} %, "
              f"min {min(results):.2f}, max {max(results):.2f}")
    return 0


def throughput(args):
    import keras
    import numpy as np
    import tensorflow as tf

    from tfseq.demos.classify.model import SentenceClassifier

    vocab, batch, length, dim, units = 15000, args.batch_size, args.length, 300, 150
    rng = np.random.default_rng(0)
    ids = tf.constant(rng.integers(1, vocab, (batch, length)), tf.int32)
    labels = tf.constant(rng.integers(0, 2, batch), tf.int32)
    lengths = tf.fill([batch], length)

    ours = SentenceClassifier(vocab, 2, embedding_dim=dim, num_units=units, pooling="max", seed=0)
    ours.build()
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, dim)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True))(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    plain = keras.Model(inputs, keras.layers.Dense(2)(x))

    def step_fn(model, call, jit):
        optimizer = keras.optimizers.Adam(1e-3)

        def step():
            with tf.GradientTape() as tape:
                logits = call(model)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return tf.function(step, jit_compile=jit)

    def timed(step):
        for _ in range(3):
            step()
        started = time.perf_counter()
        for _ in range(args.steps):
            step()
        return args.steps * batch / (time.perf_counter() - started)

    rates = {}
    for jit in (False, True):
        rates[("tfseq", jit)] = timed(step_fn(ours, lambda m: m({"ids": ids, "length": lengths}, training=True), jit))
        rates[("keras", jit)] = timed(step_fn(plain, lambda m: m(ids, training=True), jit))
    print(f"batch {batch}, length {length}, embeddings {dim}, BiLSTM {units} per direction, max pooling, Adam; "
          f"{args.steps} timed steps")
    for jit in (False, True):
        ratio = rates[("tfseq", jit)] / rates[("keras", jit)]
        print(f"jit_compile={jit}: tfseq {rates[('tfseq', jit)]:.0f} sentences/s, keras.layers "
              f"{rates[('keras', jit)]:.0f} sentences/s, ratio tfseq/keras {ratio:.2f}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classify_quality", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--data", required=True)
    q.add_argument("--config", default="sst2")
    q.add_argument("--seeds", type=int, nargs="+", default=[0])
    q.add_argument("overrides", nargs="*")
    q.set_defaults(func=quality)
    t = sub.add_parser("throughput")
    t.add_argument("--steps", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--length", type=int, default=32)
    t.set_defaults(func=throughput)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
