"""The subprocess bridge shared by the reference modules (``tf1_reference``, ``tfa_reference``).

A reference framework that cannot share a process with tfseq (Keras 3) runs as
``python -c <setup + CASE_LOOP> cases.pkl results.pkl``. The reference module's ``setup``
source imports the framework and defines ``case_env(inputs, outputs)``, a context manager
yielding the globals one case runs in; :data:`CASE_LOOP` then unpickles ``[(name, source,
inputs), ...]``, executes each case and pickles ``{name: outputs}``, a failed case as
``{"__error__": traceback}``. :func:`run_cases` writes the cases, runs the process and
reads the results back; a failure of the process or of any case raises ``RuntimeError``
with its traceback, so a broken reference is never silently skipped.
"""

import os
import pickle
import subprocess
import sys
import tempfile
import textwrap

# The subprocess's half of the protocol, run after the reference's setup source.
CASE_LOOP = r'''
import pickle, sys, traceback
import numpy as np

def _run_cases(case_label):
    with open(sys.argv[1], "rb") as f:
        cases = pickle.load(f)
    results = {}
    for name, source, inputs in cases:
        outputs = {}
        with case_env(inputs, outputs) as env:
            try:
                exec(compile(source, f"<{case_label} case {name}>", "exec"), env)
            except Exception:
                results[name] = {"__error__": traceback.format_exc()}
                continue
        results[name] = {k: np.asarray(v) for k, v in outputs.items()}
    with open(sys.argv[2], "wb") as f:
        pickle.dump(results, f)

_run_cases(sys.argv[3])
'''


def run_cases(setup, cases, label, case_label, timeout=600, drop_env=()):
    """Run ``[(name, source, inputs), ...]`` in one subprocess: ``setup``, then :data:`CASE_LOOP`.

    Args:
        setup: the reference's Python source: imports, and ``case_env(inputs, outputs)``
            (see the module docstring).
        cases: ``[(name, source, inputs), ...]``; each source is dedented, ``inputs`` may be None.
        label: what the reference is called in error messages, e.g. ``"TF1"``.
        case_label: the cases' file names in tracebacks are ``<case_label case NAME>``.
        timeout: seconds before the subprocess is killed.
        drop_env: environment variables removed for the subprocess.

    Returns:
        ``{name: {output name: np.ndarray}}``.

    Raises:
        RuntimeError: the subprocess failed, or a case raised (its traceback is included).
    """
    cases = [(name, textwrap.dedent(source), dict(inputs or {})) for name, source, inputs in cases]
    with tempfile.TemporaryDirectory() as tmp:
        case_path = os.path.join(tmp, "cases.pkl")
        result_path = os.path.join(tmp, "results.pkl")
        with open(case_path, "wb") as f:
            pickle.dump(cases, f)
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        for name in drop_env:
            env.pop(name, None)
        proc = subprocess.run(
            [sys.executable, "-c", setup + CASE_LOOP, case_path, result_path, case_label],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{label} reference process failed:\n{proc.stderr[-4000:]}")
        with open(result_path, "rb") as f:
            results = pickle.load(f)
    for name, outputs in results.items():
        if "__error__" in outputs:
            raise RuntimeError(f"{label} reference case {name!r} failed:\n{outputs['__error__']}")
    return results
