"""Run real TF1 code (``tf.compat.v1`` graph mode, tf-keras legacy cells) in a subprocess.

``tf.compat.v1.nn.rnn_cell.*`` only exists when ``tf-keras`` is installed and
``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported, so the reference can
never share a process with tfseq (Keras 3). This module is that bridge:

    out = run_tf1('''
        cell = tf1.nn.rnn_cell.GRUCell(3)
        x = tf1.constant(inputs["x"])
        y, s = tf1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        sess.run(tf1.global_variables_initializer())
        outputs["y"] = sess.run(y)
    ''', {"x": x})

Each case runs in a fresh ``tf.Graph`` and ``tf1.Session`` (``sess``), sees ``tf``,
``tf1`` (``tf.compat.v1``), ``np``, ``inputs`` (dict of arrays) and ``tmpdir``, and
fills ``outputs`` (dict of arrays). :func:`run_tf1_many` runs several cases in one
subprocess to pay TensorFlow's import once. Failures in the reference raise
``RuntimeError`` with its traceback: the reference is never silently skipped.
"""

import json

import numpy as np
from reference_process import run_cases

_SETUP = r'''
import contextlib, os, sys, tempfile
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
tf1 = tf.compat.v1
tf1.disable_eager_execution()

@contextlib.contextmanager
def case_env(inputs, outputs):
    graph = tf.Graph()
    with graph.as_default(), tf1.Session(graph=graph) as sess, tempfile.TemporaryDirectory() as tmpdir:
        tf1.set_random_seed(0)
        yield dict(tf=tf, tf1=tf1, np=np, inputs=inputs, outputs=outputs, sess=sess, tmpdir=tmpdir)
'''


def run_tf1_many(cases, timeout=600):
    """Run ``[(name, source, inputs), ...]`` in one TF1 subprocess; ``{name: outputs}``."""
    return run_cases(_SETUP, cases, "TF1", "tf1", timeout=timeout)


def run_tf1(source, inputs=None, timeout=600):
    """Run one TF1 case in a subprocess; returns its ``outputs`` dict."""
    return run_tf1_many([("case", source, inputs)], timeout=timeout)["case"]


def describe(results):
    """Shapes of a result dict, for assertion messages."""
    return json.dumps({k: list(np.shape(v)) for k, v in results.items()})
