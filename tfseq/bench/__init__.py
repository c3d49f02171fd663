"""``tfseq bench`` / ``python -m tfseq.bench``: tfseq's recurrent layers against their peers.

Workloads (:mod:`tfseq.bench.tf_harness`): the recurrent layers alone (forward +
backward), the TF PTB tutorial's full training step, and token-by-token generation, at
the tutorial's ``small``/``medium`` shapes (:mod:`tfseq.bench.shapes`). Peers: Keras 3's
built-in layers, TF1's legacy cells in a worker process, PyTorch when installed. The
``fwd_bwd`` and ``train`` steps also run compiled with XLA (``jit_compile``: tfseq's
``MultiRNNCell`` as ``tfseq lm train`` compiles its step, and each Keras layer), and the
summary compares tfseq's plain and compiled rows with each peer framework's fastest entry.
Every group is timed in interleaved rounds with a matmul ceiling
(:mod:`tfseq.bench.timing`); :mod:`tfseq.bench.report` derives words/s, the fraction of
the ceiling and the ratios of tfseq to each peer.

    from tfseq.bench import BenchConfig, run_benchmark, format_report
    results = run_benchmark(BenchConfig(shapes=("small",), families=("lstm",), rounds=3))
    print(format_report(results))
"""

from tfseq.bench.report import format_markdown, format_report, write_json
from tfseq.bench.runner import BenchConfig, quick_config, run_benchmark

__all__ = ["BenchConfig", "quick_config", "run_benchmark", "format_report", "format_markdown", "write_json"]
