"""``python -m benchmarks``: tfseq's recurrent layers against their peers.

Workloads (:mod:`benchmarks.tf_harness`): the recurrent layers alone (forward +
backward), the TF PTB tutorial's full training step, and token-by-token generation, at
the tutorial's ``small``/``medium`` shapes (:mod:`benchmarks.shapes`). Peers: Keras 3's
built-in layers, TF1's legacy cells in a worker process, PyTorch when installed. The
``fwd_bwd`` and ``train`` steps also run compiled with XLA (``jit_compile``: tfseq's
``MultiRNNCell`` as ``tfseq lm train`` compiles its step, and each Keras layer), and the
summary compares tfseq's plain and compiled rows with each peer framework's fastest entry.
Every group is timed in interleaved rounds with a matmul ceiling
(:mod:`benchmarks.timing`); :mod:`benchmarks.report` derives words/s, the fraction of
the ceiling and the ratios of tfseq to each peer.

    from benchmarks import BenchConfig, run_benchmark, format_report
    results = run_benchmark(BenchConfig(shapes=("small",), families=("lstm",), rounds=3))
    print(format_report(results))
"""

import importlib

_EXPORTS = {
    "BenchConfig": "benchmarks.runner",
    "quick_config": "benchmarks.runner",
    "run_benchmark": "benchmarks.runner",
    "format_report": "benchmarks.report",
    "format_markdown": "benchmarks.report",
    "write_json": "benchmarks.report",
}


def __getattr__(name):
    """Loaded on first use, so ``python -m benchmarks`` can import TensorFlow quietly first."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'benchmarks' has no attribute {name!r}")


__all__ = ["BenchConfig", "quick_config", "run_benchmark", "format_report", "format_markdown", "write_json"]
