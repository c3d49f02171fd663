"""Ground floor: "is the code being traced part of an XLA program?", asked in one place.

TensorFlow has no public test for it; this reads the same private flag TF's own control flow
uses. Imports nothing from tfseq.
"""

import tensorflow as tf
from tensorflow.python.ops import control_flow_util  # no public "inside jit_compile?" test


def inside_xla() -> bool:
    """Whether the code being traced is part of an XLA (``jit_compile=True``) program.

    False when executing eagerly. Inside a caller's XLA program a nested ``jit_compile``
    function would only add a program boundary (measured: a GRU training step then recompiled
    at every call), and XLA drops ``Assert`` ops, so callers check this first.
    """
    if tf.executing_eagerly():
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))
