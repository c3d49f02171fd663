"""``python -m benchmarks``: benchmark tfseq's recurrent layers against Keras 3, TF1 and PyTorch."""

import argparse
import os
import sys

from tfseq._checks import UsageError
from tfseq.cli.main import import_tensorflow_quietly

PROG = "python -m benchmarks"


def build_parser() -> argparse.ArgumentParser:
    from benchmarks import options

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Benchmark tfseq's recurrent layers against Keras 3, TF1 (tf-keras) and PyTorch.",
        epilog=options.EPILOG,
    )
    options.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; bad input is one line on stderr and exit code 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    import_tensorflow_quietly()
    try:
        return int(run(args) or 0)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2


def run(args):
    from benchmarks import options

    benches = [name.strip() for name in args.bench.split(",") if name.strip()]
    decode = "decode" in benches
    args.bench = ",".join(name for name in benches if name != "decode")
    config = None
    if args.bench or not decode:
        try:
            config = options.config_from_args(args)
        except ValueError as err:
            raise UsageError(str(err)) from None
    if decode and args.rounds is not None and args.rounds < 1:
        raise UsageError(f"--rounds must be >= 1, got {args.rounds}")
    if config is not None:
        options.run(config, args)
    if decode:
        return _run_decode(args)
    return 0


def _run_decode(args):
    """The seq2seq decoding benchmark (``benchmarks.decode``) with this command's options."""
    from benchmarks import decode

    argv = ["--quick"] if args.quick else []
    if args.rounds is not None:
        argv += ["--rounds", str(args.rounds)]
    if args.json:  # the RNN workloads keep --json; decoding writes next to it
        root, ext = os.path.splitext(args.json)
        argv += ["--json", f"{root}.decode{ext or '.json'}"]
    return decode.main(argv)
