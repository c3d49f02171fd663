"""tfseq.legacy_seq2seq against our own reference (``tests/legacy_seq2seq_ref.py``, written from
the documented math): ``rnn_decoder`` (with and without ``loop_function``) against the NumPy
decoder run over the real TF1 cells in the reference subprocess; the losses against the NumPy
functions, and the reference's graph-op losses (what TF1 programs use in the subprocess) too."""

import legacy_seq2seq_ref as ref_s2s
import numpy as np
import pytest
import tensorflow as tf
from tf1_reference import run_tf1_many

from tfseq import legacy_seq2seq, rnn_cell

RNG = np.random.default_rng(7)
BATCH, STEPS, DEPTH, UNITS, VOCAB = 3, 4, 5, 4, 6
X = RNG.standard_normal([STEPS, BATCH, DEPTH]).astype(np.float32)
H0 = RNG.standard_normal([BATCH, UNITS]).astype(np.float32)
LOOP_W = RNG.standard_normal([UNITS, DEPTH]).astype(np.float32)
LOGITS = RNG.standard_normal([STEPS, BATCH, VOCAB]).astype(np.float32)
TARGETS = RNG.integers(0, VOCAB, [STEPS, BATCH]).astype(np.int32)
WEIGHTS = np.array([[1, 1, 1], [1, 0, 1], [0.5, 0, 1], [1, 0, 0]], np.float32)  # row 1: weight only at t=0

# The NumPy decoder steps the real TF1 cell: one graph step (placeholders in, the cell's variables
# created under scope "dec"), run by the session at every decoder step.
_DECODER = ref_s2s.RNN_DECODER_SOURCE + """
cell = tf1.nn.rnn_cell.CELL
x_in = tf1.placeholder(tf.float32, [None, inputs["x"].shape[2]])
state_in = tf.nest.map_structure(lambda a: tf1.placeholder(tf.float32, a.shape), STATE0)
with tf1.variable_scope("dec"):
    step_out = cell(x_in, state_in)
sess.run(tf1.global_variables_initializer())

def step(x, state):
    feed = {x_in: x, **dict(zip(tf.nest.flatten(state_in), tf.nest.flatten(state)))}
    return sess.run(step_out, feed)

loop = LOOP
ys, state = rnn_decoder(list(inputs["x"]), STATE0, step, loop_function=loop)
outputs["y"] = np.stack(ys)
outputs["state"] = np.concatenate([np.asarray(s) for s in tf.nest.flatten(state)], 1)
for v in tf1.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
"""
_LOOP = "lambda prev, i: prev @ inputs['w']"  # NumPy: the previous output, projected back to the input depth
DECODERS = {
    "gru": ("GRUCell(4)", "inputs['h0']", "None", lambda: rnn_cell.GRUCell(4)),
    "lstm_loop": (
        "BasicLSTMCell(4)", "tf1.nn.rnn_cell.LSTMStateTuple(inputs['h0'], inputs['h0'])", _LOOP,
        lambda: rnn_cell.BasicLSTMCell(4),
    ),
}
# The reference's graph-op losses, as TF1 programs in the subprocess call them.
_LOSSES = ref_s2s.TF1_SOURCE + """
logits = [tf1.constant(z) for z in inputs["logits"]]
targets = [tf1.constant(y) for y in inputs["targets"]]
weights = [tf1.constant(w) for w in inputs["weights"]]
mse = lambda labels, logits: tf1.reduce_sum(tf1.square(tf1.one_hot(labels, 6) - logits), 1)
for t in (True, False):
    outputs[f"by_example_{t}"] = sess.run(legacy_seq2seq.sequence_loss_by_example(
        logits, targets, weights, average_across_timesteps=t))
    outputs[f"mse_{t}"] = sess.run(legacy_seq2seq.sequence_loss_by_example(
        logits, targets, weights, average_across_timesteps=t, softmax_loss_function=mse))
    for b in (True, False):
        outputs[f"loss_{t}_{b}"] = sess.run(legacy_seq2seq.sequence_loss(
            logits, targets, weights, average_across_timesteps=t, average_across_batch=b))
"""


@pytest.fixture(scope="module")
def tf1():
    cases = [
        (name, _DECODER.replace("CELL", c).replace("STATE0", s0).replace("LOOP", loop), {"x": X, "h0": H0, "w": LOOP_W})
        for name, (c, s0, loop, _) in DECODERS.items()
    ]
    cases.append(("losses", _LOSSES, {"logits": LOGITS, "targets": TARGETS, "weights": WEIGHTS}))
    return run_tf1_many(cases)


def test_numpy_decoder_wiring():
    """The reference decoder itself: inputs as given, or the loop function of the previous output from step 1."""
    seen = []

    def step(x, state):
        seen.append(x)
        return x.sum(1, keepdims=True) + state, state + 1

    ys, state = ref_s2s.rnn_decoder([np.ones([2, 3]) * k for k in range(3)], np.zeros([2, 1]), step)
    assert [y[0, 0] for y in ys] == [0, 4, 8] and state[0, 0] == 3
    seen.clear()
    ys, _ = ref_s2s.rnn_decoder([np.ones([2, 3]) * k for k in range(3)], np.zeros([2, 1]), step,
                                loop_function=lambda prev, i: np.full([2, 3], prev[0, 0] + 10 * i))
    assert [x[0, 0] for x in seen] == [0, 10, 51] and [y[0, 0] for y in ys] == [0, 31, 155]


@pytest.mark.parametrize("name", list(DECODERS))
def test_rnn_decoder_matches_tf1(tf1, name):
    ref = tf1[name]
    cell = DECODERS[name][3]()
    cell.build((None, DEPTH))
    for rel, var in cell.tf1_variables().items():
        var.assign(ref[f"var:dec/{rel}"])
    state0 = H0 if name == "gru" else rnn_cell.LSTMStateTuple(H0, H0)
    def loop(prev, i):
        return tf.matmul(prev, LOOP_W)

    loop_function = loop if name == "lstm_loop" else None
    outputs, state = legacy_seq2seq.rnn_decoder(list(X), state0, cell, loop_function=loop_function, scope="dec")
    assert isinstance(outputs, list) and len(outputs) == STEPS
    np.testing.assert_allclose(np.stack(outputs), ref["y"], atol=1e-5)
    flat = np.concatenate([np.asarray(s) for s in tf.nest.flatten(state)], 1)
    np.testing.assert_allclose(flat, ref["state"], atol=1e-5)


def _np_mse(labels, logits):
    return np.square(np.eye(VOCAB)[labels] - logits).sum(1)


def test_losses_match_the_reference(tf1):
    ref = tf1["losses"]
    logits, targets, weights = list(LOGITS), list(TARGETS), list(WEIGHTS)
    terms = np.stack([ref_s2s.sparse_xent(z, y) * w for z, y, w in zip(LOGITS, TARGETS, WEIGHTS)])  # [time, batch]

    def mse(labels, logits):
        return tf.reduce_sum(tf.square(tf.one_hot(labels, VOCAB) - logits), 1)

    for t in (True, False):
        by_example = legacy_seq2seq.sequence_loss_by_example(logits, targets, weights, average_across_timesteps=t)
        expected = ref_s2s.sequence_loss_by_example(logits, targets, weights, average_across_timesteps=t)
        np.testing.assert_allclose(expected, terms.sum(0) / (WEIGHTS.sum(0) + 1e-12) if t else terms.sum(0))
        np.testing.assert_allclose(by_example, expected, rtol=1e-5)
        np.testing.assert_allclose(ref[f"by_example_{t}"], expected, rtol=1e-5)  # the subprocess's graph ops
        np.testing.assert_allclose(by_example, ref[f"by_example_{t}"], rtol=1e-6)
        custom = legacy_seq2seq.sequence_loss_by_example(
            logits, targets, weights, average_across_timesteps=t, softmax_loss_function=mse)
        expected_custom = ref_s2s.sequence_loss_by_example(
            logits, targets, weights, average_across_timesteps=t, softmax_loss_function=_np_mse)
        assert not np.allclose(expected_custom, expected)  # the custom loss is used
        np.testing.assert_allclose(custom, expected_custom, rtol=1e-5)
        np.testing.assert_allclose(ref[f"mse_{t}"], expected_custom, rtol=1e-5)
        np.testing.assert_allclose(custom, ref[f"mse_{t}"], rtol=1e-6)
        for b in (True, False):
            loss = legacy_seq2seq.sequence_loss(
                logits, targets, weights, average_across_timesteps=t, average_across_batch=b)
            assert loss.shape == ()
            expected_loss = ref_s2s.sequence_loss(
                logits, targets, weights, average_across_timesteps=t, average_across_batch=b)
            np.testing.assert_allclose(expected_loss, expected.sum() / (BATCH if b else 1), rtol=1e-6)
            np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
            np.testing.assert_allclose(ref[f"loss_{t}_{b}"], expected_loss, rtol=1e-5)
            np.testing.assert_allclose(loss, ref[f"loss_{t}_{b}"], rtol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"same length, got 4, 4 and 3"):
        legacy_seq2seq.sequence_loss_by_example(list(LOGITS), list(TARGETS), list(WEIGHTS)[:3])
    with pytest.raises(TypeError, match=r"logits must be a non-empty list"):
        legacy_seq2seq.sequence_loss(LOGITS, list(TARGETS), list(WEIGHTS))
    with pytest.raises(TypeError, match=r"decoder_inputs must be a non-empty list"):
        legacy_seq2seq.rnn_decoder([], H0, rnn_cell.GRUCell(4))
    with pytest.raises(TypeError, match=r"loop_function must be callable or None, got 3"):
        legacy_seq2seq.rnn_decoder(list(X), H0, rnn_cell.GRUCell(4), loop_function=3)


def test_rnn_decoder_drops_like_tf1_without_training():
    """A TF1 driver: DropoutWrapper drops when training is not passed (TF1), not with training=False."""
    cell = rnn_cell.DropoutWrapper(rnn_cell.GRUCell(UNITS), output_keep_prob=0.5, seed=3)
    dropped, _ = legacy_seq2seq.rnn_decoder(list(X), H0, cell)
    kept, _ = legacy_seq2seq.rnn_decoder(list(X), H0, cell, training=False)
    zeros = np.mean(np.stack(dropped) == 0)
    assert 0.3 < zeros < 0.7 and np.mean(np.stack(kept) == 0) == 0
