"""The task contract: what :class:`~tfseq.train.Trainer` reads from a task, every member declared.

A task is any object with the members of :class:`Task` (``typing.Protocol``: subclassing it is
optional). Four are required: ``model``, ``steps_per_epoch()``, ``train_batches(start)`` and
``loss(batch, training)``. Every other member is optional; where a task lacks one, the
Trainer uses the default written next to it below (:class:`TaskView` fills them in).
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import keras
import tensorflow as tf

from tfseq.train.reporting import Reporter, TaskHooks

XLA_COMPILE = ("always", "single_device", "never")
OBJECTIVE_REDUCTIONS = ("mean", "sum")


class Task(Protocol):
    """What the Trainer trains. The step (traced once, run once per batch) is::

        objective, {"loss_sum": s, "count": n} = task.loss(batch, training=True)
        gradients of objective -> (all-reduced, clipped) -> optimizer

    Attributes:
        model: the Keras model whose ``trainable_variables`` are trained (required).
        throughput_name: the TensorBoard tag of the items (``count``) per second, e.g.
            ``"words_per_second"``. Default ``"items_per_second"``.
        objective_reduction: how the objective relates to the counted items, which tells
            the Trainer how to combine replicas under a ``tf.distribute`` strategy:
            ``"mean"`` (default: a mean over the ``count`` items, e.g. a per-token
            cross-entropy; each replica's gradient is weighted by its share of the global
            count) or ``"sum"`` (a sum over items; the gradients are summed as they are).
        xla_compile: whether the step may be compiled with XLA: ``"always"`` (default),
            ``"single_device"`` (not under a strategy, e.g. a loss that all-gathers state
            across replicas, which XLA cannot hold) or ``"never"`` (an op without an XLA
            kernel). Under ``Trainer(jit_compile=None)`` a step that may not be compiled
            runs without XLA after a one-line warning; ``jit_compile=True`` refuses it.
        reporters: :class:`~tfseq.train.reporting.Reporter` objects for what is written
            besides the loss (derived metrics such as perplexity, texts, images, window
            scalars). Default: none; a task without ``reporters`` that defines the reporter
            methods itself (``derived_metrics``, ``window_scalars``, ``epoch_texts``,
            ``epoch_images``) is reported through those
            (:class:`~tfseq.train.reporting.TaskHooks`).
    """

    model: keras.Model
    throughput_name: str = "items_per_second"
    objective_reduction: Literal["mean", "sum"] = "mean"
    xla_compile: Literal["always", "single_device", "never"] = "always"
    reporters: Sequence[Reporter] = ()

    def steps_per_epoch(self) -> int:
        """Number of training steps (batches) in one epoch (required)."""
        ...

    def train_batches(self, start: int) -> Iterable[Any]:
        """One epoch of training batches, skipping the first ``start`` (required): a
        ``tf.data.Dataset`` or any iterable of nests of tensors. Under a strategy these are
        global batches, split into contiguous row blocks among the replicas."""
        ...

    def loss(self, batch: Any, training: bool) -> tuple[tf.Tensor, Mapping[str, tf.Tensor]]:
        """Traced inside the step (required). Returns ``(objective, {"loss_sum": s, "count": n})``:
        the scalar to differentiate, and the summed per-item loss over ``n`` items (what
        "Training Loss" averages)."""
        ...

    def reset_state(self) -> None:
        """Called at the start of every epoch (e.g. zero a carried RNN state). Default: nothing."""

    def evaluate(self, split: str) -> Mapping[str, Any] | None:
        """``{"loss": mean per-item loss, ...}`` on ``split`` (``"validation"`` or ``"test"``),
        or ``None`` when there is no such split (default: ``None``). Every other *float* in the
        dict (e.g. ``"BLEU"``) is logged under its key and printed; ints (counts) are not."""
        return None

    def trackables(self) -> Mapping[str, Any]:
        """Extra ``{name: trackable}`` to checkpoint (carried state, an epoch counter).
        Default: none."""
        return {}


class TaskView:
    """A task as the Trainer reads it: every optional member of :class:`Task` present,
    either the task's own or the documented default, and checked.

    Args:
        task: the task (a :class:`Task` subclass or a duck-typed object).

    Raises:
        ValueError: a missing required member, or an unknown ``objective_reduction`` or
            ``xla_compile``.
    """

    def __init__(self, task: Any):
        for name in ("model", "steps_per_epoch", "train_batches", "loss"):
            if not hasattr(task, name):
                raise ValueError(f"Trainer: the task must have {name!r} (see tfseq.train.Task), "
                                 f"got {type(task).__name__}")
        self.task = task
        self.throughput_name = str(getattr(task, "throughput_name", Task.throughput_name))
        self.objective_reduction = getattr(task, "objective_reduction", Task.objective_reduction)
        if self.objective_reduction not in OBJECTIVE_REDUCTIONS:
            raise ValueError(f"Trainer: task.objective_reduction must be one of {OBJECTIVE_REDUCTIONS}, "
                             f"got {self.objective_reduction!r}")
        self.xla_compile = getattr(task, "xla_compile", Task.xla_compile)
        if self.xla_compile not in XLA_COMPILE:
            raise ValueError(f"Trainer: task.xla_compile must be one of {XLA_COMPILE}, got {self.xla_compile!r}")
        if hasattr(task, "reporters"):
            self.reporters = list(task.reporters)
        else:
            hooks = TaskHooks.of(task)
            self.reporters = [] if hooks is None else [hooks]

    @property
    def model(self) -> keras.Model:
        return self.task.model

    def may_compile(self, distributed: bool) -> bool:
        """Whether the step may be XLA-compiled, with or without a strategy."""
        return self.xla_compile == "always" or (self.xla_compile == "single_device" and not distributed)

    def steps_per_epoch(self) -> int:
        return int(self.task.steps_per_epoch())

    def train_batches(self, start: int) -> Iterable[Any]:
        return self.task.train_batches(start)

    def loss(self, batch: Any, training: bool) -> tuple[tf.Tensor, Mapping[str, tf.Tensor]]:
        return self.task.loss(batch, training=training)

    def reset_state(self) -> None:
        method = getattr(self.task, "reset_state", None)
        if method is not None:
            method()

    def evaluate(self, split: str) -> Mapping[str, Any] | None:
        method = getattr(self.task, "evaluate", None)
        return None if method is None else method(split)

    def trackables(self) -> dict[str, Any]:
        method = getattr(self.task, "trackables", None)
        return {} if method is None else dict(method())


class EpochCounter:
    """How many epochs a task has started, in a variable the task lists in ``trackables()``, so
    a resumed run shuffles each epoch exactly as an uninterrupted one (the batch order of epoch
    ``e`` is drawn from ``(seed, e)``). ``reset_state()`` calls :meth:`start`; ``train_batches``
    reads :attr:`epoch`."""

    def __init__(self) -> None:
        self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_started")

    def start(self) -> None:
        self.variable.assign_add(1)

    @property
    def epoch(self) -> int:
        """The epoch being trained (0 before the first :meth:`start`)."""
        return max(int(self.variable.numpy()) - 1, 0)


class BestWeights:
    """A copy of a model's trainable weights from its best-scoring validation so far.

    The copy, its score and its 1-based epoch are variables the task lists in ``trackables()``
    (:meth:`trackables`), so a resumed run keeps the same best. A task calls :meth:`offer`
    after each validation and :meth:`restore` once training is done, so the run's final
    checkpoint, ``model.keras`` and test scores are that epoch's.

    Args:
        model: the Keras model whose ``trainable_variables`` are copied.
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.weights = [tf.Variable(v, trainable=False, name="best_" + v.name.replace("/", "_"))
                        for v in model.trainable_variables]
        self.score = tf.Variable(float("-inf"), dtype=tf.float64, trainable=False, name="best_score")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_epoch")

    def offer(self, score: float, epoch: int) -> bool:
        """Copy the model's weights if ``score`` beats every earlier one (ties keep the
        earlier epoch); ``epoch`` is the 0-based epoch just validated. Whether it was kept."""
        if not score > float(self.score.numpy()):
            return False
        # The score last: it says the copy is complete. A run interrupted before it is saved
        # with the old score and evaluates again on resume, so it copies again.
        for kept, weight in zip(self.weights, self.model.trainable_variables):
            kept.assign(weight)
        self.epoch.assign(epoch + 1)
        self.score.assign(score)
        return True

    @property
    def best_epoch(self) -> int | None:
        """The 1-based epoch of the kept weights, or ``None`` before the first :meth:`offer`."""
        epoch = int(self.epoch.numpy())
        return epoch or None

    def restore(self) -> int | None:
        """Put the kept weights into the model; their epoch (1-based), or ``None`` when none
        was kept (the model is left as it is)."""
        epoch = self.best_epoch
        if epoch is not None:
            for weight, kept in zip(self.model.trainable_variables, self.weights):
                weight.assign(kept)
        return epoch

    def trackables(self) -> dict[str, Any]:
        """The variables to checkpoint with the run."""
        return {"best_weights": self.weights, "best_score": self.score, "best_epoch": self.epoch}


class SelectsBest:
    """What a task with an optional :class:`BestWeights` in ``self._best`` (``None``: no
    selection) shares: :meth:`offer_best` from its ``evaluate``, :meth:`best_trackables` for its
    ``trackables()``, and :attr:`best_epoch` and :meth:`use_best` for its command."""

    _best: BestWeights | None = None

    def offer_best(self, split: str, score: float, epoch: int) -> None:
        """After ``evaluate(split)``: offer the model's weights with ``score`` when ``split`` is
        the Trainer's ``"validation"`` and the task selects (``epoch``: 0-based, just validated)."""
        if self._best is not None and split == "validation":
            self._best.offer(score, epoch)

    @property
    def best_epoch(self) -> int | None:
        """The 1-based epoch whose weights :meth:`use_best` restores, or ``None`` (no
        selection, or no validation yet)."""
        return None if self._best is None else self._best.best_epoch

    def use_best(self) -> int | None:
        """Put the best validation epoch's weights into the model; that epoch (1-based) or
        ``None`` when there is none to use (the model is left as it is)."""
        return None if self._best is None else self._best.restore()

    def best_trackables(self) -> dict[str, Any]:
        """The kept weights' variables, to checkpoint with the run (none without selection)."""
        return {} if self._best is None else self._best.trackables()
