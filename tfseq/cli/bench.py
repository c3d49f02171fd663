"""``tfseq bench``: benchmark tfseq's recurrent layers against Keras 3, TF1 and PyTorch."""

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

    try:
        config = options.config_from_args(args)
    except ValueError as err:
        raise UsageError(str(err)) from None
    options.run(config, args)
    return 0
