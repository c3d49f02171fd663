"""``tfseq`` console script: dispatches to sub-command modules.

Each module in ``SUBCOMMANDS`` exposes ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed args, returns an exit code). Bad input is a
:class:`~tfseq._checks.UsageError`: one line on stderr, exit code 2, no traceback.
The command modules import no TensorFlow at import time (the demo packages load their
names on first use), so :func:`main` imports it quietly before any command runs.
"""

import argparse
import os
import sys

from tfseq._checks import UsageError
from tfseq.cli import checkpoint
from tfseq.demos.classify import command as classify_command
from tfseq.demos.lm import command as lm_command
from tfseq.demos.regress import command as regress_command
from tfseq.demos.tag import command as tag_command
from tfseq.demos.translate import command as translate_command

# in --help order
SUBCOMMANDS = [lm_command, checkpoint, translate_command, regress_command, classify_command, tag_command]


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN notice, CUDA probing, cuInit
    failures on machines without a GPU) kept off the terminal: they are written before absl
    logging starts, so TF_CPP_MIN_LOG_LEVEL cannot silence them, and they would bury
    one-line error messages. Set ``TFSEQ_VERBOSE_TF=1`` to see them."""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfseq", description="tfseq: TF1's RNN cells and seq2seq on Keras 3 - demos, TF1 checkpoints."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
    except KeyboardInterrupt as err:  # Ctrl-C; or SIGTERM while training (tfseq.train.stopping.Terminated)
        status = getattr(err, "exit_status", 130)
        print(f"tfseq {args.command}: {'interrupted' if status == 130 else 'terminated (SIGTERM)'}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
