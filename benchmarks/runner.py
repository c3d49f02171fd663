"""Run the benchmark: groups of (shape, bench, family), each timed with interleaved rounds.

A *group* holds every implementation of one recurrent family (tfseq's cells, the Keras 3
layer, the TF1 legacy cell, the PyTorch module) for one workload and shape, plus the
matmul ceiling, all interleaved round by round. Results are a JSON-ready dict
(see :mod:`benchmarks.report` for the derived figures and the table).
"""

import dataclasses
import datetime
import gc
import os
import platform
import sys

from benchmarks import report, timing
from benchmarks.shapes import BENCHES, FAMILIES, PEERS, PRESETS


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What to run. ``steps=None`` runs each preset at its own ``num_steps`` (small 20,
    medium 35); a tuple runs every shape at every listed ``num_steps``."""

    shapes: tuple = ("small", "medium")
    steps: tuple = None
    benches: tuple = BENCHES
    families: tuple = FAMILIES
    peers: tuple = PEERS
    rounds: int = 5
    warmup: int = 1
    min_time: float = 0.2
    ceiling_size: int = 2048
    torch_threads: int = None  # None: PyTorch's default (one per core)
    precisions: tuple = ("float32",)  # tfseq's rows; "mixed_bfloat16" adds rows under Keras' mixed policy

    def shape_list(self):
        out = []
        for name in self.shapes:
            preset = PRESETS[name]
            out.extend([preset] if self.steps is None else [preset.with_steps(s) for s in self.steps])
        return out


def quick_config(**overrides):
    """Tiny shapes, one round, no minimum sample time: a smoke test in seconds per group."""
    base = dict(shapes=("tiny",), rounds=1, warmup=1, min_time=0.0, ceiling_size=256)
    base.update(overrides)
    return BenchConfig(**base)


def _load_average():
    """1-minute load average (None where the OS has none): how busy the machine was."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _versions(use_torch):
    import keras
    import tensorflow as tf

    import tfseq
    from benchmarks import peers_torch

    return {
        "tfseq": tfseq.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": peers_torch.version() if use_torch else None,
        "python": platform.python_version(),
    }


def _candidates(bench, family, shape, data, config, tf1_worker, use_torch):
    from benchmarks import floor, peers_keras, peers_tf1, peers_tfseq, peers_torch, tf_harness

    def tf_make(make_stack):
        def make():
            stack = make_stack(shape)
            run = tf_harness.WORKLOADS[bench](stack, shape, data)
            if bench != "generate":  # generation calls the cells, not dynamic_rnn
                run.detail = getattr(stack, "detail", None)  # tfseq: the path dynamic_rnn took
            return run

        return make

    def peer_make(make_run):
        return lambda: make_run(bench, shape, data)

    cands = [timing.Candidate(n, "tfseq", tf_make(m))
             for n, m in peers_tfseq.implementations(family, bench, config.precisions)]
    if "keras" in config.peers:
        cands += [timing.Candidate(n, "keras", tf_make(m)) for n, m in peers_keras.implementations(family, bench)]
    if tf1_worker is not None:
        cands += [
            timing.Candidate(n, "tf1", peer_make(m)) for n, m in peers_tf1.implementations(family, tf1_worker)
        ]
    if use_torch:
        cands += [timing.Candidate(n, "torch", peer_make(m)) for n, m in peers_torch.implementations(family)]
    if "floor" in config.peers and bench in ("fwd_bwd", "train"):
        cands.append(timing.Candidate(floor.NAME, "floor", lambda: floor.make(bench, family, shape)))
    size = config.ceiling_size
    cands.append(timing.Candidate("ceiling: tf.matmul", "ceiling", lambda: tf_harness.matmul_ceiling(size)))
    if use_torch:
        cands.append(timing.Candidate("ceiling: torch.mm", "ceiling", lambda: peers_torch.matmul_ceiling(size)))
    return cands


def _notes(config, use_torch, use_tf1):
    """What a reader of the figures must know: skipped peers, threads, devices, settings."""
    import tensorflow as tf

    from benchmarks import peers_torch

    notes = []
    if "torch" in config.peers and not use_torch:
        notes.append("PyTorch is not installed: torch peers skipped (to include them: pip install torch, or on a "
                     "machine without a GPU its CPU build, pip install torch --index-url "
                     "https://download.pytorch.org/whl/cpu).")
    if "tf1" in config.peers and not use_tf1:
        notes.append("tf-keras is not installed: TF1 legacy peers skipped (pip install tf-keras).")
    if use_torch:
        settings = peers_torch.settings()
        notes.append(
            f"PyTorch runs on {settings['device']} with {settings['threads']} CPU threads, "
            f"OMP_WAIT_POLICY={settings['OMP_WAIT_POLICY']}."
        )
    if "tiny" in config.shapes or config.rounds < 3:
        notes.append("Smoke-test settings (tiny shapes or < 3 rounds): these figures show that it runs, not speed.")
    gpus = tf.config.list_physical_devices("GPU")
    notes.append(
        f"TensorFlow (tfseq, Keras, TF1) runs on {'GPU: ' + gpus[0].name if gpus else 'the CPU'}"
        + ("; the TF1 worker places its ops itself." if gpus else ".")
    )
    if use_tf1:
        notes.append("TF1 peers run in a worker process, idle while the others run (rounds interleaved).")
    return notes


def run_benchmark(config, log=None):
    """Run every group of ``config``; returns the results dict (derived figures included)."""
    import tensorflow as tf

    from benchmarks import peers_tf1, peers_torch, tf_harness

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    use_torch = "torch" in config.peers and peers_torch.available()
    use_tf1 = "tf1" in config.peers and peers_tf1.available()
    if use_torch and config.torch_threads is not None:
        peers_torch.set_threads(config.torch_threads)
    notes = _notes(config, use_torch, use_tf1)
    tf1_worker = peers_tf1.Tf1Worker() if use_tf1 else None
    groups = []
    load_before = _load_average()
    started = datetime.datetime.now(datetime.timezone.utc)
    tf_logger = tf.get_logger()
    tf_level = tf_logger.level
    tf_logger.setLevel("ERROR")  # one tf.function per implementation: retracing warnings are expected
    try:
        for shape in config.shape_list():
            data = tf_harness.make_data(shape)
            for bench in config.benches:
                for family in config.families:
                    log(f"[{bench} | {shape.name}, {shape.num_steps} steps | {family}]")
                    cands = _candidates(bench, family, shape, data, config, tf1_worker, use_torch)
                    raw = timing.measure(cands, config.rounds, config.warmup, config.min_time, log)
                    groups.append(report.make_group(bench, family, shape, cands, raw, config.ceiling_size))
                    gc.collect()
    finally:
        tf_logger.setLevel(tf_level)
        if tf1_worker is not None:
            tf1_worker.close()
    finished = datetime.datetime.now(datetime.timezone.utc)
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((finished - started).total_seconds(), 1),
        "versions": _versions(use_torch),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1min": {"start": load_before, "end": _load_average()},
        "config": dataclasses.asdict(config),
        "notes": notes,
    }
    ceiling = report.add_run_ceiling(groups)
    return {"meta": meta, "ceiling_gflops": ceiling, "groups": groups, "summary": report.summary(groups)}
