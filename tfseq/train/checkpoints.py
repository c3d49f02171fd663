"""Atomic checkpoints and resume.

A checkpoint is a ``tf.train.Checkpoint`` of whatever the caller tracks: model and optimizer
variables, step/epoch counters, RNG states (Keras ``SeedGenerator`` states are not reached by
``tf.train.Checkpoint(model=...)``, so :func:`training_trackables` lists *all* model
variables, seed states included) and data position. It is written to a temporary directory
which is then renamed to ``ckpt-<step>`` (``os.replace``: atomic on POSIX), and only then is
the ``latest`` pointer file replaced, also atomically. A run killed at any moment leaves either
the previous checkpoint or the new one, never a half-written one.
"""

import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from tfseq._checks import check_positive_int

LATEST = "latest"


def training_trackables(model: Any, optimizer: Any, **extra: Any) -> dict[str, Any]:
    """``{name: trackable}`` covering every variable of ``model`` (weights and dropout RNG
    seed states) and of ``optimizer``, plus ``extra`` (counters, carried state ...)."""
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return {
        "model_variables": list(model.variables),
        "optimizer_variables": list(optimizer.variables),
        **extra,
    }


class CheckpointKeeper:
    """Writes atomic checkpoints of ``trackables`` under ``directory`` and restores the latest.

    Args:
        directory: where ``ckpt-<step>/`` directories and the ``latest`` file live.
        trackables: ``{name: trackable}`` for ``tf.train.Checkpoint``.
        max_to_keep: older checkpoints beyond this many are deleted.
    """

    def __init__(self, directory: str, trackables: Mapping[str, Any], max_to_keep: int = 2):
        self.max_to_keep = check_positive_int("CheckpointKeeper", "max_to_keep", max_to_keep)
        self.directory = os.fspath(directory)
        self.checkpoint = tf.train.Checkpoint(**trackables)

    def save(self, step: int) -> str:
        """Write checkpoint ``ckpt-<step>`` atomically and point ``latest`` at it; returns its prefix."""
        os.makedirs(self.directory, exist_ok=True)
        name = f"ckpt-{int(step)}"
        final = os.path.join(self.directory, name)
        tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=self.directory)
        try:
            self.checkpoint.write(os.path.join(tmp, "ckpt"))
            if os.path.exists(final):  # re-saving the same step (e.g. after a resume)
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._write_latest(name)
        self._prune(keep=name)
        return os.path.join(final, "ckpt")

    def _write_latest(self, name):
        fd, tmp = tempfile.mkstemp(prefix=".latest-", dir=self.directory)
        with os.fdopen(fd, "w") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.directory, LATEST))

    def _prune(self, keep):
        names = sorted(
            (n for n in os.listdir(self.directory) if n.startswith("ckpt-") and n[5:].isdigit()),
            key=lambda n: int(n[5:]),
        )
        old = [n for n in names if n != keep][: max(0, len(names) - self.max_to_keep)]
        for name in old:
            shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
        for name in os.listdir(self.directory):  # leftovers of a run killed mid-write
            if name.startswith(".ckpt-"):
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

    def latest(self) -> str | None:
        """Prefix of the latest complete checkpoint, or ``None``."""
        pointer = os.path.join(self.directory, LATEST)
        if not os.path.exists(pointer):
            return None
        with open(pointer) as f:
            name = f.read().strip()
        prefix = os.path.join(self.directory, name, "ckpt")
        return prefix if os.path.exists(prefix + ".index") else None

    def restore(self, prefix: str | None = None) -> str | None:
        """Restore ``prefix`` (default: the latest); returns the prefix, or ``None`` if there is none."""
        prefix = prefix or self.latest()
        if prefix is None:
            return None
        self.checkpoint.read(prefix).assert_existing_objects_matched()
        return prefix
