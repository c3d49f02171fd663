"""A general training loop: epochs of ``tf.function`` steps, TensorBoard, resume.

The loop knows nothing about any particular model. A *task* plugs in (the contract:
:class:`~tfseq.train.task.Task`, a ``typing.Protocol``; subclassing it is optional): it
supplies the model, one epoch of batches starting at a given position, the loss of a batch
(called inside the compiled step) and an evaluation. *Reporters*
(:mod:`tfseq.train.reporting`) say what else is written at log windows and epoch ends.
The loop owns the rest:

* one ``tf.function`` step (:mod:`tfseq.train.step`), always run through
  ``strategy or tf.distribute.get_strategy()``: ``task.loss`` under a ``GradientTape``,
  gradients clipped by global norm (unless ``max_grad_norm=None``), repeated embedding rows
  summed, ``optimizer.apply_gradients``, metric sums and step counters updated in
  variables, so the Python loop does no per-step tensor work. By default the step is
  compiled with XLA (``jit_compile``): measured 1.3x faster for the PTB ``small`` model on
  CPU. A task declares whether its step may be compiled (``task.xla_compile``); where it
  may not, or where XLA fails to compile it (an op without an XLA kernel), the step runs
  as a plain graph after a warning; ``jit_compile=False`` turns XLA off, ``True`` makes it
  required;
* the learning rate: ``learning_rate_at(epoch)``, set once per epoch, or (with
  ``learning_rate_at=None``) the optimizer's own, e.g. a per-step
  ``keras.optimizers.schedules.LearningRateSchedule`` (warm-up, decay);
* per-epoch evaluation (every number it returns is logged and printed), TensorBoard
  scalars/histograms/text/images/hparams
  (:class:`~tfseq.train.summaries.RunWriters`), a progress bar;
* ``strategy``: the same loop under ``tf.distribute`` (one machine's devices or several
  machines; :mod:`tfseq.train.distribute`): per-replica batches, all-reduced gradients,
  chief-only summaries and checkpoints, a lost worker ends the job with
  :class:`~tfseq.train.distribute.WorkerLostError`;
* checkpoints of model, optimizer, counters, RNG states and task state
  (:class:`~tfseq.train.checkpoints.CheckpointKeeper`) every ``checkpoint_every`` steps, at
  each epoch end and on Ctrl-C, and resume from the latest one: the data position is the
  step within the epoch, and ``task.train_batches(start)`` skips the windows already seen.

TensorBoard tags (the PTB tutorial's first): ``train/``: "Training Loss" (mean loss per
item over the last ``log_every`` steps), "Learning Rate", "Gradient Norm" (before
clipping), ``task.throughput_name`` (e.g. "words_per_second", counted over the time spent
fetching batches and running steps only), the reporters' derived metrics ("Perplexity") and
window scalars; each epoch ``weights/<variable path>`` histograms, the reporters' texts
(e.g. "samples") and images (e.g. attention heatmaps); ``validation/``: "Validation Loss",
derived metrics and every other number of ``task.evaluate`` (e.g. "BLEU").
"""

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_optional_bool, check_positive_int
from tfseq._xla import xla_pays_for
from tfseq.train import distribute
from tfseq.train.averaging import WeightAverage, check_decay
from tfseq.train.checkpoints import CheckpointKeeper, training_trackables
from tfseq.train.progress import Progress, format_epoch, validation_scalars
from tfseq.train.reporting import Reporter, Reporters
from tfseq.train.step import make_train_step
from tfseq.train.stopping import interrupts_deferred, raise_if_terminated, sigterm_stops, terminated_at_once
from tfseq.train.summaries import RunWriters
from tfseq.train.task import Task, TaskView

__all__ = ["Task", "Trainer"]


class Trainer:
    """Runs a :class:`~tfseq.train.task.Task` for ``epochs`` epochs.

    The contract: the Trainer calls ``task.steps_per_epoch()`` once, then per epoch
    ``task.reset_state()`` (at its start), ``task.train_batches(start)`` and, inside the
    compiled step, ``task.loss(batch, training=True)``; at each log window and epoch end it
    asks the reporters (``task.reporters`` then ``reporters``; :mod:`tfseq.train.reporting`),
    and at each epoch end ``task.evaluate("validation")``. It checkpoints
    ``task.trackables()`` with the model, the optimizer and its own counters.

    Args:
        task: the task (see :class:`~tfseq.train.task.Task`; duck typing is fine).
        optimizer: a Keras optimizer (``keras.optimizers.SGD`` for the PTB tutorial,
            ``Adam`` for translation), whose ``learning_rate`` may be a per-step
            ``keras.optimizers.schedules.LearningRateSchedule``.
        epochs: total number of epochs.
        learning_rate_at: ``epoch -> learning rate`` (0-based epoch), set at the start of
            each epoch; ``None`` leaves the optimizer's own learning rate (or schedule) alone.
        max_grad_norm: gradients are clipped to this global norm; ``None``: no clipping.
        writers: a :class:`~tfseq.train.summaries.RunWriters` or ``None``.
        checkpoint_dir: where checkpoints go, or ``None`` for none.
        checkpoint_every: also checkpoint every this many steps (``None``: epoch ends only).
        log_every: steps between scalar summaries and progress refreshes (default:
            1/50 epoch, at least 20).
        progress: a :class:`~tfseq.train.progress.Progress` (bar and epoch lines) or ``None``
            (silent).
        histograms: write weight histograms at each epoch's end.
        jit_compile: compile the step with XLA: ``None`` (default) compiles it where the
            task allows (``task.xla_compile``) and runs the plain ``tf.function`` graph
            after a one-line warning where it does not, or where XLA fails to compile the
            step; a model computing in ``bfloat16``/``float16`` (a mixed-precision policy)
            on a machine without a GPU runs the plain graph without a warning, being faster
            there (:func:`tfseq._xla.xla_pays_for`). ``True`` requires XLA (``ValueError``
            for a task that does not allow it, XLA's error where compiling fails); ``False``
            never uses it; :attr:`xla` says which was chosen. XLA draws other
            random numbers than TensorFlow (dropout), so resume a run with the same setting.
            Under a strategy each replica's forward/backward pass is compiled (the
            all-reduce stays outside).
        strategy: a ``tf.distribute`` strategy, or ``None``: the strategy whose scope the
            Trainer is created in, if any, else one device. Create the model, the task and
            the optimizer inside ``strategy.scope()``; the task's batches are global batches,
            split among the replicas (see :mod:`tfseq.train.distribute`). Only the chief
            writes summaries and checkpoints.
        reporters: more :class:`~tfseq.train.reporting.Reporter` objects, after the task's.
        weight_average: keep an exponential moving average of the trained weights with this
            decay (e.g. ``0.999``; :class:`~tfseq.train.WeightAverage`), updated after
            every step and checkpointed with the run: each epoch's evaluation (and its
            histograms, texts and images) then sees the averages, which the model holds only
            for that while; :meth:`use_averages` puts them in for good. ``None``: no average.

    Raises:
        ValueError: a bad argument (named, with its value), a task without a required
            member, a model or optimizer not created in the strategy's scope.
    """

    def __init__(self, task: Task, optimizer: keras.optimizers.Optimizer, epochs: int,
                 learning_rate_at: Callable[[int], float] | None = None, max_grad_norm: float | None = None,
                 writers: RunWriters | None = None, checkpoint_dir: str | None = None,
                 checkpoint_every: int | None = None, log_every: int | None = None,
                 progress: Progress | None = None, histograms: bool = True, jit_compile: bool | None = None,
                 strategy: tf.distribute.Strategy | None = None, reporters: Sequence[Reporter] = (),
                 weight_average: float | None = None):
        epochs = check_positive_int("Trainer", "epochs", epochs)
        self.weight_average = check_decay("Trainer: weight_average", weight_average)
        if max_grad_norm is not None and (isinstance(max_grad_norm, bool) or not max_grad_norm > 0):
            raise ValueError(f"Trainer: max_grad_norm must be > 0 or None, got {max_grad_norm!r}")
        if learning_rate_at is not None and not callable(learning_rate_at):
            raise ValueError(f"Trainer: learning_rate_at must be a function of the epoch or None, "
                             f"got {learning_rate_at!r}")
        if checkpoint_every is not None:
            checkpoint_every = check_positive_int("Trainer", "checkpoint_every", checkpoint_every)
        if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
            raise ValueError(f"Trainer: strategy must be a tf.distribute.Strategy or None, got {strategy!r}")
        self.jit_compile = check_optional_bool("Trainer", "jit_compile", jit_compile)
        view = TaskView(task)
        if strategy is None and tf.distribute.has_strategy():  # created inside a strategy's scope
            strategy = tf.distribute.get_strategy()
        if strategy is not None:
            distribute.check_created_in_scope(strategy, task.model, optimizer)
            distribute.apply_without_reduction(optimizer)
        self.strategy = strategy
        self.distribute_strategy = strategy or tf.distribute.get_strategy()  # the step always runs in one
        self.chief = distribute.is_chief(strategy)
        self.task = task
        self._task = view
        self.reporters = Reporters([*view.reporters, *reporters])
        self.optimizer = optimizer
        self.epochs = epochs
        self.learning_rate_at = learning_rate_at
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.writers = writers if self.chief else None  # workers write no summaries
        self.checkpoint_every = checkpoint_every
        self.steps_per_epoch = view.steps_per_epoch()
        if self.steps_per_epoch <= 0:
            raise ValueError("the task has no training batches (steps_per_epoch is 0)")
        self.log_every = log_every or max(20, self.steps_per_epoch // 50)
        self.progress = progress or Progress(enabled=False, lines=False)
        self.histograms = histograms
        with self.distribute_strategy.scope():
            self._create_variables(checkpoint_dir)
        if strategy is not None:
            distribute.decorrelate_seeds(strategy, task.model)
        xla = jit_compile is not False and view.may_compile(strategy is not None)
        if jit_compile is True and not xla:
            raise ValueError(f"Trainer: jit_compile=True, but the task's step may not be compiled with XLA "
                             f"{'under a strategy' if strategy is not None else 'at all'} "
                             f"(task.xla_compile={view.xla_compile!r})")
        if jit_compile is None and not xla:
            self._warn_no_xla(f"the task's step may not be compiled "
                              f"{'under a strategy' if strategy is not None else 'at all'} "
                              f"(task.xla_compile={view.xla_compile!r})", stacklevel=3)
        if jit_compile is None and xla and not xla_pays_for(getattr(task.model, "compute_dtype", "float32")):
            xla = False  # half precision on a CPU: the plain graph is the faster one
        self.xla = xla  # whether the step is compiled with XLA (False after a fallback)
        self._step_fn = self._make_step_fn(xla)
        self._step_compiled = not xla or jit_compile is True  # no XLA attempt left to fall back from
        self._traced = False  # the first step (tracing, compiling) is left out of the throughput

    def _create_variables(self, checkpoint_dir):
        task, optimizer = self._task, self.optimizer
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        # [loss_sum, count, grad_norm_sum] of this epoch; one variable, one assign_add per step.
        self._epoch_sums = tf.Variable(tf.zeros([3], tf.float64), trainable=False, name="epoch_sums")
        if self.strategy is not None and not optimizer.built:  # its slots: in the scope, not in a replica
            optimizer.build(task.model.trainable_variables)
        self.average = None
        extra = {}
        if self.weight_average is not None:
            self.average = WeightAverage(task.model.trainable_variables, self.weight_average)
            extra["weight_average"] = self.average.trackables()
        self.checkpoints = None
        if checkpoint_dir is not None:
            trackables = training_trackables(
                task.model, optimizer, global_step=self.global_step, epoch=self.epoch,
                step_in_epoch=self.step_in_epoch, epoch_sums=self._epoch_sums, task=task.trackables(), **extra,
            )
            self.checkpoints = CheckpointKeeper(checkpoint_dir, trackables)

    def _make_step_fn(self, xla):
        return make_train_step(self._task, self.optimizer, self.max_grad_norm, self.distribute_strategy,
                               self.strategy is not None, xla, self._after_step)

    @staticmethod
    def _warn_no_xla(reason, stacklevel):
        warnings.warn(f"Trainer: the training step cannot be compiled with XLA, running it without "
                      f"(pass jit_compile=False to skip the attempt): {reason}", stacklevel=stacklevel)

    # -- the compiled step ----------------------------------------------------------------
    def _run_step(self, batch):
        """One step. Under ``jit_compile=None``, a first XLA step that fails switches to the
        plain graph (nothing ran: XLA compiles before it executes); if the plain step fails
        too, its error is raised."""
        if self._step_compiled:
            return self._step_fn(batch)
        try:
            result = self._step_fn(batch)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, RuntimeError) as err:
            self._step_fn = self._make_step_fn(False)
            self.xla = False
            result = self._step_fn(batch)
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            self._warn_no_xla(reason, stacklevel=5)
        self._step_compiled = True
        return result

    def _after_step(self, sums):
        """Inside the step, after the update (cross-replica context): moves the weight average and
        the counters; ``sums``: ``[loss_sum, count, grad_norm]`` of the step (all replicas)."""
        if self.average is not None:
            self.average.update()
        self._epoch_sums.assign_add(tf.cast(sums, tf.float64))
        self.step_in_epoch.assign_add(1)
        self.global_step.assign_add(1)

    # -- resume -----------------------------------------------------------------------------
    def restore(self) -> str | None:
        """Restore the latest checkpoint if there is one; returns its prefix or ``None``.
        ``ValueError`` when this Trainer keeps a weight average and the checkpoint holds none."""
        if self.checkpoints is None:
            return None
        latest = self.checkpoints.latest()
        if self.average is not None and latest is not None and not any(
                name.startswith("weight_average/") for name, _ in tf.train.list_variables(latest)):
            raise ValueError(f"Trainer: weight_average={self.weight_average}, but the checkpoint {latest} holds no "
                             "weight average (its run trained without one): resume it without weight_average, "
                             "or start a new run")
        prefix = self.checkpoints.restore()
        if self.strategy is not None:
            distribute.check_same_step(self.strategy, self.global_step)
            if prefix is not None:
                distribute.decorrelate_seeds(self.strategy, self.task.model)  # restored: all copies equal
        return prefix

    def save(self) -> str | None:
        """Checkpoint now; returns the prefix (``None`` without a checkpoint directory, and on a
        worker that is not the chief, which writes to a scratch directory it deletes)."""
        if self.checkpoints is None:
            return None
        if not self.chief:
            with distribute.ScratchDirectory() as scratch:
                self.checkpoints.checkpoint.write(scratch + "/ckpt")
            return None
        return self.checkpoints.save(int(self.global_step.numpy()))

    @property
    def complete(self) -> bool:
        """True once all ``epochs`` are done (a resumed finished run trains no further)."""
        return int(self.epoch.numpy()) >= self.epochs

    def use_averages(self) -> bool:
        """Put the weight average into the model for good (``weight_average``); whether there was one."""
        if self.average is None:
            return False
        self.average.assign_to_model()
        return True

    def current_learning_rate(self) -> float:
        """The optimizer's learning rate now (a schedule is evaluated at the current step)."""
        return float(tf.convert_to_tensor(self.optimizer.learning_rate))

    # -- the loop -----------------------------------------------------------------------------
    def fit(self, max_steps: int | None = None, save_on_stop: bool = True) -> list[dict[str, Any]]:
        """Train until ``epochs`` are done, or until ``global_step`` reaches ``max_steps``.

        Resumes from the latest checkpoint first, if any. Returns a list with one dict per
        epoch finished in this call (``epoch``, ``learning_rate``, ``train_loss``,
        ``validation_loss``, derived metrics, ``seconds``).

        Ctrl-C (``KeyboardInterrupt``) and SIGTERM (:class:`~tfseq.train.stopping.Terminated`,
        a ``KeyboardInterrupt``) save a checkpoint where the run stands and are re-raised; the
        next ``fit`` continues from there. Ctrl-C stops between two steps or during an epoch's
        evaluation (which the resumed run repeats); SIGTERM stops after the step that is running,
        before the next epoch, or at once during an evaluation (:mod:`tfseq.train.stopping`).
        """
        with sigterm_stops():
            return self._fit(max_steps, save_on_stop)

    def _fit(self, max_steps, save_on_stop):
        resumed = self.restore()
        if resumed and self.complete:
            self.progress.write(f"the run is complete ({self.epochs} epochs, step "
                                f"{int(self.global_step.numpy())}, checkpoint {resumed}); "
                                "nothing to train: raise the number of epochs to train further")
        elif resumed:
            self.progress.write(
                f"resumed from {resumed} (epoch {int(self.epoch.numpy()) + 1}, "
                f"step {int(self.step_in_epoch.numpy())}/{self.steps_per_epoch})"
            )
        history = []
        try:
            while int(self.epoch.numpy()) < self.epochs:
                raise_if_terminated()
                epoch = int(self.epoch.numpy())
                finished = self._run_epoch(epoch, max_steps)
                if not finished:
                    if save_on_stop:
                        self.save()
                    break
                history.append(self._end_epoch(epoch))
        except KeyboardInterrupt:
            # Every piece of training state lives in variables that the compiled step updates
            # as a whole, and the epoch's end moves its counters together (below), so the state
            # is consistent wherever the interrupt lands: between two steps, during an
            # evaluation (all of the epoch's steps are done; the resumed run evaluates again).
            self.progress.close()
            with interrupts_deferred():  # a second Ctrl-C waits for the checkpoint
                saved = self.save()
            if saved:
                self.progress.write(f"interrupted: checkpoint saved at step {int(self.global_step.numpy())}")
            raise
        self.progress.close()
        if self.writers is not None:
            self.writers.flush()
        return history

    def _run_epoch(self, epoch, max_steps):
        start = int(self.step_in_epoch.numpy())
        if start == 0:
            self._task.reset_state()
            self._epoch_sums.assign(tf.zeros([3], tf.float64))
        if self.learning_rate_at is not None:
            self.optimizer.learning_rate = float(self.learning_rate_at(epoch))
        step = int(self.global_step.numpy())
        self._window_start = tuple(self._epoch_sums.numpy().tolist())  # the epoch sums at the last log
        self._count_at_start = self._window_start[1]  # items seen in this epoch before this call
        self._epoch_started = time.perf_counter()
        self.progress.start(self.steps_per_epoch, start, desc=f"epoch {epoch + 1}/{self.epochs}")
        # Throughput counts only the time spent fetching batches and running steps: not
        # building the epoch's pipeline, logging, checkpointing or evaluating, nor the
        # process's first step (tracing, XLA compilation) and its items.
        window_busy, window_steps, untimed_items = 0.0, 0, 0.0
        if self.strategy is None:
            batches = iter(self._task.train_batches(start))
        else:
            batches = distribute.distribute_batches(self.strategy, lambda: self._task.train_batches(start))
        try:
            while max_steps is None or step < max_steps:
                started = time.perf_counter()
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                first = not self._traced
                if first:
                    items_before = float(self._epoch_sums.numpy()[1])
                self._run_step(batch)
                if first:
                    self._traced = True
                    untimed_items += float(self._epoch_sums.numpy()[1]) - items_before
                else:
                    window_busy += time.perf_counter() - started
                step += 1
                window_steps += 1
                checkpoint_now = self.checkpoint_every and step % self.checkpoint_every == 0
                if checkpoint_now or window_steps == self.log_every:
                    self._log_window(step, window_busy, window_steps, untimed_items)
                    if checkpoint_now:
                        self.save()
                    window_busy, window_steps, untimed_items = 0.0, 0, 0.0
                raise_if_terminated()  # SIGTERM stops here, between two steps
            else:  # max_steps reached: stop unless the epoch happens to end here too
                if self._epoch_has_more(batches):
                    return False
        except tf.errors.OpError as err:
            if self.strategy is None or not distribute.collective_failure(err):
                raise
            self.progress.close()  # no checkpoint now: the failed step may be half applied
            raise distribute.WorkerLostError.from_error(err) from None
        if window_steps:
            self._log_window(step, window_busy, window_steps, untimed_items)
        self.progress.close()
        return True

    @staticmethod
    def _epoch_has_more(batches):
        try:
            next(batches)
        except StopIteration:
            return False
        return True

    def _log_window(self, step, seconds, steps, untimed_items=0.0):
        sums = tuple(self._epoch_sums.numpy().tolist())
        loss_sum, count, grad_norm_sum = (now - before for now, before in zip(sums, self._window_start))
        self._window_start = sums
        if not count:
            return
        loss = loss_sum / count
        derived = self.reporters.derived_metrics(loss)
        throughput_name = self._task.throughput_name
        values = {"Training Loss": loss, "Learning Rate": self.current_learning_rate(),
                  "Gradient Norm": grad_norm_sum / steps, **derived}
        throughput = (count - untimed_items) / seconds if count > untimed_items and seconds > 0 else None
        if throughput is not None:  # not for a window of nothing but the first (traced) step
            values[throughput_name] = throughput
        if self.writers is not None:
            self.writers.scalars("train", {**values, **self.reporters.window_scalars()}, step)
        shown = {"loss": loss, **{k.lower(): v for k, v in derived.items()}}
        if throughput is not None:
            shown[throughput_name.split("_")[0] + "/s"] = throughput
        self.progress.update(steps, **shown)

    def _end_epoch(self, epoch):
        train_seconds = time.perf_counter() - self._epoch_started
        step = int(self.global_step.numpy())
        loss_sum, count, _ = self._epoch_sums.numpy().tolist()
        train_loss = loss_sum / count if count else math.nan
        derived_metrics = self.reporters.derived_metrics
        throughput_name = self._task.throughput_name
        record = {"epoch": epoch + 1, "learning_rate": self.current_learning_rate(),
                  "train_loss": train_loss, "train_seconds": train_seconds}
        record.update({f"train_{k.lower()}": v for k, v in derived_metrics(train_loss).items()})
        if count > self._count_at_start:  # not when resumed after this epoch's last step
            record[throughput_name] = (count - self._count_at_start) / max(train_seconds, 1e-9)
        averages = self.average.applied() if self.average is not None else contextlib.nullcontext()
        with terminated_at_once(), averages:  # a long section that the resumed run repeats
            self._evaluate_and_write(epoch, step, record, derived_metrics)
        with interrupts_deferred():  # both counters, then the checkpoint, or neither
            self.epoch.assign_add(1)
            self.step_in_epoch.assign(0)
            self.save()
        record["seconds"] = time.perf_counter() - self._epoch_started
        self.progress.write(format_epoch(record))
        return record

    def _evaluate_and_write(self, epoch, step, record, derived_metrics):
        valid = self._task.evaluate("validation")
        if valid is not None:
            values = validation_scalars(valid, derived_metrics(valid["loss"]))
            record["validation_loss"] = valid["loss"]
            record.update({f"validation_{k.lower().replace(' ', '_')}": v for k, v in values.items()
                           if k != "Validation Loss"})
            if self.writers is not None:
                self.writers.scalars("validation", values, step)
        if self.writers is not None:
            if self.histograms:
                self.writers.histograms("train", self.task.model.trainable_variables, step)
            for tag, text in self.reporters.epoch_texts(epoch).items():
                self.writers.text("train", tag, text, step)
            for tag, image in self.reporters.epoch_images(epoch).items():
                self.writers.image("train", tag, image, step)
            self.writers.flush()
