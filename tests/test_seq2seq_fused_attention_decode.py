"""``dynamic_decode`` takes the hoisted attention loop for teacher forcing in the spellings users
write, and answers exactly as its per-step loop: TF1's ``dynamic_decode(BasicDecoder(cell,
TrainingHelper(inputs, lengths, time_major), initial_state, output_layer))`` (tensorflow/nmt's,
time major with run-time target lengths), time-major inputs through the sampler spelling, the
rows' lengths from a Keras mask on the inputs, and XLA with ``maximum_iterations`` beyond the inputs (outputs that long, zeros past the last step).
Compared: outputs, sample ids, lengths, final state and the gradients of the inputs, the memory
and every weight. Also: ``nn.dynamic_rnn`` over the wrapper takes the loop (full-length inputs),
a subclass that overrides ``call`` does not, and inside a plain ``tf.function`` the loop compiles
itself with XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_seq2seq_fused_attention import LENGTHS, MEMORY, V_OUT, B, T, X, make, paths, sampler_states

from tfseq import nn, rnn_cell
from tfseq import seq2seq as s2s
from tfseq.nn import fused
from tfseq.rnn_cell.fusion import NotFusable, sequence_kernel
from tfseq.seq2seq import fused_attention, fused_attention_decode

TARGET_LENGTHS = [4, 2, 3]


def nmt_spelling(wrapper, output_layer, x, lengths):
    """tensorflow/nmt's training decoder: time major, the projection after ``dynamic_decode``."""
    helper = s2s.TrainingHelper(tf.transpose(x, [1, 0, 2]), lengths, time_major=True)
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    decoder = s2s.BasicDecoder(wrapper, helper, state)
    outputs, final, out_lengths = s2s.dynamic_decode(decoder, output_time_major=True, swap_memory=True,
                                                     scope="decoder")
    logits = output_layer(outputs.rnn_output)  # [T, batch, V]
    return tf.transpose(logits, [1, 0, 2]), outputs.sample_id, final, out_lengths


def tf1_layer_inside(wrapper, output_layer, x, lengths):
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingHelper(x, lengths), state, output_layer)
    outputs, final, out_lengths = s2s.dynamic_decode(decoder)
    return outputs.rnn_output, outputs.sample_id, final, out_lengths


def time_major_inputs(wrapper, output_layer, x, lengths):
    """The sampler spelling with time-major inputs and batch-major outputs."""
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(time_major=True), output_layer=output_layer)
    outputs, final, out_lengths = decoder(tf.transpose(x, [1, 0, 2]), initial_state=state, sequence_length=lengths)
    return outputs.rnn_output, outputs.sample_id, final, out_lengths


def xla_longer_maximum(wrapper, output_layer, x, lengths):
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), output_layer=output_layer, maximum_iterations=T + 3)
    outputs, final, out_lengths = decoder(x, initial_state=state, sequence_length=lengths)
    return outputs.rnn_output, outputs.sample_id, final, out_lengths


def keras_mask_on_the_inputs(wrapper, output_layer, x, lengths):
    """No ``sequence_length``: the rows' lengths come from the Keras mask the inputs carry (a
    ``Masking`` layer's here, an ``Embedding(mask_zero=True)``'s in a translation model)."""
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    masked = keras.layers.Masking()(x * tf.sequence_mask(lengths, T, x.dtype)[:, :, None])
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), output_layer=output_layer)
    outputs, final, out_lengths = decoder(masked, initial_state=state)
    return outputs.rnn_output, outputs.sample_id, final, out_lengths


SPELLINGS = {  # name: (function, lengths known at trace time, jit_compile, output steps)
    "nmt, run-time lengths": (nmt_spelling, False, False, max(TARGET_LENGTHS)),
    "a Keras mask on the inputs": (keras_mask_on_the_inputs, False, False, max(TARGET_LENGTHS)),
    "TF1, layer inside, static lengths": (tf1_layer_inside, True, False, max(TARGET_LENGTHS)),
    "time-major inputs": (time_major_inputs, False, False, max(TARGET_LENGTHS)),
    "XLA, maximum_iterations > T": (xla_longer_maximum, True, True, T + 3),
}


def run(spelling, hoisted):
    """``[outputs, sample ids, lengths, *final state, *gradients]`` and how often the hoisted loop ran."""
    function, static, jit, _ = SPELLINGS[spelling]
    wrapper, mechanism = make()
    output_layer = keras.layers.Dense(V_OUT)
    output_layer.build((None, wrapper.output_size))
    x, memory = tf.Variable(X), tf.Variable(MEMORY)

    def go(lengths):
        with tf.GradientTape() as tape:
            mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
            logits, ids, final, out_lengths = function(wrapper, output_layer, x.value(), lengths)
            flat = [t for t in tf.nest.flatten(final) if isinstance(t, tf.Tensor)]
            loss = tf.reduce_sum(tf.sin(logits)) + sum(tf.reduce_sum(t) * 0.1 * (i + 1) for i, t in enumerate(flat))
        sources = [x, memory] + wrapper.trainable_variables + output_layer.trainable_variables
        return [logits, ids, out_lengths] + flat + tape.gradient(loss, sources)

    with paths(hoisted) as taken:
        if static:
            result = tf.function(lambda: go(tf.constant(TARGET_LENGTHS)), jit_compile=jit)()
        else:
            result = tf.function(go, input_signature=[tf.TensorSpec([B], tf.int32)], jit_compile=jit)(
                tf.constant(TARGET_LENGTHS))
    return [tf.zeros([]) if r is None else r for r in result], len(taken)


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_teacher_forcing_takes_the_hoisted_loop_and_equals_the_per_step_loop(spelling):
    ref, ref_taken = run(spelling, hoisted=False)
    mine, taken = run(spelling, hoisted=True)
    assert (ref_taken, taken) == (0, 1)
    steps = SPELLINGS[spelling][3]
    assert mine[0].shape == ref[0].shape == (B, steps, V_OUT)
    np.testing.assert_array_equal(mine[1], ref[1])
    np.testing.assert_array_equal(mine[2], TARGET_LENGTHS)
    assert len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")
    if steps > max(TARGET_LENGTHS):  # padded as the per-step loop's fixed-size outputs are
        assert not np.any(mine[0][:, max(TARGET_LENGTHS):])


def test_other_helpers_and_loop_settings_stay_per_step():
    wrapper, _ = make()
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    x = tf.constant(X)
    tf1 = s2s.BasicDecoder(wrapper, s2s.TrainingHelper(x, TARGET_LENGTHS), state)
    loop = fused_attention_decode.DecodeLoop(maximum_iterations=tf.constant(T))
    assert fused_attention_decode.decoder_plan(tf1, x, state, {"sequence_length": TARGET_LENGTHS}, None, loop).path == (
        fused_attention.HOISTED)
    assert fused_attention_decode.decoder_plan(tf1, x, state, {"sequence_length": TARGET_LENGTHS}, None,
                                        fused_attention_decode.DecodeLoop(maximum_iterations=T - 1)) == (
        fused_attention.PER_STEP, "maximum_iterations may stop before the inputs end")
    run_time = []
    tf.function(lambda most: run_time.append(fused_attention_decode.decoder_plan(
        tf1, x, state, {}, None, fused_attention_decode.DecodeLoop(maximum_iterations=most)).reason) or most).get_concrete_function(
        tf.TensorSpec([], tf.int32))
    assert run_time == ["maximum_iterations may stop before the inputs end"]
    scheduled = s2s.BasicDecoder(wrapper, s2s.ScheduledEmbeddingTrainingHelper(
        x, TARGET_LENGTHS, lambda ids: tf.zeros([B, X.shape[-1]]), 0.5), state)
    assert fused_attention_decode.decoder_plan(scheduled, x, state, {}).reason == "the sampler is not a TrainingSampler"


def test_a_state_of_another_batch_is_named_as_on_the_per_step_loop():
    wrapper, _ = make()
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    inputs = tf.constant(np.concatenate([X, X[:1]]))  # one row more than the state
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingHelper(inputs, TARGET_LENGTHS + [1]), state)
    with pytest.raises(ValueError, match=f"initial_state has batch size {B} but the decoder's batch is {B + 1}"):
        s2s.dynamic_decode(decoder)


@pytest.mark.parametrize("time_major", [False, True])
def test_dynamic_rnn_over_full_length_inputs_takes_the_hoisted_loop(time_major):
    """TF1's ``tf.nn.dynamic_rnn(attention_cell, inputs, initial_state=...)``; with input dropout, so
    that both paths must draw the same masks; full-length ``sequence_length`` too."""
    results, taken = [], []
    teacher_forced = fused_attention.teacher_forced
    fused_attention.teacher_forced = lambda *a, **k: taken.append(1) or teacher_forced(*a, **k)
    try:
        for fast in (None, False):
            wrapper, mechanism = make(dropout={"input_keep_prob": 0.6})
            x = tf.Variable(np.transpose(X, [1, 0, 2]) if time_major else X)
            with tf.GradientTape() as tape:
                mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
                state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
                outputs, final = nn.dynamic_rnn(wrapper, x, sequence_length=[T] * B, initial_state=state,
                                                    time_major=time_major, training=True, fast=fast)
                flat = [t for t in tf.nest.flatten(final) if isinstance(t, tf.Tensor)]
                loss = tf.reduce_sum(tf.sin(outputs)) + sum(tf.reduce_sum(t) * 0.1 * (i + 1) for i, t in enumerate(flat))
            results.append([outputs] + flat + tape.gradient(loss, [x] + wrapper.trainable_variables))
    finally:
        fused_attention.teacher_forced = teacher_forced
    assert taken == [1]
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")


def test_a_subclass_that_overrides_call_runs_per_step():
    class Logged(s2s.AttentionWrapper):
        def call(self, inputs, states, training=None):
            return super().call(inputs * 2.0, states, training=training)

    keras.utils.set_random_seed(3)
    mechanism = s2s.LuongAttention(5, memory=tf.constant(MEMORY), memory_sequence_length=LENGTHS)
    wrapper = Logged(rnn_cell.BasicLSTMCell(5), mechanism, attention_layer_size=4)
    assert fused_attention.plan(wrapper) == (fused_attention.PER_STEP, "Logged overrides call()")
    with pytest.raises(NotFusable, match="Logged has no whole-sequence kernel"):
        sequence_kernel(wrapper, wrapper.get_initial_state(batch_size=B, dtype=tf.float32))
    with pytest.raises(NotFusable, match="BasicLSTMCell has no whole-sequence kernel"):
        sequence_kernel(rnn_cell.BasicLSTMCell(5), None)
    per_step, _ = nn.dynamic_rnn(wrapper, X, fast=False)
    np.testing.assert_allclose(nn.dynamic_rnn(wrapper, X)[0], per_step, atol=1e-6)  # its own call, doubled inputs


def test_the_loop_compiles_itself_inside_a_plain_tf_function():
    """A training step written as a plain ``tf.function`` (TF Addons' tutorials) runs the loop
    under XLA, forward and backward, with the numbers of the eager (uncompiled) loop."""
    wrapper, mechanism = make(dropout={"input_keep_prob": 0.6})
    x = tf.Variable(X)
    start = [v.numpy() for v in sampler_states(wrapper)]

    def step():
        for variable, value in zip(sampler_states(wrapper), start):
            variable.assign(value)
        with tf.GradientTape() as tape:
            mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            outputs, _ = fused_attention.teacher_forced(wrapper, x, state, training=True)
            loss = tf.reduce_sum(tf.sin(outputs))
        return [outputs] + tape.gradient(loss, [x] + wrapper.trainable_variables)

    traced = tf.function(step)
    graph = traced.get_concrete_function().graph.as_graph_def()
    compiled = [f.signature.name for f in graph.library.function if f.attr["_XlaMustCompile"].b]
    assert any("backward" in name for name in compiled) and len(compiled) >= 2, compiled
    for a, b in zip(traced(), step()):  # eagerly: the loop as plain ops
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def masked_run(wrapper, mechanism, mask, layer=None):
    """``[outputs, *final state, *gradients]`` over ``X`` with a Keras ``mask``, in a ``tf.function``,
    from a non-zero state: through ``layer`` (a ``tfseq.nn.RNN`` over the wrapper), or, without
    one, the reference, a loop stepping the wrapper by hand with Keras' mask semantics (zeros out
    and every state tensor carried where the mask is False)."""
    x, memory = tf.Variable(X), tf.Variable(MEMORY)

    @tf.function
    def go():
        with tf.GradientTape() as tape:
            mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
            start = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            start = start.clone(cell_state=tf.nest.map_structure(lambda t: t + 0.3, start.cell_state),
                                attention=start.attention + 0.2, alignments=start.alignments + 0.1)
            if layer is not None:
                outputs, *state = layer(x, initial_state=tf.nest.flatten(start), mask=tf.constant(mask))
            else:
                state, steps = start, []
                for t in range(T):
                    keep = tf.constant(mask[:, t])[:, None]
                    output, new = wrapper(x[:, t], state)
                    steps.append(tf.where(keep, output, tf.zeros_like(output)))
                    state = tf.nest.map_structure(lambda a, b: tf.where(keep, a, b), new, state)
                outputs, state = tf.stack(steps, 1), tf.nest.flatten(state)
            loss = tf.reduce_sum(tf.sin(outputs)) + sum(tf.reduce_sum(tf.cos(t * (i + 1))) for i, t in enumerate(state))
        grads = tape.gradient(loss, [x, memory] + wrapper.trainable_variables)
        return [outputs, *state] + [tf.convert_to_tensor(g) for g in grads]  # Keras cells' biases: slices

    return go()


@pytest.mark.parametrize("cell_kind,mechanism,stack", [
    (rnn_cell.BasicLSTMCell, "luong", rnn_cell.MultiRNNCell),
    (rnn_cell.GRUCell, "normed_bahdanau", rnn_cell.MultiRNNCell),
    ([keras.layers.LSTMCell, lambda n: keras.layers.GRUCell(n, reset_after=True)], "bahdanau",
     keras.layers.StackedRNNCells),
])
def test_tfseq_rnn_layer_takes_the_loop_with_a_keras_mask(cell_kind, mechanism, stack):
    """``tfseq.nn.RNN`` over the wrapper runs the hoisted loop, also with a Keras mask at any steps
    (leading, inner and trailing ones masked, one row masked throughout): zeros at masked steps
    and the whole state carried, as stepping the wrapper by hand does, outputs, states and
    gradients. (Keras' own loop cannot mask the wrapper's nested state.)"""
    wrapper, mechanism = make(cell_kind=cell_kind, mechanism=mechanism, stack=stack)
    mask = np.ones([B, T], bool)
    mask[0, 3:] = False
    mask[1, [0, 2]] = False
    mask[2, :] = False
    layer = nn.RNN(wrapper, return_sequences=True, return_state=True, zero_output_for_mask=True)
    assert layer.plan(tf.constant(X)).path == "whole_sequence"
    with paths(hoisted=True) as taken:
        mine = masked_run(wrapper, mechanism, mask, layer)
    assert taken == [1]
    ref = masked_run(wrapper, mechanism, mask)
    assert not np.any(mine[0].numpy()[~mask])
    assert len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")
    assert nn.RNN(wrapper, fast=False).plan(tf.constant(X)).path == fused.PER_STEP
