"""``Trainer(weight_average=decay)``: the averages follow TF1's ``ExponentialMovingAverage`` rule
(NumPy, step by step), each evaluation sees them and the model's own weights come back after
it (also when the evaluation is interrupted), a run resumed from a checkpoint continues the
same average (and one saved without an average is refused by name), and bad decays are
refused by name."""

import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq.train import Trainer
from tfseq.train.averaging import WeightAverage


class Regression:
    """A noisy linear regression, six different batches per epoch; records the weights and the
    loss each evaluation sees."""

    def __init__(self, seed=0):
        keras.utils.set_random_seed(seed)
        self.model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        rng = np.random.default_rng(7)
        self.x = rng.normal(size=(6, 4, 3)).astype(np.float32)
        self.y = (self.x @ rng.normal(size=(3, 2)) + rng.normal(size=(6, 4, 2))).astype(np.float32)
        self.seen = []  # the model's weights during each evaluation

    def steps_per_epoch(self):
        return 6

    def train_batches(self, start):
        return ((tf.constant(self.x[k]), tf.constant(self.y[k])) for k in range(start, 6))

    def loss(self, batch, training):
        x, y = batch
        errors = tf.square(self.model(x) - y)
        return tf.reduce_mean(errors), {"loss_sum": tf.reduce_sum(errors), "count": tf.size(errors)}

    def evaluate(self, split):
        self.seen.append(_weights(self.model))
        predicted = self.model(tf.constant(self.x.reshape(-1, 3))).numpy()
        return {"loss": float(np.mean((predicted - self.y.reshape(-1, 2)) ** 2))}


def _weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def _numpy_average(snapshots, decay):
    """TF1's rule: ``d_t = min(decay, (1 + t) / (10 + t))``, ``a = d_t a + (1 - d_t) w_t``; the
    average starts as the initial weights (``snapshots[0]``)."""
    average = [w.astype(np.float64) for w in snapshots[0]]
    for t, weights in enumerate(snapshots[1:]):
        d = min(decay, (1 + t) / (10 + t))
        average = [d * a + (1 - d) * w for a, w in zip(average, weights)]
    return average


@pytest.mark.parametrize("jit_compile", [None, False])
def test_average_follows_the_tf1_rule_step_by_step(jit_compile):
    task = Regression()
    trainer = Trainer(task, keras.optimizers.SGD(0.05), 1, weight_average=0.3, jit_compile=jit_compile)
    snapshots = [_weights(task.model)]
    for step in range(1, 7):  # one step per call: the weights after each
        trainer.fit(max_steps=step)
        snapshots.append(_weights(task.model))
    assert int(trainer.average.updates.numpy()) == 6
    want = _numpy_average(snapshots, 0.3)  # d_t: 0.1, 0.18, 0.25, then 0.3
    got = [a.numpy() for a in trainer.average.averages]
    for g, w, last in zip(got, want, snapshots[-1]):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
        assert np.abs(g - last).max() > 1e-3  # the average is not the last weights


def test_evaluation_sees_the_averages_and_the_model_keeps_its_weights():
    task = Regression()
    trainer = Trainer(task, keras.optimizers.SGD(0.05), 2, weight_average=0.5)
    history = trainer.fit()
    averages = [a.numpy() for a in trainer.average.averages]
    for seen, average in zip(task.seen[-1], averages):  # the last evaluation came after the last step
        np.testing.assert_array_equal(seen, average)
    trained = _weights(task.model)
    assert max(np.abs(t - a).max() for t, a in zip(trained, averages)) > 1e-3  # its own weights are back
    # the validation loss reported is the averaged model's
    predicted = task.x.reshape(-1, 3) @ averages[0] + averages[1]
    assert history[-1]["validation_loss"] == pytest.approx(np.mean((predicted - task.y.reshape(-1, 2)) ** 2),
                                                           rel=1e-5)
    assert trainer.use_averages()
    for weight, average in zip(_weights(task.model), averages):
        np.testing.assert_array_equal(weight, average)
    assert not Trainer(Regression(), keras.optimizers.SGD(0.05), 1).use_averages()  # none kept: untouched


def test_interrupted_evaluation_restores_the_weights_and_resume_continues_the_average(tmp_path):
    reference = Regression()
    uninterrupted = Trainer(reference, keras.optimizers.SGD(0.05), 2, weight_average=0.8)
    uninterrupted.fit()

    task = Regression()
    trainer = Trainer(task, keras.optimizers.SGD(0.05), 2, weight_average=0.8, checkpoint_dir=str(tmp_path))
    evaluate = task.evaluate

    def interrupted(split):  # Ctrl-C while epoch 1 is evaluated with the averages in the model
        evaluate(split)
        raise KeyboardInterrupt()

    task.evaluate = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    averages = [a.numpy() for a in trainer.average.averages]
    weights = _weights(task.model)
    assert max(np.abs(w - a).max() for w, a in zip(weights, averages)) > 1e-3
    assert all(np.array_equal(s, a) for s, a in zip(task.seen[-1], averages))  # it did evaluate the averages

    resumed_task = Regression(seed=99)  # other initial weights: everything comes from the checkpoint
    resumed = Trainer(resumed_task, keras.optimizers.SGD(0.05), 2, weight_average=0.8,
                      checkpoint_dir=str(tmp_path))
    resumed.restore()
    for got, want in zip(_weights(resumed_task.model), weights):  # the trained weights were saved, not the averages
        np.testing.assert_array_equal(got, want)
    resumed.fit()
    for got, want in zip([*resumed.average.averages, resumed.average.updates],
                         [*uninterrupted.average.averages, uninterrupted.average.updates]):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-6)
    for got, want in zip(_weights(resumed_task.model), _weights(reference.model)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("decay", [0, 1, 1.5, -0.1, True, "0.9"])
def test_bad_decay_is_refused_by_name(decay):
    with pytest.raises(ValueError, match=rf"Trainer: weight_average must be a number in \(0, 1\).*got {decay!r}"):
        Trainer(Regression(), keras.optimizers.SGD(0.05), 1, weight_average=decay)
    with pytest.raises(ValueError, match="WeightAverage: decay must be a number in"):
        WeightAverage([tf.Variable(1.0)], decay)


def test_applied_puts_the_averages_in_and_the_weights_back_even_on_error():
    weight = tf.Variable([1.0, 2.0])
    average = WeightAverage([weight], 0.5)
    weight.assign([3.0, 6.0])
    average.update()  # t = 0: d = 0.1 -> 0.1 * [1, 2] + 0.9 * [3, 6]
    np.testing.assert_allclose(average.averages[0].numpy(), [2.8, 5.6], rtol=1e-6)
    with pytest.raises(RuntimeError):
        with average.applied():
            np.testing.assert_allclose(weight.numpy(), [2.8, 5.6], rtol=1e-6)
            raise RuntimeError("inside")
    np.testing.assert_array_equal(weight.numpy(), [3.0, 6.0])


def test_a_ctrl_c_while_the_averages_go_in_leaves_the_trained_weights(monkeypatch, python_sigint):
    """SIGINT during the switch is held back until the switch is whole, then raised: the
    model gets its trained weights back, not the averages."""
    weight = tf.Variable([1.0, 2.0])
    average = WeightAverage([weight], 0.5)
    weight.assign([3.0, 6.0])
    average.update()
    assign = type(weight).assign
    sent = []

    def assign_and_interrupt(variable, value, *args, **kwargs):
        if not sent and np.allclose(np.asarray(value), [2.8, 5.6]):  # the averages going in
            sent.append(True)
            signal.raise_signal(signal.SIGINT)  # deferred until the switch ends
        return assign(variable, value, *args, **kwargs)

    monkeypatch.setattr(type(weight), "assign", assign_and_interrupt)
    entered = []
    with pytest.raises(KeyboardInterrupt):
        with average.applied():
            entered.append(True)
    assert sent and not entered
    np.testing.assert_array_equal(weight.numpy(), [3.0, 6.0])


def test_resuming_a_run_saved_without_an_average_is_refused(tmp_path):
    Trainer(Regression(), keras.optimizers.SGD(0.05), 1, checkpoint_dir=str(tmp_path)).fit()
    trainer = Trainer(Regression(), keras.optimizers.SGD(0.05), 2, checkpoint_dir=str(tmp_path), weight_average=0.9)
    with pytest.raises(ValueError, match=r"Trainer: weight_average=0.9, but the checkpoint .*ckpt-6/ckpt holds no "
                                         r"weight average"):
        trainer.fit()
    # the other way round (an average saved, none asked for) restores the rest
    Trainer(Regression(), keras.optimizers.SGD(0.05), 1, checkpoint_dir=str(tmp_path / "b"), weight_average=0.9).fit()
    resumed = Trainer(Regression(seed=5), keras.optimizers.SGD(0.05), 2, checkpoint_dir=str(tmp_path / "b"))
    assert resumed.restore() is not None and int(resumed.global_step.numpy()) == 6
