"""``tf.distribute`` costs on this machine: a two-worker loopback cluster vs one worker, and
``strategy.run`` with one replica vs no strategy.

1. **Overhead** (one process): the same LM Trainer step with no strategy and under a
   one-replica ``MirroredStrategy`` (both without XLA: under a strategy the LM's step falls
   back from XLA, see ``tfseq.train.distribute``). Steps are timed in rounds (none, mirrored,
   none, mirrored ...) and the minimum and median per-step times are reported.
2. **Scaling** (subprocesses): one worker trains the global batch alone; then two
   ``MultiWorkerMirroredStrategy`` workers on 127.0.0.1 (free ports, ``TF_CONFIG`` each) train
   the same global batch, half each. Reported: global tokens per second, and the time of a
   bare SUM all-reduce of the model's gradients between the two workers per step.

    python -m benchmarks.distribute                      # PTB-small-shaped LM, synthetic ids
    python -m benchmarks.distribute --hidden 32 --vocab 500 --steps 50 --rounds 5 --part overhead

Expect no speed-up on a 2-core machine shared with other work: the two workers compete for
the same cores, and every step adds an all-reduce over loopback gRPC.
"""

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time


def _model_parts(args, strategy, batch_size):
    import keras
    import numpy as np

    from tfseq.demos.lm import language_model_from_config, presets
    from tfseq.demos.lm.task import LanguageModelTask
    from tfseq.train import Trainer

    ids = np.random.default_rng(0).integers(0, args.vocab, batch_size * args.num_steps * (args.steps + 12) + 1)
    config = presets.get("small").with_overrides(hidden_size=args.hidden, vocab_size=args.vocab, num_layers=2,
                                                 batch_size=batch_size, num_steps=args.num_steps, keep_prob=1.0)
    with strategy.scope() if strategy else contextlib.nullcontext():
        keras.utils.set_random_seed(0)
        model = language_model_from_config(config, seed=0)
        task = LanguageModelTask(model, ids.astype(np.int32), batch_size, args.num_steps)
        optimizer = keras.optimizers.SGD(1.0)
    return model, Trainer(task, optimizer, 1, max_grad_norm=5.0, jit_compile=False, strategy=strategy)


def _time_steps(trainer, steps, warmup=3):
    """Seconds per step of ``steps`` steps after ``warmup`` (batches fetched beforehand)."""
    from tfseq.train.distribute import distribute_batches

    if trainer.strategy is None:
        batches = iter(trainer.task.train_batches(0))
    else:
        batches = distribute_batches(trainer.strategy, lambda: trainer.task.train_batches(0))
    fetched = [next(batches) for _ in range(steps + warmup)]
    for batch in fetched[:warmup]:
        trainer._run_step(batch)
    float(trainer.global_step.numpy())
    started = time.perf_counter()
    for batch in fetched[warmup:]:
        trainer._run_step(batch)
    float(trainer.global_step.numpy())  # waits for the last step
    return (time.perf_counter() - started) / steps


def overhead(args):
    import tensorflow as tf

    runs = {"none": [], "mirrored-1": []}
    trainers = {"none": _model_parts(args, None, args.batch)[1],
                "mirrored-1": _model_parts(args, tf.distribute.MirroredStrategy(["/cpu:0"]), args.batch)[1]}
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            trainer.step_in_epoch.assign(0)
            runs[name].append(_time_steps(trainer, args.steps))
    return {name: {"min_ms": 1e3 * min(t), "median_ms": 1e3 * statistics.median(t)} for name, t in runs.items()}


def _all_reduce_ms(strategy, model, steps):
    import tensorflow as tf

    shapes = [v.shape for v in model.trainable_variables]

    @tf.function
    def reduce_once():
        def fn():
            grads = [tf.ones(s) for s in shapes]
            return tf.add_n([tf.reduce_sum(g) for g in
                             tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)])
        return strategy.run(fn)
    reduce_once()
    started = time.perf_counter()
    for _ in range(steps):
        value = reduce_once()
    float(strategy.experimental_local_results(value)[0])
    return 1e3 * (time.perf_counter() - started) / steps


def worker(args):
    """One process of the scaling run: prints a JSON line."""
    from tfseq.train.distribute import make_strategy

    strategy = make_strategy("multi-worker") if os.environ.get("TF_CONFIG") else None
    model, trainer = _model_parts(args, strategy, args.batch)  # the global batch
    seconds = min(_time_steps(trainer, args.steps) for _ in range(2))
    out = {"workers": 2 if strategy else 1, "step_ms": 1e3 * seconds,
           "tokens_per_second": args.batch * args.num_steps / seconds}
    if strategy is not None:
        out["all_reduce_ms"] = _all_reduce_ms(strategy, model, args.steps)
        out["gradient_floats"] = int(sum(v.shape.num_elements() for v in model.trainable_variables))
    print(json.dumps(out), flush=True)


def _free_ports(count):
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def scaling(args, timeout=900):
    base = [sys.executable, "-m", "benchmarks.distribute", "--worker", *_shape_args(args)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    one = subprocess.run(base, env=env, capture_output=True, text=True, timeout=timeout, check=True)
    results = [json.loads(one.stdout.strip().splitlines()[-1])]
    ports = _free_ports(2)
    procs = []
    try:
        for index in range(2):
            config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                      "task": {"type": "worker", "index": index}}
            procs.append(subprocess.Popen(base, env={**env, "TF_CONFIG": json.dumps(config)},
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (out, err) in zip(procs, outs):
        if p.returncode:
            raise RuntimeError(f"a worker failed: {err[-2000:]}")
    results.append(json.loads(outs[0][0].strip().splitlines()[-1]))  # the chief's view
    return results


def _shape_args(args):
    return ["--hidden", str(args.hidden), "--vocab", str(args.vocab), "--batch", str(args.batch),
            "--num-steps", str(args.num_steps), "--steps", str(args.steps)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].replace("``", ""))
    parser.add_argument("--hidden", type=int, default=200, help="LSTM units (PTB small: 200)")
    parser.add_argument("--vocab", type=int, default=10000, help="vocabulary (PTB: 10000)")
    parser.add_argument("--batch", type=int, default=20, help="global batch (PTB small: 20)")
    parser.add_argument("--num-steps", type=int, default=20, help="BPTT length (PTB small: 20)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="overhead: interleaved rounds")
    parser.add_argument("--part", choices=("both", "overhead", "scaling"), default="both", help="what to measure")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    print(f"LM 2x{args.hidden} LSTM, vocab {args.vocab}, global batch {args.batch} x {args.num_steps} tokens, "
          f"{os.cpu_count()} CPUs")
    if args.part != "scaling":
        for name, t in overhead(args).items():
            print(f"overhead  {name:11s} {t['min_ms']:8.2f} ms/step (min)  {t['median_ms']:8.2f} (median)")
    for r in scaling(args) if args.part != "overhead" else []:
        extra = f", all-reduce of {r['gradient_floats']:,} floats {r['all_reduce_ms']:.2f} ms" if "all_reduce_ms" in r \
            else ""
        print(f"scaling   {r['workers']} worker(s) {r['step_ms']:8.2f} ms/step  "
              f"{r['tokens_per_second']:10,.0f} tokens/s{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
