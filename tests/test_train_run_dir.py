"""RunDir: a new run writes its files then config.json; a resumed run must match its saved
settings except the keys allowed to change (the mismatch names every differing key); a
directory killed before config.json was written starts afresh; completed epochs are read
from the latest Trainer checkpoint."""

import json
import os

import pytest
import tensorflow as tf

from tfseq.train import CheckpointKeeper
from tfseq.train.run_dir import RunDir, SettingsMismatch, differences

SETTINGS = {"config": {"hidden_size": 16, "max_max_epoch": 2, "cell": "lstm"}, "data": "names.txt", "seed": 0}


def test_new_then_resume_then_mismatch_names_keys(tmp_path):
    run = RunDir(tmp_path / "r1")
    written = []
    files = {"vocab.json": lambda path: written.append(path) or open(path, "w").write("{}")}
    assert not run.exists()
    assert run.prepare(SETTINGS, files=files) == "new"
    assert written == [run.file("vocab.json")] and run.read() == SETTINGS
    assert run.prepare(SETTINGS, files=files) == "resume" and len(written) == 1  # files only for a new run
    other = {**SETTINGS, "config": {**SETTINGS["config"], "hidden_size": 32, "cell": "gru"}, "level": "char"}
    with pytest.raises(SettingsMismatch) as err:
        run.prepare(other)
    assert str(err.value) == (
        f"{run.path} holds a run with other settings: config.cell: saved \"lstm\", now \"gru\"; "
        "config.hidden_size: saved 16, now 32; level: saved (not set), now \"char\"; "
        "choose another --run to start afresh")
    assert run.read() == SETTINGS  # untouched


def test_may_change_updates_the_saved_settings(tmp_path):
    run = RunDir(tmp_path / "r")
    run.prepare(SETTINGS)
    more = {**SETTINGS, "config": {**SETTINGS["config"], "max_max_epoch": 5}}
    with pytest.raises(SettingsMismatch, match="config.max_max_epoch: saved 2, now 5"):
        run.prepare(more)
    assert run.prepare(more, may_change=("config.max_max_epoch",)) == "resume"
    assert run.read()["config"]["max_max_epoch"] == 5
    assert not [n for n in os.listdir(run.path) if n.startswith(".config-")]  # no temp files left


def test_a_start_killed_before_config_json_starts_afresh(tmp_path):
    run = RunDir(tmp_path / "r")
    os.makedirs(run.path)
    with open(run.file("vocab.json"), "w") as f:
        f.write("half")
    with pytest.raises(ValueError, match="not a tfseq run"):
        run.read()
    assert run.prepare(SETTINGS, files={"vocab.json": lambda p: open(p, "w").write("full")}) == "new"
    assert open(run.file("vocab.json")).read() == "full"
    assert json.load(open(run.file("config.json"))) == SETTINGS


def test_completed_epochs_from_the_latest_checkpoint(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.completed_epochs() == 0 and run.latest_checkpoint() is None
    epoch = tf.Variable(0, dtype=tf.int64)  # what Trainer checkpoints under the name "epoch"
    keeper = CheckpointKeeper(run.checkpoint_dir, {"epoch": epoch})
    keeper.save(10)
    epoch.assign(3)
    keeper.save(20)
    assert run.completed_epochs() == 3 and run.latest_checkpoint().endswith("ckpt-20/ckpt")


def test_completed_epochs_reads_what_the_trainer_checkpoints(tmp_path):
    """The key read above is the one Trainer writes: 2 epochs trained -> 2 completed."""
    import keras

    from tfseq.train import Trainer

    class Tiny:
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

        def steps_per_epoch(self):
            return 1

        def train_batches(self, start):
            return [tf.ones([2, 1])][start:]

        def loss(self, batch, training):
            err = tf.reduce_sum(self.model(batch) ** 2)
            return err, {"loss_sum": err, "count": 2}

    run = RunDir(tmp_path / "r")
    Trainer(Tiny(), keras.optimizers.SGD(0.01), 2, checkpoint_dir=run.checkpoint_dir, jit_compile=False).fit()
    assert run.completed_epochs() == 2


def test_differences_and_bad_path():
    assert differences({"a": {"b": 1}, "c": [1, 2]}, {"a": {"b": 1}, "c": [1, 3]}) == ["c: saved [1, 2], now [1, 3]"]
    with pytest.raises(ValueError, match="path must be a non-empty path, got ''"):
        RunDir("")
