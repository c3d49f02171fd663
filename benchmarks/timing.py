"""Interleaved timing: warm-up, then rounds that visit every candidate once each.

Within a round the candidates run one after the other (round-robin, the starting point
rotating every round), so slow drifts of machine load hit all of them alike and their
ratios stay comparable. Each timed sample runs ``reps`` iterations, ``reps`` chosen in
warm-up so one sample lasts about ``min_time`` seconds; samples are kept per iteration.
"""

import dataclasses
import math
import resource
import statistics
import subprocess
import time
from typing import Callable


@dataclasses.dataclass
class Candidate:
    """One implementation in one group.

    ``make()`` builds it and returns ``run(reps) -> seconds``; ``run.release()``, when
    present, frees what lives outside this process (the TF1 worker's graph).
    """

    name: str
    framework: str  # "tfseq", "keras", "tf1", "torch" or "ceiling"
    make: Callable


def timed(fn, wait):
    """``run(reps) -> seconds``: ``reps`` calls of ``fn``, then ``wait(last result)`` blocks
    until the device has finished them (``np.asarray`` for a TF tensor)."""

    def run(reps):
        start = time.perf_counter()
        for _ in range(reps):
            result = fn()
        wait(result)
        return time.perf_counter() - start

    return run


def _short_error(err):
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}"[:300]


def measure(candidates, rounds, warmup=1, min_time=0.2, log=lambda msg: None):
    """Time ``candidates``; ``{name: {"samples": [s/iter...], "reps": n} | {"error": str}}``
    (plus ``"detail"``, e.g. the path tfseq took, when ``run.detail`` says).

    A candidate that fails to build or run is reported with its error and the others
    go on: a peer missing a feature must not stop the benchmark.
    """
    results, runs = {}, {}
    for cand in candidates:
        try:
            run = cand.make()
            run(1)  # tracing / graph building / first-touch allocations
            estimate = min(run(1) for _ in range(max(warmup, 1)))
            runs[cand.name] = run
            results[cand.name] = {"samples": [], "reps": max(1, math.ceil(min_time / max(estimate, 1e-9)))}
            if getattr(run, "detail", None):
                results[cand.name]["detail"] = run.detail
        except Exception as err:  # noqa: BLE001 - reported in the table
            results[cand.name] = {"error": _short_error(err)}
            log(f"  {cand.name}: failed ({results[cand.name]['error']})")
    names = [c.name for c in candidates if c.name in runs]
    for round_index in range(rounds):
        shift = round_index % max(len(names), 1)
        for name in names[shift:] + names[:shift]:
            if name not in runs:
                continue
            reps = results[name]["reps"]
            try:
                results[name]["samples"].append(runs[name](reps) / reps)
            except Exception as err:  # noqa: BLE001
                results[name] = {"error": _short_error(err)}
                runs.pop(name)
                log(f"  {name}: failed in round {round_index + 1} ({results[name]['error']})")
    for run in runs.values():
        release = getattr(run, "release", None)
        if release is not None:
            try:
                release()
            except Exception:  # noqa: BLE001 - freeing is best effort
                pass
    return results


def summarize(samples):
    """Median, min and max of per-iteration seconds."""
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "rounds": len(samples),
    }


def run_child(argv: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``argv`` to its end (output captured); ``(result, CPU seconds, wall seconds)``. The CPU
    time is the child's user + system time, all threads: the "CPU minutes" of the quality goals."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall
