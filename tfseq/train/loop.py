"""A general training loop: epochs of ``tf.function`` steps, clipped SGD, TensorBoard, resume.

The loop knows nothing about language models. A *task* plugs in (see :class:`Task`): it
supplies the model, one epoch of batches starting at a given position, the loss of a batch
(called inside the compiled step) and an evaluation. The loop owns the rest:

* one ``tf.function`` step: ``task.loss`` under a ``GradientTape``, gradients clipped by
  global norm, ``optimizer.apply_gradients``, metric sums and step counters updated in
  variables, so the Python loop does no per-step tensor work. By default the step is
  compiled with XLA (``jit_compile``): measured 1.3x faster for the PTB ``small`` model on
  CPU. A step XLA cannot compile (an op without an XLA kernel) falls back to the plain
  graph with a warning; ``jit_compile=False`` turns XLA off, ``True`` makes it required;
* the learning-rate schedule ``learning_rate_at(epoch)``, set once per epoch;
* per-epoch evaluation, TensorBoard scalars/histograms/text/hparams
  (:class:`~tfseq.train.summaries.RunWriters`), a progress bar;
* checkpoints of model, optimizer, counters, RNG states and task state
  (:class:`~tfseq.train.checkpoints.CheckpointKeeper`) every ``checkpoint_every`` steps, at
  each epoch end and on Ctrl-C, and resume from the latest one: the data position is the
  step within the epoch, and ``task.train_batches(start)`` skips the windows already seen.

TensorBoard tags (the PTB tutorial's first): ``train/``: "Training Loss" (mean loss per
item over the last ``log_every`` steps), "Learning Rate", "Gradient Norm" (before
clipping), ``task.throughput_name`` (e.g. "words_per_second"), the task's derived metrics
("Perplexity"), ``weights/<variable path>`` histograms and the task's texts (e.g.
"samples") each epoch; ``validation/``: "Validation Loss" and derived metrics each epoch.
"""

import math
import time
import warnings

import tensorflow as tf

from tfseq.rnn_cell.base import check_optional_bool, check_positive_int
from tfseq.train.checkpoints import CheckpointKeeper, training_trackables
from tfseq.train.progress import Progress


class Task:
    """What :class:`Trainer` needs from a task. Subclass it or duck-type it.

    Attributes:
        model: the Keras model whose ``trainable_variables`` are trained.
        throughput_name: the tag of ``count`` per second (e.g. ``"words_per_second"``).
    """

    model = None
    throughput_name = "items_per_second"

    def steps_per_epoch(self):
        """Number of training steps in one epoch."""
        raise NotImplementedError

    def train_batches(self, start):
        """An iterable over one epoch of training batches, skipping the first ``start``."""
        raise NotImplementedError

    def reset_state(self):
        """Called at the start of every epoch (e.g. zero the carried RNN state)."""

    def loss(self, batch, training):
        """Traced inside the step. Returns ``(objective, {"loss_sum": s, "count": n})``:
        the scalar to differentiate and the summed per-item loss over ``n`` items."""
        raise NotImplementedError

    def evaluate(self, split):
        """``{"loss": mean per-item loss}`` on ``split`` (``"validation"``/``"test"``), or
        ``None`` when there is no such split."""
        return None

    def derived_metrics(self, mean_loss):
        """Extra numbers from a mean loss, e.g. ``{"Perplexity": exp(loss)}``."""
        return {}

    def trackables(self):
        """Extra ``{name: trackable}`` to checkpoint (carried state ...)."""
        return {}

    def epoch_texts(self, epoch):
        """``{tag: text}`` written to TensorBoard at each epoch's end (samples ...)."""
        return {}


class Trainer:
    """Runs a :class:`Task` for ``epochs`` epochs with clipped SGD.

    Args:
        task: the task.
        optimizer: a Keras optimizer (``keras.optimizers.SGD`` for the PTB tutorial).
        epochs: total number of epochs.
        learning_rate_at: ``epoch -> learning rate`` (0-based epoch).
        max_grad_norm: gradients are clipped to this global norm.
        writers: a :class:`~tfseq.train.summaries.RunWriters` or ``None``.
        checkpoint_dir: where checkpoints go, or ``None`` for none.
        checkpoint_every: also checkpoint every this many steps (``None``: epoch ends only).
        log_every: steps between scalar summaries and progress refreshes (default:
            1/50 epoch, at least 20).
        progress: a :class:`~tfseq.train.progress.Progress` (bar and epoch lines) or ``None``
            (silent).
        histograms: write weight histograms at each epoch's end.
        jit_compile: compile the step with XLA: ``None`` (default) tries XLA and falls
            back to the plain ``tf.function`` graph (with a warning) if the step cannot be
            compiled; ``True`` requires XLA; ``False`` never uses it. XLA draws other random
            numbers than TensorFlow (dropout), so resume a run with the same setting.
    """

    def __init__(self, task, optimizer, epochs, learning_rate_at, max_grad_norm, writers=None,
                 checkpoint_dir=None, checkpoint_every=None, log_every=None, progress=None,
                 histograms=True, jit_compile=None):
        epochs = check_positive_int("Trainer", "epochs", epochs)
        if not max_grad_norm > 0:
            raise ValueError(f"Trainer: max_grad_norm must be > 0, got {max_grad_norm!r}")
        if checkpoint_every is not None:
            checkpoint_every = check_positive_int("Trainer", "checkpoint_every", checkpoint_every)
        self.task = task
        self.optimizer = optimizer
        self.epochs = epochs
        self.learning_rate_at = learning_rate_at
        self.max_grad_norm = float(max_grad_norm)
        self.writers = writers
        self.checkpoint_every = checkpoint_every
        self.steps_per_epoch = int(task.steps_per_epoch())
        if self.steps_per_epoch <= 0:
            raise ValueError("the task has no training batches (steps_per_epoch is 0)")
        self.log_every = log_every or max(20, self.steps_per_epoch // 50)
        self.progress = progress or Progress(enabled=False, lines=False)
        self.histograms = histograms

        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        # [loss_sum, count, grad_norm_sum] of this epoch; one variable, one assign_add per step.
        self._epoch_sums = tf.Variable(tf.zeros([3], tf.float64), trainable=False, name="epoch_sums")
        self._window_start = (0.0, 0.0, 0.0)  # the epoch sums at the last log
        self.checkpoints = None
        if checkpoint_dir is not None:
            trackables = training_trackables(
                task.model, optimizer, global_step=self.global_step, epoch=self.epoch,
                step_in_epoch=self.step_in_epoch, epoch_sums=self._epoch_sums,
                task=dict(task.trackables()),
            )
            self.checkpoints = CheckpointKeeper(checkpoint_dir, trackables)
        self.jit_compile = check_optional_bool("Trainer", "jit_compile", jit_compile)
        self._step_fn = tf.function(self._train_step, jit_compile=jit_compile is not False)
        self._step_compiled = False  # becomes True after the first step ran

    # -- the compiled step ----------------------------------------------------------------
    def _run_step(self, batch):
        """One step; on the first, an XLA compilation failure under ``jit_compile=None``
        switches to the plain graph (nothing ran: XLA compiles before it executes)."""
        if self._step_compiled or self.jit_compile is not None:
            return self._step_fn(batch)
        try:
            result = self._step_fn(batch)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as err:
            if "xla" not in str(err).lower():
                raise
            first_line = str(err).strip().splitlines()[0]
            warnings.warn(f"Trainer: the training step cannot be compiled with XLA, running it "
                          f"without (pass jit_compile=False to skip the attempt): {first_line}",
                          stacklevel=3)
            self._step_fn = tf.function(self._train_step)
            result = self._step_fn(batch)
        self._step_compiled = True
        return result

    def _train_step(self, batch):
        variables = self.task.model.trainable_variables
        with tf.GradientTape() as tape:
            objective, metrics = self.task.loss(batch, training=True)
        grads = tape.gradient(objective, variables)
        grads, grad_norm = tf.clip_by_global_norm(grads, self.max_grad_norm)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._epoch_sums.assign_add(tf.cast(
            tf.stack([tf.cast(metrics["loss_sum"], tf.float32), tf.cast(metrics["count"], tf.float32), grad_norm]),
            tf.float64,
        ))
        self.step_in_epoch.assign_add(1)
        self.global_step.assign_add(1)

    # -- resume -----------------------------------------------------------------------------
    def restore(self):
        """Restore the latest checkpoint if there is one; returns its prefix or ``None``."""
        if self.checkpoints is None:
            return None
        return self.checkpoints.restore()

    def save(self):
        if self.checkpoints is not None:
            return self.checkpoints.save(int(self.global_step.numpy()))
        return None

    # -- the loop -----------------------------------------------------------------------------
    def fit(self, max_steps=None, save_on_stop=True):
        """Train until ``epochs`` are done, or until ``global_step`` reaches ``max_steps``.

        Resumes from the latest checkpoint first, if any. Returns a list with one dict per
        epoch finished in this call (``epoch``, ``learning_rate``, ``train_loss``,
        ``validation_loss``, derived metrics, ``seconds``).
        """
        resumed = self.restore()
        if resumed:
            self.progress.write(
                f"resumed from {resumed} (epoch {int(self.epoch.numpy()) + 1}, "
                f"step {int(self.step_in_epoch.numpy())}/{self.steps_per_epoch})"
            )
        history = []
        while int(self.epoch.numpy()) < self.epochs:
            epoch = int(self.epoch.numpy())
            finished = self._run_epoch(epoch, max_steps)
            if not finished:
                if save_on_stop:
                    self.save()
                break
            history.append(self._end_epoch(epoch))
        self.progress.close()
        if self.writers is not None:
            self.writers.flush()
        return history

    def _run_epoch(self, epoch, max_steps):
        start = int(self.step_in_epoch.numpy())
        if start == 0:
            self.task.reset_state()
            self._epoch_sums.assign(tf.zeros([3], tf.float64))
        learning_rate = float(self.learning_rate_at(epoch))
        self.optimizer.learning_rate = learning_rate
        step = int(self.global_step.numpy())
        self._window_start = tuple(self._epoch_sums.numpy().tolist())
        self._count_at_start = self._window_start[1]  # items seen in this epoch before this call
        self._epoch_started = time.perf_counter()
        self.progress.start(self.steps_per_epoch, start, desc=f"epoch {epoch + 1}/{self.epochs}")
        window_start, window_steps = time.perf_counter(), 0
        try:
            for batch in self.task.train_batches(start):
                if max_steps is not None and step >= max_steps:
                    return False
                self._run_step(batch)
                step += 1
                window_steps += 1
                checkpoint_now = self.checkpoint_every and step % self.checkpoint_every == 0
                if checkpoint_now or window_steps == self.log_every:
                    self._log_window(step, learning_rate, time.perf_counter() - window_start, window_steps)
                    if checkpoint_now:
                        self.save()
                    window_start, window_steps = time.perf_counter(), 0
        except KeyboardInterrupt:
            # Every piece of training state lives in variables that the compiled step updates
            # as a whole, so the state between two steps is consistent: save it, then stop.
            self.progress.close()
            if self.save():
                self.progress.write(f"interrupted: checkpoint saved at step {int(self.global_step.numpy())}")
            raise
        if window_steps:
            self._log_window(step, learning_rate, time.perf_counter() - window_start, window_steps)
        self.progress.close()
        return True

    def _log_window(self, step, learning_rate, seconds, steps):
        sums = tuple(self._epoch_sums.numpy().tolist())
        loss_sum, count, grad_norm_sum = (now - before for now, before in zip(sums, self._window_start))
        self._window_start = sums
        if not count:
            return
        loss = loss_sum / count
        throughput = count / max(seconds, 1e-9)
        derived = self.task.derived_metrics(loss)
        values = {
            "Training Loss": loss,
            "Learning Rate": learning_rate,
            "Gradient Norm": grad_norm_sum / steps,
            self.task.throughput_name: throughput,
            **derived,
        }
        if self.writers is not None:
            self.writers.scalars("train", values, step)
        shown = {"loss": loss, **{k.lower(): v for k, v in derived.items()},
                 self.task.throughput_name.split("_")[0] + "/s": throughput}
        self.progress.update(steps, **shown)

    def _end_epoch(self, epoch):
        train_seconds = time.perf_counter() - self._epoch_started
        step = int(self.global_step.numpy())
        loss_sum, count, _ = self._epoch_sums.numpy().tolist()
        train_loss = loss_sum / count if count else math.nan
        record = {"epoch": epoch + 1, "learning_rate": float(self.learning_rate_at(epoch)),
                  "train_loss": train_loss, "train_seconds": train_seconds}
        record.update({f"train_{k.lower()}": v for k, v in self.task.derived_metrics(train_loss).items()})
        record[self.task.throughput_name] = (count - self._count_at_start) / max(train_seconds, 1e-9)
        valid = self.task.evaluate("validation")
        if valid is not None:
            record["validation_loss"] = valid["loss"]
            derived = self.task.derived_metrics(valid["loss"])
            record.update({f"validation_{k.lower()}": v for k, v in derived.items()})
            if self.writers is not None:
                self.writers.scalars("validation", {"Validation Loss": valid["loss"], **derived}, step)
        if self.writers is not None:
            if self.histograms:
                self.writers.histograms("train", self.task.model.trainable_variables, step)
            for tag, text in self.task.epoch_texts(epoch).items():
                self.writers.text("train", tag, text, step)
            self.writers.flush()
        self.epoch.assign_add(1)
        self.step_in_epoch.assign(0)
        self.save()
        record["seconds"] = time.perf_counter() - self._epoch_started
        self.progress.write(format_epoch(record))
        return record


def format_epoch(record):
    """One line per epoch, the tutorial's style."""
    parts = [f"Epoch {record['epoch']}", f"lr {record['learning_rate']:.4g}"]
    for key in ("train_perplexity", "validation_perplexity"):
        if key in record:
            parts.append(f"{key.replace('_', ' ')} {record[key]:.3f}")
    if "train_perplexity" not in record:
        parts.append(f"train loss {record['train_loss']:.4f}")
        if "validation_loss" in record:
            parts.append(f"validation loss {record['validation_loss']:.4f}")
    speeds = [f"{v:,.0f} {k.split('_')[0]}/s" for k, v in record.items() if k.endswith("_per_second")]
    return ", ".join(parts) + (f" ({speeds[0]})" if speeds else "")
