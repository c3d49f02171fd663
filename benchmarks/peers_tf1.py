"""TF1 legacy peers (tf-keras ``BasicLSTMCell``/``GRUCell``/``BasicRNNCell`` + ``dynamic_rnn``).

They run in one long-lived worker process (:mod:`benchmarks.tf1_worker`, started with
``TF_USE_LEGACY_KERAS=1``) that sits idle on its stdin between requests, so the parent
can interleave its rounds with the in-process implementations: while one runs, the
other waits. Timing is taken inside the worker around ``sess.run`` only.
"""

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

_NAMES = {"lstm": "BasicLSTMCell", "gru": "GRUCell", "rnn": "BasicRNNCell"}
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tf1_worker.py")


def available():
    """tf-keras provides the legacy cells; without it TF1 peers are skipped."""
    return importlib.util.find_spec("tf_keras") is not None


class Tf1Worker:
    """The worker process; started on first use, closed by :meth:`close`.

    ``script`` is the worker to run (:mod:`benchmarks.tf1_worker` by default; the TF Addons
    peer, :mod:`benchmarks.tfa_worker`, speaks the same protocol), ``label`` names it in errors.
    """

    def __init__(self, script=_WORKER, label="TF1"):
        self._script, self._label = script, label
        self._proc = None
        self._tmp = tempfile.TemporaryDirectory(prefix="tfseq-bench-tf1-")
        self._stderr = open(os.path.join(self._tmp.name, "stderr.txt"), "w+")
        self._count = 0

    def _start(self):
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
        # run_path, not "python tf1_worker.py": that would put benchmarks/ on sys.path.
        launcher = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
        self._proc = subprocess.Popen(
            [sys.executable, "-c", launcher, self._script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            env=env,
        )

    def request(self, **request):
        if self._proc is None:
            self._start()
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(f"{self._label} worker died:\n{self._stderr.read()[-2000:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self._label} worker: {reply['error']}")
        return reply

    def build(self, bench, family, shape, data):
        """Build one graph in the worker; returns ``run(reps) -> seconds``."""
        self._count += 1
        key = f"{bench}-{family}-{self._count}"
        path = os.path.join(self._tmp.name, f"{key}.npz")
        np.savez(path, **data)
        self.request(op="build", key=key, bench=bench, family=family, shape=dataclasses.asdict(shape), data=path)
        os.remove(path)

        def run(reps):
            return self.request(op="run", key=key, reps=reps)["seconds"]

        run.release = lambda: self.request(op="drop", key=key)
        return run

    def close(self):
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
        self._stderr.close()
        self._tmp.cleanup()


def implementations(family, worker):
    """``[(name, make_run(bench, shape, data))]``: TF1's legacy cell of ``family``."""

    def make_run(bench, shape, data):
        return worker.build(bench, family, shape, data)

    return [(f"tf1.{_NAMES[family]}", make_run)]
