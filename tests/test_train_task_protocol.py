"""The Trainer for every task: duck-typed tasks, per-step learning-rate schedules, no
clipping, every evaluation number logged and printed, images and window scalars, throughput
over step time only, and a finished run that trains no further. Event files are read back
with TensorBoard's own EventAccumulator."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfseq.train import Progress, RunWriters, Trainer
from tfseq.train import loop as loop_module

STEPS = 5


class LineTask:
    """Fits y = 2x + 1 with a scalar Dense; NOT a subclass of tfseq.train.Task (duck-typed),
    with every optional hook of the protocol, each recording that it was used."""

    throughput_name = "points_per_second"

    def __init__(self, clock=None):
        self.model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        x = np.linspace(-1, 1, 4 * STEPS, dtype=np.float32).reshape(STEPS, 4, 1)
        self.data = tf.data.Dataset.from_tensor_slices((x, 2 * x + 1))
        self.clock = clock

    def steps_per_epoch(self):
        return STEPS

    def train_batches(self, start):
        if self.clock is None:
            return self.data.skip(start)
        self.clock.now += 100.0  # building the pipeline: must not count as training time
        return self._ticking(self.data.skip(start))

    def _ticking(self, batches):
        for batch in batches:
            self.clock.now += 1.0  # one second per batch fetched + stepped
            yield batch

    def loss(self, batch, training):
        x, y = batch
        err = tf.reduce_sum((self.model(x) - y) ** 2)
        return err, {"loss_sum": err, "count": tf.size(y)}

    def evaluate(self, split):
        if split != "validation":
            return None
        return {"loss": 0.25, "BLEU": 12.5, "sentences": 7}

    def epoch_images(self, epoch):
        image = np.zeros([6, 8, 3], np.uint8)
        image[:, : epoch + 1] = 255
        return {"fit": image}

    def window_scalars(self):
        kernel, bias = self.model.layers[0].get_weights()
        return {"weight": float(kernel[0, 0]), "bias": float(bias[0])}


def tensors(path, tag):
    acc = EventAccumulator(path, size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return acc, [(e.step, tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]


def test_duck_typed_task_with_a_per_step_schedule_and_no_clipping(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    task = LineTask()
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([3, 7], [0.1, 0.05, 0.01])
    writers = RunWriters(str(tmp_path / "run"))
    trainer = Trainer(task, keras.optimizers.SGD(schedule), epochs=2, writers=writers, log_every=1,
                      progress=Progress(enabled=False), jit_compile=False)
    history = trainer.fit()
    writers.close()

    # The schedule ran per step: the logged rate at step s is the schedule's at iteration s
    # (the window is logged after the step, when the optimizer's iterations == s).
    _, rates = tensors(str(tmp_path / "run" / "train"), "Learning Rate")
    assert [s for s, _ in rates] == list(range(1, 2 * STEPS + 1))
    assert [float(v) for _, v in rates] == pytest.approx([float(schedule(s)) for s in range(1, 2 * STEPS + 1)])
    assert history[1]["learning_rate"] == pytest.approx(0.01)

    # Every float of the evaluation is logged under its own key; ints (counts) are not.
    acc, bleu = tensors(str(tmp_path / "run" / "validation"), "BLEU")
    assert [(s, float(v)) for s, v in bleu] == [(STEPS, 12.5), (2 * STEPS, 12.5)]
    assert "sentences" not in acc.Tags()["tensors"]
    assert history[0]["validation_bleu"] == 12.5
    out = capsys.readouterr().out
    assert "Epoch 2, lr 0.01, train loss" in out and "validation loss 0.2500, validation bleu 12.500" in out

    # Window scalars and epoch images reach TensorBoard.
    acc, weights = tensors(str(tmp_path / "run" / "train"), "weight")
    assert len(weights) == 2 * STEPS
    assert float(weights[-1][1]) == pytest.approx(float(task.model.layers[0].get_weights()[0][0, 0]))
    _, images = tensors(str(tmp_path / "run" / "train"), "fit")
    assert [s for s, _ in images] == [STEPS, 2 * STEPS]  # one per epoch, PNG-encoded
    assert images[0][1][0] == b"8" and images[0][1][1] == b"6"  # width, height


def test_no_clipping_applies_the_raw_gradient():
    """max_grad_norm=None: one SGD step equals w - lr * grad, even for a huge gradient."""
    keras.utils.set_random_seed(1)
    task = LineTask()
    task.data = task.data.map(lambda x, y: (x, 1000.0 * y)).take(1)
    task.steps_per_epoch = lambda: 1
    before = [w.copy() for w in task.model.get_weights()]
    x, y = next(iter(task.data))
    with tf.GradientTape() as tape:
        err, _ = task.loss((x, y), training=True)
    grads = [g.numpy() for g in tape.gradient(err, task.model.trainable_variables)]
    assert np.sqrt(sum((g ** 2).sum() for g in grads)) > 100  # a clipping norm would bite
    Trainer(task, keras.optimizers.SGD(0.001), epochs=1, jit_compile=False).fit()
    for w, b, g in zip(task.model.get_weights(), before, grads):
        np.testing.assert_allclose(w, b - 0.001 * g, rtol=1e-5, atol=1e-6)


def test_throughput_counts_only_time_spent_fetching_and_stepping(tmp_path, monkeypatch):
    """A fake clock: building the epoch's pipeline costs 100 s, each batch 1 s. Throughput
    is points / (1 s per step), whatever the pipeline or logging cost."""
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(loop_module, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    task = LineTask(clock)
    writers = RunWriters(str(tmp_path / "run"))
    Trainer(task, keras.optimizers.SGD(0.01), epochs=2, writers=writers, log_every=2,
            jit_compile=False).fit()
    writers.close()
    _, speeds = tensors(str(tmp_path / "run" / "train"), "points_per_second")
    assert [float(v) for _, v in speeds] == pytest.approx([4.0] * len(speeds))  # 4 points per batch
    assert len(speeds) == 6  # windows of 2, 2, 1 steps in each of the 2 epochs


def test_throughput_leaves_out_the_first_traced_step(tmp_path, monkeypatch):
    """Tracing the step (here: 50 fake seconds, as an XLA compilation can take) and the
    items of that first step are left out of the first window's throughput."""
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(loop_module, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))

    class SlowTrace(LineTask):
        def loss(self, batch, training):
            clock.now += 50.0  # Python: runs once, while the step is traced
            return super().loss(batch, training)

    writers = RunWriters(str(tmp_path / "run"))
    Trainer(SlowTrace(clock), keras.optimizers.SGD(0.01), epochs=1, writers=writers, log_every=1,
            jit_compile=False).fit()
    writers.close()
    steps, speeds = zip(*tensors(str(tmp_path / "run" / "train"), "points_per_second")[1])
    assert steps == tuple(range(2, STEPS + 1))  # the window of the traced step alone has none
    assert [float(v) for v in speeds] == pytest.approx([4.0] * (STEPS - 1))
    _, losses = tensors(str(tmp_path / "run" / "train"), "Training Loss")
    assert len(losses) == STEPS  # its loss is still logged


def test_a_finished_run_trains_no_further(tmp_path, capsys):
    task = LineTask()
    kwargs = dict(epochs=1, checkpoint_dir=str(tmp_path / "ckpt"), progress=Progress(enabled=False),
                  jit_compile=False)
    Trainer(task, keras.optimizers.SGD(0.01), **kwargs).fit()
    capsys.readouterr()
    again = Trainer(task, keras.optimizers.SGD(0.01), **kwargs)
    weights = [w.copy() for w in task.model.get_weights()]
    assert again.fit() == []
    assert again.complete
    out = capsys.readouterr().out
    assert "the run is complete (1 epochs" in out and "raise the number of epochs" in out
    for w, b in zip(task.model.get_weights(), weights):
        np.testing.assert_array_equal(w, b)


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_grad_norm=0), "max_grad_norm must be > 0 or None, got 0"),
    (dict(max_grad_norm=True), "max_grad_norm must be > 0 or None, got True"),
    (dict(learning_rate_at=0.5), "learning_rate_at must be a function of the epoch or None, got 0.5"),
])
def test_bad_trainer_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trainer(LineTask(), keras.optimizers.SGD(0.01), epochs=1, **kwargs)


def test_best_weights_keep_the_first_best_survive_a_checkpoint_and_see_only_validation(tmp_path):
    from tfseq.train.task import BestWeights

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    best = BestWeights(model)
    assert best.best_epoch is None and best.restore() is None
    seen = {}
    for epoch, score in enumerate([0.5, 0.7, 0.7, 0.6]):  # epochs 1..4; epoch 3 only ties epoch 2
        for weight in model.trainable_variables:
            weight.assign(tf.fill(weight.shape, float(epoch + 1)))
        seen[epoch + 1] = best.offer(score, epoch)
    assert seen == {1: True, 2: True, 3: False, 4: False}
    assert best.best_epoch == 2 and float(best.score.numpy()) == 0.7
    saved = tf.train.Checkpoint(**best.trackables()).save(str(tmp_path / "ckpt"))

    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    restored = BestWeights(other)
    tf.train.Checkpoint(**restored.trackables()).restore(saved).assert_consumed()
    assert restored.best_epoch == 2 and not restored.offer(0.65, 4)
    assert restored.restore() == 2
    for weight in other.trainable_variables:
        np.testing.assert_array_equal(weight.numpy(), np.full(weight.shape, 2.0, np.float32))

    from tfseq.train.task import SelectsBest

    task = SelectsBest()
    assert task.best_epoch is None and task.use_best() is None and task.best_trackables() == {}
    task.offer_best("validation", 0.9, 0)  # no selection: nothing to offer to
    task._best = restored
    task.offer_best("test", 0.99, 5)  # only the Trainer's validation split counts
    assert task.best_epoch == 2
    task.offer_best("validation", 0.8, 5)
    assert task.best_epoch == 6 and set(task.best_trackables()) == {"best_weights", "best_score", "best_epoch"}
