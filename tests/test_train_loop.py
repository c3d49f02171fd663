"""Trainer + LanguageModelTask: loss goes down, perplexity vs NumPy, state carry and reset,
learning rate per epoch, resume after an interruption (a crash, Ctrl-C, SIGTERM, Ctrl-C during
an evaluation) equals an uninterrupted run."""

import os
import signal
import time
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq.data import lm_windows
from tfseq.demos.frame import dtype_policy_scope
from tfseq.demos.lm import LanguageModelTask, language_model_from_config, presets
from tfseq.train import Task, Trainer, average_loss, perplexity
from tfseq.train.stopping import Terminated, interrupts_deferred, raise_if_terminated, sigterm_stops, terminated_at_once

VOCAB = 12
BATCH, STEPS = 4, 5


def stream(n=2000, seed=0):
    """A learnable stream: a noisy repeating pattern."""
    rng = np.random.default_rng(seed)
    ids = np.tile(np.arange(VOCAB), n // VOCAB + 1)[:n]
    noise = rng.random(n) < 0.1
    ids[noise] = rng.integers(0, VOCAB, noise.sum())
    return ids.astype(np.int32)


def config(**overrides):
    base = dict(hidden_size=8, num_layers=2, num_steps=STEPS, batch_size=BATCH, max_epoch=1,
                max_max_epoch=2, vocab_size=VOCAB, max_grad_norm=5)
    base.update(overrides)
    return presets.get("test").with_overrides(**base)


def make(cfg, train_ids, checkpoint_dir=None, checkpoint_every=None, valid_ids=None, seed=3,
         learning_rate_at=None):
    keras.utils.set_random_seed(seed)
    model = language_model_from_config(cfg, seed=seed)
    task = LanguageModelTask(model, train_ids, cfg.batch_size, cfg.num_steps, valid_ids=valid_ids)
    trainer = Trainer(task, keras.optimizers.SGD(cfg.learning_rate), cfg.max_max_epoch,
                      learning_rate_at or cfg.learning_rate_at, cfg.max_grad_norm,
                      checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every)
    return model, task, trainer


def numpy_perplexity(model, ids, batch_size, num_steps):
    """exp(mean per-token xent) with NumPy log-softmax, state carried window to window."""
    xs, ys = lm_windows(ids, batch_size, num_steps)
    state = model.get_initial_state(batch_size)
    total = 0.0
    for x, y in zip(xs, ys):
        logits, state = model(tf.constant(x), initial_state=state)
        z = logits.numpy().astype(np.float64)
        log_probs = z - z.max(-1, keepdims=True)
        log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
        total -= np.take_along_axis(log_probs, y[..., None], -1).sum()
    return np.exp(total / ys.size), ys.size


def test_training_lowers_the_loss():
    ids = stream()
    cfg = config(num_layers=1, hidden_size=16, max_epoch=3, max_max_epoch=2)
    model, task, trainer = make(cfg, ids, valid_ids=stream(600, seed=1))
    before = task.evaluate("validation")["loss"]
    history = trainer.fit()
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["validation_loss"] < before - 0.5
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["validation_perplexity"] == pytest.approx(np.exp(history[-1]["validation_loss"]))


def test_evaluate_perplexity_matches_numpy():
    cfg = config(init_scale=0.5)
    model, task, _ = make(cfg, stream(), valid_ids=stream(503, seed=2))
    got = task.evaluate("validation")
    want, count = numpy_perplexity(model, stream(503, seed=2), BATCH, STEPS)
    assert got["tokens"] == count == (503 // BATCH - 1) // STEPS * BATCH * STEPS
    assert got["perplexity"] == pytest.approx(want, rel=1e-5)
    assert task.evaluate("test") is None


def test_perplexity_and_average_loss_arithmetic():
    xent = np.random.default_rng(0).random(50) * 4
    loss, count = average_loss([(xent[:20].sum(), 20), (tf.constant(xent[20:].sum()), tf.constant(30))])
    assert count == 50 and loss == pytest.approx(xent.mean())
    assert perplexity(loss) == pytest.approx(np.exp(xent.mean()))
    assert perplexity(1e6) == pytest.approx(np.exp(700.0))  # a diverged loss stays printable
    with pytest.raises(ValueError, match="count must be > 0, got 0"):
        average_loss([])


def test_state_carried_across_batches_and_reset_each_epoch():
    ids = stream(1000)
    cfg = config(max_max_epoch=1, init_scale=0.5)
    model, task, trainer = make(cfg, ids, learning_rate_at=lambda epoch: 0.0)  # weights stay put
    trainer.fit()
    # one pass over the windows from a zero state, carrying the state: same final state
    xs, _ = lm_windows(ids, BATCH, STEPS)
    state = model.get_initial_state(BATCH)
    for x in xs:
        _, state = model(tf.constant(x), initial_state=state)
    after_one = [v.numpy() for v in tf.nest.flatten(task.carried_state())]
    for got, want in zip(after_one, tf.nest.flatten(state)):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # a second epoch starts again from zeros: it ends in the same state, not a continued one
    trainer.epochs = 2
    trainer.fit()
    for got, want in zip(tf.nest.flatten(task.carried_state()), after_one):
        np.testing.assert_allclose(got, want, atol=1e-6)
    _, continued = model(tf.constant(xs[0]), initial_state=state)
    _, fresh = model(tf.constant(xs[0]), initial_state=model.get_initial_state(BATCH))
    difference = tf.nest.flatten(continued)[0].numpy() - tf.nest.flatten(fresh)[0].numpy()
    assert np.abs(difference).max() > 1e-4  # so the equality above really tests the reset


class RecordingTask(Task):
    """A regression task (not an LM): fit y = 3x; records the optimizer's learning rate."""

    def __init__(self, optimizer_ref):
        self.model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
        self.optimizer_ref = optimizer_ref
        self.rates = []
        self.data = tf.data.Dataset.from_tensor_slices(
            (tf.ones([6, 2, 1]), 3 * tf.ones([6, 2, 1]))
        )

    def steps_per_epoch(self):
        return 6

    def train_batches(self, start):
        self.rates.append(float(self.optimizer_ref[0].learning_rate.numpy()))
        return self.data.skip(start)

    def loss(self, batch, training):
        x, y = batch
        err = tf.reduce_sum((self.model(x) - y) ** 2)
        return err, {"loss_sum": err, "count": tf.size(y)}


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_learning_rate_schedule_applied_per_epoch(name):
    cfg = presets.get(name)
    ref = [keras.optimizers.SGD(1.0)]
    task = RecordingTask(ref)
    epochs = min(cfg.max_max_epoch, cfg.max_epoch + 4)
    Trainer(task, ref[0], epochs, cfg.learning_rate_at, cfg.max_grad_norm).fit()
    want = [cfg.learning_rate * cfg.lr_decay ** max(e + 1 - cfg.max_epoch, 0) for e in range(epochs)]
    assert task.rates == pytest.approx(want, rel=1e-6)


def _weights(model):
    return [v.numpy() for v in model.trainable_variables]


class Crash(Exception):
    pass


@pytest.mark.parametrize("variant", ["dropout-step-budget", "variational-exception", "dropout-ctrl-c",
                                     "dropout-sigterm", "variational-ctrl-c-in-evaluation",
                                     "dropout-sigterm-in-evaluation"])
def test_resume_after_interruption_equals_uninterrupted(tmp_path, variant):
    ids, valid_ids = stream(1600), stream(300, seed=1)
    cfg = config(keep_prob=0.5, variational_dropout=variant.startswith("variational"), max_max_epoch=2)
    # keep_prob < 1: the dropout RNG position must be checkpointed too
    steps = (1600 // BATCH - 1) // STEPS  # 79 per epoch
    reference, _, trainer = make(cfg, ids, valid_ids=valid_ids)
    want_history = trainer.fit()
    want = _weights(reference)

    ckpt = str(tmp_path / "ckpt")
    _, task, trainer = make(cfg, ids, checkpoint_dir=ckpt, checkpoint_every=10, valid_ids=valid_ids)
    if variant.endswith("step-budget"):
        trainer.fit(max_steps=steps + 37, save_on_stop=False)  # mid-epoch 2; last checkpoint at step 110
    elif variant.endswith("in-evaluation"):  # Ctrl-C or SIGTERM while epoch 1 is being evaluated
        evaluate = task.evaluate

        def interrupted(split):
            task.evaluate = evaluate
            if "sigterm" in variant:  # the evaluation is abandoned at once, not finished first
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
                pytest.fail("SIGTERM did not stop the evaluation")
            raise KeyboardInterrupt()

        task.evaluate = interrupted
        with pytest.raises(KeyboardInterrupt):
            trainer.fit()
        # saved with all of epoch 1's steps, at the epoch's end (no periodic checkpoint at 79)
        assert os.path.basename(os.path.dirname(trainer.checkpoints.latest())) == f"ckpt-{steps}"
    else:  # an exception (a crash, Ctrl-C, SIGTERM) 23 steps into epoch 1
        error = {"ctrl-c": KeyboardInterrupt, "sigterm": Terminated, "exception": Crash}[variant.split("-", 1)[1]]
        batches = task.train_batches

        def crashing(start):
            for k, batch in enumerate(batches(start)):
                if k == 23 and error is Terminated:
                    # fit's handler must be in place, or the default action ends pytest itself
                    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
                    os.kill(os.getpid(), signal.SIGTERM)  # a request: nothing is raised inside the pipeline,
                    time.sleep(0.05)  # the handler runs here; the run stops after this batch's step
                elif k == 23:
                    raise error()
                yield batch

        task.train_batches = crashing
        with pytest.raises(error):
            trainer.fit()
        # a crash leaves the last periodic checkpoint; Ctrl-C and SIGTERM save where it stopped:
        # Ctrl-C before step 24, SIGTERM after it (the step whose batch was being fetched)
        saved = os.path.basename(os.path.dirname(trainer.checkpoints.latest()))
        assert saved == {Crash: "ckpt-20", KeyboardInterrupt: "ckpt-23", Terminated: "ckpt-24"}[error]
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # fit's handler is gone again
    assert not np.allclose(_weights(task.model)[0], want[0])

    resumed, _, trainer = make(cfg, ids, checkpoint_dir=ckpt, checkpoint_every=10, seed=99,  # other init
                               valid_ids=valid_ids)
    history = trainer.fit()
    assert int(trainer.global_step.numpy()) == 2 * steps
    for got, expected in zip(_weights(resumed), want):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    if variant.endswith("in-evaluation"):  # epoch 1 is evaluated (again) and reported like the uninterrupted run's
        assert [h["epoch"] for h in history] == [1, 2]
        for key in ("train_loss", "validation_loss", "validation_perplexity"):
            assert history[0][key] == pytest.approx(want_history[0][key], rel=1e-6), key
        assert "words_per_second" not in history[0]  # no steps of epoch 1 ran in this call


def test_interrupts_deferred_delivers_after_the_block_once(python_sigint):
    delivered = []

    def handler(signum, frame):
        delivered.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            inside = list(delivered)
        time.sleep(0.05)
        assert inside == [] and delivered == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is handler  # the handler in place before is back
    finally:
        signal.signal(signal.SIGINT, previous)
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():  # Python's handler, at the block's end
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_stops_at_the_next_stopping_point_and_leaves_other_handlers_alone():
    with sigterm_stops():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler has run: it only records the request
        with pytest.raises(Terminated, match="SIGTERM"):
            raise_if_terminated()
        raise_if_terminated()  # raised once per signal
        with pytest.raises(Terminated, match="SIGTERM"), terminated_at_once():
            os.kill(os.getpid(), signal.SIGTERM)  # inside: raised at once
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        with pytest.raises(Terminated), terminated_at_once():  # a pending request raises on entry
            pytest.fail("the block ran despite a pending SIGTERM")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
    raise_if_terminated()  # a request not raised by the block's end is dropped
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert Terminated.exit_status == 143 and issubclass(Terminated, KeyboardInterrupt)
    own = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # an application that ignores SIGTERM
    try:
        with sigterm_stops():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: nothing happens
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGTERM, own)


# -- XLA ---------------------------------------------------------------------------------


class HostOpTask(RecordingTask):
    """A regression task whose loss runs a host Python op: XLA cannot compile it."""

    def loss(self, batch, training):
        err, metrics = super().loss(batch, training)
        return tf.py_function(lambda e: e, [err], tf.float32), metrics


def fit_regression(task_class, jit_compile):
    ref = [keras.optimizers.SGD(0.01)]
    task = task_class(ref)
    task.model.layers[0].kernel.assign([[0.5]])
    trainer = Trainer(task, ref[0], 2, lambda epoch: 0.01, 5.0, jit_compile=jit_compile)
    history = trainer.fit()
    return float(task.model.layers[0].kernel.numpy()[0, 0]), history


def test_xla_compiled_step_trains_like_the_plain_graph():
    weight, history = fit_regression(RecordingTask, None)
    plain_weight, plain_history = fit_regression(RecordingTask, False)
    assert abs(weight - 0.5) > 0.1  # it learned
    np.testing.assert_allclose(weight, plain_weight, rtol=1e-5)
    np.testing.assert_allclose([r["train_loss"] for r in history], [r["train_loss"] for r in plain_history],
                               rtol=1e-5)


def test_step_xla_cannot_compile_falls_back_with_a_warning_or_raises_when_required():
    with pytest.warns(UserWarning, match="cannot be compiled with XLA"):
        weight, _ = fit_regression(HostOpTask, None)
    plain_weight, _ = fit_regression(RecordingTask, False)
    np.testing.assert_allclose(weight, plain_weight, rtol=1e-5)  # every step ran, none twice
    with pytest.raises(tf.errors.InvalidArgumentError, match="XLA|xla"):
        fit_regression(HostOpTask, True)


class HalfPrecisionTask(RecordingTask):
    """The regression task with its model under Keras' ``mixed_bfloat16`` policy."""

    def __init__(self, optimizer_ref):
        super().__init__(optimizer_ref)
        with dtype_policy_scope("mixed_bfloat16"):
            self.model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False),
                                           keras.layers.Activation("linear", dtype="float32")])


def test_half_precision_on_a_cpu_runs_the_plain_graph_unless_xla_is_required():
    """bfloat16 compute runs faster without XLA on a CPU: the default skips it there, quietly;
    ``jit_compile=True`` still compiles, and float32 still compiles by default."""
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    optimizer = keras.optimizers.SGD(0.01)
    half = HalfPrecisionTask([optimizer])
    assert half.model.compute_dtype == "bfloat16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot be compiled" warning: a choice, not a failure
        assert Trainer(half, optimizer, 1, None, 5.0).xla is on_gpu
    assert Trainer(half, optimizer, 1, None, 5.0, jit_compile=True).xla is True
    assert Trainer(RecordingTask([optimizer]), optimizer, 1, None, 5.0).xla is True
    assert Trainer(RecordingTask([optimizer]), optimizer, 1, None, 5.0, jit_compile=False).xla is False
    weight, _ = fit_regression(HalfPrecisionTask, None)
    assert abs(weight - 0.5) > 0.1  # it trains


def test_a_fallback_from_xla_is_recorded():
    ref = [keras.optimizers.SGD(0.01)]
    trainer = Trainer(HostOpTask(ref), ref[0], 1, None, 5.0)
    assert trainer.xla
    with pytest.warns(UserWarning, match="cannot be compiled with XLA"):
        trainer.fit()
    assert not trainer.xla


def test_jit_compile_must_be_none_or_bool():
    with pytest.raises(ValueError, match="Trainer: jit_compile must be None, True or False, got 'auto'"):
        Trainer(RecordingTask([None]), keras.optimizers.SGD(1.0), 1, lambda e: 1.0, 5.0, jit_compile="auto")
