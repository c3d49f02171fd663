"""Overhead of tfseq.train's loop vs a bare ``tf.function`` training step of the same model.

Both run the same LanguageModel on the same ``lm_batches`` windows with the tutorial's loss,
global-norm clipping and SGD; the bare loop is ``for x, y in dataset: state = step(x, y, state)``.
The loop adds carried-state variables, metric sums, counters, progress refreshes and
TensorBoard scalars (writers on, checkpoints off). Both steps are compiled alike: with XLA,
as the Trainer does by default, or both without (``--no-xla``). Short epochs are interleaved
(loop, bare, loop, bare, ...), the first of each (tracing) is dropped, and the minimum and
median epoch times are reported: on a shared machine the minimum is the least disturbed figure.

    python -m benchmarks.lm_overhead                # main job: names corpus, tiny config
    python -m benchmarks.lm_overhead --shape ptb-small --epochs 3 --tokens 60000 [--no-xla]
"""

import argparse
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from tfseq.data import lm_batches, load_corpus
from tfseq.demos.lm import LanguageModelTask, language_model_from_config, presets, tutorial_cost
from tfseq.train import RunWriters, Trainer


def bare_epoch_fn(model, config, jit_compile):
    optimizer = keras.optimizers.SGD(config.learning_rate)
    variables = model.trainable_variables

    @tf.function(jit_compile=jit_compile)
    def step(x, y, state):
        with tf.GradientTape() as tape:
            logits, state = model(x, initial_state=state, training=True)
            cost = tutorial_cost(logits, y)
        grads, _ = tf.clip_by_global_norm(tape.gradient(cost, variables), config.max_grad_norm)
        optimizer.apply_gradients(zip(grads, variables))
        return state

    def epoch(ids):
        state = model.get_initial_state(config.batch_size)
        start = time.perf_counter()
        for x, y in lm_batches(ids, config.batch_size, config.num_steps).prefetch(2):
            state = step(x, y, state)
        tf.nest.flatten(state)[0].numpy()  # wait for the last step
        return time.perf_counter() - start

    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("names-tiny", "ptb-small"), default="names-tiny")
    parser.add_argument("--epochs", type=int, default=15, help="timed epochs per variant (+1 warm-up)")
    parser.add_argument("--tokens", type=int, default=40_000, help="truncate the training stream")
    parser.add_argument("--no-xla", action="store_true", help="compile neither step with XLA")
    args = parser.parse_args()

    if args.shape == "names-tiny":
        corpus = load_corpus("builtin:names", "char")
        config = presets.get("tiny").with_overrides(vocab_size=corpus.vocab.size)
        ids = corpus.train
    else:
        config = presets.get("small")
        ids = np.random.RandomState(0).randint(0, config.vocab_size, size=200_000).astype(np.int32)
    if args.tokens:
        ids = ids[: args.tokens]
    epochs = args.epochs + 1
    keras.utils.set_random_seed(0)
    loop_model = language_model_from_config(config, seed=0)
    bare_model = language_model_from_config(config, seed=0)
    task = LanguageModelTask(loop_model, ids, config.batch_size, config.num_steps)
    logdir = tempfile.mkdtemp(prefix="tfseq-overhead-")
    trainer = Trainer(task, keras.optimizers.SGD(config.learning_rate), epochs=epochs,
                      learning_rate_at=lambda e: config.learning_rate, max_grad_norm=config.max_grad_norm,
                      writers=RunWriters(logdir + "/run"), histograms=False, jit_compile=not args.no_xla)
    bare = bare_epoch_fn(bare_model, config, jit_compile=not args.no_xla)
    tokens = task.steps_per_epoch() * config.batch_size * config.num_steps
    loop_times, bare_times = [], []
    for epoch in range(epochs):
        record = trainer.fit(max_steps=(epoch + 1) * task.steps_per_epoch(), save_on_stop=False)
        loop_times.append(record[-1]["train_seconds"])
        bare_times.append(bare(ids))
        print(f"epoch {epoch}: loop {tokens / loop_times[-1]:,.0f} words/s, "
              f"bare {tokens / bare_times[-1]:,.0f} words/s", flush=True)
    print(f"{args.shape}: {task.steps_per_epoch()} steps/epoch of {config.batch_size}x{config.num_steps} tokens")
    for name, pick in (("min", min), ("median", statistics.median)):
        loop_s, bare_s = pick(loop_times[1:]), pick(bare_times[1:])
        print(f"{name} epoch: loop {loop_s:.3f} s ({tokens / loop_s:,.0f} words/s), bare tf.function "
              f"{bare_s:.3f} s ({tokens / bare_s:,.0f} words/s); loop/bare time = {loop_s / bare_s:.3f}")


if __name__ == "__main__":
    main()
