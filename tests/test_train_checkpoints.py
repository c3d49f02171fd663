"""CheckpointKeeper: atomic writes, the latest pointer, pruning, failed writes, RNG state."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq.train import CheckpointKeeper, training_trackables


def test_save_restore_latest_and_prune(tmp_path):
    var = tf.Variable([1.0, 2.0])
    keeper = CheckpointKeeper(tmp_path, {"v": var}, max_to_keep=2)
    assert keeper.latest() is None and keeper.restore() is None
    for step in (5, 10, 15):
        var.assign([float(step), 0.0])
        keeper.save(step)
    assert sorted(n for n in os.listdir(tmp_path) if not n.startswith(".")) == ["ckpt-10", "ckpt-15", "latest"]
    assert keeper.latest() == os.path.join(tmp_path, "ckpt-15", "ckpt")
    var.assign([0.0, 0.0])
    assert keeper.restore() == keeper.latest()
    np.testing.assert_array_equal(var.numpy(), [15.0, 0.0])
    keeper.restore(os.path.join(tmp_path, "ckpt-10", "ckpt"))
    np.testing.assert_array_equal(var.numpy(), [10.0, 0.0])


def test_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    var = tf.Variable(1.0)
    keeper = CheckpointKeeper(tmp_path, {"v": var})
    keeper.save(1)

    def die(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(keeper.checkpoint, "write", die)
    var.assign(2.0)
    with pytest.raises(OSError, match="disk full"):
        keeper.save(2)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1", "latest"]  # no half-written directory
    var.assign(0.0)
    keeper.restore()
    assert var.numpy() == 1.0


def test_leftovers_of_a_killed_write_are_ignored_and_cleaned(tmp_path):
    var = tf.Variable(3.0)
    keeper = CheckpointKeeper(tmp_path, {"v": var})
    keeper.save(3)
    os.makedirs(tmp_path / ".ckpt-4-abc")  # a write killed before its rename
    (tmp_path / ".ckpt-4-abc" / "ckpt.index").write_bytes(b"partial")
    assert keeper.latest().endswith(os.path.join("ckpt-3", "ckpt"))
    keeper.save(5)
    assert not any(n.startswith(".ckpt-") for n in os.listdir(tmp_path))


def test_dangling_pointer_means_no_checkpoint(tmp_path):
    keeper = CheckpointKeeper(tmp_path, {"v": tf.Variable(1.0)})
    (tmp_path / "latest").write_text("ckpt-9\n")
    assert keeper.latest() is None


def test_trackables_include_dropout_rng_state(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5, seed=1), keras.layers.Dense(2)])
    optimizer = keras.optimizers.SGD(0.1)
    keeper = CheckpointKeeper(tmp_path, training_trackables(model, optimizer))
    keeper.save(0)
    x = tf.ones([3, 4])
    first = model(x, training=True).numpy()
    keeper.restore()
    np.testing.assert_array_equal(model(x, training=True).numpy(), first)  # same mask again
    assert not np.array_equal(model(x, training=True).numpy(), first)


def test_bad_max_to_keep(tmp_path):
    with pytest.raises(ValueError, match="max_to_keep must be a positive integer, got 0"):
        CheckpointKeeper(tmp_path, {}, max_to_keep=0)
