"""AttentionWrapper (tfseq.seq2seq.attention_wrapper): NumPy steps, drivers, Keras, errors.

The NumPy step composes the TF1 BasicRNNCell formula (tests/numpy_ref.py) with the
attention reference of test_seq2seq_attention.py; parity with TF Addons itself is in
test_parity_tfa.py.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from numpy_ref import basic_rnn_step
from test_seq2seq_attention import np_mechanism, randomize

from tfseq import compat, nn, rnn_cell, seq2seq
from tfseq.nn import fused

ATOL = 1e-5
BATCH, MAX_TIME, DEPTH, STEPS, IN_DEPTH = 3, 5, 4, 4, 2
LENGTHS = np.array([5, 3, 1], np.int32)
RNG = np.random.default_rng(0)
MEMORY = RNG.standard_normal((BATCH, MAX_TIME, DEPTH)).astype(np.float32)
X = RNG.standard_normal((BATCH, STEPS, IN_DEPTH)).astype(np.float32)


def luong(**kwargs):
    return seq2seq.LuongAttention(5, MEMORY, LENGTHS, scale=True, **kwargs)


def bahdanau(**kwargs):
    return seq2seq.BahdanauAttention(6, MEMORY, LENGTHS, normalize=True, **kwargs)


def wrapper_of(mechanism, cell=None, **kwargs):
    wrapper = seq2seq.AttentionWrapper(cell or rnn_cell.BasicRNNCell(5), mechanism, **kwargs)
    wrapper(tf.constant(X[:, 0]), wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32))  # build
    return wrapper


def python_loop(wrapper, x, state=None):
    state = wrapper.get_initial_state(batch_size=x.shape[0], dtype=tf.float32) if state is None else state
    outputs = []
    for t in range(x.shape[1]):
        output, state = wrapper(x[:, t], state)
        outputs.append(output)
    return tf.stack(outputs, 1), state


# -- one step against NumPy ---------------------------------------------------------


@pytest.mark.parametrize("layer_size", [None, 3])
@pytest.mark.parametrize("kind", ["scaled_luong", "normed_bahdanau"])
def test_two_steps_match_numpy(kind, layer_size):
    mechanism = luong() if kind == "scaled_luong" else bahdanau()
    wrapper = wrapper_of(mechanism, attention_layer_size=layer_size, output_attention=True)
    randomize(mechanism, seed=3)  # the cell and attention layer keep their random init
    weights = {name: v.numpy() for name, v in wrapper.tf1_variables().items()}
    mechanism.setup_memory(MEMORY, LENGTHS)
    w_cell = {k.split("/")[-1]: weights[f"attention_wrapper/basic_rnn_cell/{k.split('/')[-1]}"]
              for k in ("kernel", "bias")}
    w_att = {k.replace("attention_wrapper/", ""): v for k, v in weights.items() if "attention_wrapper/basic" not in k}
    values = MEMORY * (np.arange(MAX_TIME)[None, :, None] < LENGTHS[:, None, None])
    attention_size = layer_size or DEPTH
    h, attention = np.zeros((BATCH, 5), np.float32), np.zeros((BATCH, attention_size), np.float32)
    state = wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32)
    for t in range(2):
        out, h = basic_rnn_step(np.concatenate([X[:, t], attention], 1), h, w_cell)
        alignments = np_mechanism(kind, w_att, MEMORY, LENGTHS, out)
        context = np.einsum("bt,btd->bd", alignments, values)
        mixed = np.concatenate([out, context], 1)
        attention = context if layer_size is None else mixed @ w_att["attention_layer/kernel"]
        output, state = wrapper(tf.constant(X[:, t]), state)
        np.testing.assert_allclose(output.numpy(), attention, atol=ATOL)
        np.testing.assert_allclose(state.alignments.numpy(), alignments, atol=ATOL)
        np.testing.assert_allclose(state.cell_state.numpy(), h, atol=ATOL)
        np.testing.assert_allclose(state.attention_state.numpy(), alignments, atol=ATOL)


def test_teacher_forced_gradients_match_finite_differences():
    """float64, 3 steps: d loss / d memory and d loss / d inputs vs central differences."""
    memory = RNG.standard_normal((2, 3, 2))
    lengths = tf.constant([3, 2])
    mechanism = seq2seq.LuongAttention(3, memory, lengths, scale=True, dtype="float64")
    wrapper = seq2seq.AttentionWrapper(rnn_cell.BasicRNNCell(3, dtype="float64"), mechanism,
                                       attention_layer_size=2, dtype="float64")
    x = RNG.standard_normal((2, 3, 2))
    probe = RNG.standard_normal((2, 3, 2))

    def loss(memory, x):
        mechanism.setup_memory(memory, lengths)
        outputs, _ = python_loop(wrapper, x, wrapper.get_initial_state(batch_size=2, dtype=tf.float64))
        return tf.reduce_sum(outputs * probe)

    memory_t, x_t = tf.constant(memory), tf.constant(x)
    loss(memory_t, x_t)  # build
    with tf.GradientTape() as tape:
        tape.watch([memory_t, x_t])
        value = loss(memory_t, x_t)
    grads = tape.gradient(value, [memory_t, x_t])
    for which, (array, grad) in enumerate(zip((memory, x), grads)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            step = np.zeros_like(array)
            step[index] = 1e-6
            args = [[memory, x], [memory, x]]
            args[0][which], args[1][which] = array + step, array - step
            numeric[index] = (float(loss(*map(tf.constant, args[0]))) - float(loss(*map(tf.constant, args[1])))) / 2e-6
        np.testing.assert_allclose(grad.numpy(), numeric, atol=1e-7)
    assert np.all(grads[0].numpy()[1, 2] == 0) and np.abs(grads[0].numpy()).max() > 0  # padding row: no influence


def test_output_attention_false_outputs_the_cell_output():
    wrapper = wrapper_of(bahdanau(), attention_layer_size=3, output_attention=False)
    assert wrapper.output_size == 5 and wrapper.state_size.attention == 3
    output, state = wrapper(tf.constant(X[:, 0]), wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32))
    np.testing.assert_array_equal(output.numpy(), state.cell_state.numpy())  # BasicRNNCell: output == state


def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        wrapper = seq2seq.AttentionWrapper(keras.layers.LSTMCell(5), bahdanau(), attention_layer_size=3)
        outputs = keras.layers.RNN(wrapper, return_sequences=True)(tf.constant(X))
        _, state = wrapper(tf.constant(X[:, 0]), wrapper.get_initial_state(batch_size=BATCH))
    finally:
        keras.config.set_dtype_policy("float32")
    assert outputs.dtype == tf.float16 and wrapper.attention_mechanisms[0].memory_kernel.dtype == "float32"
    alignments = state.alignments.numpy()
    np.testing.assert_allclose(alignments.sum(1), 1.0, atol=2e-3)
    assert np.all(alignments[np.arange(MAX_TIME)[None, :] >= LENGTHS[:, None]] == 0)


# -- drivers -------------------------------------------------------------------------------


def test_runs_in_dynamic_rnn_keras_rnn_and_nn_rnn():
    wrapper = wrapper_of(luong(), rnn_cell.MultiRNNCell([rnn_cell.LSTMCell(5), rnn_cell.GRUCell(5)]),
                         attention_layer_size=4)
    x = tf.constant(X)
    expected, final = python_loop(wrapper, x)
    assert fused.plan(wrapper, tf.transpose(x, [1, 0, 2]), None, None).path == fused.PER_STEP
    outputs, state = nn.dynamic_rnn(wrapper, x)
    np.testing.assert_allclose(outputs.numpy(), expected.numpy(), atol=ATOL)
    tf.nest.map_structure(lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), atol=ATOL), state, final)
    assert isinstance(state, seq2seq.AttentionWrapperState)
    flat = tf.nest.flatten(final)  # a flat list of the state's tensors (what some drivers pass) is accepted
    for given in (flat, list(final)):
        output, _ = wrapper(x[:, 0], given)
        np.testing.assert_allclose(output.numpy(), wrapper(x[:, 0], final)[0].numpy(), atol=1e-6)
    single = wrapper_of(luong(), rnn_cell.LSTMCell(5))  # exactly five flat tensors: (c, h), attention, 2x alignments
    start = single.get_initial_state(batch_size=BATCH, dtype=tf.float32)
    assert len(tf.nest.flatten(start)) == 5
    np.testing.assert_array_equal(single(x[:, 0], tf.nest.flatten(start))[0].numpy(), single(x[:, 0], start)[0].numpy())
    traced, _ = tf.function(lambda x: nn.dynamic_rnn(wrapper, x))(x)
    np.testing.assert_allclose(traced.numpy(), expected.numpy(), atol=ATOL)
    for layer in (keras.layers.RNN(wrapper, return_sequences=True), nn.RNN(wrapper, return_sequences=True),
                  nn.RNN(wrapper, return_sequences=True, fast=False)):
        np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), atol=ATOL)
    # nn.RNN runs seq2seq.fused_attention's hoisted loop (the wrapper's whole-sequence kernel)
    assert nn.RNN(wrapper).plan(x).path == "whole_sequence"
    assert nn.RNN(wrapper, fast=False).plan(x).path == fused.PER_STEP
    # dynamic_rnn runs seq2seq.fused_attention's hoisted loop (fast=True accepts it), rows cut
    # short too; fast=False the per-step loop
    lengths = np.array([4, 2, 3])
    for fast in (True, False):
        np.testing.assert_allclose(nn.dynamic_rnn(wrapper, x, fast=fast)[0].numpy(), expected.numpy(), atol=ATOL)
        ragged, _ = nn.dynamic_rnn(wrapper, x, sequence_length=lengths, fast=fast)
        for b, n in enumerate(lengths):  # TF1 semantics: the real steps as before, zeros after
            np.testing.assert_allclose(ragged.numpy()[b, :n], expected.numpy()[b, :n], atol=ATOL)
            assert np.all(ragged.numpy()[b, n:] == 0)


def test_dynamic_rnn_over_a_memory_of_unknown_length():
    """Traced with unknown batch and lengths (as a demo's evaluation step is), the alignments'
    state size is unknown (None) until run: the driver takes it."""
    mechanism = bahdanau()
    wrapper = wrapper_of(mechanism, rnn_cell.GRUCell(5), attention_layer_size=4)

    @tf.function(input_signature=[tf.TensorSpec([None, None, DEPTH]), tf.TensorSpec([None, None, IN_DEPTH])])
    def run(memory, x):
        mechanism.setup_memory(memory)
        assert wrapper.state_size.alignments is None
        state = wrapper.get_initial_state(batch_size=tf.shape(x)[0], dtype=tf.float32)
        return nn.dynamic_rnn(wrapper, x, initial_state=state)[0]

    mechanism.setup_memory(MEMORY)
    expected, _ = python_loop(wrapper, tf.constant(X))
    np.testing.assert_allclose(run(MEMORY, X).numpy(), expected.numpy(), atol=ATOL)


def test_xla_compiled_step_equals_eager():
    """Memory set up, teacher-forced decoder and its gradients inside one jit_compile program."""
    mechanism = bahdanau()
    wrapper = wrapper_of(mechanism, rnn_cell.LSTMCell(5), attention_layer_size=3)

    def forward_backward(memory, lengths, x):
        with tf.GradientTape() as tape:
            tape.watch(memory)
            mechanism.setup_memory(memory, lengths)
            outputs, _ = nn.dynamic_rnn(wrapper, x)
            loss = tf.reduce_sum(outputs * outputs)
        return outputs, tape.gradient(loss, [memory] + wrapper.trainable_weights)

    args = (tf.constant(MEMORY), tf.constant(LENGTHS), tf.constant(X))
    eager = forward_backward(*args)
    compiled = tf.function(forward_backward, jit_compile=True)(*args)
    for a, b in zip(tf.nest.flatten(compiled), tf.nest.flatten(eager)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=ATOL)


def test_wraps_a_keras_cell_with_an_encoder_state():
    wrapper = wrapper_of(bahdanau(), keras.layers.GRUCell(5), attention_layer_size=3)
    encoder_state = tf.constant(RNG.standard_normal((BATCH, 5)), tf.float32)
    start = wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32).clone(cell_state=[encoder_state])
    outputs, _ = python_loop(wrapper, tf.constant(X), start)
    keras_out = keras.layers.RNN(wrapper, return_sequences=True)(tf.constant(X), initial_state=list(start))
    np.testing.assert_allclose(keras_out.numpy(), outputs.numpy(), atol=ATOL)
    fresh, _ = python_loop(wrapper, tf.constant(X))
    assert np.abs(fresh.numpy() - outputs.numpy()).max() > 1e-3  # the encoder state mattered
    with_init = seq2seq.AttentionWrapper(wrapper.cell, wrapper.attention_mechanisms[0], attention_layer_size=3,
                                         initial_cell_state=[encoder_state])
    with_init.build((BATCH, IN_DEPTH))
    with_init.set_weights(wrapper.get_weights())
    np.testing.assert_allclose(python_loop(with_init, tf.constant(X))[0].numpy(), outputs.numpy(), atol=ATOL)


def test_alignment_history_in_a_graph_loop():
    wrapper = wrapper_of([luong(), bahdanau()], attention_layer_size=[2, 3], alignment_history=True)
    assert wrapper.output_size == 5 and wrapper.state_size.alignment_history == (MAX_TIME, MAX_TIME)

    @tf.function
    def run(x):
        state = wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32)
        aligns = tf.TensorArray(tf.float32, size=STEPS)

        def body(t, state, aligns):
            _, state = wrapper(x[:, t], state)
            return t + 1, state, aligns.write(t, state.alignments[1])

        _, state, aligns = tf.while_loop(lambda t, *_: t < STEPS, body, (0, state, aligns))
        return [h.stack() for h in state.alignment_history], aligns.stack()

    histories, bahdanau_aligns = run(tf.constant(X))
    assert histories[0].shape == (STEPS, BATCH, MAX_TIME)
    np.testing.assert_array_equal(histories[1].numpy(), bahdanau_aligns.numpy())
    np.testing.assert_allclose(histories[0].numpy().sum(-1), 1.0, atol=1e-6)


# -- TF1 names, config, Keras ----------------------------------------------------------------


def test_tf1_variable_names():
    single = wrapper_of(bahdanau(), rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(5)]), attention_layer_size=3)
    assert {k: tuple(v.shape) for k, v in single.tf1_variables().items()} == {
        "attention_wrapper/multi_rnn_cell/cell_0/basic_lstm_cell/kernel": (IN_DEPTH + 3 + 5, 20),
        "attention_wrapper/multi_rnn_cell/cell_0/basic_lstm_cell/bias": (20,),
        "attention_wrapper/attention_layer/kernel": (5 + DEPTH, 3),
        "attention_wrapper/bahdanau_attention/query_layer/kernel": (5, 6),
        "attention_wrapper/bahdanau_attention/attention_v": (6,),
        "attention_wrapper/bahdanau_attention/attention_g": (),
        "attention_wrapper/bahdanau_attention/attention_b": (6,),
        "memory_layer/kernel": (DEPTH, 6),
    }
    multi = wrapper_of([luong(), luong()], attention_layer_size=[2, 3], name="attention")  # nmt's scope name
    assert sorted(multi.tf1_variables()) == [
        "attention/attention_layer/kernel", "attention/attention_layer_1/kernel",
        "attention/basic_rnn_cell/bias", "attention/basic_rnn_cell/kernel",
        "attention/luong_attention/attention_g", "attention/luong_attention_1/attention_g",
        "memory_layer/kernel", "memory_layer_1/kernel",
    ]
    assert len(multi.trainable_weights) == 8


# tensorflow/nmt's nmt/model_test.py, testAttentionMechanism{Luong,ScaledLuong,Bahdanau,NormedBahdanau} and
# testUniEncoderStandardAttentionArchitecture: the decoder variables of a 2-layer uni model (embedding and
# output projection left out), as TF1 contrib's AttentionWrapper(name="attention") named them.
NMT_DECODER = [
    "dynamic_seq2seq/decoder/memory_layer/kernel",
    "dynamic_seq2seq/decoder/attention/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
    "dynamic_seq2seq/decoder/attention/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
    "dynamic_seq2seq/decoder/attention/multi_rnn_cell/cell_1/basic_lstm_cell/kernel",
    "dynamic_seq2seq/decoder/attention/multi_rnn_cell/cell_1/basic_lstm_cell/bias",
    "dynamic_seq2seq/decoder/attention/attention_layer/kernel",
]
NMT_SCORE = {
    "luong": [],
    "scaled_luong": ["dynamic_seq2seq/decoder/attention/luong_attention/attention_g"],
    "bahdanau": ["dynamic_seq2seq/decoder/attention/bahdanau_attention/query_layer/kernel",
                 "dynamic_seq2seq/decoder/attention/bahdanau_attention/attention_v"],
    "normed_bahdanau": ["dynamic_seq2seq/decoder/attention/bahdanau_attention/query_layer/kernel",
                        "dynamic_seq2seq/decoder/attention/bahdanau_attention/attention_v",
                        "dynamic_seq2seq/decoder/attention/bahdanau_attention/attention_g",
                        "dynamic_seq2seq/decoder/attention/bahdanau_attention/attention_b"],
}


@pytest.mark.parametrize("kind", list(NMT_SCORE))
def test_loads_a_tensorflow_nmt_checkpoint_layout(kind, tmp_path):
    mechanism = {"luong": lambda: seq2seq.LuongAttention(5, MEMORY, LENGTHS),
                 "scaled_luong": luong,
                 "bahdanau": lambda: seq2seq.BahdanauAttention(6, MEMORY, LENGTHS),
                 "normed_bahdanau": bahdanau}[kind]()
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(5), rnn_cell.BasicLSTMCell(5)])
    wrapper = wrapper_of(mechanism, cell, attention_layer_size=5, name="attention")
    scope = "dynamic_seq2seq/decoder"
    names = compat.tf1_variable_names(wrapper, scope=scope)
    assert names == sorted(NMT_DECODER + NMT_SCORE[kind])
    # a name-based TF1 checkpoint with exactly those names (what tf.compat.v1.train.Saver writes)
    variables = {f"{scope}/{rel}": var for rel, var in wrapper.tf1_variables().items()}
    rng = np.random.default_rng(7)
    values = {name: rng.standard_normal(variables[name].shape).astype(np.float32) for name in names}
    prefix = os.path.join(str(tmp_path), "nmt.ckpt")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
    compat.load_tf1_checkpoint(prefix, wrapper, scope=scope)
    for name in names:
        np.testing.assert_array_equal(variables[name].numpy(), values[name])


def test_config_round_trip():
    wrapper = wrapper_of([luong(probability_fn="hardmax"), bahdanau()], rnn_cell.LSTMCell(5),
                         attention_layer_size=[2, 3], alignment_history=True, output_attention=False)
    config = wrapper.get_config()
    clone = seq2seq.AttentionWrapper.from_config(config)
    assert clone.get_config() == config
    assert [type(m) for m in clone.attention_mechanisms] == [seq2seq.LuongAttention, seq2seq.BahdanauAttention]
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(wrapper))
    assert revived.get_config() == config and revived.attention_mechanisms[0].memory_depth == DEPTH
    layer = wrapper_of(bahdanau(), attention_layer=keras.layers.Dense(3, name="mix"))
    assert layer.output_size == 3 and "attention_layer" in layer.get_config()
    assert seq2seq.AttentionWrapper.from_config(layer.get_config()).get_config() == layer.get_config()


@keras.saving.register_keras_serializable(package="tfseq_tests")
class AttentionTranslator(keras.Model):
    """Tiny encoder-decoder: GRU encoder, scaled-Luong attention LSTM decoder, Dense head."""

    def __init__(self, vocab=6, units=8, **kwargs):
        super().__init__(**kwargs)
        self.vocab, self.units = vocab, units
        self.embed = keras.layers.Embedding(vocab, units)
        self.encoder = nn.RNN(rnn_cell.GRUCell(units), return_sequences=True)
        self.mechanism = seq2seq.LuongAttention(units, scale=True)
        self.decoder = keras.layers.RNN(
            seq2seq.AttentionWrapper(rnn_cell.LSTMCell(units), self.mechanism, attention_layer_size=units),
            return_sequences=True,
        )
        self.head = keras.layers.Dense(vocab)

    def call(self, inputs):
        source, target_in = inputs
        self.mechanism.setup_memory(self.encoder(self.embed(source)))
        return self.head(self.decoder(self.embed(target_in)))

    def get_config(self):
        return {**super().get_config(), "vocab": self.vocab, "units": self.units}


def _copy_task(n=64, time=5, vocab=6, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.integers(1, vocab, (n, time)).astype(np.int32)
    target_in = np.concatenate([np.zeros((n, 1), np.int32), source[:, :-1]], 1)  # teacher forcing, 0 = start
    return source, target_in, source


def test_keras_model_trains_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    source, target_in, target = _copy_task()
    model = AttentionTranslator()
    model.compile(keras.optimizers.Adam(0.02), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)
    history = model.fit((source, target_in), target, batch_size=16, epochs=6, verbose=0)
    assert history.history["loss"][-1] < 0.85 * history.history["loss"][0], history.history["loss"]
    path = os.path.join(str(tmp_path), "translator.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded((source[:4], target_in[:4])).numpy(),
                               model((source[:4], target_in[:4])).numpy(), atol=1e-6)


def test_gradient_tape_loop():
    keras.utils.set_random_seed(0)
    source, target_in, target = _copy_task(n=16)
    model = AttentionTranslator()
    optimizer = keras.optimizers.Adam(0.02)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(source, target_in, target):
        with tf.GradientTape() as tape:
            loss = loss_fn(target, model((source, target_in)))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss, [tf.convert_to_tensor(g) for g in grads]

    first, grads = step(source, target_in, target)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in grads)
    assert len(grads) == len(model.trainable_weights) and all(np.abs(g.numpy()).max() > 0 for g in grads)
    for _ in range(10):
        loss, _ = step(source, target_in, target)
    assert float(loss) < 0.8 * float(first)


# -- bad input ----------------------------------------------------------------------------------


def test_batch_mismatch_is_a_clear_error():
    wrapper = wrapper_of(bahdanau())
    with pytest.raises(ValueError, match=r"batch size 6 but the memory of .* has 3.*tile_batch"):
        wrapper.get_initial_state(batch_size=6, dtype=tf.float32)
    state = wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32)
    wrong = tf.nest.map_structure(lambda t: tf.concat([t, t], 0), state)
    with pytest.raises(ValueError, match=r"the cell output \(decoder batch\) has batch size 6.*has 3"):
        wrapper(tf.zeros([6, IN_DEPTH]), wrong)
    with pytest.raises(ValueError, match="initial_cell_state has batch size 2"):
        seq2seq.AttentionWrapper(rnn_cell.BasicRNNCell(5), bahdanau(), initial_cell_state=tf.zeros([2, 5]))
    traced = tf.function(lambda x, s: wrapper(x, s), input_signature=[
        tf.TensorSpec([None, IN_DEPTH]), tf.nest.map_structure(lambda t: tf.TensorSpec([None, t.shape[1]]), state)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="decoder batch differs from the memory batch"):
        traced(tf.zeros([6, IN_DEPTH]), wrong)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(attention_mechanism="luong"), TypeError, "attention_mechanism must be an AttentionMechanism"),
        (dict(attention_layer_size=[2, 3]), ValueError, r"attention_layer_size must have one entry per attention "
                                                        r"mechanism \(1\), got \[2, 3\]"),
        (dict(attention_layer_size=0), ValueError, "attention_layer_size must be a positive integer, got 0"),
        (dict(attention_layer_size=2, attention_layer=keras.layers.Dense(2)), ValueError,
         "attention_layer_size or attention_layer, not both"),
        (dict(output_attention=None), ValueError, "output_attention must be True or False, got None"),
        (dict(alignment_history=1), ValueError, "alignment_history must be True or False, got 1"),
        (dict(cell_input_fn="concat"), TypeError, "cell_input_fn must be callable or None, got 'concat'"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    kwargs = {"attention_mechanism": bahdanau(), **kwargs}
    with pytest.raises(error, match=match):
        seq2seq.AttentionWrapper(rnn_cell.BasicRNNCell(5), **kwargs)


def test_errors_when_building_or_cloning():
    no_memory = seq2seq.AttentionWrapper(rnn_cell.BasicRNNCell(5), seq2seq.BahdanauAttention(4))
    with pytest.raises(ValueError, match=r"needs its memory \(memory= or setup_memory\(\)\)"):
        no_memory.build((BATCH, IN_DEPTH))
    luong_wrong_units = seq2seq.AttentionWrapper(rnn_cell.BasicRNNCell(7), luong())
    with pytest.raises(ValueError, match="query depth must equal units=5 for Luong attention, got 7"):
        luong_wrong_units.build((BATCH, IN_DEPTH))
    state = wrapper_of(bahdanau()).get_initial_state(batch_size=BATCH, dtype=tf.float32)
    with pytest.raises(ValueError, match=r"clone: a new tensor must have the shape \(3, 5\).*got \(3, 4\)"):
        state.clone(cell_state=tf.zeros([3, 4]))


def test_custom_cell_input_and_attention_fn():
    calls = []

    def only_inputs(inputs, attention):
        return inputs

    def scaled(mechanism, cell_output, state, layer):
        calls.append(mechanism.name)
        attention, alignments, next_state = seq2seq.compute_attention(mechanism, cell_output, state, layer)
        return 2.0 * attention, alignments, next_state

    plain = wrapper_of(bahdanau(), cell_input_fn=only_inputs)
    assert plain.cell.tf1_variables()["basic_rnn_cell/kernel"].shape == (IN_DEPTH + 5, 5)
    custom = wrapper_of(plain.attention_mechanisms[0], rnn_cell.BasicRNNCell(5), cell_input_fn=only_inputs,
                        attention_fn=scaled)
    custom.set_weights(plain.get_weights())
    state = plain.get_initial_state(batch_size=BATCH, dtype=tf.float32)
    np.testing.assert_allclose(custom(tf.constant(X[:, 0]), state)[0].numpy(),
                               2.0 * plain(tf.constant(X[:, 0]), state)[0].numpy(), atol=1e-6)
    assert calls
