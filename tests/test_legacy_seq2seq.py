"""tfseq.legacy_seq2seq against TF1: ``rnn_decoder`` (with and without ``loop_function``) runs
the real TF1 cells in the reference subprocess, the losses follow TF 1.15's contrib code
(``tests/tf1_contrib_ref.py``) and are re-derived in NumPy here."""

import numpy as np
import pytest
import tensorflow as tf
from tf1_contrib_ref import TF1_NAMESPACE
from tf1_reference import run_tf1_many

from tfseq import legacy_seq2seq, rnn_cell

RNG = np.random.default_rng(7)
BATCH, STEPS, DEPTH, UNITS, VOCAB = 3, 4, 5, 4, 6
X = RNG.standard_normal([STEPS, BATCH, DEPTH]).astype(np.float32)
H0 = RNG.standard_normal([BATCH, UNITS]).astype(np.float32)
LOOP_W = RNG.standard_normal([UNITS, DEPTH]).astype(np.float32)
LOGITS = RNG.standard_normal([STEPS, BATCH, VOCAB]).astype(np.float32)
TARGETS = RNG.integers(0, VOCAB, [STEPS, BATCH]).astype(np.int32)
WEIGHTS = np.array([[1, 1, 1], [1, 0, 1], [0.5, 0, 1], [1, 0, 0]], np.float32)

_DECODER = TF1_NAMESPACE + """
cell = tf.contrib.rnn.CELL
inp = [tf.constant(x) for x in inputs["x"]]
h0 = tf.constant(inputs["h0"])
state0 = STATE0
loop = LOOP
outputs_, state = tf.contrib.legacy_seq2seq.rnn_decoder(inp, state0, cell, loop_function=loop, scope="dec")
sess.run(tf.global_variables_initializer())
outputs["y"] = np.stack(sess.run(outputs_))
outputs["state"] = np.concatenate([np.asarray(s) for s in tf1.nest.flatten(sess.run(state))], 1)
for v in tf.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
"""
_LOOP = "lambda prev, i: tf.matmul(prev, tf.constant(inputs['w']))"
DECODERS = {
    "gru": ("GRUCell(4)", "h0", "None", lambda: rnn_cell.GRUCell(4)),
    "lstm_loop": (
        "BasicLSTMCell(4)", "tf.nn.rnn_cell.LSTMStateTuple(h0, h0)", _LOOP, lambda: rnn_cell.BasicLSTMCell(4),
    ),
}
_LOSSES = TF1_NAMESPACE + """
logits = [tf.constant(l) for l in inputs["logits"]]
targets = [tf.constant(t) for t in inputs["targets"]]
weights = [tf.constant(w) for w in inputs["weights"]]
mse = lambda labels, logits: tf.reduce_sum(tf.square(tf.one_hot(labels, 6) - logits), 1)
for t in (True, False):
    outputs[f"by_example_{t}"] = sess.run(tf.contrib.legacy_seq2seq.sequence_loss_by_example(
        logits, targets, weights, average_across_timesteps=t))
    outputs[f"mse_{t}"] = sess.run(tf.contrib.legacy_seq2seq.sequence_loss_by_example(
        logits, targets, weights, average_across_timesteps=t, softmax_loss_function=mse))
    for b in (True, False):
        outputs[f"loss_{t}_{b}"] = sess.run(tf.contrib.legacy_seq2seq.sequence_loss(
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


def _crossent(logits, targets):  # [batch, vocab], [batch] -> [batch]
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_probs[np.arange(len(targets)), targets]


def test_losses_match_tf1_and_numpy(tf1):
    ref = tf1["losses"]
    logits, targets, weights = list(LOGITS), list(TARGETS), list(WEIGHTS)
    terms = np.stack([_crossent(l, t) * w for l, t, w in zip(LOGITS, TARGETS, WEIGHTS)])  # [time, batch]

    def mse(labels, logits):
        return tf.reduce_sum(tf.square(tf.one_hot(labels, VOCAB) - logits), 1)

    for t in (True, False):
        by_example = legacy_seq2seq.sequence_loss_by_example(logits, targets, weights, average_across_timesteps=t)
        expected = terms.sum(0) / (WEIGHTS.sum(0) + 1e-12) if t else terms.sum(0)
        np.testing.assert_allclose(by_example, expected, rtol=1e-5)
        np.testing.assert_allclose(by_example, ref[f"by_example_{t}"], rtol=1e-6)
        custom = legacy_seq2seq.sequence_loss_by_example(
            logits, targets, weights, average_across_timesteps=t, softmax_loss_function=mse)
        np.testing.assert_allclose(custom, ref[f"mse_{t}"], rtol=1e-6)
        for b in (True, False):
            loss = legacy_seq2seq.sequence_loss(
                logits, targets, weights, average_across_timesteps=t, average_across_batch=b)
            assert loss.shape == ()
            np.testing.assert_allclose(loss, expected.sum() / (BATCH if b else 1), rtol=1e-5)
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
