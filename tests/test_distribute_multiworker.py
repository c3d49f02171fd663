"""A real two-worker ``MultiWorkerMirroredStrategy`` cluster on 127.0.0.1 (two processes with
their own ``TF_CONFIG``, ports from a free-port picker) trains a tiny LM:

* killing worker 1 mid-run ends the job on the chief with one clear message within a bounded
  time (collective timeout), leaving its last checkpoint intact;
* restarting both workers resumes from that checkpoint; both end with identical parameters,
  equal (<= 1e-5) to an uninterrupted single-device run of the same steps;
* only the chief wrote event files and checkpoints (worker 1's event directory stays empty
  and its scratch checkpoints are deleted).

Every process is started with a deadline and killed by its id in ``finally``.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

STEPS = 24  # training steps of the job
KILL_AFTER = 6  # kill worker 1 once the chief checkpointed at least this step
TIMEOUT = 8.0  # collective timeout of the job (seconds)


def free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_workers(tmp_path, ports, slow):
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
               "TMPDIR": str(tmp_path / f"tmp{index}"),
               "TF_CONFIG": json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                        "task": {"type": "worker", "index": index}})}
        os.makedirs(env["TMPDIR"], exist_ok=True)
        log = open(tmp_path / f"worker{index}-{'slow' if slow else 'run'}.log", "w")
        procs.append(subprocess.Popen([sys.executable, __file__, str(tmp_path), str(index), str(int(slow))],
                                      env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def wait_all(procs, deadline):
    for proc in procs:
        proc.wait(timeout=max(1.0, deadline - time.time()))


def kill_all(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def latest_step(tmp_path):
    pointer = tmp_path / "ckpt" / "latest"
    try:
        return int(pointer.read_text().strip()[5:])
    except (OSError, ValueError):
        return 0


def test_two_workers_kill_resume_identical(tmp_path):
    procs = []
    try:
        # 1. a slow job; kill worker 1 once the chief checkpointed KILL_AFTER steps
        procs = start_workers(tmp_path, free_ports(2), slow=True)
        deadline = time.time() + 400  # generous: two TensorFlow start-ups on a loaded 2-core machine
        while latest_step(tmp_path) < KILL_AFTER and time.time() < deadline:
            assert procs[0].poll() is None and procs[1].poll() is None, "a worker ended early"
            time.sleep(0.05)
        assert latest_step(tmp_path) >= KILL_AFTER
        procs[1].send_signal(signal.SIGKILL)
        killed_at = time.time()
        code = procs[0].wait(timeout=TIMEOUT * 4 + 30)
        ended_after = time.time() - killed_at
        chief_log = (tmp_path / "worker0-slow.log").read_text()
        assert code == 1, chief_log[-3000:]
        assert "a worker of the job stopped responding" in chief_log and "last checkpoint is intact" in chief_log
        assert "Traceback" not in chief_log, chief_log[-3000:]
        assert ended_after < TIMEOUT * 4 + 30
        print(f"the chief ended {ended_after:.1f} s after worker 1 was killed")
        at_kill = latest_step(tmp_path)
        assert KILL_AFTER <= at_kill < STEPS

        # 2. restart both: they resume from the chief's last checkpoint and finish the job
        procs = start_workers(tmp_path, free_ports(2), slow=False)
        wait_all(procs, time.time() + 400)
        logs = [(tmp_path / f"worker{i}-run.log").read_text() for i in range(2)]
        assert [p.returncode for p in procs] == [0, 0], logs
        assert all(f"resumed at step {at_kill}" in log for log in logs), logs
    finally:
        kill_all(procs)
    finals = [np.load(tmp_path / f"final{i}.npz") for i in range(2)]
    assert int(finals[0]["step"]) == int(finals[1]["step"]) == STEPS
    assert int(finals[0]["replicas"]) == int(finals[1]["replicas"]) == 2  # one job of two, not two jobs of one
    names = [n for n in finals[0].files if n not in ("step", "replicas")]
    for name in names:  # both workers hold the same parameters
        np.testing.assert_array_equal(finals[0][name], finals[1][name], err_msg=name)
    # only the chief wrote: worker 1's event directory is empty and its scratch checkpoints are gone
    assert os.listdir(tmp_path / "events0") and not os.listdir(tmp_path / "events1")
    assert not [n for n in os.listdir(tmp_path / "tmp1") if n.startswith("tfseq-worker-ckpt-")]
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["ckpt-22", "ckpt-24", "latest"]
    # the interrupted, resumed two-worker job equals an uninterrupted single-device run
    reference = train(str(tmp_path / "single"), strategy=None, steps=STEPS)
    for name in names:
        np.testing.assert_allclose(finals[0][name], reference[name], rtol=0, atol=1e-5, err_msg=name)


# -- one worker (this file run as a script) ---------------------------------------------------------------
def train(tmp, strategy, steps, slow=False, events=None):
    import contextlib

    import keras
    import tensorflow as tf

    from tfseq.demos.lm import language_model_from_config, presets
    from tfseq.demos.lm.task import LanguageModelTask
    from tfseq.train import Progress, RunWriters, Trainer

    class SlowTask(LanguageModelTask):
        def train_batches(self, start):  # 0.15 s per batch, so the job can be killed mid-run
            def slow_down(x, y):
                return (tf.py_function(lambda: time.sleep(0.15) or 0, [], tf.int32), x, y)[1:]
            return super().train_batches(start).map(slow_down) if slow else super().train_batches(start)

    ids = np.random.default_rng(0).integers(0, 11, 4000).astype(np.int32)
    cfg = presets.get("test").with_overrides(hidden_size=8, num_layers=1, num_steps=5, batch_size=4,
                                             vocab_size=11, keep_prob=1.0, max_max_epoch=1)
    with strategy.scope() if strategy else contextlib.nullcontext():
        keras.utils.set_random_seed(3)
        model = language_model_from_config(cfg, seed=3)
        task = SlowTask(model, ids, cfg.batch_size, cfg.num_steps)
        optimizer = keras.optimizers.SGD(1.0)
    writers = RunWriters(events) if events else None
    trainer = Trainer(task, optimizer, 1, max_grad_norm=0.5, checkpoint_dir=os.path.join(tmp, "ckpt"),
                      checkpoint_every=2, log_every=4, writers=writers, jit_compile=False,
                      progress=Progress(enabled=False), strategy=strategy)
    if trainer.restore():
        print(f"resumed at step {int(trainer.global_step.numpy())}", flush=True)
    trainer.fit(max_steps=steps)
    out = {f"v{i:02d}": v.numpy() for i, v in enumerate(model.trainable_variables)}  # Keras paths vary by process
    out["step"] = int(trainer.global_step.numpy())
    out["replicas"] = strategy.num_replicas_in_sync if strategy else 1
    return out


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tmp, index, slow = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    from tfseq.train.distribute import WorkerLostError, make_strategy

    strategy = make_strategy("multi-worker", timeout_seconds=TIMEOUT)
    try:
        final = train(tmp, strategy, STEPS, slow=slow, events=os.path.join(tmp, f"events{index}"))
    except WorkerLostError as err:
        print(f"error: {err}", flush=True)
        os._exit(1)  # gRPC threads waiting on the dead peer must not hold the exit
    np.savez(os.path.join(tmp, f"final{index}.npz"), **final)
    os._exit(0)
else:
    pytestmark = pytest.mark.filterwarnings("ignore")
