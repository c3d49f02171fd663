"""LanguageModel: shapes, explicit state carry, initialisation, tied weights, dropout, save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import rnn_cell
from tfseq.demos.lm import LanguageModel, language_model_from_config, presets, tutorial_cost
from tfseq.demos.lm.model import sequence_xent

VOCAB, HIDDEN, BATCH, TIME = 11, 6, 3, 8
rng = np.random.default_rng(0)


def ids(batch=BATCH, time=TIME):
    return tf.constant(rng.integers(0, VOCAB, size=(batch, time)), tf.int32)


def flat(state):
    return [t.numpy() for t in tf.nest.flatten(state)]


@pytest.mark.parametrize("cell", ["lstm", "peephole", "gru", "rnn"])
def test_shapes_and_state_structure(cell):
    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, cell=cell, init_scale=0.1, seed=1)
    state0 = model.get_initial_state(BATCH)
    logits, state = model(ids(), initial_state=state0)
    assert logits.shape == (BATCH, TIME, VOCAB)
    tf.nest.assert_same_structure(state, state0)
    assert [s.shape for s in tf.nest.flatten(state)] == [s.shape for s in tf.nest.flatten(state0)]
    assert isinstance(model.cell, rnn_cell.MultiRNNCell)
    weights = {w.path.split("/", 1)[1]: tuple(w.shape) for w in model.trainable_variables}
    assert weights["embedding/embeddings"] == (VOCAB, HIDDEN)
    assert weights["softmax_w"] == (HIDDEN, VOCAB) and weights["softmax_b"] == (VOCAB,)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carried_state_equals_one_long_sequence(cell):
    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, cell=cell, init_scale=0.5, seed=2)
    x = ids(time=2 * TIME)
    whole, whole_state = model(x, initial_state=model.get_initial_state(BATCH))
    first, state = model(x[:, :TIME], initial_state=model.get_initial_state(BATCH))
    second, state = model(x[:, TIME:], initial_state=state)
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, atol=1e-6)
    for a, b in zip(flat(state), flat(whole_state)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # the carried state matters: restarting the second half from zeros gives other logits
    reset, _ = model(x[:, TIME:], initial_state=model.get_initial_state(BATCH))
    assert np.abs(reset.numpy() - second.numpy()).max() > 1e-3


def test_default_initial_state_is_zeros():
    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, init_scale=0.5, seed=2)
    x = ids()
    a, _ = model(x)
    b, _ = model(x, initial_state=model.get_initial_state(BATCH))
    np.testing.assert_array_equal(a, b)
    assert all((s == 0).all() for s in flat(model.get_initial_state(BATCH)))


def test_uniform_init_except_cell_biases():
    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, cell="gru", init_scale=0.05, seed=3)
    model.build()
    for weight in model.weights:
        value = weight.numpy()
        if "seed_generator" in weight.path:
            continue
        if "cell_" in weight.path and "bias" in weight.name:
            expected = 1.0 if "gates" in weight.name else 0.0  # TF1's GRU bias initialisers
            np.testing.assert_array_equal(value, expected)
        else:
            assert np.abs(value).max() <= 0.05 and value.std() > 0.01, weight.path


def test_same_seed_same_weights():
    a = LanguageModel(VOCAB, HIDDEN, init_scale=0.1, seed=7)
    b = LanguageModel(VOCAB, HIDDEN, init_scale=0.1, seed=7)
    c = LanguageModel(VOCAB, HIDDEN, init_scale=0.1, seed=8)
    for m in (a, b, c):
        m.build()
    np.testing.assert_array_equal(a.softmax_w.numpy(), b.softmax_w.numpy())
    assert not np.array_equal(a.softmax_w.numpy(), c.softmax_w.numpy())


def test_tied_embeddings_share_the_matrix():
    model = LanguageModel(VOCAB, HIDDEN, tie_embeddings=True, init_scale=0.3, seed=4)
    x = ids()
    with tf.GradientTape() as tape:
        logits, _ = model(x)
        loss = tutorial_cost(logits, ids())
    names = [w.path for w in model.trainable_variables]
    assert not any("softmax_w" in n for n in names)
    w, _ = model.output_weights()
    np.testing.assert_array_equal(w.numpy(), model.embedding.embeddings.numpy().T)
    # the embedding gets gradient through the output layer too: rows of tokens absent from x
    grad = tf.convert_to_tensor(tape.gradient(loss, model.embedding.embeddings)).numpy()
    unseen = sorted(set(range(VOCAB)) - set(x.numpy().ravel().tolist()))
    assert unseen and np.abs(grad[unseen]).sum() > 0


def test_dropout_only_when_training():
    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, keep_prob=0.5, init_scale=0.5, seed=5)
    x = ids()
    eval_a, _ = model(x, training=False)
    eval_b, _ = model(x, training=False)
    train_a, _ = model(x, training=True)
    train_b, _ = model(x, training=True)
    np.testing.assert_array_equal(eval_a, eval_b)
    assert np.abs(train_a.numpy() - eval_a.numpy()).max() > 1e-3
    assert np.abs(train_a.numpy() - train_b.numpy()).max() > 1e-3  # fresh masks each call
    assert [type(c).__name__ for c in model.cell.cells] == ["DropoutWrapper"] * 2


def test_variational_masks_are_fixed_within_a_call():
    model = LanguageModel(VOCAB, HIDDEN, keep_prob=0.5, variational_dropout=True, init_scale=0.5, seed=6)
    model.build()
    # the embedding dropout mask is [batch, 1, hidden]: the same units dropped at every step
    x = tf.ones([BATCH, TIME, HIDDEN])
    dropped = model.input_dropout(x, training=True).numpy()
    np.testing.assert_array_equal(dropped, np.repeat(dropped[:, :1], TIME, axis=1))
    assert model.cell.cells[0].variational_recurrent


def test_tutorial_cost_vs_numpy():
    logits = rng.normal(size=(4, 5, VOCAB)).astype(np.float32)
    targets = rng.integers(0, VOCAB, size=(4, 5))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    xent = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]  # [batch, time]
    np.testing.assert_allclose(sequence_xent(logits, targets), xent, rtol=1e-5)
    np.testing.assert_allclose(tutorial_cost(logits, targets), xent.mean(0).sum(), rtol=1e-5)
    np.testing.assert_allclose(tutorial_cost(logits, targets), 5 * xent.mean(), rtol=1e-5)


def test_keras_save_and_load(tmp_path):
    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, cell="peephole", keep_prob=0.8,
                          tie_embeddings=True, init_scale=0.2, seed=9)
    x = ids()
    before, _ = model(x)
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, LanguageModel)
    assert loaded.get_config() == model.get_config()
    after, _ = loaded(x)
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_from_preset():
    config = presets.get("small").with_overrides(hidden_size=8, vocab_size=VOCAB)
    model = language_model_from_config(config, seed=0)
    assert model.num_layers == 2 and model.hidden_size == 8 and model.init_scale == 0.1
    assert model.cell.cells[0].forget_bias == 0.0  # the tutorial's BasicLSTMCell(forget_bias=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(vocab_size=0), "vocab_size must be a positive integer, got 0"),
        (dict(hidden_size=2.5), "hidden_size must be a positive integer, got 2.5"),
        (dict(cell="lstmx"), "cell must be one of lstm, peephole, gru, rnn, got 'lstmx'"),
        (dict(keep_prob=1.5), r"keep_prob must be in \(0, 1\], got 1.5"),
        (dict(init_scale=-1.0), "init_scale must be > 0 or None, got -1.0"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = dict(vocab_size=VOCAB, hidden_size=HIDDEN)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        LanguageModel(**args)


def test_float_ids_rejected():
    model = LanguageModel(VOCAB, HIDDEN)
    with pytest.raises(TypeError, match="integer token ids"):
        model(tf.zeros([2, 3]))


@pytest.mark.parametrize("cell, keep_prob", [("lstm", 0.5), ("gru", 1.0), ("peephole", 1.0), ("rnn", 0.5)])
def test_every_lm_cell_runs_the_fused_path(cell, keep_prob, monkeypatch):
    from tfseq.nn import fused as fused_paths

    model = LanguageModel(VOCAB, HIDDEN, num_layers=2, cell=cell, keep_prob=keep_prob, seed=0)
    model.build()
    plan = fused_paths.plan(model.cell, tf.zeros([BATCH, TIME, HIDDEN]), training=True)
    assert plan.path != fused_paths.PER_STEP, plan
    # what the model runs, not only what the planner says: count the fused runs of real calls
    calls = []
    original = fused_paths.run
    monkeypatch.setattr(fused_paths, "run", lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))
    ids = tf.zeros([BATCH, TIME], tf.int32)
    for training in (True, False):
        calls.clear()
        logits, _ = model(ids, initial_state=model.get_initial_state(BATCH), training=training)
        assert logits.shape == (BATCH, TIME, VOCAB) and calls == [1], (training, calls)
