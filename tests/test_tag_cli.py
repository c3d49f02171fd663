"""``tfseq tag``: one-line errors with exit 2 and nothing written; resume after SIGKILL equals an
uninterrupted run; its TensorBoard events (scalars, text, hparams); eval and predict."""

import os

import pytest
import tensorflow as tf
from cli_runs import (
    assert_model_file_holds_the_averages,
    assert_same_checkpoints,
    events,
    kill_after_checkpoint,
    run_cli,
    run_process,
)

from tfseq.data.slots import load_slots

SMALL = ["--no-progress", "--no-xla", "num_units=12", "embedding_size=8", "batch_size=16", "epochs=2",
         "num_buckets=2", "dropout=0.1", "word_dropout=0.1", "learning_rate=0.01"]


def slice_dir(tmp_path, train=96, valid=24, test=24):
    """The first utterances of the shipped SNIPS slice, as a seq.in/seq.out/label directory."""
    corpus = load_slots("builtin:snips")
    root = tmp_path / "snips-small"
    for split, count in (("train", train), ("valid", valid), ("test", test)):
        folder = root / split
        folder.mkdir(parents=True)
        utterances = corpus.split(split)[:count]
        (folder / "seq.in").write_text("".join(" ".join(u.words) + "\n" for u in utterances), encoding="utf-8")
        (folder / "seq.out").write_text("".join(" ".join(u.tags) + "\n" for u in utterances), encoding="utf-8")
        (folder / "label").write_text("".join(u.intent + "\n" for u in utterances), encoding="utf-8")
    return root


def _broken(tmp_path, name, file, text):
    root = slice_dir(tmp_path / name, 4, 2, 2)
    (root / "train" / file).write_text(text, encoding="utf-8")
    return str(root)


def test_one_line_errors_and_nothing_written(tmp_path, capsys):
    cases = [
        (_broken(tmp_path, "tokens", "seq.out", "O\nO\nO\nO\n"),
         "train/seq.out: line 1 has 1 tags but train/seq.in line 1 has"),
        (_broken(tmp_path, "lines", "seq.out", "O\n"), "train/seq.out: has 1 lines but train/seq.in has 4"),
        (_broken(tmp_path, "bio", "seq.in", "a b\nc\nd\ne\n"), "train/seq.out: line 1 has"),
        (_broken(tmp_path, "labels", "label", "x\ny\n"), "train/label: has 2 lines but train/seq.in has 4"),
        (_broken(tmp_path, "empty", "seq.in", ""), "train/seq.in: file is empty"),
        (str(tmp_path / "missing"), "missing: no such directory"),
    ]
    bio = slice_dir(tmp_path / "biotag", 2, 1, 1)
    (bio / "train" / "seq.in").write_text("a b\nc\n", encoding="utf-8")
    (bio / "train" / "seq.out").write_text("O B-x\nPER\n", encoding="utf-8")
    (bio / "train" / "label").write_text("x\ny\n", encoding="utf-8")
    cases.append((str(bio), "train/seq.out: line 2: tag 'PER' is not BIO"))
    good = str(slice_dir(tmp_path / "good", 8, 2, 2))
    logdir = tmp_path / "logs"
    for data, message in cases:
        code, out, err = run_cli(capsys, "tag", "train", "--logdir", str(logdir), "--data", data, "--run", "r")
        assert code == 2 and err.startswith("tfseq tag: error: ") and err.count("\n") == 1, (data, err)
        assert message in err, (message, err)
        assert not logdir.exists() and out == ""
    for argv, message in [(["units=3"], "unknown config key 'units'; known keys:"),
                          (["num_units=x"], "num_units='x': expected a int"),
                          (["--config", "huge"], "unknown config 'huge'; choose one of tiny, atis, snips"),
                          (["variant=x"], "TagConfig.variant must be one of joint, slot_gated, got 'x'"),
                          (["--max-steps", "0"], "--max-steps must be a positive integer, got 0")]:
        code, _, err = run_cli(capsys, "tag", "train", "--logdir", str(logdir), "--data", good, "--run", "r", *argv)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)
        assert not logdir.exists()
    for command in (["eval"], ["predict", "a b"]):
        code, _, err = run_cli(capsys, "tag", *command, "--logdir", str(logdir), "--run", "nope")
        assert code == 2 and "nope: no such run" in err and err.count("\n") == 1, err


def test_resume_after_sigkill_then_events_eval_predict(tmp_path, capsys):
    data = str(slice_dir(tmp_path))
    logdir = str(tmp_path / "exp")
    train = ["tag", "train", "--data", data, "--logdir", logdir, "--checkpoint-every", "3", *SMALL]
    kill_after_checkpoint(train + ["--run", "killed"], os.path.join(logdir, "killed"), 4)
    resumed = run_process(train + ["--run", "killed"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr
    code, out, err = run_cli(capsys, *train, "--run", "straight")  # uninterrupted, in this process
    assert code == 0, err
    assert_same_checkpoints(os.path.join(logdir, "killed"), os.path.join(logdir, "straight"))

    # the uninterrupted run's output and TensorBoard events
    assert "Epoch 2," in out and "validation slot f1" in out and "Test slot F1 " in out
    assert "(24 utterances)" in out and "a multi-intent label ('a#b') is one label" in out
    run_dir = os.path.join(logdir, "straight")
    assert {"config.json", "vocab.json", "model.keras", "train", "validation", "test"} <= set(os.listdir(run_dir))
    _, train_tags = events(os.path.join(run_dir, "train"))
    assert {"Training Loss", "Learning Rate", "Gradient Norm", "words_per_second"} <= train_tags["scalars"]
    assert {"slot_f1_by_type", "tagged_examples", "scoring"} <= train_tags["text"]
    acc, _ = events(os.path.join(run_dir, "train"))
    table = acc.Tensors("slot_f1_by_type")[-1].tensor_proto.string_val[0].decode()
    assert table.startswith("| slot type | precision | recall | F1 | gold chunks |")
    valid_acc, valid_tags = events(os.path.join(run_dir, "validation"))
    assert {"Validation Loss", "Slot F1", "Intent Accuracy", "Sentence Accuracy"} <= valid_tags["scalars"]
    assert len(valid_acc.Tensors("Slot F1")) == 2
    _, test_tags = events(os.path.join(run_dir, "test"))
    assert {"Slot F1", "Intent Accuracy", "Sentence Accuracy"} <= test_tags["scalars"]
    assert "tagged_examples" in test_tags["text"]
    assert "hparams" in events(run_dir)[1]

    # eval and predict
    code, out, err = run_cli(capsys, "tag", "eval", "--logdir", logdir, "--run", "straight", "--split", "valid")
    assert code == 0 and out.startswith("valid: slot F1 ") and "(24 utterances)" in out, err
    sentence = "add  this song to my playlist"
    code, out, err = run_cli(capsys, "tag", "predict", "--logdir", logdir, "--run", "straight", sentence, "play jazz")
    assert code == 0, err
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 2
    lines = blocks[0].splitlines()
    assert [line.split()[0] for line in lines[:-1]] == sentence.split()
    assert all(line.split()[1] == "O" or line.split()[1][:2] in ("B-", "I-") for line in lines[:-1])
    with open(os.path.join(data, "train", "label"), encoding="utf-8") as f:
        assert lines[-1].startswith("intent: ") and lines[-1].split()[1] in f.read().split()
    for text in ("", "   "):
        code, out, err = run_cli(capsys, "tag", "predict", "--logdir", logdir, "--run", "straight", "a b", text)
        assert code == 2 and out == "" and f"sentence 2 is empty: {text!r}" in err and err.count("\n") == 1

    # a finished run says so; more epochs train it further
    code, out, _ = run_cli(capsys, *train, "--run", "straight")
    assert code == 0 and "is complete (2 of 2 epochs)" in out and "tfseq tag eval|predict" in out
    code, _, err = run_cli(capsys, *train, "num_units=16", "--run", "straight")
    assert code == 2 and "config.num_units: saved 12, now 16" in err


@pytest.mark.parametrize("overrides", [["variant=joint"], ["variant=slot_gated"],
                                       ["variant=slot_gated", "token_intent=true", "crf=true"]])
def test_default_data_trains_a_few_steps(tmp_path, capsys, overrides):
    code, out, err = run_cli(capsys, "tag", "train", "--logdir", str(tmp_path), "--run", "r", "--max-steps", "2",
                             "--no-progress", "--no-xla", "num_units=8", "embedding_size=8", *overrides)
    assert code == 0, err
    assert "snips: 3000 train / 700 valid / 700 test utterances" in out and "stopped at step 2" in out


def test_resume_with_characters_decay_and_best_epoch(tmp_path, capsys):
    data = str(slice_dir(tmp_path, train=64, valid=16, test=16))
    logdir = str(tmp_path / "exp")
    options = ["epochs=3", "char_embedding_size=4", "char_filters=6", "max_chars=8", "intent_pooling=max",
               "learning_rate_decay=0.5", "select_best=true", "crf=true", "weight_average=0.9"]
    train = ["tag", "train", "--data", data, "--logdir", logdir, "--checkpoint-every", "3", *SMALL, *options]
    kill_after_checkpoint(train + ["--run", "killed"], os.path.join(logdir, "killed"), 4)
    resumed = run_process(train + ["--run", "killed"])
    assert resumed.returncode == 0, resumed.stderr
    code, out, err = run_cli(capsys, *train, "--run", "straight")
    assert code == 0, err
    # the resumed run continued the same weight average
    assert_same_checkpoints(os.path.join(logdir, "killed"), os.path.join(logdir, "straight"),
                            ("model_variables/", "weight_average/"))
    assert "character CNN 6x3" in out and "kept the weights of epoch " in out
    kept = int(out.split("kept the weights of epoch ")[1].split()[0])
    valid_acc, _ = events(os.path.join(logdir, "straight", "validation"))
    learning_rates = [float(tf.make_ndarray(e.tensor_proto))
                      for e in events(os.path.join(logdir, "straight", "train"))[0].Tensors("Learning Rate")]
    assert learning_rates[0] == pytest.approx(0.01) and learning_rates[-1] == pytest.approx(0.0025)
    f1 = [float(tf.make_ndarray(e.tensor_proto)) for e in valid_acc.Tensors("Slot F1")]
    intent = [float(tf.make_ndarray(e.tensor_proto)) for e in valid_acc.Tensors("Intent Accuracy")]
    scores = [f + i for f, i in zip(f1, intent)]
    assert len(scores) == 3 and scores[kept - 1] == max(scores) and max(scores) not in scores[:kept - 1]
    # eval reads the kept weights: its validation scores are that epoch's
    code, out, err = run_cli(capsys, "tag", "eval", "--logdir", logdir, "--run", "straight", "--split", "valid")
    assert code == 0, err
    assert f"slot F1 {f1[kept - 1]:.2f}" in out and f"intent accuracy {intent[kept - 1]:.2f} %" in out


def test_weight_average_without_best_epoch_ends_with_the_averages(tmp_path, capsys):
    data = str(slice_dir(tmp_path, train=48, valid=8, test=8))
    logdir = str(tmp_path / "exp")
    code, out, err = run_cli(capsys, "tag", "train", "--data", data, "--logdir", logdir, "--run", "r", *SMALL,
                             "epochs=1", "weight_average=0.9")
    assert code == 0, err
    assert "the model's weights are the average of its training (decay 0.9)" in out
    assert_model_file_holds_the_averages(os.path.join(logdir, "r"))
    code, _, err = run_cli(capsys, "tag", "train", "--data", data, "--logdir", logdir, "--run", "bad", *SMALL,
                           "weight_average=1.0")
    assert code == 2 and "TagConfig.weight_average must be a number in (0, 1)" in err and err.count("\n") == 1
    assert not os.path.exists(os.path.join(logdir, "bad"))


def test_ensemble_resumes_after_sigkill_and_eval_predict_read_it(tmp_path, capsys):
    import keras

    from tfseq.demos.tag.model import TaggerEnsemble

    data = str(slice_dir(tmp_path, train=48, valid=8, test=16))
    logdir = str(tmp_path / "exp")
    train = ["tag", "train", "--data", data, "--logdir", logdir, "--checkpoint-every", "2", *SMALL, "members=2",
             "crf=true", "select_best=true"]
    kill_after_checkpoint(train + ["--run", "killed"], os.path.join(logdir, "killed"), 2)
    resumed = run_process(train + ["--run", "killed"])
    assert resumed.returncode == 0, resumed.stderr
    code, out, err = run_cli(capsys, *train, "--run", "straight")
    assert code == 0, err
    assert "an ensemble of 2 trained together" in out
    assert_same_checkpoints(os.path.join(logdir, "killed"), os.path.join(logdir, "straight"), ("model_variables/",))
    test_line = out.split("Test ")[1].splitlines()[0]
    assert test_line in resumed.stdout
    code, out, err = run_cli(capsys, "tag", "eval", "--logdir", logdir, "--run", "straight", "--split", "test")
    assert code == 0 and out.startswith(f"test: {test_line}"), (out, err)
    code, out, err = run_cli(capsys, "tag", "predict", "--logdir", logdir, "--run", "straight", "play some jazz")
    assert code == 0 and out.splitlines()[0].split()[0] == "play" and "intent: " in out, (out, err)
    saved = keras.saving.load_model(os.path.join(logdir, "straight", "model.keras"))
    assert isinstance(saved, TaggerEnsemble) and len(saved.members()) == 2
