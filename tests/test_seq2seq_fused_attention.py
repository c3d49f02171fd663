"""seq2seq.fused_attention: the hoisted teacher-forcing loop, with its hand-written backward
and with autodiff, equals the per-step path (``nn.dynamic_rnn`` over the ``AttentionWrapper``):
outputs, final state and the gradient of every weight, the inputs, the memory and the initial
state, to 1e-5, also under XLA; and its plan says why a wrapper it does not cover runs per step."""

import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq import seq2seq as s2s
from tfseq.rnn_cell.keras_dropout import keras_dropout_cells
from tfseq.seq2seq import fused_attention, fused_attention_decode

B, S, T, D, H, M, A = 3, 4, 5, 6, 5, 7, 4  # batch, memory time, steps, input, units, memory depth, attention
V_OUT = 9  # output layer width
rng = np.random.default_rng(7)
X = rng.standard_normal((B, T, D)).astype(np.float32)
MEMORY = rng.standard_normal((B, S, M)).astype(np.float32)
LENGTHS = np.array([4, 2, 3], np.int32)


def make(layers=2, scale=True, layer="dense", cell_kind=rnn_cell.BasicLSTMCell, dropout=None, mechanism="luong",
         units=None, residual=(), stack=rnn_cell.MultiRNNCell, **wrapper_kwargs):
    """``dropout``: None, or ``DropoutWrapper`` keyword arguments for every layer (seeds 11, 12, ...);
    ``mechanism``: ``"luong"`` (scaled with ``scale``), ``"bahdanau"`` or ``"normed_bahdanau"``;
    ``units``: each layer's size (default ``H``), or a list of cell kinds in ``cell_kind``;
    ``residual``: the layers wrapped (outermost) in a ``ResidualWrapper``; ``stack``: the class
    that stacks more than one layer."""
    keras.utils.set_random_seed(3)
    units = units or [H] * layers
    kinds = cell_kind if isinstance(cell_kind, list) else [cell_kind] * layers
    cells = [kind(n, forget_bias=1.0) if kind is rnn_cell.BasicLSTMCell else kind(n) for kind, n in zip(kinds, units)]
    if dropout is not None:
        cells = [rnn_cell.DropoutWrapper(c, seed=11 + i, **dropout) for i, c in enumerate(cells)]
    cells = [rnn_cell.ResidualWrapper(c) if i in residual else c for i, c in enumerate(cells)]
    stack = stack(cells) if layers > 1 else cells[0]
    if mechanism == "luong":
        mechanism = s2s.LuongAttention(units[-1], scale=scale)
    else:
        mechanism = s2s.BahdanauAttention(H + 2, normalize=mechanism == "normed_bahdanau")
    dense = {"dense": {"use_bias": False}, "dense_bias": {}, "tanh": {"use_bias": False, "activation": "tanh"},
             "tanh_bias": {"activation": tf.tanh}}
    kwargs = {"attention_layer": keras.layers.Dense(A, **dense[layer])} if layer in dense else \
        {"attention_layer_size": A}
    wrapper = s2s.AttentionWrapper(stack, mechanism, **kwargs, **wrapper_kwargs)
    mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
    wrapper(tf.zeros([B, D]), wrapper.get_initial_state(batch_size=B, dtype=tf.float32))  # build
    if isinstance(mechanism, s2s.LuongAttention) and scale:
        mechanism.scale_weight.assign(1.7)
    if layer in dense and wrapper.attention_layers[0].use_bias:  # a bias away from zero, so that errors show
        wrapper.attention_layers[0].bias.assign(np.linspace(-0.4, 0.6, A).astype(np.float32))
    if getattr(mechanism, "normalize", False):  # away from their initial values, so that errors show
        mechanism.attention_g.assign(0.8)
        mechanism.attention_b.assign(np.linspace(-0.5, 0.5, H + 2).astype(np.float32))
    return wrapper, mechanism


@contextlib.contextmanager
def paths(hoisted):
    """Yields a list that gets an entry each time the hoisted loop runs; with ``hoisted=False``
    every wrapper is planned per step meanwhile (the reference path of ``dynamic_decode``)."""
    taken, teacher_forced, plan = [], fused_attention.teacher_forced, fused_attention.plan

    def counting(*args, **kwargs):
        taken.append(1)
        return teacher_forced(*args, **kwargs)

    fused_attention.teacher_forced = counting
    if not hoisted:
        fused_attention.plan = lambda cell, training=None: fused_attention.Plan(fused_attention.PER_STEP, "test")
    try:
        yield taken
    finally:
        fused_attention.teacher_forced, fused_attention.plan = teacher_forced, plan


def sampler_states(wrapper):
    """The seed states of the stack's dropout: ``DropoutWrapper`` samplers, Keras cells' generators."""
    stack = wrapper.cell.cells if isinstance(wrapper.cell, rnn_cell.MultiRNNCell) else [wrapper.cell]
    stack = [layer.cell if isinstance(layer, rnn_cell.ResidualWrapper) else layer for layer in stack]
    return [layer.sequence_seed.state for layer in stack if isinstance(layer, rnn_cell.DropoutWrapper)] + [
        layer.seed_generator.state for layer in keras_dropout_cells(wrapper)]


def run_both(wrapper, mechanism, backward, training=None):
    x, memory = tf.Variable(X), tf.Variable(MEMORY)
    results = {}
    start = [s.numpy() for s in sampler_states(wrapper)]
    for path in ("per_step", "hoisted"):
        for state_variable, value in zip(sampler_states(wrapper), start):  # both paths draw the same masks
            state_variable.assign(value)
        with tf.GradientTape() as tape:
            mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            # a non-zero initial cell state, as from an encoder
            state = state.clone(cell_state=tf.nest.map_structure(lambda t: 0.3 * tf.ones_like(t) + 0.1 * t,
                                                                 state.cell_state))
            if path == "per_step":
                outputs, final = nn.dynamic_rnn(wrapper, x, initial_state=state, training=training, fast=False)
            else:
                assert fused_attention.plan(wrapper, training).path == fused_attention.HOISTED
                outputs, final = fused_attention.teacher_forced(wrapper, x, state, backward=backward,
                                                                training=training)
            flat_final = [t for t in tf.nest.flatten(final) if isinstance(t, tf.Tensor)]
            loss = tf.reduce_sum(outputs * np.cos(np.arange(outputs.shape[-1], dtype=np.float32))) + sum(
                tf.reduce_sum(t * (i + 1) * 0.1) for i, t in enumerate(flat_final))
        sources = [x, memory] + wrapper.trainable_variables + mechanism.trainable_variables
        results[path] = (outputs, flat_final, tape.gradient(loss, sources),
                         [v.numpy() for v in sampler_states(wrapper)])
    return results


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("layers,scale,layer", [(2, True, "dense"), (1, False, "size"), (3, True, "size")])
def test_hoisted_loop_equals_the_per_step_path(layers, scale, layer, backward):
    wrapper, mechanism = make(layers, scale, layer)
    results = run_both(wrapper, mechanism, backward)
    assert_same(results, layers)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("cell_kind,mechanism,units", [
    (rnn_cell.GRUCell, "luong", None),
    (rnn_cell.BasicLSTMCell, "bahdanau", None),
    (rnn_cell.GRUCell, "normed_bahdanau", None),
    ([rnn_cell.GRUCell, rnn_cell.LSTMCell, rnn_cell.GRUCell], "normed_bahdanau", [6, 3, 5]),
    ([rnn_cell.BasicLSTMCell, rnn_cell.GRUCell], "luong", [3, 6]),
])
def test_gru_layers_and_bahdanau_attention_equal_the_per_step_path(cell_kind, mechanism, units, backward):
    layers = len(units) if units else 2
    wrapper, mech = make(layers, cell_kind=cell_kind, mechanism=mechanism, units=units)
    assert fused_attention.plan(wrapper).path == fused_attention.HOISTED
    assert_same(run_both(wrapper, mech, backward), layers)


def keras_gru(reset_after):
    return lambda n: keras.layers.GRUCell(n, reset_after=reset_after)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("cell_kind,mechanism,stack", [
    (keras.layers.LSTMCell, "luong", None),  # TF Addons' tutorials: one Keras cell
    (keras_gru(True), "bahdanau", None),
    (keras_gru(False), "normed_bahdanau", None),
    ([keras.layers.LSTMCell, keras_gru(True), keras_gru(False)], "luong", keras.layers.StackedRNNCells),
    ([rnn_cell.BasicLSTMCell, keras.layers.LSTMCell, keras_gru(True)], "bahdanau", rnn_cell.MultiRNNCell),
])
def test_keras_cells_equal_the_per_step_path(cell_kind, mechanism, stack, backward):
    layers = len(cell_kind) if isinstance(cell_kind, list) else 1
    wrapper, mech = make(layers, cell_kind=cell_kind, mechanism=mechanism, stack=stack,
                         units=[H, H + 1, H][:layers] if layers > 1 else None)
    assert fused_attention.plan(wrapper).path == fused_attention.HOISTED, fused_attention.plan(wrapper)
    assert_same(run_both(wrapper, mech, backward), layers)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("cell_kind,mechanism,dropout", [
    (rnn_cell.BasicLSTMCell, "luong", None),
    (rnn_cell.GRUCell, "bahdanau", {"input_keep_prob": 0.6}),
])
def test_residual_layers_equal_the_per_step_path(cell_kind, mechanism, dropout, backward):
    wrapper, mech = make(3, cell_kind=cell_kind, mechanism=mechanism, dropout=dropout, residual=(1, 2),
                         output_attention=False)
    assert fused_attention.plan(wrapper, True).path == fused_attention.HOISTED
    assert_same(run_both(wrapper, mech, backward, training=True), 3, width=H)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("cell_kind,mechanism", [(rnn_cell.BasicLSTMCell, "luong"), (rnn_cell.GRUCell, "bahdanau")])
def test_the_cell_output_instead_of_the_attention(cell_kind, mechanism, backward):
    wrapper, mech = make(cell_kind=cell_kind, mechanism=mechanism, output_attention=False)
    results = run_both(wrapper, mech, backward)
    assert results["per_step"][0].shape == (B, T, H)
    assert_same(results, 2, width=H)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("layer,cell_kind,mechanism,output_attention", [
    ("dense_bias", rnn_cell.BasicLSTMCell, "luong", True),
    ("tanh", rnn_cell.GRUCell, "bahdanau", True),  # Luong et al.'s attention layer, tanh(W_c [h, context])
    ("tanh_bias", keras.layers.LSTMCell, "luong", False),
    ("tanh_bias", rnn_cell.BasicLSTMCell, "normed_bahdanau", True),
])
def test_attention_layers_with_a_bias_or_tanh_equal_the_per_step_path(layer, cell_kind, mechanism, output_attention,
                                                                      backward):
    wrapper, mech = make(layer=layer, cell_kind=cell_kind, mechanism=mechanism, output_attention=output_attention)
    assert fused_attention.plan(wrapper).path == fused_attention.HOISTED
    assert_same(run_both(wrapper, mech, backward), 2, width=A if output_attention else H)


def keras_dropout_cell(kind, seed, **dropout):
    return lambda n: kind(n, seed=seed, **dropout)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cell_kind,stack", [
    (keras_dropout_cell(keras.layers.LSTMCell, 4, dropout=0.3), None),  # a TF Addons decoder with dropout
    ([keras_dropout_cell(keras.layers.GRUCell, 5, dropout=0.3),
      keras_dropout_cell(keras.layers.LSTMCell, 6, dropout=0.2, recurrent_dropout=0.4)], keras.layers.StackedRNNCells),
])
def test_keras_cells_own_input_dropout_draws_the_per_step_masks(cell_kind, stack, training, backward):
    """Keras cells' ``dropout`` (one mask per row for the sequence, Keras' rule): the loop applies
    the mask the per-step loop draws, from the same generator state, to the x and attention parts
    of layer 0's input and to the layers' inputs above; ``training=False`` drops nothing, with
    ``recurrent_dropout`` too, and leaves the generators where the per-step path does."""
    layers = len(cell_kind) if isinstance(cell_kind, list) else 1
    wrapper, mech = make(layers, cell_kind=cell_kind, mechanism="luong", stack=stack,
                         units=[H, H + 1][:layers] if layers > 1 else None)
    if training and layers > 1:  # recurrent_dropout on the second layer: state dropout, per step
        assert "recurrent_dropout" in fused_attention.plan(wrapper, training).reason
        return
    assert fused_attention.plan(wrapper, training).path == fused_attention.HOISTED
    results = run_both(wrapper, mech, backward, training=training)
    assert_same(results, layers)
    for ref, mine in zip(results["per_step"][3], results["hoisted"][3]):  # the generators advanced alike
        np.testing.assert_array_equal(mine, ref)
    if training:
        no_dropout = run_both(wrapper, mech, backward, training=False)
        assert np.abs(no_dropout["hoisted"][0] - results["hoisted"][0]).max() > 1e-3  # dropout did act


def assert_same(results, layers, width=A):
    (out_ref, final_ref, grads_ref, _), (out, final, grads, _) = results["per_step"], results["hoisted"]
    assert out.shape == (B, T, width)
    np.testing.assert_allclose(out, out_ref, atol=1e-5, rtol=0)
    assert len(final) == len(final_ref)
    for mine, ref in zip(final, final_ref):
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)
    assert len(grads) == len(grads_ref) >= 2 + 2 * layers + 2
    for i, (mine, ref) in enumerate(zip(grads, grads_ref)):
        assert ref is not None and mine is not None, i
        np.testing.assert_allclose(tf.convert_to_tensor(mine), tf.convert_to_tensor(ref), atol=1e-5, rtol=0,
                                   err_msg=f"gradient {i}")
        assert np.abs(tf.convert_to_tensor(ref)).max() > 0, i  # every gradient is exercised


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("layers", [2, 3])
def test_input_dropout_draws_the_per_step_masks(layers, backward):
    wrapper, mechanism = make(layers, dropout={"input_keep_prob": 0.6})
    start = [s.numpy() for s in sampler_states(wrapper)]
    results = run_both(wrapper, mechanism, backward, training=True)
    assert_same(results, layers)
    # the same units dropped, and each wrapper's sampler advanced as far: T draws, a new sequence
    # at the driver's call and one at get_initial_state
    per_step_samplers, hoisted_samplers = results["per_step"][3], results["hoisted"][3]
    assert len(hoisted_samplers) == layers
    for mine, ref, first in zip(hoisted_samplers, per_step_samplers, start):
        np.testing.assert_array_equal(mine, ref)
        assert mine[1] - first[1] == T + 2
    # dropout did drop: without it the outputs differ
    off = run_both(*make(layers, dropout={"input_keep_prob": 0.6}), backward, training=False)
    assert np.abs(off["hoisted"][0] - results["hoisted"][0]).max() > 1e-2
    assert_same(off, layers)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("dropout,layers,residual", [
    ({"output_keep_prob": 0.7}, 2, ()),
    ({"input_keep_prob": 0.6, "output_keep_prob": 0.7}, 3, (1, 2)),
    ({"input_keep_prob": 0.6, "output_keep_prob": 0.7, "variational_recurrent": True, "dtype": tf.float32}, 2, ()),
])
def test_output_dropout_draws_the_per_step_masks(dropout, layers, residual, backward):
    """Output dropout (with input dropout: each step's input mask, then its output mask, as the
    per-step path draws them; variational: one mask per sequence) on every layer, the top one's
    feeding the attention; above the first layer in a ResidualWrapper too (the residual adds
    the undropped input)."""
    units = [A + D] * layers if residual else None  # a residual layer's input and output widths agree
    wrapper, mechanism = make(layers, dropout=dropout, residual=residual, units=units)
    start = [s.numpy() for s in sampler_states(wrapper)]
    results = run_both(wrapper, mechanism, backward, training=True)
    assert_same(results, layers)
    variational = dropout.get("variational_recurrent", False)  # per step one draw per dropout (variational:
    draws = 2 + (0 if variational else T * len(dropout))  # none), a new sequence at the driver's call and one
    for mine, ref, first in zip(results["hoisted"][3], results["per_step"][3], start):  # at get_initial_state
        np.testing.assert_array_equal(mine, ref)
        assert mine[1] - first[1] == draws
    off = run_both(*make(layers, dropout=dropout, residual=residual, units=units), backward, training=False)
    assert np.abs(off["hoisted"][0] - results["hoisted"][0]).max() > 1e-2  # dropout did drop


def test_dropout_in_a_basic_decoder_equals_dynamic_decode():
    wrapper, mechanism = make(dropout={"input_keep_prob": 0.5})
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler())
    x = tf.constant(X)
    mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    start = [s.numpy() for s in sampler_states(wrapper)]
    assert fused_attention_decode.decoder_plan(decoder, x, state, {}, True).path == fused_attention.HOISTED
    with paths(hoisted=True) as taken:
        hooked = decoder(x, initial_state=state, training=True)[0].rnn_output
    for state_variable, value in zip(sampler_states(wrapper), start):
        state_variable.assign(value)
    with paths(hoisted=False):  # the reference: dynamic_decode per step
        reference = s2s.dynamic_decode(decoder, decoder_init_input=x, decoder_init_kwargs={"initial_state": state},
                                       training=True)[0].rnn_output
    assert taken == [1]
    np.testing.assert_allclose(hooked, reference, atol=1e-5, rtol=0)


VARIATIONAL_STATE = {"input_keep_prob": 0.7, "output_keep_prob": 0.8, "state_keep_prob": 0.6,
                     "variational_recurrent": True, "dtype": tf.float32}


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("layers,residual,cell_kind", [
    (2, (), rnn_cell.BasicLSTMCell), (3, (1, 2), rnn_cell.BasicLSTMCell), (2, (), rnn_cell.GRUCell),
    (3, (1,), [rnn_cell.GRUCell, rnn_cell.BasicLSTMCell, rnn_cell.GRUCell])])
def test_variational_state_dropout_equals_the_per_step_path(layers, residual, cell_kind, backward):
    """TF1's ``DropoutWrapper(state_keep_prob=..., variational_recurrent=True)``: the ``h`` each
    layer carries to its next step (and returns as its state; an LSTM's ``c`` is kept) is dropped
    with the per-step path's very mask, the ``h`` it passes up is not."""
    wrapper, mech = make(layers, dropout=VARIATIONAL_STATE, residual=residual, cell_kind=cell_kind)
    assert fused_attention.plan(wrapper, True).path == fused_attention.HOISTED
    results = run_both(wrapper, mech, backward, training=True)
    assert_same(results, layers)
    no_state = run_both(*make(layers, dropout=dict(VARIATIONAL_STATE, state_keep_prob=1.0), residual=residual,
                              cell_kind=cell_kind), backward, training=True)
    assert np.abs(no_state["hoisted"][0] - results["hoisted"][0]).max() > 1e-3  # the state dropout acts


def test_plan_keeps_other_dropout_per_step():
    cases = [({"output_keep_prob": 0.6, "state_keep_prob": 0.8}, True, "per-step state dropout"),
             ({"input_keep_prob": tf.constant(0.6)}, True, "a keep probability is a tensor"),
             ({"input_keep_prob": 0.6}, None, "training=None")]
    for dropout, training, reason in cases:
        wrapper, _ = make(dropout=dropout)
        chosen = fused_attention.plan(wrapper, training)
        assert chosen.path == fused_attention.PER_STEP and reason in chosen.reason, (dropout, chosen)
    gru, _ = make(dropout=dict(VARIATIONAL_STATE, variational_recurrent=False), cell_kind=rnn_cell.GRUCell)
    assert "per-step state dropout" in fused_attention.plan(gru, True).reason
    wrapper, _ = make(dropout={"input_keep_prob": 0.6})
    assert fused_attention.plan(wrapper, False).path == fused_attention.HOISTED


@pytest.mark.parametrize("cell_kind,mechanism", [(rnn_cell.BasicLSTMCell, "luong"),
                                                (rnn_cell.GRUCell, "normed_bahdanau")])
def test_hand_written_backward_under_xla_equals_the_per_step_path(cell_kind, mechanism):
    wrapper, mechanism = make(cell_kind=cell_kind, mechanism=mechanism)
    x = tf.constant(X)

    def loss_and_grads(fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            outputs = (fused_attention.teacher_forced(wrapper, x, state)[0] if fused
                       else nn.dynamic_rnn(wrapper, x, initial_state=state, fast=False)[0])
            loss = tf.reduce_sum(tf.sin(outputs))
        return [loss] + tape.gradient(loss, [x] + wrapper.trainable_variables)

    compiled = tf.function(lambda: loss_and_grads(True), jit_compile=True)()
    for mine, ref in zip(compiled, loss_and_grads(False)):
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)


def test_plan_explains_the_per_step_cases():
    wrapper, _ = make(alignment_history=True)
    assert fused_attention.plan(wrapper).path == fused_attention.HOISTED
    under_xla = []
    tf.function(lambda: under_xla.append(fused_attention.plan(wrapper)) or tf.zeros([]),
                jit_compile=True).get_concrete_function()
    assert under_xla == [(fused_attention.PER_STEP,
                          "alignment_history=True under XLA (its TensorArray grows, which XLA cannot compile)")]
    peephole, _ = make(cell_kind=lambda n: rnn_cell.LSTMCell(n, use_peepholes=True))
    assert fused_attention.plan(peephole).path == fused_attention.PER_STEP
    assert "has peepholes" in fused_attention.plan(peephole).reason
    monotonic = s2s.AttentionWrapper(rnn_cell.BasicLSTMCell(H),
                                     s2s.BahdanauMonotonicAttention(H, tf.constant(MEMORY)), attention_layer_size=A)
    monotonic(tf.zeros([B, D]), monotonic.get_initial_state(batch_size=B, dtype=tf.float32))
    assert fused_attention.plan(monotonic) == (
        fused_attention.PER_STEP, "BahdanauMonotonicAttention is not LuongAttention or BahdanauAttention")
    biased_query = s2s.AttentionWrapper(rnn_cell.GRUCell(H), s2s.BahdanauAttention(
        H, tf.constant(MEMORY), query_layer=keras.layers.Dense(H)), attention_layer_size=A)
    biased_query(tf.zeros([B, D]), biased_query.get_initial_state(batch_size=B, dtype=tf.float32))
    assert "query_layer is not a bias-free linear" in fused_attention.plan(biased_query).reason
    first_residual, _ = make(cell_kind=rnn_cell.GRUCell, units=[D + A] * 2, residual=(0,))
    assert "on the first layer" in fused_attention.plan(first_residual).reason
    keras_dropout, _ = make(cell_kind=lambda n: keras.layers.LSTMCell(n, dropout=0.2))
    assert "a Keras cell with dropout and training=None" in fused_attention.plan(keras_dropout).reason
    assert fused_attention.plan(keras_dropout, True).path == fused_attention.HOISTED
    per_gate, _ = make(cell_kind=lambda n: keras.layers.GRUCell(n, dropout=0.2, implementation=1))
    assert "implementation=1" in fused_attention.plan(per_gate, True).reason
    relu_gru, _ = make(cell_kind=lambda n: rnn_cell.GRUCell(n, activation="relu"))
    assert "activation other than tanh" in fused_attention.plan(relu_gru).reason
    relu_layer = s2s.AttentionWrapper(rnn_cell.BasicLSTMCell(H), s2s.LuongAttention(H, tf.constant(MEMORY)),
                                      attention_layer=keras.layers.Dense(A, activation="relu"))
    relu_layer(tf.zeros([B, D]), relu_layer.get_initial_state(batch_size=B, dtype=tf.float32))
    assert fused_attention.plan(relu_layer).reason == ("the attention layer is not a keras.layers.Dense with a linear "
                                                        "or tanh activation")
    no_layer = s2s.AttentionWrapper(rnn_cell.BasicLSTMCell(H), s2s.LuongAttention(H, tf.constant(MEMORY)))
    no_layer(tf.zeros([B, D]), no_layer.get_initial_state(batch_size=B, dtype=tf.float32))
    assert "no attention layer" in fused_attention.plan(no_layer).reason
    assert fused_attention.plan(rnn_cell.BasicLSTMCell(H)).path == fused_attention.PER_STEP
    good, _ = make()
    with pytest.raises(ValueError, match="backward must be 'manual' or 'autodiff', got 'tape'"):
        fused_attention.teacher_forced(good, X, good.get_initial_state(batch_size=B, dtype=tf.float32), "tape")
    with pytest.raises(ValueError, match="runs per step .alignment_history=True under XLA"):
        tf.function(lambda: fused_attention.teacher_forced(
            wrapper, X, wrapper.get_initial_state(batch_size=B, dtype=tf.float32))[0], jit_compile=True)()


def history_run(wrapper, mechanism, hoisted, backward="manual", lengths=None):
    """``[outputs, alignment history [1 + steps, B, S], final alignments, lengths, *gradients]`` of
    teacher forcing through ``wrapper`` (``alignment_history=True``) from a state whose history
    already holds one entry; the loss reads the history. ``hoisted``: the loop
    (:func:`fused_attention.teacher_forced` with ``backward``, or ``BasicDecoder`` with run-time
    ``lengths`` inside a ``tf.function``), else ``dynamic_decode`` per step."""
    x, memory = tf.Variable(X), tf.Variable(MEMORY)

    def go(lengths):
        with tf.GradientTape() as tape:
            mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            state = state.clone(alignment_history=state.alignment_history.write(0, tf.fill([B, S], 0.25)))
            if hoisted and lengths is None:
                outputs, final = fused_attention.teacher_forced(wrapper, x, state, backward=backward)
                out_lengths = tf.fill([B], T)
            else:
                kwargs = {} if lengths is None else {"sequence_length": lengths}
                decoded, final, out_lengths = s2s.BasicDecoder(wrapper, s2s.TrainingSampler())(
                    x.value(), initial_state=state, **kwargs)
                outputs = decoded.rnn_output
            history = final.alignment_history.stack()
            weights = np.cos(np.arange(np.prod(history.shape[1:]))).reshape(history.shape[1:]).astype(np.float32)
            loss = (tf.reduce_sum(outputs * 0.1) + tf.reduce_sum(history * weights)
                    + tf.reduce_sum(tf.sin(final.alignments)))
        grads = tape.gradient(loss, [x, memory] + wrapper.trainable_variables + mechanism.trainable_variables)
        return [outputs, history, final.alignments, out_lengths] + [tf.zeros([]) if g is None else g for g in grads]

    with paths(hoisted) as taken:
        if lengths is None:
            result = go(None)
        else:
            result = tf.function(go, input_signature=[tf.TensorSpec([B], tf.int32)])(tf.constant(lengths))
    return result, len(taken)


@pytest.mark.parametrize("backward", ["manual", "autodiff"])
@pytest.mark.parametrize("cell_kind,mechanism", [(rnn_cell.BasicLSTMCell, "luong"), (rnn_cell.GRUCell, "bahdanau")])
def test_alignment_history_equals_the_per_step_path(cell_kind, mechanism, backward):
    """The loop appends every step's alignments to the history after what it held, and the
    gradient of a loss on them reaches the inputs, the memory and every weight as per step."""
    wrapper, mech = make(cell_kind=cell_kind, mechanism=mechanism, alignment_history=True)
    ref, ref_taken = history_run(wrapper, mech, hoisted=False)
    mine, taken = history_run(wrapper, mech, hoisted=True, backward=backward)
    assert (ref_taken, taken) == (0, 1)
    assert mine[1].shape == ref[1].shape == (1 + T, B, S)
    np.testing.assert_array_equal(mine[1][0], np.full([B, S], 0.25))
    assert len(mine) == len(ref) > 6
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")
        if i >= 4:
            assert np.abs(b).max() > 0, i  # every gradient is exercised


@pytest.mark.parametrize("lengths", [[4, 2, 3], [0, 0, 0]])
def test_alignment_history_with_rows_ending_early_equals_dynamic_decode(lengths):
    """``BasicDecoder`` with run-time lengths: ``max(lengths)`` entries appended (none for all
    zeros, where the loop does not run and the history is the one given)."""
    wrapper, mech = make(alignment_history=True)
    ref, _ = history_run(wrapper, mech, hoisted=False, lengths=lengths)
    mine, taken = history_run(wrapper, mech, hoisted=True, lengths=lengths)
    assert taken == 1
    assert mine[1].shape == ref[1].shape == (1 + max(lengths), B, S)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")


@pytest.mark.parametrize("lengths", [None, np.full([B], T, np.int32)])
def test_basic_decoder_teacher_forcing_takes_the_hoisted_loop_and_equals_dynamic_decode(lengths):
    wrapper, mechanism = make()
    out = keras.layers.Dense(V_OUT)
    x = tf.Variable(X)
    kwargs = {} if lengths is None else {"sequence_length": tf.constant(lengths)}
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), output_layer=out)
    results = []
    for hooked in (True, False):
        with paths(hoisted=hooked) as taken, tf.GradientTape() as tape:
            mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            if hooked:
                assert fused_attention_decode.decoder_plan(decoder, x.value(), state, kwargs).path == fused_attention.HOISTED
                outputs, final, seq_lengths = decoder(x.value(), initial_state=state, **kwargs)
            else:  # the per-step reference: dynamic_decode, every wrapper planned per step
                outputs, final, seq_lengths = s2s.dynamic_decode(
                    decoder, decoder_init_input=x.value(), decoder_init_kwargs=dict(kwargs, initial_state=state))
            loss = tf.reduce_sum(tf.sin(outputs.rnn_output)) + tf.reduce_sum(final.cell_state[1].h)
        assert len(taken) == (1 if hooked else 0)
        grads = tape.gradient(loss, [x] + wrapper.trainable_variables + out.trainable_variables)
        results.append((outputs, final, seq_lengths, grads))
    (o, f, n, g), (o_ref, f_ref, n_ref, g_ref) = results
    np.testing.assert_allclose(o.rnn_output, o_ref.rnn_output, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(o.sample_id, o_ref.sample_id)
    np.testing.assert_array_equal(n, n_ref)
    assert n.dtype == n_ref.dtype
    for mine, ref in zip(tf.nest.flatten(f), tf.nest.flatten(f_ref)):
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)
    for mine, ref in zip(g, g_ref):
        np.testing.assert_allclose(tf.convert_to_tensor(mine), tf.convert_to_tensor(ref), atol=1e-5, rtol=0)


def test_decoder_plan_keeps_short_or_scheduled_teacher_forcing_per_step():
    wrapper, _ = make()
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    x = tf.constant(X)
    ragged = {"sequence_length": tf.constant([T, 2, T])}
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler())
    assert fused_attention_decode.decoder_plan(decoder, x, state, ragged).path == fused_attention.HOISTED
    imputed = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), impute_finished=True)
    assert fused_attention_decode.decoder_plan(imputed, x, state, ragged).path == fused_attention.HOISTED
    historian, _ = make(alignment_history=True)
    imputed_history = s2s.BasicDecoder(historian, s2s.TrainingSampler(), impute_finished=True)
    assert fused_attention_decode.decoder_plan(imputed_history, x, state, ragged) == (
        fused_attention.PER_STEP, "impute_finished=True and alignment_history=True with rows ending early")
    assert fused_attention_decode.decoder_plan(decoder, x, state, {"sequence_length": tf.zeros([B], tf.int32)}).reason == (
        "sequence_length is zero for every row")
    short = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), maximum_iterations=T - 1)
    assert fused_attention_decode.decoder_plan(short, x, state, {}).path == fused_attention.PER_STEP
    scheduled = s2s.BasicDecoder(wrapper, s2s.ScheduledEmbeddingTrainingSampler(0.5, lambda ids: x[:, 0]))
    assert fused_attention_decode.decoder_plan(scheduled, x, state, {}).reason == (
        "the sampler is not a TrainingSampler")

    traced = []
    tf.function(lambda lengths: traced.append(fused_attention_decode.decoder_plan(
        decoder, x, state, {"sequence_length": lengths}).reason) or lengths, jit_compile=True).get_concrete_function(
        tf.TensorSpec([B], tf.int32))
    assert traced == ["sequence_length known only at run time, under XLA (a dynamic step count)"]


@pytest.mark.parametrize("known", ["static", "run time"])
@pytest.mark.parametrize("lengths", [[4, 2, 3], [0, 1, 0], [0, 0, 0]])
def test_rows_ending_early_take_the_loop_and_equal_dynamic_decode(known, lengths):
    """nmt's ``TrainingHelper(inputs, target_lengths)``: ``dynamic_decode`` runs ``max(lengths)``
    steps over every row (``impute_finished=False``); so does the loop, dropout and all."""
    wrapper, mechanism = make(dropout={"input_keep_prob": 0.6})
    output_layer = keras.layers.Dense(V_OUT)
    x, memory = tf.Variable(X), tf.Variable(MEMORY)
    start = [v.numpy() for v in sampler_states(wrapper)]
    taken = []

    def run(hoisted):
        for variable, value in zip(sampler_states(wrapper), start):
            variable.assign(value)
        decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), output_layer=output_layer)

        def go(length_tensor):
            with tf.GradientTape() as tape:
                mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
                state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
                outputs, final, out_lengths = decoder(x, initial_state=state, sequence_length=length_tensor,
                                                      training=True)
                flat = [t for t in tf.nest.flatten(final) if isinstance(t, tf.Tensor)]
                loss = tf.reduce_sum(tf.sin(outputs.rnn_output)) + sum(tf.reduce_sum(t) * 0.1 for t in flat)
            sources = [x, memory] + wrapper.trainable_variables + output_layer.trainable_variables
            return [outputs.rnn_output, out_lengths] + flat + tape.gradient(loss, sources)

        if known == "static":
            fn = tf.function(lambda: go(tf.constant(lengths)))
        else:
            fn = tf.function(go, input_signature=[tf.TensorSpec([B], tf.int32)])
        with paths(hoisted) as hoisted_runs:
            result = fn() if known == "static" else fn(tf.constant(lengths))
        if hoisted:
            taken.extend(hoisted_runs)
        return [tf.zeros([]) if r is None else r for r in result] + [v.numpy() for v in sampler_states(wrapper)]

    output_layer.build((None, A))
    ref, mine = run(False), run(True)
    static_all_zero = known == "static" and max(lengths) == 0  # planned per step: nothing to take
    assert (taken == []) if static_all_zero else taken, taken
    assert mine[0].shape == (B, max(lengths), V_OUT) and ref[0].shape == mine[0].shape
    np.testing.assert_array_equal(mine[1], lengths)
    assert len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), atol=1e-5, rtol=0,
                                   err_msg=f"item {i}")


def test_rows_longer_than_the_inputs_are_an_error():
    wrapper, _ = make()
    state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
    decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler())
    with pytest.raises(ValueError, match=f"sequence_length must be at most the number of input steps, {T}, got"):
        decoder(tf.constant(X), initial_state=state, sequence_length=tf.constant([T + 2, 1, 1]))
    run_time = tf.function(lambda lengths: decoder(tf.constant(X), initial_state=state, sequence_length=lengths)[2],
                           input_signature=[tf.TensorSpec([B], tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"sequence_length must be at most the number of input steps, {T}"):
        run_time(tf.constant([T + 2, 1, 1]))


@pytest.mark.parametrize("dropout", [{"input_keep_prob": 0.6}, {"input_keep_prob": 0.6, "output_keep_prob": 0.7}])
def test_dropout_under_xla_draws_the_per_step_masks(dropout):
    wrapper, mechanism = make(dropout=dropout)
    samplers = sampler_states(wrapper)
    start = [s.numpy() for s in samplers]
    x = tf.constant(X)

    def loss_and_grads(fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            outputs = (fused_attention.teacher_forced(wrapper, x, state, training=True)[0] if fused
                       else nn.dynamic_rnn(wrapper, x, initial_state=state, training=True, fast=False)[0])
            loss = tf.reduce_sum(tf.sin(outputs))
        return [loss] + tape.gradient(loss, [x] + wrapper.trainable_variables)

    # both compiled: XLA's Philox numbers equal Keras' under XLA, not a plain graph's (tests/test_random.py)
    compiled = tf.function(lambda: loss_and_grads(True), jit_compile=True)()
    after = [s.numpy() for s in samplers]
    for variable, value in zip(samplers, start):
        variable.assign(value)
    reference = tf.function(lambda: loss_and_grads(False), jit_compile=True)()
    for mine, ref in zip(compiled, reference):
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)
    for mine, ref in zip(after, [s.numpy() for s in samplers]):
        np.testing.assert_array_equal(mine, ref)


def test_input_dropout_under_mixed_precision_draws_the_per_step_masks():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        wrapper, mechanism = make(dropout={"input_keep_prob": 0.6})
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    samplers = sampler_states(wrapper)
    start = [s.numpy() for s in samplers]
    x = tf.cast(tf.constant(X), tf.bfloat16)
    results = []
    for fused in (True, False):
        for variable, value in zip(samplers, start):
            variable.assign(value)
        mechanism.setup_memory(tf.cast(tf.constant(MEMORY), tf.bfloat16), memory_sequence_length=LENGTHS)
        state = wrapper.get_initial_state(batch_size=B, dtype=tf.bfloat16)
        outputs = (fused_attention.teacher_forced(wrapper, x, state, training=True)[0] if fused
                   else nn.dynamic_rnn(wrapper, x, initial_state=state, training=True, fast=False)[0])
        results.append(tf.cast(outputs, tf.float32).numpy())
    hoisted, per_step = results
    scale = np.abs(per_step).max()
    np.testing.assert_allclose(hoisted, per_step, atol=0.04 * scale, rtol=0)  # bfloat16: eight bits
    for variable, value in zip(samplers, start):  # other masks: far apart (so the check above can fail)
        variable.assign(value + [0, 1000])
    other = tf.cast(fused_attention.teacher_forced(wrapper, x, state, training=True)[0], tf.float32).numpy()
    assert np.abs(other - per_step).max() > 0.2 * scale


def ragged_run(wrapper, mechanism, lengths, path, known="static", training=None, jit=False):
    """``[outputs, *final state, *gradients]`` of ``nn.dynamic_rnn(wrapper, x, sequence_length=lengths)``
    in a ``tf.function`` (``lengths`` static or known at ``"run time"``) from a state whose every
    part is non-zero (an encoder's cell state, a given attention, alignments and attention state
    of their own); ``path``: ``"per_step"`` (``fast=False``), ``"dynamic_rnn"`` (its default, the
    loop) or the loop's ``"manual"``/``"autodiff"`` backward through ``teacher_forced``; ``jit``:
    the ``tf.function`` compiled with XLA."""
    x, memory = tf.Variable(X), tf.Variable(MEMORY)
    start = [v.numpy() for v in sampler_states(wrapper)]

    def go(length_tensor):
        with tf.GradientTape() as tape:
            mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            state = state.clone(cell_state=tf.nest.map_structure(lambda t: 0.3 * tf.ones_like(t) + 0.1 * t,
                                                                 state.cell_state),
                                attention=tf.fill(tf.shape(state.attention), 0.2),
                                alignments=tf.nn.softmax(tf.reshape(tf.range(B * S, dtype=tf.float32), [B, S])),
                                attention_state=tf.fill([B, S], 0.7))
            if path in ("per_step", "dynamic_rnn"):
                outputs, final = nn.dynamic_rnn(wrapper, x, sequence_length=length_tensor, initial_state=state,
                                                training=training, fast=False if path == "per_step" else None)
            else:
                outputs, final = fused_attention.teacher_forced(wrapper, x, state, backward=path, training=training,
                                                                sequence_length=length_tensor)
            flat = tf.nest.flatten(final)
            loss = tf.reduce_sum(tf.sin(outputs)) + sum(tf.reduce_sum(tf.cos(t * (i + 1))) for i, t in enumerate(flat))
        grads = tape.gradient(loss, [x, memory] + wrapper.trainable_variables + mechanism.trainable_variables)
        return [outputs] + flat + grads

    for variable, value in zip(sampler_states(wrapper), start):
        variable.assign(value)
    with paths(hoisted=path != "per_step") as taken:
        if known == "static":
            result = tf.function(lambda: go(tf.constant(lengths)), jit_compile=jit)()
        else:
            result = tf.function(go, input_signature=[tf.TensorSpec([B], tf.int32)], jit_compile=jit)(
                tf.constant(lengths))
    for variable, value in zip(sampler_states(wrapper), start):
        variable.assign(value)
    return result, len(taken)


@pytest.mark.parametrize("path", ["dynamic_rnn", "manual", "autodiff"])
@pytest.mark.parametrize("cell_kind,mechanism,dropout", [
    (rnn_cell.BasicLSTMCell, "luong", None),
    (rnn_cell.GRUCell, "normed_bahdanau", None),
    ([rnn_cell.LSTMCell, rnn_cell.GRUCell], "luong", {"input_keep_prob": 0.6}),
    (rnn_cell.BasicLSTMCell, "bahdanau", VARIATIONAL_STATE),
])
@pytest.mark.parametrize("lengths,known", [([T, 2, 0], "static"), ([3, T + 2, 1], "run time")])
def test_rows_cut_short_take_the_loop_with_tf1_semantics(cell_kind, mechanism, dropout, path, lengths, known):
    """``nn.dynamic_rnn(wrapper, x, sequence_length=...)``: past each row's length zeros out and the
    whole state carried (a row of length 0 keeps the state it was given, alignments included),
    the gradients passing those steps unchanged: as the per-step loop, to 1e-5."""
    wrapper, mech = make(cell_kind=cell_kind, mechanism=mechanism, dropout=dropout)
    training = None if dropout is None else True
    ref, ref_taken = ragged_run(wrapper, mech, lengths, "per_step", known, training)
    mine, taken = ragged_run(wrapper, mech, lengths, path, known, training)
    assert (ref_taken, taken) == (0, 1)
    outputs = mine[0].numpy()
    for row, n in enumerate(lengths):
        assert not np.any(outputs[row, n:]) and np.all(np.any(outputs[row, :n] != 0, axis=-1)), row
    assert len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")


@pytest.mark.parametrize("layer", ["dense", "tanh_bias"])
def test_rows_cut_short_under_xla_take_the_loop(layer):
    """Under XLA too, lengths known at run time (the loop runs all ``T`` steps either way)."""
    wrapper, mech = make(layer=layer)
    ref, _ = ragged_run(wrapper, mech, [T, 2, 0], "per_step", "run time", jit=True)
    mine, taken = ragged_run(wrapper, mech, [T, 2, 0], "dynamic_rnn", "run time", jit=True)
    assert taken == 1 and len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")


@pytest.mark.parametrize("known", ["static", "run time"])
def test_imputed_rows_ending_early_take_the_loop_and_equal_dynamic_decode(known):
    """``BasicDecoder(cell, TrainingSampler(), output_layer, impute_finished=True)`` with rows
    ending early: ``max(lengths)`` steps, each finished row's outputs (after the output layer and
    its bias) and sample ids zeros and its state carried, as ``dynamic_decode`` imputes them."""
    lengths = [4, 2, 0]
    wrapper, mechanism = make()
    output_layer = keras.layers.Dense(V_OUT, bias_initializer="ones")
    output_layer.build((None, A))
    x, memory = tf.Variable(X), tf.Variable(MEMORY)

    def go(length_tensor):
        with tf.GradientTape() as tape:
            mechanism.setup_memory(memory, memory_sequence_length=LENGTHS)
            state = wrapper.get_initial_state(batch_size=B, dtype=tf.float32)
            state = state.clone(attention=tf.fill(tf.shape(state.attention), 0.2))
            decoder = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), output_layer=output_layer,
                                       impute_finished=True)
            outputs, final, out_lengths = decoder(x, initial_state=state, sequence_length=length_tensor)
            flat = tf.nest.flatten(final)
            loss = tf.reduce_sum(tf.sin(outputs.rnn_output)) + sum(tf.reduce_sum(t) * 0.1 * (i + 1)
                                                                   for i, t in enumerate(flat))
        grads = tape.gradient(loss, [x, memory] + wrapper.trainable_variables + output_layer.trainable_variables)
        return [outputs.rnn_output, outputs.sample_id, out_lengths] + flat + grads

    results = []
    for hoisted in (False, True):
        with paths(hoisted) as taken:
            if known == "static":
                results.append(tf.function(lambda: go(tf.constant(lengths)))())
            else:
                results.append(tf.function(go, input_signature=[tf.TensorSpec([B], tf.int32)])(tf.constant(lengths)))
        assert len(taken) == hoisted
    ref, mine = results
    assert mine[0].shape == (B, max(lengths), V_OUT)
    for row, n in enumerate(lengths):
        assert not np.any(mine[0][row, n:].numpy()) and not np.any(mine[1][row, n:].numpy()), row
    np.testing.assert_array_equal(mine[2], lengths)
    assert len(mine) == len(ref)
    for i, (a, b) in enumerate(zip(mine, ref)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0, err_msg=f"item {i}")
