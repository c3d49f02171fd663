"""TF1 contrib's block cells: ``LSTMBlockCell``, ``LSTMBlockFusedCell``, ``GRUBlockCellV2``.

They are proven against TF's own block kernels, which TF 2.21 still ships
(``tf.raw_ops.LSTMBlockCell``, ``BlockLSTM``, ``GRUBlockCell`` and their ``...Grad``
kernels), run in the TF1 reference subprocess: ``dynamic_rnn`` over a small TF1 cell
that calls the op (contrib's cells were such thin wrappers), or ``BlockLSTM`` directly
with contrib's ``LSTMBlockFusedCell`` masking. Outputs, final states and gradients
(inputs, initial state, every weight) agree to 1e-5, on tfseq's fused path and its
per-step path; the TF1 side's ``Saver`` checkpoints load by name. ``tf.compat.v1`` has
no contrib, so the variable names are also checked against contrib's sources
(``tensorflow/contrib/rnn/python/ops/lstm_ops.py``, ``gru_ops.py``, ``rnn_cell.py`` at
TF 1.15). ``LayerNormBasicLSTMCell``: ``test_layer_norm_cell.py``.
"""

import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell, cotangent
from tf1_reference import run_tf1_many

from tfseq import compat, nn, rnn_cell
from tfseq.nn import fused

ATOL = 1e-5
B, T, D = 3, 6, 4
RAGGED = np.array([6, 3, 0], np.int32)

# name: (tfseq expression, TF1 reference kind, options). "seq": lengths; "init": pass a state.
CASES = {
    "lstm_block_peep_clip": (
        "rnn_cell.LSTMBlockCell(5, forget_bias=0.7, cell_clip=0.4, use_peephole=True)",
        "lstm_cell", {"seq": RAGGED, "init": True, "clip": 0.4},
    ),
    "lstm_block_plain": ("rnn_cell.LSTMBlockCell(5)", "lstm_cell", {}),
    # The op's own cell_clip attribute defaults to 3; contrib passed -1 (no clip) for None.
    "lstm_block_default_does_not_clip": (
        "rnn_cell.LSTMBlockCell(5, forget_bias=4.0)", "lstm_cell", {"init": True, "init_scale": 4.0, "above": 3.0},
    ),
    "lstm_block_clip_zero_is_off": ("rnn_cell.LSTMBlockCell(5, cell_clip=0.0)", "lstm_cell", {"init": True}),
    "gru_block_v2": ("rnn_cell.GRUBlockCellV2(5)", "gru_cell", {"seq": RAGGED, "init": True}),
    "fused_peep_clip": (
        "nn.LSTMBlockFusedCell(5, forget_bias=0.5, cell_clip=0.4, use_peephole=True)",
        "fused", {"seq": RAGGED, "init": True, "clip": 0.4},
    ),
    "fused_plain": ("nn.LSTMBlockFusedCell(5)", "fused", {}),
}

# Runs in the TF1 subprocess: TF's block kernels, their registered-by-hand gradients
# (contrib registered them with the same Grad kernels), dynamic_rnn / BlockLSTM.
TF1_SOURCE = '''
tf1.disable_control_flow_v2()  # TF1's own while_loop, as TF 1.x ran it
from tf_keras.src.layers.rnn import legacy_cells

def _register(op_type, fn):
    try:
        tf.RegisterGradient(op_type)(fn)
    except KeyError:  # registered by an earlier case in this process
        pass

def _zeros_for_none(grad, like):
    return tf1.zeros_like(like) if grad is None else grad

def _lstm_block_cell_grad(op, *grads):
    x, cs_prev, h_prev, w, wci, wcf, wco, b = op.inputs
    i, cs, f, o, ci, co, h = op.outputs
    cs_prev_grad, dicfo, wci_grad, wcf_grad, wco_grad = tf.raw_ops.LSTMBlockCellGrad(
        x=x, cs_prev=cs_prev, h_prev=h_prev, w=w, wci=wci, wcf=wcf, wco=wco, b=b, i=i, cs=cs, f=f, o=o,
        ci=ci, co=co, cs_grad=_zeros_for_none(grads[1], cs), h_grad=_zeros_for_none(grads[6], h),
        use_peephole=op.get_attr("use_peephole"))
    xh_grad = tf1.matmul(dicfo, w, transpose_b=True)
    depth = x.shape[1]
    w_grad = tf1.matmul(tf1.concat([x, h_prev], 1), dicfo, transpose_a=True)
    return (xh_grad[:, :depth], cs_prev_grad, xh_grad[:, depth:], w_grad, wci_grad, wcf_grad, wco_grad,
            tf1.reduce_sum(dicfo, 0))

def _gru_block_cell_grad(op, *grads):
    x, h_prev, w_ru, w_c, b_ru, b_c = op.inputs
    r, u, c, h = op.outputs
    d_x, d_h_prev, d_c_bar, d_r_bar_u_bar = tf.raw_ops.GRUBlockCellGrad(
        x=x, h_prev=h_prev, w_ru=w_ru, w_c=w_c, b_ru=b_ru, b_c=b_c, r=r, u=u, c=c, d_h=_zeros_for_none(grads[3], h))
    d_w_ru = tf1.matmul(tf1.concat([x, h_prev], 1), d_r_bar_u_bar, transpose_a=True)
    d_w_c = tf1.matmul(tf1.concat([x, h_prev * r], 1), d_c_bar, transpose_a=True)
    return d_x, d_h_prev, d_w_ru, d_w_c, tf1.reduce_sum(d_r_bar_u_bar, 0), tf1.reduce_sum(d_c_bar, 0)

_register("LSTMBlockCell", _lstm_block_cell_grad)
_register("GRUBlockCell", _gru_block_cell_grad)

class BlockLSTM(legacy_cells.RNNCell):
    """One LSTMBlockCell op per step, contrib's variable names."""
    def __init__(self, n, forget_bias, cell_clip, use_peephole):
        super().__init__(name="lstm_cell")
        self.n, self.fb, self.clip, self.peep = n, forget_bias, cell_clip, use_peephole
    state_size = property(lambda self: tf1.nn.rnn_cell.LSTMStateTuple(self.n, self.n))
    output_size = property(lambda self: self.n)
    def build(self, shape):
        n = self.n
        self.w = self.add_weight("kernel", [shape[-1] + n, 4 * n])
        self.b = self.add_weight("bias", [4 * n])
        zeros = tf1.zeros([n])
        diag_names = ("w_i_diag", "w_f_diag", "w_o_diag")
        self.diag = [self.add_weight(k, [n]) for k in diag_names] if self.peep else [zeros] * 3
        self.built = True
    def call(self, x, state):
        out = tf.raw_ops.LSTMBlockCell(x=x, cs_prev=state[0], h_prev=state[1], w=self.w, wci=self.diag[0],
            wcf=self.diag[1], wco=self.diag[2], b=self.b, forget_bias=self.fb, cell_clip=self.clip,
            use_peephole=self.peep)
        return out[6], tf1.nn.rnn_cell.LSTMStateTuple(out[1], out[6])

class BlockGRU(legacy_cells.RNNCell):
    """One GRUBlockCell op per step, GRUBlockCellV2's variable names."""
    def __init__(self, n):
        super().__init__(name="gru_cell")
        self.n = n
    state_size = property(lambda self: self.n)
    output_size = property(lambda self: self.n)
    def build(self, shape):
        n, d = self.n, shape[-1]
        self.w_ru = self.add_weight("gates/kernel", [d + n, 2 * n])
        self.b_ru = self.add_weight("gates/bias", [2 * n])
        self.w_c = self.add_weight("candidate/kernel", [d + n, n])
        self.b_c = self.add_weight("candidate/bias", [n])
        self.built = True
    def call(self, x, h):
        new_h = tf.raw_ops.GRUBlockCell(x=x, h_prev=h, w_ru=self.w_ru, w_c=self.w_c, b_ru=self.b_ru, b_c=self.b_c)[3]
        return new_h, new_h

spec = inputs
x = tf1.constant(spec["x"])
seq = None if spec["seq"] is None else tf1.constant(spec["seq"])
init_flat = [tf1.constant(a) for a in spec["init"]]
a = spec["args"]
if spec["kind"] == "fused":  # contrib's LSTMBlockFusedCell: BlockLSTM, outputs masked, states gathered
    n, time, batch = a["n"], x.shape[0], x.shape[1]
    with tf1.variable_scope("lstm_fused_cell"):
        w = tf1.get_variable("kernel", [x.shape[-1] + n, 4 * n])
        b = tf1.get_variable("bias", [4 * n])
        diag = ([tf1.get_variable(k, [n]) for k in ("w_i_diag", "w_f_diag", "w_o_diag")] if a["peep"]
                else [tf1.zeros([n])] * 3)
    c0, h0 = init_flat if init_flat else (tf1.zeros([batch, n]), tf1.zeros([batch, n]))
    max_len = time if seq is None else tf1.reduce_max(seq)
    out = tf.raw_ops.BlockLSTM(seq_len_max=tf1.cast(max_len, tf.int64), x=x, cs_prev=c0, h_prev=h0, w=w,
        wci=diag[0], wcf=diag[1], wco=diag[2], b=b, forget_bias=a["fb"], cell_clip=a["clip"], use_peephole=a["peep"])
    cs, y = out[1], out[6]
    if seq is None:
        results = [y, cs[-1], y[-1]]
    else:
        y = y * tf1.transpose(tf1.sequence_mask(seq, time, dtype=tf.float32))[:, :, None]
        at_length = tf1.stack([seq, tf1.range(batch)], 1)
        c_last = tf1.gather_nd(tf1.concat([c0[None], cs], 0), at_length)
        h_last = tf1.gather_nd(tf1.concat([h0[None], y], 0), at_length)
        results = [y, c_last, h_last]
else:
    if spec["kind"] == "lstm_cell":
        cell = BlockLSTM(a["n"], a["fb"], a["clip"], a["peep"])
    else:
        cell = BlockGRU(a["n"])
    init = tf.nest.pack_sequence_as(cell.state_size, init_flat) if init_flat else None
    y, state = tf1.nn.dynamic_rnn(cell, x, sequence_length=seq, initial_state=init, dtype=tf.float32)
    results = [y] + tf.nest.flatten(state)
variables = sorted(tf1.global_variables(), key=lambda v: v.op.name)
outputs["names"] = np.array([v.op.name for v in variables])
for v in variables:
    sess.run(v.assign(spec["weights"][v.op.name]))
tf1.train.Saver().save(sess, spec["ckpt"])  # a TF1 checkpoint of the weights, for the loading test
def ramp(t):  # 0, 1, 2, ... in the shape of t
    return tf1.cast(tf1.reshape(tf1.range(tf1.size(t)), tf1.shape(t)), t.dtype)
loss = tf1.add_n([tf1.reduce_sum(t * tf1.cos(ramp(t) * 0.37 + k)) for k, t in enumerate(results)])
wrt = [x] + init_flat + variables
values = sess.run(results + tf1.gradients(loss, wrt))
for k, value in enumerate(values[: len(results)]):
    outputs[f"result{k}"] = value
for k, value in enumerate(values[len(results):]):
    outputs[f"grad{k}"] = value
'''


def make(expr):
    return eval(expr, {"rnn_cell": rnn_cell, "nn": nn})


def ref_args(cell):
    core = cell.cell if isinstance(cell, nn.LSTMBlockFusedCell) else cell
    if isinstance(core, rnn_cell.LSTMBlockCell):
        clip = -1.0 if core.cell_clip is None else core.cell_clip  # contrib passed -1 for None
        return {"n": core.num_units, "fb": core.forget_bias, "clip": clip, "peep": core.use_peephole}
    return {"n": core.num_units}


def prefix(kind):
    return "" if kind == "fused" else "rnn/"


def build(name):
    expr, kind, options = CASES[name]
    cell = make(expr)
    cell.build((B, D))
    named = {prefix(kind) + k: v for k, v in cell.tf1_variables().items()}
    return cell, named


def spec_for(name, ckpt_dir):
    _, kind, options = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    cell, named = build(name)
    shape = (T, B, D) if kind == "fused" else (B, T, D)
    state_sizes = tf.nest.flatten(cell.cell.state_size if kind == "fused" else cell.state_size)
    return {
        "kind": kind,
        "ckpt": f"{ckpt_dir}/{name}/model.ckpt",
        "args": ref_args(cell),
        "x": (3.0 * rng.standard_normal(shape)).astype(np.float32),
        "seq": options.get("seq"),
        "init": [(options.get("init_scale", 1.0) * rng.standard_normal((B, n))).astype(np.float32)
                 for n in state_sizes] if options.get("init") else [],
        "weights": {k: rng.uniform(-0.8, 0.8, v.shape).astype(np.float32) for k, v in sorted(named.items())},
    }


@pytest.fixture(scope="module")
def tf1_results(tmp_path_factory):
    ckpt_dir = tmp_path_factory.mktemp("tf1_block_checkpoints")
    specs = {name: spec_for(name, ckpt_dir) for name in CASES}
    return specs, run_tf1_many([(name, TF1_SOURCE, spec) for name, spec in specs.items()])


def run_tfseq(cell, spec, fast):
    x = tf.constant(spec["x"])
    init_flat = [tf.constant(a) for a in spec["init"]]
    named = {prefix(spec["kind"]) + k: v for k, v in cell.tf1_variables().items()}
    variables = [v for _, v in sorted(named.items())]
    with tf.GradientTape() as tape:
        tape.watch([x] + init_flat)
        if spec["kind"] == "fused":
            y, state = cell(x, initial_state=tuple(init_flat) or None, sequence_length=spec["seq"], dtype=tf.float32)
        else:
            init = tf.nest.pack_sequence_as(cell.state_size, init_flat) if init_flat else None
            y, state = nn.dynamic_rnn(cell, x, sequence_length=spec["seq"], initial_state=init, dtype=tf.float32,
                                      fast=fast, training=False)
        results = [y] + tf.nest.flatten(state)
        loss = tf.add_n([tf.reduce_sum(t * cotangent(t, float(k))) for k, t in enumerate(results)])
    grads = tape.gradient(loss, [x] + init_flat + variables, unconnected_gradients="zero")
    return results, grads


# Each cell on the fused path (dynamic_rnn's default) and the per-step path; LSTMBlockFusedCell
# runs dynamic_rnn's default only (its per-step math is LSTMBlockCell's).
RUNS = [(name, fast) for name in CASES for fast in (None, False) if not (fast is False and CASES[name][1] == "fused")]


@pytest.mark.parametrize("name, fast", RUNS, ids=[f"{n}-{'default' if f is None else 'per_step'}" for n, f in RUNS])
def test_block_cells_match_tf_block_kernels(name, fast, tf1_results):
    specs, results = tf1_results
    spec, ref = specs[name], results[name]
    cell, named = build(name)
    assert sorted(named) == list(ref["names"])
    for key, variable in named.items():
        variable.assign(spec["weights"][key])
    core = cell.cell if spec["kind"] == "fused" else cell
    assert fused.plan(core).path != fused.PER_STEP  # the block cells run on the fused path by default
    got, grads = run_tfseq(cell, spec, fast)
    for k, value in enumerate(got):
        np.testing.assert_allclose(value.numpy(), ref[f"result{k}"], atol=ATOL, rtol=ATOL, err_msg=f"result {k}")
    for k, value in enumerate(grads):
        np.testing.assert_allclose(value.numpy(), ref[f"grad{k}"], atol=ATOL, rtol=ATOL, err_msg=f"gradient {k}")
    clip = CASES[name][2].get("clip")
    if clip is not None:  # the clip is reached, so its straight-through gradient is exercised
        stepped = spec["seq"] > 0  # rows of length 0 keep their (unclipped) initial state
        assert np.isclose(np.abs(got[1].numpy()[stepped]).max(), clip)
    if name == "lstm_block_clip_zero_is_off":  # the op clips only for cell_clip > 0
        assert np.abs(got[1].numpy()).max() > 1.0
    if "above" in CASES[name][2]:  # c beyond the op's attribute default of 3: no clip by default
        assert np.abs(got[1].numpy()).max() > CASES[name][2]["above"]


@pytest.mark.parametrize("name", list(CASES))
def test_tf1_checkpoints_load(name, tf1_results):
    """The TF1 side saved its weights with Saver: they load into a fresh tfseq cell by name."""
    specs, _ = tf1_results
    cell, named = build(name)
    scope = "" if CASES[name][1] == "fused" else "rnn"  # contrib's fused cell ran outside dynamic_rnn
    loaded = compat.load_tf1_checkpoint(specs[name]["ckpt"], cell, scope=scope)
    assert sorted(loaded) == sorted(named)
    for key, variable in named.items():
        np.testing.assert_array_equal(variable.numpy(), specs[name]["weights"][key])


def test_checkpoint_names_are_contribs():
    """Transcribed from contrib's sources: LSTMBlockCell's ``_names`` (scope = layer name,
    default ``lstm_cell``), LSTMBlockFusedCell's ``build`` (``lstm_fused_cell``),
    GRUBlockCellV2's ``build`` (``gates``/``candidate`` scopes under ``gru_cell``) and
    LayerNormBasicLSTMCell's ``_linear``/``_norm`` (scope from the class name)."""
    n, depth = 4, 3
    expected = {
        "rnn_cell.LSTMBlockCell(4, use_peephole=True)": {
            "lstm_cell/kernel": (depth + n, 4 * n), "lstm_cell/bias": (4 * n,), "lstm_cell/w_i_diag": (n,),
            "lstm_cell/w_f_diag": (n,), "lstm_cell/w_o_diag": (n,)},
        "rnn_cell.LSTMBlockCell(4, name='my_lstm')": {"my_lstm/kernel": (depth + n, 4 * n), "my_lstm/bias": (4 * n,)},
        "nn.LSTMBlockFusedCell(4)": {"lstm_fused_cell/kernel": (depth + n, 4 * n), "lstm_fused_cell/bias": (4 * n,)},
        "rnn_cell.GRUBlockCellV2(cell_size=4)": {
            "gru_cell/gates/kernel": (depth + n, 2 * n), "gru_cell/gates/bias": (2 * n,),
            "gru_cell/candidate/kernel": (depth + n, n), "gru_cell/candidate/bias": (n,)},
        "rnn_cell.LayerNormBasicLSTMCell(4)": {
            "layer_norm_basic_lstm_cell/kernel": (depth + n, 4 * n),
            **{f"layer_norm_basic_lstm_cell/{s}/{p}": (n,) for s in ("input", "transform", "forget", "output", "state")
               for p in ("gamma", "beta")}},
        "rnn_cell.LayerNormBasicLSTMCell(4, layer_norm=False)": {
            "layer_norm_basic_lstm_cell/kernel": (depth + n, 4 * n), "layer_norm_basic_lstm_cell/bias": (4 * n,)},
    }
    for expr, names in expected.items():
        with pytest.warns(DeprecationWarning) if "cell_size" in expr else _no_warning():
            cell = make(expr)
        cell.build((None, depth))
        assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == names, expr
    # A MultiRNNCell nests them as TF1 did: cell_k/<scope>/...
    stack = rnn_cell.MultiRNNCell([rnn_cell.LSTMBlockCell(4), rnn_cell.GRUBlockCellV2(4)])
    stack.build((None, depth))
    assert "multi_rnn_cell/cell_1/gru_cell/gates/kernel" in stack.tf1_variables()


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- Keras: harness, .keras files, bad arguments ----------------------------------------


@pytest.mark.parametrize("expr", [
    "rnn_cell.LSTMBlockCell(4, use_peephole=True, cell_clip=0.5)",
    "rnn_cell.GRUBlockCellV2(4)",
])
def test_keras_baseline(expr, tmp_path):
    check_cell(lambda: make(expr), tmp_path, training=False)


def test_lstm_block_fused_cell_keras_round_trip(tmp_path):
    layer = nn.LSTMBlockFusedCell(4, use_peephole=True, cell_clip=0.5)
    inputs = keras.Input((2, D))  # read time-major: [time (None), batch 2, depth]
    outputs, _ = layer(inputs)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).standard_normal((5, 2, D)).astype(np.float32)
    model.save(tmp_path / "fused.keras")
    loaded = keras.models.load_model(tmp_path / "fused.keras")
    assert type(loaded.layers[-1]) is nn.LSTMBlockFusedCell
    assert loaded.layers[-1].get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    listed, state = layer([tf.constant(x[t]) for t in range(5)])  # TF1: a list in, a list out
    assert len(listed) == 5 and isinstance(state, rnn_cell.LSTMStateTuple)
    np.testing.assert_allclose(tf.stack(listed).numpy(), model(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("make_bad, match", [
    (lambda: rnn_cell.LSTMBlockCell(0), "LSTMBlockCell: num_units must be a positive integer, got 0"),
    (lambda: rnn_cell.LSTMBlockCell(4, cell_clip="3"), "LSTMBlockCell: cell_clip must be a number, got '3'"),
    (lambda: rnn_cell.LSTMBlockCell(4, use_peephole=1), "LSTMBlockCell: use_peephole must be True or False, got 1"),
    (lambda: rnn_cell.LSTMBlockCell(4, reuse=True), "LSTMBlockCell: reuse=True has no meaning"),
    (lambda: rnn_cell.LSTMBlockCell(4, name="a/b"), "LSTMBlockCell: name must be a non-empty string"),
    (lambda: nn.LSTMBlockFusedCell(4, forget_bias=None), "LSTMBlockCell: forget_bias must be a number, got None"),
    (lambda: nn.LSTMBlockFusedCell(4, reuse=True), "LSTMBlockFusedCell: reuse=True has no meaning"),
    (lambda: rnn_cell.GRUBlockCellV2(), "GRUBlockCellV2: exactly one of num_units or cell_size"),
    (lambda: rnn_cell.GRUBlockCellV2(4, cell_size=4), "GRUBlockCellV2: exactly one of num_units or cell_size"),
    (lambda: rnn_cell.GRUBlockCellV2(-2), "GRUBlockCellV2: num_units must be a positive integer, got -2")
])
def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


def test_bad_call_arguments():
    layer = nn.LSTMBlockFusedCell(4)
    with pytest.raises(ValueError, match=r"inputs must be \[time, batch, depth\]"):
        layer(tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="initial_state must be a pair"):
        layer(tf.zeros([5, 2, 3]), initial_state=(tf.zeros([2, 4]),))


def test_tf1_published_numbers():
    """TF1's rnn_cell_test.py testLSTMBlockCell / testGRUCell numbers (re-derived by real TF1 in
    test_cells_golden.py): kernels 0.5, default biases, x=[[1, 1]], every state entry 0.1."""
    from test_cells_golden import GRU_PUBLISHED, LSTM_STACK_PUBLISHED, STATE, X

    stack = rnn_cell.MultiRNNCell([rnn_cell.LSTMBlockCell(2) for _ in range(2)])
    state = tuple(rnn_cell.LSTMStateTuple(tf.constant(STATE), tf.constant(STATE)) for _ in range(2))
    stack.build((None, 2))
    for cell in stack.cells:
        cell.kernel.assign(np.full(cell.kernel.shape, 0.5, np.float32))
    y, ((c0, h0), (c1, h1)) = stack(tf.constant(X), state)
    for key, value in dict(output=y, c0=c0, h0=h0, c1=c1, h1=h1).items():
        np.testing.assert_allclose(value.numpy(), [[LSTM_STACK_PUBLISHED[key]] * 2], atol=1e-7, err_msg=key)
    gru = rnn_cell.GRUBlockCellV2(2)
    gru.build((None, 2))
    for kernel in (gru.gates_kernel, gru.candidate_kernel):
        kernel.assign(np.full(kernel.shape, 0.5, np.float32))
    h, _ = gru(tf.constant(X), tf.constant(STATE))
    np.testing.assert_allclose(h.numpy(), [[GRU_PUBLISHED] * 2], atol=1e-6)


def test_gru_block_cell_is_v2_under_its_first_names(tmp_path):
    """contrib's deprecated GRUBlockCell: GRUBlockCellV2's math and fused path, the names w_ru, b_ru,
    w_c, b_c; a name-based checkpoint written with them loads."""
    x = np.random.default_rng(3).standard_normal((2, 4, 3)).astype(np.float32)
    first, second = rnn_cell.GRUBlockCell(5), rnn_cell.GRUBlockCellV2(5)
    out, state = nn.dynamic_rnn(first, x, dtype=tf.float32)
    second.build((None, 3))
    second.set_weights(first.get_weights())
    ref, ref_state = nn.dynamic_rnn(second, x, dtype=tf.float32)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(state, ref_state, atol=1e-6)
    assert nn.fused.plan(first, tf.constant(x)).path == nn.fused.plan(second, tf.constant(x)).path != "per_step"
    names = {k: tuple(v.shape) for k, v in first.tf1_variables().items()}
    assert names == {"gru_cell/w_ru": (8, 10), "gru_cell/b_ru": (10,), "gru_cell/w_c": (8, 5), "gru_cell/b_c": (5,)}
    np.testing.assert_array_equal(first.tf1_variables()["gru_cell/b_ru"], np.ones(10))
    rng = np.random.default_rng(4)
    values = {f"rnn/{k}": rng.standard_normal(shape).astype(np.float32) for k, shape in names.items()}
    saver = tf.compat.v1.train.Saver({k: tf.Variable(v) for k, v in values.items()})
    path = saver.save(None, str(tmp_path / "gru.ckpt"))
    loaded = compat.load_tf1_checkpoint(path, first)
    assert sorted(loaded) == sorted(values)
    for k, v in values.items():
        np.testing.assert_array_equal(first.tf1_variables()[k[len("rnn/"):]], v)
