"""``python -m benchmarks.lstm_options``: LSTMCell with peepholes, ``cell_clip`` and
``num_proj``/``proj_clip`` (and contrib's ``LSTMBlockCell``), fused vs per step, with
``BasicLSTMCell`` as the reference.

Forward + backward of a 2-layer ``MultiRNNCell`` through ``tfseq.nn.dynamic_rnn`` inside a
``tf.function``, at the TF PTB tutorial's small shapes (batch 20, 20 steps, 200 units,
inputs of width 200), timed in interleaved rounds (:mod:`benchmarks.timing`). Rows: the
fused path (XLA-compiled, the default inside a ``tf.function``), the fused path without
XLA, and the per-step path (``fast=False``). Prints median ms per step and words/s, and the
ratio of each row to the per-step one.
"""

import argparse
import statistics

import numpy as np
import tensorflow as tf

from benchmarks.timing import Candidate, measure, timed
from tfseq import nn, rnn_cell

CELLS = {
    "basic_lstm": lambda units: rnn_cell.BasicLSTMCell(units),  # the reference: the plain fused kernel
    "lstm_options": lambda units: rnn_cell.LSTMCell(
        units, use_peepholes=True, cell_clip=3.0, num_proj=units // 2, proj_clip=3.0
    ),
    "lstm_block": lambda units: rnn_cell.LSTMBlockCell(units, use_peephole=True, cell_clip=3.0),
}
PATHS = {"fused_xla": {"fast": True, "xla": True}, "fused": {"fast": True, "xla": False}, "per_step": {"fast": False}}


def make_candidate(cell_name, path, batch, steps, units, layers):
    def make():
        cell = rnn_cell.MultiRNNCell([CELLS[cell_name](units) for _ in range(layers)])
        rng = np.random.default_rng(0)
        x = tf.constant(rng.standard_normal((batch, steps, units)).astype(np.float32))
        cell.build((None, units))
        options = PATHS[path]

        @tf.function
        def fwd_bwd():
            with tf.GradientTape() as tape:
                tape.watch(x)
                y, _ = nn.dynamic_rnn(cell, x, dtype=tf.float32, training=False, **options)
                loss = tf.reduce_sum(y * y)
            grads = tape.gradient(loss, [x] + cell.trainable_weights)
            return tf.add_n([tf.reduce_sum(g) for g in grads])

        return timed(fwd_bwd, np.asarray)

    return Candidate(f"{cell_name}/{path}", "tfseq", make)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lstm_options", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)
    candidates = [make_candidate(c, p, args.batch, args.steps, args.units, args.layers) for c in CELLS for p in PATHS]
    results = measure(candidates, args.rounds, min_time=args.min_time)
    words = args.batch * args.steps
    print(f"fwd+bwd, {args.layers}x{args.units} MultiRNNCell, batch {args.batch}, {args.steps} steps, "
          f"{args.rounds} rounds (median)")
    for cell_name in CELLS:
        per_step = statistics.median(results[f"{cell_name}/per_step"]["samples"])
        for path in PATHS:
            result = results[f"{cell_name}/{path}"]
            if "error" in result:
                print(f"  {cell_name:13s} {path:9s} error: {result['error']}")
                continue
            median = statistics.median(result["samples"])
            print(f"  {cell_name:13s} {path:9s} {1e3 * median:7.2f} ms  {words / median:9,.0f} words/s  "
                  f"{per_step / median:4.2f}x per-step")


if __name__ == "__main__":
    main()
