"""Training: the one loop (``Trainer`` + the ``Task`` contract + reporters) that also runs
under ``tf.distribute``, TensorBoard writers, atomic checkpoints, run directories and a
progress bar.

Imports only :mod:`tfseq.data` and the ground floor; every demo's task plugs into it.
"""

from tfseq.train.averaging import WeightAverage
from tfseq.train.checkpoints import CheckpointKeeper, training_trackables
from tfseq.train.distribute import WorkerLostError, make_strategy
from tfseq.train.loop import Trainer
from tfseq.train.progress import Progress
from tfseq.train.reporting import (
    EpochImages,
    EpochTexts,
    Perplexity,
    Reporter,
    WindowScalars,
    average_loss,
    perplexity,
)
from tfseq.train.run_dir import RunDir, SettingsMismatch
from tfseq.train.step import sum_duplicate_slices
from tfseq.train.stopping import Terminated
from tfseq.train.summaries import RunWriters, default_run_name, repository_logdir
from tfseq.train.task import Task

__all__ = [
    "Task",
    "Trainer",
    "Reporter",
    "Perplexity",
    "EpochTexts",
    "EpochImages",
    "WindowScalars",
    "perplexity",
    "average_loss",
    "sum_duplicate_slices",
    "WeightAverage",
    "CheckpointKeeper",
    "training_trackables",
    "Progress",
    "RunWriters",
    "default_run_name",
    "repository_logdir",
    "RunDir",
    "SettingsMismatch",
    "make_strategy",
    "WorkerLostError",
    "Terminated",
]
