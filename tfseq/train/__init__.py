"""Training: a general loop (``Trainer`` + ``Task``), TensorBoard writers, atomic
checkpoints, a progress bar, and the language-model task."""

from tfseq.train.checkpoints import CheckpointKeeper, training_trackables
from tfseq.train.language_model import LanguageModelTask, perplexity
from tfseq.train.loop import Task, Trainer
from tfseq.train.progress import Progress
from tfseq.train.summaries import RunWriters, default_run_name

__all__ = [
    "Task",
    "Trainer",
    "perplexity",
    "LanguageModelTask",
    "CheckpointKeeper",
    "training_trackables",
    "Progress",
    "RunWriters",
    "default_run_name",
]
