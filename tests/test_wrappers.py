"""Wrappers: TF1 parity (real TF1 in one subprocess), goldens, equivalences, dropout statistics,
errors, nesting, serialization and ``.keras`` round trips."""

import warnings

import keras
import numpy as np
import numpy_ref
import pytest
import tensorflow as tf
from cell_harness import check_cell, python_loop
from cell_harness import half_kernels as _half_kernels
from tf1_reference import run_tf1_many

from tfseq import nn, rnn_cell

X = np.array([[1.0, 1.0]], np.float32)
STATE = np.full([1, 2], 0.1, np.float32)
rng = np.random.default_rng(7)
SEQ = rng.standard_normal((3, 5, 3)).astype(np.float32)
LENGTHS = np.array([5, 2, 4], np.int32)

# --- TF1 reference: every deterministic wrapper case in one subprocess ---------------------

_TF1_PRELUDE = """
x = tf1.constant(inputs["x"])
"""
_TF1_RUN = """
y, s = tf1.nn.dynamic_rnn(cell, x, sequence_length=inputs["len"], dtype=tf.float32)
variables = tf1.trainable_variables()
grads = tf1.gradients(tf1.reduce_sum(y * y) + sum(tf1.reduce_sum(t * t) for t in tf.nest.flatten(s)),
                      [x] + variables)  # built before the first run: the session freezes the graph
sess.run(tf1.global_variables_initializer())
outputs["names"] = np.array([v.op.name for v in variables])
for v, value in zip(variables, sess.run(variables)):
    outputs["w:" + v.op.name] = value
outputs["y"] = sess.run(y)
for k, value in enumerate(sess.run(tf.nest.flatten(s))):
    outputs[f"s{k}"] = value
for k, value in enumerate(sess.run(grads)):
    outputs[f"g{k}"] = value
"""
TF1_CASES = {
    # MultiRNNCell nesting DropoutWrapper (keep 1), ResidualWrapper and a peephole LSTMCell
    "multi": """
cell = tf1.nn.rnn_cell.MultiRNNCell([
    tf1.nn.rnn_cell.DropoutWrapper(tf1.nn.rnn_cell.BasicLSTMCell(3), input_keep_prob=1.0, output_keep_prob=1.0),
    tf1.nn.rnn_cell.ResidualWrapper(tf1.nn.rnn_cell.GRUCell(3)),
    tf1.nn.rnn_cell.LSTMCell(4, use_peepholes=True),
])
""",
    # concatenated state, DeviceWrapper
    "flat": """
cell = tf1.nn.rnn_cell.MultiRNNCell([
    tf1.nn.rnn_cell.DeviceWrapper(tf1.nn.rnn_cell.GRUCell(3), "/cpu:0"),
    tf1.nn.rnn_cell.BasicRNNCell(2),
], state_is_tuple=False)
""",
}


def make_tfseq(name):
    if name == "multi":
        return rnn_cell.MultiRNNCell([
            rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(3), input_keep_prob=1.0, output_keep_prob=1.0),
            rnn_cell.ResidualWrapper(rnn_cell.GRUCell(3)),
            rnn_cell.LSTMCell(4, use_peepholes=True),
        ])
    return rnn_cell.MultiRNNCell(
        [rnn_cell.DeviceWrapper(rnn_cell.GRUCell(3), "/cpu:0"), rnn_cell.BasicRNNCell(2)], state_is_tuple=False
    )


@pytest.fixture(scope="module")
def tf1_results():
    inputs = {"x": SEQ, "len": LENGTHS}
    return run_tf1_many([(name, _TF1_PRELUDE + src + _TF1_RUN, inputs) for name, src in TF1_CASES.items()])


@pytest.mark.parametrize("name", sorted(TF1_CASES))
def test_tf1_parity_names_outputs_states_gradients(tf1_results, name):
    ref = tf1_results[name]
    cell = make_tfseq(name)
    cell.build((None, 3))
    ours = {"rnn/" + k: v for k, v in cell.tf1_variables().items()}
    assert sorted(ours) == sorted(str(n) for n in ref["names"])  # TF1's own variable names
    for tf1_name in ref["names"]:
        ours[str(tf1_name)].assign(ref["w:" + str(tf1_name)])
    ordered = [ours[str(n)] for n in ref["names"]]
    x = tf.constant(SEQ)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y, s = nn.dynamic_rnn(cell, x, sequence_length=LENGTHS)
        loss = tf.reduce_sum(y * y) + sum(tf.reduce_sum(t * t) for t in tf.nest.flatten(s))
    grads = tape.gradient(loss, [x] + ordered)
    np.testing.assert_allclose(y.numpy(), ref["y"], atol=1e-5)
    for k, t in enumerate(tf.nest.flatten(s)):
        np.testing.assert_allclose(t.numpy(), ref[f"s{k}"], atol=1e-5)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g.numpy(), ref[f"g{k}"], atol=1e-5, err_msg=f"gradient {k}")


# --- MultiRNNCell -------------------------------------------------------------------------


def test_multi_rnn_cell_tf1_published_numbers():
    """TF1's own MultiRNNCell test: 2 x BasicLSTMCell(2), kernels 0.5, x=[[1,1]], state 0.1."""
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(2) for _ in range(2)])
    cell.build((1, 2))
    _half_kernels(cell)
    state = tuple(rnn_cell.LSTMStateTuple(tf.constant(STATE), tf.constant(STATE)) for _ in range(2))
    y, (s0, s1) = cell(tf.constant(X), state)
    w = {"kernel": np.full([4, 8], 0.5), "bias": np.zeros(8)}  # NumPy reference beside the golden
    ref_y0, (ref_c0, ref_h0) = numpy_ref.lstm_step(X, STATE, STATE, w)
    ref_y1, (ref_c1, ref_h1) = numpy_ref.lstm_step(ref_y0, STATE, STATE, w)
    for got, ref, published in [
        (y, ref_y1, 0.24024698), (s0.c, ref_c0, 0.68967271), (s0.h, ref_h0, 0.44848421),
        (s1.c, ref_c1, 0.39897051), (s1.h, ref_h1, 0.24024698),
    ]:
        np.testing.assert_allclose(ref, [[published] * 2], atol=1e-6)
        np.testing.assert_allclose(got.numpy(), [[published] * 2], atol=1e-6)


def test_multi_rnn_cell_sizes_names_and_build_delegation():
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(5), rnn_cell.BasicRNNCell(2)])
    assert cell.state_size == (rnn_cell.LSTMStateTuple(3, 3), 5, 2) and cell.output_size == 2
    cell.build((None, 4))
    shapes = {k: tuple(v.shape) for k, v in cell.tf1_variables().items()}
    assert shapes == {  # cell k is built with the output size of cell k - 1
        "multi_rnn_cell/cell_0/basic_lstm_cell/kernel": (7, 12),
        "multi_rnn_cell/cell_0/basic_lstm_cell/bias": (12,),
        "multi_rnn_cell/cell_1/gru_cell/gates/kernel": (8, 10),
        "multi_rnn_cell/cell_1/gru_cell/gates/bias": (10,),
        "multi_rnn_cell/cell_1/gru_cell/candidate/kernel": (8, 5),
        "multi_rnn_cell/cell_1/gru_cell/candidate/bias": (5,),
        "multi_rnn_cell/cell_2/basic_rnn_cell/kernel": (7, 2),
        "multi_rnn_cell/cell_2/basic_rnn_cell/bias": (2,),
    }
    flat = rnn_cell.MultiRNNCell([rnn_cell.GRUCell(3), rnn_cell.GRUCell(2)], state_is_tuple=False)
    assert flat.state_size == 5
    assert tuple(flat.zero_state(4, tf.float32).shape) == (4, 5)


def test_multi_rnn_cell_of_one_cell_equals_the_cell():
    bare = rnn_cell.BasicLSTMCell(4)
    multi = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(4)])
    bare.build((None, 3))
    multi.build((None, 3))
    multi.set_weights(bare.get_weights())
    y_bare, s_bare = nn.dynamic_rnn(bare, SEQ, sequence_length=LENGTHS)
    y_multi, (s_multi,) = nn.dynamic_rnn(multi, SEQ, sequence_length=LENGTHS)
    np.testing.assert_allclose(y_bare.numpy(), y_multi.numpy(), atol=1e-6)
    np.testing.assert_allclose(s_bare.c.numpy(), s_multi.c.numpy(), atol=1e-6)
    np.testing.assert_allclose(s_bare.h.numpy(), s_multi.h.numpy(), atol=1e-6)


def test_multi_rnn_cell_tf1_errors_and_shared_cell_warning():
    with pytest.raises(ValueError, match="at least one cell"):
        rnn_cell.MultiRNNCell([])
    with pytest.raises(TypeError, match="list or tuple"):
        rnn_cell.MultiRNNCell(rnn_cell.GRUCell(2))
    with pytest.raises(TypeError, match=r"cells\[1\] must be an RNN cell"):
        rnn_cell.MultiRNNCell([rnn_cell.GRUCell(2), "gru"])
    with pytest.raises(ValueError, match="state_is_tuple=False"):
        rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(2)], state_is_tuple=False)
    shared = rnn_cell.GRUCell(3)
    with pytest.warns(UserWarning, match="same object and will share weights"):
        cell = rnn_cell.MultiRNNCell([shared, shared])
    y, _ = nn.dynamic_rnn(cell, SEQ)  # input depth 3 == output size 3: the weights are shared
    assert len(cell.trainable_weights) == 4 and y.shape == (3, 5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn_cell.MultiRNNCell([rnn_cell.GRUCell(3), rnn_cell.GRUCell(3)])


def test_multi_rnn_cell_with_keras_cells_inside():
    cell = rnn_cell.MultiRNNCell([keras.layers.LSTMCell(3), rnn_cell.GRUCell(2)])
    layer = keras.layers.RNN(cell, return_sequences=True)
    y = layer(SEQ)
    loop, _ = python_loop(cell, tf.constant(SEQ))
    np.testing.assert_allclose(y.numpy(), loop.numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="no TF1 variable names"):
        cell.tf1_variables()


# --- DropoutWrapper -----------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="tfseq_tests")
class PassThroughCell(keras.layers.Layer):
    """Test cell: output = inputs, state = inputs (so dropout masks can be read off)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def call(self, inputs, states):
        return inputs, [inputs]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _ones(batch=4, time=6, depth=300):
    return tf.ones([batch, time, depth])


@pytest.mark.parametrize("name", ["input_keep_prob", "output_keep_prob", "state_keep_prob"])
@pytest.mark.parametrize("value", [0.0, -0.5, 1.5, True, "0.5"])
def test_dropout_keep_probs_outside_0_1_rejected(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be in \(0, 1\], got {value!r}".replace("'", ".")):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), **{name: value})


def test_dropout_is_identity_unless_training_and_with_keep_prob_one():
    bare = rnn_cell.BasicLSTMCell(4)
    bare.build((None, 3))
    y_bare, s_bare = nn.dynamic_rnn(bare, SEQ)
    dropped = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4), 0.5, 0.5, 0.5, variational_recurrent=True)
    kept = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(4))  # keep 1 everywhere
    for wrapper, training in [(dropped, False), (kept, True), (kept, None)]:
        wrapper.build((None, 3))
        wrapper.set_weights(bare.get_weights())
        y, s = nn.dynamic_rnn(wrapper, SEQ, training=training)
        # allclose, not equal: dynamic_rnn may take its fused path for one and not the other
        np.testing.assert_allclose(y.numpy(), y_bare.numpy(), atol=1e-6)
        np.testing.assert_allclose(s.h.numpy(), s_bare.h.numpy(), atol=1e-6)
    # Keras semantics: a Keras RNN layer called without training does not drop
    y_keras = keras.layers.RNN(dropped, return_sequences=True)(SEQ)
    np.testing.assert_allclose(y_keras.numpy(), y_bare.numpy(), atol=1e-6)
    # the TF1 driver without training drops, as TF1 did (tests/test_tf1_dropin.py has more)
    for training in (True, None):
        y_train, _ = nn.dynamic_rnn(dropped, SEQ, training=training)
        assert not np.allclose(y_train.numpy(), y_bare.numpy())


@pytest.mark.parametrize("variational", [False, True])
def test_dropout_inverted_scaling_preserves_the_mean(variational):
    keep = 0.7
    cell = rnn_cell.DropoutWrapper(PassThroughCell(300), input_keep_prob=keep, variational_recurrent=variational,
                                   seed=3)
    y, _ = nn.dynamic_rnn(cell, _ones(), training=True)
    values = np.unique(np.round(y.numpy(), 5))
    np.testing.assert_allclose(values, [0.0, round(1 / keep, 5)])  # dropped, or scaled by 1 / keep
    kept_fraction = np.mean(y.numpy() > 0)
    # variational: 300 independent mask entries (shared by rows/steps); otherwise 7200
    assert abs(kept_fraction - keep) < (0.1 if variational else 0.03)
    assert abs(np.mean(y.numpy()) - 1.0) < (0.15 if variational else 0.04)


def _masks_of(run):
    """Two sequence batches through ``run``; returns their [batch, time, depth] 0/1 masks."""
    return [(run(_ones()).numpy() > 0).astype(np.int8) for _ in range(2)]


def _check_variational(first, second):
    assert np.all(first == first[:1, :1]), "variational mask must be shared by every step and row"
    assert np.all(second == second[:1, :1])
    assert 0 < first.mean() < 1
    assert np.mean(first[0, 0] != second[0, 0]) > 0.2, "a new sequence batch must get a new mask"


def test_variational_masks_in_dynamic_rnn_eager_and_tf_function():
    cell = rnn_cell.DropoutWrapper(PassThroughCell(300), output_keep_prob=0.5, variational_recurrent=True)
    _check_variational(*_masks_of(lambda x: nn.dynamic_rnn(cell, x, training=True)[0]))
    traced = tf.function(lambda x: nn.dynamic_rnn(cell, x, training=True)[0])
    _check_variational(*_masks_of(traced))  # one trace, two calls: two masks


def test_variational_masks_in_keras_rnn_and_model_fit_graph():
    cell = rnn_cell.DropoutWrapper(PassThroughCell(300), input_keep_prob=0.5, variational_recurrent=True)
    layer = keras.layers.RNN(cell, return_sequences=True)
    _check_variational(*_masks_of(lambda x: layer(x, training=True)))
    traced = tf.function(lambda x: layer(x, training=True))
    _check_variational(*_masks_of(traced))


def test_variational_state_mask_and_lstm_c_untouched():
    """State dropout with one LSTM step: c is never dropped, h is dropped with one [1, n] mask."""
    bare = rnn_cell.BasicLSTMCell(200)
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(200), state_keep_prob=0.5, variational_recurrent=True)
    bare.build((None, 3))
    cell.build((None, 3))
    cell.set_weights(bare.get_weights())
    x = tf.constant(rng.standard_normal((8, 3)), tf.float32)
    state = cell.get_initial_state(batch_size=8)  # a new sequence: a new mask
    _, ref = bare(x, state)
    _, got = cell(x, state, training=True)
    np.testing.assert_array_equal(got.c.numpy(), ref.c.numpy())
    kept = got.h.numpy() != 0
    assert np.all(kept == kept[:1]) and 0 < kept.mean() < 1  # same mask for every row
    np.testing.assert_allclose(got.h.numpy()[kept], (ref.h.numpy() / 0.5)[kept], rtol=1e-6)
    _, again = cell(x, state, training=True)  # same sequence, next step: same mask
    np.testing.assert_array_equal(again.h.numpy() != 0, kept)
    cell.resample_dropout_masks()
    _, fresh = cell(x, state, training=True)
    assert np.any((fresh.h.numpy() != 0) != kept)


def test_non_variational_masks_change_every_step():
    cell = rnn_cell.DropoutWrapper(PassThroughCell(300), output_keep_prob=0.5)
    y = nn.dynamic_rnn(cell, _ones(), training=True)[0].numpy() > 0
    assert np.mean(y[:, 0] != y[:, 1]) > 0.3 and np.mean(y[0] != y[1]) > 0.3


def test_dropout_state_filter_visitor_custom():
    cell = rnn_cell.DropoutWrapper(
        rnn_cell.BasicLSTMCell(50), state_keep_prob=0.5, dropout_state_filter_visitor=lambda s: True
    )
    state = cell.get_initial_state(batch_size=4)
    x = tf.ones([4, 3])
    _, got = cell(x, state, training=True)
    assert np.mean(got.c.numpy() == 0) > 0.2  # c dropped too when the visitor says so


def test_dropout_resample_reaches_wrappers_inside_a_multi_cell():
    inner = rnn_cell.DropoutWrapper(PassThroughCell(300), output_keep_prob=0.5, variational_recurrent=True)
    cell = rnn_cell.MultiRNNCell([inner])
    state = cell.get_initial_state(batch_size=2)
    first, _ = cell(tf.ones([2, 300]), state, training=True)
    cell.resample_dropout_masks()
    second, _ = cell(tf.ones([2, 300]), state, training=True)
    assert np.mean((first.numpy() > 0) != (second.numpy() > 0)) > 0.2


# --- baseline harness: every wrapper, nested, Keras RNN, .keras round trip --------------------


_GRU3_SHAPES = {
    "gru_cell/gates/kernel": (6, 6), "gru_cell/gates/bias": (6,),
    "gru_cell/candidate/kernel": (6, 3), "gru_cell/candidate/bias": (3,),
}
HARNESS_CASES = {
    "multi_rnn_cell": (
        lambda: rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(2)]),
        {
            "multi_rnn_cell/cell_0/basic_lstm_cell/kernel": (6, 12),
            "multi_rnn_cell/cell_0/basic_lstm_cell/bias": (12,),
            "multi_rnn_cell/cell_1/gru_cell/gates/kernel": (5, 4),
            "multi_rnn_cell/cell_1/gru_cell/gates/bias": (4,),
            "multi_rnn_cell/cell_1/gru_cell/candidate/kernel": (5, 2),
            "multi_rnn_cell/cell_1/gru_cell/candidate/bias": (2,),
        },
    ),
    "dropout": (
        lambda: rnn_cell.DropoutWrapper(
            rnn_cell.BasicLSTMCell(3), input_keep_prob=0.8, state_keep_prob=0.5, variational_recurrent=True, seed=1
        ),
        {"basic_lstm_cell/kernel": (6, 12), "basic_lstm_cell/bias": (12,)},
    ),
    "residual": (lambda: rnn_cell.ResidualWrapper(rnn_cell.GRUCell(3)), _GRU3_SHAPES),
    "device": (lambda: rnn_cell.DeviceWrapper(rnn_cell.GRUCell(3), "/cpu:0"), _GRU3_SHAPES),
    "input_projection": (
        lambda: rnn_cell.InputProjectionWrapper(rnn_cell.GRUCell(2), num_proj=4, activation="relu"),
        {
            "input_projection_wrapper/kernel": (3, 4),  # TF1: no bias
            "input_projection_wrapper/gru_cell/gates/kernel": (6, 4),
            "input_projection_wrapper/gru_cell/gates/bias": (4,),
            "input_projection_wrapper/gru_cell/candidate/kernel": (6, 2),
            "input_projection_wrapper/gru_cell/candidate/bias": (2,),
        },
    ),
    "output_projection": (
        lambda: rnn_cell.OutputProjectionWrapper(rnn_cell.BasicLSTMCell(3), 2, activation="tanh"),
        {
            "output_projection_wrapper/kernel": (3, 2),
            "output_projection_wrapper/bias": (2,),
            "output_projection_wrapper/basic_lstm_cell/kernel": (6, 12),
            "output_projection_wrapper/basic_lstm_cell/bias": (12,),
        },
    ),
}


@pytest.mark.parametrize("name", list(HARNESS_CASES))
def test_harness(tmp_path, name):
    make, weight_shapes = HARNESS_CASES[name]
    check_cell(make, tmp_path, weight_shapes=weight_shapes)


def test_harness_deeply_nested_wrappers(tmp_path):
    def make():
        return rnn_cell.DropoutWrapper(
            rnn_cell.MultiRNNCell([
                rnn_cell.ResidualWrapper(rnn_cell.DropoutWrapper(rnn_cell.GRUCell(3), output_keep_prob=0.5)),
                rnn_cell.OutputProjectionWrapper(rnn_cell.DeviceWrapper(rnn_cell.BasicLSTMCell(4), "/cpu:0"), 2),
            ]),
            input_keep_prob=0.9,
            variational_recurrent=True,
        )

    cell = check_cell(make, tmp_path)
    assert sorted(cell.tf1_variables()) == [
        "multi_rnn_cell/cell_0/gru_cell/candidate/bias",
        "multi_rnn_cell/cell_0/gru_cell/candidate/kernel",
        "multi_rnn_cell/cell_0/gru_cell/gates/bias",
        "multi_rnn_cell/cell_0/gru_cell/gates/kernel",
        "multi_rnn_cell/cell_1/output_projection_wrapper/basic_lstm_cell/bias",
        "multi_rnn_cell/cell_1/output_projection_wrapper/basic_lstm_cell/kernel",
        "multi_rnn_cell/cell_1/output_projection_wrapper/bias",
        "multi_rnn_cell/cell_1/output_projection_wrapper/kernel",
    ]


def test_projection_wrappers_equal_their_math():
    cell = rnn_cell.OutputProjectionWrapper(rnn_cell.InputProjectionWrapper(rnn_cell.GRUCell(3), 5), 2)
    y, s = nn.dynamic_rnn(cell, SEQ, sequence_length=LENGTHS)
    v = {k: var.numpy() for k, var in cell.tf1_variables().items()}
    inner = "output_projection_wrapper/input_projection_wrapper/gru_cell/"
    w = {k[len(inner):]: val for k, val in v.items() if k.startswith(inner)}

    def step(x_t, h):
        out, h = numpy_ref.gru_step(x_t @ v["output_projection_wrapper/input_projection_wrapper/kernel"], h, w)
        return out @ v["output_projection_wrapper/kernel"] + v["output_projection_wrapper/bias"], h

    ref_y, ref_s = numpy_ref.dynamic_rnn(step, SEQ, np.zeros((3, 3), np.float32), LENGTHS)
    np.testing.assert_allclose(y.numpy(), ref_y, atol=1e-5)
    np.testing.assert_allclose(s.numpy(), ref_s, atol=1e-5)


def test_residual_wrapper_custom_fn_and_depth_error():
    cell = rnn_cell.ResidualWrapper(rnn_cell.GRUCell(3), residual_fn=lambda x, y: y - x)
    bare = rnn_cell.GRUCell(3)
    bare.build((None, 3))
    cell.build((None, 3))
    cell.set_weights(bare.get_weights())
    x = tf.constant(SEQ[:, 0])
    state = bare.get_initial_state(batch_size=3)
    np.testing.assert_allclose(cell(x, state)[0].numpy(), (bare(x, state)[0] - x).numpy(), atol=1e-7)
    with pytest.raises(ValueError, match=r"same shape, got inputs \[batch, 3\] and outputs \[batch, 4\]"):
        rnn_cell.ResidualWrapper(rnn_cell.GRUCell(4)).build((None, 3))


class PairCell(keras.layers.Layer):
    """Test cell of nested steps: ``(a, b) -> (tanh(a) * h, b * h)`` for the state ``h`` ``[batch, 1]``,
    which becomes ``mean(a)``; ``b`` may have another width than the declared output."""

    state_size = 1
    output_size = 2

    def call(self, inputs, states):
        a, b = inputs
        h = states[0]
        return (tf.tanh(a) * h, b[:, :2] * h), [tf.reduce_mean(a, 1, keepdims=True)]


def test_residual_wrapper_adds_nested_inputs_and_names_both_shapes():
    """TF1's default residual maps over nested inputs and outputs, checking each pair's shape."""
    cell = rnn_cell.ResidualWrapper(PairCell())
    a, b = tf.constant(SEQ[:, 0]), tf.constant(SEQ[:, 1, :2])
    h = tf.constant([[0.5], [-1.0], [2.0]])
    (y_a, y_b), state = cell((a, b), [h])
    np.testing.assert_allclose(y_a.numpy(), (a + tf.tanh(a) * h).numpy(), atol=1e-7)
    np.testing.assert_allclose(y_b.numpy(), (b + b * h).numpy(), atol=1e-7)
    np.testing.assert_allclose(tf.nest.flatten(state)[0].numpy(), tf.reduce_mean(a, 1, keepdims=True).numpy())
    with pytest.raises(ValueError, match=r"same shape, got inputs of shape \(3, 3\) and outputs of shape \(3, 2\)"):
        cell((a, tf.constant(SEQ[:, 1])), [h])


# --- EmbeddingWrapper ---------------------------------------------------------------------

IDS = np.array([[3, 0, 7, 7], [1, 9, 2, 4]], np.int32)  # [batch, time]


def test_embedding_wrapper_equals_lookup_then_cell(tmp_path):
    cell = rnn_cell.EmbeddingWrapper(rnn_cell.BasicLSTMCell(4), embedding_classes=10, embedding_size=3)
    layer = keras.layers.RNN(cell, return_sequences=True)
    inputs = keras.Input((4, 1), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    y_keras = model(IDS[..., None])
    shapes = {k: tuple(v.shape) for k, v in cell.tf1_variables().items()}
    assert shapes == {
        "embedding_wrapper/embedding": (10, 3),
        "embedding_wrapper/basic_lstm_cell/kernel": (7, 16),
        "embedding_wrapper/basic_lstm_cell/bias": (16,),
    }
    assert np.abs(cell.embedding.numpy()).max() <= np.sqrt(3.0)  # TF1's default uniform(+-sqrt 3)
    # equivalence: embedding lookup, then the bare cell
    embedded = tf.gather(cell.embedding, IDS)
    y_ref, _ = nn.dynamic_rnn(cell.cell, embedded)
    np.testing.assert_allclose(y_keras.numpy(), y_ref.numpy(), atol=1e-6)
    # tfseq.nn.dynamic_rnn carries float inputs only: whole-number float ids work too
    y_dyn, _ = nn.dynamic_rnn(cell, IDS[..., None].astype(np.float32))
    np.testing.assert_allclose(y_dyn.numpy(), y_ref.numpy(), atol=1e-6)
    path = str(tmp_path / "embedding.keras")
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path)(IDS[..., None]).numpy(), y_keras.numpy())


@pytest.mark.parametrize("bad_id", [10, -1])
def test_embedding_wrapper_out_of_range_ids_are_a_clear_error(bad_id):
    cell = rnn_cell.EmbeddingWrapper(rnn_cell.GRUCell(2), embedding_classes=10, embedding_size=3)
    state = cell.get_initial_state(batch_size=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="embedding_classes=10|must be >= 0"):
        cell(tf.constant([[1], [bad_id]]), state)


def test_wrapper_argument_errors():
    with pytest.raises(TypeError, match="cell must be an RNN cell"):
        rnn_cell.DropoutWrapper("lstm")
    with pytest.raises(ValueError, match="embedding_classes must be a positive integer, got 0"):
        rnn_cell.EmbeddingWrapper(rnn_cell.GRUCell(2), 0, 3)
    with pytest.raises(ValueError, match="output_size must be a positive integer, got -2"):
        rnn_cell.OutputProjectionWrapper(rnn_cell.GRUCell(2), -2)
    with pytest.raises(TypeError, match="device must be a device string"):
        rnn_cell.DeviceWrapper(rnn_cell.GRUCell(2), 0)
    with pytest.raises(ValueError, match="input_size=4 but the inputs have depth 3"):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), input_size=4).build((None, 3))
    with pytest.raises(ValueError, match="seed must be an int or None, got 1.5"):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), seed=1.5)


def test_dropout_wrapper_trains_with_model_fit():
    """Variational dropout inside keras.layers.RNN under model.fit's compiled train step."""
    cell = rnn_cell.MultiRNNCell([
        rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(8), output_keep_prob=0.8, state_keep_prob=0.8,
                                variational_recurrent=True, seed=0),
        rnn_cell.GRUCell(4),
    ])
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = rng.standard_normal((32, 5, 3)).astype(np.float32)
    target = np.tanh(x.sum(1))[:, :1].repeat(4, 1)
    history = model.fit(x, target, epochs=5, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("fast", [None, False])
def test_variational_masks_hold_on_every_dynamic_rnn_path(fast):
    """Same statistics with a real LSTM, on dynamic_rnn's default (possibly fused) and readable paths."""
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(300), output_keep_prob=0.5, variational_recurrent=True)
    x = tf.constant(rng.standard_normal((4, 6, 3)), tf.float32)
    runs = [(nn.dynamic_rnn(cell, x, training=True, fast=fast)[0].numpy() != 0).astype(np.int8) for _ in range(2)]
    _check_variational(*runs)


def test_dropout_training_may_be_a_bool_tensor_and_xla_compiles():
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(200), output_keep_prob=0.5, variational_recurrent=True)
    state = cell.get_initial_state(batch_size=2)
    x = tf.ones([2, 3])
    assert np.mean(cell(x, state, training=tf.constant(True))[0].numpy() == 0) > 0.3
    assert np.mean(cell(x, state, training=tf.constant(False))[0].numpy() == 0) == 0
    compiled = tf.function(lambda x: nn.dynamic_rnn(cell, x, training=True, fast=False)[0], jit_compile=True)
    _check_variational(*[(compiled(tf.ones([2, 4, 3])).numpy() != 0).astype(np.int8) for _ in range(2)])
