"""Slot filling: test scores of ``tfseq tag train`` on ATIS/SNIPS, and its training throughput
against the same model written with plain Keras 3 layers.

    nice -n 10 python -m benchmarks.tag_quality quality --data DIR/atis --config atis --seeds 0 1 2
    nice -n 10 python -m benchmarks.tag_quality throughput --data DIR/atis --steps 60

``quality`` runs ``tfseq tag train`` in a child process per seed and prints its test line
(and, with ``select_best``, the epoch whose weights were kept), the child's CPU time (user +
system, all threads: the "CPU minutes" of the goals) and its wall time, then the mean and spread
(max - min) over the seeds.

``throughput`` trains the ``joint`` model (embedding, one bidirectional LSTM layer, a slot
layer and an intent layer, the joint loss) in two versions on the same padded batches of the
training split: tfseq's :class:`~tfseq.demos.tag.model.SlotIntentModel` (tfseq cells through
``tfseq.nn.bidirectional_dynamic_rnn``) and a plain Keras one (``Embedding(mask_zero=True)``,
``Bidirectional(LSTM(return_sequences=True))``, ``Dense``). Both run the same Adam step in a
``tf.function`` (with and without XLA), alternating rounds of ``--steps`` steps so that a load
on the machine falls on both; it prints words per second (wall and per CPU second) and the
ratio tfseq / Keras. Not part of the installed package.
"""

import argparse
import os
import re
import statistics
import sys
import time

from benchmarks.timing import run_child


def quality(args):
    results = []
    for seed in args.seeds:
        run = f"{args.config}-s{seed}-{int(time.time())}"
        argv = [sys.executable, "-m", "tfseq", "tag", "train", "--data", args.data, "--config", args.config,
                "--logdir", args.logdir, "--run", run, "--seed", str(seed), "--no-progress", *args.overrides]
        done, cpu, wall = run_child(argv)
        test = next((line for line in done.stdout.splitlines() if line.startswith("Test ")), None)
        kept = next((line for line in done.stdout.splitlines() if line.startswith("kept the weights")), None)
        print(f"seed {seed}: {test or done.stderr.strip().splitlines()[-1:]}; CPU {cpu / 60:.2f} min, wall "
              f"{wall / 60:.1f} min{'; ' + kept if kept else ''}", flush=True)
        if test:
            numbers = re.findall(r"slot F1 ([\d.]+).*intent accuracy ([\d.]+).*sentence accuracy ([\d.]+)", test)[0]
            results.append([float(x) for x in numbers] + [cpu / 60])
    if results:
        print(f"{args.config} on {args.data}, {len(results)} seeds: " + ", ".join(
            f"{name} {statistics.mean(col):.2f} ± {(max(col) - min(col)) / 2:.2f}" for name, col in
            zip(("slot F1", "intent acc", "sentence acc", "CPU min"), zip(*results))))


def _keras_model(vocab_size, num_tags, num_intents, units, embedding_size):
    import keras

    words = keras.Input([None], dtype="int32", name="words")
    x = keras.layers.Embedding(vocab_size, embedding_size, mask_zero=True)(words)
    h, fw_h, _, bw_h, _ = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True,
                                                                       return_state=True))(x)
    slots = keras.layers.Dense(num_tags)(h)
    intent = keras.layers.Dense(num_intents)(keras.layers.Concatenate()([fw_h, bw_h]))
    return keras.Model(words, [slots, intent])


def throughput(args):
    import keras
    import tensorflow as tf

    from tfseq.data.slots import SlotVocabularies, load_slots
    from tfseq.demos.tag import presets
    from tfseq.demos.tag.model import joint_loss, tag_model_from_config
    from tfseq.demos.tag.task import TagTask

    corpus = load_slots(args.data)
    vocab = SlotVocabularies.build(corpus.train)
    config = presets.get("tiny").with_overrides(num_units=args.units, embedding_size=args.units, dropout=0.0,
                                                word_dropout=0.0, batch_size=args.batch_size, variant="joint")
    keras.utils.set_random_seed(0)
    ours = tag_model_from_config(config, vocab, seed=0)
    theirs = _keras_model(vocab.words.size, vocab.tags.size, vocab.intents.size, args.units, args.units)
    task = TagTask(ours, vocab, corpus, config)
    batches = [b for _, b in zip(range(args.steps), task.train_batches(0))]
    words = sum(float(tf.reduce_sum(tf.cast(b["length"], tf.float32) * b["weight"])) for b in batches)

    def make_step(model, call, jit):
        optimizer = keras.optimizers.Adam(1e-3)

        def step(batch):
            with tf.GradientTape() as tape:
                slot_logits, intent_logits = call(model, batch)
                objective, _ = joint_loss(slot_logits, batch["tags"], batch["length"], intent_logits,
                                          batch["intent"], batch["weight"])
            grads = tape.gradient(objective, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return objective
        return tf.function(step, jit_compile=jit)

    contenders = {
        "tfseq (XLA)": make_step(ours, lambda m, b: m(b, training=True), True),
        "tfseq": make_step(ours, lambda m, b: m(b, training=True), False),
        "keras Bidirectional(LSTM)": make_step(theirs, lambda m, b: m(b["words"], training=True), False),
        "keras Bidirectional(LSTM) (XLA)": make_step(theirs, lambda m, b: m(b["words"], training=True), True),
    }
    for step in contenders.values():  # trace and compile every shape first
        for batch in batches:
            step(batch)
    timings = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, step in contenders.items():
            cpu, wall = time.process_time(), time.perf_counter()
            for batch in batches:
                step(batch)
            timings[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    print(f"{args.steps} batches of {args.batch_size} ({words:.0f} words), {args.units} units, best of "
          f"{args.rounds} rounds")
    best = {name: min(t[0] for t in rows) for name, rows in timings.items()}
    best_cpu = {name: min(t[1] for t in rows) for name, rows in timings.items()}
    for name in contenders:
        print(f"  {name:34s} {words / best[name]:8.0f} words/s wall, {words / best_cpu[name]:8.0f} words per CPU "
              f"second")
    for times, kind in ((best, "wall"), (best_cpu, "CPU time")):
        base = min(times["keras Bidirectional(LSTM)"], times["keras Bidirectional(LSTM) (XLA)"])
        for name in ("tfseq (XLA)", "tfseq"):
            print(f"ratio {name} / fastest keras: {base / times[name]:.2f} ({kind})")


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tag_quality", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--data", required=True)
    q.add_argument("--config", default="atis")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--logdir", default="logdir/tag-quality")
    q.add_argument("overrides", nargs="*", metavar="key=value")
    t = sub.add_parser("throughput")
    t.add_argument("--data", required=True)
    t.add_argument("--steps", type=int, default=40)
    t.add_argument("--rounds", type=int, default=3)
    t.add_argument("--units", type=int, default=128)
    t.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    quality(args) if args.mode == "quality" else throughput(args)


if __name__ == "__main__":
    main()
