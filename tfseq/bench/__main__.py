"""``python -m tfseq.bench [options]``: same options as ``tfseq bench``."""

import argparse
import os
import sys


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfseq.bench import options

    parser = argparse.ArgumentParser(
        prog="python -m tfseq.bench", description=__doc__.splitlines()[0], epilog=options.EPILOG
    )
    args = options.add_arguments(parser).parse_args(argv)
    try:
        config = options.config_from_args(args)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    options.run(config, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
