"""The TF1 bridge itself: it really runs the legacy cells, and reports failures."""

import numpy as np
import pytest
from tf1_reference import run_tf1, run_tf1_many


def test_reference_runs_legacy_cell_and_returns_arrays():
    out = run_tf1(
        """
        cell = tf1.nn.rnn_cell.BasicLSTMCell(3)
        y, s = tf1.nn.dynamic_rnn(cell, tf1.constant(inputs["x"]), dtype=tf.float32)
        sess.run(tf1.global_variables_initializer())
        outputs["y"] = sess.run(y)
        outputs["names"] = np.array([v.name for v in tf1.global_variables()])
        outputs["legacy"] = np.array(type(cell).__module__)
        """,
        {"x": np.ones((2, 4, 5), np.float32)},
    )
    assert out["y"].shape == (2, 4, 3)
    assert sorted(out["names"]) == ["rnn/basic_lstm_cell/bias:0", "rnn/basic_lstm_cell/kernel:0"]
    assert "tf_keras" in str(out["legacy"])


def test_reference_failure_is_an_error_not_a_skip():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_tf1_many([("bad", "1 / 0", None)])
