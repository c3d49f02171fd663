"""Tiny runs of every demo, written through the real command line into one log directory: what a
user's ``tensorboard --logdir logdir`` shows after trying each demo. Shared by the TensorBoard
tests (HTTP data API and real browser)."""

import contextlib
import io
import pathlib
import shutil
import socket
import subprocess
import sys

from tfseq.cli.main import main

PAIRS = {"one": "uno", "two": "dos", "red": "rojo", "cat": "gato", "dog": "perro", "big": "grande",
         "house": "casa", "car": "coche"}


def word_pairs_tsv(path: pathlib.Path) -> pathlib.Path:
    """A made-up 200-pair es-en word corpus: a translation run in seconds."""
    words = list(PAIRS)
    lines = [words[i % 8:] + words[:i % 8] for i in range(200)]
    path.write_text("".join(" ".join(s[: 2 + i % 4]) + "\t" + " ".join(PAIRS[w] for w in s[: 2 + i % 4]) + "\n"
                            for i, s in enumerate(lines)))
    return path


def write_runs(logdir: pathlib.Path, tmp_path: pathlib.Path) -> str:
    """Train each demo for a few steps into ``logdir/<demo>/<run>``; returns what the commands printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["regress", "--logdir", str(logdir / "regression"), "--run", "r", "--epochs", "2",
                     "--steps-per-epoch", "10"]) == 0
        assert main(["lm", "train", "--config", "tiny", "--no-xla", "--no-progress", "--samples", "3",
                     "--logdir", str(logdir / "names"), "--run", "lm",
                     "hidden_size=16", "batch_size=128", "num_steps=20", "max_max_epoch=1"]) == 0
        assert main(["translate", "train", "--data", str(word_pairs_tsv(tmp_path / "pairs.tsv")), "--src", "es",
                     "--tgt", "en", "--no-progress", "--no-xla", "--logdir", str(logdir / "translate"), "--run", "t",
                     "--eval-sentences", "10", "num_units=16", "num_layers=1", "encoder_type=uni", "tokenizer=word",
                     "epochs=2", "batch_size=64"]) == 0
        assert main(["classify", "train", "--logdir", str(logdir / "classify"), "--run", "c", "--no-progress",
                     "--no-xla", "embedding_dim=8", "num_units=8", "batch_size=128", "max_length=16", "num_buckets=2",
                     "epochs=2", "min_count=3", "learning_rate=0.01"]) == 0
        assert main(["tag", "train", "--logdir", str(logdir / "tag"), "--run", "g", "--no-progress", "--no-xla",
                     "num_units=12", "embedding_size=8", "batch_size=128", "epochs=2", "num_buckets=2"]) == 0
    return out.getvalue()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tensorboard_command():
    script = pathlib.Path(sys.executable).with_name("tensorboard")
    found = str(script) if script.exists() else shutil.which("tensorboard")
    assert found, "the tensorboard console script is not installed (it is a dependency)"
    return found


def stop(process, timeout=10):
    """Terminate by PID, then kill if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
