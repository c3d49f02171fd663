"""BeamSearchDecoder, gather_tree and tile_batch: NumPy references, exhaustive search, equivalences."""

import collections
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import rnn_cell
from tfseq import seq2seq as s2s
from tfseq.seq2seq import beam_search_ops as ops

V, H, D, START, END = 4, 5, 3, 0, 3


def gather_tree_numpy(step_ids, parent_ids, max_sequence_lengths, end_token):
    """TF1's C++ GatherTree kernel, loop for loop."""
    max_time, batch_size, beam_width = step_ids.shape
    beams = np.full_like(step_ids, end_token)
    for b in range(batch_size):
        length = min(max_time, int(max_sequence_lengths[b]))
        for w in range(beam_width if length > 0 else 0):
            beams[length - 1, b, w] = step_ids[length - 1, b, w]
            parent = parent_ids[length - 1, b, w]
            for level in range(length - 2, -1, -1):
                beams[level, b, w] = step_ids[level, b, parent]
                parent = parent_ids[level, b, parent]
            finished = False
            for t in range(length):
                if finished:
                    beams[t, b, w] = end_token
                elif beams[t, b, w] == end_token:
                    finished = True
    return beams


def make_model(seed=0, batch=2, end_bias=0.0):
    """A fixed random GRU decoder (sharp logits), its embedding matrix and per-row initial states."""
    keras.utils.set_random_seed(seed)
    cell, out = rnn_cell.GRUCell(H), keras.layers.Dense(V)
    embedding = tf.constant(np.random.default_rng(seed).standard_normal((V, D)), tf.float32)
    out(cell(tf.zeros([1, D]), tf.zeros([1, H]))[0])  # build
    out.kernel.assign(out.kernel * 4.0)  # peaked distributions: no near-ties between hypotheses
    out.bias.assign(tf.one_hot(END, V) * end_bias)  # > 0: beams finish early
    states = tf.constant(np.random.default_rng(seed + 1).standard_normal((batch, H)), tf.float32)
    return cell, out, embedding, states


def step_log_probs(cell, out, embedding, state, token):
    output, state = cell(tf.nn.embedding_lookup(embedding, [token]), state)
    return tf.nn.log_softmax(out(output))[0].numpy(), state


def sequence_log_prob(cell, out, embedding, state, tokens):
    """Teacher-forced sum of log-probabilities of ``tokens`` (up to and including END)."""
    total, token = 0.0, START
    for next_token in tokens:
        log_probs, state = step_log_probs(cell, out, embedding, state, token)
        total += log_probs[next_token]
        if next_token == END:
            break
        token = next_token
    return total


def exhaustive_best(cell, out, embedding, state, max_len):
    """Best hypothesis by summed log-probability: sequences ending in END or of length max_len."""
    best, best_score = None, -np.inf
    for length in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=length):
            if END in seq[:-1] or (length < max_len and seq[-1] != END):
                continue
            score = sequence_log_prob(cell, out, embedding, state, seq)
            if score > best_score:
                best, best_score = seq, score
    return best, best_score


def beam_decode(cell, out, embedding, states, beam_width, max_len, **kwargs):
    decoder = s2s.BeamSearchDecoder(cell, beam_width, output_layer=out, maximum_iterations=max_len, **kwargs)
    batch = states.shape[0]
    return decoder(
        embedding, start_tokens=[START] * batch, end_token=END, initial_state=s2s.tile_batch(states, beam_width)
    )


def trimmed(ids):
    ids = list(ids)
    return tuple(ids[: ids.index(END) + 1] if END in ids else ids)


def test_gather_tree_matches_numpy_reference():
    rng = np.random.default_rng(0)
    T, B, W = 6, 4, 3
    step_ids = rng.integers(0, 5, (T, B, W)).astype(np.int32)
    parent_ids = rng.integers(0, W, (T, B, W)).astype(np.int32)
    lengths = np.array([6, 3, 0, 9], np.int32)  # full, shorter, empty, longer than T
    for end_token in (2, 7):
        want = gather_tree_numpy(step_ids, parent_ids, lengths, end_token)
        got = s2s.gather_tree(step_ids, parent_ids, lengths, end_token).numpy()
        np.testing.assert_array_equal(got, want)
    traced = tf.function(s2s.gather_tree, jit_compile=True)(step_ids, parent_ids, lengths, 2)
    np.testing.assert_array_equal(traced.numpy(), gather_tree_numpy(step_ids, parent_ids, lengths, 2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="parent_ids must be in"):
        s2s.gather_tree(step_ids, parent_ids + W, lengths, 2)


def test_tile_batch_repeats_rows_and_validates():
    x = tf.reshape(tf.range(6), [3, 2])
    np.testing.assert_array_equal(s2s.tile_batch(x, 2).numpy(), [[0, 1], [0, 1], [2, 3], [2, 3], [4, 5], [4, 5]])
    state = rnn_cell.LSTMStateTuple(tf.zeros([3, 4]), tf.ones([3, 4]))
    tiled = s2s.tile_batch(state, 5)
    assert isinstance(tiled, rnn_cell.LSTMStateTuple) and tiled.h.shape == (15, 4)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=f"multiplier must be a positive integer, got {bad!r}"):
            s2s.tile_batch(x, bad)


def test_length_penalty_and_coverage_penalty_match_the_formulas():
    lengths = np.array([[1, 4], [7, 0]])
    np.testing.assert_allclose(ops.length_penalty(lengths, 0.6), ((5.0 + lengths) / 6.0) ** 0.6, rtol=1e-6)
    assert ops.length_penalty(lengths, 0.0) == 1.0
    acc = np.array([[[0.5, 2.0, 0.0]], [[0.25, 0.25, 1.0]]], np.float32)  # [B=2, W=1, S=3]
    finished = np.array([[True], [False]])
    want = np.array([[[0.3 * np.log(0.5)]], [[0.0]]])  # min(., 1), zeros count as 1, finished beams only
    np.testing.assert_allclose(ops.coverage_penalty(acc, finished, 0.3), want, rtol=1e-6)


def test_exhaustive_search_finds_the_same_best_sequence():
    cell, out, embedding, states = make_model()
    max_len = 3
    # beam_width = V ** (max_len - 1) keeps every prefix: nothing is pruned before the last step
    outputs, final_state, _ = beam_decode(cell, out, embedding, states, V ** (max_len - 1), max_len)
    narrow, _, _ = beam_decode(cell, out, embedding, states, 3, max_len)
    for b in range(states.shape[0]):
        best, best_score = exhaustive_best(cell, out, embedding, states[b : b + 1], max_len)
        assert trimmed(outputs.predicted_ids[b, :, 0].numpy()) == best
        np.testing.assert_allclose(final_state.log_probs[b, 0], best_score, rtol=1e-5)
        # this small, peaked model: a 3-wide beam finds it too
        assert trimmed(narrow.predicted_ids[b, :, 0].numpy()) == best


@pytest.mark.parametrize("length_penalty_weight", [0.0, 1.0])
def test_returned_beams_are_sorted_frozen_and_rescored_exactly(length_penalty_weight):
    cell, out, embedding, states = make_model(seed=3, end_bias=1.5)
    W, max_len = 4, 5
    outputs, final_state, lengths = beam_decode(
        cell, out, embedding, states, W, max_len, length_penalty_weight=length_penalty_weight
    )
    scores = outputs.beam_search_decoder_output.scores.numpy()  # [B, T, W]
    assert np.all(np.diff(scores, axis=-1) <= 0), "beams must be ordered best first at every step"
    ids = outputs.predicted_ids.numpy()  # [B, T, W]
    for b, w in itertools.product(range(states.shape[0]), range(W)):
        seq = ids[b, :, w]
        ended = np.flatnonzero(seq == END)
        if ended.size:  # frozen after END: only END follows, the length stops growing
            assert np.all(seq[ended[0] :] == END)
            assert lengths[b, w] == ended[0] + 1
        else:
            assert lengths[b, w] == len(seq)
        # the accumulated log-probability is the teacher-forced one of the returned beam
        log_prob = sequence_log_prob(cell, out, embedding, states[b : b + 1], trimmed(seq))
        np.testing.assert_allclose(final_state.log_probs[b, w], log_prob, rtol=1e-5)
    finished = final_state.finished.numpy()
    assert finished.any() and not finished.all(), "the test should see finished and unfinished beams"


def test_beam_width_one_is_greedy_decoding():
    cell, out, embedding, states = make_model(seed=1, batch=3)
    beam, _, beam_lengths = beam_decode(cell, out, embedding, states, 1, 6)
    greedy = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=6)
    greedy_out, _, greedy_lengths = greedy(embedding, start_tokens=[START] * 3, end_token=END, initial_state=states)
    for b in range(3):
        assert trimmed(beam.predicted_ids[b, :, 0].numpy()) == trimmed(greedy_out.sample_id[b].numpy())
    np.testing.assert_array_equal(beam_lengths.numpy()[:, 0], greedy_lengths.numpy())


def test_eager_equals_tf_function_and_xla():
    cell, out, embedding, states = make_model(seed=2)
    decoder = s2s.BeamSearchDecoder(cell, 3, output_layer=out, length_penalty_weight=0.5, maximum_iterations=5)

    def run(init):
        return decoder(embedding, start_tokens=[START, START], end_token=END, initial_state=init)

    eager = run(s2s.tile_batch(states, 3))
    steps = eager[0].predicted_ids.shape[1]
    assert steps < 5, "the test should stop before maximum_iterations"
    for compiled in (tf.function(run), tf.function(run, jit_compile=True)):
        traced = compiled(s2s.tile_batch(states, 3))
        ids = traced[0].predicted_ids.numpy()
        np.testing.assert_array_equal(ids[:, :steps], eager[0].predicted_ids.numpy())
        assert np.all(ids[:, steps:] == END)  # XLA: static length maximum_iterations, padded
        np.testing.assert_allclose(
            traced[0].beam_search_decoder_output.scores.numpy()[:, :steps],
            eager[0].beam_search_decoder_output.scores.numpy(),
            atol=1e-5,
        )
        np.testing.assert_array_equal(traced[2].numpy(), eager[2].numpy())


def test_alignment_history_is_reordered_along_the_final_beams():
    """With attention, alignment_history[t] of final beam w == the alignments of its own prefix."""
    keras.utils.set_random_seed(4)
    B, W, S, max_len = 2, 3, 4, 4
    memory = tf.random.normal([B, S, H])
    memory_lengths = tf.constant([4, 2])
    mechanism = s2s.LuongAttention(
        H, memory=s2s.tile_batch(memory, W), memory_sequence_length=s2s.tile_batch(memory_lengths, W)
    )
    cell = s2s.AttentionWrapper(rnn_cell.GRUCell(H), mechanism, attention_layer_size=H, alignment_history=True)
    out = keras.layers.Dense(V)
    embedding = tf.random.normal([V, D])
    decoder = s2s.BeamSearchDecoder(cell, W, output_layer=out, maximum_iterations=max_len)
    init = cell.get_initial_state(batch_size=B * W, dtype=tf.float32)
    outputs, final_state, lengths = decoder(embedding, start_tokens=[START] * B, end_token=END, initial_state=init)
    history = final_state.cell_state.alignment_history.numpy()  # [T, B * W, S], reordered
    steps = history.shape[0]
    history = history.reshape(steps, B, W, S)

    # replay each final beam alone (batch 1) with the same weights
    single = s2s.LuongAttention(H, memory=memory[:1], memory_sequence_length=memory_lengths[:1])
    single_cell = s2s.AttentionWrapper(rnn_cell.GRUCell(H), single, attention_layer_size=H)
    single_cell(tf.zeros([1, D]), single_cell.get_initial_state(batch_size=1, dtype=tf.float32))  # build
    single_cell.set_weights(cell.get_weights())  # the mechanism's memory layer included
    for b in range(B):
        single.setup_memory(memory[b : b + 1], memory_lengths[b : b + 1])  # keys with the copied weights
        for w in range(W):
            state = single_cell.get_initial_state(batch_size=1, dtype=tf.float32)
            token = START
            for t in range(int(lengths[b, w])):
                _, state = single_cell(tf.nn.embedding_lookup(embedding, [token]), state)
                np.testing.assert_allclose(history[t, b, w], state.alignments[0].numpy(), atol=1e-5)
                token = int(outputs.predicted_ids[b, t, w])
    assert np.all(history[:, 1, :, 2:] == 0), "padding of the shorter memory gets no attention"


@pytest.mark.parametrize("attention", ["scaled_luong", "bahdanau"])
def test_tile_batch_memory_read_per_sentence_decodes_the_same(attention):
    """The beams of one sentence read its memory once a step (the mechanism knows tile_batch's
    rows): the same ids, scores and lengths as a memory tiled by tf.repeat, graph and XLA."""
    keras.utils.set_random_seed(5)
    B, W, S = 3, 4, 6
    memory, memory_lengths = tf.random.normal([B, S, H]), tf.constant([6, 3, 1])
    if attention == "scaled_luong":
        mechanism = s2s.LuongAttention(H, scale=True)
    else:
        mechanism = s2s.BahdanauAttention(H)
    cell = s2s.AttentionWrapper(rnn_cell.GRUCell(H), mechanism, attention_layer_size=H)
    decoder = s2s.BeamSearchDecoder(cell, W, output_layer=keras.layers.Dense(V), length_penalty_weight=0.6,
                                    maximum_iterations=7)
    embedding = tf.random.normal([V, D])

    def run(tile):
        mechanism.setup_memory(tile(memory), tile(memory_lengths))
        init = cell.get_initial_state(batch_size=B * W, dtype=tf.float32)
        outputs, _, lengths = decoder(embedding, start_tokens=[START] * B, end_token=END, initial_state=init)
        return outputs.predicted_ids, outputs.beam_search_decoder_output.scores, lengths

    run(lambda t: tf.repeat(t, W, axis=0))  # build
    for jit in (False, True):
        got = tf.function(lambda: run(lambda t: s2s.tile_batch(t, W)), jit_compile=jit)()
        want = tf.function(lambda: run(lambda t: tf.repeat(t, W, axis=0)), jit_compile=jit)()
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_allclose(got[1], want[1], atol=1e-5)
        np.testing.assert_array_equal(got[2], want[2])
    assert len(set(want[2].numpy().ravel())) > 1  # beams of several lengths


def test_bad_input_raises_value_error_naming_argument_and_value():
    cell, out, embedding, states = make_model()
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match=f"beam_width must be a positive integer, got {bad!r}"):
            s2s.BeamSearchDecoder(cell, bad, output_layer=out)
    with pytest.raises(ValueError, match="length_penalty_weight must be a finite number >= 0, got -1"):
        s2s.BeamSearchDecoder(cell, 2, output_layer=out, length_penalty_weight=-1)
    with pytest.raises(ValueError, match="maximum_iterations must be >= 0, got -3"):
        s2s.BeamSearchDecoder(cell, 2, output_layer=out, maximum_iterations=-3)
    decoder = s2s.BeamSearchDecoder(cell, 2, output_layer=out, maximum_iterations=3)
    with pytest.raises(ValueError, match=r"end_token must be in \[0, 4\) \(the output vocabulary\), got 4"):
        decoder(embedding, start_tokens=[0, 0], end_token=V, initial_state=s2s.tile_batch(states, 2))
    with pytest.raises(ValueError, match=r"initial_state has batch size 2 .*tile_batch\(t, multiplier=2\)"):
        decoder(embedding, start_tokens=[0, 0], end_token=END, initial_state=states)
    with pytest.raises(ValueError, match="coverage_penalty_weight must be 0.0 unless the cell is attentional"):
        s2s.BeamSearchDecoder(cell, 2, output_layer=out, coverage_penalty_weight=0.5, maximum_iterations=2)(
            embedding, start_tokens=[0, 0], end_token=END, initial_state=s2s.tile_batch(states, 2)
        )


def test_config_round_trip_decodes_the_same():
    cell, out, embedding, states = make_model()
    layer = keras.layers.Embedding(V, D)
    decoder = s2s.BeamSearchDecoder(
        cell, 2, embedding_fn=layer, output_layer=out, length_penalty_weight=0.7, maximum_iterations=4
    )
    run = lambda d: d(None, start_tokens=[0, 0], end_token=END, initial_state=s2s.tile_batch(states, 2))  # noqa: E731
    first = run(decoder)[0]
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(decoder))
    assert type(revived) is s2s.BeamSearchDecoder and revived.get_config() == decoder.get_config()
    run(revived)
    revived.set_weights(decoder.get_weights())
    np.testing.assert_array_equal(run(revived)[0].predicted_ids.numpy(), first.predicted_ids.numpy())


def test_tf1_spelling_equals_tfa_spelling():
    cell, out, embedding, states = make_model(seed=5)
    init = s2s.tile_batch(states, 3)
    tfa_style, _, _ = s2s.BeamSearchDecoder(cell, 3, output_layer=out, length_penalty_weight=0.5, maximum_iterations=4)(
        embedding, start_tokens=[START, START], end_token=END, initial_state=init
    )
    positional = s2s.BeamSearchDecoder(cell, embedding, [START, START], END, init, 3, out, 0.5)
    keywords = s2s.BeamSearchDecoder(
        cell=cell,
        embedding=lambda ids: tf.gather(embedding, ids),
        start_tokens=[START, START],
        end_token=END,
        initial_state=init,
        beam_width=3,
        output_layer=out,
        length_penalty_weight=0.5,
    )
    mixed = s2s.BeamSearchDecoder(cell, embedding, [START, START], END, init, beam_width=3, output_layer=out,
                                  length_penalty_weight=0.5)
    first_two = s2s.BeamSearchDecoder(cell, embedding, [START, START], end_token=END, initial_state=init, beam_width=3,
                                      output_layer=out, length_penalty_weight=0.5)
    for decoder in (positional, keywords, mixed, first_two):
        tf1_style, _, _ = s2s.dynamic_decode(decoder, maximum_iterations=4)
        np.testing.assert_array_equal(tf1_style.predicted_ids, tfa_style.predicted_ids)
        np.testing.assert_allclose(
            tf1_style.beam_search_decoder_output.scores, tfa_style.beam_search_decoder_output.scores
        )
    with pytest.raises(TypeError, match="cannot be saved"):
        positional.get_config()
    with pytest.raises(TypeError, match=r"got multiple values for \['start_tokens'\]"):
        s2s.BeamSearchDecoder(cell, embedding, [START, START], start_tokens=[START, START], end_token=END,
                              initial_state=init, beam_width=3)
    with pytest.raises(TypeError, match="at most 5 positional arguments"):
        s2s.BeamSearchDecoder(cell, embedding, [START, START], END, init, out, beam_width=3)
    with pytest.raises(TypeError, match="missing beam_width"):
        s2s.BeamSearchDecoder(cell)


def _step_case(rng, batch, beam, vocab, quantize, dead_beams, finished_rate, masked=False):
    logits = rng.standard_normal((batch, beam, vocab)).astype(np.float32) * 3.0
    if quantize:  # many exact ties among tokens and beams
        logits = np.round(logits)
    if masked:  # a model that rules out all but two tokens: frozen beams' other tokens survive
        keep = np.argsort(rng.uniform(size=(batch, beam, vocab)), axis=-1) < 2
        logits = np.where(keep, logits, -np.inf).astype(np.float32)
    log_probs = -rng.uniform(0.0, 5.0, (batch, beam)).astype(np.float32)
    finished = rng.uniform(size=(batch, beam)) < finished_rate
    if dead_beams:  # the first step: only beam 0 alive, the others finished at -inf
        log_probs[:, 1:], finished[:, 1:], finished[:, 0] = -np.inf, True, False
    if masked:  # beams at -inf still alive: a frozen beam's other tokens (dtype.min) can survive
        log_probs[:, 1:][~finished[:, 1:]] = -np.inf
    lengths = rng.integers(0, 7, (batch, beam)).astype(np.int64)
    accumulated = rng.uniform(0.0, 1.5, (batch, beam, 6)).astype(np.float32)
    alignments = rng.dirichlet(np.ones(6), (batch, beam)).astype(np.float32)
    return logits, log_probs, finished, lengths, accumulated, alignments


@pytest.mark.parametrize("end_token", [0, 4, 19])
@pytest.mark.parametrize("penalties", [(0.0, 0.0), (1.0, 0.0), (0.6, 0.2)])
def test_pruned_step_equals_the_whole_vocabulary_step_bit_for_bit(end_token, penalties):
    """Scoring W + 1 candidates per beam keeps exactly the survivors, scores, log-probabilities,
    lengths and reordered states of the top-k over all W * V pairs, ties and frozen beams included."""
    length_weight, coverage_weight = penalties
    rng = np.random.default_rng(end_token + int(10 * length_weight))
    state_cls = collections.namedtuple("State", ["cell_state", "alignments"])
    for trial in range(24):
        batch, beam = 3, int(rng.integers(1, 6))
        vocab = 20 if trial % 3 else 997  # 997: the candidates come from row_top_k's chunks
        logits, log_probs, finished, lengths, accumulated, alignments = _step_case(
            rng, batch, beam, vocab, quantize=trial % 2 == 0, dead_beams=trial % 6 == 1, finished_rate=0.3,
            masked=trial % 4 == 3)
        cell_state = state_cls(tf.constant(rng.standard_normal((batch, beam, 4)), tf.float32), tf.constant(alignments))
        args = (tf.constant(logits), cell_state, tf.constant(log_probs), tf.constant(finished), tf.constant(lengths),
                tf.constant(accumulated) if coverage_weight else None, tf.constant(end_token, tf.int32),
                length_weight, coverage_weight)
        assert ops.can_prune(beam, vocab)
        pruned = ops.beam_search_step(*args, prune=True)
        whole = ops.beam_search_step(*args, prune=False)
        tf.nest.assert_same_structure(pruned, whole)
        for got, want in zip(tf.nest.flatten(pruned), tf.nest.flatten(whole)):
            if want is None:  # no coverage penalty: no accumulated attention on either path
                assert got is None
                continue
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"trial {trial}, beam {beam}")


def test_pruning_is_chosen_only_where_it_is_exact():
    assert ops.can_prune(5, 8000)
    assert not ops.can_prune(5, 6)  # V = W + 1: no room for W other tokens and end_token
    assert not ops.can_prune(5, None)  # unknown vocabulary: the whole-vocabulary step
    assert not ops.can_prune(5, 8000, output_all_scores=True)  # every token's score is asked for


def test_pruned_step_runs_under_xla_with_the_same_result():
    rng = np.random.default_rng(3)
    logits, log_probs, finished, lengths, _, _ = _step_case(rng, 2, 4, 30, False, False, 0.3)
    args = [tf.constant(x) for x in (logits, log_probs, finished, lengths)]

    def step(logits, log_probs, finished, lengths, prune):
        scores, ids, parents, (_, next_log_probs, _, _, _) = ops.beam_search_step(
            logits, (), log_probs, finished, lengths, None, tf.constant(2), 1.0, 0.0, prune=prune)
        return scores, ids, parents, next_log_probs

    xla = tf.function(lambda *a: step(*a, True), jit_compile=True)(*args)
    eager = step(*args, False)
    for got, want in zip(xla, eager):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("vocab", [20, 997, 8000])
def test_pruned_step_under_xla_equals_the_whole_vocabulary_step_bit_for_bit(vocab):
    """Inside XLA the pruned step never writes the log-probabilities out (log_softmax_top_k maps
    only the entries it reads); it still keeps exactly the whole-vocabulary step's survivors,
    scores, log-probabilities, lengths and states, and log_softmax equals tf.nn.log_softmax."""
    rng = np.random.default_rng(vocab)
    state_cls = collections.namedtuple("State", ["cell_state", "alignments"])

    def step(logits, log_probs, finished, lengths, accumulated, alignments, end_token, prune):
        cell_state = state_cls(logits[:, :, :4], alignments)
        return ops.beam_search_step(logits, cell_state, log_probs, finished, lengths, accumulated, end_token,
                                    0.6, 0.2, prune=prune)

    pruned = tf.function(lambda *a: step(*a, True), jit_compile=True)
    whole = tf.function(lambda *a: step(*a, False), jit_compile=True)
    for trial in range(6):
        case = _step_case(rng, 3, 4, vocab, quantize=trial % 2 == 0, dead_beams=trial == 1, finished_rate=0.3,
                          masked=trial == 3)
        args = [tf.constant(x) for x in case] + [tf.constant((0, 19)[trial % 2])]
        for got, want in zip(tf.nest.flatten(pruned(*args)), tf.nest.flatten(whole(*args))):
            np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=f"trial {trial}")
        logits = args[0]
        np.testing.assert_array_equal(tf.function(ops.log_softmax, jit_compile=True)(logits),
                                      tf.function(tf.nn.log_softmax, jit_compile=True)(logits))
    graph = pruned.get_concrete_function(*args).graph
    assert "LogSoftmax" not in {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("length", [100, 997, 1000, 8000])
def test_row_top_k_equals_top_k_with_its_tie_rule(length):
    """Chunked top-k (divisible and padded lengths) returns top_k's values and indices,
    also when many entries tie and when rows hold -inf."""
    rng = np.random.default_rng(length)
    for k in (1, 6, 11):
        for ties in (False, True):
            x = rng.standard_normal((3, 4, length)).astype(np.float32)
            if ties:
                x = np.round(x * 2)
                x[0, 0, : length // 2] = -np.inf
            want = tf.math.top_k(tf.constant(x), k)
            got = ops.row_top_k(tf.constant(x), k)
            np.testing.assert_array_equal(got[0].numpy(), want.values.numpy())
            np.testing.assert_array_equal(got[1].numpy(), want.indices.numpy())
