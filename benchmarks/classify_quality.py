"""Sentiment classification: test accuracy on the real corpora, and training throughput
against the same model written with plain Keras 3 layers.

    python -m benchmarks.classify_quality quality --data DIR --config sst2 [key=value ...]
    python -m benchmarks.classify_quality quality --data DIR/mr --config mr --folds 10
    python -m benchmarks.classify_quality throughput [--steps 30]

``quality`` runs ``tfseq classify train`` (a fresh run in a temporary logdir) and prints its
test line, the child's CPU time (user + system, all threads) and its wall time; ``--seeds 0 1 2``
repeats it. ``--folds K`` (MR, a directory with ``rt-polarity.{pos,neg}``) is Kim (2014)'s
protocol instead: the snippets are shuffled with ``numpy.random.default_rng(--fold-seed)`` and
cut into ``K`` folds (``numpy.array_split``); fold ``k`` is the test split of the ``k``-th run,
the last ``--valid-fraction`` of the other folds (in the shuffled order) its validation split,
the rest its training data; each run gets the fold's three splits as ``stsa.binary.*`` files
of tokens (the same tokens ``tfseq`` reads from MR) and trains with the first of ``--seeds``.
It prints every fold's test and validation accuracy and the means over the folds.
``throughput`` times training
steps (forward, backward, Adam) of tfseq's :class:`~tfseq.demos.classify.model.SentenceClassifier`
(bidirectional LSTM, max pooling) and of ``Embedding -> Bidirectional(LSTM) ->
GlobalMaxPooling1D -> Dense`` on the same random batches, each in one ``tf.function``
(with and without XLA), and prints sentences per second and their ratio.
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time

from benchmarks.timing import run_child


def _train(args, data, seed):
    """Run ``tfseq classify train`` on ``data`` in a fresh logdir: ``(stdout, test accuracy,
    validation accuracy of the scored weights (the kept epoch's under ``select_best``, else the
    last epoch's), the kept epoch or ``None``, CPU seconds of the child, wall seconds)``, or the
    child's exit status when it failed."""
    with tempfile.TemporaryDirectory() as logdir:
        argv = [sys.executable, "-m", "tfseq", "classify", "train", "--data", data, "--config", args.config,
                "--logdir", logdir, "--run", f"seed{seed}", "--seed", str(seed), "--no-progress", *args.overrides]
        done, cpu, seconds = run_child(argv)
    if done.returncode != 0:
        print(done.stdout, done.stderr, file=sys.stderr)
        return done.returncode
    match = re.search(r"^test: accuracy ([\d.]+)%", done.stdout, re.MULTILINE)
    valid = re.findall(r"validation accuracy ([\d.]+)", done.stdout)  # the epoch lines print a fraction
    kept = _kept_epoch(done.stdout)
    return (done.stdout, float(match[1]) if match else float("nan"),
            100 * float(valid[kept - 1 if kept else -1]) if valid else float("nan"), kept, cpu, seconds)


def _kept_epoch(stdout):
    """The 1-based epoch whose weights a ``select_best`` run kept, or ``None``."""
    kept = re.search(r"^kept the weights of epoch (\d+) of", stdout, re.MULTILINE)
    return int(kept[1]) if kept else None


def _kept_note(kept):
    return "" if kept is None else f" (kept epoch {kept})"


def _spread(values):
    return f"{statistics.mean(values):.2f} ± {(max(values) - min(values)) / 2:.2f}"


def quality(args):
    if args.folds == 1 or args.folds < 0:
        print(f"--folds must be >= 2, got {args.folds}", file=sys.stderr)
        return 2
    if args.folds:
        return cross_validation(args)
    results = []
    for seed in args.seeds:
        outcome = _train(args, args.data, seed)
        if isinstance(outcome, int):
            return outcome
        stdout, accuracy, _, kept, cpu, seconds = outcome
        print(stdout.strip())
        results.append(accuracy)
        print(f"seed {seed}: test accuracy {accuracy:.2f} %{_kept_note(kept)}; CPU {cpu / 60:.2f} min, "
              f"wall {seconds / 60:.1f} min", flush=True)
    if len(results) > 1:
        print(f"test accuracy over seeds {args.seeds}: mean ± half-range {_spread(results)} %, "
              f"min {min(results):.2f}, max {max(results):.2f}")
    return 0


def mr_folds(examples: list, folds: int, seed: int, valid_fraction: float) -> list[tuple[list, list, list]]:
    """``(train, valid, test)`` of each of ``folds`` cross-validation runs over ``examples``:
    a permutation by ``numpy.random.default_rng(seed)`` cut into ``folds`` near-equal folds;
    run ``k`` tests on fold ``k``, validates on the last ``valid_fraction`` of the others
    (shuffled order) and trains on the rest."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(examples))
    parts = np.array_split(order, folds)
    out = []
    for k, test in enumerate(parts):
        rest = np.concatenate([p for j, p in enumerate(parts) if j != k])
        n_valid = round(len(rest) * valid_fraction)
        train, valid = rest[:len(rest) - n_valid], rest[len(rest) - n_valid:]
        out.append(tuple([examples[i] for i in idx] for idx in (train, valid, test)))
    return out


def write_fold(directory: str, parts: tuple[list, list, list]) -> None:
    """Write ``(train, valid, test)`` lists of ``(tokens, label)`` as ``stsa.binary.{train,dev,test}``
    (``<label> <tokens>`` lines) in ``directory``, where ``tfseq classify`` reads them back."""
    for name, part in zip(("train", "dev", "test"), parts):
        with open(os.path.join(directory, f"stsa.binary.{name}"), "w", encoding="utf-8") as f:
            f.writelines(f"{label} {' '.join(tokens)}\n" for tokens, label in part)


def cross_validation(args):
    from tfseq.data.sentiment import read_polarity_file, tokenize

    examples = (read_polarity_file(os.path.join(args.data, "rt-polarity.neg"), 0)
                + read_polarity_file(os.path.join(args.data, "rt-polarity.pos"), 1))
    for tokens, _ in examples:  # the files written below must read back as the same tokens
        assert tokenize(" ".join(tokens)) == tokens, tokens
    seed = args.seeds[0]
    print(f"MR, {len(examples)} snippets, {args.folds} folds shuffled with default_rng({args.fold_seed}), "
          f"validation the last {args.valid_fraction:g} of each training part; config {args.config} "
          f"{' '.join(args.overrides)}; seed {seed}", flush=True)
    tests, valids, cpus = [], [], []
    for k, parts in enumerate(mr_folds(examples, args.folds, args.fold_seed, args.valid_fraction)):
        with tempfile.TemporaryDirectory() as data:
            write_fold(data, parts)
            outcome = _train(args, data, seed)
        if isinstance(outcome, int):
            return outcome
        _, accuracy, valid, kept, cpu, seconds = outcome
        tests.append(accuracy)
        valids.append(valid)
        cpus.append(cpu / 60)
        print(f"fold {k}: {'/'.join(str(len(p)) for p in parts)} train/valid/test; test accuracy {accuracy:.2f} %, "
              f"validation {valid:.2f} %{_kept_note(kept)}; CPU {cpu / 60:.2f} min, wall {seconds / 60:.1f} min",
              flush=True)
    print(f"{args.folds}-fold cross-validation: test accuracy mean {statistics.mean(tests):.2f} % "
          f"(standard deviation {statistics.stdev(tests):.2f}, min {min(tests):.2f}, max {max(tests):.2f}); "
          f"validation mean {statistics.mean(valids):.2f} %; CPU {sum(cpus):.1f} min in all "
          f"({max(cpus):.2f} min at most per fold)")
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
    q.add_argument("--folds", type=int, default=0, help="K-fold cross-validation on MR (0: no)")
    q.add_argument("--fold-seed", type=int, default=0, help="seed of the folds' shuffle")
    q.add_argument("--valid-fraction", type=float, default=0.1,
                   help="share of each fold's training part held out for validation")
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
