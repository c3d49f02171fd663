"""``python -m benchmarks.decode``: greedy and beam-search decoding speed of a 2-layer attention decoder.

One model, every implementation: an embedding, ``AttentionWrapper(MultiRNNCell([LSTMCell,
LSTMCell]), LuongAttention)`` with an attention layer, and a Dense softmax layer, over a
fixed random encoder memory. Each implementation decodes ``steps`` tokens for every row
(the end token is made unreachable, so nobody stops early) and is timed interleaved
(:mod:`benchmarks.timing`); the figure is output tokens per second (``batch * steps /
seconds``; a beam of width W still yields one sequence per row).

Implementations (``--widths`` sets the beam groups):

* ``tfseq BasicDecoder`` / ``tfseq BeamSearchDecoder`` (GNMT length penalty 0.6): the
  whole decode is one ``tf.while_loop`` (``dynamic_decode``) in a ``tf.function``, and
  the same compiled with XLA (``jit_compile=True``).
* ``keras per-token loop``: how keras-io's seq2seq examples decode, a Python loop that
  calls the model once per token (here the cell step eagerly, which is faster than their
  ``model.predict`` per token); beam search in the same style with ``top_k`` per step.
* ``keras-hub GreedySampler`` / ``BeamSampler``: keras-hub's samplers (a ``tf.while_loop``
  in a ``tf.function``) driving the same cell through their ``next(prompt, cache, index)``
  contract, in a ``tf.function`` and compiled with XLA (as keras-hub's ``CausalLM.generate``
  does); only when ``keras_hub`` is installed (``pip install keras-hub``). The BeamSampler
  ranks by summed log-probability (no length penalty, finished beams not frozen).

Ratios are ``tfseq (best of graph/XLA) / peer`` within one run.
"""

import argparse
import dataclasses
import json
import sys

import keras
import numpy as np
import tensorflow as tf

from benchmarks.timing import Candidate, measure, summarize, timed
from tfseq import rnn_cell
from tfseq import seq2seq as s2s

START = 0


@dataclasses.dataclass(frozen=True)
class DecodeShape:
    batch: int = 32
    source_length: int = 20
    steps: int = 20
    vocab: int = 4000
    units: int = 256


QUICK = DecodeShape(batch=4, source_length=5, steps=4, vocab=50, units=16)


class Model:
    """The decoder's layers for one decoding batch (``batch * beam_width`` rows), weights shared by copy."""

    def __init__(self, shape, rows, reference=None):
        self.shape, self.rows = shape, rows
        keras.utils.set_random_seed(0)
        self.memory = tf.random.normal([shape.batch, shape.source_length, shape.units])
        tiled = s2s.tile_batch(self.memory, rows // shape.batch)
        self.mechanism = s2s.LuongAttention(shape.units, memory=tiled)
        stack = rnn_cell.MultiRNNCell([rnn_cell.LSTMCell(shape.units) for _ in range(2)])
        self.cell = s2s.AttentionWrapper(stack, self.mechanism, attention_layer_size=shape.units)
        self.embed = keras.layers.Embedding(shape.vocab, shape.units)
        self.out = keras.layers.Dense(shape.vocab)
        _, _ = self.step(tf.fill([rows], START), self.initial_state())  # build
        self.end_token = shape.vocab - 1
        if reference is None:
            bias = np.zeros(shape.vocab, np.float32)
            bias[self.end_token] = -1e4  # unreachable: every implementation decodes all steps
            self.out.bias.assign(bias)
            # peaked distributions, as in a trained model (random weights give near-uniform ones over
            # the vocabulary, whose near-ties make the implementations' rounding pick different tokens)
            self.out.kernel.assign(self.out.kernel * 20.0)
        else:
            for mine, theirs in ((self.cell, reference.cell), (self.embed, reference.embed), (self.out, reference.out)):
                mine.set_weights(theirs.get_weights())
        self.mechanism.setup_memory(tiled)  # keys from the (copied) memory layer

    def initial_state(self):
        return self.cell.get_initial_state(batch_size=self.rows, dtype=tf.float32)

    def step(self, tokens, state):
        output, state = self.cell(self.embed(tokens), state)
        return self.out(output), state


def tfseq_greedy(model, jit_compile=False):
    decoder = s2s.BasicDecoder(
        model.cell, s2s.GreedyEmbeddingSampler(model.embed), model.out, maximum_iterations=model.shape.steps
    )
    start = tf.fill([model.rows], START)
    fn = tf.function(
        lambda: (
            decoder(None, initial_state=model.initial_state(), start_tokens=start, end_token=model.end_token)[
                0
            ].sample_id
        ),
        jit_compile=jit_compile,
    )
    return fn


def tfseq_beam(model, width, jit_compile=False, length_penalty_weight=0.6):
    decoder = s2s.BeamSearchDecoder(
        model.cell,
        width,
        embedding_fn=model.embed,
        output_layer=model.out,
        length_penalty_weight=length_penalty_weight,
        maximum_iterations=model.shape.steps,
    )
    start = tf.fill([model.shape.batch], START)
    fn = tf.function(
        lambda: (
            decoder(None, start_tokens=start, end_token=model.end_token, initial_state=model.initial_state())[
                0
            ].predicted_ids
        ),
        jit_compile=jit_compile,
    )
    return fn


def keras_loop_greedy(model):
    def fn():
        tokens, state, ids = tf.fill([model.rows], START), model.initial_state(), []
        for _ in range(model.shape.steps):
            logits, state = model.step(tokens, state)
            tokens = tf.argmax(logits, -1, output_type=tf.int32)
            ids.append(tokens)
        return tf.stack(ids, 1)

    return fn


def keras_loop_beam(model, width):
    batch, vocab = model.shape.batch, model.shape.vocab

    def fn():
        state = model.initial_state()
        tokens = tf.fill([batch * width], START)
        log_probs = tf.tile(tf.constant([[0.0] + [-1e9] * (width - 1)]), [batch, 1])  # [B, W]
        history = tf.zeros([batch, width, 0], tf.int32)
        for _ in range(model.shape.steps):
            logits, state = model.step(tokens, state)
            scores = tf.reshape(tf.nn.log_softmax(logits), [batch, width, vocab]) + log_probs[:, :, None]
            log_probs, index = tf.math.top_k(tf.reshape(scores, [batch, -1]), k=width)
            parent, tokens = index // vocab, index % vocab  # [B, W]
            flat_parent = tf.reshape(parent + tf.range(batch)[:, None] * width, [-1])
            state = tf.nest.map_structure(lambda t: tf.gather(t, flat_parent) if t.shape.rank else t, state)
            history = tf.concat([tf.gather(history, parent, batch_dims=1), tokens[:, :, None]], 2)
            tokens = tf.reshape(tokens, [-1])
        return history

    return fn


def keras_hub_run(model, sampler, jit_compile=False):
    template = model.initial_state()

    def next_fn(prompt, cache, index):
        state = tf.nest.pack_sequence_as(template, list(cache))
        logits, state = model.step(prompt[:, index - 1], state)
        return logits, None, tuple(tf.nest.flatten(state))

    batch = model.shape.batch
    prompt = tf.concat([tf.fill([batch, 1], START), tf.zeros([batch, model.shape.steps], tf.int32)], 1)

    def fn():
        # one row per batch entry: keras-hub repeats the cache num_beams times itself
        state = tf.nest.map_structure(lambda t: t[:: model.rows // batch], model.initial_state())
        return sampler(next_fn, prompt, cache=tuple(tf.nest.flatten(state)), index=1)

    return tf.function(fn, jit_compile=jit_compile)


def same_outputs(greedy_model, beam_models, keras_hub=None):
    """Do the implementations decode the same tokens? Greedy ids, and the best beam with no length
    penalty (the end token is unreachable, so no beam finishes and all run the same search)."""
    checks = {}
    greedy = {"tfseq": tfseq_greedy(greedy_model)(), "keras loop": keras_loop_greedy(greedy_model)()}
    if keras_hub is not None:
        greedy["keras-hub"] = keras_hub_run(greedy_model, keras_hub.samplers.GreedySampler())()[:, 1:]
    checks["greedy"] = _all_equal(greedy)
    for width, model in beam_models.items():
        best = {
            "tfseq": tfseq_beam(model, width, length_penalty_weight=0.0)()[:, :, 0],
            "keras loop": keras_loop_beam(model, width)()[:, 0, :] if width > 1 else None,
        }
        best = {k: v for k, v in best.items() if v is not None}
        if keras_hub is not None:
            best["keras-hub"] = keras_hub_run(model, keras_hub.samplers.BeamSampler(width))()[:, 1:]
        checks[f"beam {width}"] = _all_equal(best)
    return checks


def _all_equal(outputs):
    """Fraction of rows each implementation decodes exactly as tfseq does."""
    reference = np.asarray(outputs["tfseq"])
    return {
        name: float(np.mean(np.all(np.asarray(v) == reference, axis=1)))
        for name, v in outputs.items()
        if name != "tfseq"
    }


def candidates(shape, widths, xla=True, keras_hub=None, greedy_model=None, beam_models=None):
    greedy_model = greedy_model or Model(shape, shape.batch)
    groups = {"greedy": []}
    jit_options = (False, True) if xla else (False,)
    for jit in jit_options:
        suffix = " (XLA)" if jit else ""
        groups["greedy"].append(
            Candidate(
                f"tfseq BasicDecoder{suffix}",
                "tfseq",
                lambda jit=jit: timed(tfseq_greedy(greedy_model, jit), np.asarray),
            )
        )
    groups["greedy"].append(
        Candidate("keras per-token loop", "keras", lambda: timed(keras_loop_greedy(greedy_model), np.asarray))
    )
    for jit in jit_options if keras_hub is not None else ():
        groups["greedy"].append(
            Candidate(
                f"keras-hub GreedySampler{' (XLA)' if jit else ''}",
                "keras-hub",
                lambda jit=jit: timed(keras_hub_run(greedy_model, keras_hub.samplers.GreedySampler(), jit), np.asarray),
            )
        )
    for width in widths:
        # the BeamSearchDecoder and the Python loop tile the batch themselves; keras-hub repeats the cache
        beam_model = (beam_models or {}).get(width) or Model(shape, shape.batch * width, reference=greedy_model)
        group = groups[f"beam {width}"] = []
        for jit in jit_options:
            suffix = " (XLA)" if jit else ""
            group.append(
                Candidate(
                    f"tfseq BeamSearchDecoder{suffix}",
                    "tfseq",
                    lambda jit=jit, m=beam_model, w=width: timed(tfseq_beam(m, w, jit), np.asarray),
                )
            )
        group.append(
            Candidate(
                "keras per-token loop", "keras", lambda m=beam_model, w=width: timed(keras_loop_beam(m, w), np.asarray)
            )
        )
        for jit in jit_options if keras_hub is not None else ():
            group.append(
                Candidate(
                    f"keras-hub BeamSampler{' (XLA)' if jit else ''}",
                    "keras-hub",
                    lambda m=beam_model, w=width, jit=jit: timed(
                        keras_hub_run(m, keras_hub.samplers.BeamSampler(w), jit), np.asarray
                    ),
                )
            )
    return groups


def run(shape, widths, rounds=3, xla=True, log=print):
    try:
        import keras_hub
    except ImportError:
        keras_hub = None
        log("keras-hub is not installed: its samplers are left out (pip install keras-hub)")
    report = {"shape": dataclasses.asdict(shape), "groups": {}}
    tokens = shape.batch * shape.steps
    greedy_model = Model(shape, shape.batch)
    beam_models = {w: Model(shape, shape.batch * w, reference=greedy_model) for w in widths}
    report["same_tokens"] = same_outputs(greedy_model, beam_models, keras_hub)
    log(f"rows decoded exactly as tfseq does (greedy; best beam at length penalty 0): {report['same_tokens']}")
    for group, cands in candidates(shape, widths, xla, keras_hub, greedy_model, beam_models).items():
        log(f"timing {group} ...")
        results = measure(cands, rounds=rounds, log=log)
        rows = {}
        for name, result in results.items():
            if "error" in result:
                rows[name] = {"error": result["error"]}
            else:
                stats = summarize(result["samples"])
                rows[name] = {**stats, "tokens_per_second": tokens / stats["median_s"]}
        best = max(
            (r["tokens_per_second"] for n, r in rows.items() if n.startswith("tfseq") and "error" not in r),
            default=None,
        )
        for name, row in rows.items():
            if best is not None and "error" not in row and not name.startswith("tfseq"):
                row["tfseq_speedup"] = best / row["tokens_per_second"]
        report["groups"][group] = rows
    return report


def format_table(report):
    shape = report["shape"]
    lines = [
        f"2-layer LSTM({shape['units']}) + Luong attention decoder, vocab {shape['vocab']}, batch {shape['batch']}, "
        f"source {shape['source_length']}, {shape['steps']} output tokens per row; tokens/s (median)",
        "",
        "| decoding | implementation | tokens/s | tfseq's best / this |",
        "|---|---|---:|---:|",
    ]
    same = "; ".join(
        f"{group}: " + ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
        for group, shares in report["same_tokens"].items()
    )
    lines.insert(1, f"Rows decoded exactly as tfseq does (greedy; best beam at length penalty 0): {same}")
    for group, rows in report["groups"].items():
        for name, row in rows.items():
            if "error" in row:
                lines.append(f"| {group} | {name} | failed: {row['error']} | |")
            else:
                ratio = f"{row['tfseq_speedup']:.1f}x" if "tfseq_speedup" in row else ""
                lines.append(f"| {group} | {name} | {row['tokens_per_second']:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode", description=__doc__.splitlines()[0])
    defaults = DecodeShape()
    for field in dataclasses.fields(DecodeShape):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=int, default=getattr(defaults, field.name))
    parser.add_argument("--widths", type=int, nargs="+", default=[5, 10], help="beam widths (default 5 10)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-xla", action="store_true", help="leave out the XLA-compiled tfseq rows")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one round (a smoke test)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    for name in ("batch", "source_length", "steps", "vocab", "units", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if any(w < 1 for w in args.widths):
        parser.error(f"--widths must be positive integers, got {args.widths}")
    shape = QUICK if args.quick else DecodeShape(args.batch, args.source_length, args.steps, args.vocab, args.units)
    report = run(
        shape,
        args.widths,
        rounds=1 if args.quick else args.rounds,
        xla=not args.no_xla,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
