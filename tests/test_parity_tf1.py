"""Parity with the real TF1 implementation (tf.compat.v1 graph mode, legacy cells).

Every case builds the same cell on both sides from ONE constructor expression
(``"LSTMCell(5, use_peepholes=True)"`` is ``tf1.nn.rnn_cell.LSTMCell(...)`` in the TF1
subprocess and ``tfseq.rnn_cell.LSTMCell(...)`` here), assigns both sides the same
random weights keyed by their TF1 checkpoint name, feeds the same inputs, and compares
outputs, final states and the gradients of one scalar loss w.r.t. inputs, initial
states and every weight, to 1e-5. The TF1 variable names are compared first.
All TF1 cases run in ONE subprocess (module-scoped fixture).
"""

import functools
import zlib

import numpy as np
import pytest
import tensorflow as tf
from cell_harness import COTANGENT_SOURCE, cotangent
from tf1_reference import run_tf1_many

from tfseq import nn, rnn_cell
from tfseq.nn import rnn as rnn_module

ATOL = 1e-5
BATCH, TIME, DEPTH = 3, 6, 4
RAGGED = np.array([6, 3, 0], np.int32)  # full, partial and empty rows

# name: (cell expr, options). Options: driver (dynamic|static|bidi), cell_bw, seq,
# time_major, init (give a non-zero initial state), scale (input scale), clip checks.
CASES = {
    "basic_rnn": ("BasicRNNCell(5)", {}),
    "basic_rnn_relu": ("BasicRNNCell(5, activation=tf.nn.relu)", {}),
    "basic_lstm_forget_bias_0": ("BasicLSTMCell(5, forget_bias=0.0)", {}),
    "basic_lstm_forget_bias_1": ("BasicLSTMCell(5)", {}),
    "basic_lstm_forget_bias_2.5": ("BasicLSTMCell(5, forget_bias=2.5)", {}),
    "basic_lstm_not_tuple": ("BasicLSTMCell(5, state_is_tuple=False)", {}),
    "lstm_plain": ("LSTMCell(5)", {}),
    "lstm_peepholes": ("LSTMCell(5, use_peepholes=True)", {}),
    "lstm_cell_clip": ("LSTMCell(5, use_peepholes=True, cell_clip=0.4)", {"scale": 3.0, "c_clip": 0.4}),
    "lstm_proj_clip": ("LSTMCell(5, num_proj=3, proj_clip=0.15)", {"scale": 3.0, "y_clip": 0.15}),
    "lstm_everything_not_tuple": (
        "LSTMCell(5, use_peepholes=True, cell_clip=0.6, num_proj=3, proj_clip=0.3, forget_bias=0.5, "
        "state_is_tuple=False)",
        {"scale": 3.0, "y_clip": 0.3},
    ),
    "lstm_softsign": ("LSTMCell(5, use_peepholes=True, activation=tf.nn.softsign)", {}),
    "gru": ("GRUCell(5)", {}),
    "gru_relu": ("GRUCell(5, activation=tf.nn.relu)", {}),
    "ragged_basic_lstm": ("BasicLSTMCell(5)", {"seq": RAGGED}),
    "ragged_gru": ("GRUCell(5)", {"seq": RAGGED}),
    "time_major_lstm_peepholes": ("LSTMCell(5, use_peepholes=True)", {"time_major": True}),
    "time_major_ragged_gru": ("GRUCell(5)", {"time_major": True, "seq": RAGGED}),
    "bidi_ragged_gru_lstm": (
        "GRUCell(5)",
        {"driver": "bidi", "cell_bw": "LSTMCell(4, use_peepholes=True, num_proj=3)", "seq": RAGGED},
    ),
    "bidi_not_tuple": ("BasicLSTMCell(3, state_is_tuple=False)", {"driver": "bidi", "cell_bw": "BasicRNNCell(2)"}),
    "static_lstm_proj": ("LSTMCell(5, num_proj=3)", {"driver": "static"}),
    "static_ragged_gru": ("GRUCell(5)", {"driver": "static", "seq": RAGGED}),
    "init_state_lstm_proj": ("LSTMCell(4, num_proj=3)", {"init": True}),
    "init_state_not_tuple_ragged": ("BasicLSTMCell(4, state_is_tuple=False)", {"init": True, "seq": RAGGED}),
    "init_state_ragged_gru": ("GRUCell(4)", {"init": True, "seq": RAGGED}),
}

# Runs in the TF1 subprocess; `inputs` is the case spec built by _spec().
TF1_SOURCE = """
tf1.disable_control_flow_v2()  # TF1's own while_loop, as TF 1.x ran it
ns = {"tf": tf, "tf1": tf1}
spec = inputs
make = lambda expr: eval("tf1.nn.rnn_cell." + expr, ns)
x = tf1.constant(spec["x"])
seq = None if spec["seq"] is None else tf1.constant(spec["seq"])
cell = make(spec["cell"])
init_flat = [tf1.constant(a) for a in spec["init"]]
init = tf.nest.pack_sequence_as(cell.state_size, init_flat) if init_flat else None
if spec["driver"] == "bidi":
    (y_fw, y_bw), states = tf1.nn.bidirectional_dynamic_rnn(
        cell, make(spec["cell_bw"]), x, sequence_length=seq, dtype=tf.float32)
    ys = [y_fw, y_bw]
elif spec["driver"] == "static":
    y_list, states = tf1.nn.static_rnn(
        cell, tf1.unstack(x, axis=1), initial_state=init, sequence_length=seq, dtype=tf.float32)
    ys = [tf1.stack(y_list, 1)]
else:
    y, states = tf1.nn.dynamic_rnn(cell, x, sequence_length=seq, initial_state=init,
                                   dtype=tf.float32, time_major=spec["time_major"])
    ys = [y]
results = ys + tf.nest.flatten(states)
variables = sorted(tf1.global_variables(), key=lambda v: v.op.name)
outputs["names"] = np.array([v.op.name for v in variables])
if sorted(spec["weights"]) == [v.op.name for v in variables]:
    for v in variables:
        sess.run(v.assign(spec["weights"][v.op.name]))
    loss = tf1.add_n([tf1.reduce_sum(t * cotangent(t, k)) for k, t in enumerate(results)])
    wrt = [x] + init_flat + variables
    grads = [tf1.zeros_like(w) if g is None else g for g, w in zip(tf1.gradients(loss, wrt), wrt)]
    values = sess.run(results + grads)
    for k, value in enumerate(values[: len(results)]):
        outputs[f"result{k}"] = value
    for k, value in enumerate(values[len(results):]):
        outputs[f"grad{k}"] = value
"""


def make_cell(expr):
    return eval("rnn_cell." + expr, {"rnn_cell": rnn_cell, "tf": tf})


def build_cells(expr, options):
    """tfseq cell(s) of a case, built, with the TF1 prefix of each one's variables."""
    cells = [make_cell(expr)]
    prefixes = ["rnn/"]
    if options.get("driver") == "bidi":
        cells.append(make_cell(options["cell_bw"]))
        prefixes = ["bidirectional_rnn/fw/", "bidirectional_rnn/bw/"]
    for cell in cells:
        cell.build((BATCH, DEPTH))
    return cells, prefixes


def tf1_named_variables(cells, prefixes):
    named = {}
    for cell, prefix in zip(cells, prefixes):
        named.update({prefix + k: v for k, v in cell.tf1_variables().items()})
    return named


def _spec(name):
    expr, options = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    cells, prefixes = build_cells(expr, options)
    weights = {
        key: rng.uniform(-0.8, 0.8, v.shape).astype(np.float32)
        for key, v in sorted(tf1_named_variables(cells, prefixes).items())
    }
    shape = (TIME, BATCH, DEPTH) if options.get("time_major") else (BATCH, TIME, DEPTH)
    x = (options.get("scale", 1.0) * rng.standard_normal(shape)).astype(np.float32)
    init = []
    if options.get("init"):
        init = [rng.standard_normal((BATCH, n)).astype(np.float32) for n in tf.nest.flatten(cells[0].state_size)]
    return {
        "cell": expr,
        "cell_bw": options.get("cell_bw"),
        "driver": options.get("driver", "dynamic"),
        "time_major": bool(options.get("time_major")),
        "seq": options.get("seq"),
        "x": x,
        "init": init,
        "weights": weights,
    }


@pytest.fixture(scope="module")
def tf1_results():
    specs = {name: _spec(name) for name in CASES}
    source = COTANGENT_SOURCE + TF1_SOURCE
    results = run_tf1_many([(name, source, spec) for name, spec in specs.items()])
    return specs, results


def run_tfseq(spec, cells, fast=None):
    """The tfseq side of one case: (results, grads) in the same order as the TF1 side.

    ``fast=None`` is ``dynamic_rnn``'s default (a fused fast path where one applies),
    ``fast=False`` the readable per-step loop.
    """
    x = tf.constant(spec["x"])
    init_flat = [tf.constant(a) for a in spec["init"]]
    init = tf.nest.pack_sequence_as(cells[0].state_size, init_flat) if init_flat else None
    variables = [v for _, v in sorted(tf1_named_variables(cells, PREFIXES[spec["driver"]]).items())]
    with tf.GradientTape() as tape:
        tape.watch([x] + init_flat)
        if spec["driver"] == "bidi":
            (y_fw, y_bw), states = nn.bidirectional_dynamic_rnn(
                cells[0], cells[1], x, sequence_length=spec["seq"], dtype=tf.float32
            )
            ys = [y_fw, y_bw]
        elif spec["driver"] == "static":
            y_list, states = nn.static_rnn(
                cells[0], tf.unstack(x, axis=1), initial_state=init, sequence_length=spec["seq"]
            )
            ys = [tf.stack(y_list, 1)]
        else:
            y, states = nn.dynamic_rnn(
                cells[0], x, sequence_length=spec["seq"], initial_state=init, time_major=spec["time_major"],
                fast=fast,
            )
            ys = [y]
        results = ys + tf.nest.flatten(states)
        loss = tf.add_n([tf.reduce_sum(t * cotangent(t, k)) for k, t in enumerate(results)])
    grads = tape.gradient(loss, [x] + init_flat + variables, unconnected_gradients="zero")
    return [r.numpy() for r in results], [g.numpy() for g in grads]


PREFIXES = {"dynamic": ["rnn/"], "static": ["rnn/"], "bidi": ["bidirectional_rnn/fw/", "bidirectional_rnn/bw/"]}


@pytest.mark.parametrize("fast", [None, False], ids=["default", "per_step"])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_tf1(name, fast, tf1_results, monkeypatch):
    specs, results = tf1_results
    spec, ref = specs[name], results[name]
    expr, options = CASES[name]
    cells, prefixes = build_cells(expr, options)
    named = tf1_named_variables(cells, prefixes)

    # 1. checkpoint names: TF1's `rnn/<scope>/...` == "rnn/" + tfseq's tf1_variables() keys
    assert sorted(named) == list(ref["names"])

    for key, variable in named.items():
        variable.assign(spec["weights"][key])
    if fast is False:  # bidirectional_dynamic_rnn calls dynamic_rnn with its default
        monkeypatch.setattr(rnn_module, "dynamic_rnn", functools.partial(rnn_module.dynamic_rnn, fast=False))
    results_tfseq, grads_tfseq = run_tfseq(spec, cells, fast)

    # 2. outputs and final states (flattened in TF1's nesting order)
    n_results = len([k for k in ref if k.startswith("result")])
    assert len(results_tfseq) == n_results
    for k, value in enumerate(results_tfseq):
        np.testing.assert_allclose(value, ref[f"result{k}"], atol=ATOL, rtol=ATOL, err_msg=f"result {k}")

    # 3. gradients w.r.t. inputs, initial state and every weight (sorted by TF1 name)
    wrt_names = ["inputs"] + [f"init{k}" for k in range(len(spec["init"]))] + sorted(named)
    assert len(grads_tfseq) == len(wrt_names)
    for k, (value, what) in enumerate(zip(grads_tfseq, wrt_names)):
        np.testing.assert_allclose(value, ref[f"grad{k}"], atol=ATOL, rtol=ATOL, err_msg=f"d loss / d {what}")
        if what != "inputs" or options.get("seq") is None:
            assert np.abs(value).max() > 0, f"gradient w.r.t. {what} is all zeros: the case tests nothing"

    # 4. the clip options are really exercised (values sit on the clip boundary)
    if "c_clip" in options:
        c_final = results_tfseq[1]
        assert np.isclose(np.abs(c_final).max(), options["c_clip"]), "cell_clip never reached"
    if "y_clip" in options:
        assert np.isclose(np.abs(results_tfseq[0]).max(), options["y_clip"]), "proj_clip never reached"


def test_ragged_case_really_is_ragged(tf1_results):
    """Outputs past each row's length are zeros in TF1 and tfseq alike (guards the case setup)."""
    _, results = tf1_results
    y = results["ragged_basic_lstm"]["result0"]
    assert np.all(y[1, 3:] == 0) and np.all(y[2] == 0) and np.abs(y[0, -1]).max() > 0


def test_default_path_cases_cover_every_fused_kernel_and_the_per_step_loop():
    """Guards the suite: dynamic_rnn's default path is fused for plain cells, so the
    'default' parity cases above must reach each fused kernel (and the per-step loop)."""
    from tfseq.nn import fused

    paths = set()
    for expr, options in CASES.values():
        if options.get("driver", "dynamic") == "dynamic":
            cells, _ = build_cells(expr, options)
            paths.add(fused.plan(cells[0], tf.zeros((TIME, BATCH, DEPTH)), None, None).path)
    assert {"fused_lstm", "fused_gru", "fused_rnn", fused.PER_STEP} <= paths, paths
