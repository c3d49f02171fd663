"""``tfseq`` console script: dispatches to sub-command modules.

Each module in ``SUBCOMMANDS`` exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed args, returns an exit code). Bad input is a
:class:`UsageError`: one line on stderr, exit code 2, no traceback.
"""

import argparse
import importlib
import os
import sys

SUBCOMMANDS = [
    # one line per sub-command module, e.g. "tfseq.demos.lm.command"
    "tfseq.demos.lm.command",
    "tfseq.cli.checkpoint",
    "tfseq.demos.translate.command",
    "tfseq.demos.regress.command",
    "tfseq.demos.tag.command",
]


from tfseq._checks import UsageError


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up lines (oneDNN notice, CUDA probing, cuInit failures on
    machines without a GPU) kept off
    the terminal: they are written before absl logging starts, so TF_CPP_MIN_LOG_LEVEL
    cannot silence them, and they would bury one-line error messages. Set
    ``TFSEQ_VERBOSE_TF=1`` to see them."""
    if "tensorflow" in sys.modules or os.environ.get("TFSEQ_VERBOSE_TF"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        tensorflow.config.list_physical_devices()  # probes CUDA now, while quiet
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfseq", description="tfseq: TF1's RNN cells and seq2seq on Keras 3 - demos, TF1 checkpoints."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None):
    # Before TensorFlow is first imported. 3 also hides benign C++ notices logged at ERROR
    # level (e.g. oneDNN's int32 fallback); real failures still raise Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    import_tensorflow_quietly()
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"tfseq {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tfseq {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
