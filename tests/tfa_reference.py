"""Run real TF Addons code (``tfa.seq2seq``, TF2 eager, tf-keras) in a subprocess.

TF Addons 0.23 is end of life: it imports only against Keras 2. On TF 2.21 it still runs
in a process of its own when ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported
(with ``tf-keras`` installed), every ``tf_keras*`` module is aliased as ``keras*`` in
``sys.modules`` before ``tensorflow_addons`` is imported, and ``np.Inf`` (removed in
NumPy 2) is restored. It can never share a process with tfseq (Keras 3), hence this bridge:

    out = run_tfa('''
        mechanism = tfa.seq2seq.LuongAttention(4, memory=tf.constant(inputs["memory"]))
        outputs["keys"] = mechanism.keys.numpy()
    ''', {"memory": memory})

Each case runs eagerly and sees ``tf``, ``tfa``, ``np``, ``inputs`` (a dict) and fills
``outputs`` (a dict of arrays). :func:`run_tfa_many` runs several cases in one subprocess
to pay the imports once. A failure in the reference raises ``RuntimeError`` with its
traceback: the reference is never silently skipped.
"""

import importlib.util

import numpy as np
import pytest
from reference_process import run_cases

# TF Addons 0.23 (end of life) has no wheel for Python >= 3.12, so the test extra installs it
# only below 3.12 (setup.cfg). Where it (or tf-keras, which it runs on) is not installed the
# parity modules are skipped, saying why; where it is, they always run, and a broken
# reference fails them. (It cannot be imported here, next to Keras 3: only looked up.)
_MISSING = [name for name in ("tensorflow_addons", "tf_keras") if importlib.util.find_spec(name) is None]
requires_tfa = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"the seq2seq reference needs TF Addons 0.23 and tf-keras (pip install 'tfseq[test]' on Python < 3.12); "
    f"not installed: {', '.join(_MISSING)}",
)

_SETUP = r'''
import contextlib, os, sys, warnings
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
np.Inf = np.inf  # NumPy 2 removed it; tensorflow_addons still uses it
import tensorflow as tf
import tf_keras
for _name in list(sys.modules):  # tensorflow_addons imports `keras`: give it Keras 2
    if _name == "tf_keras" or _name.startswith("tf_keras."):
        sys.modules["keras" + _name[len("tf_keras"):]] = sys.modules[_name]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "TF Addons supports TF < 2.16": known, that is why we are here
    import tensorflow_addons as tfa

@contextlib.contextmanager
def case_env(inputs, outputs):
    tf.random.set_seed(0)
    yield dict(tf=tf, tfa=tfa, np=np, inputs=inputs, outputs=outputs)
'''


def run_tfa_many(cases, timeout=600):
    """Run ``[(name, source, inputs), ...]`` in one TF Addons subprocess; ``{name: outputs}``."""
    return run_cases(_SETUP, cases, "TF Addons", "tfa", timeout=timeout, drop_env=("KERAS_BACKEND",))


def run_tfa(source, inputs=None, timeout=600):
    """Run one TF Addons case in a subprocess; returns its ``outputs`` dict."""
    return run_tfa_many([("case", source, inputs)], timeout=timeout)["case"]


def describe(results):
    """Shapes of a result dict, for assertion messages."""
    return {k: list(np.shape(v)) for k, v in results.items()}
