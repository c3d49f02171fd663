"""``tfseq classify``: one-line errors with exit 2 and nothing written; resume after SIGKILL
equals an uninterrupted run (word dropout included); its TensorBoard events (scalars,
confusion-matrix image, misclassified text, PR curve, hparams, Projector files); eval and
predict; the best validation epoch kept; a ``tfds:`` source read through TFDS' mock data."""

import collections
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from cli_runs import (
    assert_model_file_holds_the_averages,
    events,
    final_weights,
    kill_after_checkpoint,
    run_cli,
    run_process,
)

from tfseq.data.sentiment import load_sentiment

SMALL = ["--no-progress", "--no-xla", "embedding_dim=8", "num_units=8", "batch_size=128", "max_length=16",
         "num_buckets=2", "epochs=2", "min_count=3", "learning_rate=0.01"]


def test_one_line_errors_write_nothing(tmp_path, capsys):
    bad_label = tmp_path / "bad_label.txt"
    bad_label.write_text("1 fine\n0 dull\n7 odd one\n", encoding="utf-8")
    no_text = tmp_path / "no_text.txt"
    no_text.write_text("1 fine\n0\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the 0.1 0.2 0.3\n", encoding="utf-8")
    logdir = tmp_path / "logs"
    cases = [
        (["--data", str(bad_label)], "bad_label.txt: line 3: label must be 0 or 1, got '7'"),
        (["--data", str(no_text)], "no_text.txt: line 2: no text"),
        (["--data", str(empty)], "empty.txt: file is empty"),
        (["--data", str(tmp_path / "missing")], "missing: no such file"),
        (["--data", "builtin:sst"], "unknown builtin corpus 'builtin:sst'"),
        (["units=3"], "unknown config key 'units'; known keys:"),
        (["pooling=sum"], "ClassifyConfig.pooling must be one of last, mean, max, attention, got 'sum'"),
        (["--config", "huge"], "unknown config 'huge'; choose one of tiny, sst2, mr"),
        (["--max-steps", "0"], "--max-steps must be a positive integer, got 0"),
        ([f"vectors={vectors}"], "vectors.txt: line 1: expected a word and 64 numbers, got 3 numbers"),
        ([f"vectors={tmp_path / 'nope.vec'}"], "nope.vec: no such file"),
    ]
    for argv, message in cases:
        code, _, err = run_cli(capsys, "classify", "train", "--logdir", str(logdir), "--run", "r", *argv)
        assert code == 2, (argv, err)
        assert err.startswith("tfseq classify: error: ") and err.count("\n") == 1 and message in err, (argv, err)
        assert not logdir.exists(), argv
    for command in (["eval"], ["predict", "good"]):
        code, _, err = run_cli(capsys, "classify", *command, "--logdir", str(logdir), "--run", "nope")
        assert code == 2 and "nope: no such run" in err and err.count("\n") == 1, err
    code, _, err = run_cli(capsys, "classify", "predict", "--run", "nope", "fine", " ")
    assert code == 2 and "predict: empty text ' '" in err and err.count("\n") == 1, err


def test_resume_after_sigkill_then_events_eval_predict(tmp_path, capsys):
    logdir = str(tmp_path / "exp")
    train = ["classify", "train", "--logdir", logdir, "--checkpoint-every", "10", *SMALL, "word_dropout=0.1"]
    left = kill_after_checkpoint(train + ["--run", "killed"], os.path.join(logdir, "killed"), 10, timeout=400)
    assert 10 <= left < 78, left  # killed mid-run, after a checkpoint (2 epochs of 39 steps)
    resumed = run_process(train + ["--run", "killed"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr
    code, out, err = run_cli(capsys, *train, "--run", "straight")  # uninterrupted, in this process
    assert code == 0, err
    a, b = final_weights(os.path.join(logdir, "killed")), final_weights(os.path.join(logdir, "straight"))
    assert a.keys() == b.keys() and len(a) >= 5
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)

    assert "mr: 4800/600/600 train/valid/test sentences (shuffled with default_rng(0)" in out
    assert "Epoch 2," in out and "validation accuracy" in out and "validation macro f1" in out
    assert "test: accuracy " in out
    run_dir = os.path.join(logdir, "straight")
    assert {"config.json", "vocab.json", "model.keras", "train", "validation", "test"} <= set(os.listdir(run_dir))
    train_acc, train_tags = events(os.path.join(run_dir, "train"))
    assert {"Training Loss", "Learning Rate", "Gradient Norm", "sentences_per_second"} <= train_tags["scalars"]
    assert "misclassified" in train_tags["text"] and "confusion_matrix" in train_tags["images"]
    assert train_acc.Tensors("confusion_matrix")[-1].tensor_proto.string_val[2].startswith(b"\x89PNG")
    table = train_acc.Tensors("misclassified")[-1].tensor_proto.string_val[0].decode()
    assert table.startswith("| sentence | true | predicted (p) |")
    valid_acc, valid_tags = events(os.path.join(run_dir, "validation"))
    assert {"Validation Loss", "Accuracy", "Macro F1"} <= valid_tags["scalars"]
    assert len(valid_acc.Tensors("Accuracy")) == 2
    test_acc, test_tags = events(os.path.join(run_dir, "test"))
    assert {"Test Accuracy", "Test Macro F1"} <= test_tags["scalars"]
    assert test_tags["pr_curves"] == {"pr_curve_test/pr_curves"}
    pr = tf.make_ndarray(test_acc.Tensors("pr_curve_test/pr_curves")[-1].tensor_proto)
    positives = sum(label for _, label in load_sentiment("builtin:mr").test)
    assert pr.shape == (6, 101) and pr[0, 0] == positives and pr[0, 0] + pr[1, 0] == 600  # TP, FP at threshold 0
    assert "hparams" in events(run_dir)[1]

    # the Projector's files: config, one word per row, the embedding in its checkpoint
    projector_dir = os.path.join(run_dir, "train")
    with open(os.path.join(projector_dir, "projector_config.pbtxt"), encoding="utf-8") as f:
        config = f.read()
    assert 'metadata_path: "metadata.tsv"' in config and "word_embedding" in config
    with open(os.path.join(projector_dir, "metadata.tsv"), encoding="utf-8") as f:
        words = f.read().splitlines()
    assert "model_checkpoint_path" not in config  # the Projector opens the directory's latest checkpoint
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(projector_dir))
    matrix = reader.get_tensor("word_embedding/.ATTRIBUTES/VARIABLE_VALUE")
    assert words[:2] == ["<pad>", "<unk>"] and matrix.shape == (len(words), 8)

    code, out, err = run_cli(capsys, "classify", "eval", "--run", run_dir, "--split", "valid")
    assert code == 0, err
    assert out.startswith("mr valid: accuracy ") and "(600 sentences; shuffled with default_rng(0)" in out
    code, out, err = run_cli(capsys, "classify", "predict", "--logdir", logdir, "--run", "straight",
                             "a gorgeous, witty film", "dull and tedious")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].endswith("\ta gorgeous, witty film")
    for line in lines:
        label, probability, _ = line.split("\t")
        assert label in ("positive", "negative") and 0.5 <= float(probability) <= 1.0

    # a finished run says so; more epochs train it further
    code, out, _ = run_cli(capsys, *train, "--run", "straight")
    assert code == 0 and "is complete (2 of 2 epochs); nothing to train" in out
    code, _, err = run_cli(capsys, *train, "num_units=16", "--run", "straight")
    assert code == 2 and "config.num_units: saved 8, now 16" in err and err.count("\n") == 1


@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_pretrained_frozen_vectors_stay_put(tmp_path, capsys, pooling):
    counts = collections.Counter(w for tokens, _ in load_sentiment("builtin:mr").train for w in tokens)
    words = [w for w, _ in counts.most_common(50)]  # all in the vocabulary (min_count=3)
    rng = np.random.default_rng(0)
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"{len(words)} 8\n" + "".join(
        f"{w} {' '.join(f'{v:.4f}' for v in rng.normal(size=8))}\n" for w in words), encoding="utf-8")
    logdir = str(tmp_path / "exp")
    code, out, err = run_cli(capsys, "classify", "train", "--logdir", logdir, "--run", "r", *SMALL, "epochs=1",
                             f"pooling={pooling}", f"vectors={vectors}", "freeze_embeddings=true", "--max-steps", "5")
    assert code == 0, err
    assert f"{len(words)} of " in out and "words from" in out
    weights = final_weights(os.path.join(logdir, "r"))
    table = next(v for v in weights.values() if v.ndim == 2 and v.shape[1] == 8 and v.shape[0] > 100)
    with open(os.path.join(logdir, "r", "vocab.json"), encoding="utf-8") as f:
        tokens = json.load(f)["tokens"]
    row = tokens.index(words[0])
    expected = np.asarray(vectors.read_text().splitlines()[1].split()[1:], np.float32)
    np.testing.assert_allclose(table[row], expected, atol=1e-6)  # frozen: unchanged after training


def test_tfds_glue_sst2_through_tfds_mock_data(tmp_path, capsys):
    """``--data tfds:glue/sst2`` reads TFDS' GLUE SST-2 through the real builder and
    ``as_dataset`` path, with ``tfds.testing.mock_data`` generating its examples (no download):
    train and validation splits, no labelled test split, so the validation split is scored."""
    import tensorflow_datasets as tfds

    logdir, data_dir = str(tmp_path / "exp"), str(tmp_path / "tfds")  # an empty TFDS data directory
    train = ["classify", "train", "--data", "tfds:glue/sst2", "--data-dir", data_dir, "--logdir", logdir,
             "--run", "r", "--no-progress", "--no-xla", "embedding_dim=8", "num_units=8", "batch_size=8",
             "max_length=16", "num_buckets=1", "epochs=1", "min_count=1"]
    with tfds.testing.mock_data(num_examples=24):
        expected = tfds.as_numpy(tfds.builder("glue/sst2", data_dir=data_dir).as_dataset(split="validation"))
        positives = sum(int(row["label"]) for row in expected)
        code, out, err = run_cli(capsys, *train)
        assert code == 0, err
        assert "glue-sst2: 24/24/0 train/valid/test sentences (official; test labels hidden)" in out
        assert "3 steps/epoch, 1 epochs" in out and "validation: accuracy " in out and "test: " not in out
        run_dir = os.path.join(logdir, "r")
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
            settings = json.load(f)
        assert settings["data"] == "tfds:glue/sst2" and settings["data_dir"] == data_dir
        assert settings["split"] == "official; test labels hidden"
        test_acc, test_tags = events(os.path.join(run_dir, "test"))
        assert {"Validation Accuracy", "Validation Macro F1"} <= test_tags["scalars"]
        pr = tf.make_ndarray(test_acc.Tensors("pr_curve_validation/pr_curves")[-1].tensor_proto)
        assert pr[0, 0] == positives and pr[0, 0] + pr[1, 0] == 24  # TP, FP at threshold 0

        code, out, err = run_cli(capsys, "classify", "eval", "--run", run_dir, "--split", "valid")
        assert code == 0, err
        assert out.startswith("glue-sst2 valid: accuracy ") and "(24 sentences; official" in out
        code, _, err = run_cli(capsys, "classify", "eval", "--run", run_dir, "--split", "test")
        assert code == 2 and "tfds:glue/sst2 has no test split" in err and err.count("\n") == 1, err


def test_select_best_keeps_the_best_validation_epoch(tmp_path, capsys):
    logdir = str(tmp_path / "exp")
    code, out, err = run_cli(capsys, "classify", "train", "--logdir", logdir, "--run", "best", *SMALL, "epochs=4",
                             "learning_rate=0.05", "select_best=true")
    assert code == 0, err
    accuracies = [float(a) for a in re.findall(r"validation accuracy ([\d.]+)", out)]
    assert len(accuracies) == 4, out
    best = 1 + accuracies.index(max(accuracies))  # the first epoch with the best accuracy
    assert best < 4, accuracies  # a run whose last epoch is not its best
    assert f"kept the weights of epoch {best} of 4 (best validation accuracy)" in out
    kept_test = re.search(r"^test: accuracy ([\d.]+)%", out, re.MULTILINE)[1]
    # the run's last checkpoint holds the kept weights: eval scores that epoch again
    code, out, err = run_cli(capsys, "classify", "eval", "--run", os.path.join(logdir, "best"), "--split", "valid")
    assert code == 0, err
    assert abs(float(re.search(r"accuracy ([\d.]+)%", out)[1]) / 100 - max(accuracies)) < 1e-3, out
    code, out, err = run_cli(capsys, "classify", "eval", "--run", os.path.join(logdir, "best"), "--split", "test")
    assert code == 0 and f"accuracy {kept_test}%" in out, out


def test_weight_average_ends_the_run_with_the_averages(tmp_path, capsys):
    logdir = str(tmp_path / "exp")
    code, out, err = run_cli(capsys, "classify", "train", "--logdir", logdir, "--run", "r", *SMALL, "epochs=1",
                             "weight_average=0.95")
    assert code == 0, err
    assert "the model's weights are the average of its training (decay 0.95)" in out
    assert_model_file_holds_the_averages(os.path.join(logdir, "r"))
    # eval reads the averaged weights: it scores validation as the epoch's (averaged) validation did
    accuracy = float(re.search(r"validation accuracy ([\d.]+)", out)[1])
    code, out, err = run_cli(capsys, "classify", "eval", "--run", os.path.join(logdir, "r"), "--split", "valid")
    assert code == 0, err
    assert abs(float(re.search(r"accuracy ([\d.]+)%", out)[1]) / 100 - accuracy) < 1e-3, out
    code, _, err = run_cli(capsys, "classify", "train", "--logdir", logdir, "--run", "bad", *SMALL,
                           "weight_average=0")
    assert code == 2 and "ClassifyConfig.weight_average must be a number in (0, 1)" in err and err.count("\n") == 1
