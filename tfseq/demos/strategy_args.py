"""``--strategy``/``--devices``/``--collective-timeout`` for every ``train`` command.

Parsing imports no TensorFlow (``--help`` stays fast); :func:`strategy_from_args` then builds
the strategy with :func:`tfseq.train.distribute.make_strategy` — call it first thing in the
command, before any TensorFlow op (logical CPU devices and the multi-worker cluster must be
set up before TensorFlow initialises its devices)::

    from tfseq.demos.strategy_args import add_strategy_arguments, strategy_from_args
    add_strategy_arguments(train_parser)
    ...
    strategy = strategy_from_args(args)   # None for --strategy default; UsageError on bad input

A demo command gets both through :mod:`tfseq.demos.frame` (``add_train_arguments``,
``begin_training``).
"""

import argparse
from typing import Any

from tfseq._checks import UsageError

STRATEGIES = ("default", "mirrored", "multi-worker")  # == tfseq.train.distribute.STRATEGIES
COLLECTIVE_TIMEOUT = 60.0  # == tfseq.train.distribute.COLLECTIVE_TIMEOUT


def add_strategy_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add the three options to an argparse (sub)parser."""
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="tf.distribute strategy: default (one device), mirrored (several devices of this "
                             "machine) or multi-worker (one process per machine, the cluster from TF_CONFIG)")
    parser.add_argument("--devices", type=int, default=None,
                        help="mirrored: number of replicas (GPUs, or logical CPU devices without a GPU)")
    parser.add_argument("--collective-timeout", type=float, default=COLLECTIVE_TIMEOUT,
                        help="multi-worker: seconds to wait for a peer before ending the job "
                             f"(default {COLLECTIVE_TIMEOUT:g})")


def strategy_from_args(args: argparse.Namespace) -> Any:
    """The strategy the parsed options ask for (``None`` for ``default``); bad options,
    a missing ``TF_CONFIG`` ... raise :class:`~tfseq._checks.UsageError`."""
    from tfseq.train.distribute import make_strategy

    try:
        return make_strategy(args.strategy, args.devices, args.collective_timeout)
    except ValueError as err:
        raise UsageError(str(err)) from None
