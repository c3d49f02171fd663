"""``python -m benchmarks.seq2seq``: tensorflow/nmt's attention model, tfseq against TF Addons, Keras 3, keras-hub.

    python -m benchmarks.seq2seq                  # nmt's sizes: batch 64, source 20, target 22, vocab 8k
    python -m benchmarks.seq2seq --quick          # tiny shapes, one round (a smoke test)
    python -m benchmarks.seq2seq --groups beam greedy --rounds 5 --json out.json
    python -m benchmarks.seq2seq --precision float32 mixed_bfloat16   # also tfseq under mixed_bfloat16

The model (:mod:`benchmarks.seq2seq_models`): bidirectional LSTM encoder, a 2-layer LSTM(256)
decoder in an ``AttentionWrapper`` with scaled Luong attention, an attention layer of 256,
``output_attention``, input feeding, a bias-free 8k softmax; SGD(1.0) with
``clip_by_global_norm(5)``. tfseq runs it through ``tfseq.seq2seq``; the real TF Addons 0.23
runs it through ``tfa.seq2seq`` on tf-keras in a worker process (:mod:`benchmarks.tfa_worker`,
left out with a note where it cannot be imported) with the same weights. Before timing, the
run checks that the two sides agree: the losses of the first two training steps, and the
greedy and beam ids. Groups (each in interleaved rounds, :mod:`benchmarks.timing`, with a
matmul for the machine's ceiling):

* ``train_after`` -- training step, projection after the decoder loop (nmt's layout); also
  nmt's own TF1 spelling (``dynamic_decode`` over a time-major ``TrainingHelper``), the
  per-step path (``nn.dynamic_rnn(..., fast=False)`` over the wrapper), tfseq's hoisted
  teacher-forcing loop (:mod:`tfseq.seq2seq.fused_attention`) and the plain Keras 3
  encoder-decoder of the same sizes (attention after its LSTMs: less work, not the same math);
* ``train_inside`` -- the projection as ``BasicDecoder``'s ``output_layer``;
* in both, ``tfseq, TF Addons' program (Keras cells)``: the TF Addons worker's program itself
  (Keras ``LSTMCell``s, ``tfa.seq2seq``) run on Keras 3 with ``tfa`` = ``tfseq``, and the line
  ``TF Addons' program on tfseq / on TF Addons`` (best setting of each);
* ``train_parts`` -- where tfseq's step goes: the hoisted nmt-layout step whole, and each of its
  parts alone (:func:`benchmarks.seq2seq_models.tfseq_train_part`: encoder, attention decoder,
  projection + loss), each with its own FLOPs;
* ``greedy`` -- encode + greedy decoding, ``2 * source`` steps, batch 32; keras-hub's
  ``GreedySampler`` stepping tfseq's cell when keras-hub is installed;
* ``beam`` -- encode + beam search (width 5, length penalty 1), same steps; keras-hub's
  ``BeamSampler`` (no length penalty, so its ids are not compared).

The training and decoding groups also time the same matrix products with nothing else
(:func:`benchmarks.seq2seq_models.matmul_floor`, under XLA; training: forward and backward, the
per-step products in their dependency order): the bound on how fast any implementation of this
math can be on the machine, reported as its speed over each framework's best.

Each implementation runs in a ``tf.function`` and compiled with XLA. Figures: target tokens/s
(training) or sentences/s (decoding), GFLOP/s and the fraction of the matmul ceiling, the
first call (trace + compile + one iteration), the op counts of the traced graph and of its
``while`` bodies (what runs per decoder step; training has a forward and a backward body),
and ``tfseq's best / this``. With ``--precision ... mixed_bfloat16`` tfseq's rows run a second
time with the model under Keras' ``mixed_bfloat16`` policy (same float32 weights, bfloat16
compute, float32 loss; framework ``tfseq-bf16``): their "tfseq best / this" is float32 tfseq's
best over them, and their agreement with the float32 row shows what bfloat16 changes.
"""

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

GROUPS = ("train_after", "train_inside", "train_parts", "greedy", "beam")
FLOOR = "the same matmuls alone (XLA)"
_TFA_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfa_worker.py")


def tfa_available():
    """TF Addons and tf-keras installed (TF Addons 0.23 has no wheel for Python >= 3.12)."""
    return all(importlib.util.find_spec(name) is not None for name in ("tensorflow_addons", "tf_keras"))


class TfaPeer:
    """The TF Addons worker; ``build`` returns ``run(reps) -> seconds`` and records its check."""

    def __init__(self, shape, weights, batch):
        from benchmarks.peers_tf1 import Tf1Worker

        self.worker = Tf1Worker(script=_TFA_WORKER, label="TF Addons")
        self._dir = tempfile.TemporaryDirectory(prefix="tfseq-bench-tfa-")
        self.data = os.path.join(self._dir.name, "data.npz")
        import numpy as np

        np.savez(self.data, **weights, **batch)
        self.shape = shape
        self.versions = self.worker.request(op="probe")["versions"]
        self._count = 0

    def build(self, bench, jit, record):
        self._count += 1
        key = f"{bench}-{self._count}"
        reply = self.worker.request(op="build", key=key, bench=bench, jit=jit, shape=self.shape.as_dict(),
                                    data=self.data)
        record(reply["first_call_s"], reply["check"], {k: reply[k] for k in ("ops", "loop_body_ops")})

        def run(reps):
            return self.worker.request(op="run", key=key, reps=reps)["seconds"]

        run.release = lambda: self.worker.request(op="drop", key=key)
        return run

    def close(self):
        self.worker.close()
        self._dir.cleanup()


def _in_process(factory, jit, training, record):
    """``make()`` for a workload of this process: compile, time the first call, record the check."""
    import numpy as np
    import tensorflow as tf

    from benchmarks.tfa_worker import graph_ops
    from benchmarks.timing import timed

    def make():
        fn = tf.function(factory(), jit_compile=jit)
        start = time.perf_counter()
        first = np.asarray(fn())
        first_call_s = time.perf_counter() - start
        record(first_call_s, [float(first), float(np.asarray(fn()))] if training else first.tolist(), graph_ops(fn))
        return timed(fn, np.asarray)

    return make


PRECISIONS = ("float32", "mixed_bfloat16")
PROGRAM = "tfseq, TF Addons' program (Keras cells)"


def _tfa_program_step(shape, reference, batch, inside):
    """The TF Addons worker's own program (:class:`benchmarks.tfa_worker.Model`: Keras
    ``LSTMCell``s in ``RNN``/``StackedRNNCells``, ``tfa.seq2seq``; its training step) run here on
    Keras 3 with ``tfa`` = ``tfseq``: what a user who renames the import gets."""
    import keras
    import tensorflow as tf

    import tfseq
    from benchmarks import seq2seq_models as m
    from benchmarks import tfa_worker

    data = {**m.export_weights(reference), **batch}
    model = tfa_worker.Model(keras, tfseq, data, shape.as_dict())
    tensors = {name: tf.constant(data[name]) for name in ("source", "source_length", "target_in", "target_out",
                                                          "target_length")}
    return tfa_worker.train_step(model, keras, tensors, inside)


def candidates(shape, groups, xla, tfa, keras_hub, records, precisions=("float32",)):
    """``{group: [Candidate]}``; ``records[group][name]`` gets each one's first-call time and check.
    ``precisions``: tfseq's rows in each (``mixed_bfloat16`` rows are named ``... [mixed_bfloat16]``,
    framework ``tfseq-bf16``, same weights)."""
    from benchmarks import seq2seq_models as m

    reference = m.make_model(shape)
    batch = m.make_batch(shape)
    decode_models = {p: m.make_model(shape, reference, p) for p in precisions}
    return {group: _group(group, shape, xla, tfa, keras_hub, records.setdefault(group, {}), reference, batch,
                          decode_models) for group in groups}


def _group(group, shape, xla, tfa, keras_hub, rec, reference, batch, decode_models):
    from benchmarks import seq2seq_models as m
    from benchmarks.tf_harness import matmul_ceiling
    from benchmarks.timing import Candidate

    cands = []

    def add(name, framework, make_for_jit):
        for jit in (False, True) if xla else (False,):
            full = f"{name} (XLA)" if jit else name

            def record(first, check, ops, full=full):
                rec[full] = {"first_call_s": first, "check": check, **ops}

            cands.append(Candidate(full, framework, make_for_jit(jit, record)))

    decode_model = decode_models.get("float32")
    if group == "train_parts":
        add("tfseq fused_attention, whole step", "tfseq", lambda jit, record: _in_process(
            lambda: m.tfseq_train(m.make_model(shape, reference), shape, batch, "hoisted"), jit, True, record))
        for part in m.PARTS:
            add(f"part: {part}", "tfseq-part", lambda jit, record, part=part: _in_process(
                lambda: m.tfseq_train_part(m.make_model(shape, reference), shape, batch, part), jit, True,
                lambda first, check, ops, part=part: record(first, check, {**ops, "flops": m.part_flops(shape, part)})))
    elif group.startswith("train"):
        layouts = [("after", "tfseq BasicDecoder"), ("nmt_tf1", "tfseq, nmt's TF1 spelling"),
                   ("dynamic_rnn", "tfseq per step (nn.dynamic_rnn, fast=False)"),
                   ("hoisted", "tfseq fused_attention"), ("hoisted_autodiff", "tfseq fused_attention autodiff")]
        for precision in decode_models:
            mixed = precision != "float32"
            for layout, name in layouts if group == "train_after" else [("inside", "tfseq BasicDecoder")]:
                if mixed and layout == "hoisted_autodiff":
                    continue
                add(name + (f" [{precision}]" if mixed else ""), "tfseq-bf16" if mixed else "tfseq",
                    lambda jit, record, layout=layout, precision=precision: _in_process(
                        lambda: m.tfseq_train(m.make_model(shape, reference, precision), shape, batch, layout),
                        jit, True, record))
        if tfa is not None:
            add("TF Addons BasicDecoder", "tfa", lambda jit, record: lambda: tfa.build(group, jit, record))
        add(PROGRAM, "tfseq-tfa-program", lambda jit, record: _in_process(
            lambda: _tfa_program_step(shape, reference, batch, group == "train_inside"), jit, True, record))
        if group == "train_after":
            add("keras plain enc-dec", "keras", lambda jit, record: _in_process(
                lambda: m.keras_train(m.keras_model(shape), shape, batch), jit, True, record))
        cands.append(_floor(shape, group, rec))
    else:
        beam = group == "beam"
        for precision, model in decode_models.items():
            mixed = precision != "float32"
            add("tfseq " + ("BeamSearchDecoder" if beam else "BasicDecoder") + (f" [{precision}]" if mixed else ""),
                "tfseq-bf16" if mixed else "tfseq", lambda jit, record, model=model: _in_process(
                    lambda: m.tfseq_decode(model, shape, batch, beam), jit, False, record))
        if tfa is not None:
            add("TF Addons " + ("BeamSearchDecoder" if beam else "BasicDecoder"), "tfa",
                lambda jit, record: lambda: tfa.build(group, jit, record))
        if keras_hub is not None and decode_model is not None:
            def sampler():
                return keras_hub.samplers.BeamSampler(shape.beam_width) if beam else keras_hub.samplers.GreedySampler()

            add("keras-hub " + ("BeamSampler" if beam else "GreedySampler"), "keras-hub",
                lambda jit, record: _in_process(
                    lambda: m.keras_hub_decode(decode_model, shape, batch, sampler(), beam), jit, False, record))
        cands.append(_floor(shape, group, rec))
    size = 256 if shape.units < 64 else 1024
    cands.append(Candidate(f"matmul {size}", "ceiling", lambda: matmul_ceiling(size)))
    return cands


def _floor(shape, group, rec):
    """The group's matrix products alone (:func:`benchmarks.seq2seq_models.matmul_floor`), under XLA."""
    from benchmarks import seq2seq_models as m
    from benchmarks.timing import Candidate

    return Candidate(FLOOR, "floor", _in_process(lambda: m.matmul_floor(shape, group), True, False,
                                                 lambda first, check, ops: rec.update(
                                                     {FLOOR: {"first_call_s": first, **ops}})))


def compare(group, records, end_id):
    """Agreement with the group's first tfseq row: ``{name: {...}}``. Training: the largest
    difference of the first two losses (same math only: TF Addons and tfseq rows); decoding: the
    fraction of rows whose ids equal tfseq's up to and including its first end token."""
    import numpy as np

    ref_name = next((n for n in records if n.startswith("tfseq")), None)
    if ref_name is None:
        return {}
    ref = records[ref_name]["check"]
    out = {}
    for name, rec in records.items():
        skipped = ("keras plain", "keras-hub BeamSampler", "part: ")  # other math: never compared
        if name == ref_name or "check" not in rec or name.startswith(skipped):
            continue
        if group.startswith("train"):
            out[name] = {"max_loss_difference": float(np.max(np.abs(np.subtract(rec["check"], ref))))}
            continue
        ours, theirs = np.asarray(ref), np.asarray(rec["check"])
        same = []
        for row, other in zip(ours, theirs):
            ends = np.flatnonzero(row == end_id)
            length = ends[0] + 1 if ends.size else len(row)
            same.append(len(other) >= length and np.array_equal(row[:length], other[:length]))
        out[name] = {"rows_identical": float(np.mean(same)), "shapes": [list(ours.shape), list(theirs.shape)]}
    return out


def run(shape, groups, rounds=3, xla=True, min_time=0.5, log=print, precisions=("float32",)):
    """Build, check and time every group; the report dict (see :func:`format_table`)."""
    from benchmarks import seq2seq_models as m
    from benchmarks.timing import measure, summarize

    report = {"shape": shape.as_dict(), "groups": {}, "checks": {}, "notes": []}
    tfa = None
    if tfa_available():
        try:
            tfa = TfaPeer(shape, m.export_weights(m.make_model(shape)), m.make_batch(shape))
            report["versions"] = tfa.versions
        except RuntimeError as err:
            report["notes"].append(f"TF Addons left out: it did not import ({str(err).splitlines()[-1]})")
    else:
        report["notes"].append("TF Addons left out: tensorflow_addons / tf_keras are not installed")
    try:
        import keras_hub
    except ImportError:
        keras_hub = None
        report["notes"].append("keras-hub left out: not installed (pip install keras-hub)")
    for note in report["notes"]:
        log(note)
    records = {}
    try:
        for group, cands in candidates(shape, groups, xla, tfa, keras_hub, records, precisions).items():
            log(f"timing {group} ...")
            results = measure(cands, rounds=rounds, min_time=min_time, log=log)
            report["groups"][group] = _rows(shape, group, cands, results, records.get(group, {}), summarize)
            report["checks"][group] = compare(group, records.get(group, {}), shape.as_dict()["end_id"])
            log(f"  agreement with tfseq: {report['checks'][group]}")
    finally:
        if tfa is not None:
            tfa.close()
    return report


def _rows(shape, group, cands, results, records, summarize):
    from benchmarks import seq2seq_models as m

    frameworks = {c.name: c.framework for c in cands}
    units = shape.batch * shape.target_length if group.startswith("train") else shape.decode_batch
    work = m.flops(shape, group)
    rows, ceiling = {}, None
    for name, result in results.items():
        row = {"framework": frameworks[name]}
        if "error" in result:
            rows[name] = {**row, "error": result["error"]}
            continue
        stats = summarize(result["samples"])
        row.update(stats, samples_s=result["samples"])
        if frameworks[name] == "ceiling":
            size = int(name.split()[-1])
            ceiling = row["gflops"] = 2 * size**3 / stats["median_s"] / 1e9
        else:
            row.update(per_second=units / stats["median_s"], **records.get(name, {}))
            row["gflops"] = row.get("flops", work) / stats["median_s"] / 1e9
            row.pop("check", None)
        rows[name] = row
    best = {}
    for name, row in rows.items():
        if "per_second" in row:
            best[row["framework"]] = max(best.get(row["framework"], 0.0), row["per_second"])
            if ceiling:
                row["fraction_of_ceiling"] = row["gflops"] / ceiling
    for name, row in rows.items():
        if "per_second" in row and row["framework"] == "tfseq-part" and "tfseq" in best:
            row["share_of_step"] = best["tfseq"] / row["per_second"]  # its time over the best whole step's
        elif "per_second" in row and row["framework"] != "tfseq" and "tfseq" in best:
            row["tfseq_best_over_this"] = best["tfseq"] / row["per_second"]
    if "floor" in best:  # how much faster than each framework's best the same math could be here
        for framework, per_second in best.items():
            if framework != "floor":
                rows[FLOOR].setdefault("floor_over_best", {})[framework] = best["floor"] / per_second
    extra = {}
    if "tfseq-tfa-program" in best and "tfa" in best:  # the same program, renamed import against TF Addons
        extra["program_over_tfa"] = best["tfseq-tfa-program"] / best["tfa"]
    return {"unit": "target tokens/s" if group.startswith("train") else "sentences/s", "rows": rows,
            "best": best, **extra, "flops_per_iteration": work,
            "flops_shares": {part: f / work for part, f in m.flops_parts(shape, group).items()}}


def format_table(report):
    s = report["shape"]
    lines = [
        (f"nmt's attention model: bi-LSTM encoder, 2 x LSTM({s['units']}) decoder, scaled Luong, attention layer "
        f"{s['units']}, vocab {s['vocab']}; training batch {s['batch']}, source {s['source_length']}, target "
        f"{s['target_length']}; decoding batch {s['decode_batch']}, {s['decode_steps']} steps, beam "
        f"{s['beam_width']}, length penalty {s['length_penalty']}"), ""]
    lines += [f"note: {n}" for n in report["notes"]]
    if "versions" in report:
        lines.append("TF Addons worker: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    lines += ["", ("| workload | implementation | speed | GFLOP/s | % ceiling | first call s | ops (loop bodies) "
              "| tfseq best / this |"), "|---|---|---:|---:|---:|---:|---:|---:|"]
    for group, g in report["groups"].items():
        for name, row in g["rows"].items():
            if "error" in row:
                lines.append(f"| {group} | {name} | failed: {row['error']} | | | | | |")
            elif row["framework"] == "ceiling":
                lines.append(f"| {group} | {name} (ceiling) | | {row['gflops']:.0f} | 100 | | | |")
            else:
                ratio = f"{row['tfseq_best_over_this']:.2f}x" if "tfseq_best_over_this" in row else ""
                if "share_of_step" in row:
                    ratio = f"{100 * row['share_of_step']:.0f} % of the step's time"
                frac = f"{100 * row['fraction_of_ceiling']:.0f}" if "fraction_of_ceiling" in row else ""
                lines.append(f"| {group} | {name} | {row['per_second']:,.1f} {g['unit']} | {row['gflops']:.1f} | "
                             f"{frac} | {row.get('first_call_s', float('nan')):.1f} | {row.get('ops', '')} "
                             f"({'/'.join(str(n) for n in row.get('loop_body_ops', []))}) | {ratio} |")
    lines.append("")
    for group, g in report["groups"].items():
        lines.append(f"FLOPs ({group}, {g['flops_per_iteration'] / 1e9:.2f} GFLOP per iteration): " + ", ".join(
            f"{part} {100 * share:.0f} %" for part, share in g["flops_shares"].items()))
    for group, g in report["groups"].items():
        if "program_over_tfa" in g:
            lines.append(f"{group}: TF Addons' program on tfseq / on TF Addons (best setting of each): "
                         f"{g['program_over_tfa']:.2f}x")
        if FLOOR in g["rows"] and "floor_over_best" in g["rows"][FLOOR]:
            lines.append(f"{group}: {FLOOR} / each framework's best: " + ", ".join(
                f"{framework} {ratio:.2f}x" for framework, ratio in g["rows"][FLOOR]["floor_over_best"].items()))
    for group, g in report["groups"].items():
        shares = {}  # each part's best setting
        for name, row in g["rows"].items():
            if "share_of_step" in row:
                part = name.removesuffix(" (XLA)")
                shares[part] = min(shares.get(part, row["share_of_step"]), row["share_of_step"])
        if shares:
            lines.append(f"{group}: the parts, each at its best setting, take {100 * sum(shares.values()):.0f} % of "
                         "the best whole step's time")
    for group, checks in report["checks"].items():
        lines.append(f"agreement with tfseq ({group}): " + ", ".join(
            f"{name}: " + ", ".join(f"{k} {v}" for k, v in c.items() if k != "shapes") for name, c in checks.items()))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seq2seq", description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=GROUPS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per timed sample (default 0.5)")
    parser.add_argument("--no-xla", action="store_true", help="leave out the XLA-compiled rows")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one round (a smoke test)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--precision", nargs="+", default=["float32"], choices=PRECISIONS,
                        help="tfseq's rows: float32 (default) and/or mixed_bfloat16 (Keras' mixed policy, "
                             "float32 weights and loss; rows named '... [mixed_bfloat16]')")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be a positive integer, got {args.rounds}")
    if not args.min_time > 0:
        parser.error(f"--min-time must be > 0, got {args.min_time}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from benchmarks.seq2seq_models import QUICK, Seq2seqShape

    shape = QUICK if args.quick else Seq2seqShape()
    report = run(shape, args.groups, rounds=1 if args.quick else args.rounds, xla=not args.no_xla,
                 min_time=0.05 if args.quick else args.min_time, log=lambda msg: print(msg, file=sys.stderr),
                 precisions=tuple(dict.fromkeys(args.precision)))
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
