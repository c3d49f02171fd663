"""TensorBoard event files for one run: ``<run_dir>/train``, ``<run_dir>/validation``.

A run directory is ``logdir/<experiment>/<run>``; point TensorBoard at ``logdir`` (or at
the experiment) and runs appear side by side. Scalars, histograms, text and images go to
the split's writer; the run's hyper-parameters go to the run directory itself, which is how
the HParams plugin (``tensorboard.plugins.hparams``) finds a session and its per-split
metrics. The writers are created here and passed to whoever writes; nothing is global.
"""

import datetime
import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any, Self

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

SPLITS = ("train", "validation", "test")


def default_run_name(*parts: Any) -> str:
    """``part1-part2-YYYYmmdd-HHMMSS`` (UTC), a fresh run name."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return "-".join([str(p) for p in parts if p] + [stamp])


def repository_logdir(start: str | os.PathLike | None = None) -> pathlib.Path:
    """The ``logdir/`` of the tfseq clone around ``start``, where notebooks write their runs.

    Walks up from ``start`` to the first folder holding both ``setup.cfg`` and ``tfseq/``
    (the clone's root) and returns its ``logdir``, so ``tensorboard --logdir logdir`` in the
    clone shows the runs wherever Jupyter was started. Outside a clone: ``start/logdir``.
    The environment variable ``TFSEQ_NOTEBOOK_LOGDIR``, when set and non-empty, overrides
    the search (the notebook tests point it at a temporary folder).

    Args:
        start: folder to search from (a path); the working directory when ``None``.

    Returns:
        A ``pathlib.Path`` (not created).
    """
    if os.environ.get("TFSEQ_NOTEBOOK_LOGDIR"):
        return pathlib.Path(os.environ["TFSEQ_NOTEBOOK_LOGDIR"])
    here = pathlib.Path.cwd() if start is None else pathlib.Path(start)
    here = here.resolve()
    for folder in [here, *here.parents]:
        if (folder / "setup.cfg").is_file() and (folder / "tfseq").is_dir():
            return folder / "logdir"
    return here / "logdir"


class RunWriters:
    """Summary writers of one run.

    Args:
        run_dir: ``logdir/<experiment>/<run>``; created if missing.

    Example:
        >>> writers = RunWriters("logdir/names/run1")
        >>> writers.scalars("train", {"Training Loss": 2.3}, step=10)
        >>> writers.close()
    """

    def __init__(self, run_dir: str | os.PathLike):
        if not isinstance(run_dir, (str, os.PathLike)) or not os.fspath(run_dir):
            raise ValueError(f"run_dir must be a non-empty path, got {run_dir!r}")
        self.run_dir = os.fspath(run_dir)
        os.makedirs(self.run_dir, exist_ok=True)
        self._writers = {}

    def writer(self, split: str) -> tf.summary.SummaryWriter:
        """The ``tf.summary`` writer of ``split`` (one of :data:`SPLITS`, or ``"run"``)."""
        if split not in SPLITS and split != "run":
            raise ValueError(f"split must be one of {SPLITS + ('run',)}, got {split!r}")
        if split not in self._writers:
            path = self.run_dir if split == "run" else os.path.join(self.run_dir, split)
            self._writers[split] = tf.summary.create_file_writer(path)
        return self._writers[split]

    def scalars(self, split: str, values: Mapping[str, float], step: int) -> None:
        """Write ``{tag: number}`` at ``step``. Values are stored as float32, as TensorBoard
        keeps scalars: a finite number beyond its range (a diverged loss) is written as inf."""
        with self.writer(split).as_default():
            for tag, value in values.items():
                tf.summary.scalar(tag, tf.constant(float(value), tf.float64), step=int(step))

    def histograms(self, split: str, variables: Iterable[Any], step: int, prefix: str = "weights/") -> None:
        """One histogram per variable, tagged ``prefix + variable path``."""
        with self.writer(split).as_default():
            for variable in variables:
                name = getattr(variable, "path", None) or variable.name
                tf.summary.histogram(prefix + name.replace(":0", ""), variable, step=int(step))

    def text(self, split: str, tag: str, text: str, step: int) -> None:
        """A text summary (rendered as Markdown by TensorBoard)."""
        with self.writer(split).as_default():
            tf.summary.text(tag, tf.constant(text), step=int(step))

    def image(self, split: str, tag: str, image: Any, step: int, max_outputs: int = 8) -> None:
        """An image summary: ``image`` is ``uint8`` ``[H, W, C]`` or ``[N, H, W, C]`` (C = 1, 3 or 4),
        e.g. :func:`tfseq.train.figures.figure_to_image` of a plot."""
        pixels = tf.convert_to_tensor(image)
        if pixels.shape.rank == 3:
            pixels = pixels[tf.newaxis]
        if pixels.shape.rank != 4 or pixels.shape[-1] not in (1, 3, 4):
            raise ValueError(f"image {tag!r} must be [H, W, C] or [N, H, W, C] with C in 1, 3, 4, "
                             f"got shape {tuple(pixels.shape)}")
        with self.writer(split).as_default():
            tf.summary.image(tag, pixels, step=int(step), max_outputs=max_outputs)

    def hparams(self, values: Mapping[str, Any], trial_id: str | None = None) -> None:
        """Record the run's hyper-parameters for the HParams plugin.

        ``values`` maps names to bool/int/float/str; other values are written as strings.
        """
        clean = {}
        for key, value in values.items():
            clean[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
        with self.writer("run").as_default():
            hp.hparams(clean, trial_id=trial_id or os.path.basename(self.run_dir.rstrip(os.sep)))

    def flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc):
        self.close()
