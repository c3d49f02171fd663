"""Derived figures (words/s, GFLOP/s, fraction of the matmul ceiling, ratios), the
stdout table and the JSON file.

All derived numbers come from the measured per-iteration medians of one group:
``words/s = words per iteration / median seconds``; ``ratio(tfseq, peer) =
words/s(tfseq) / words/s(peer)`` (> 1: tfseq is faster; for generation, words are
tokens, so the ratio is also peer latency / tfseq latency). The spread of a ratio is
the min-max of the per-round ratios (both measured in the same round).

A group's *references* are its first tfseq candidate (``reference``) and, when present,
the tfseq candidate whose name ends with :data:`JIT_COMPILE_SUFFIX` (its whole step
compiled with XLA, as ``tfseq lm train`` runs) or :data:`IN_GRAPH_LOOP_SUFFIX` (the whole
sampling loop in one graph, as ``tfseq.demos.lm.generate`` samples). The summary has one row
per reference and compares it with the *fastest* ok entry of each peer framework in the group (highest
words/s; e.g. ``keras.layers.LSTM jit_compile`` when XLA helps Keras), naming that entry.

The matmul ceiling is timed in every group's rounds, next to the implementations; the
run's ceiling (:func:`add_run_ceiling`) is, for the best of the matmuls measured, the
median over groups of its per-group median GFLOP/s. One number for the whole run keeps
the fractions comparable between groups; on a loaded machine a fraction can exceed
100 % when the implementation ran in a quieter moment than the typical matmul.
"""

import dataclasses
import itertools
import json
import os
import statistics
import tempfile

from benchmarks import shapes, timing

JIT_COMPILE_SUFFIX = " jit_compile"  # name suffix of an implementation run under tf.function(jit_compile=True)
IN_GRAPH_LOOP_SUFFIX = " in-graph loop"  # name suffix of a generator that samples in one graph while_loop

_BENCH_TITLES = {
    "fwd_bwd": "recurrent layers only, forward + backward",
    "train": "full training step (embedding, RNN, softmax, loss, clip 5, SGD)",
    "generate": "generation, batch 1, one token per call (latency)",
}


def make_group(bench, family, shape, candidates, raw, ceiling_size):
    """One group's record: every candidate's stats and derived figures, the references and
    the ratios of every tfseq entry to every peer entry."""
    words = shape.words(bench)
    flops = shapes.bench_flops(bench, family, shape)
    ceiling_flops = 2 * ceiling_size**3
    entries = []
    for cand in candidates:
        res = raw[cand.name]
        entry = {"name": cand.name, "framework": cand.framework}
        if "error" in res:
            entry["error"] = res["error"]
        else:
            entry.update(timing.summarize(res["samples"]), reps=res["reps"], samples_s=list(res["samples"]))
            if res.get("detail"):
                entry["path"] = res["detail"]
            work = ceiling_flops if cand.framework == "ceiling" else flops
            entry["gflops"] = work / entry["median_s"] / 1e9
            if cand.framework != "ceiling":
                entry["words_per_s"] = words / entry["median_s"]
                entry["words_per_s_min"] = words / entry["max_s"]
                entry["words_per_s_max"] = words / entry["min_s"]
                entry["ms_per_word"] = 1000 * entry["median_s"] / words
        entries.append(entry)
    ok = [e for e in entries if "words_per_s" in e]
    tfseq_ok = [e for e in ok if e["framework"] == "tfseq"]
    peers_ok = [e for e in ok if e["framework"] not in ("tfseq", "ceiling")]
    references = _references(candidates)
    return {
        "bench": bench,
        "family": family,
        "shape": dataclasses.asdict(shape),
        "words_per_iteration": words,
        "flops_per_iteration": flops,
        "reference": references[0] if references else None,
        "references": references,
        "results": entries,
        "ratios": {
            t["name"]: {p["name"]: t["words_per_s"] / p["words_per_s"] for p in peers_ok} for t in tfseq_ok
        },
        "ratio_spread": {t["name"]: {p["name"]: _round_spread(t, p) for p in peers_ok} for t in tfseq_ok},
    }


def _references(candidates):
    """The first tfseq candidate's name, then the first tfseq ``jit_compile`` or
    ``in-graph loop`` one's if any (tfseq's own way of running that workload)."""
    tfseq_names = [c.name for c in candidates if c.framework == "tfseq"]
    references = tfseq_names[:1]
    own = next((n for n in tfseq_names if n.endswith((JIT_COMPILE_SUFFIX, IN_GRAPH_LOOP_SUFFIX))), None)
    if own is not None and own not in references:
        references.append(own)
    return references


def _round_spread(tfseq_entry, peer_entry):
    """``[min, max]`` over rounds of ``peer seconds / tfseq seconds`` in the same round."""
    pairs = list(zip(tfseq_entry["samples_s"], peer_entry["samples_s"]))
    ratios = [peer / mine for mine, peer in pairs]
    return [min(ratios), max(ratios)]


def add_run_ceiling(groups):
    """Set every entry's ``fraction_of_ceiling`` against the run's ceiling; return it."""
    per_matmul = {}
    for group in groups:
        for entry in group["results"]:
            if entry["framework"] == "ceiling" and "gflops" in entry:
                per_matmul.setdefault(entry["name"], []).append(entry["gflops"])
    if not per_matmul:
        return None
    ceiling = max(statistics.median(values) for values in per_matmul.values())
    for group in groups:
        for entry in group["results"]:
            if "gflops" in entry and entry["framework"] != "ceiling":
                entry["fraction_of_ceiling"] = entry["gflops"] / ceiling
    return ceiling


def fastest_peers(group):
    """``{framework: entry}``: each peer framework's fastest ok entry in ``group`` (highest
    words/s; the first one on a tie)."""
    fastest = {}
    for entry in group["results"]:
        framework = entry["framework"]
        if "words_per_s" not in entry or framework in ("tfseq", "ceiling"):
            continue
        if framework not in fastest or entry["words_per_s"] > fastest[framework]["words_per_s"]:
            fastest[framework] = entry
    return fastest


def summary(groups):
    """One row per group and reference: the reference's ratio to the fastest entry of each
    peer framework (``vs``), that entry's name (``vs_entry``) and the per-round spread
    (``vs_spread``), all keyed by framework. A failed reference has no ratios."""
    rows = []
    for group in groups:
        fastest = fastest_peers(group)
        for ref in group["references"]:
            ratios = group["ratios"].get(ref, {})
            spreads = group["ratio_spread"].get(ref, {})
            vs_entry = {f: e["name"] for f, e in fastest.items() if e["name"] in ratios}
            ref_entry = next((e for e in group["results"] if e["name"] == ref), {})
            rows.append({
                "bench": group["bench"],
                "shape": group["shape"]["name"],
                "num_steps": group["shape"]["num_steps"],
                "family": group["family"],
                "reference": ref,
                "vs": {f: ratios[name] for f, name in vs_entry.items()},
                "vs_entry": vs_entry,
                "vs_spread": {f: spreads[name] for f, name in vs_entry.items()},
                "reference_fraction_of_ceiling": ref_entry.get("fraction_of_ceiling"),
            })
    return rows


def _num(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(value):
    return "-" if value is None else f"{value:.2f}x"


def format_group(group):
    shape = group["shape"]
    bench = group["bench"]
    unit = "tokens/s" if bench == "generate" else "words/s"
    per = "ms/token" if bench == "generate" else "ms/iter"
    head = (
        f"== {bench}: {_BENCH_TITLES[bench]} | {shape['name']} (vocab {shape['vocab']}, "
        f"{shape['layers']}x{shape['hidden']}, "
        + (f"batch 1, {shape['gen_tokens']} tokens/sample" if bench == "generate"
           else f"batch {shape['batch']}, {shape['num_steps']} steps")
        + f") | {group['family']} =="
    )
    ref = group["reference"]
    ref_ratios = group["ratios"].get(ref, {})
    ref_entry = next((e for e in group["results"] if e["name"] == ref and "words_per_s" in e), None)
    header = ["implementation", unit, "min-max", per, "GFLOP/s", "% ceil", f"{ref} / this", "path"]
    rows = []
    for e in group["results"]:
        if "error" in e:
            rows.append([e["name"], "failed: " + e["error"], "", "", "", "", "", ""])
        elif e["framework"] == "ceiling":
            rows.append([e["name"], "", "", _num(1000 * e["median_s"], 2), _num(e["gflops"], 1), "", "", ""])
        else:
            if e["name"] == ref:
                vs = "1.00x"
            elif e["framework"] == "tfseq" and ref_entry is not None:
                vs = _ratio(ref_entry["words_per_s"] / e["words_per_s"])
            else:
                vs = _ratio(ref_ratios.get(e["name"]))
            per_value = e["ms_per_word"] if bench == "generate" else 1000 * e["median_s"]
            frac = e.get("fraction_of_ceiling")
            rows.append([
                e["name"],
                _num(e["words_per_s"]),
                f"{_num(e['words_per_s_min'])}-{_num(e['words_per_s_max'])}",
                _num(per_value, 2),
                _num(e["gflops"], 2 if bench == "generate" else 1),
                "-" if frac is None else f"{100 * frac:.1f}%",
                vs,
                e.get("path", ""),
            ])
    return head + "\n" + _columns([header] + rows)


def _columns(rows, left=1):
    """Aligned text columns, a rule under the header; the first ``left`` columns are
    left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ratio_with_spread(value, spread):
    if value is None:
        return "-"
    return f"{value:.2f}x ({spread[0]:.2f}-{spread[1]:.2f})"


def _short_name(name):
    """``name`` without its module path: ``keras.layers.LSTM jit_compile`` -> ``LSTM jit_compile``."""
    head, space, rest = name.partition(" ")
    callee, paren, args = head.partition("(")
    return callee.rsplit(".", 1)[-1] + paren + args + space + rest


_SUMMARY_TEXT = (
    "tfseq vs the fastest entry of each peer framework: tfseq's words/s / the entry's, ratio of medians "
    "(min-max of per-round ratios); > 1: tfseq faster; generation: latency ratio"
)


def _place(row):
    """What a summary row measured: ``(bench, shape, steps, family)``, as text."""
    return (row["bench"], row["shape"], str(row["num_steps"]), row["family"])


def format_summary(rows, frameworks=shapes.PEERS):
    """One line per group and reference (the first tfseq entry, then tfseq's own way:
    ``jit_compile`` or ``in-graph loop``), then a line naming the fastest entry of each peer framework (what the ratios
    are against)."""
    header = ["bench", "shape", "steps", "family", "tfseq"] + [f"vs {f}" for f in frameworks] + ["tfseq % ceil"]
    table = [header]
    for place, group_rows in itertools.groupby(rows, key=_place):
        vs_entry = {}
        for index, row in enumerate(group_rows):
            frac = row["reference_fraction_of_ceiling"]
            table.append(
                (list(place) if index == 0 else [""] * len(place))
                + [_short_name(row["reference"])]
                + [_ratio_with_spread(row["vs"].get(f), row["vs_spread"].get(f)) for f in frameworks]
                + ["-" if frac is None else f"{100 * frac:.1f}%"]
            )
            vs_entry.update(row["vs_entry"])
        against = [_short_name(vs_entry[f]) if f in vs_entry else "-" for f in frameworks]
        table.append([""] * len(place) + ["  (fastest entry)"] + against + [""])
    return f"== summary: {_SUMMARY_TEXT} ==\n" + _columns(table, left=len(header) - 1)


def format_markdown(results, command="python -m benchmarks", frameworks=shapes.PEERS):
    """The summary as a Markdown table for a README: ratios only, with the command and setting."""
    meta = results["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    lines = [
        f"`{command}` ({versions}; {meta['cpus']} CPUs, load average {meta['load_average_1min']['start']}; "
        f"{meta['config']['rounds']} interleaved rounds, medians). {_SUMMARY_TEXT}.",
        "",
        "| workload | shape | family | tfseq | " + " | ".join(f"vs {f}" for f in frameworks)
        + " | tfseq % of matmul ceiling |",
        "|---|---|---|---|" + "---|" * len(frameworks) + "---|",
    ]
    for row in results["summary"]:
        frac = row["reference_fraction_of_ceiling"]
        cells = [_markdown_vs(row, f) for f in frameworks]
        lines.append(
            f"| {row['bench']} | {row['shape']} ({row['num_steps']} steps) | {row['family']} | "
            f"`{_short_name(row['reference'])}` | "
            + " | ".join(cells)
            + f" | {'-' if frac is None else f'{100 * frac:.0f} %'} |"
        )
    return "\n".join(lines) + "\n"


def _markdown_vs(row, framework):
    """``<ratio> (<spread>) `<fastest entry>```, or ``-`` when there is no ratio."""
    if framework not in row["vs"]:
        return "-"
    ratio = _ratio_with_spread(row["vs"][framework], row["vs_spread"][framework])
    return f"{ratio} `{_short_name(row['vs_entry'][framework])}`"


def format_report(results):
    meta = results["meta"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    config = meta["config"]
    parts = [
        f"python -m benchmarks: {versions}; {meta['cpus']} CPUs; {config['rounds']} interleaved rounds, "
        f"{config['warmup']} warm-up, medians (min-max over rounds); took {meta['seconds']:.0f} s; "
        f"load average {meta['load_average_1min']['start']} -> {meta['load_average_1min']['end']}",
    ]
    parts += [f"note: {n}" for n in meta["notes"]]
    parts.append(
        f"matmul ceiling of this run: {_num(results['ceiling_gflops'], 1)} GFLOP/s "
        f"(float32 [{config['ceiling_size']}]^2 matmul, timed in every group's rounds; median over groups)"
    )
    parts += [format_group(g) for g in results["groups"]]
    parts.append(format_summary(results["summary"]))
    return "\n\n".join(parts)


def write_json(results, path):
    """Write ``results`` to ``path`` atomically (temp file + rename)."""
    write_text(json.dumps(results, indent=1), path)


def write_text(text, path):
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bench-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
