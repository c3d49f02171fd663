"""Attention mechanisms and score functions (tfseq.seq2seq.attention) against NumPy.

The NumPy reference below is written from the papers' equations (Luong et al. 2015,
Bahdanau et al. 2015, Salimans & Kingma 2016 for the normalised form), independent of
TF; parity with the real TF Addons code is in test_parity_tfa.py.
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import randomize as randomize_weights

from tfseq import seq2seq

ATOL = 1e-5
BATCH, MAX_TIME, DEPTH = 3, 5, 4
LENGTHS = np.array([5, 3, 1], np.int32)
RNG = np.random.default_rng(0)
MEMORY = RNG.standard_normal((BATCH, MAX_TIME, DEPTH)).astype(np.float32)


# -- NumPy reference ----------------------------------------------------------------


def np_luong_score(query, keys, scale=None):
    score = np.einsum("bu,btu->bt", query, keys)
    return score if scale is None else scale * score


def np_bahdanau_score(q, keys, v, g=None, b=None):
    if g is not None:
        v = g * v / np.sqrt(np.sum(v * v))
        return np.sum(v * np.tanh(keys + q[:, None, :] + b), axis=2)
    return np.sum(v * np.tanh(keys + q[:, None, :]), axis=2)


def np_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def np_mechanism(kind, w, memory, lengths, query):
    """Alignments of one mechanism: mask memory rows, keys, score, -inf at padding, softmax."""
    valid = np.arange(memory.shape[1])[None, :] < lengths[:, None]  # [batch, max_time]
    keys = (memory * valid[:, :, None]) @ w["memory_layer/kernel"]
    if kind in ("luong", "scaled_luong"):
        score = np_luong_score(query, keys, w.get("luong_attention/attention_g"))
    else:
        score = np_bahdanau_score(query @ w["bahdanau_attention/query_layer/kernel"], keys,
                                  w["bahdanau_attention/attention_v"], w.get("bahdanau_attention/attention_g"),
                                  w.get("bahdanau_attention/attention_b"))
    return np_softmax(np.where(valid, score, -np.inf))


def make(kind, units, memory=MEMORY, lengths=LENGTHS, **kwargs):
    if kind in ("luong", "scaled_luong"):
        return seq2seq.LuongAttention(units, memory, lengths, scale=kind == "scaled_luong", **kwargs)
    return seq2seq.BahdanauAttention(units, memory, lengths, normalize=kind == "normed_bahdanau", **kwargs)


randomize = functools.partial(randomize_weights, scale=0.5, seed=1, normal=True)  # returns {tf1 name: array}


# -- pure functions --------------------------------------------------------------------


@pytest.mark.parametrize("scale", [None, 1.7])
def test_luong_score_matches_numpy(scale):
    query, keys = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 5, 4))
    scale_t = None if scale is None else tf.constant(scale, tf.float64)
    got = seq2seq.luong_score(tf.constant(query), tf.constant(keys), scale_t)
    np.testing.assert_allclose(got.numpy(), np_luong_score(query, keys, scale), atol=1e-12)


@pytest.mark.parametrize("normalize", [False, True])
def test_bahdanau_score_matches_numpy(normalize):
    q, keys, v = RNG.standard_normal((3, 6)), RNG.standard_normal((3, 5, 6)), RNG.standard_normal(6)
    g, b = (0.8, RNG.standard_normal(6)) if normalize else (None, None)
    got = seq2seq.bahdanau_score(tf.constant(q), tf.constant(keys), tf.constant(v),
                                 None if g is None else tf.constant(g, tf.float64),
                                 None if b is None else tf.constant(b), normalize)
    np.testing.assert_allclose(got.numpy(), np_bahdanau_score(q, keys, v, g, b), atol=1e-12)


def test_mask_score_and_hardmax():
    score = tf.constant([[1.0, 3.0, 2.0], [0.5, 0.25, 9.0]])
    mask = tf.constant([[True, False, True], [True, True, False]])
    masked = seq2seq.mask_score(score, mask).numpy()
    np.testing.assert_array_equal(masked, [[1.0, -np.inf, 2.0], [0.5, 0.25, -np.inf]])
    np.testing.assert_array_equal(seq2seq.hardmax(tf.constant(masked)).numpy(), [[0, 0, 1], [1, 0, 0]])
    assert seq2seq.mask_score(score, None) is score


def test_luong_score_depth_mismatch():
    with pytest.raises(ValueError, match="query depth 3 != keys depth 4"):
        seq2seq.luong_score(tf.zeros([2, 3]), tf.zeros([2, 5, 4]))


# -- mechanisms --------------------------------------------------------------------------

VARIANTS = {  # nmt's attention option -> (units, expected TF1 weight shapes for query depth 4)
    "luong": (4, {"memory_layer/kernel": (DEPTH, 4)}),
    "scaled_luong": (4, {"memory_layer/kernel": (DEPTH, 4), "luong_attention/attention_g": ()}),
    "bahdanau": (6, {"memory_layer/kernel": (DEPTH, 6), "bahdanau_attention/query_layer/kernel": (4, 6),
                     "bahdanau_attention/attention_v": (6,)}),
    "normed_bahdanau": (6, {"memory_layer/kernel": (DEPTH, 6), "bahdanau_attention/query_layer/kernel": (4, 6),
                            "bahdanau_attention/attention_v": (6,), "bahdanau_attention/attention_g": (),
                            "bahdanau_attention/attention_b": (6,)}),
}


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "tf_function"])
@pytest.mark.parametrize("kind", list(VARIANTS))
def test_mechanism_matches_numpy(kind, traced):
    units, shapes = VARIANTS[kind]
    mechanism = make(kind, units)
    query = RNG.standard_normal((BATCH, 4)).astype(np.float32)
    state = mechanism.initial_state(BATCH, tf.float32)
    mechanism([tf.constant(query), state])  # build
    assert {k: tuple(v.shape) for k, v in mechanism.tf1_variables().items()} == shapes
    assert len(mechanism.trainable_weights) == len(shapes)
    weights = randomize(mechanism)
    mechanism.setup_memory(MEMORY, LENGTHS)  # keys from the new memory kernel
    call = tf.function(lambda q, s: mechanism([q, s])) if traced else (lambda q, s: mechanism([q, s]))
    alignments, next_state = call(tf.constant(query), state)
    expected = np_mechanism(kind, weights, MEMORY, LENGTHS, query)
    np.testing.assert_allclose(alignments.numpy(), expected, atol=ATOL)
    np.testing.assert_array_equal(next_state.numpy(), alignments.numpy())
    # TF1 form, called eagerly: equal to the traced call up to float rounding (graph rewrites reorder sums)
    np.testing.assert_allclose(mechanism(tf.constant(query), state)[0].numpy(), alignments.numpy(), atol=1e-6)
    np.testing.assert_allclose(alignments.numpy().sum(1), 1.0, atol=1e-6)
    padded = np.arange(MAX_TIME)[None, :] >= LENGTHS[:, None]
    assert np.all(alignments.numpy()[padded] == 0.0) and np.all(alignments.numpy()[~padded] > 0.0)


@pytest.mark.parametrize("score_mask_value", [None, 0.0])
@pytest.mark.parametrize("traced", [False, True], ids=["eager", "xla"])
@pytest.mark.parametrize("kind", list(VARIANTS))
def test_tile_batch_memory_is_read_per_group_with_the_same_results(kind, traced, score_mask_value):
    """A memory (and lengths) from tile_batch is read once per group of tiled rows (the scores
    of Luong attention and every mechanism's context); alignments, contexts and the gradients of
    the memory, the query and every weight equal those of the same rows tiled by tf.repeat, also
    where padded positions get weight (a finite score_mask_value: the padding must read as 0)."""
    width = 2  # != BATCH: a group of rows is not a column of rows
    query = tf.constant(RNG.standard_normal((BATCH * width, 4)), tf.float32)
    memory, lengths = tf.constant(MEMORY), tf.constant(LENGTHS)
    mechanism = make(kind, VARIANTS[kind][0], score_mask_value=score_mask_value)
    mechanism([query[:BATCH], mechanism.initial_state(BATCH, tf.float32)])  # build
    randomize(mechanism)

    def run(tile):
        with tf.GradientTape() as tape:
            tape.watch([memory, query])
            mechanism.setup_memory(tile(memory), tile(lengths))
            alignments, _ = mechanism([query, mechanism.initial_state(BATCH * width, tf.float32)])
            context = mechanism.context(alignments)
            loss = tf.reduce_sum(tf.sin(context)) + tf.reduce_sum(tf.cos(alignments))
        grads = tape.gradient(loss, [memory, query] + mechanism.trainable_weights)
        return [alignments, context] + grads, mechanism._tiled is not None

    def results(tile):
        if not traced:
            return run(tile)
        grouped = []

        def traced_run():
            out, by_group = run(tile)
            grouped.append(by_group)
            return out

        return tf.function(traced_run, jit_compile=True)(), grouped[0]

    got, got_grouped = results(lambda t: seq2seq.tile_batch(t, width))
    want, want_grouped = results(lambda t: tf.repeat(t, width, axis=0))
    assert got_grouped and not want_grouped  # tf.repeat: read row by row, as before
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-6)
    assert mechanism.values.shape[0] == BATCH * width  # the public memory stays tiled


def test_tiled_from_knows_only_tile_batch_outputs():
    source = tf.constant(MEMORY)
    tiled = seq2seq.tile_batch({"memory": source, "lengths": tf.constant(LENGTHS)}, 2)
    found, multiplier = seq2seq.beam_search_ops.tiled_from(tiled["memory"])
    assert found is source and multiplier == 2
    assert seq2seq.beam_search_ops.tiled_from(tiled["lengths"])[1] == 2
    for other in (source, tf.repeat(source, 2, axis=0), tiled["memory"] + 0.0):
        assert seq2seq.beam_search_ops.tiled_from(other) is None
    # lengths tiled otherwise: the memory is read row by row
    mechanism = make("luong", 4, memory=None)
    mechanism.setup_memory(tiled["memory"], tf.repeat(tf.constant(LENGTHS), 2))
    assert mechanism._tiled is None
    mechanism.setup_memory(tiled["memory"], seq2seq.tile_batch(np.repeat(LENGTHS, 2), 1))  # another multiplier
    assert mechanism._tiled is None
    # an entry lives as long as its tensor
    before = len(seq2seq.beam_search_ops._TILED)
    del tiled, mechanism
    assert len(seq2seq.beam_search_ops._TILED) == before - 2


def test_memory_is_zeroed_past_lengths_and_keys_follow():
    mechanism = make("luong", 4)
    valid = np.arange(MAX_TIME)[None, :, None] < LENGTHS[:, None, None]
    np.testing.assert_array_equal(mechanism.values.numpy(), MEMORY * valid)
    np.testing.assert_allclose(mechanism.keys.numpy(), (MEMORY * valid) @ mechanism.memory_kernel.numpy(), atol=1e-6)
    assert mechanism.batch_size == BATCH and mechanism.alignments_size == MAX_TIME == mechanism.state_size
    np.testing.assert_array_equal(mechanism.initial_alignments(BATCH, tf.float32).numpy(), np.zeros((3, 5)))


def test_memory_mask_equals_sequence_length_and_no_padding_is_plain_softmax():
    by_length = make("bahdanau", 6)
    query = tf.constant(RNG.standard_normal((BATCH, 3)), tf.float32)
    expected, _ = by_length([query, by_length.initial_state(BATCH, tf.float32)])
    by_mask = make("bahdanau", 6, lengths=None)
    by_mask([query, by_mask.initial_state(BATCH, tf.float32)])
    by_mask.set_weights(by_length.get_weights())
    by_mask.setup_memory(MEMORY, memory_mask=np.arange(MAX_TIME)[None, :] < LENGTHS[:, None])
    got, _ = by_mask([query, by_mask.initial_state(BATCH, tf.float32)])
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    by_mask.setup_memory(MEMORY)  # no padding: every position gets weight
    assert np.all(by_mask([query, by_mask.initial_state(BATCH, tf.float32)])[0].numpy() > 0)


def test_probability_fn_hardmax_and_callable():
    query = tf.constant(RNG.standard_normal((BATCH, 4)), tf.float32)
    soft = make("luong", 4)
    soft([query, soft.initial_state(BATCH, tf.float32)])
    scores = soft.score(query)
    hard = make("luong", 4, probability_fn="hardmax")
    hard([query, hard.initial_state(BATCH, tf.float32)])
    hard.set_weights(soft.get_weights())
    hard.setup_memory(MEMORY, LENGTHS)
    alignments, _ = hard([query, hard.initial_state(BATCH, tf.float32)])
    masked = np.where(np.arange(MAX_TIME)[None, :] < LENGTHS[:, None], scores.numpy(), -np.inf)
    np.testing.assert_array_equal(alignments.numpy(), np.eye(MAX_TIME)[masked.argmax(1)])
    tf1_default = make("luong", 4, probability_fn=None)  # TF1 contrib's default: softmax
    tf1_default([query, tf1_default.initial_state(BATCH, tf.float32)])
    tf1_default.set_weights(soft.get_weights())
    tf1_default.setup_memory(MEMORY, LENGTHS)
    np.testing.assert_allclose(tf1_default([query, tf1_default.initial_state(BATCH, tf.float32)])[0].numpy(),
                               np_softmax(masked), atol=1e-6)
    sharp = make("luong", 4, probability_fn=lambda s: tf.nn.softmax(2.0 * s))
    sharp([query, sharp.initial_state(BATCH, tf.float32)])
    sharp.set_weights(soft.get_weights())
    sharp.setup_memory(MEMORY, LENGTHS)
    np.testing.assert_allclose(sharp([query, sharp.initial_state(BATCH, tf.float32)])[0].numpy(),
                               np_softmax(2.0 * masked), atol=1e-6)


@pytest.mark.parametrize("kind", list(VARIANTS))
def test_config_round_trip(kind):
    mechanism = make(kind, VARIANTS[kind][0], probability_fn="hardmax")
    config = mechanism.get_config()
    clone = type(mechanism).from_config(config)
    assert clone.get_config() == config and clone.values is None  # the memory is data, not config
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(mechanism))
    assert type(revived) is type(mechanism) and revived.get_config() == config


def test_gradients_match_finite_differences():
    """d(alignment-weighted sum)/d(memory) and d/d(query_kernel) vs central differences, float64."""
    memory = tf.constant(MEMORY[:2, :4, :3], tf.float64)
    lengths = tf.constant([4, 2])
    mechanism = seq2seq.BahdanauAttention(3, memory, lengths, normalize=True, dtype="float64")
    query = tf.constant(RNG.standard_normal((2, 2)), tf.float64)
    mechanism([query, mechanism.initial_state(2, tf.float64)])
    randomize(mechanism)
    probe = tf.constant(RNG.standard_normal((2, 4)), tf.float64)

    def loss(memory):
        mechanism.setup_memory(memory, lengths)
        alignments, _ = mechanism([query, mechanism.initial_state(2, tf.float64)])
        return tf.reduce_sum(alignments * probe)

    with tf.GradientTape() as tape:
        tape.watch(memory)
        value = loss(memory)
    grad_memory, grad_kernel = tape.gradient(value, [memory, mechanism.query_kernel])
    eps, mem = 1e-6, memory.numpy()
    numeric = np.zeros_like(mem)
    for index in np.ndindex(*mem.shape):
        step = np.zeros_like(mem)
        step[index] = eps
        numeric[index] = (float(loss(tf.constant(mem + step))) - float(loss(tf.constant(mem - step)))) / (2 * eps)
    np.testing.assert_allclose(grad_memory.numpy(), numeric, atol=1e-7)
    assert np.all(grad_memory.numpy()[1, 2:] == 0.0)  # padding does not influence anything
    kernel = mechanism.query_kernel.numpy()
    numeric = np.zeros_like(kernel)
    for index in np.ndindex(*kernel.shape):
        for sign in (1, -1):
            bumped = kernel.copy()
            bumped[index] += sign * eps
            mechanism.query_kernel.assign(bumped)
            numeric[index] += sign * float(loss(memory)) / (2 * eps)
    np.testing.assert_allclose(grad_kernel.numpy(), numeric, atol=1e-7)


def test_tf1_variables_need_memory_and_query():
    mechanism = seq2seq.LuongAttention(4)
    with pytest.raises(ValueError, match="set up the memory"):
        mechanism.tf1_variables()
    with pytest.raises(ValueError, match="set up the memory"):
        mechanism([tf.zeros([3, 4]), tf.zeros([3, 5])])


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: seq2seq.LuongAttention(4, np.zeros((3, 4), np.float32)), ValueError,
         r"memory must have rank 3 \[batch, max_time, depth\].*got shape \(3, 4\)"),
        (lambda: seq2seq.BahdanauAttention(4, MEMORY, [5, 3]), ValueError,
         r"memory_sequence_length must have shape \[batch\]=\[3\] like the memory, got shape \(2,\)"),
        (lambda: seq2seq.LuongAttention(4, MEMORY, [5, 0, 2]), ValueError,
         r"memory_sequence_length must be in \[1, max_time=5\], got \[0\]"),
        (lambda: seq2seq.LuongAttention(4, MEMORY, [5, 6, 2]), ValueError,
         r"memory_sequence_length must be in \[1, max_time=5\], got \[6\]"),
        (lambda: seq2seq.LuongAttention(4, MEMORY, [5.0, 3.0, 1.0]), TypeError,
         "memory_sequence_length must be integers, got dtype float32"),
        (lambda: seq2seq.LuongAttention(4, np.ones((3, 5, 4), np.int32)), TypeError,
         "memory must be a float tensor, got dtype int32"),
        (lambda: seq2seq.LuongAttention(0), ValueError, "units must be a positive integer, got 0"),
        (lambda: seq2seq.LuongAttention(4, probability_fn="sparsemax"), ValueError,
         "probability_fn must be 'softmax', 'hardmax' or a callable, got 'sparsemax'"),
        (lambda: seq2seq.LuongAttention(4, scale=1), ValueError, "scale must be True or False, got 1"),
        (lambda: seq2seq.BahdanauAttention(4, normalize="yes"), ValueError,
         "normalize must be True or False, got 'yes'"),
    ],
)
def test_bad_input(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_memory_setup():
    mechanism = make("luong", 4)
    with pytest.raises(ValueError, match="memory_sequence_length or memory_mask, not both"):
        mechanism.setup_memory(MEMORY, LENGTHS, memory_mask=np.ones((3, 5), bool))
    with pytest.raises(ValueError, match="memory depth must stay 4.*got 2"):
        mechanism.setup_memory(np.zeros((3, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"query depth must equal units=4 for Luong attention, got 3"):
        mechanism([tf.zeros([3, 3]), mechanism.initial_state(3, tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="memory_sequence_length must be >= 1"):
        tf.function(lambda lengths: mechanism.setup_memory(MEMORY, lengths) or mechanism.keys)(
            tf.constant([5, 0, 1])
        )
