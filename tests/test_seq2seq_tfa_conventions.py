"""TF Addons' and TF1's calling conventions on tfseq.seq2seq (no reference process needed).

Memory set-up through ``mechanism(memory, mask=..., setup_memory=True)`` and
``build(memory_shape)``; ``memory=None`` with lengths; the user's own ``memory_layer``;
TF Addons' default ``memory_layer``/``query_layer`` as views of tfseq's kernels;
``dynamic_decode``'s ``scope`` objects and ``enable_tflite_convertible`` checks; the errors
that say what to write instead (symbolic memory in a functional model, ``alignment_history``
inside the RNN layers, a TF1 ``output_layer``); TF Addons' error wording; ``.keras`` round
trips of a subclassed encoder-decoder (memory set up in ``call``) and of a model holding a
``BeamSearchDecoder``; ``SequenceLoss`` with a ``[batch, time]`` ``sample_weight`` in ``fit``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfseq
from tfseq import seq2seq

B, T, DEPTH, UNITS = 3, 5, 6, 8
rng = np.random.default_rng(3)
MEMORY = rng.standard_normal((B, T, DEPTH)).astype(np.float32)
QUERY = rng.standard_normal((B, UNITS)).astype(np.float32)
LENGTHS = np.array([5, 2, 3], np.int32)
MECHANISMS = [seq2seq.LuongAttention, seq2seq.BahdanauAttention, seq2seq.LuongMonotonicAttention,
              seq2seq.BahdanauMonotonicAttention]


@pytest.mark.parametrize("cls", MECHANISMS)
def test_setup_memory_call_mask_and_lengths_agree(cls):
    by_lengths = cls(UNITS, MEMORY, LENGTHS)
    state = by_lengths.initial_state(B, tf.float32)
    expected, _ = by_lengths([QUERY, state])
    by_call = cls.from_config(by_lengths.get_config())
    values = by_call(MEMORY, mask=tf.sequence_mask(LENGTHS, T), setup_memory=True)
    np.testing.assert_allclose(values, by_lengths.values)
    by_call([QUERY, state])  # build the score weights
    by_call.set_weights(by_lengths.get_weights())
    by_call(MEMORY, mask=tf.sequence_mask(LENGTHS, T), setup_memory=True)  # keys from the new memory kernel
    np.testing.assert_allclose(by_call([QUERY, state])[0], expected, atol=1e-6)
    by_list = cls.from_config(by_lengths.get_config())
    by_list([MEMORY, LENGTHS], setup_memory=True)
    by_list([QUERY, state, by_list.values])  # TF Addons' third item (processed memory) is ignored
    by_list.set_weights(by_lengths.get_weights())
    by_list([MEMORY, LENGTHS], setup_memory=True)
    np.testing.assert_allclose(by_list([QUERY, state])[0], expected, atol=1e-6)
    assert np.all(expected.numpy()[1, 2:] == 0)  # padding really is masked


@pytest.mark.parametrize("cls", MECHANISMS)
def test_tf1_num_units_by_name(cls):
    """TF1 contrib's ``LuongAttention(num_units=..., memory=..., memory_sequence_length=...)``."""
    by_units = cls(UNITS, MEMORY, LENGTHS)
    state = by_units.initial_state(B, tf.float32)
    expected, _ = by_units([QUERY, state])
    by_name = cls(num_units=UNITS, memory=MEMORY, memory_sequence_length=LENGTHS)
    assert by_name.units == UNITS and by_name.get_config() == by_units.get_config()
    by_name([QUERY, state])
    by_name.set_weights(by_units.get_weights())
    by_name.setup_memory(MEMORY, LENGTHS)  # keys from the copied memory kernel
    np.testing.assert_allclose(by_name([QUERY, state])[0], expected, atol=1e-6)
    with pytest.raises(TypeError, match="units and num_units given both"):
        cls(UNITS, num_units=UNITS)
    with pytest.raises(TypeError, match=r"missing units \(TF1: num_units\)"):
        cls(memory=MEMORY)


def test_a_tf1_variable_scope_initializer_reaches_the_weights_tf1_created_without_one():
    """tensorflow/nmt sets one initializer on the variable scope for the whole model; TF1 contrib's
    mechanisms and attention layer took it for ``memory_layer``, ``query_layer``, ``attention_v`` and
    the attention layer, and kept their own for ``attention_g`` and ``attention_b``."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.03)):
        luong = seq2seq.LuongAttention(UNITS, MEMORY, LENGTHS, scale=True)
        bahdanau = seq2seq.BahdanauAttention(UNITS, MEMORY, LENGTHS, normalize=True)
        wrapper = seq2seq.AttentionWrapper(keras.layers.LSTMCell(UNITS), [luong, bahdanau], attention_layer_size=[4, 5])
    wrapper(tf.constant(QUERY[:, :DEPTH]), wrapper.get_initial_state(batch_size=B, dtype=tf.float32))  # built outside
    scoped = np.float32(0.03)
    for weight in (luong.memory_kernel, bahdanau.memory_kernel, bahdanau.query_kernel, bahdanau.attention_v,
                   *wrapper._attention_kernels):
        np.testing.assert_array_equal(weight.numpy(), scoped, err_msg=weight.path)
    np.testing.assert_array_equal(luong.scale_weight.numpy(), 1.0)
    np.testing.assert_allclose(bahdanau.attention_g.numpy(), np.sqrt(1.0 / UNITS), rtol=1e-6)
    np.testing.assert_array_equal(bahdanau.attention_b.numpy(), 0.0)
    assert np.unique(wrapper.cell.kernel.numpy()).size > 1  # a Keras cell keeps Keras' initializers
    plain = seq2seq.BahdanauAttention(UNITS, MEMORY, LENGTHS, kernel_initializer="ones")
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.03)):
        plain([QUERY, plain.initial_state(B, tf.float32)])
    np.testing.assert_array_equal(plain.attention_v.numpy(), 1.0)  # an initializer given stays
    assert np.unique(plain.memory_kernel.numpy()).size > 1  # made outside the scope: Glorot


@pytest.mark.parametrize("cls", MECHANISMS)
def test_build_from_memory_shape_then_query(cls):
    """TF Addons' restore order: build(memory shape), set the memory weights, set up the
    memory, build(query shapes), set all weights."""
    source = cls(UNITS, MEMORY)
    state = source.initial_state(B, tf.float32)
    expected, _ = source([QUERY, state])
    weights = source.get_weights()
    restored = cls.from_config(source.get_config())
    restored.build(MEMORY.shape)
    assert len(restored.weights) == 1
    restored.set_weights(weights[:1])
    restored(MEMORY, setup_memory=True)
    restored.build([QUERY.shape, state.shape])
    restored.set_weights(weights)
    np.testing.assert_allclose(restored([QUERY, state])[0], expected, atol=1e-6)


def test_memory_none_with_lengths_is_accepted_and_setup_memory_lengths_count():
    mechanism = seq2seq.LuongAttention(UNITS, memory=None, memory_sequence_length=[T] * B)
    assert not mechanism.memory_initialized
    mechanism.setup_memory(MEMORY, memory_sequence_length=LENGTHS)
    alignments, _ = mechanism([QUERY, mechanism.initial_state(B, tf.float32)])
    assert np.all(alignments.numpy()[1, 2:] == 0)


def test_user_memory_and_query_layers_are_used():
    memory_layer = keras.layers.Dense(UNITS, use_bias=False, kernel_initializer="ones")
    query_layer = keras.layers.Dense(UNITS, use_bias=False, kernel_initializer="ones")
    mechanism = seq2seq.BahdanauAttention(UNITS, MEMORY, memory_layer=memory_layer, query_layer=query_layer)
    mechanism([QUERY, mechanism.initial_state(B, tf.float32)])
    np.testing.assert_allclose(mechanism.keys, MEMORY.sum(-1, keepdims=True).repeat(UNITS, -1), atol=1e-5)
    assert {id(memory_layer.kernel), id(query_layer.kernel)} <= {id(w) for w in mechanism.weights}
    names = mechanism.tf1_variables()
    assert names["memory_layer/kernel"] is memory_layer.kernel
    assert names["bahdanau_attention/query_layer/kernel"] is query_layer.kernel
    restored = seq2seq.BahdanauAttention.from_config(mechanism.get_config())
    assert isinstance(restored.memory_layer, keras.layers.Dense) and restored.memory_layer.units == UNITS


def test_default_memory_and_query_layers_are_tfa_style_views_of_tfseqs_kernels():
    """TF Addons' ``mechanism.memory_layer.kernel`` / ``query_layer.kernel`` (loading weights,
    reading them) reach tfseq's own TF1-named kernels."""
    unbuilt = seq2seq.BahdanauAttention(UNITS)
    assert unbuilt.memory_layer.kernel is None and not unbuilt.memory_layer.built
    with pytest.raises(ValueError, match="not built yet"):
        unbuilt.memory_layer(MEMORY)
    mechanism = seq2seq.BahdanauAttention(UNITS, MEMORY)
    mechanism([QUERY, mechanism.initial_state(B, tf.float32)])
    names = mechanism.tf1_variables()
    assert mechanism.memory_layer.kernel is names["memory_layer/kernel"] is mechanism.memory_kernel
    assert mechanism.query_layer.kernel is names["bahdanau_attention/query_layer/kernel"]
    assert mechanism.memory_layer.units == UNITS and mechanism.memory_layer.bias is None
    assert mechanism.memory_layer.weights == [mechanism.memory_kernel]
    mechanism.memory_layer.kernel.assign(np.full((DEPTH, UNITS), 0.5, np.float32))  # as TF Addons code does
    mechanism.setup_memory(MEMORY)
    np.testing.assert_allclose(mechanism.keys, mechanism.memory_layer(MEMORY), atol=1e-6)
    np.testing.assert_allclose(mechanism.keys, 0.5 * MEMORY.sum(-1, keepdims=True).repeat(UNITS, -1), atol=1e-5)
    assert "memory_layer" not in mechanism.get_config() and "query_layer" not in mechanism.get_config()
    luong = seq2seq.LuongAttention(UNITS, MEMORY)
    luong([QUERY, luong.initial_state(B, tf.float32)])
    assert luong.memory_layer.kernel is luong.memory_kernel


def test_attention_layers_alias_sets_the_initializer():
    cell = seq2seq.AttentionWrapper(keras.layers.LSTMCell(4), seq2seq.LuongAttention(4, MEMORY),
                                    attention_layer_size=3)
    (layer,) = cell._attention_layers
    layer.kernel_initializer = keras.initializers.Constant(0.25)
    cell(tf.zeros([B, 2]), cell.get_initial_state(batch_size=B, dtype=tf.float32))
    np.testing.assert_array_equal(layer.kernel.numpy(), np.full((4 + DEPTH, 3), 0.25, np.float32))
    with pytest.raises(ValueError, match="before the wrapper is built"):
        layer.kernel_initializer = "zeros"


def test_symbolic_memory_says_what_to_write():
    encoder_outputs = keras.layers.Dense(DEPTH)(keras.Input((T, 4)))
    with pytest.raises(ValueError, match=r"keras.Input-derived .* call\(\) runs `mechanism.setup_memory"):
        seq2seq.LuongAttention(UNITS, encoder_outputs)


@pytest.mark.parametrize("driver", ["keras.layers.RNN", "nn.RNN", "nn.dynamic_rnn"])
def test_alignment_history_in_rnn_layers_says_what_to_use(driver):
    cell = seq2seq.AttentionWrapper(keras.layers.LSTMCell(UNITS), seq2seq.LuongAttention(UNITS, MEMORY),
                                    alignment_history=True)
    x = tf.constant(rng.standard_normal((B, 4, 2)).astype(np.float32))
    run = {
        "keras.layers.RNN": lambda: keras.layers.RNN(cell)(x),
        "nn.RNN": lambda: tfseq.nn.RNN(cell)(x),
        "nn.dynamic_rnn": lambda: tfseq.nn.dynamic_rnn(cell, x, dtype=tf.float32),
    }[driver]
    with pytest.raises(ValueError, match=r"alignment_history=False .*BasicDecoder\(cell, TrainingSampler\(\)\)"):
        run()


def _greedy_decoder(**kwargs):
    cell = keras.layers.LSTMCell(4)
    return cell, seq2seq.BasicDecoder(cell, seq2seq.GreedyEmbeddingSampler(), keras.layers.Dense(5), **kwargs)


def test_dynamic_decode_accepts_a_variable_scope_object():
    cell, decoder = _greedy_decoder()
    embedding = tf.constant(rng.standard_normal((5, 3)).astype(np.float32))
    init = cell.get_initial_state(batch_size=2)
    with tf.compat.v1.variable_scope("decoder") as scope:
        outputs, _, _ = seq2seq.dynamic_decode(
            decoder, maximum_iterations=3, scope=scope, decoder_init_input=embedding,
            decoder_init_kwargs=dict(start_tokens=tf.constant([0, 0]), end_token=1, initial_state=init))
    assert outputs.rnn_output.shape[0] == 2
    with pytest.raises(TypeError, match="scope must be a string or a variable scope"):
        seq2seq.dynamic_decode(decoder, scope=3)


def test_tflite_convertible_checks_batch_and_maximum_iterations():
    cell, decoder = _greedy_decoder()
    embedding = tf.constant(rng.standard_normal((5, 3)).astype(np.float32))

    def run(batch, maximum_iterations):
        return seq2seq.dynamic_decode(
            decoder, maximum_iterations=maximum_iterations, enable_tflite_convertible=True,
            decoder_init_input=embedding,
            decoder_init_kwargs=dict(start_tokens=tf.zeros([batch], tf.int32), end_token=1,
                                     initial_state=cell.get_initial_state(batch_size=batch)))

    with pytest.raises(tf.errors.InvalidArgumentError, match="needs a batch size of 1"):  # TF Addons' error type
        run(2, 3)
    with pytest.raises(ValueError, match="needs maximum_iterations"):
        run(1, None)
    outputs, _, _ = run(1, 3)
    assert outputs.rnn_output.shape == (1, 3, 5) and outputs.sample_id.shape == (1, 3, 1)


def test_tf1_output_layer_error_names_the_replacement():
    with pytest.raises(TypeError, match=r"write keras.layers.Dense\(units, use_bias=...\)"):
        seq2seq.BasicDecoder(keras.layers.LSTMCell(4), seq2seq.TrainingSampler(), output_layer=object())
    with pytest.raises(TypeError, match="tf.compat.v1.layers.Dense"):
        seq2seq.BeamSearchDecoder(keras.layers.LSTMCell(4), 2, output_layer=object())


def test_tfa_error_wording():
    logits, targets, weights = tf.zeros([2, 3, 4]), tf.zeros([2, 3], tf.int32), tf.ones([2, 3])
    with pytest.raises(ValueError, match="because of ambiguous order"):
        seq2seq.sequence_loss(logits, targets, weights, average_across_timesteps=False,
                              average_across_batch=True, sum_over_timesteps=True, sum_over_batch=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="parent id"):
        seq2seq.gather_tree([[[1, 2]], [[3, 4]]], [[[0, 0]], [[0, 5]]], [2], 9)
    with pytest.raises(ValueError, match="mode must be 'recursive', 'parallel', or 'hard'"):
        seq2seq.monotonic_attention(tf.ones([1, 2]), tf.ones([1, 2]), "soft")
    with pytest.raises(ValueError, match="mode must be"):
        seq2seq.LuongMonotonicAttention(4, mode="soft")


def test_beam_search_output_all_scores_shape_and_top_scores():
    cell, out = keras.layers.LSTMCell(4), keras.layers.Dense(7)
    embedding = tf.constant(rng.standard_normal((7, 3)).astype(np.float32))
    init = seq2seq.tile_batch(cell.get_initial_state(batch_size=2), 3)
    results = {}
    for flag in (False, True):
        decoder = seq2seq.BeamSearchDecoder(cell, 3, output_layer=out, maximum_iterations=4, output_all_scores=flag)
        results[flag] = decoder(embedding, start_tokens=[0, 0], end_token=1, initial_state=init)[0]
    top, every = results[False].beam_search_decoder_output, results[True].beam_search_decoder_output
    np.testing.assert_array_equal(results[True].predicted_ids, results[False].predicted_ids)
    scores = every.scores.numpy()  # [B, T, W, V]
    assert scores.shape == (2, top.scores.shape[1], 3, 7)
    flat = scores.reshape(scores.shape[0], scores.shape[1], -1)
    picked = np.take_along_axis(flat, top.parent_ids.numpy() * 7 + top.predicted_ids.numpy(), axis=2)
    np.testing.assert_allclose(picked, top.scores.numpy(), atol=1e-6)  # the kept scores are among them


@keras.saving.register_keras_serializable(package="tfseq_tests")
class TinySeq2Seq(keras.Model):
    """An encoder-decoder the Keras 3 way: the memory is set up in call()."""

    def __init__(self, vocab=9, units=6, **kwargs):
        super().__init__(**kwargs)
        self.vocab, self.units = vocab, units
        self.embed = keras.layers.Embedding(vocab, units)
        self.encoder = keras.layers.LSTM(units, return_sequences=True)
        self.mechanism = seq2seq.LuongMonotonicAttention(units, mode="recursive")
        self.cell = seq2seq.AttentionWrapper(keras.layers.LSTMCell(units), self.mechanism, attention_layer_size=units)
        self.decoder = seq2seq.BasicDecoder(self.cell, seq2seq.TrainingSampler(), keras.layers.Dense(vocab))
        self.beam = seq2seq.BeamSearchDecoder(self.cell, 2, embedding_fn=self.embed,
                                              output_layer=self.decoder.output_layer, maximum_iterations=4)

    def call(self, inputs):
        source, target = inputs
        self.mechanism.setup_memory(self.encoder(self.embed(source)))
        state = self.cell.get_initial_state(batch_size=tf.shape(source)[0], dtype=self.compute_dtype)
        outputs, _, _ = self.decoder(self.embed(target), initial_state=state)
        return outputs.rnn_output

    def translate(self, source):
        memory = seq2seq.tile_batch(self.encoder(self.embed(source)), 2)
        self.mechanism.setup_memory(memory)
        state = self.cell.get_initial_state(batch_size=tf.shape(memory)[0], dtype=self.compute_dtype)
        outputs, _, _ = self.beam(None, start_tokens=tf.zeros([tf.shape(source)[0]], tf.int32), end_token=1,
                                  initial_state=state)
        return outputs.predicted_ids

    def get_config(self):
        return {**super().get_config(), "vocab": self.vocab, "units": self.units}


def test_keras_round_trip_of_a_model_with_attention_and_beam_search(tmp_path):
    source = rng.integers(2, 9, (2, 5))
    target = rng.integers(2, 9, (2, 4))
    model = TinySeq2Seq()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit([source, target], target, epochs=1, verbose=0)
    expected, expected_ids = model([source, target]), model.translate(source)
    path = str(tmp_path / "s2s.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded([source, target]), expected, atol=1e-6)
    np.testing.assert_array_equal(loaded.translate(source), expected_ids)


def test_sequence_loss_takes_time_weights_in_fit_without_sample_weight_mode():
    logits = rng.standard_normal((4, 3, 5)).astype(np.float32)
    targets = rng.integers(0, 5, (4, 3))
    weights = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 1]], np.float32)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: tf.zeros([tf.shape(x)[0], 1, 1]) + logits[:1],
                                                      output_shape=(3, 5))(inputs))
    model.compile("sgd", seq2seq.SequenceLoss())
    history = model.fit(np.zeros((4, 3)), np.repeat(targets[:1], 4, 0), sample_weight=weights, batch_size=4,
                        verbose=0)
    expected = seq2seq.sequence_loss(np.repeat(logits[:1], 4, 0), np.repeat(targets[:1], 4, 0), weights)
    np.testing.assert_allclose(history.history["loss"][0], expected.numpy(), rtol=1e-5)


def test_tf1_score_mask_value():
    """TF1's ``score_mask_value``: the score at padded positions (default ``-inf``: weight 0)."""
    default = seq2seq.LuongAttention(UNITS, MEMORY, LENGTHS)
    state = default.initial_state(B, tf.float32)
    assert np.all(default([QUERY, state])[0].numpy()[1, 2:] == 0)
    shifted = seq2seq.LuongAttention(UNITS, MEMORY, LENGTHS, score_mask_value=0.0)
    shifted([QUERY, state])
    shifted.set_weights(default.get_weights())
    shifted.setup_memory(MEMORY, LENGTHS)
    score = default.score(QUERY).numpy()
    expected = np.where(np.arange(T)[None] < LENGTHS[:, None], score, 0.0)
    expected = np.exp(expected - expected.max(1, keepdims=True))
    np.testing.assert_allclose(shifted([QUERY, state])[0], expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert seq2seq.LuongAttention.from_config(shifted.get_config()).score_mask_value == 0.0
    with pytest.raises(ValueError, match="score_mask_value must be a number or None, got 'low'"):
        seq2seq.BahdanauAttention(UNITS, score_mask_value="low")
