"""``tfseq.text``'s linear-chain CRF against real TF Addons 0.23 (``tfa.text``), run in its reference
subprocess: every function's outputs, the log-likelihood's gradients for the inputs and the
transitions, decoded tags and scores, on batches with lengths from 0 to the full length, 1-step
sequences, one tag, int64 lengths and float64. Against brute force: the log-likelihood, the
normalizer, the multi-tag score and the best path by enumerating every tag sequence. Also the ops
in ``tf.function`` (unknown sizes) and under XLA, the created transition variable, the Keras RNN
cell, the TF1 namespace, and a small BiLSTM-CRF tagger written as a TF Addons program."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa_many

import tfseq as tfa
from tfseq import text
from tfseq.compat import contrib_crf

rng = np.random.default_rng(11)


def _case(batch, steps, tags, lengths, dtype=np.float32, length_dtype=np.int32):
    return {
        "x": rng.normal(size=(batch, steps, tags)).astype(dtype),
        "A": rng.normal(size=(tags, tags)).astype(dtype),
        "tags": rng.integers(0, tags, size=(batch, steps)).astype(np.int32),
        "lengths": np.array(lengths, length_dtype),
        "bitmap": rng.random((batch, steps, tags)) < 0.6,
        "pointers": rng.integers(0, tags, size=(batch, max(steps - 1, 0), tags)).astype(np.int32),
        "start": rng.integers(0, tags, size=(batch, 1)).astype(np.int32),
        "w": rng.normal(size=(batch,)).astype(dtype),
    }


CASES = {
    "batch": _case(5, 6, 4, [6, 1, 3, 0, 2]),
    "int64_lengths": _case(3, 4, 3, [4, 4, 2], length_dtype=np.int64),
    "one_step": _case(3, 1, 4, [1, 0, 1]),
    "one_tag": _case(2, 3, 1, [3, 1]),
    "float64": _case(3, 5, 3, [5, 2, 1], dtype=np.float64),
}
for _c in CASES.values():
    _c["bitmap"][:, :, 0] = True  # every step keeps at least one tag

# The same computation in TF Addons and here: ``t`` is the text module, ``inputs`` the case.
SOURCE = """
x, A, tags, lengths = (tf.constant(inputs[k]) for k in ("x", "A", "tags", "lengths"))
first, rest = x[:, 0], x[:, 1:]
with tf.GradientTape() as tape:
    tape.watch([x, A])
    ll, _ = t.crf_log_likelihood(x, tags, lengths, A)
    loss = tf.reduce_sum(ll * inputs["w"])
outputs["ll"] = ll
outputs["dx"], outputs["dA"] = tape.gradient(loss, [x, A])
outputs["seq"] = t.crf_sequence_score(x, tags, lengths, A)
outputs["unary"] = t.crf_unary_score(tags, lengths, x)
outputs["binary"] = t.crf_binary_score(tags, lengths, A)
outputs["norm"] = t.crf_log_norm(x, lengths, A)
outputs["multi"] = t.crf_multitag_sequence_score(x, inputs["bitmap"], lengths, A)
outputs["filtered"] = t.crf_filtered_inputs(x, inputs["bitmap"])
outputs["fwd"] = t.crf_forward(rest, first, A, lengths)
outputs["tags_out"], outputs["best"] = t.crf_decode(x, A, lengths)
outputs["ctags"], outputs["cbest"] = t.crf_constrained_decode(x, inputs["bitmap"], A, lengths)
if x.shape[1] > 1:
    bp, last = t.crf_decode_forward(rest, first, A, tf.maximum(tf.cast(lengths, tf.int32) - 1, 0))
    outputs["dfwd_bp"], outputs["dfwd_last"] = bp, last
    outputs["dbwd"] = t.crf_decode_backward(tf.constant(inputs["pointers"]), tf.constant(inputs["start"]))
    cell = t.CrfDecodeForwardRnnCell(A, dtype=x.dtype)
    outputs["cell_bp"], outputs["cell_state"] = cell(x[:, 1], [first])
for b, n in enumerate(inputs["lengths"]):
    if n > 0:
        path, score = t.viterbi_decode(inputs["x"][b, :n], inputs["A"])
        outputs[f"viterbi{b}"], outputs[f"viterbi_score{b}"] = np.array(path), score
"""


def _ours(case):
    outputs = {}
    exec(SOURCE, {"tf": tf, "np": np, "t": text, "inputs": case, "outputs": outputs})
    return {k: np.asarray(v) for k, v in outputs.items()}


# TF Addons scores a 1-step batch from the first column of ``tag_indices`` alone: extra columns
# (a tag list padded past the potentials) are ignored, not an error.
WIDE_TAGS = {**CASES["one_step"], "wide": rng.integers(0, 4, size=(3, 3)).astype(np.int32)}
WIDE_SOURCE = """
x, A, lengths, wide = (tf.constant(inputs[k]) for k in ("x", "A", "lengths", "wide"))
outputs["seq"] = t.crf_sequence_score(x, wide, lengths, A)
outputs["ll"] = t.crf_log_likelihood(x, wide, lengths, A)[0]
"""


@pytest.fixture(scope="module")
def reference():
    return run_tfa_many([(name, "t = tfa.text\n" + SOURCE, case) for name, case in CASES.items()]
                        + [("wide_tags", "t = tfa.text\n" + WIDE_SOURCE, WIDE_TAGS)])


@requires_tfa
@pytest.mark.parametrize("name", list(CASES))
def test_every_function_matches_tf_addons(reference, name):
    case, ref, ours = CASES[name], reference[name], _ours(CASES[name])
    assert set(ours) == set(ref)
    tol = 1e-12 if case["x"].dtype == np.float64 else 1e-5
    for key in sorted(ref):
        expected = ref[key]
        if key == "multi" and name == "one_step":
            # TF Addons scores an empty 1-step sequence as the logsumexp of its first step's allowed
            # tags (its lengths-0 mask is missing on that path); tfseq gives 0 as for every other T.
            empty = case["lengths"] == 0
            np.testing.assert_array_equal(ours[key][empty], 0)
            ours[key], expected = ours[key][~empty], expected[~empty]
        if key == "dA" and name == "one_step":  # TF Addons: None (no transition in a 1-step batch)
            assert expected.dtype == object and expected.item() is None
            expected = np.zeros_like(ours[key])
        assert ours[key].dtype == expected.dtype or key.startswith("viterbi"), key
        if expected.dtype.kind in "iub":
            np.testing.assert_array_equal(ours[key], expected, err_msg=key)
        else:
            np.testing.assert_allclose(ours[key], expected, rtol=tol, atol=tol, err_msg=key)


def test_one_step_sequence_score_reads_only_the_first_tag():
    case = WIDE_TAGS
    x, a, lengths, wide = (case[k] for k in ("x", "A", "lengths", "wide"))
    ours = text.crf_sequence_score(x, wide, lengths, a).numpy()
    np.testing.assert_allclose(ours, text.crf_sequence_score(x, wide[:, :1], lengths, a).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours, np.where(lengths > 0, x[np.arange(3), 0, wide[:, 0]], 0.0), rtol=1e-6)
    assert np.isfinite(text.crf_log_likelihood(x, wide, lengths, a)[0].numpy()).all()


@requires_tfa
def test_one_step_wide_tags_match_tf_addons(reference):
    ours = {}
    exec(WIDE_SOURCE, {"tf": tf, "t": text, "inputs": WIDE_TAGS, "outputs": ours})
    for key in ("seq", "ll"):
        np.testing.assert_allclose(ours[key], reference["wide_tags"][key], rtol=1e-5, atol=1e-5, err_msg=key)


def _score(u, a, path):
    return sum(u[t, y] for t, y in enumerate(path)) + sum(a[path[t - 1], path[t]] for t in range(1, len(path)))


@pytest.mark.parametrize("name", ["batch", "one_step", "float64"])
def test_brute_force_enumeration(name):
    """Every quantity against enumerating all K^n tag sequences of each example; padding is inert."""
    case = CASES[name]
    x, a, tags, lengths, bitmap = (case[k] for k in ("x", "A", "tags", "lengths", "bitmap"))
    tol = 1e-5 if x.dtype == np.float32 else 1e-10
    ll = text.crf_log_likelihood(x, tags, lengths, a)[0].numpy()
    norm = text.crf_log_norm(x, lengths, a).numpy()
    multi = text.crf_multitag_sequence_score(x, bitmap, lengths, a).numpy()
    decoded, best = (v.numpy() for v in text.crf_decode(x, a, lengths))
    num_tags = x.shape[2]
    for b, n in enumerate(lengths):
        paths = list(itertools.product(range(num_tags), repeat=int(n)))
        scores = np.array([_score(x[b].astype(np.float64), a, p) for p in paths])
        allowed = np.array([all(bitmap[b, t, y] for t, y in enumerate(p)) for p in paths])
        log_z = np.logaddexp.reduce(scores)
        np.testing.assert_allclose(norm[b], log_z if n else 0.0, rtol=tol, atol=tol)
        np.testing.assert_allclose(ll[b], _score(x[b], a, tags[b, :n]) - log_z if n else 0.0, rtol=tol, atol=tol)
        np.testing.assert_allclose(multi[b], np.logaddexp.reduce(scores[allowed]) if n else 0.0, rtol=tol, atol=tol)
        if n:
            best_path = list(paths[int(np.argmax(scores))])
            assert decoded[b, :n].tolist() == best_path
            np.testing.assert_allclose(best[b], scores.max(), rtol=tol, atol=tol)
            path, score = text.viterbi_decode(x[b, :n], a)
            assert path == best_path
            np.testing.assert_allclose(score, scores.max(), rtol=tol, atol=tol)
        else:  # length 0 decodes as the first step alone (TF Addons' behaviour)
            assert decoded[b, 0] == np.argmax(x[b, 0])
            np.testing.assert_allclose(best[b], x[b, 0].max(), rtol=tol)
        assert np.all(decoded[b, max(n, 1):] == 0)
    # padding potentials and padding tags change nothing
    noisy_x, noisy_tags = x.copy(), tags.copy()
    for b, n in enumerate(lengths):
        noisy_x[b, max(n, 1):] = 50.0
        noisy_tags[b, n:] = num_tags - 1
    np.testing.assert_allclose(text.crf_log_likelihood(noisy_x, noisy_tags, lengths, a)[0].numpy(), ll, rtol=1e-6)
    np.testing.assert_array_equal(text.crf_decode(noisy_x, a, lengths)[0].numpy(), decoded)


def test_tf_function_with_unknown_sizes_and_xla():
    case = CASES["batch"]
    x, a, tags, lengths = (case[k] for k in ("x", "A", "tags", "lengths"))

    def run(x, a, tags, lengths):
        with tf.GradientTape() as tape:
            tape.watch([x, a])
            ll, _ = text.crf_log_likelihood(x, tags, lengths, a)
            loss = tf.reduce_sum(ll * tf.range(1.0, 6.0))
        decoded, best = text.crf_decode(x, a, lengths)
        return ll, decoded, best, *tape.gradient(loss, [x, a])

    spec = [tf.TensorSpec([None, None, 4]), tf.TensorSpec([4, 4]), tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32)]
    graph, xla = tf.function(run, input_signature=spec), tf.function(run, jit_compile=True)
    for steps in (6, 1):  # a 1-step batch runs the same loops (no empty loop to trace)
        args = [tf.constant(v) for v in (x[:, :steps], a, tags[:, :steps], np.minimum(lengths, steps))]
        eager = run(*args)
        for fn in (graph, xla):
            for got, want in zip(fn(*args), eager):
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_created_transitions_and_the_keras_cell():
    x = CASES["batch"]["x"]
    ll, transitions = text.crf_log_likelihood(x, CASES["batch"]["tags"], np.int64([6, 1, 3, 0, 2]))
    assert isinstance(transitions, keras.Variable) and transitions.name == "transitions"
    assert transitions.shape == (4, 4) and transitions.dtype == "float32" and transitions.trainable
    assert np.abs(transitions.numpy()).max() <= np.sqrt(6 / 8)  # Glorot uniform's limit
    np.testing.assert_allclose(ll, text.crf_log_likelihood(x, CASES["batch"]["tags"], [6, 1, 3, 0, 2],
                                                           transitions.numpy())[0], rtol=1e-6)
    with tf.compat.v1.variable_scope("crf", initializer=tf.compat.v1.constant_initializer(0.5)):
        assert np.all(text.crf_log_likelihood(x, CASES["batch"]["tags"], [1] * 5)[1].numpy() == 0.5)
    # the cell in a Keras RNN runs crf_decode_forward's recursion
    a = CASES["batch"]["A"]
    cell = text.CrfDecodeForwardRnnCell(a)
    clone = text.CrfDecodeForwardRnnCell.from_config(cell.get_config())
    layer = keras.layers.RNN(clone, return_sequences=True, return_state=True)
    pointers, last = layer(x[:, 1:], initial_state=[x[:, 0]])
    want_pointers, want_last = text.crf_decode_forward(x[:, 1:], x[:, 0], a, [5] * 5)
    np.testing.assert_array_equal(np.asarray(pointers), want_pointers.numpy())
    np.testing.assert_allclose(last, want_last, rtol=1e-6)
    # TF1's namespace holds the very same objects
    for name in contrib_crf.__all__:
        assert getattr(contrib_crf, name) is getattr(text, name)
    with pytest.raises(AttributeError, match="CrfForwardRnnCell"):
        contrib_crf.CrfForwardRnnCell


def test_bilstm_crf_program_in_tf_addons_style():
    """A TF Addons BiLSTM-CRF tagger with ``import tfseq as tfa``: the tag of a word is 1 after an
    odd word up to the next even word, else 0 (context the CRF's transitions carry); it learns it."""
    keras.utils.set_random_seed(0)
    vocab, num_tags, batch, steps = 12, 2, 32, 8
    data = np.random.default_rng(0)

    def sample():
        words = data.integers(1, vocab, size=(batch, steps)).astype(np.int32)
        lengths = data.integers(3, steps + 1, size=(batch,)).astype(np.int32)
        tags = np.zeros_like(words)
        for b in range(batch):
            state = 0
            for t in range(steps):
                tags[b, t] = state
                state = 1 if words[b, t] % 2 else (0 if words[b, t] % 4 == 0 else state)
        mask = np.arange(steps) < lengths[:, None]
        return words * mask, np.where(mask, tags, 0), lengths

    embed = keras.layers.Embedding(vocab, 16)
    bilstm = keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True))
    dense = keras.layers.Dense(num_tags)
    transitions = tf.Variable(tf.zeros([num_tags, num_tags]), name="transitions")
    optimizer = keras.optimizers.Adam(0.05)

    def potentials(words):
        return dense(bilstm(embed(words)))

    @tf.function
    def train_step(words, tags, lengths):
        with tf.GradientTape() as tape:
            log_likelihood, _ = tfa.text.crf_log_likelihood(potentials(words), tags, lengths, transitions)
            loss = tf.reduce_mean(-log_likelihood)
        variables = embed.trainable_variables + bilstm.trainable_variables + dense.trainable_variables
        variables += [transitions]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    losses = [float(train_step(*sample())) for _ in range(30)]
    assert np.mean(losses[-5:]) < 0.3 * np.mean(losses[:5])
    words, tags, lengths = sample()
    decoded, _ = tfa.text.crf_decode(potentials(words), transitions, lengths)
    mask = np.arange(steps) < lengths[:, None]
    accuracy = (decoded.numpy() == tags)[mask].mean()
    assert accuracy > 0.9, accuracy
    assert np.all(decoded.numpy()[~mask] == 0)
