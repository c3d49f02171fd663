"""Keras' mixed precision (``mixed_bfloat16``) through tfseq: cells, the per-step and fused RNN
paths, the attention wrapper and its hoisted teacher-forcing loop, BasicDecoder with
``sequence_loss`` and BeamSearchDecoder.

Under the policy the weights stay float32, the outputs are bfloat16, the loss and the
beam-search scores are float32 and the gradients reach the optimizer as float32.

Tolerance. bfloat16 keeps 8 significant bits: one rounding moves a value by up to
2^-8 ≈ 0.4 % of its size. A step of these small models rounds each matmul input once and
every gate activation once, and the errors of a few steps (≤ 6 here) add up, mostly
cancelling; measured, outputs and gradients differ from float32 by up to 2-3 % of their largest
value (the gradients of small weights the most). The tests allow ``BF16_TOL = 4 %`` of the largest
magnitude (ten bfloat16 roundings) —
far below the differences a wrong path gives (a dropped gate, a missing bias, the float32
weights used without the inputs' cast: tens of percent or a dtype error). Fused and
per-step paths under the same policy round differently too (the fused path projects all
inputs at once and sums in another order), so they are compared with the same tolerance.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq import seq2seq as s2s
from tfseq.nn import fused
from tfseq.seq2seq import fused_attention

BF16_TOL = 0.04  # of the largest magnitude; see the module docstring
B, T, D, H, S, M, A, V = 3, 6, 5, 8, 4, 7, 6, 11
rng = np.random.default_rng(11)
X = rng.standard_normal((B, T, D)).astype(np.float32)
MEMORY = rng.standard_normal((B, S, M)).astype(np.float32)
MEMORY_LENGTHS = np.array([4, 2, 3], np.int32)
IDS = rng.integers(3, V, (B, T)).astype(np.int32)


@pytest.fixture
def policy():
    """Sets a global dtype policy for the test and restores the one before it afterwards."""
    before = keras.config.dtype_policy()
    yield keras.mixed_precision.set_dtype_policy
    keras.mixed_precision.set_dtype_policy(before)


def assert_bf16_close(actual, expected, what=""):
    actual = np.asarray(tf.cast(actual, tf.float32))
    expected = np.asarray(tf.cast(expected, tf.float32))
    scale = np.abs(expected).max()
    assert scale > 0, what
    np.testing.assert_allclose(actual, expected, atol=BF16_TOL * scale, rtol=0, err_msg=what)


def under(policy, name, build):
    """``build()`` under the global dtype policy ``name``; the policy is set back to float32 after."""
    policy(name)
    try:
        return build()
    finally:
        policy("float32")


def copy_weights(source, target):
    assert len(source.weights) == len(target.weights)
    for s, t in zip(source.weights, target.weights):
        t.assign(s)


def stack_cells():
    return rnn_cell.MultiRNNCell([
        rnn_cell.BasicLSTMCell(H, forget_bias=1.0),
        rnn_cell.LSTMCell(H, use_peepholes=True, num_proj=6),
        rnn_cell.GRUCell(H),
    ])


def run_rnn(cell, fast, policy_name, policy):
    """Outputs, final state and float32 gradients of ``dynamic_rnn`` on the given policy."""

    def go():
        x = tf.constant(X)
        if policy_name != "float32":
            x = tf.cast(x, tf.bfloat16)  # a mixed model's embedding/previous layer hands bf16 on
        with tf.GradientTape() as tape:
            outputs, state = nn.dynamic_rnn(cell, x, sequence_length=[6, 3, 5], dtype=x.dtype, fast=fast)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * np.linspace(-1, 1, outputs.shape[-1]))
        return outputs, state, tape.gradient(loss, cell.trainable_variables)

    policy(policy_name)
    try:
        return go()
    finally:
        policy("float32")


def built(make, policy_name, policy):
    cell = under(policy, policy_name, make)
    under(policy, policy_name, lambda: nn.dynamic_rnn(cell, tf.cast(X, cell.compute_dtype), dtype=cell.compute_dtype))
    return cell


def test_cells_keep_float32_weights_and_compute_in_bfloat16(policy):
    # Seeded weights: the error against float32 depends on the draw (worst element 1.3-3.3 % of
    # the largest over seeds 0-7; one unseeded draw in a CI run reached 4.2 %).
    keras.utils.set_random_seed(0)
    reference = built(stack_cells, "float32", policy)
    cell = built(stack_cells, "mixed_bfloat16", policy)
    copy_weights(reference, cell)
    assert {w.dtype for w in cell.weights} == {"float32"}
    assert fused.plan(cell, tf.cast(X, tf.bfloat16)).path == "fused_multi[lstm,lstm,gru]"
    assert fused.plan(cell, tf.constant(X)).path == "fused_multi[lstm,lstm,gru]"  # float32 inputs: autocast
    out_ref, state_ref, grads_ref = run_rnn(reference, None, "float32", policy)
    results = {fast: run_rnn(cell, fast, "mixed_bfloat16", policy) for fast in (False, None)}
    for fast, (outputs, state, grads) in results.items():
        assert outputs.dtype == tf.bfloat16, fast
        assert {s.dtype for s in tf.nest.flatten(state)} == {tf.bfloat16}, fast
        assert_bf16_close(outputs, out_ref, f"outputs fast={fast}")
        for mine, ref in zip(tf.nest.flatten(state), tf.nest.flatten(state_ref)):
            assert_bf16_close(mine, ref, f"state fast={fast}")
        assert len(grads) == len(grads_ref) == 12
        for i, (mine, ref) in enumerate(zip(grads, grads_ref)):
            assert mine.dtype == tf.float32, i
            assert_bf16_close(mine, ref, f"gradient {i} fast={fast}")
    # the fused path under the policy equals the per-step path under the policy
    (out_step, _, grads_step), (out_fused, _, grads_fused) = results[False], results[None]
    assert_bf16_close(out_fused, out_step, "fused vs per-step outputs")
    for i, (mine, ref) in enumerate(zip(grads_fused, grads_step)):
        assert_bf16_close(mine, ref, f"fused vs per-step gradient {i}")


def test_float32_fused_path_still_equals_the_per_step_path(policy):
    """The casts for mixed precision are no-ops in float32: fused == per-step to 1e-5, as before."""
    cell = built(stack_cells, "float32", policy)
    (out_step, _, grads_step), (out_fused, _, grads_fused) = (run_rnn(cell, f, "float32", policy)
                                                              for f in (False, None))
    assert out_fused.dtype == tf.float32
    np.testing.assert_allclose(out_fused, out_step, atol=1e-5, rtol=0)
    for mine, ref in zip(grads_fused, grads_step):
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)


def test_rnn_layer_with_a_mixed_dtype_argument(policy):
    """A layer's own ``dtype="mixed_bfloat16"`` (no global policy) runs fused, float32 weights."""
    layer = nn.RNN(rnn_cell.BasicLSTMCell(H, dtype="mixed_bfloat16"), return_sequences=True, dtype="mixed_bfloat16")
    reference = nn.RNN(rnn_cell.BasicLSTMCell(H), return_sequences=True)
    x = tf.constant(X)
    reference(x)
    layer(x)
    copy_weights(reference, layer)
    assert keras.config.dtype_policy().name == "float32"
    assert layer.plan(tf.cast(x, tf.bfloat16)).path == "fused_lstm"
    assert layer.cell.kernel.dtype == "float32"
    with tf.GradientTape(persistent=True) as tape:
        out, out_ref = layer(x), reference(x)
        loss, loss_ref = (tf.reduce_sum(tf.cast(o, tf.float32) ** 2) for o in (out, out_ref))
    assert out.dtype == tf.bfloat16
    assert_bf16_close(out, out_ref, "outputs")
    grads = tape.gradient(loss, layer.trainable_variables)
    grads_ref = tape.gradient(loss_ref, reference.trainable_variables)
    for mine, ref in zip(grads, grads_ref):
        assert mine.dtype == tf.float32
        assert_bf16_close(mine, ref, "gradient")


def attention_model(kind="lstm_luong"):
    """``kind``: ``"lstm_luong"`` (scaled Luong), ``"keras_cells"`` (Keras' ``LSTMCell`` and
    ``GRUCell`` in ``StackedRNNCells``, scaled Luong) or ``"gru_bahdanau"`` (Bahdanau; not the normalised
    form, whose scalar ``g`` has a small gradient summed from terms that largely cancel: a bound
    relative to it fails in bfloat16 on the per-step path as on the hoisted one)."""
    keras.utils.set_random_seed(5)
    if kind == "lstm_luong":
        cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(H, forget_bias=1.0) for _ in range(2)])
        mechanism = s2s.LuongAttention(H, scale=True)
    elif kind == "gru_bahdanau":
        cell = rnn_cell.MultiRNNCell([rnn_cell.GRUCell(H) for _ in range(2)])
        mechanism = s2s.BahdanauAttention(H)
    else:  # Keras' own cells, as TF Addons programs stack them
        cell = keras.layers.StackedRNNCells([keras.layers.LSTMCell(H), keras.layers.GRUCell(H)])
        mechanism = s2s.LuongAttention(H, scale=True)
    wrapper = s2s.AttentionWrapper(cell, mechanism, attention_layer=keras.layers.Dense(A, use_bias=False))
    embedding = keras.layers.Embedding(V, D)
    output_layer = keras.layers.Dense(V)
    return wrapper, mechanism, embedding, output_layer


def setup(model, batch_multiplier=1):
    wrapper, mechanism, _, _ = model
    memory, lengths = tf.constant(MEMORY), tf.constant(MEMORY_LENGTHS)
    if batch_multiplier > 1:
        memory, lengths = s2s.tile_batch(memory, batch_multiplier), s2s.tile_batch(lengths, batch_multiplier)
    mechanism.setup_memory(memory, memory_sequence_length=lengths)
    state = wrapper.get_initial_state(batch_size=B * batch_multiplier, dtype=wrapper.compute_dtype)
    return state


def build_attention(policy_name, policy, kind="lstm_luong"):
    def make():
        model = attention_model(kind)
        wrapper, _, embedding, output_layer = model
        state = setup(model)
        out, _ = wrapper(embedding(tf.constant(IDS[:, 0])), state)
        output_layer(out)
        return model
    return under(policy, policy_name, make)


def all_weights(model):
    wrapper, _, embedding, output_layer = model
    return wrapper.weights + embedding.weights + output_layer.weights


def copy_model(source, target):
    for s, t in zip(all_weights(source), all_weights(target)):
        t.assign(s)


def teacher_forced_loss(model, path, policy_name, policy):
    wrapper, _, embedding, output_layer = model

    def go():
        variables = wrapper.trainable_variables + embedding.trainable_variables + output_layer.trainable_variables
        with tf.GradientTape() as tape:
            state = setup(model)
            inputs = embedding(tf.constant(IDS))
            if path == "hoisted":
                assert fused_attention.plan(wrapper).path == fused_attention.HOISTED
                outputs, _ = fused_attention.teacher_forced(wrapper, inputs, state)
            elif path == "per_step":
                outputs, _ = nn.dynamic_rnn(wrapper, inputs, initial_state=state, fast=False)
            else:  # BasicDecoder with teacher forcing (takes the hoisted loop by its plan)
                decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), output_layer=None)
                outputs = decoder(inputs, initial_state=state)[0].rnn_output
            logits = output_layer(outputs)
            loss = s2s.sequence_loss(logits, tf.constant(IDS), tf.sequence_mask([6, 4, 5], T, tf.float32))
        return logits, loss, tape.gradient(loss, variables)

    return under(policy, policy_name, go)


@pytest.mark.parametrize("path,kind", [("per_step", "lstm_luong"), ("hoisted", "lstm_luong"), ("decoder", "lstm_luong"),
                                       ("per_step", "gru_bahdanau"), ("hoisted", "gru_bahdanau"),
                                       ("hoisted", "keras_cells")])
def test_attention_decoder_training_under_mixed_precision(path, kind, policy):
    reference = build_attention("float32", policy, kind)
    model = build_attention("mixed_bfloat16", policy, kind)
    copy_model(reference, model)
    assert {w.dtype for w in all_weights(model)} == {"float32"}
    logits_ref, loss_ref, grads_ref = teacher_forced_loss(reference, "per_step", "float32", policy)
    logits, loss, grads = teacher_forced_loss(model, path, "mixed_bfloat16", policy)
    assert logits.dtype == tf.bfloat16 and loss.dtype == tf.float32  # the loss is float32
    assert_bf16_close(logits, logits_ref, "logits")
    np.testing.assert_allclose(loss, loss_ref, rtol=0.01)  # a mean of T*B cross-entropies: 1 %
    assert len(grads) == len(grads_ref) >= 8
    for i, (mine, ref) in enumerate(zip(grads, grads_ref)):
        mine, ref = tf.convert_to_tensor(mine), tf.convert_to_tensor(ref)
        assert mine.dtype == tf.float32, i
        assert_bf16_close(mine, ref, f"gradient {i}")


def test_hoisted_loop_equals_the_per_step_path_under_mixed_precision(policy):
    model = build_attention("mixed_bfloat16", policy)
    (out_step, loss_step, grads_step), (out_fused, loss_fused, grads_fused) = (
        teacher_forced_loss(model, path, "mixed_bfloat16", policy) for path in ("per_step", "hoisted"))
    assert_bf16_close(out_fused, out_step, "logits")
    np.testing.assert_allclose(loss_fused, loss_step, rtol=0.01)
    for i, (mine, ref) in enumerate(zip(grads_fused, grads_step)):
        assert_bf16_close(tf.convert_to_tensor(mine), tf.convert_to_tensor(ref), f"gradient {i}")


def beam_search(model, policy_name, policy, length_penalty=1.0, coverage=0.0):
    wrapper, _, embedding, output_layer = model

    def go():
        state = setup(model, batch_multiplier=3)
        decoder = s2s.BeamSearchDecoder(wrapper, beam_width=3, embedding_fn=embedding, output_layer=output_layer,
                                        length_penalty_weight=length_penalty, coverage_penalty_weight=coverage,
                                        maximum_iterations=7)
        outputs, final, _ = decoder(None, start_tokens=tf.fill([B], 1), end_token=2, initial_state=state)
        return outputs, final

    return under(policy, policy_name, go)


@pytest.mark.parametrize("coverage", [0.0, 0.4])
def test_beam_search_keeps_log_probs_and_scores_in_float32(coverage, policy):
    reference = build_attention("float32", policy)
    model = build_attention("mixed_bfloat16", policy)
    copy_model(reference, model)
    ref_outputs, ref_final = beam_search(reference, "float32", policy, coverage=coverage)
    outputs, final = beam_search(model, "mixed_bfloat16", policy, coverage=coverage)
    scores = outputs.beam_search_decoder_output.scores
    assert scores.dtype == tf.float32 and final.log_probs.dtype == tf.float32
    assert np.isfinite(scores.numpy()).all()
    # the beams' scores are sums of float32 log-probabilities of bfloat16 logits
    assert_bf16_close(final.log_probs, ref_final.log_probs, "final log-probs")
    # the best beam's tokens: the same as float32's on these well-separated random logits
    np.testing.assert_array_equal(outputs.predicted_ids[:, :, 0], ref_outputs.predicted_ids[:, :, 0])


def test_sequence_loss_casts_half_logits_to_float32():
    logits = tf.constant(rng.standard_normal((B, T, V)).astype(np.float32) * 3)
    weights = tf.sequence_mask([6, 2, 4], T, tf.float32)
    loss32 = s2s.sequence_loss(logits, tf.constant(IDS), weights)
    loss16 = s2s.sequence_loss(tf.cast(logits, tf.bfloat16), tf.constant(IDS), weights)
    assert loss16.dtype == tf.float32
    np.testing.assert_allclose(loss16, loss32, rtol=0.01)


def test_policy_fixture_restores_the_global_policy(policy):
    assert keras.config.dtype_policy().name == "float32"  # the previous test left it as it found it
    policy("mixed_bfloat16")
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
