"""``tfseq translate``: one-line errors with exit 2; resume after SIGKILL equals an uninterrupted
run; its TensorBoard events (scalars, text, image, hparams), eval and decode; a finished run
says so and trains further with more epochs; ``--strategy mirrored --devices 2``."""

import os

import numpy as np
import pytest
from cli_runs import events, final_weights, kill_after_checkpoint, run_cli, run_process

SMALL = ["--no-progress", "--no-xla", "--eval-sentences", "20", "num_units=16", "num_layers=1",
         "encoder_type=uni", "batch_size=16", "epochs=2", "num_buckets=1", "tokenizer=word", "max_length=8",
         "dropout=0.1", "learning_rate=0.01"]


def toy_file(path, n=300, seed=0):
    """Anki layout (English first): the 'English' side is the reversed letter sequence."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        word = list(rng.choice(list("abcdefgh"), rng.integers(3, 7)))
        lines.append(f"{' '.join(word[::-1])}\t{' '.join(word)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_one_line_errors(tmp_path, capsys):
    data = toy_file(tmp_path / "toy.txt", n=40)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café\tcafé\n".encode("latin-1"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    (aligned / "train.en").write_text("a\nb\nc\n", encoding="utf-8")
    (aligned / "train.de").write_text("a\nb\n", encoding="utf-8")
    logdir = str(tmp_path / "logs")
    cases = [
        (["--data", str(tmp_path / "missing.txt"), "--src", "xx", "--tgt", "en"], "missing.txt: no such file"),
        (["--data", str(latin1), "--src", "xx", "--tgt", "en"], "latin1.txt: not UTF-8 text"),
        (["--data", str(empty), "--src", "xx", "--tgt", "en"], "empty.txt: file is empty"),
        (["--data", str(aligned), "--src", "en", "--tgt", "de"], "train.en has 3 lines but"),
        (["--data", data], "give the source and target languages (--src, --tgt)"),
        (["--data", data, "--src", "xx", "--tgt", "en", "units=3"], "unknown config key 'units'; known keys:"),
        (["--data", data, "--src", "xx", "--tgt", "en", "num_units=x"], "num_units='x': expected a int"),
        (["--data", data, "--src", "xx", "--tgt", "en", "--config", "huge"], "unknown config 'huge'; choose one of"),
        (["--data", data, "--src", "xx", "--tgt", "en", "--max-steps", "0"], "--max-steps must be a positive"),
        (["--data", "builtin:nope"], "unknown builtin corpus 'builtin:nope'"),
        (["--data", data, "--src", "xx", "--tgt", "en", "max_length=1", "--run", "r"],
         "no training pair has at most max_length=1 tokens"),
    ]
    for argv, message in cases:
        code, _, err = run_cli(capsys, "translate", "train", "--logdir", logdir, *argv)
        assert code == 2, (argv, err)
        assert err.startswith("tfseq translate: error: ") and err.count("\n") == 1 and message in err, (argv, err)
    code, _, err = run_cli(capsys, "translate", "eval", "--logdir", logdir, "--run", "nope")
    assert code == 2 and "nope: no such run" in err and err.count("\n") == 1


def test_resume_after_sigkill_then_events_eval_decode(tmp_path, capsys):
    data = toy_file(tmp_path / "toy.txt")
    logdir = str(tmp_path / "exp")
    train = ["translate", "train", "--data", data, "--src", "xx", "--tgt", "en", "--logdir", logdir,
             "--checkpoint-every", "5", *SMALL]
    kill_after_checkpoint(train + ["--run", "killed"], os.path.join(logdir, "killed"), 10)
    resumed = run_process(train + ["--run", "killed"])
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout + resumed.stderr
    code, out, err = run_cli(capsys, *train, "--run", "straight")  # uninterrupted, in this process
    assert code == 0, err
    a, b = final_weights(os.path.join(logdir, "killed")), final_weights(os.path.join(logdir, "straight"))
    assert a.keys() == b.keys() and len(a) > 5
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)

    # the uninterrupted run's output and TensorBoard events
    assert "Epoch 2," in out and "validation bleu" in out and "Test BLEU" in out and "tok:13a" in out
    run_dir = os.path.join(logdir, "straight")
    assert {"config.json", "src.tokenizer.json", "tgt.tokenizer.json", "model.keras", "train",
            "validation"} <= set(os.listdir(run_dir))
    train_acc, train_tags = events(os.path.join(run_dir, "train"))
    assert {"Training Loss", "Learning Rate", "tokens_per_second", "Perplexity"} <= train_tags["scalars"]
    assert "translations" in train_tags["text"] and "attention" in train_tags["images"]
    image = train_acc.Tensors("attention")[-1].tensor_proto.string_val
    assert image[2].startswith(b"\x89PNG")  # [width, height, png]
    valid_acc, valid_tags = events(os.path.join(run_dir, "validation"))
    assert {"Validation Loss", "Perplexity", "BLEU"} <= valid_tags["scalars"]
    assert len(valid_acc.Tensors("BLEU")) == 2
    assert "hparams" in events(run_dir)[1]

    # eval and decode the same run; a run trained on another language pair is refused
    code, out, err = run_cli(capsys, "translate", "eval", "--logdir", logdir, "--run", "straight", "--split", "valid",
                             "--beam-width", "3", "--length-penalty", "0.6")
    assert code == 0, err
    assert out.startswith("valid: BLEU ") and "(beam 3, length penalty 0.6, 30 sentences)" in out
    src_file, ref_file = tmp_path / "src.txt", tmp_path / "ref.txt"
    src_file.write_text("a b c\nd e f g\n", encoding="utf-8")
    ref_file.write_text("c b a\ng f e d\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "translate", "eval", "--logdir", logdir, "--run", "straight",
                             "--source-file", str(src_file), "--reference-file", str(ref_file))
    assert code == 0 and out.startswith("src.txt: BLEU ") and "(greedy, 2 sentences)" in out, err
    ref_file.write_text("c b a\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "translate", "eval", "--logdir", logdir, "--run", "straight",
                           "--source-file", str(src_file), "--reference-file", str(ref_file))
    assert code == 2 and "src.txt has 2 lines but" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "translate", "eval", "--logdir", logdir, "--run", "straight", "--src", "de")
    assert code == 2 and "translates xx->en, not de->en" in err
    code, out, err = run_cli(capsys, "translate", "decode", "--logdir", logdir, "--run", "straight", "a b c",
                             "h g", "--show-attention")
    lines = out.splitlines()
    assert code == 0 and "\t<- " in lines[1], err
    code, out, _ = run_cli(capsys, "translate", "decode", "--logdir", logdir, "--run", "straight", "a b c", "h g",
                           "--beam-width", "2")
    assert code == 0 and len(out.splitlines()) == 2

    # training the finished run again says it is complete and how to train further (no scoring);
    # other settings are refused, naming each key that differs; more epochs train it further
    code, out, _ = run_cli(capsys, *train, "--run", "straight")
    assert code == 0 and out.count("\n") == 1, out
    assert f"run {run_dir} is complete (2 of 2 epochs); nothing to train. To train further, raise the epochs on " \
           f"the same run (e.g. epochs=3); to evaluate or decode with it: tfseq translate eval|decode --logdir " \
           f"{logdir} --run straight" in out
    code, _, err = run_cli(capsys, *train, "num_units=32", "dropout=0.2", "--run", "straight")
    assert code == 2 and err.count("\n") == 1, err
    assert f"{run_dir} holds a run with other settings: config.dropout: saved 0.1, now 0.2; config.num_units: " \
           "saved 16, now 32; choose another --run to start afresh" in err, err
    code, out, err = run_cli(capsys, *train, "epochs=3", "--run", "straight")
    assert code == 0, err
    assert "Epoch 3," in out and "Epoch 2," not in out and "Test BLEU" in out
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        assert '"epochs": 3' in f.read()


def test_train_mirrored_two_devices_then_resume_without_strategy(tmp_path, capsys):
    """``--strategy mirrored --devices 2`` (two logical CPUs: a fresh process) stopped after a few
    steps, then the same run resumed in this process without a strategy, from that checkpoint."""
    data = toy_file(tmp_path / "toy.txt", n=120)
    logdir = str(tmp_path / "exp")
    train = ["translate", "train", "--data", data, "--src", "xx", "--tgt", "en", "--logdir", logdir, "--run", "m",
             *SMALL]
    proc = run_process([*train, "--strategy", "mirrored", "--devices", "2", "--max-steps", "3"], cpu_only=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 epochs, 2 replicas (mirrored))" in proc.stdout
    assert "stopped at step 3; run the same command to resume" in proc.stdout
    code, out, err = run_cli(capsys, *train)
    assert code == 0, err
    assert "resumed from" in out + err and "Epoch 2," in out and "Test BLEU" in out


@pytest.mark.parametrize("argv, message", [
    (["--devices", "2"], "devices is for the mirrored strategy only, got devices=2 with 'default'"),
    (["--strategy", "mirrored", "--devices", "0"], "devices must be a positive integer, got 0"),
    (["--strategy", "multi-worker"], "the multi-worker strategy needs the TF_CONFIG environment variable"),
])
def test_bad_strategy_options_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code, _, err = run_cli(capsys, "translate", "train", "--logdir", str(tmp_path), "--run", "r", *argv)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert err.startswith("tfseq translate: error: ")
