"""Scaffolding shared by the ``train`` command tests (``tfseq lm``, ``translate``, ``regress``): run
the CLI in this process, kill or terminate a training process after a given checkpoint, run one
in a fresh process, read a run's final weights."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfseq.cli.main import main

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def run_cli(capsys, *argv):
    """``(exit code, stdout, stderr)`` of ``tfseq *argv`` run in this process."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(argv, cpu_only=False, timeout=240):
    """``tfseq *argv`` in a fresh Python process (e.g. ``--strategy mirrored --devices 2``:
    logical devices must be set up before TensorFlow initialises; ``cpu_only`` hides any GPU so
    that they are logical CPUs); the CompletedProcess."""
    env = dict(ENV, CUDA_VISIBLE_DEVICES="") if cpu_only else ENV
    return subprocess.run([sys.executable, "-m", "tfseq", *argv], env=env, capture_output=True, text=True,
                          timeout=timeout)


def checkpoint_step(run_dir):
    """The step of ``run_dir``'s latest checkpoint (0 without one)."""
    pointer = os.path.join(run_dir, "checkpoints", "latest")
    if not os.path.exists(pointer):
        return 0
    with open(pointer) as f:
        return int(f.read().strip()[5:] or 0)  # "ckpt-<step>"


def _wait_for_checkpoint(process, run_dir, step, timeout):
    """Until ``run_dir`` holds a checkpoint of at least ``step``, ``process`` ends or ``timeout`` s pass."""
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None and checkpoint_step(run_dir) < step:
        time.sleep(0.02)


def kill_after_checkpoint(argv, run_dir, step, timeout=120):
    """Start ``tfseq *argv`` in a fresh process, SIGKILL it as soon as ``run_dir`` holds a
    checkpoint of at least ``step``, check that it was really killed (not finished) and
    return the step of the checkpoint it left."""
    killed = subprocess.Popen([sys.executable, "-m", "tfseq", *argv], env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    _wait_for_checkpoint(killed, run_dir, step, timeout)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL  # really killed mid-run, not finished
    return checkpoint_step(run_dir)


def terminate_after_checkpoint(argv, run_dir, step, timeout=120):
    """Start ``tfseq *argv`` in a fresh process, send it SIGTERM (what ``kill``, a batch
    scheduler or a preempted machine send) once ``run_dir`` holds a checkpoint of at least
    ``step``; the CompletedProcess-like ``(returncode, stdout, stderr)``."""
    process = subprocess.Popen([sys.executable, "-m", "tfseq", *argv], env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _wait_for_checkpoint(process, run_dir, step, timeout)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def final_weights(run_dir, prefix="model_variables/"):
    """``{checkpoint name: array}`` of the model variables (the variables whose names start with
    ``prefix``) in ``run_dir``'s latest checkpoint."""
    ckpt = os.path.join(run_dir, "checkpoints")
    with open(os.path.join(ckpt, "latest")) as f:
        reader = tf.train.load_checkpoint(os.path.join(ckpt, f.read().strip(), "ckpt"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith(prefix))
    return {n: reader.get_tensor(n) for n in names}


def assert_same_checkpoints(run_a, run_b, prefixes=("model_variables/",)):
    """The latest checkpoints of two runs hold the same values under each name prefix (more than five each)."""
    for prefix in prefixes:
        a, b = final_weights(run_a, prefix), final_weights(run_b, prefix)
        assert a.keys() == b.keys() and len(a) > 5, (prefix, sorted(a), sorted(b))
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def assert_model_file_holds_the_averages(run_dir):
    """``model.keras`` of a finished run holds the weight averages of its latest checkpoint."""
    import keras

    prefix = "weight_average/weight_averages/"
    averages = final_weights(run_dir, prefix)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert len(averages) == len(model.trainable_variables) > 3
    for k, variable in enumerate(model.trainable_variables):
        np.testing.assert_array_equal(variable.numpy(), averages[f"{prefix}{k}/.ATTRIBUTES/VARIABLE_VALUE"],
                                      err_msg=variable.path)


def events(directory):
    """``(accumulator, {plugin: {tag}})`` of the event files in ``directory``, as TensorBoard reads them."""
    acc = EventAccumulator(directory, size_guidance={"tensors": 0})
    acc.Reload()
    by_plugin = {}
    for tag in acc.Tags()["tensors"]:
        by_plugin.setdefault(acc.SummaryMetadata(tag).plugin_data.plugin_name, set()).add(tag)
    return acc, by_plugin
