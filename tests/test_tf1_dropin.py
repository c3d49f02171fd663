"""TF1 code runs with import renames only: dropout under the TF1
drivers, float64, variational masks per call, keep_prob tensors, TF1's knobs and arguments, TF1's
call convention, strict loading of a sub-scope. TF1 numbers come from the reference subprocess."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf1_reference import run_tf1_many

from tfseq import compat, nn, rnn_cell
from tfseq.nn import fused

RNG = np.random.default_rng(11)


pytestmark = pytest.mark.usefixtures("no_xla")  # XLA is not under test here: plain TF ops

X = RNG.standard_normal([3, 5, 4]).astype(np.float32)  # [batch, time, depth]


def zero_fraction(outputs):
    return float(np.mean(np.concatenate([np.ravel(o) for o in tf.nest.flatten(outputs)]) == 0))


# -- TF1 reference cases ---------------------------------------------------------------------------------------
_CLIP = """
cell = tf1.nn.rnn_cell.LSTMCell(3, cell_clip=0.0, num_proj=2, proj_clip=inputs["proj_clip"])
y, s = tf1.nn.dynamic_rnn(cell, tf1.constant(inputs["x"]), dtype=tf.float32)
sess.run(tf1.global_variables_initializer())
outputs["y"], outputs["c"], outputs["h"] = sess.run([y, s.c, s.h])
for v in tf1.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
"""
_FLOAT64 = """
cell = tf1.nn.rnn_cell.GRUCell(3)
y, s = tf1.nn.dynamic_rnn(cell, tf1.constant(inputs["x"]), dtype=tf.float64)  # weights: the inputs' dtype
sess.run(tf1.global_variables_initializer())
outputs["y"], outputs["s"] = sess.run([y, s])
for v in tf1.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
    outputs["dtype:" + v.op.name] = np.array(v.dtype.base_dtype.name)
"""
_SCOPE_INITIALIZER = """
with tf1.variable_scope("model", initializer=tf1.constant_initializer(0.01)):
    cells = [tf1.nn.rnn_cell.BasicRNNCell(3), tf1.nn.rnn_cell.BasicLSTMCell(3),
             tf1.nn.rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2), tf1.nn.rnn_cell.GRUCell(3)]
    y, s = tf1.nn.dynamic_rnn(tf1.nn.rnn_cell.MultiRNNCell(cells), tf1.constant(inputs["x"]), dtype=tf.float32)
sess.run(tf1.global_variables_initializer())
for v in tf1.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
"""
RAW_LENGTHS = np.array([4, 1, 3], np.int32)
_RAW_RNN = """
x, lengths = inputs["x_tm"], inputs["lengths"]
steps, batch, depth = x.shape
cell = tf1.nn.rnn_cell.LSTMCell(6)
inputs_ta = tf1.TensorArray(tf.float32, size=steps).unstack(tf1.constant(x))

def loop_fn(time, cell_output, cell_state, loop_state):
    finished = time >= lengths
    next_input = tf1.cond(tf1.reduce_all(finished), lambda: tf1.zeros([batch, depth]), lambda: inputs_ta.read(time))
    if cell_output is None:  # time 0: the first input, the state, what is emitted, the loop state
        emit = (tf1.zeros([6]), tf1.zeros([1])) if inputs["structured"] else None
        return finished, next_input, cell.zero_state(batch, tf.float32), emit, (
            tf1.zeros([batch]) if inputs["structured"] else None)
    if inputs["structured"]:
        emit = (cell_output, tf1.reduce_sum(cell_output, 1, keepdims=True))
        return finished, next_input, cell_state, emit, loop_state + tf1.reduce_sum(cell_output, 1)
    return finished, next_input, cell_state, cell_output, None

emit_ta, final, loop_state = tf1.nn.raw_rnn(cell, loop_fn)
sess.run(tf1.global_variables_initializer())
emitted = [ta.stack() for ta in tf1.nest.flatten(emit_ta)]
values, outputs["c"], outputs["h"] = sess.run([emitted, final.c, final.h])
for k, value in enumerate(values):
    outputs[f"emit{k}"] = value
if loop_state is not None:
    outputs["loop_state"] = sess.run(loop_state)
for v in tf1.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
"""
_STATE_SAVING = """
x = inputs["x"]
batch, depth = x.shape[0], x.shape[2]
cell = tf1.nn.rnn_cell.LSTMCell(5)

class Saver:  # state saver over variables: state(name), save_state(name, value)
    def __init__(self):
        self.vars = {n: tf1.get_variable("saved_" + n, [batch, 5], initializer=tf1.constant_initializer(0.1),
                                         trainable=False, use_resource=True) for n in ("c", "h")}

    def state(self, name):
        return self.vars[name].read_value()

    def save_state(self, name, value):
        return self.vars[name].assign(value)

saver = Saver()
segment = tf1.placeholder(tf.float32, [batch, None, depth])
lengths = tf1.placeholder(tf.int32, [batch])
steps = [segment[:, t] for t in range(3)]
outs, final = tf1.nn.static_state_saving_rnn(cell, steps, saver, ("c", "h"), sequence_length=lengths)
sess.run(tf1.global_variables_initializer())
for k, (part, part_lengths) in enumerate(((x[:, :3], [3, 1, 2]), (x[:, 2:], [3, 3, 3]))):
    ys, state = sess.run([outs, final], {segment: part, lengths: part_lengths})
    outputs[f"y{k}"], outputs[f"c{k}"], outputs[f"h{k}"] = np.stack(ys, 1), state.c, state.h
outputs["saved_c"], outputs["saved_h"] = sess.run([saver.vars["c"], saver.vars["h"]])
for v in tf1.global_variables():
    outputs["var:" + v.op.name] = sess.run(v)
"""
_PROGRAM_CKPT = """
lr = tf1.Variable(0.1, name="learning_rate")
step = tf1.train.get_or_create_global_step()
cell = tf1.nn.rnn_cell.BasicLSTMCell(3)
x = tf1.constant(inputs["x"][:, 0])
y, s = cell(x, cell.zero_state(3, tf.float32))        # called directly: names basic_lstm_cell/...
with tf1.variable_scope("decoder"):
    w = tf1.get_variable("softmax_w", [3, 7])
sess.run(tf1.global_variables_initializer())
outputs["y"] = sess.run(y)
tf1.train.Saver().save(sess, inputs["ckpt"] + "/program")
with tf1.variable_scope("basic_lstm_cell"):
    tf1.get_variable("w_f_diag", [3])                  # a name inside the cell's own scope
sess.run(tf1.global_variables_initializer())
tf1.train.Saver().save(sess, inputs["ckpt"] + "/stray")
"""


@pytest.fixture(scope="module")
def tf1(tmp_path_factory):
    ckpt = str(tmp_path_factory.mktemp("program_ckpt"))
    results = run_tf1_many([
        ("clip0", _CLIP, {"x": X, "proj_clip": 0.0}),
        ("float64", _FLOAT64, {"x": X.astype(np.float64)}),
        ("program", _PROGRAM_CKPT, {"x": X, "ckpt": ckpt}),
        ("scope_initializer", _SCOPE_INITIALIZER, {"x": X}),
        ("raw_rnn", _RAW_RNN, {"x_tm": np.transpose(X, [1, 0, 2]), "lengths": RAW_LENGTHS, "structured": False}),
        ("raw_rnn_structured", _RAW_RNN, {"x_tm": np.transpose(X, [1, 0, 2]), "lengths": RAW_LENGTHS,
                                          "structured": True}),
        ("state_saving", _STATE_SAVING, {"x": X}),
    ])
    results["program"]["ckpt"] = ckpt
    return results


def _load_vars(cell, ref, scope):
    for name, var in cell.tf1_variables().items():
        var.assign(ref[f"var:{scope}/{name}"])


# -- 1. DropoutWrapper under the TF1 drivers ----------------------------------------------------------------------
def _dropped():
    return rnn_cell.DropoutWrapper(rnn_cell.GRUCell(4), output_keep_prob=0.5, seed=1)


STEPS = list(np.transpose(X, [1, 0, 2]))
DRIVERS = {
    "dynamic_rnn": lambda c, b, **kw: nn.dynamic_rnn(c, X, **kw)[0],
    "static_rnn": lambda c, b, **kw: nn.static_rnn(c, STEPS, **kw)[0],
    "bidirectional_dynamic_rnn": lambda c, b, **kw: nn.bidirectional_dynamic_rnn(c, b, X, **kw)[0],
    "static_bidirectional_rnn": lambda c, b, **kw: nn.static_bidirectional_rnn(c, b, STEPS, **kw)[0],
    "stack_bidirectional_dynamic_rnn": lambda c, b, **kw: nn.stack_bidirectional_dynamic_rnn([c], [b], X, **kw)[0],
    "stack_bidirectional_rnn": lambda c, b, **kw: nn.stack_bidirectional_rnn([c], [b], STEPS, **kw)[0],
}


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_tf1_drivers_drop_without_training_as_tf1_did(driver):
    run = DRIVERS[driver]
    cell, backward = _dropped(), _dropped()
    assert 0.3 < zero_fraction(run(cell, backward)) < 0.7                    # TF1: the wrapper always drops
    assert 0.3 < zero_fraction(tf.function(lambda: run(cell, backward))()) < 0.7  # inside tf.function too
    assert zero_fraction(run(cell, backward, training=False)) == 0.0


def test_tf1_driver_dropout_stays_on_the_fused_path(monkeypatch):
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), input_keep_prob=0.6, output_keep_prob=0.5, seed=2)
    calls = []
    original = fused.run
    monkeypatch.setattr(fused, "run", lambda *a, **kw: calls.append(kw.get("training", a[4:5])) or original(*a, **kw))
    y, _ = nn.dynamic_rnn(cell, X)
    assert len(calls) == 1 and 0.3 < zero_fraction(y) < 0.7


class _UsesDriver(keras.layers.Layer):
    """A Keras layer whose call uses a TF1 driver without passing training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cell = _dropped()

    def call(self, x):
        return nn.dynamic_rnn(self.cell, x)[0]


def test_keras_layers_keep_keras_training_semantics():
    cell = _dropped()
    layer = keras.layers.RNN(cell, return_sequences=True)
    assert zero_fraction(layer(X)) == 0.0                          # Keras: no training, no dropout
    assert 0.3 < zero_fraction(layer(X, training=True)) < 0.7
    fast = nn.RNN(_dropped(), return_sequences=True)
    assert zero_fraction(fast(X)) == 0.0 and 0.3 < zero_fraction(fast(X, training=True)) < 0.7
    inside = _UsesDriver()                                         # a driver inside a Keras call: Keras decides
    assert zero_fraction(inside(X)) == 0.0
    assert 0.3 < zero_fraction(inside(X, training=True)) < 0.7
    model = keras.Sequential([keras.Input((5, 4)), _UsesDriver()])
    assert zero_fraction(model.predict(X, verbose=0)) == 0.0


# -- 3. float dtype ----------------------------------------------------------------------------------------------
def test_float64_inputs_give_float64_weights_and_tf1s_numbers(tf1):
    ref = tf1["float64"]
    assert all(str(v) == "float64" for k, v in ref.items() if k.startswith("dtype:"))  # what TF1 does
    cell = rnn_cell.GRUCell(3)
    x64 = X.astype(np.float64)
    nn.dynamic_rnn(cell, x64)
    assert {v.dtype for v in cell.weights} == {"float64"}
    _load_vars(cell, ref, "rnn")
    y, s = nn.dynamic_rnn(cell, x64)
    assert y.dtype == tf.float64 and s.dtype == tf.float64
    np.testing.assert_allclose(y, ref["y"], atol=1e-12)
    np.testing.assert_allclose(s, ref["s"], atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: rnn_cell.MultiRNNCell([rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(3), output_keep_prob=0.5),
                                   rnn_cell.OutputProjectionWrapper(rnn_cell.GRUCell(2), 3)]),
    lambda: rnn_cell.ResidualWrapper(rnn_cell.BasicRNNCell(4)),
    lambda: rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2),
], ids=["multi", "residual", "lstm_proj"])
def test_float64_reaches_every_wrapped_cell(make):
    for run in (lambda c, x: nn.dynamic_rnn(c, x), lambda c, x: nn.static_rnn(c, list(np.transpose(x, [1, 0, 2])))):
        cell = make()
        y, state = run(cell, X.astype(np.float64))
        assert {v.dtype for v in cell.weights} == {"float64"}
        assert {t.dtype for t in tf.nest.flatten((y, state))} == {tf.float64}
    direct = make()
    y, _ = direct(X[:, 0].astype(np.float64), direct.zero_state(3, tf.float64))  # a TF1-style direct call
    assert y.dtype == tf.float64 and {v.dtype for v in direct.weights} == {"float64"}


def test_a_float_dtype_mismatch_is_an_error_not_a_cast():
    cell = rnn_cell.GRUCell(3)
    nn.dynamic_rnn(cell, X)  # float32 weights
    with pytest.raises(TypeError, match=r"inputs are float64 but its weights were created as float32"):
        nn.dynamic_rnn(cell, X.astype(np.float64))
    explicit = rnn_cell.BasicLSTMCell(3, dtype="float32")
    with pytest.raises(TypeError, match=r"inputs are float64 but it was created with dtype= float32"):
        nn.dynamic_rnn(explicit, X.astype(np.float64))


# -- 4. variational masks per call ---------------------------------------------------------------------------
def test_variational_masks_are_redrawn_at_every_call_also_with_initial_state():
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(6), 0.5, 0.5, 0.5, variational_recurrent=True, seed=4)
    state = cell.zero_state(3, tf.float32)
    first, _ = nn.dynamic_rnn(cell, X, initial_state=state, training=True)
    second, _ = nn.dynamic_rnn(cell, X, initial_state=state, training=True)
    assert not np.allclose(first, second)  # TF1: new masks at every session.run
    step = tf.function(lambda s: nn.dynamic_rnn(cell, X, initial_state=s)[0])  # training=None: TF1 drops
    assert not np.allclose(step(state), step(state))
    mask = (np.asarray(first) != 0)[0]  # one variational mask over the whole sequence
    assert (mask == mask[:1]).all()
    layer = nn.RNN(cell, return_sequences=True)
    a = layer(X, initial_state=list(state), training=True)
    b = layer(X, initial_state=list(state), training=True)
    assert not np.allclose(a, b)


# -- 5. keep_prob as a tensor or tf.Variable -----------------------------------------------------------------
def test_keep_prob_variable_and_tensor_checked_at_run_time():
    keep = tf.Variable(0.5)
    bare = rnn_cell.GRUCell(4)
    cell = rnn_cell.DropoutWrapper(bare, output_keep_prob=keep, seed=5)
    step = tf.function(lambda: nn.dynamic_rnn(cell, X)[0])
    assert 0.3 < zero_fraction(step()) < 0.7
    keep.assign(1.0)  # TF1's feed of keep_prob=1.0 at evaluation
    np.testing.assert_allclose(step(), nn.dynamic_rnn(bare, X)[0], atol=1e-6)
    keep.assign(1.5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"output_keep_prob must be in \(0, 1\]"):
        step()
    keep.assign(0.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"output_keep_prob must be in \(0, 1\]"):
        nn.dynamic_rnn(cell, X)
    constant = rnn_cell.DropoutWrapper(rnn_cell.GRUCell(4), input_keep_prob=tf.constant(0.5), seed=6)
    assert zero_fraction(nn.dynamic_rnn(constant, X)[0]) < 0.1 and constant.get_config()["input_keep_prob"] == 0.5
    with pytest.raises(ValueError, match=r"DropoutWrapper: state_keep_prob must be a number or a scalar float tensor"):
        rnn_cell.DropoutWrapper(bare, state_keep_prob=tf.constant([0.5, 0.5]))


# -- 6. TF1 arguments: knobs, reuse, input_size, cell_clip=0.0, wrapped_cell ---------------------------------
def test_tf1_loop_knobs_are_accepted_and_change_nothing():
    cell = rnn_cell.GRUCell(4)
    expected, _ = nn.dynamic_rnn(cell, X, fast=False)
    got, _ = nn.dynamic_rnn(cell, X, parallel_iterations=32, swap_memory=True, fast=False)
    np.testing.assert_allclose(got, expected, atol=1e-7)
    (fw, _), _ = nn.bidirectional_dynamic_rnn(cell, cell, X, parallel_iterations=1, swap_memory=True)
    np.testing.assert_allclose(fw, expected, atol=1e-6)


WRAPPERS = {
    "DropoutWrapper": lambda c, **kw: rnn_cell.DropoutWrapper(c, **kw),
    "ResidualWrapper": lambda c, **kw: rnn_cell.ResidualWrapper(c, **kw),
    "DeviceWrapper": lambda c, **kw: rnn_cell.DeviceWrapper(c, "/cpu:0", **kw),
    "EmbeddingWrapper": lambda c, **kw: rnn_cell.EmbeddingWrapper(c, 10, 4, **kw),
    "InputProjectionWrapper": lambda c, **kw: rnn_cell.InputProjectionWrapper(c, 4, **kw),
    "OutputProjectionWrapper": lambda c, **kw: rnn_cell.OutputProjectionWrapper(c, 3, **kw),
}


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_every_wrapper_takes_reuse_none_and_has_wrapped_cell(name):
    inner = rnn_cell.GRUCell(4)
    wrapper = WRAPPERS[name](inner, reuse=None)
    assert wrapper.wrapped_cell is inner
    with pytest.raises(ValueError, match=r"reuse=True has no meaning in Keras 3; share weights"):
        WRAPPERS[name](inner, reuse=True)
    rnn_cell.MultiRNNCell([inner], reuse=None)


def test_input_projection_wrapper_input_size():
    cell = rnn_cell.InputProjectionWrapper(rnn_cell.GRUCell(3), 5, None, 4)  # TF1's positional order
    assert nn.dynamic_rnn(cell, X)[0].shape == (3, 5, 3)
    with pytest.raises(ValueError, match=r"input_size=6 but the inputs have depth 4"):
        nn.dynamic_rnn(rnn_cell.InputProjectionWrapper(rnn_cell.GRUCell(3), 5, input_size=6), X)


def test_cell_clip_zero_clips_to_zero_as_tf1(tf1):
    ref = tf1["clip0"]
    cell = rnn_cell.LSTMCell(3, cell_clip=0.0, num_proj=2, proj_clip=0.0)
    cell.build((None, 4))
    _load_vars(cell, ref, "rnn")
    y, state = nn.dynamic_rnn(cell, X)
    np.testing.assert_allclose(y, ref["y"], atol=1e-6)
    np.testing.assert_allclose(state.c, ref["c"], atol=1e-6)
    assert not np.any(ref["c"]) and not np.any(ref["y"])  # TF1: any clip that is not None clips
    plain = rnn_cell.LSTMCell(3, cell_clip=0.0)
    for fast in (True, False):  # the fused kernel clips to zero too
        _, state = nn.dynamic_rnn(plain, X, fast=fast)
        assert not np.any(state.c)


def _scope_initializer_cells():
    return [rnn_cell.BasicRNNCell(3), rnn_cell.BasicLSTMCell(3), rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2),
            rnn_cell.GRUCell(3)]


def test_a_variable_scope_initializer_initialises_the_weights_tf1_initialises(tf1):
    """TF1's PTB tutorial and tensorflow/nmt set ``variable_scope(..., initializer=...)``: every weight
    TF1 created without an initializer takes it (kernels, peepholes, projections), the others keep
    theirs (zero biases, GRU's gate bias 1)."""
    ref = {k[len("var:model/"):]: v for k, v in tf1["scope_initializer"].items() if k.startswith("var:model/")}
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.01)):
        cell = rnn_cell.MultiRNNCell(_scope_initializer_cells())
        nn.dynamic_rnn(cell, X, dtype=tf.float32)
    ours = {name: var.numpy() for name, var in cell.tf1_variables().items()}
    assert sorted(ours) == sorted(k.removeprefix("rnn/") for k in ref)
    for name, value in ours.items():
        np.testing.assert_array_equal(value, ref["rnn/" + name], err_msg=name)
    assert {float(np.unique(v)[0]) for v in ours.values()} == {0.0, float(np.float32(0.01)), 1.0}


def test_a_cell_constructed_in_the_scope_keeps_its_initializer_when_built_later():
    """A TF2 port builds the cell at its first call, often outside the ``with`` block it was made in."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.5)):
        cell = rnn_cell.GRUCell(3)
    outside = rnn_cell.GRUCell(3)
    tf.function(lambda: (nn.dynamic_rnn(cell, X, dtype=tf.float32), nn.dynamic_rnn(outside, X, dtype=tf.float32)))()
    np.testing.assert_array_equal(cell.gates_kernel.numpy(), 0.5)
    np.testing.assert_array_equal(cell.gates_bias.numpy(), 1.0)  # TF1's own bias initializer, not the scope's
    assert np.unique(outside.gates_kernel.numpy()).size > 1  # glorot_uniform, TF1's default without a scope's


# -- 7. TF1's call convention and TF1-style cells -------------------------------------------------------------
def test_tf1_call_keywords_state_and_scope():
    cell = rnn_cell.BasicLSTMCell(3)
    state = cell.zero_state(3, tf.float32)
    positional = cell(X[:, 0], state)
    keyword = cell(X[:, 0], state=state, scope="decoder")
    np.testing.assert_allclose(keyword[0], positional[0])
    with pytest.raises(TypeError, match=r"pass the state once"):
        cell(X[:, 0], state, state=state)
    with pytest.raises(TypeError, match=r"scope must be a string"):
        cell(X[:, 0], state=state, scope=3)


class TF1StyleCell(rnn_cell.RNNCell):
    """A user's TF1-style cell: it overrides ``__call__(inputs, state, scope=None)``, not ``call``."""

    def __init__(self, num_units):
        super().__init__()
        self._num_units = num_units
        self._inner = rnn_cell.BasicRNNCell(num_units)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def __call__(self, inputs, state, scope=None):
        output, new_state = self._inner(inputs, state)
        return 0.5 * output, new_state


def _python_loop(cell, x, state):
    outputs = []
    for t in range(x.shape[1]):
        output, state = cell(x[:, t], state)
        outputs.append(output)
    return np.stack(outputs, 1)


@pytest.mark.parametrize("wrap", [
    lambda c: c,
    lambda c: rnn_cell.DropoutWrapper(c, output_keep_prob=1.0),
    lambda c: rnn_cell.ResidualWrapper(c),
    lambda c: rnn_cell.MultiRNNCell([c, rnn_cell.GRUCell(4)]),
], ids=["bare", "dropout", "residual", "multi"])
def test_tf1_style_cells_run_in_wrappers_and_drivers(wrap):
    cell = wrap(TF1StyleCell(4))
    eager, _ = nn.dynamic_rnn(cell, X)
    graph, _ = tf.function(lambda: nn.dynamic_rnn(cell, X))()
    expected = _python_loop(cell, X, cell.zero_state(3, tf.float32))
    np.testing.assert_allclose(eager, expected, atol=1e-6)
    np.testing.assert_allclose(graph, expected, atol=1e-6)
    static, _ = nn.static_rnn(cell, list(np.transpose(X, [1, 0, 2])))
    np.testing.assert_allclose(np.stack(static, 1), expected, atol=1e-6)
    (fw, bw), _ = nn.bidirectional_dynamic_rnn(cell, cell, X)
    np.testing.assert_allclose(fw, expected, atol=1e-6)


def test_tf1_style_cells_run_in_the_seq2seq_decoders():
    """tensorflow/nmt's GNMT pattern: a MultiRNNCell subclass overriding ``__call__(inputs, state,
    scope=None)`` that reads TF1's ``self._cells``, an ``AttentionWrapper`` at the bottom whose
    attention is fed to the upper layers, inside ``BasicDecoder`` and ``BeamSearchDecoder`` (which
    pass ``training``)."""
    from tfseq import seq2seq

    class AttentionStack(rnn_cell.MultiRNNCell):
        def __call__(self, inputs, state, scope=None):
            with tf.compat.v1.variable_scope(scope or "multi_rnn_cell"):
                output, attention_state = self._cells[0](inputs, state[0])
                new_states = [attention_state]
                for cell, cell_state in zip(self._cells[1:], state[1:]):
                    output, cell_state = cell(tf.concat([output, attention_state.attention], -1), cell_state)
                    new_states.append(cell_state)
            return output, tuple(new_states)

    memory = np.random.default_rng(3).standard_normal((3, 6, 4)).astype(np.float32)
    mechanism = seq2seq.LuongAttention(4, memory, memory_sequence_length=[6, 2, 4])
    bottom = seq2seq.AttentionWrapper(rnn_cell.BasicLSTMCell(4), mechanism, attention_layer_size=None,
                                      output_attention=False, name="attention")
    cell = AttentionStack([bottom, TF1StyleCell(4), rnn_cell.GRUCell(4)])
    assert cell._cells == cell.cells
    helper = seq2seq.TrainingHelper(tf.constant(X), tf.fill([3], X.shape[1]))
    outputs, _, _ = seq2seq.dynamic_decode(seq2seq.BasicDecoder(cell, helper, cell.zero_state(3, tf.float32)),
                                           training=True)
    np.testing.assert_allclose(outputs.rnn_output, _python_loop(cell, X, cell.zero_state(3, tf.float32)), atol=1e-6)
    mechanism.setup_memory(seq2seq.tile_batch(memory, 2), seq2seq.tile_batch(tf.constant([6, 2, 4]), 2))
    embedding = tf.constant(np.random.default_rng(2).standard_normal((5, X.shape[2])).astype(np.float32))
    beam = seq2seq.BeamSearchDecoder(cell, 2, output_layer=keras.layers.Dense(5), maximum_iterations=3)
    ids = beam(embedding, start_tokens=[0, 0, 0], end_token=1, initial_state=cell.zero_state(6, tf.float32),
               training=True)[0].predicted_ids
    assert ids.shape[0] == 3 and ids.shape[2] == 2


def test_a_fusable_cell_with_its_own_dunder_call_runs_per_step():
    class Doubled(rnn_cell.GRUCell):
        def __call__(self, inputs, state, scope=None):
            output, new_state = super().__call__(inputs, state)
            return 2.0 * output, new_state

    cell = Doubled(4)
    assert fused.plan(cell, tf.constant(X)).path == fused.PER_STEP
    y, _ = nn.dynamic_rnn(cell, X)
    np.testing.assert_allclose(y, _python_loop(cell, X, cell.zero_state(3, tf.float32)), atol=1e-6)


# -- 10. strict loading of a sub-scope -------------------------------------------------------------------------
def test_strict_target_loads_a_cell_next_to_a_programs_other_variables(tf1):
    ref = tf1["program"]
    cell = rnn_cell.BasicLSTMCell(3)
    cell.build((None, 4))
    program = ref["ckpt"] + "/program"
    with pytest.raises(ValueError, match=r"unexpected .*decoder/softmax_w.*learning_rate"):
        compat.load_tf1_checkpoint(program, cell, scope="")  # strict=True: everything under '' counts
    loaded = compat.load_tf1_checkpoint(program, cell, scope="", strict="target")
    assert sorted(loaded) == ["basic_lstm_cell/bias", "basic_lstm_cell/kernel"]
    y, _ = cell(X[:, 0], cell.zero_state(3, tf.float32))
    np.testing.assert_allclose(y, ref["y"], atol=1e-6)
    with pytest.raises(ValueError, match=r"unexpected \(in the checkpoint under 'basic_lstm_cell'.*w_f_diag"):
        compat.load_tf1_checkpoint(ref["ckpt"] + "/stray", cell, scope="", strict="target")
    with pytest.raises(ValueError, match=r"missing .*rnn/gru_cell/gates/kernel"):
        gru = rnn_cell.GRUCell(3)
        gru.build((None, 4))
        compat.load_tf1_checkpoint(program, gru, strict="target")
    with pytest.raises(ValueError, match=r"strict must be True, False or 'target', got 'yes'"):
        compat.load_tf1_checkpoint(program, cell, strict="yes")


# -- 11. tf.contrib.rnn as one import -----------------------------------------------------------------------------
def test_contrib_rnn_namespace_is_tfseqs_own_objects_and_runs_a_contrib_style_program():
    """``from tensorflow.contrib import rnn`` -> ``from tfseq.compat import contrib_rnn as rnn``: the
    classic TF1 example's ``rnn.BasicLSTMCell`` + ``rnn.static_rnn`` over a list of steps."""
    from tfseq.compat import contrib_rnn as rnn

    for name in rnn.__all__:
        assert getattr(rnn, name) is (getattr(rnn_cell, name, None) or getattr(nn, name)), name
    steps = tf.unstack(tf.constant(X), X.shape[1], 1)  # the example's x = tf.unstack(x, timesteps, 1)
    lstm_cell = rnn.BasicLSTMCell(5, forget_bias=1.0)
    outputs, states = rnn.static_rnn(lstm_cell, steps, dtype=tf.float32)
    expected, _ = nn.dynamic_rnn(lstm_cell, X)
    np.testing.assert_allclose(np.stack(outputs, 1), expected, atol=1e-6)
    assert {"SRUCell", "IndRNNCell", "IndyGRUCell", "IndyLSTMCell", "CoupledInputForgetGateLSTMCell", "UGRNNCell",
            "IntersectionRNNCell"} <= set(rnn.__all__)
    with pytest.raises(AttributeError, match="LSTMBlockWrapper"):
        rnn.LSTMBlockWrapper  # noqa: B018 - contrib's abstract base, not provided


# -- 12. raw_rnn ------------------------------------------------------------------------------------------------
def _raw_rnn_run(cell, structured):
    x_tm = np.transpose(X, [1, 0, 2])
    steps, batch, depth = x_tm.shape
    inputs_ta = tf.TensorArray(tf.float32, size=steps).unstack(tf.constant(x_tm))

    def loop_fn(time, cell_output, cell_state, loop_state):  # the TF1 program's, unchanged
        finished = time >= RAW_LENGTHS
        next_input = tf.cond(tf.reduce_all(finished), lambda: tf.zeros([batch, depth]), lambda: inputs_ta.read(time))
        if cell_output is None:
            emit = (tf.zeros([6]), tf.zeros([1])) if structured else None
            return finished, next_input, cell.zero_state(batch, tf.float32), emit, (
                tf.zeros([batch]) if structured else None)
        if structured:
            emit = (cell_output, tf.reduce_sum(cell_output, 1, keepdims=True))
            return finished, next_input, cell_state, emit, loop_state + tf.reduce_sum(cell_output, 1)
        return finished, next_input, cell_state, cell_output, None

    emit_ta, final, loop_state = nn.raw_rnn(cell, loop_fn)
    return [ta.stack() for ta in tf.nest.flatten(emit_ta)], final, loop_state


@pytest.mark.parametrize("case", ["raw_rnn", "raw_rnn_structured"])
@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
def test_raw_rnn_matches_tf1(tf1, case, graph):
    """TF1's ``raw_rnn`` with its docstring's ``loop_fn`` (inputs from a TensorArray, rows finishing at
    their lengths), and with an emitted structure and a loop state: emissions (zeros after a row
    finished), final state and loop state equal TF1's."""
    ref = tf1[case]
    cell = rnn_cell.LSTMCell(6)
    cell.build((None, X.shape[2]))
    _load_vars(cell, ref, "rnn")
    run = tf.function(_raw_rnn_run, autograph=False) if graph else _raw_rnn_run
    emitted, final, loop_state = run(cell, case == "raw_rnn_structured")
    theirs = [ref[k] for k in sorted(k for k in ref if k.startswith("emit"))]
    assert len(emitted) == len(theirs) == (2 if case == "raw_rnn_structured" else 1)
    for ours, their in zip(emitted, theirs):
        np.testing.assert_allclose(ours, their, atol=1e-6)
    np.testing.assert_allclose(final.c, ref["c"], atol=1e-6)
    np.testing.assert_allclose(final.h, ref["h"], atol=1e-6)
    assert np.all(np.asarray(emitted[0])[RAW_LENGTHS[1]:, 1] == 0)  # row 1 finished after one step: zeros
    if case == "raw_rnn_structured":
        np.testing.assert_allclose(loop_state, ref["loop_state"], atol=1e-5)
    else:
        assert loop_state is None


def test_raw_rnn_rejects_bad_arguments():
    cell = rnn_cell.GRUCell(3)
    with pytest.raises(TypeError, match="loop_fn must be a callable"):
        nn.raw_rnn(cell, None)
    with pytest.raises(ValueError, match="parallel_iterations must be a positive integer"):
        nn.raw_rnn(cell, lambda *a: None, parallel_iterations=0)


# -- 13. static_state_saving_rnn --------------------------------------------------------------------------------
class _VariableSaver:
    """The TF1 program's state saver, over TF 2 variables."""

    def __init__(self, batch):
        self.vars = {n: tf.Variable(tf.fill([batch, 5], 0.1), trainable=False) for n in ("c", "h")}
        self.saved = []

    def state(self, name):
        return self.vars[name].read_value()

    def save_state(self, name, value):
        self.saved.append(name)
        return self.vars[name].assign(value)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
def test_static_state_saving_rnn_matches_tf1_over_two_segments(tf1, graph):
    """Two segments of one sequence: the first starts from the saver's state and saves its final
    state (rows shorter than the segment keep the state of their last real step), the second starts
    from what the first saved. Outputs, states and the saved variables equal TF1's."""
    ref = tf1["state_saving"]
    cell = rnn_cell.LSTMCell(5)
    cell.build((None, X.shape[2]))
    _load_vars(cell, ref, "rnn")
    saver = _VariableSaver(X.shape[0])

    def run(segment, lengths):
        outs, final = nn.static_state_saving_rnn(cell, [segment[:, t] for t in range(3)], saver, ("c", "h"),
                                                 sequence_length=lengths)
        return tf.stack(outs, 1), final

    run = tf.function(run, autograph=False) if graph else run
    for k, (part, lengths) in enumerate(((X[:, :3], [3, 1, 2]), (X[:, 2:], [3, 3, 3]))):
        y, final = run(tf.constant(part), tf.constant(lengths))
        np.testing.assert_allclose(y, ref[f"y{k}"], atol=1e-6)
        np.testing.assert_allclose(final.c, ref[f"c{k}"], atol=1e-6)
        np.testing.assert_allclose(final.h, ref[f"h{k}"], atol=1e-6)
    np.testing.assert_allclose(saver.vars["c"].numpy(), ref["saved_c"], atol=1e-6)
    np.testing.assert_allclose(saver.vars["h"].numpy(), ref["saved_h"], atol=1e-6)
    assert not np.allclose(ref["y0"][:, 0], ref["y1"][:, 0])  # the second segment started from the saved state
    assert saver.saved[-2:] == ["c", "h"]


def test_static_state_saving_rnn_single_state_and_bad_arguments():
    cell = rnn_cell.GRUCell(5)
    saver = _VariableSaver(3)
    steps = [tf.constant(X[:, t]) for t in range(2)]
    outs, final = nn.static_state_saving_rnn(cell, steps, saver, "h")
    np.testing.assert_array_equal(saver.vars["h"].numpy(), final.numpy())
    expected, _ = nn.static_rnn(cell, steps, initial_state=tf.fill([3, 5], 0.1))
    np.testing.assert_allclose(outs[-1], expected[-1], atol=1e-6)
    with pytest.raises(ValueError, match=r"state_name=\('c', 'h'\) must be one name for cell.state_size=5"):
        nn.static_state_saving_rnn(cell, steps, saver, ("c", "h"))
    with pytest.raises(ValueError, match="state_name='c' must be a tuple of names"):
        nn.static_state_saving_rnn(rnn_cell.LSTMCell(5), steps, saver, "c")
    with pytest.raises(ValueError, match=r"has 1 names but cell.state_size=.* has 2 parts"):
        nn.static_state_saving_rnn(rnn_cell.LSTMCell(5), steps, saver, ("c",))
    reader = type("ReadOnly", (), {"state": lambda self, name: tf.zeros([3, 5])})()
    with pytest.raises(TypeError, match=r"ReadOnly object .* has no save_state\(\)"):
        nn.static_state_saving_rnn(cell, steps, reader, "h")
