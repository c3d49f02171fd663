"""The subprocess bridge shared by the reference modules (``tf1_reference``, ``tfa_reference``).

A reference framework that cannot share a process with tfseq (Keras 3) runs as
``python -c <runner> cases.pkl results.pkl``: the runner unpickles ``[(name, source,
inputs), ...]``, executes each case and pickles ``{name: outputs}``, a failed case as
``{"__error__": traceback}``. :func:`run_cases` writes the cases, runs the runner and
reads the results back; a failure of the process or of any case raises ``RuntimeError``
with its traceback, so a broken reference is never silently skipped.
"""

import os
import pickle
import subprocess
import sys
import tempfile
import textwrap


def run_cases(runner, cases, label, timeout=600, drop_env=()):
    """Run ``[(name, source, inputs), ...]`` through ``runner`` in one subprocess.

    Args:
        runner: the runner's Python source (see the module docstring).
        cases: ``[(name, source, inputs), ...]``; each source is dedented, ``inputs`` may be None.
        label: what the reference is called in error messages, e.g. ``"TF1"``.
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
            [sys.executable, "-c", runner, case_path, result_path],
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
