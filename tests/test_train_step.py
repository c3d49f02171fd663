"""The training step: repeated embedding rows take the dense-gradient step under Keras 3's
Adam, the task's declared XLA setting (no error-message matching), the task contract's
defaults, and reporters."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfseq.train import EpochTexts, Perplexity, Reporter, RunWriters, Task, Trainer, sum_duplicate_slices
from tfseq.train.task import TaskView

BATCHES = [[1, 1, 1, 1, 2], [2, 3, 3, 0, 0]]  # a token seen 4 times, then 2 tokens twice each
WEIGHTS = tf.constant([1.0, 2.0, 3.0])


class EmbeddingTask:
    """A duck-typed task: the objective is a weighted sum of embedding rows, so the gradient of
    the embedding is a tf.IndexedSlices with one slice per occurrence of an id."""

    def __init__(self, xla_compile=None):
        keras.utils.set_random_seed(0)
        self.model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(4, 3)])
        if xla_compile is not None:
            self.xla_compile = xla_compile

    def steps_per_epoch(self):
        return len(BATCHES)

    def train_batches(self, start):
        return [tf.constant([ids], tf.int32) for ids in BATCHES[start:]]

    def loss(self, batch, training):
        objective = tf.reduce_sum(self.model(batch) * WEIGHTS)
        return objective, {"loss_sum": objective, "count": tf.size(batch)}


def reference_steps(dense):
    """Adam(0.1) by hand over BATCHES, from the task's initial weights, with the embedding's
    gradient densified (``dense``) or applied as the raw slices."""
    task = EmbeddingTask()
    table = task.model.trainable_variables[0]
    optimizer = keras.optimizers.Adam(0.1)
    for ids in BATCHES:
        with tf.GradientTape() as tape:
            objective, _ = task.loss(tf.constant([ids], tf.int32), True)
        gradient = tape.gradient(objective, table)
        assert isinstance(gradient, tf.IndexedSlices)
        optimizer.apply_gradients([(tf.convert_to_tensor(gradient) if dense else gradient, table)])
    return table.numpy()


@pytest.mark.parametrize("jit_compile", [False, True])
def test_adam_on_repeated_ids_takes_the_dense_gradient_step(jit_compile):
    initial = EmbeddingTask().model.get_weights()[0]
    dense, raw = reference_steps(dense=True), reference_steps(dense=False)
    # The check below can fail: applied as raw slices, Keras 3's Adam moves row 1 (seen 4
    # times) by about twice the learning rate in the first step.
    assert np.abs(raw - dense).max() > 0.05
    task = EmbeddingTask()
    Trainer(task, keras.optimizers.Adam(0.1), epochs=1, jit_compile=jit_compile).fit()
    trained = task.model.get_weights()[0]
    assert np.abs(trained - initial).max() > 0.05  # it moved
    np.testing.assert_allclose(trained, dense, atol=1e-6, rtol=0)


def test_sum_duplicate_slices_equals_the_dense_gradient():
    slices = tf.IndexedSlices(tf.reshape(tf.range(12.0), [6, 2]), tf.constant([3, 1, 3, 0, 3, 1]),
                              tf.constant([5, 2]))
    summed = sum_duplicate_slices(slices)
    assert sorted(summed.indices.numpy().tolist()) == [0, 1, 3]  # one slice per row
    np.testing.assert_array_equal(tf.convert_to_tensor(summed).numpy(), tf.convert_to_tensor(slices).numpy())
    dense = tf.ones([2, 2])
    assert sum_duplicate_slices(dense) is dense


# -- XLA, declared by the task --------------------------------------------------------------------
def test_a_task_that_may_not_compile_runs_without_xla_after_a_warning_or_is_refused():
    plain = EmbeddingTask()
    Trainer(plain, keras.optimizers.SGD(0.1), epochs=1, jit_compile=False).fit()
    task = EmbeddingTask(xla_compile="never")
    with pytest.warns(UserWarning, match=r"cannot be compiled with XLA.*task.xla_compile='never'"):
        trainer = Trainer(task, keras.optimizers.SGD(0.1), epochs=1)
    trainer.fit()
    np.testing.assert_allclose(task.model.get_weights()[0], plain.model.get_weights()[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"jit_compile=True, but the task's step may not be compiled with XLA "
                                         r"at all \(task.xla_compile='never'\)"):
        Trainer(EmbeddingTask(xla_compile="never"), keras.optimizers.SGD(0.1), epochs=1, jit_compile=True)


def test_single_device_tasks_compile_without_a_strategy():
    task = EmbeddingTask(xla_compile="single_device")
    trainer = Trainer(task, keras.optimizers.SGD(0.1), epochs=1, jit_compile=True)  # required: no ValueError
    trainer.fit()
    assert int(trainer.global_step.numpy()) == len(BATCHES)


@pytest.mark.parametrize("name, value, message", [
    ("xla_compile", "auto", "task.xla_compile must be one of ('always', 'single_device', 'never'), got 'auto'"),
    ("objective_reduction", "max", "task.objective_reduction must be one of ('mean', 'sum'), got 'max'"),
])
def test_bad_declared_task_settings(name, value, message):
    task = EmbeddingTask()
    setattr(task, name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Trainer(task, keras.optimizers.SGD(0.1), epochs=1)


# -- the contract's defaults ----------------------------------------------------------------------
def test_task_view_fills_in_the_documented_defaults():
    view = TaskView(EmbeddingTask())
    assert (view.throughput_name, view.objective_reduction, view.xla_compile, view.reporters) == (
        Task.throughput_name, Task.objective_reduction, Task.xla_compile, []) == (
        "items_per_second", "mean", "always", [])
    assert view.evaluate("validation") is None and view.trackables() == {}
    view.reset_state()  # a no-op
    task = EmbeddingTask()
    del task.model
    with pytest.raises(ValueError, match="the task must have 'model'"):
        TaskView(task)


class ProtocolTask(Task):
    """Subclasses the Protocol: inherits its defaults."""

    def __init__(self):
        self.inner = EmbeddingTask()
        self.model = self.inner.model

    def steps_per_epoch(self):
        return self.inner.steps_per_epoch()

    def train_batches(self, start):
        return self.inner.train_batches(start)

    def loss(self, batch, training):
        return self.inner.loss(batch, training)


def test_a_protocol_subclass_inherits_the_defaults():
    task = ProtocolTask()
    assert task.xla_compile == "always" and task.reporters == ()
    assert task.evaluate("validation") is None and task.trackables() == {}
    assert len(Trainer(task, keras.optimizers.SGD(0.1), epochs=1, jit_compile=False).fit()) == 1


# -- reporters ---------------------------------------------------------------------------------------
class CountingReporter(Reporter):
    def __init__(self):
        self.windows = 0

    def window_scalars(self):
        self.windows += 1
        return {"windows": float(self.windows)}


def test_task_and_trainer_reporters_reach_tensorboard_and_hooks_are_not_doubled(tmp_path):
    task = EmbeddingTask()
    task.reporters = (Perplexity(), EpochTexts(lambda epoch: {"note": f"epoch {epoch + 1}"}))
    task.epoch_texts = lambda epoch: {"ignored": "a task with reporters is reported through them only"}
    counting = CountingReporter()
    writers = RunWriters(str(tmp_path / "run"))
    history = Trainer(task, keras.optimizers.SGD(0.01), epochs=1, writers=writers, log_every=1, jit_compile=False,
                      reporters=[counting]).fit()
    writers.close()
    acc = EventAccumulator(str(tmp_path / "run" / "train"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"Perplexity", "note", "windows"} <= tags and "ignored" not in tags
    losses = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("Training Loss")]
    ppl = [float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("Perplexity")]
    assert ppl == pytest.approx(np.exp(np.minimum(losses, 700.0)), rel=1e-5)
    assert counting.windows == len(BATCHES)
    assert history[0]["train_perplexity"] == pytest.approx(np.exp(history[0]["train_loss"]))
