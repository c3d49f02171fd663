"""``nn.stack_bidirectional_dynamic_rnn`` / ``stack_bidirectional_rnn`` against TF1 contrib's.

TF 2.21 has no ``tf.contrib``, so the reference runs contrib's stacking loop (TF 1.15
``contrib/rnn/python/ops/rnn.py``: ``variable_scope(scope or "stack_bidirectional_rnn")``, then per
layer ``variable_scope("cell_%d")`` around the real TF1 ``bidirectional_dynamic_rnn``, or
``static_bidirectional_rnn(..., scope=cell_scope)``) with the real TF1 cells, and saves the
variables. tfseq loads that checkpoint through ``nn.stack_bidirectional_checkpoint_target`` --
so the TF1 variable names are checked too -- and must give the same outputs and states."""

import numpy as np
import pytest
import tensorflow as tf
from tf1_reference import run_tf1_many

from tfseq import compat, nn, rnn_cell

RNG = np.random.default_rng(21)
X = RNG.standard_normal([3, 5, 4]).astype(np.float32)  # [batch, time, depth]
LENGTHS = np.array([5, 2, 4], np.int32)
H0 = RNG.standard_normal([3, 2]).astype(np.float32)


pytestmark = pytest.mark.usefixtures("no_xla")  # XLA is not under test here: plain TF ops

_STACK = """
cells_fw = [tf1.nn.rnn_cell.LSTMCell(3), tf1.nn.rnn_cell.GRUCell(2)]
cells_bw = [tf1.nn.rnn_cell.BasicLSTMCell(3), tf1.nn.rnn_cell.GRUCell(2)]
initial_fw = [None, tf1.constant(inputs["h0"])]  # contrib: initial_states_fw[i] for each layer
prev_layer = tf1.constant(inputs["x"])
length = tf1.constant(inputs["lengths"])
states_fw, states_bw = [], []
with tf1.variable_scope("stack_bidirectional_rnn"):
    for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
        if inputs["dynamic"]:
            with tf1.variable_scope("cell_%d" % i):
                (out_fw, out_bw), (state_fw, state_bw) = tf1.nn.bidirectional_dynamic_rnn(
                    cell_fw, cell_bw, prev_layer, initial_state_fw=initial_fw[i], sequence_length=length,
                    dtype=tf.float32)
                prev_layer = tf1.concat([out_fw, out_bw], 2)
        else:
            if i == 0:
                prev_layer = tf1.unstack(prev_layer, axis=1)
            with tf1.variable_scope("cell_%d" % i) as cell_scope:
                prev_layer, state_fw, state_bw = tf1.nn.static_bidirectional_rnn(
                    cell_fw, cell_bw, prev_layer, initial_state_fw=initial_fw[i], sequence_length=length,
                    dtype=tf.float32, scope=cell_scope)
        states_fw.append(state_fw)
        states_bw.append(state_bw)
outputs_ = prev_layer if inputs["dynamic"] else tf1.stack(prev_layer, 1)
sess.run(tf1.global_variables_initializer())
outputs["y"] = sess.run(outputs_)
outputs["states"] = np.concatenate([np.asarray(s) for s in sess.run(tf1.nest.flatten((states_fw, states_bw)))], 1)
tf1.train.Saver().save(sess, inputs["ckpt"])
outputs["names"] = np.array(sorted(v.op.name for v in tf1.global_variables()))
"""


@pytest.fixture(scope="module")
def tf1(tmp_path_factory):
    directory = tmp_path_factory.mktemp("stack_bidi")
    cases = [
        (kind, _STACK, {"x": X, "lengths": LENGTHS, "h0": H0, "dynamic": kind == "dynamic",
                        "ckpt": str(directory / kind / "model.ckpt")})
        for kind in ("dynamic", "static")
    ]
    results = run_tf1_many(cases)
    for kind, _, inputs in cases:
        results[kind]["ckpt"] = inputs["ckpt"]
    return results


def _cells():
    return ([rnn_cell.LSTMCell(3), rnn_cell.GRUCell(2)], [rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(2)])


@pytest.mark.parametrize("kind", ["dynamic", "static"])
def test_stack_matches_tf1_contrib_with_its_variable_names(tf1, kind):
    ref = tf1[kind]
    cells_fw, cells_bw = _cells()
    kwargs = dict(initial_states_fw=[None, H0], sequence_length=LENGTHS)

    def run():
        if kind == "dynamic":
            return nn.stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, X, **kwargs)
        steps = list(np.transpose(X, [1, 0, 2]))
        outputs, states_fw, states_bw = nn.stack_bidirectional_rnn(cells_fw, cells_bw, steps, **kwargs)
        return tf.stack(outputs, 1), states_fw, states_bw

    run()  # builds the cells
    target = nn.stack_bidirectional_checkpoint_target(cells_fw, cells_bw, dynamic=kind == "dynamic")
    loaded = compat.load_tf1_checkpoint(ref["ckpt"], target)  # strict: exactly TF1's names
    assert sorted(loaded) == list(ref["names"])
    prefix = "stack_bidirectional_rnn/cell_1/" + ("bidirectional_rnn/" if kind == "dynamic" else "")
    assert prefix + "fw/gru_cell/gates/kernel" in loaded
    outputs, states_fw, states_bw = run()
    assert outputs.shape == (3, 5, 4) and len(states_fw) == len(states_bw) == 2
    np.testing.assert_allclose(outputs, ref["y"], atol=1e-5)
    flat = np.concatenate([np.asarray(s) for s in tf.nest.flatten((list(states_fw), list(states_bw)))], 1)
    np.testing.assert_allclose(flat, ref["states"], atol=1e-5)


def test_time_major_and_tf_function_agree():
    cells_fw, cells_bw = _cells()
    batch_major, _, _ = nn.stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, X, sequence_length=LENGTHS)
    run = tf.function(lambda x: nn.stack_bidirectional_dynamic_rnn(
        cells_fw, cells_bw, x, sequence_length=LENGTHS, time_major=True, parallel_iterations=8)[0])
    np.testing.assert_allclose(np.transpose(run(np.transpose(X, [1, 0, 2])), [1, 0, 2]), batch_major, atol=1e-5)


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"cells_fw": [], "cells_bw": []}, ValueError, r"cells_fw must be a non-empty list of RNN cells.*got \[\]"),
    ({"cells_fw": [rnn_cell.GRUCell(2)], "cells_bw": []}, ValueError, r"cells_bw must be a non-empty list"),
    ({"cells_fw": [rnn_cell.GRUCell(2)], "cells_bw": [rnn_cell.GRUCell(2)] * 2}, ValueError,
     r"same depth, got 1 and 2"),
    ({"cells_fw": [3], "cells_bw": [rnn_cell.GRUCell(2)]}, TypeError, r"cells_fw\[0\] must be an RNN cell.*got 3"),
    ({"cells_fw": [rnn_cell.GRUCell(2)], "cells_bw": [rnn_cell.GRUCell(2)], "initial_states_fw": [None, None]},
     ValueError, r"initial_states_fw must be a list of initial states, one per layer \(1\)"),
])
def test_bad_arguments_are_named(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        nn.stack_bidirectional_dynamic_rnn(inputs=X, **kwargs)
