"""Command-line options of the benchmark, of ``python -m benchmarks``."""

import argparse

from benchmarks import runner, shapes

PRECISIONS = ("float32", "mixed_bfloat16")

EPILOG = (
    "Default: shapes small (20 steps) and medium (35 steps), all three workloads and families, "
    "peers keras, tf1, torch, 5 rounds. Figures are only comparable within one run."
)


def add_arguments(parser):
    parser.add_argument(
        "--shapes", default=None,
        help="comma list of presets: small, medium, tiny (default: small,medium; tiny with --quick)",
    )
    parser.add_argument(
        "--steps", default=None,
        help="comma list of num_steps run at every shape (default: each preset's own, small 20, medium 35)",
    )
    parser.add_argument(
        "--only", default=",".join(shapes.FAMILIES), help="comma list of cell families: lstm, gru, rnn"
    )
    parser.add_argument(
        "--bench", default=",".join(shapes.BENCHES),
        help="comma list of workloads: fwd_bwd, train, generate, and decode (seq2seq greedy and beam search "
             "with attention vs a Keras per-token loop and keras-hub: python -m benchmarks.decode with "
             "--rounds, --quick and --json; not in the default list)",
    )
    parser.add_argument(
        "--peers", default=",".join(shapes.PEERS),
        help="comma list of peers: keras, tf1, torch, floor (the workload's matmuls alone), or none",
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved timed rounds (default 5; 1 with --quick)")
    parser.add_argument("--min-time", type=float, default=None, help="seconds per timed sample (default 0.2)")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="PyTorch intra-op threads (default: PyTorch's, one per core)"
    )
    parser.add_argument(
        "--precision", default="float32",
        help="comma list of tfseq's precisions: float32, mixed_bfloat16 (adds tfseq rows named '... "
             "[mixed_bfloat16]': Keras' mixed policy, float32 weights and loss, bfloat16 compute)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 1 round: a smoke test")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write all results as JSON to PATH")
    parser.add_argument(
        "--markdown", default=None, metavar="PATH", help="also write the summary as a Markdown table to PATH"
    )
    return parser


def _choices(arg, value, allowed, allow_empty=False):
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if items == ("none",) and allow_empty:
        return ()
    bad = [v for v in items if v not in allowed]
    if bad or (not items and not allow_empty):
        raise ValueError(f"{arg} must be a comma list of {', '.join(allowed)}, got {value!r}")
    return tuple(dict.fromkeys(items))


def config_from_args(args):
    """``BenchConfig`` from parsed options; bad values raise ``ValueError`` naming the option."""
    names = tuple(shapes.PRESETS)
    overrides = {
        "families": _choices("--only", args.only, shapes.FAMILIES),
        "benches": _choices("--bench", args.bench, shapes.BENCHES),
        "peers": _choices("--peers", args.peers, shapes.PEERS, allow_empty=True),
        "precisions": _choices("--precision", args.precision, PRECISIONS),
    }
    if args.shapes is not None:
        overrides["shapes"] = _choices("--shapes", args.shapes, names)
    if args.steps is not None:
        try:
            steps = tuple(int(s) for s in args.steps.split(","))
        except ValueError:
            steps = ()
        if not steps or min(steps) < 1:
            raise ValueError(f"--steps must be a comma list of positive integers, got {args.steps!r}")
        overrides["steps"] = steps
    if args.rounds is not None:
        if args.rounds < 1:
            raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
        overrides["rounds"] = args.rounds
    if args.torch_threads is not None:
        if args.torch_threads < 1:
            raise ValueError(f"--torch-threads must be >= 1, got {args.torch_threads}")
        overrides["torch_threads"] = args.torch_threads
    if args.min_time is not None:
        if args.min_time < 0:
            raise ValueError(f"--min-time must be >= 0, got {args.min_time}")
        overrides["min_time"] = args.min_time
    return runner.quick_config(**overrides) if args.quick else runner.BenchConfig(**overrides)


def command_line(args):
    """The ``python -m benchmarks`` command that reproduces ``args`` (output paths left out)."""
    defaults = add_arguments(argparse.ArgumentParser()).parse_args([])
    parts = ["python -m benchmarks"] + (["--quick"] if args.quick else [])
    for name in ("shapes", "steps", "only", "bench", "peers", "rounds", "min_time", "torch_threads", "precision"):
        value = getattr(args, name)
        if value != getattr(defaults, name):
            parts.append(f"--{name.replace('_', '-')} {value}")
    return " ".join(parts)


def run(config, args, out=print):
    """Run ``config`` (from :func:`config_from_args`): the table on stdout, JSON and Markdown
    where ``args`` asks. Returns the results."""
    from benchmarks import report

    results = runner.run_benchmark(config)
    out(report.format_report(results))
    if args.json:
        report.write_json(results, args.json)
    if args.markdown:
        report.write_text(report.format_markdown(results, command_line(args)), args.markdown)
    return results
