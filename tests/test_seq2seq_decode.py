"""dynamic_decode, BasicDecoder and the samplers: equivalences with hand-written loops, gradients,
XLA, Keras integration, a toy task learnt, bad input."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq import seq2seq as s2s

B, T, D, H, V, START, END = 3, 5, 4, 6, 7, 1, 2
LENGTHS = [5, 3, 1]


def make_parts(seed=0, dtype="float32"):
    """A 2-layer stack (GRU + LSTM with LSTMStateTuple state), an output layer, an embedding matrix."""
    keras.utils.set_random_seed(seed)
    cell = rnn_cell.MultiRNNCell(
        [rnn_cell.GRUCell(H, dtype=dtype), rnn_cell.BasicLSTMCell(H, dtype=dtype)], dtype=dtype
    )
    out = keras.layers.Dense(V, dtype=dtype)
    embedding = tf.constant(np.random.default_rng(seed).standard_normal((V, D)), dtype)
    inputs = tf.constant(np.random.default_rng(seed + 1).standard_normal((B, T, D)), dtype)
    state = cell.get_initial_state(batch_size=B, dtype=dtype)
    state = tf.nest.map_structure(lambda s: s + 0.3, state)  # non-zero, distinct from the zero state
    return cell, out, embedding, inputs, state


def teacher_forced_loop(cell, out, inputs, state, lengths):
    """By hand: outputs [B, T, V] (zeros past each length) and each row's state at its last step."""
    outputs, final = [], state
    for t in range(inputs.shape[1]):
        output, new_state = cell(inputs[:, t], final)
        alive = tf.constant([t < n for n in lengths])
        outputs.append(tf.where(alive[:, None], out(output), 0.0))
        final = tf.nest.map_structure(lambda new, old: tf.where(alive[:, None], new, old), new_state, final)
    return tf.stack(outputs, 1), final


def assert_close(a, b, atol=1e-6):
    tf.nest.map_structure(lambda x, y: np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol), a, b)


def test_training_decoder_equals_hand_loop_with_impute_finished():
    cell, out, _, inputs, state = make_parts()
    decoder = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out, impute_finished=True)
    outputs, final_state, lengths = decoder(inputs, initial_state=state, sequence_length=LENGTHS)
    want_outputs, want_state = teacher_forced_loop(cell, out, inputs, state, LENGTHS)
    assert_close(outputs.rnn_output, want_outputs)
    assert_close(final_state, want_state)
    assert isinstance(final_state[1], rnn_cell.LSTMStateTuple)
    np.testing.assert_array_equal(lengths, LENGTHS)
    np.testing.assert_array_equal(outputs.sample_id, tf.argmax(outputs.rnn_output, -1, output_type=tf.int32))
    # without impute_finished rows keep stepping until the longest is done: same outputs inside each length
    plain, plain_state, _ = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(
        inputs, initial_state=state, sequence_length=LENGTHS
    )
    mask = tf.sequence_mask(LENGTHS, T)[..., None]
    assert_close(tf.where(mask, plain.rnn_output, 0.0), want_outputs)
    assert np.abs(plain.rnn_output[2, 1:]).max() > 0  # row 2 (length 1) went on
    assert np.abs(plain_state[0][2] - want_state[0][2]).max() > 1e-3
    # a right-padded mask is the same as sequence_length
    masked, _, masked_lengths = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out, impute_finished=True)(
        inputs, initial_state=state, mask=tf.sequence_mask(LENGTHS, T)
    )
    assert_close(masked.rnn_output, want_outputs)
    np.testing.assert_array_equal(masked_lengths, LENGTHS)
    # time-major inputs and outputs
    tm, _, _ = s2s.BasicDecoder(cell, s2s.TrainingSampler(time_major=True), out, output_time_major=True)(
        tf.transpose(inputs, [1, 0, 2]), initial_state=state, sequence_length=LENGTHS
    )
    assert_close(tf.transpose(tm.rnn_output, [1, 0, 2]), plain.rnn_output)


def test_tf1_helper_spelling_equals_sampler_spelling():
    cell, out, embedding, inputs, state = make_parts()
    helper = s2s.TrainingHelper(inputs, LENGTHS)
    tf1_outputs, _, tf1_lengths = s2s.dynamic_decode(s2s.BasicDecoder(cell, helper, state, out))
    outputs, _, lengths = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(
        inputs, initial_state=state, sequence_length=LENGTHS
    )
    assert_close(tf1_outputs, outputs)
    np.testing.assert_array_equal(tf1_lengths, lengths)
    by_name, _, _ = s2s.dynamic_decode(
        s2s.BasicDecoder(cell=cell, helper=helper, initial_state=state, output_layer=out))
    assert_close(by_name, outputs)  # TF1's argument names, helper= among them
    with pytest.raises(TypeError, match="sampler and helper given both"):
        s2s.BasicDecoder(cell, s2s.TrainingSampler(), helper=helper)
    with pytest.raises(TypeError, match=r"missing sampler \(TF1: helper\)"):
        s2s.BasicDecoder(cell)
    greedy_helper = s2s.GreedyEmbeddingHelper(embedding, tf.fill([B], START), END)
    tf1_greedy, _, _ = s2s.dynamic_decode(
        s2s.BasicDecoder(cell, greedy_helper, state, output_layer=out), maximum_iterations=4
    )
    greedy, _, _ = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=4)(
        embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=END
    )
    assert_close(tf1_greedy, greedy)


class ArgmaxHelper(s2s.Helper):
    """A program's own greedy helper, written against TF1's abstract Helper."""

    def __init__(self, embedding, start_tokens, end_token):
        self._embedding, self._start, self._end = embedding, start_tokens, end_token

    @property
    def batch_size(self):
        return tf.size(self._start)

    @property
    def sample_ids_shape(self):
        return tf.TensorShape([])

    @property
    def sample_ids_dtype(self):
        return tf.int32

    def initialize(self, name=None):
        return tf.fill([self.batch_size], False), tf.nn.embedding_lookup(self._embedding, self._start)

    def sample(self, time, outputs, state, name=None):
        return tf.argmax(outputs, -1, output_type=tf.int32)

    def next_inputs(self, time, outputs, state, sample_ids, name=None):
        return tf.equal(sample_ids, self._end), tf.nn.embedding_lookup(self._embedding, sample_ids), state


def test_a_programs_own_tf1_helper_subclass_decodes():
    cell, out, embedding, _, state = make_parts()
    helper = ArgmaxHelper(embedding, tf.fill([B], START), END)
    ours, _, our_lengths = s2s.dynamic_decode(s2s.BasicDecoder(cell, helper, state, out), maximum_iterations=4)
    greedy, _, lengths = s2s.dynamic_decode(
        s2s.BasicDecoder(cell, s2s.GreedyEmbeddingHelper(embedding, tf.fill([B], START), END), state, out),
        maximum_iterations=4)
    assert_close(ours, greedy)
    np.testing.assert_array_equal(our_lengths, lengths)


def greedy_hand_loop(cell, out, embedding, state, steps):
    ids, token = [], tf.fill([B], START)
    for _ in range(steps):
        output, state = cell(tf.nn.embedding_lookup(embedding, token), state)
        token = tf.argmax(out(output), -1, output_type=tf.int32)
        ids.append(token)
    return tf.stack(ids, 1).numpy()


def greedy_parts():
    """make_parts with a distinct random state per row: greedy decoding ends its rows after 7, 2
    and 8 (= maximum_iterations) steps."""
    cell, out, embedding, _, state = make_parts(seed=2)
    rng = np.random.default_rng(2)
    state = tf.nest.map_structure(lambda s: tf.constant(rng.standard_normal(s.shape), tf.float32), state)
    out(tf.zeros([1, H]))
    return cell, out, embedding, state


def test_greedy_decoding_equals_hand_loop_and_stops_at_end_token():
    cell, out, embedding, state = greedy_parts()
    decoder = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=8)
    outputs, _, lengths = decoder(embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=END)
    want = greedy_hand_loop(cell, out, embedding, state, outputs.sample_id.shape[1])
    np.testing.assert_array_equal(outputs.sample_id, want)
    for b in range(B):
        ends = np.flatnonzero(want[b] == END)
        assert lengths[b] == (ends[0] + 1 if ends.size else 8)
    assert min(lengths) < 8 and outputs.sample_id.shape[1] == max(lengths)


def _op_types(fn, *args):
    return {op.type for op in fn.get_concrete_function(*args).graph.get_operations()}


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_greedy_argmax_inside_xla_is_tf_argmax_with_its_tie_rule(dtype):
    """Inside XLA the greedy samplers' argmax is two reductions (the maximum, then the lowest
    index holding it), not XLA's (value, index) reduction; the ids are tf.argmax's, ties
    (the first one), rows of -inf and wide rows included. Outside XLA it is tf.argmax itself."""
    from tfseq import _xla

    rng = np.random.default_rng(0)
    for depth in (1, 7, 8000):
        x = np.round(rng.standard_normal((3, 5, depth)) * 2).astype(np.float32)  # many exact ties
        x[0, 1] = -np.inf
        x[2, 3, :] = x[2, 3, :].max()  # the whole row tied
        values = tf.cast(tf.constant(x), dtype)
        want = tf.argmax(values, -1, output_type=tf.int32)
        compiled = tf.function(_xla.argmax, jit_compile=True)
        np.testing.assert_array_equal(compiled(values), want, err_msg=f"depth {depth}")
        np.testing.assert_array_equal(_xla.argmax(values), want)
    assert "ArgMax" not in _op_types(tf.function(_xla.argmax, jit_compile=True), values)
    assert "ArgMax" in _op_types(tf.function(_xla.argmax), values)


def test_greedy_decoding_under_xla_equals_the_graph():
    cell, out, embedding, state = greedy_parts()
    decoder = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=8)

    def decode():
        outputs, _, lengths = decoder(embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=END)
        return outputs.sample_id, lengths

    (xla_ids, xla_lengths), (ids, lengths) = tf.function(decode, jit_compile=True)(), tf.function(decode)()
    assert min(lengths) < 8 and ids.shape[1] == 8  # some rows end early, one runs to the end
    np.testing.assert_array_equal(xla_lengths, lengths)
    np.testing.assert_array_equal(xla_ids, ids)


def test_a_mask_that_is_not_right_padded_is_an_error():
    """A left-padded mask or one with a gap would give lengths that mean nothing (TF Addons asserts too)."""
    cell, out, _, inputs, state = make_parts(seed=9)
    left = tf.constant([[False, True, True, True, True], [True] * 5, [False, False, False, True, True]])
    gap = tf.constant([[True, False, True, False, False], [True] * 5, [True] + [False] * 4])
    right = tf.sequence_mask(LENGTHS, T)
    for mask in (left, gap):
        with pytest.raises(ValueError, match=r"TrainingSampler: mask must be right padded .*got \[\[[01]"):
            s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(inputs, initial_state=state, mask=mask)
        with pytest.raises(ValueError, match="TrainingSampler: mask must be right padded"):  # [time, batch]
            s2s.TrainingSampler(time_major=True).initialize(tf.transpose(inputs, [1, 0, 2]), mask=tf.transpose(mask))

    # time major: the mask is [time, batch], each column right padded
    sampler = s2s.TrainingSampler(time_major=True)
    sampler.initialize(tf.transpose(inputs, [1, 0, 2]), mask=tf.transpose(tf.sequence_mask([2, 5, 4], T)))
    np.testing.assert_array_equal(sampler.sequence_length, [2, 5, 4])

    @tf.function
    def decode(mask):  # the values are known only when it runs
        return s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(inputs, initial_state=state, mask=mask)[2]

    np.testing.assert_array_equal(decode(right), LENGTHS)
    with pytest.raises(tf.errors.InvalidArgumentError, match="mask must be right padded"):
        decode(left)


def test_the_keras_mask_on_the_inputs_gives_the_lengths(tmp_path):
    """An ``Embedding(mask_zero=True)``'s mask is the sampler's ``mask`` (tf.keras 2 passed it to TF
    Addons' decoders so), in a functional model too, saved and loaded; an explicit
    ``sequence_length`` wins; the outputs carry no mask, and Keras warns of nothing."""
    cell, out, _, _, state = make_parts(seed=4)
    ids = np.array([[1, 2, 3, 4, 5], [3, 3, 6, 0, 0], [5, 0, 0, 0, 0]], np.int32)  # 0 pads: LENGTHS
    embedding = keras.layers.Embedding(V, D, mask_zero=True)
    decoder = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out, impute_finished=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras' "does not support masking" warning would fail here
        outputs, final, lengths = decoder(embedding(ids), initial_state=state)
    np.testing.assert_array_equal(lengths, LENGTHS)
    assert getattr(outputs.rnn_output, "_keras_mask", None) is None
    want, want_final, _ = decoder(embedding(ids), initial_state=state, sequence_length=LENGTHS)
    assert_close((outputs.rnn_output, final), (want.rnn_output, want_final))
    _, _, given = decoder(embedding(ids), initial_state=state, sequence_length=[2, 2, 2])
    np.testing.assert_array_equal(given, [2, 2, 2])

    source = keras.Input((T,), dtype="int32")
    logits = decoder(embedding(source), initial_state=cell.get_initial_state(batch_size=B, dtype=tf.float32))[0]
    model = keras.Model(source, logits.rnn_output)
    zero_state = cell.get_initial_state(batch_size=B, dtype=tf.float32)
    want = decoder(embedding(ids), initial_state=zero_state, sequence_length=LENGTHS)[0].rnn_output
    np.testing.assert_allclose(model(ids), want, atol=1e-6)
    assert not np.any(model(ids).numpy()[2, 1:])  # row 3 is one step long: zeros after it
    path = str(tmp_path / "masked.keras")
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(ids), want, atol=1e-6)

    pair = (embedding(ids), embedding(ids))
    with pytest.raises(ValueError, match="nested inputs carry Keras masks; pass mask= or sequence_length="):
        decoder(pair, initial_state=state)

    # a sampler whose initialize takes no mask gets none (its first inputs may carry one)
    start = embedding(tf.fill([B], START))  # masked True everywhere
    sampler = s2s.InferenceSampler(lambda logits: tf.argmax(logits, -1, output_type=tf.int32), [], tf.int32,
                                   end_fn=lambda ids: tf.equal(ids, END), next_inputs_fn=embedding)
    inference = s2s.BasicDecoder(cell, sampler, out, maximum_iterations=3)
    assert decoder.reads_mask() and not inference.reads_mask()
    assert inference(start, initial_state=state)[0].sample_id.shape[0] == B


def test_teacher_forcing_bounds_its_own_loop_under_xla():
    """nmt's training graph: dynamic_decode over a TrainingHelper without maximum_iterations. Under
    XLA the inputs' static length bounds the per-step loop; outputs, lengths, state and gradients equal
    the plain graph's, cut to the steps run (here 4 of T = 5)."""
    cell, out, embedding, inputs, state = make_parts(seed=8)
    lengths = [4, 2, 3]

    def tf1_spelling(x):
        helper = s2s.TrainingHelper(tf.transpose(x, [1, 0, 2]), lengths, time_major=True)
        return s2s.dynamic_decode(s2s.BasicDecoder(cell, helper, state, out), output_time_major=True)

    tf1_spelling(inputs)  # builds the weights
    weights = cell.trainable_variables + out.trainable_variables
    assert len(weights) == 8  # GRU gates and candidate, LSTM, output layer: kernels and biases

    def sampler_spelling(x):
        decoder = s2s.BasicDecoder(cell, s2s.ScheduledEmbeddingTrainingSampler(0.0), out)
        return decoder(x, initial_state=state, sequence_length=lengths, embedding=embedding)

    for spelling in (tf1_spelling, sampler_spelling):
        def step(x, spelling=spelling):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs, final, steps = spelling(x)
                loss = tf.reduce_sum(outputs.rnn_output ** 2) + sum(tf.reduce_sum(s) for s in tf.nest.flatten(final))
            return outputs, final, steps, tape.gradient(loss, [x] + weights)

        graph, xla = tf.function(step)(inputs), tf.function(step, jit_compile=True)(inputs)
        assert graph[0].rnn_output.shape[0 if spelling is tf1_spelling else 1] == 4
        for a, b in zip(tf.nest.flatten(graph), tf.nest.flatten(xla)):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-5)
    # a length known only when run bounds nothing: the error says what is missing
    unknown = tf.function(tf1_spelling, jit_compile=True, input_signature=[tf.TensorSpec([B, None, D])])
    with pytest.raises(ValueError, match="maximum_iterations is required inside an XLA program.*static length"):
        unknown(inputs)


def test_sampling_samplers():
    cell, out, embedding, inputs, state = make_parts(seed=2)
    # temperature -> 0 samples the argmax
    cold = s2s.BasicDecoder(
        cell, s2s.SampleEmbeddingSampler(softmax_temperature=1e-4, seed=1), out, maximum_iterations=5
    )
    greedy = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=5)
    kwargs = dict(initial_state=state, start_tokens=tf.fill([B], START), end_token=END)
    np.testing.assert_array_equal(cold(embedding, **kwargs)[0].sample_id, greedy(embedding, **kwargs)[0].sample_id)
    # scheduled sampling: p=0 is teacher forcing (ids -1); p=1 feeds the embedding of every sampled id
    teacher, _, _ = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(inputs, initial_state=state)
    never, _, _ = s2s.BasicDecoder(cell, s2s.ScheduledEmbeddingTrainingSampler(0.0), out)(
        inputs, initial_state=state, embedding=embedding
    )
    assert_close(never.rnn_output, teacher.rnn_output)
    assert np.all(never.sample_id.numpy() == -1)
    always, _, _ = s2s.BasicDecoder(
        cell, s2s.ScheduledEmbeddingTrainingSampler(1.0, embedding_fn=lambda ids: tf.gather(embedding, ids)), out
    )(inputs, initial_state=state)
    ids = always.sample_id.numpy()
    assert ids.min() >= 0 and ids.max() < V
    st, x = state, inputs[:, 0]
    for t in range(T):  # replay: step t + 1 reads the embedding of the id sampled at step t
        output, st = cell(x, st)
        np.testing.assert_allclose(out(output), always.rnn_output[:, t], atol=1e-5)
        x = tf.gather(embedding, ids[:, t])
    with pytest.raises(ValueError, match="sampling_probability must be in \\[0, 1\\], got 1.5"):
        s2s.ScheduledEmbeddingTrainingSampler(1.5)
    with pytest.raises(ValueError, match="softmax_temperature must be > 0, got 0"):
        s2s.SampleEmbeddingSampler(softmax_temperature=0)


def test_eager_equals_tf_function_and_xla_with_attention_state():
    keras.utils.set_random_seed(3)
    memory = tf.random.normal([B, 4, H])
    mechanism = s2s.LuongAttention(H, memory=memory, memory_sequence_length=[4, 2, 3])
    cell = s2s.AttentionWrapper(rnn_cell.GRUCell(H), mechanism, attention_layer_size=H, alignment_history=True)
    out, embedding = keras.layers.Dense(V), tf.random.normal([V, D])
    out(tf.zeros([1, H]))
    out.bias.assign(tf.one_hot(END, V) * 1.0)  # rows end before maximum_iterations
    decoder = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=6)

    def run():
        state = cell.get_initial_state(batch_size=B, dtype=tf.float32)
        outputs, final, lengths = decoder(
            embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=END
        )
        return outputs, final.alignment_history.stack(), lengths

    eager = run()
    steps = eager[0].sample_id.shape[1]
    assert eager[1].shape == (steps, B, 4) and steps < 6
    traced = tf.function(run)()
    tf.nest.map_structure(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), traced, eager)
    with pytest.raises(ValueError, match="cannot grow inside an XLA program; use alignment_history=False"):
        tf.function(run, jit_compile=True)()

    # XLA: the same model without alignment_history; outputs padded to maximum_iterations
    plain = s2s.AttentionWrapper(rnn_cell.GRUCell(H), mechanism, attention_layer_size=H)
    plain(tf.zeros([B, D]), plain.get_initial_state(batch_size=B, dtype=tf.float32))
    plain.set_weights(cell.get_weights())
    plain_decoder = s2s.BasicDecoder(plain, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=6)
    xla = tf.function(
        lambda: plain_decoder(
            embedding,
            initial_state=plain.get_initial_state(batch_size=B, dtype=tf.float32),
            start_tokens=tf.fill([B], START),
            end_token=END,
        ),
        jit_compile=True,
    )()
    np.testing.assert_array_equal(xla[0].sample_id[:, :steps], eager[0].sample_id)
    np.testing.assert_allclose(xla[0].rnn_output[:, :steps], eager[0].rnn_output, atol=1e-5)
    np.testing.assert_allclose(xla[0].rnn_output[:, steps:], 0.0)
    np.testing.assert_array_equal(xla[2], eager[2])


def test_teacher_forcing_gradients_match_finite_differences():
    cell, out, _, inputs, state = make_parts(seed=4, dtype="float64")
    targets = tf.constant(np.random.default_rng(0).integers(0, V, (B, T)), tf.int32)
    weights = tf.sequence_mask(LENGTHS, T, tf.float64)
    decoder = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)

    def loss_fn():
        outputs, _, _ = decoder(inputs, initial_state=state, sequence_length=LENGTHS)
        return s2s.sequence_loss(outputs.rnn_output, targets, weights)

    with tf.GradientTape() as tape:
        loss = loss_fn()
    variables = decoder.trainable_weights
    assert len(variables) == 8  # GRU gates+candidate kernel/bias, LSTM kernel/bias, Dense kernel/bias
    grads = tape.gradient(loss, variables)
    rng = np.random.default_rng(1)
    for var, grad in zip(variables, grads):
        index = tuple(rng.integers(0, n) for n in var.shape)
        original, eps = var.numpy(), 1e-6
        bumped = original.copy()
        bumped[index] += eps
        var.assign(bumped)
        up = float(loss_fn())
        bumped[index] -= 2 * eps
        var.assign(bumped)
        down = float(loss_fn())
        var.assign(original)
        np.testing.assert_allclose(grad.numpy()[index], (up - down) / (2 * eps), rtol=1e-5, atol=1e-9)


def test_keras_model_trains_and_saves_with_a_decoder(tmp_path):
    cell, out, _, inputs, state = make_parts(seed=5)
    decoder_inputs = keras.Input((T, D))
    logits = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(
        decoder_inputs, initial_state=cell.get_initial_state(batch_size=B, dtype=tf.float32)
    )[0].rnn_output
    model = keras.Model(decoder_inputs, logits)
    targets = np.random.default_rng(0).integers(0, V, (B, T))
    model.compile(keras.optimizers.Adam(0.02), loss=s2s.SequenceLoss())
    history = model.fit(inputs, targets, epochs=4, batch_size=B, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "decoder.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode on, no custom_objects
    np.testing.assert_allclose(loaded(inputs), model(inputs), atol=1e-6)
    config = model.layers[-1].get_config()
    assert config["sampler"]["class_name"] == "TrainingSampler"
    greedy = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(keras.layers.Embedding(V, D)), out, maximum_iterations=3)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(greedy))
    assert type(revived.sampler) is s2s.GreedyEmbeddingSampler and revived.maximum_iterations == 3
    with pytest.raises(TypeError, match="only a Keras layer embedding_fn can be saved"):
        s2s.GreedyEmbeddingSampler(lambda ids: ids).get_config()


def test_toy_reverse_task_is_learnt_with_attention():
    """Reverse 5-token sequences: encoder GRU, Luong-attention GRU decoder, teacher forcing; greedy accuracy."""
    keras.utils.set_random_seed(0)
    vocab, length, units, batch = 8, 5, 32, 64  # tokens 2..7, START=0, END=1
    rng = np.random.default_rng(0)

    def make_batch(n):
        src = rng.integers(2, vocab, (n, length))
        tgt = src[:, ::-1]
        dec_in = np.concatenate([np.zeros((n, 1), int), tgt], 1)  # START + target
        dec_out = np.concatenate([tgt, np.ones((n, 1), int)], 1)  # target + END
        return [tf.constant(a, tf.int32) for a in (src, dec_in, dec_out)]

    embed = keras.layers.Embedding(vocab, 16)
    encoder = rnn_cell.GRUCell(units)
    mechanism = s2s.LuongAttention(units)
    cell = s2s.AttentionWrapper(rnn_cell.GRUCell(units), mechanism, attention_layer_size=units)
    out = keras.layers.Dense(vocab)

    def decode_setup(src):
        memory, enc_state = nn.dynamic_rnn(encoder, embed(src))
        mechanism.setup_memory(memory)
        return cell.get_initial_state(batch_size=tf.shape(src)[0], dtype=tf.float32).clone(cell_state=enc_state)

    def loss_fn(src, dec_in, dec_out):
        state = decode_setup(src)
        outputs, _, _ = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(embed(dec_in), initial_state=state)
        return s2s.sequence_loss(outputs.rnn_output, dec_out, tf.ones(tf.shape(dec_out)))

    optimizer = keras.optimizers.Adam(0.01, clipnorm=1.0)

    @tf.function
    def train_step(src, dec_in, dec_out):
        with tf.GradientTape() as tape:
            loss = loss_fn(src, dec_in, dec_out)
        variables = embed.trainable_weights + encoder.trainable_weights + cell.trainable_weights + out.trainable_weights
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    for _ in range(120):  # ~1.0 accuracy from ~75 steps on (seed 0)
        loss = train_step(*make_batch(batch))
    src, _, dec_out = make_batch(200)
    state = decode_setup(src)
    greedy = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(embed), out, maximum_iterations=length + 1)
    outputs, _, _ = greedy(None, initial_state=state, start_tokens=tf.zeros([200], tf.int32), end_token=1)
    accuracy = np.mean(np.all(outputs.sample_id.numpy() == dec_out.numpy(), axis=1))
    assert accuracy > 0.95, (accuracy, float(loss))


def test_bad_input_raises_naming_argument_and_value():
    cell, out, embedding, inputs, state = make_parts()
    for maker in (
        lambda: s2s.BasicDecoder(cell, s2s.TrainingSampler(), out, maximum_iterations=-1),
        lambda: s2s.dynamic_decode(
            s2s.BasicDecoder(cell, s2s.TrainingHelper(inputs, LENGTHS), state, out), maximum_iterations=-1
        ),
    ):
        with pytest.raises(ValueError, match="maximum_iterations must be >= 0, got -1"):
            maker()
    with pytest.raises(ValueError, match="maximum_iterations must be None or an integer >= 0, got 2.5"):
        s2s.dynamic_decode(
            s2s.BasicDecoder(cell, s2s.TrainingHelper(inputs, LENGTHS), state, out), maximum_iterations=2.5
        )
    greedy = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=3)
    with pytest.raises(ValueError, match=r"end_token must be in \[0, 7\) \(the output vocabulary\), got 9"):
        greedy(embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=9)
    with pytest.raises(ValueError, match="initial_state has batch size 3 but the decoder's batch is 2"):
        greedy(embedding, initial_state=state, start_tokens=[START, START], end_token=END)
    with pytest.raises(ValueError, match="start_tokens must be a vector"):
        greedy(embedding, initial_state=state, start_tokens=START, end_token=END)
    with pytest.raises(TypeError, match="sampler must be a tfseq.seq2seq Sampler"):
        s2s.BasicDecoder(cell, "greedy", out)
    no_limit = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out)
    with pytest.raises(ValueError, match="maximum_iterations is required inside an XLA program"):
        tf.function(
            lambda: no_limit(embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=END),
            jit_compile=True,
        )()
    # zero iterations: nothing decoded
    outputs, _, lengths = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=0)(
        embedding, initial_state=state, start_tokens=tf.fill([B], START), end_token=END
    )
    assert outputs.sample_id.shape == (B, 0) and np.all(lengths.numpy() == 0)


def test_other_tf1_helpers_and_training_flag():
    cell, out, embedding, inputs, state = make_parts(seed=6)
    teacher, _, _ = s2s.dynamic_decode(s2s.BasicDecoder(cell, s2s.TrainingHelper(inputs, LENGTHS), state, out))
    scheduled = s2s.ScheduledEmbeddingTrainingHelper(inputs, LENGTHS, embedding, sampling_probability=0.0)
    never, _, _ = s2s.dynamic_decode(s2s.BasicDecoder(cell, scheduled, state, out))
    assert_close(never.rnn_output, teacher.rnn_output)
    starts = tf.fill([B], START)
    greedy, _, _ = s2s.dynamic_decode(
        s2s.BasicDecoder(cell, s2s.GreedyEmbeddingHelper(embedding, starts, END), state, out), maximum_iterations=4
    )
    cold = s2s.SampleEmbeddingHelper(embedding, starts, END, softmax_temperature=1e-4, seed=3)
    sampled, _, _ = s2s.dynamic_decode(s2s.BasicDecoder(cell, cold, state, out), maximum_iterations=4)
    np.testing.assert_array_equal(sampled.sample_id, greedy.sample_id)
    with pytest.raises(ValueError, match="given at construction"):
        s2s.TrainingHelper(inputs, LENGTHS).initialize(inputs)

    # `training` reaches the cell: a DropoutWrapper drops only with training=True
    dropped = rnn_cell.DropoutWrapper(cell, output_keep_prob=0.5, seed=1)
    decoder = s2s.BasicDecoder(dropped, s2s.TrainingSampler(), out)
    inference, _, _ = decoder(inputs, initial_state=state, training=False)
    training, _, _ = decoder(inputs, initial_state=state, training=True)
    plain, _, _ = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out)(inputs, initial_state=state)
    assert_close(inference.rnn_output, plain.rnn_output)
    assert np.abs(training.rnn_output - plain.rnn_output).max() > 1e-3


@pytest.mark.parametrize("wrap", ["device", "projection", "stack"])
def test_a_wrapped_attention_wrapper_keeps_its_alignment_history(wrap):
    """tensorflow/nmt decodes with DeviceWrapper(AttentionWrapper(..., alignment_history=True)); the
    history's TensorArray in the state reaches the attention wrapper through any wrapper or stack,
    and the steps are those of the same cell without a history."""
    memory = tf.random.normal([B, 4, H], seed=1)
    embedding = tf.random.normal([V, D], seed=2)

    def make(history):
        keras.utils.set_random_seed(3)
        mechanism = s2s.LuongAttention(H, memory=memory, memory_sequence_length=[4, 2, 3])
        attention = s2s.AttentionWrapper(rnn_cell.GRUCell(H), mechanism, attention_layer_size=H,
                                         alignment_history=history)
        cell = {"device": lambda: rnn_cell.DeviceWrapper(attention, "/cpu:0"),
                "projection": lambda: rnn_cell.OutputProjectionWrapper(attention, V),
                "stack": lambda: rnn_cell.MultiRNNCell([attention, rnn_cell.BasicLSTMCell(H)])}[wrap]()
        cell(tf.zeros([B, D]), cell.get_initial_state(batch_size=B, dtype=tf.float32))
        return cell, (None if wrap == "projection" else keras.layers.Dense(V))

    def decode(cell, out):
        decoder = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=5)
        outputs, final, _ = decoder(embedding, initial_state=cell.get_initial_state(batch_size=B, dtype=tf.float32),
                                    start_tokens=tf.fill([B], START), end_token=END)
        attention_state = final[0] if wrap == "stack" else final
        history = attention_state.alignment_history
        return outputs, attention_state.alignments, (history.stack() if isinstance(history, tf.TensorArray) else None)

    (cell, out), (reference, reference_out) = make(True), make(False)
    reference.set_weights(cell.get_weights())
    if out is not None:
        reference_out.build((None, H))
        out.build((None, H))
        reference_out.set_weights(out.get_weights())
    want, want_alignments, _ = decode(reference, reference_out)
    for run in (decode, tf.function(decode)):
        outputs, alignments, history = run(cell, out)
        np.testing.assert_allclose(outputs.rnn_output, want.rnn_output, atol=1e-6)
        np.testing.assert_array_equal(outputs.sample_id, want.sample_id)
        np.testing.assert_allclose(alignments, want_alignments, atol=1e-6)
        assert history.shape == (outputs.sample_id.shape[1], B, 4)
        np.testing.assert_allclose(history[-1], alignments, atol=1e-6)
        np.testing.assert_allclose(tf.reduce_sum(history, -1), np.ones(history.shape[:2]), atol=1e-5)
