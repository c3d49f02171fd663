"""Layers in ``DeviceWrapper`` and ``ResidualWrapper`` on the fast paths.

tensorflow/nmt builds every layer as ``DeviceWrapper(ResidualWrapper(DropoutWrapper(cell)),
"/cpu:0")`` (the residual only above the first layers, the device ``/cpu:0`` without a GPU) and
wraps its ``AttentionWrapper`` in a ``DeviceWrapper`` too. Those stacks take the fused layers
of ``nn.dynamic_rnn`` and the hoisted attention loop, equal to the per-step path (outputs, final
state, every gradient, 1e-5), their ops on the wrappers' device; what the fast paths do not
cover (a custom ``residual_fn``, a residual inside a dropout wrapper, attention layers on
different devices) runs per step, and the plan says why."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq import seq2seq as s2s
from tfseq.nn import fused
from tfseq.rnn_cell.wrappers import build_cell
from tfseq.seq2seq import fused_attention, fused_attention_decode

B, T, D, H = 4, 5, 6, 6  # batch, steps, input depth (= units, so that residual layers fit), units
S, M, A = 3, 7, 4  # memory steps, memory depth, attention layer
RNG = np.random.default_rng(11)
X = RNG.standard_normal((B, T, D)).astype(np.float32)
MEMORY = RNG.standard_normal((B, S, M)).astype(np.float32)
MEMORY_LENGTHS = np.array([3, 1, 2, 3], np.int32)
CPU = "/cpu:0"


def nmt_layer(cell, index, residual_from=1, device=CPU, keep=1.0, seed=0):
    """One layer as tensorflow/nmt's ``_single_cell`` builds it (dropout, residual, device)."""
    layer = rnn_cell.DropoutWrapper(cell, input_keep_prob=keep, seed=seed + index)
    if index >= residual_from:
        layer = rnn_cell.ResidualWrapper(layer)
    return layer if device is None else rnn_cell.DeviceWrapper(layer, device)


def nmt_stack(kinds, **kwargs):
    keras.utils.set_random_seed(5)
    return rnn_cell.MultiRNNCell([nmt_layer(kind(H), i, **kwargs) for i, kind in enumerate(kinds)])


def dropout_wrappers(cell):
    """The ``DropoutWrapper``s in a cell stack, through wrappers and an ``AttentionWrapper``."""
    if isinstance(cell, rnn_cell.DropoutWrapper):
        yield cell
    inner = cell.wrapped_cells() if hasattr(cell, "wrapped_cells") else [getattr(cell, "cell", None)]
    for child in inner:
        if child is not None:
            yield from dropout_wrappers(child)


def per_step_and_fused(cell, lengths=None, training=None):
    """``[outputs, *final state, *gradients]`` of ``nn.dynamic_rnn`` per step and fast; every
    dropout wrapper's per-sequence seed rewound before each (variational masks: the same draws)."""
    x = tf.Variable(X)
    build_cell(cell, (B, D))
    seeds = [(d.sequence_seed.state, d.sequence_seed.state.numpy()) for d in dropout_wrappers(cell)]
    results = []
    for fast in (False, None):
        for variable, value in seeds:
            variable.assign(value)
        with tf.GradientTape() as tape:
            outputs, state = nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32, training=training,
                                            fast=fast)
            loss = tf.reduce_sum(tf.sin(outputs)) + sum(
                0.1 * (i + 1) * tf.reduce_sum(s) for i, s in enumerate(tf.nest.flatten(state)))
        results.append([outputs, *tf.nest.flatten(state), *tape.gradient(loss, [x, *cell.trainable_variables])])
    return results


def assert_close(results):
    reference, mine = results
    assert len(reference) == len(mine)
    for ref, got in zip(reference, mine):
        np.testing.assert_allclose(tf.convert_to_tensor(got), tf.convert_to_tensor(ref), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kinds,path", [
    ([rnn_cell.BasicLSTMCell] * 3, "fused_multi[lstm,lstm,lstm]"),
    ([rnn_cell.GRUCell, rnn_cell.BasicLSTMCell, rnn_cell.BasicRNNCell], "fused_multi[gru,lstm,rnn]"),
])
@pytest.mark.parametrize("lengths", [None, np.array([5, 2, 0, 4], np.int32)])
def test_nmt_encoder_stack_runs_fused_and_equals_the_per_step_path(kinds, path, lengths):
    cell = nmt_stack(kinds, residual_from=0)  # residual on every layer: input depth = units
    assert fused.plan(cell, tf.constant(X)) == fused.Plan(path, "the cell allows it")
    assert_close(per_step_and_fused(cell, lengths))


def test_variational_dropout_under_a_residual_wrapper_equals_the_per_step_path():
    # variational masks are the per-step path's very masks (per-step ones differ in numbers only)
    keras.utils.set_random_seed(5)
    layers = [rnn_cell.DeviceWrapper(rnn_cell.ResidualWrapper(rnn_cell.DropoutWrapper(
        rnn_cell.BasicLSTMCell(H), input_keep_prob=0.6, output_keep_prob=0.8, variational_recurrent=True,
        input_size=D, dtype=tf.float32, seed=3 + i)), CPU) for i in range(2)]
    cell = rnn_cell.MultiRNNCell(layers)
    assert fused.plan(cell, tf.constant(X), training=True).path == "fused_multi[lstm,lstm]"
    results = per_step_and_fused(cell, np.array([5, 3, 1, 0], np.int32), training=True)
    assert_close(results)
    assert not np.allclose(results[1][0], per_step_and_fused(cell, np.array([5, 3, 1, 0], np.int32))[1][0])


def test_fused_layers_run_on_the_wrappers_device():
    cell = nmt_stack([rnn_cell.BasicLSTMCell] * 2)
    state = cell.get_initial_state(batch_size=B, dtype=tf.float32)

    @tf.function
    def run(x):
        return fused.run(cell, tf.transpose(x, [1, 0, 2]), state, xla=False)

    graph = run.get_concrete_function(tf.constant(X)).graph
    products = [op for op in graph.get_operations() if op.type == "MatMul"]
    assert products and all(op.device.endswith("CPU:0") for op in products), [op.device for op in products]


def test_layers_on_devices_of_their_own_equal_the_per_step_path():
    # the same device spelt two ways counts as two devices: each layer runs alone on its own
    cell = rnn_cell.MultiRNNCell([nmt_layer(rnn_cell.BasicLSTMCell(H), 0, device=CPU),
                                  nmt_layer(rnn_cell.GRUCell(H), 1, device="/job:localhost/replica:0/task:0/device:CPU:0"),
                                  nmt_layer(rnn_cell.BasicLSTMCell(H), 2, device=None)])
    assert fused.plan(cell, tf.constant(X)).path == "fused_multi[lstm,gru,lstm]"
    assert_close(per_step_and_fused(cell, np.array([5, 2, 0, 4], np.int32)))
    compiled = tf.function(lambda x: nn.dynamic_rnn(cell, x, dtype=tf.float32)[0])
    np.testing.assert_allclose(compiled(tf.constant(X)), nn.dynamic_rnn(cell, X, dtype=tf.float32, fast=False)[0],
                               atol=1e-5, rtol=0)


def test_what_the_fused_layers_do_not_cover_runs_per_step():
    def custom(inputs, outputs):
        return inputs - outputs

    cases = {
        "a ResidualWrapper with a residual_fn": rnn_cell.ResidualWrapper(rnn_cell.BasicLSTMCell(H), residual_fn=custom),
        "two residual wrappers on one layer": rnn_cell.ResidualWrapper(rnn_cell.DeviceWrapper(
            rnn_cell.ResidualWrapper(rnn_cell.BasicLSTMCell(H)), CPU)),
        "ResidualWrapper has no fused kernel": rnn_cell.DropoutWrapper(
            rnn_cell.ResidualWrapper(rnn_cell.BasicLSTMCell(H)), input_keep_prob=0.5),
    }
    for reason, cell in cases.items():
        chosen = fused.plan(cell, tf.constant(X), training=True)
        assert chosen.path == fused.PER_STEP and reason in chosen.reason, chosen

    class Logged(rnn_cell.DeviceWrapper):  # a subclass's own step is not the description's
        def call(self, inputs, states, training=None):
            return super().call(inputs, states, training)

    assert fused.plan(Logged(rnn_cell.BasicLSTMCell(H), CPU)).reason == "Logged overrides call()"


# -- the attention decoder ---------------------------------------------------------------------


def nmt_attention_cell(layer_devices=(CPU, CPU), outer=CPU, keep=1.0, kinds=None):
    """nmt's attention decoder cell: its layers (nmt_layer), the AttentionWrapper in a DeviceWrapper."""
    keras.utils.set_random_seed(9)
    kinds = kinds or [rnn_cell.BasicLSTMCell] * len(layer_devices)
    stack = rnn_cell.MultiRNNCell([nmt_layer(kind(H), i, device=device, keep=keep, seed=20)
                                   for i, (kind, device) in enumerate(zip(kinds, layer_devices))])
    mechanism = s2s.LuongAttention(H, scale=True)
    wrapper = s2s.AttentionWrapper(stack, mechanism, attention_layer_size=A, name="attention")
    cell = wrapper if outer is None else rnn_cell.DeviceWrapper(wrapper, outer)
    mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=MEMORY_LENGTHS)
    cell(tf.zeros([B, D]), cell.get_initial_state(batch_size=B, dtype=tf.float32))  # build
    mechanism.scale_weight.assign(1.3)
    return cell, mechanism


class Counting:
    """Counts the hoisted loop's runs; ``hoisted=False`` plans every wrapper per step meanwhile."""

    def __init__(self, hoisted):
        self.hoisted, self.taken = hoisted, 0

    def __enter__(self):
        self.saved = fused_attention.teacher_forced, fused_attention.plan
        teacher_forced, plan = self.saved

        def counting(*args, **kwargs):
            self.taken += 1
            return teacher_forced(*args, **kwargs)

        fused_attention.teacher_forced = counting
        if not self.hoisted:
            fused_attention.plan = lambda cell, training=None: fused_attention.Plan(fused_attention.PER_STEP, "test")
        return self

    def __exit__(self, *exc):
        fused_attention.teacher_forced, fused_attention.plan = self.saved


@pytest.mark.parametrize("helper", ["sampler", "tf1_helper"])
@pytest.mark.parametrize("lengths", [None, [5, 3, 4, 2]])
def test_nmt_attention_decoder_takes_the_hoisted_loop_and_equals_the_per_step_path(helper, lengths):
    cell, mechanism = nmt_attention_cell(layer_devices=(CPU, CPU, CPU))
    projection = keras.layers.Dense(9, use_bias=False)
    x = tf.Variable(X)
    results = []
    for hoisted in (True, False):
        with Counting(hoisted) as counter, tf.GradientTape() as tape:
            mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=MEMORY_LENGTHS)
            state = cell.get_initial_state(batch_size=B, dtype=tf.float32)
            x_tm = tf.transpose(x, [1, 0, 2])
            if helper == "sampler":
                decoder = s2s.BasicDecoder(cell, s2s.TrainingSampler(time_major=True), output_time_major=True)
                outputs, final, _ = decoder(x_tm, initial_state=state, sequence_length=lengths)
            else:  # nmt's own spelling, the projection after the loop
                steps = [T] * B if lengths is None else lengths
                decoder = s2s.BasicDecoder(cell, s2s.TrainingHelper(x_tm, steps, time_major=True), state)
                outputs, final, _ = s2s.dynamic_decode(decoder, output_time_major=True, swap_memory=True)
            logits = projection(outputs.rnn_output)
            loss = tf.reduce_sum(tf.sin(logits)) + tf.reduce_sum(final.cell_state[-1].h)
        assert counter.taken == (1 if hoisted else 0)
        results.append([logits, *[t for t in tf.nest.flatten(final) if isinstance(t, tf.Tensor)],
                        *tape.gradient(loss, [x, *cell.trainable_variables, *projection.trainable_variables])])
    assert_close(results[::-1])


def test_dynamic_rnn_over_a_placed_attention_wrapper_takes_the_hoisted_loop():
    cell, mechanism = nmt_attention_cell(keep=0.7)
    dropouts = list(dropout_wrappers(cell))
    start = None
    results = []
    x = tf.Variable(X)
    for hoisted in (True, False):
        if start is None:
            start = [d.sequence_seed.state.numpy() for d in dropouts]
        for d, value in zip(dropouts, start):  # both paths draw the same masks
            d.sequence_seed.state.assign(value)
        with Counting(hoisted) as counter, tf.GradientTape() as tape:
            mechanism.setup_memory(tf.constant(MEMORY), memory_sequence_length=MEMORY_LENGTHS)
            state = cell.get_initial_state(batch_size=B, dtype=tf.float32)
            outputs, final = nn.dynamic_rnn(cell, x, initial_state=state, training=True, fast=None if hoisted else False)
            loss = tf.reduce_sum(tf.sin(outputs)) + tf.reduce_sum(final.attention)
        assert counter.taken == (1 if hoisted else 0)
        results.append([outputs, final.attention, *tf.nest.flatten(final.cell_state),
                        *tape.gradient(loss, [x, *cell.trainable_variables])])
    assert_close(results[::-1])


@pytest.mark.parametrize("driver", ["teacher_forced", "dynamic_rnn"])
@pytest.mark.parametrize("layer_devices,outer", [((CPU, CPU), None), ((None, None), CPU)])
def test_the_hoisted_loop_runs_on_the_wrappers_device(driver, layer_devices, outer):
    cell, mechanism = nmt_attention_cell(layer_devices=layer_devices, outer=outer)
    state = cell.get_initial_state(batch_size=B, dtype=tf.float32)

    @tf.function(autograph=False)
    def run(x):
        if driver == "teacher_forced":
            return fused_attention.teacher_forced(cell, x, state)[0]
        return nn.dynamic_rnn(cell, x, initial_state=state)[0]

    with Counting(hoisted=True) as counter:
        graph = run.get_concrete_function(tf.constant(X)).graph
    assert counter.taken == 1
    loops = [op for op in graph.get_operations() if op.type in ("StatefulPartitionedCall", "PartitionedCall")]
    assert loops and all(op.device.endswith("CPU:0") for op in loops), [op.device for op in loops]


def test_attention_layers_on_different_devices_run_per_step():
    cell, _ = nmt_attention_cell(layer_devices=(CPU, "/job:localhost/replica:0/task:0/device:CPU:0"), outer=None)
    chosen = fused_attention.plan(cell)
    assert chosen == fused_attention.Plan(fused_attention.PER_STEP,
                                          "the layers run on different devices (one loop runs on one device)")
    placed, _ = nmt_attention_cell(layer_devices=(None, CPU), outer="/job:localhost/replica:0/task:0/device:CPU:0")
    assert "different devices" in fused_attention.plan(placed).reason  # a bare layer runs on the outer device
    same, _ = nmt_attention_cell(layer_devices=(None, CPU), outer=CPU)
    assert fused_attention.plan(same).path == fused_attention.HOISTED
    decoder = s2s.BasicDecoder(cell, s2s.TrainingSampler())
    state = cell.get_initial_state(batch_size=B, dtype=tf.float32)
    assert fused_attention_decode.decoder_plan(decoder, tf.constant(X), state, {}).path == fused_attention.PER_STEP
