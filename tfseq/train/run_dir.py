"""A training run's directory, the same for every ``train`` command (``tfseq lm``, ``translate``,
``regress``): ``<logdir>/<run>/`` with ``config.json`` (the run's settings), files written once
when the run starts (a vocabulary, tokenizers), ``checkpoints/`` and the TensorBoard event files.

* :meth:`RunDir.prepare` writes the settings of a new run, or checks them against a run that
  exists (training it again resumes it): a difference raises :class:`SettingsMismatch`
  naming each key, ``"<dir> holds a run with other settings: config.hidden_size: saved 16,
  now 32"``. Keys listed in ``may_change`` (e.g. the number of epochs) may differ: the saved
  settings are updated, so a finished run can be trained further.
* Writes are atomic: the extra files first, ``config.json`` last by ``os.replace``; a
  directory without ``config.json`` (a start that was killed) is started afresh.
* :meth:`RunDir.completed_epochs` reads the epoch counter of the latest checkpoint
  (:class:`~tfseq.train.loop.Trainer`'s ``epoch`` variable), so a command can say that a
  run is complete before building anything.
"""

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import tensorflow as tf

from tfseq.train.checkpoints import CheckpointKeeper

SETTINGS = "config.json"


class SettingsMismatch(ValueError):
    """The run directory holds a run with other settings (the message names the keys)."""


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"config": {"a": 1}}`` -> ``{"config.a": 1}`` (JSON round-tripped first)."""
    flat = {}
    for key, value in json.loads(json.dumps(settings)).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def differences(saved: Mapping[str, Any], now: Mapping[str, Any], ignore: Iterable[str] = ()) -> list[str]:
    """``["key: saved X, now Y", ...]`` for every dotted key that differs (``None`` if absent)."""
    saved, now = flatten(saved), flatten(now)
    lines = []
    for key in sorted(set(saved) | set(now)):
        if key in ignore or saved.get(key) == now.get(key):
            continue
        lines.append(f"{key}: saved {_show(saved, key)}, now {_show(now, key)}")
    return lines


def _show(values, key):
    return json.dumps(values[key]) if key in values else "(not set)"


class RunDir:
    """``<logdir>/<run>``: settings, files, checkpoints.

    Args:
        path: the run directory.

    Example:
        >>> run = RunDir("logdir/names/r1")
        >>> state = run.prepare({"config": {...}, "seed": 0}, files={"vocab.json": vocab.save},
        ...                     may_change=("config.max_max_epoch",))   # "new" or "resume"
        >>> run.read()["seed"]
        0
    """

    def __init__(self, path: str | os.PathLike):
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ValueError(f"RunDir: path must be a non-empty path, got {path!r}")
        self.path = os.fspath(path)

    def file(self, name: str) -> str:
        """The path of ``name`` inside the run directory."""
        return os.path.join(self.path, name)

    @property
    def checkpoint_dir(self) -> str:
        return self.file("checkpoints")

    def exists(self) -> bool:
        """Whether a run was started here (its settings were written)."""
        return os.path.exists(self.file(SETTINGS))

    def prepare(self, settings: Mapping[str, Any], files: Mapping[str, Callable[[str], Any]] | None = None,
                may_change: Iterable[str] = ()) -> str:
        """Start a run with ``settings`` or check them against the existing one.

        Args:
            settings: JSON-serialisable dict.
            files: ``{name: write(path)}`` called for a new run only (e.g. ``vocab.save``).
            may_change: dotted keys allowed to differ from the saved run (updated in it).

        Returns:
            ``"new"`` or ``"resume"``.

        Raises:
            SettingsMismatch: the saved settings differ in other keys.
        """
        if self.exists():
            saved = self.read()
            lines = differences(saved, settings, ignore=may_change)
            if lines:
                raise SettingsMismatch(f"{self.path} holds a run with other settings: {'; '.join(lines)}; "
                                       "choose another --run to start afresh")
            if differences(saved, settings):
                self._write_settings(settings)
            return "resume"
        os.makedirs(self.path, exist_ok=True)
        for name, write in (files or {}).items():
            write(self.file(name))
        self._write_settings(settings)
        return "new"

    def _write_settings(self, settings):
        fd, tmp = tempfile.mkstemp(prefix=".config-", dir=self.path)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(settings, f, indent=2)
        os.replace(tmp, self.file(SETTINGS))

    def read(self) -> dict[str, Any]:
        """The saved settings (``ValueError`` if there is no run here)."""
        if not self.exists():
            raise ValueError(f"{self.path}: not a tfseq run (no {SETTINGS})")
        with open(self.file(SETTINGS), encoding="utf-8") as f:
            return json.load(f)

    def latest_checkpoint(self) -> str | None:
        """The prefix of the latest complete checkpoint, or ``None``."""
        return CheckpointKeeper(self.checkpoint_dir, {}).latest()

    def completed_epochs(self) -> int:
        """Epochs finished according to the latest checkpoint (0 without one)."""
        prefix = self.latest_checkpoint()
        if prefix is None:
            return 0
        reader = tf.train.load_checkpoint(prefix)
        return int(reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE"))
