"""``tfseq bench``: benchmark tfseq's recurrent layers against Keras 3, TF1 and PyTorch."""

import os

from tfseq.cli.main import UsageError


def register(subparsers):
    from tfseq.bench import options

    parser = subparsers.add_parser(
        "bench",
        help="benchmark tfseq's RNNs against their peers",
        description="Benchmark tfseq's recurrent layers against Keras 3, TF1 (tf-keras) and PyTorch.",
        epilog=options.EPILOG,
    )
    options.add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args):
    from tfseq.bench import options

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
    """The seq2seq decoding benchmark (``tfseq.bench.decode``) with this command's options."""
    from tfseq.bench import decode

    argv = ["--quick"] if args.quick else []
    if args.rounds is not None:
        argv += ["--rounds", str(args.rounds)]
    if args.json:  # the RNN workloads keep --json; decoding writes next to it
        root, ext = os.path.splitext(args.json)
        argv += ["--json", f"{root}.decode{ext or '.json'}"]
    return decode.main(argv)
