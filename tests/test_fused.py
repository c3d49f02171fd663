"""Fast == exact: every fused path of tfseq.nn.fused against the readable per-step path.

Outputs, final states and gradients (w.r.t. inputs, initial state and every weight)
agree within 1e-5, with and without ``sequence_length``, batch- and time-major, for the
unrolled and the ``tf.while_loop`` form of the kernels, and compiled with XLA; and the
fallback triggers where it must. (The per-step path itself is checked against real TF1 in
``test_parity_tf1.py`` and against NumPy in ``test_nn_drivers.py``.)
"""

import ast
import importlib
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import randomize

from tfseq import nn, rnn_cell
from tfseq._xla import inside_xla
from tfseq.nn import fused, kernels

B, T, D = 4, 5, 3
RNG = np.random.default_rng(7)
X_NP = RNG.standard_normal((B, T, D)).astype(np.float32)
LENGTHS = np.array([5, 3, 0, 1], np.int32)  # full, partial, empty, one step
TOL = 1e-5

CELLS = {
    "basic_lstm": (lambda: rnn_cell.BasicLSTMCell(6), "fused_lstm"),
    "lstm_not_tuple": (lambda: rnn_cell.LSTMCell(6, forget_bias=0.3, state_is_tuple=False), "fused_lstm"),
    "gru": (lambda: rnn_cell.GRUCell(6), "fused_gru"),
    "basic_rnn": (lambda: rnn_cell.BasicRNNCell(6), "fused_rnn"),
    # Every LSTMCell option at once (clips reached: inputs and weights are large enough).
    "lstm_peepholes_clip_proj": (
        lambda: rnn_cell.LSTMCell(6, use_peepholes=True, cell_clip=0.5, num_proj=4, proj_clip=0.3, forget_bias=0.3),
        "fused_lstm",
    ),
    # contrib's block cell: peepholes and a straight-through cell_clip.
    "lstm_block": (lambda: rnn_cell.LSTMBlockCell(6, use_peephole=True, cell_clip=0.5), "fused_lstm"),
    # MultiRNNCell runs fused layer by layer: equal to stepping all layers together.
    "multi": (
        lambda: rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(6), rnn_cell.GRUCell(5), rnn_cell.BasicRNNCell(4)]),
        "fused_multi[lstm,gru,rnn]",
    ),
    "multi_not_tuple": (
        lambda: rnn_cell.MultiRNNCell([rnn_cell.BasicRNNCell(4), rnn_cell.GRUCell(3)], state_is_tuple=False),
        "fused_multi[rnn,gru]",
    ),
}


def random_state(cell, batch=B):
    flat = [tf.constant(RNG.uniform(-1, 1, (batch, n)).astype(np.float32)) for n in tf.nest.flatten(cell.state_size)]
    return tf.nest.pack_sequence_as(cell.state_size, flat)


def run_both(cell, x, fast_values=(False, True), xla=None, before=None, **kwargs):
    """Outputs, final state and gradients (inputs, initial state, weights) per ``fast``
    (``xla`` is passed to the fused path; ``before()`` runs before each)."""
    initial_state = kwargs.get("initial_state")
    results = []
    for fast in fast_values:
        if before is not None:
            before()
        with tf.GradientTape() as tape:
            tape.watch(x)
            if initial_state is not None:
                tape.watch(tf.nest.flatten(initial_state))
            extra = {"xla": xla} if fast else {}
            y, state = nn.dynamic_rnn(cell, x, fast=fast, **kwargs, **extra)
            # A loss that weighs every output and state element differently.
            loss = tf.reduce_sum(tf.sin(3.0 * y)) + sum(tf.reduce_sum(tf.cos(s)) for s in tf.nest.flatten(state))
        sources = [x] + ([] if initial_state is None else tf.nest.flatten(initial_state)) + list(cell.trainable_weights)
        grads = tape.gradient(loss, sources)
        assert all(g is not None for g in grads)
        results.append([y] + tf.nest.flatten(state) + grads)
    return results


def assert_close(reference, candidate):
    assert len(reference) == len(candidate)
    for want, got in zip(reference, candidate):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=TOL, rtol=TOL)


@pytest.fixture(params=["unrolled", "while_loop", "xla"])
def loop_form(request, monkeypatch):
    """How the fused kernels run: unrolled, in a tf.while_loop, or that loop compiled with XLA."""
    if request.param != "unrolled":
        monkeypatch.setattr(kernels, "MAX_UNROLL", 0)
    return request.param


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("lengths", [False, True], ids=["full", "sequence_length"])
@pytest.mark.parametrize("time_major", [False, True], ids=["batch_major", "time_major"])
def test_fused_equals_per_step(name, lengths, time_major, loop_form):
    make, path = CELLS[name]
    cell = make()
    cell.build((None, D))
    randomize(cell)
    assert fused.plan(cell) == fused.Plan(path, "the cell allows it")
    x = tf.constant(np.transpose(X_NP, [1, 0, 2]) if time_major else X_NP)
    per_step, fast = run_both(
        cell, x, initial_state=random_state(cell), time_major=time_major,
        sequence_length=LENGTHS if lengths else None, xla=loop_form == "xla",
    )
    assert_close(per_step, fast)
    if lengths:  # TF1 semantics survive in the fused path: zeros past each row's length
        y = fast[0].numpy() if not time_major else np.transpose(fast[0].numpy(), [1, 0, 2])
        assert np.all(y[2] == 0) and np.all(y[1, 3:] == 0) and np.all(y[3, 1:] == 0)


def test_fused_in_tf_function_with_unknown_shapes():
    """An unknown length always runs the tf.while_loop form (no loop_form to choose)."""
    cell = rnn_cell.BasicLSTMCell(4)
    cell.build((None, D))
    randomize(cell)
    spec = tf.TensorSpec([None, None, D], tf.float32)

    def loss_and_grads(fast):
        @tf.function(input_signature=[spec, tf.TensorSpec([None], tf.int32)])
        def f(x, lengths):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y, (c, h) = nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32, fast=fast)
                loss = tf.reduce_sum(tf.sin(y)) + tf.reduce_sum(c * h)
            return [y, c, h] + tape.gradient(loss, [x] + cell.trainable_weights)
        return f(tf.constant(X_NP), tf.constant(LENGTHS))

    assert_close(loss_and_grads(False), loss_and_grads(True))


def test_both_paths_compile_inside_a_jit_compiled_step(loop_form):
    """Both paths' loops are bounded (or unrolled), so a jit_compile=True training step
    compiles either; compiled, they still match the per-step path run eagerly."""
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(4), rnn_cell.GRUCell(3)])
    cell.build((None, D))
    randomize(cell)
    x = tf.constant(X_NP)

    def loss_and_grads(fast):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y, _ = nn.dynamic_rnn(cell, x, sequence_length=LENGTHS, dtype=tf.float32, fast=fast)
            loss = tf.reduce_sum(tf.sin(3.0 * y))
        return [y] + tape.gradient(loss, [x] + cell.trainable_weights)

    eager = loss_and_grads(False)
    for fast in (False, True):
        assert_close(eager, tf.function(lambda: loss_and_grads(fast), jit_compile=True)())


def xla_calls(fn, *args):
    """``_XlaMustCompile`` of every function call in ``fn``'s traced graph (None: not set)."""
    graph = tf.function(fn).get_concrete_function(*args).graph
    calls = [op for op in graph.get_operations() if op.type in ("StatefulPartitionedCall", "PartitionedCall")]
    return [op.get_attr("_XlaMustCompile") if "_XlaMustCompile" in op.node_def.attr else None for op in calls]


def test_when_the_fused_path_uses_xla():
    """Default: inside a tf.function with a static number of steps; not eagerly, not for
    an unknown length (each new length would compile a new program)."""
    x = tf.constant(X_NP)
    # What the traced graph holds: one XLA-compiled call for the fused stack, none when off.
    cell = rnn_cell.BasicLSTMCell(4)
    assert xla_calls(lambda v: nn.dynamic_rnn(cell, v, dtype=tf.float32)[0], x) == [True]
    assert xla_calls(lambda v: nn.dynamic_rnn(cell, v, dtype=tf.float32, xla=False)[0], x) == []
    assert xla_calls(lambda v: nn.dynamic_rnn(cell, v, dtype=tf.float32, fast=False)[0], x) == []
    assert not fused.uses_xla(x)
    assert tf.function(lambda: fused.uses_xla(x))()
    unknown_length = tf.function(lambda v: fused.uses_xla(v), input_signature=[tf.TensorSpec([None, T, D])])
    assert not unknown_length(x)
    assert fused.uses_xla(x, xla=True) and not tf.function(lambda: fused.uses_xla(x, xla=False))()
    # bfloat16/float16 stacks: no XLA by default where there is no GPU (XLA's CPU backend is the
    # slower one for them); asked for, they compile
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    for half in (tf.bfloat16, tf.float16):
        assert bool(tf.function(lambda: fused.uses_xla(tf.cast(x, half)))()) is on_gpu
        assert tf.function(lambda: fused.uses_xla(tf.cast(x, half), xla=True))()
    with pytest.raises(ValueError, match="xla must be None, True or False, got 'auto'"):
        fused.uses_xla(x, xla="auto")
    with pytest.raises(ValueError, match="dynamic_rnn: xla must be None, True or False, got 1"):
        nn.dynamic_rnn(cell, x, dtype=tf.float32, fast=False, xla=1)
    # Inside a caller's jit_compile program the stack is not wrapped in a nested XLA function
    # (that boundary made a GRU training step recompile at every call).
    assert tf.function(inside_xla, jit_compile=True)()
    assert not tf.function(inside_xla)()
    outer = tf.function(lambda v: nn.dynamic_rnn(cell, v, dtype=tf.float32)[0], jit_compile=True)
    graph = outer.get_concrete_function(x).graph
    assert not [op for op in graph.get_operations() if op.type.endswith("PartitionedCall")]


def test_fused_in_tf_function_uses_xla_and_matches():
    """The default inside a tf.function (static shapes): fused and compiled with XLA."""
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(6), rnn_cell.GRUCell(5)])
    cell.build((None, D))
    randomize(cell)
    state = random_state(cell)
    (per_step,) = run_both(cell, tf.constant(X_NP), fast_values=(False,), initial_state=state,
                           sequence_length=LENGTHS)
    in_function = tf.function(lambda: run_both(cell, tf.constant(X_NP), fast_values=(None,),
                                               initial_state=state, sequence_length=LENGTHS)[0])
    assert_close(per_step, in_function())


def test_float64_cells_run_fused():
    cell = rnn_cell.GRUCell(3, dtype="float64")
    cell.build((None, D))
    randomize(cell)
    x = tf.constant(X_NP.astype(np.float64))
    assert fused.plan(cell, x).path == "fused_gru"
    per_step, fast = run_both(cell, x, dtype=tf.float64)
    assert fast[0].dtype == tf.float64
    assert_close(per_step, fast)


# -- dropout -------------------------------------------------------------------------


def test_dropout_wrapper_inactive_unwraps_exactly():
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(5), input_keep_prob=0.5, output_keep_prob=0.5)
    cell.build((None, D))
    randomize(cell)
    assert fused.plan(cell, training=False).path == "fused_lstm"
    per_step, fast = run_both(cell, tf.constant(X_NP), initial_state=random_state(cell), training=False)
    assert_close(per_step, fast)


@pytest.mark.parametrize("xla", [False, True], ids=["no_xla", "xla"])
@pytest.mark.parametrize("state_keep_prob", [1.0, 0.6], ids=["no_state_dropout", "state_dropout"])
def test_variational_dropout_matches_per_step_masks(state_keep_prob, xla):
    """Variational masks are one [1, size] mask per sequence: the fused path draws the very
    same masks (same seed, same salts), so training outputs and gradients match too; state
    dropout of an LSTM's h included (the language model's variational preset; the second
    layer's h is projected and goes through the LSTM kernel with peepholes and clipping). The
    masks are drawn outside the XLA program (XLA's random numbers differ from TensorFlow's)."""
    cores = [rnn_cell.BasicLSTMCell(6), rnn_cell.LSTMCell(6, use_peepholes=True, cell_clip=0.5, num_proj=5)]
    layers = [
        rnn_cell.DropoutWrapper(core, input_keep_prob=0.6, output_keep_prob=0.7,
                                state_keep_prob=state_keep_prob, variational_recurrent=True, seed=11 + k)
        for k, core in enumerate(cores)
    ]
    cell = rnn_cell.MultiRNNCell(layers)
    cell.build((None, D))
    randomize(cell)
    assert fused.plan(cell, training=True).path == "fused_multi[lstm,lstm]"
    # Every driver call draws new masks (TF1: new masks per run); rewinding the per-sequence
    # seeds before each run gives both paths the same mask set.
    seeds = [(layer.sequence_seed.state, layer.sequence_seed.state.numpy()) for layer in layers]
    per_step, fast = run_both(cell, tf.constant(X_NP), initial_state=random_state(cell), training=True,
                              sequence_length=LENGTHS, xla=xla, before=lambda: [v.assign(s) for v, s in seeds])
    assert_close(per_step, fast)
    no_dropout, _ = run_both(cell, tf.constant(X_NP), fast_values=(True, False),
                             initial_state=random_state(cell), training=False)
    assert not np.allclose(fast[0], no_dropout[0])  # dropout did act


def test_per_step_output_dropout_has_the_wrappers_distribution():
    """Non-variational masks are fresh random numbers (other draws than the per-step path):
    the kept units are the undropped outputs scaled by 1/keep_prob, about keep_prob of them."""
    keep = 0.5
    core = rnn_cell.GRUCell(8)
    wrapped = rnn_cell.DropoutWrapper(core, output_keep_prob=keep, seed=3)
    wrapped.build((None, D))
    randomize(wrapped)
    x = tf.constant(RNG.standard_normal((16, T, D)).astype(np.float32))
    assert fused.plan(wrapped, training=True).path == "fused_gru"
    y_drop, _ = nn.dynamic_rnn(wrapped, x, dtype=tf.float32, training=True)
    y_plain, _ = nn.dynamic_rnn(core, x, dtype=tf.float32)
    y_drop, y_plain = y_drop.numpy(), y_plain.numpy()
    kept = y_drop != 0
    np.testing.assert_allclose(y_drop[kept], y_plain[kept] / keep, rtol=1e-6)
    assert 0.4 < kept.mean() < 0.6  # 640 units: 5 standard deviations either side


# -- fallback ------------------------------------------------------------------------


class SquashedLSTMCell(rnn_cell.BasicLSTMCell):
    def call(self, inputs, states, training=None):
        output, state = super().call(inputs, states, training=training)
        return 0.5 * output, state


class ClippedOutputDropout(rnn_cell.DropoutWrapper):
    def drop_outputs(self, outputs):
        return tf.clip_by_value(super().drop_outputs(outputs), -1.0, 1.0)


class LoggingMultiRNNCell(rnn_cell.MultiRNNCell):
    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


FALLBACKS = {
    "layer_norm": (lambda: rnn_cell.LayerNormBasicLSTMCell(4), "fused_spec() is None"),
    "relu": (lambda: rnn_cell.BasicRNNCell(4, activation="relu"), "is not tanh"),
    "keras_cell": (lambda: keras.layers.LSTMCell(4), "LSTMCell has no fused kernel"),
    "subclass": (lambda: SquashedLSTMCell(4), "SquashedLSTMCell overrides call()"),
    "dropout_subclass": (
        lambda: ClippedOutputDropout(rnn_cell.BasicLSTMCell(4), output_keep_prob=0.5),
        "ClippedOutputDropout overrides drop_outputs()",
    ),
    "multi_subclass": (
        lambda: LoggingMultiRNNCell([rnn_cell.BasicLSTMCell(4)]),
        "LoggingMultiRNNCell overrides call()",
    ),
    "residual_fn": (lambda: rnn_cell.ResidualWrapper(rnn_cell.BasicRNNCell(D), residual_fn=lambda i, o: i - o),
                    "a ResidualWrapper with a residual_fn"),
    "multi_with_layer_norm": (
        lambda: rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(4), rnn_cell.LayerNormBasicLSTMCell(4)]),
        "fused_spec() is None",
    ),
}


@pytest.mark.parametrize("name", sorted(FALLBACKS))
def test_fallback_to_per_step(name):
    make, reason = FALLBACKS[name]
    cell = make()
    chosen = fused.plan(cell)
    assert chosen.path == fused.PER_STEP and reason in chosen.reason, chosen
    with pytest.raises(ValueError, match="fast=True but .* cannot run fused"):
        nn.dynamic_rnn(cell, tf.constant(X_NP), dtype=tf.float32, fast=True)
    y, _ = nn.dynamic_rnn(cell, tf.constant(X_NP), dtype=tf.float32)  # the per-step path still runs it
    assert y.shape[:2] == (B, T)


def test_fallback_for_dropout_it_cannot_fuse():
    state_dropout = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), state_keep_prob=0.5)
    assert "per-step state dropout" in fused.plan(state_dropout, training=True).reason
    assert fused.plan(state_dropout, training=False).path == "fused_lstm"
    variational = dict(state_keep_prob=0.5, variational_recurrent=True)
    gru = rnn_cell.DropoutWrapper(rnn_cell.GRUCell(4), **variational)
    assert "state dropout of a GRUCell" in fused.plan(gru, training=True).reason
    drop_c = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), dropout_state_filter_visitor=lambda s: True,
                                     **variational)
    assert "state dropout on c" in fused.plan(drop_c, training=True).reason
    keep_c = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), **variational)
    assert fused.plan(keep_c, training=True).path == "fused_lstm"
    output_dropout = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), output_keep_prob=0.5)
    assert "training=None" in fused.plan(output_dropout, training=None).reason
    assert "tensor training" in fused.plan(output_dropout, training=tf.constant(True)).reason
    no_dropout = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4))
    assert fused.plan(no_dropout, training=None).path == "fused_lstm"


class ElmanCell(rnn_cell.RNNCell):
    """A user's own cell: it joins the fast path by describing its step with fused_spec()."""

    tf1_scope_name = "elman"

    def __init__(self, num_units, **kwargs):
        super().__init__(**kwargs)
        self.num_units = num_units

    state_size = property(lambda self: self.num_units)
    output_size = property(lambda self: self.num_units)

    def build(self, input_shape):
        depth = input_shape[-1]
        self.kernel = self.add_tf1_weight("kernel", (depth + self.num_units, self.num_units), "glorot_uniform")
        self.bias = self.add_tf1_weight("bias", (self.num_units,), "zeros")

    def call(self, inputs, states, training=None):
        h = tf.tanh(tf.matmul(tf.concat([inputs, tf.nest.flatten(states)[0]], 1), self.kernel) + self.bias)
        return h, h

    def fused_spec(self):
        return rnn_cell.FusedSpec("rnn", self.num_units, {"kernel": self.kernel, "bias": self.bias}
                                  if self.built else {}, tf.tanh)


def test_a_users_cell_joins_the_fast_path_with_fused_spec():
    """The planner reads only FusedSpec: a cell tfseq has never seen runs fused, equal to its
    own per-step call; a subclass overriding call() without fused_spec() does not."""
    cell = ElmanCell(5)
    assert fused.plan(cell) == fused.Plan("fused_rnn", "the cell allows it")
    cell.build((None, D))
    randomize(cell)
    per_step, fast = run_both(cell, tf.constant(X_NP), initial_state=random_state(cell), sequence_length=LENGTHS)
    assert_close(per_step, fast)

    class Scaled(ElmanCell):
        def call(self, inputs, states, training=None):
            h, _ = super().call(inputs, states, training)
            return 2.0 * h, 2.0 * h

    assert fused.plan(Scaled(5)).reason == "Scaled overrides call()"


class TwoLayers(rnn_cell.RNNCell):
    """A user's own stack (not a MultiRNNCell): it joins the fast path with fused_layers()."""

    def __init__(self, first, second, **kwargs):
        super().__init__(**kwargs)
        self.first, self.second = first, second

    state_size = property(lambda self: (self.first.state_size, self.second.state_size))
    output_size = property(lambda self: self.second.output_size)

    def build(self, input_shape):
        self.first.build(tuple(input_shape))
        self.second.build((input_shape[0], self.first.output_size))

    def call(self, inputs, states, training=None):
        first_state, second_state = tf.nest.pack_sequence_as(self.state_size, tf.nest.flatten(states))
        h, first_state = self.first(inputs, first_state, training=training)
        y, second_state = self.second(h, second_state, training=training)
        return y, (first_state, second_state)

    def fused_layers(self):
        return rnn_cell.FusedStack((self.first, self.second), list, tuple)


def test_a_users_stack_joins_the_fast_path_with_fused_layers():
    """The planner reads only the descriptions: a stack tfseq has never seen runs fused
    (a dropout wrapper inside it too), equal to its own per-step call."""
    dropout = rnn_cell.DropoutWrapper(rnn_cell.GRUCell(3), output_keep_prob=0.5)
    cell = TwoLayers(rnn_cell.BasicLSTMCell(4), dropout)
    assert fused.plan(cell, training=False) == fused.Plan("fused_multi[lstm,gru]", "the cell allows it")
    assert "training=None" in fused.plan(cell).reason  # the wrapper's own rule, reported as is
    cell.build((None, D))
    randomize(cell)
    per_step, fast = run_both(cell, tf.constant(X_NP), initial_state=random_state(cell), sequence_length=LENGTHS,
                              training=False)
    assert_close(per_step, fast)


def test_the_planner_imports_no_cell_class():
    """nn.fused knows cells only through their descriptions (rnn_cell.fusion)."""
    tree = ast.parse(inspect.getsource(fused))
    imported = [
        getattr(importlib.import_module(node.module), alias.name)
        for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module.startswith("tfseq")
        for alias in node.names
    ]
    assert imported and not any(isinstance(obj, type) and issubclass(obj, keras.layers.Layer) for obj in imported)
    assert "drop_" not in inspect.getsource(fused).replace("_dropout", "")


def test_fallback_for_inputs_of_another_dtype_and_fast_false():
    cell = rnn_cell.BasicRNNCell(4)
    assert "float64" in fused.plan(cell, tf.zeros([1, 2, 3], tf.float64)).reason
    assert fused.plan(cell, fast=False) == fused.Plan(fused.PER_STEP, "fast=False")
    with pytest.raises(ValueError, match="fast must be None, True or False, got 'yes'"):
        fused.plan(cell, fast="yes")


# -- tfseq.nn.RNN --------------------------------------------------------------------

MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], bool)


@pytest.mark.parametrize("name", ["basic_lstm", "gru", "multi"])
@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_rnn_layer_equals_keras_rnn(name, masked):
    cell = CELLS[name][0]()
    cell.build((None, D))
    randomize(cell)
    x = tf.constant(X_NP)
    mask = tf.constant(MASK) if masked else None
    results = []
    for layer in (
        keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True),
        nn.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True),
    ):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, mask=mask)
            loss = sum(tf.reduce_sum(tf.sin(3.0 * t)) for t in tf.nest.flatten(out))
        results.append(tf.nest.flatten(out) + tape.gradient(loss, [x] + cell.trainable_weights))
    assert layer.plan(x, mask).path == CELLS[name][1]
    assert_close(*results)


@pytest.mark.parametrize("fast", [None, False], ids=["fused", "keras_loop"])
def test_rnn_layer_reads_the_carried_mask_with_an_initial_state(fast):
    """The mask the sequences carry counts with an ``initial_state`` too, as without one and as
    an explicit ``mask=`` (Keras 3's own RNN layers drop it there)."""
    units = 6
    cell = rnn_cell.BasicLSTMCell(units)
    cell.build((None, D))
    randomize(cell)
    x = tf.constant(X_NP)
    masked = keras.layers.Masking()(x * MASK[:, :, None])  # carries MASK (rows 2-4 have masked steps)
    np.testing.assert_array_equal(masked._keras_mask, MASK)
    layer = nn.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True, fast=fast)
    state = [tf.fill([B, units], 0.3), tf.fill([B, units], -0.2)]
    carried = layer(masked, initial_state=state)
    explicit = layer(masked, initial_state=state, mask=tf.constant(MASK))
    unmasked = layer(x * MASK[:, :, None], initial_state=state)
    assert_close(carried, explicit)
    assert not np.any(carried[0].numpy()[~MASK])  # zeros at the masked steps
    assert np.abs(np.asarray(carried[1]) - np.asarray(unmasked[1])).max() > 1e-3  # without the mask the states differ


def test_rnn_layer_fallbacks():
    cell = rnn_cell.GRUCell(3)
    assert nn.RNN(cell, go_backwards=True).plan().reason == "go_backwards=True"
    assert "zero_output_for_mask=False" in nn.RNN(cell).plan(mask=tf.constant(MASK)).reason
    assert nn.RNN(cell, fast=False).plan().path == fused.PER_STEP
    assert nn.RNN(keras.layers.GRUCell(3)).plan().path == fused.PER_STEP
    with pytest.raises(ValueError, match="go_backwards=True"):
        nn.RNN(cell, go_backwards=True, fast=True).plan()
    with pytest.raises(ValueError, match="fast must be None, True or False, got 1"):
        nn.RNN(cell, fast=1)
    with pytest.raises(ValueError, match="xla must be None, True or False, got 'yes'"):
        nn.RNN(cell, xla="yes")
    # The per-step fallback of the layer is Keras' own loop: same numbers as keras.layers.RNN.
    x = tf.constant(X_NP)
    np.testing.assert_allclose(nn.RNN(cell, go_backwards=True)(x), keras.layers.RNN(cell, go_backwards=True)(x))


def test_rnn_layer_keras_file_round_trip(tmp_path):
    inputs = keras.Input((None, D))
    model = keras.Model(inputs, nn.RNN(rnn_cell.BasicLSTMCell(4), fast=True, return_sequences=True)(inputs))
    path = str(tmp_path / "fused.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.layers[-1]
    assert type(layer) is nn.RNN and layer.fast is True
    np.testing.assert_allclose(loaded(X_NP), model(X_NP), atol=1e-6)


# -- the language model ----------------------------------------------------------------


@pytest.mark.parametrize("variational", [False, True], ids=["dropout", "variational_dropout"])
def test_language_model_trains_on_the_fused_path(variational, monkeypatch):
    """The PTB model's MultiRNNCell of DropoutWrapper(LSTM) runs fused in training and in
    inference, and its training-mode logits and gradients equal the per-step path's when
    the dropout masks are the same (variational: one mask per sequence, state passed in)."""
    from tfseq.demos.lm.model import LanguageModel

    model = LanguageModel(vocab_size=20, hidden_size=6, num_layers=2, keep_prob=0.6,
                          variational_dropout=variational, seed=1)
    ids = tf.constant(RNG.integers(0, 20, (3, 4)), tf.int32)
    state = model.get_initial_state(3)
    model(ids, initial_state=state)
    for training in (True, False):
        assert fused.plan(model.cell, training=training).path == "fused_multi[lstm,lstm]"
    if not variational:
        _check_fresh_masks_against_a_per_step_loop(model, ids, state, monkeypatch)
        return
    results = []
    original = nn.dynamic_rnn
    for fast in (False, True):
        monkeypatch.setattr(nn, "dynamic_rnn", lambda *args, fast=fast, **kwargs: original(*args, fast=fast, **kwargs))
        # Same masks in both runs: the same input-dropout seed, per-sequence seeds rewound.
        model.input_dropout.seed_generator.state.assign([1, 0])
        seeds = [(layer.sequence_seed.state, layer.sequence_seed.state.numpy()) for layer in model.cell.cells]
        with tf.GradientTape() as tape:
            logits, final = model(ids, initial_state=state, training=True)
            loss = tf.reduce_sum(tf.sin(logits))
        results.append([logits] + tf.nest.flatten(final) + tape.gradient(loss, model.cell.trainable_weights))
        for variable, value in seeds:
            variable.assign(value)
    assert_close(*results)


def _check_fresh_masks_against_a_per_step_loop(model, ids, state, monkeypatch):
    """Non-variational dropout draws other random numbers than the per-step path, so the
    fused training step is checked against a Python loop over the model's own cells that
    applies the very masks the fused path drew (recorded): logits and gradients."""
    recorded = []
    original = fused._dropout_masks
    monkeypatch.setattr(fused, "_dropout_masks", lambda *a: recorded.append(original(*a)) or recorded[-1])
    calls = []
    original_run = fused.run
    monkeypatch.setattr(fused, "run", lambda *a, **kw: calls.append(1) or original_run(*a, **kw))
    seed = model.input_dropout.seed_generator.state
    seed.assign([1, 0])
    with tf.GradientTape() as tape:
        logits, _ = model(ids, initial_state=state, training=True)
        loss = tf.reduce_sum(tf.sin(logits))
    fused_grads = tape.gradient(loss, model.cell.trainable_weights)
    assert calls == [1] and len(recorded) == 1  # the model really ran the fused path
    out_masks = [tf.stop_gradient(layer_masks[2]) for layer_masks in recorded[0]]  # [time, batch, hidden]
    assert all(m is not None and 0.2 < np.mean(m.numpy() == 0) < 0.6 for m in out_masks)  # keep_prob 0.6
    seed.assign([1, 0])
    with tf.GradientTape() as tape:
        x = model.input_dropout(model.embedding(ids), training=True)  # the same input mask
        states, steps = list(state), []
        for t in range(ids.shape[1]):
            h = x[:, t]
            for k, wrapper in enumerate(model.cell.cells):
                h, states[k] = wrapper.cell(h, states[k])  # the LSTM without its wrapper
                h = h * out_masks[k][t]
            steps.append(h)
        w, b = model.output_weights()
        loop_logits = tf.einsum("tbh,hv->btv", tf.stack(steps), w) + b
        loop_loss = tf.reduce_sum(tf.sin(loop_logits))
    assert_close([logits] + fused_grads, [loop_logits] + tape.gradient(loop_loss, model.cell.trainable_weights))
