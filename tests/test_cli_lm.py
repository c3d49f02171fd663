"""``tfseq lm``: one-line errors with exit 2, train -> eval -> sample, resume after SIGKILL and SIGTERM."""

import os
import re

import keras
import numpy as np
import pytest
from cli_runs import (
    checkpoint_step,
    final_weights,
    kill_after_checkpoint,
    run_cli,
    run_process,
    terminate_after_checkpoint,
)

from tfseq.cli.main import main
from tfseq.demos.lm import LanguageModel

TINY = ["--config", "test", "hidden_size=16", "num_steps=8", "batch_size=8", "max_max_epoch=2"]


def names_file(path, n=600, seed=0):
    """Made-up names, one per line."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "ri", "mo", "an", "el", "to", "su", "na", "li", "be"]
    lines = ["".join(rng.choice(syllables, rng.integers(2, 4))) for _ in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["hiden_size=3"], "unknown config key 'hiden_size'; known keys:"),
        (["hidden_size=abc"], "hidden_size='abc': expected a int"),
        (["keep_prob=0"], r"keep_prob must be in (0, 1], got 0.0"),
        (["hidden_size"], "override must look like key=value, got 'hidden_size'"),
        (["--config", "huge"], "unknown config 'huge'; choose one of"),
        (["--max-steps", "0"], "--max-steps must be a positive integer, got 0"),
    ],
)
def test_config_errors(tmp_path, capsys, extra, message):
    data = names_file(tmp_path / "names.txt", n=50)
    code, out, err = run_cli(capsys, "lm", "train", "--data", data, "--logdir", str(tmp_path / "x"), *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tfseq lm: error: ") and message in err, err
    assert "Traceback" not in err


def test_data_errors(tmp_path, capsys):
    logdir = str(tmp_path / "logs")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café\nnaïve\n".encode("latin-1"))
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("ab\n", encoding="utf-8")
    cases = [
        (str(tmp_path / "missing.txt"), "missing.txt: no such file"),
        (str(empty), "empty.txt: file is empty"),
        (str(latin1), "latin1.txt: not UTF-8 text"),
        ("tfds:no_such_dataset_xyz", "no_such_dataset_xyz"),
        (str(tiny), "too"),
    ]
    for source, message in cases:
        code, out, err = run_cli(capsys, "lm", "train", "--data", source, "--level", "char",
                                 "--logdir", logdir, *TINY)
        assert code == 2, (source, err)
        assert err.count("\n") == 1 and message in err, (source, err)


def test_eval_and_sample_need_an_existing_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "lm", "eval", "--logdir", str(tmp_path), "--run", "nope")
    assert code == 2 and "nope: no such run" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "lm", "sample", "--logdir", str(tmp_path), "--run", "nope")
    assert code == 2 and "no such run" in err


def test_train_eval_sample(tmp_path, capsys):
    data = names_file(tmp_path / "names.txt")
    logdir = str(tmp_path / "logdir" / "names")
    code, out, err = run_cli(capsys, "lm", "train", "--data", data, "--level", "char", "--logdir", logdir,
                             "--run", "r1", "--no-progress", *TINY)
    assert code == 0, err
    assert "Epoch 2, lr 0.5, train perplexity" in out
    assert "Test perplexity:" in out and "generated lines are novel, not in the corpus):" in out
    assert out.rstrip().endswith(f"tensorboard --logdir {os.path.dirname(logdir)}")
    run_dir = os.path.join(logdir, "r1")
    assert {"train", "validation", "checkpoints", "config.json", "vocab.json", "model.keras"} <= set(
        os.listdir(run_dir))
    assert isinstance(keras.saving.load_model(os.path.join(run_dir, "model.keras")), LanguageModel)

    code, out, err = run_cli(capsys, "lm", "eval", "--logdir", logdir, "--run", "r1")
    assert code == 0, err
    assert out.startswith("validation: perplexity ") and "\ntest: perplexity " in out
    test_ppl = float(out.split("test: perplexity ")[1].split(",")[0])
    assert 1.0 < test_ppl < 20.0  # 21-symbol vocabulary; well below uniform after training

    sample = ["lm", "sample", "--logdir", logdir, "--run", "r1", "--num", "5"]
    code, greedy, _ = run_cli(capsys, *sample, "--greedy")
    code, cold, _ = run_cli(capsys, *sample, "--temperature", "0")
    assert code == 0 and greedy == cold and len(greedy.splitlines()) == 5
    _, a, _ = run_cli(capsys, *sample, "--seed", "3")
    _, b, _ = run_cli(capsys, *sample, "--seed", "3")
    assert a == b
    code, text, _ = run_cli(capsys, *sample, "--text", "--prime", "ka", "--length", "30")
    assert code == 0 and text.startswith("ka") and len(text.rstrip("\n")) <= 32

    # training the finished run again says it is complete and how to train further: no
    # evaluation, no samples; other settings are refused, naming each key that differs
    again = ["lm", "train", "--data", data, "--level", "char", "--logdir", logdir, "--run", "r1", "--no-progress"]
    code, out, _ = run_cli(capsys, *again, *TINY)
    assert code == 0 and out.count("\n") == 1, out
    assert f"run {run_dir} is complete (2 of 2 epochs); nothing to train. To train further, raise the epochs " \
           "on the same run (e.g. max_max_epoch=3)" in out
    code, _, err = run_cli(capsys, *again, *TINY, "hidden_size=32", "num_layers=2")
    assert code == 2 and err.count("\n") == 1, err
    assert "holds a run with other settings: config.hidden_size: saved 16, now 32; config.num_layers: " \
           "saved 1, now 2; choose another --run" in err, err
    # raising the epochs trains the finished run further (epoch 3 only), then evaluates it
    code, out, err = run_cli(capsys, *again, *TINY[:-1], "max_max_epoch=3")
    assert code == 0, err
    assert "Epoch 3," in out and "Epoch 2," not in out and "Test perplexity:" in out
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        assert '"max_max_epoch": 3' in f.read()


def _stoppable_run(tmp_path, checkpoint_every):
    """``(logdir, train argv without --run)``: two epochs of a small two-layer names model."""
    data = names_file(tmp_path / "names.txt", n=1000)
    logdir = str(tmp_path / "exp")
    return logdir, ["lm", "train", "--data", data, "--level", "char", "--logdir", logdir, "--no-progress",
                    "--checkpoint-every", str(checkpoint_every), "--config", "test", "hidden_size=16",
                    "num_steps=8", "batch_size=8", "max_max_epoch=2", "keep_prob=0.8", "num_layers=2"]


def _assert_equals_uninterrupted(capsys, train, logdir, run_dir):
    assert run_cli(capsys, *train, "--run", "straight")[0] == 0  # uninterrupted, in this process
    resumed, straight = final_weights(run_dir), final_weights(os.path.join(logdir, "straight"))
    assert resumed.keys() == straight.keys() and len(resumed) >= 8
    for name in resumed:
        np.testing.assert_allclose(resumed[name], straight[name], rtol=0, atol=1e-6, err_msg=name)


def test_resume_after_sigkill_equals_uninterrupted(tmp_path, capsys):
    logdir, train = _stoppable_run(tmp_path, checkpoint_every=10)
    killed_dir = os.path.join(logdir, "killed")
    steps_at_kill = kill_after_checkpoint(train + ["--run", "killed"], killed_dir, 20)
    assert run_process(train + ["--run", "killed"]).returncode == 0
    assert steps_at_kill < checkpoint_step(killed_dir)
    _assert_equals_uninterrupted(capsys, train, logdir, killed_dir)


def test_sigterm_saves_where_it_stopped_and_the_resumed_run_equals_uninterrupted(tmp_path, capsys):
    logdir, train = _stoppable_run(tmp_path, checkpoint_every=1000)
    stopped_dir = os.path.join(logdir, "stopped")
    # the first epoch's end is the first checkpoint; SIGTERM comes during the second epoch
    code, out, err = terminate_after_checkpoint(train + ["--run", "stopped"], stopped_dir, 1)
    assert code == 143, (code, err)
    assert err.strip().splitlines()[-1] == "tfseq lm: terminated (SIGTERM)", err
    saved = re.search(r"interrupted: checkpoint saved at step (\d+)", out)
    assert saved and int(saved.group(1)) == checkpoint_step(stopped_dir), out
    assert "Test perplexity:" not in out  # it stopped mid-run, with a checkpoint where it stood
    resumed_run = run_process(train + ["--run", "stopped"])
    assert resumed_run.returncode == 0, resumed_run.stderr
    assert "Epoch 2," in resumed_run.stdout and "Epoch 1," not in resumed_run.stdout
    _assert_equals_uninterrupted(capsys, train, logdir, stopped_dir)


def test_train_from_a_tfds_dataset(tmp_path, capsys):
    import tensorflow_datasets as tfds  # a dependency of tfseq: never skipped

    lines = open(names_file(tmp_path / "n.txt", n=400), encoding="utf-8").read().splitlines()

    class TfseqTestLmNames(tfds.core.GeneratorBasedBuilder):  # registered as tfseq_test_lm_names
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(
                {"text": tfds.features.Text()}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i, line in enumerate(lines):
                yield i, {"text": line}

    logdir = str(tmp_path / "logdir" / "tfds")
    code, out, err = run_cli(capsys, "lm", "train", "--data", "tfds:tfseq_test_lm_names", "--data-dir",
                             str(tmp_path / "tfds"), "--level", "char", "--logdir", logdir, "--run", "r",
                             "--no-progress", *TINY)
    assert code == 0, err
    assert "tfseq_test_lm_names (char)" in out and "Test perplexity:" in out
    code, out, err = run_cli(capsys, "lm", "eval", "--logdir", logdir, "--run", "r")
    assert code == 0 and "test: perplexity" in out, err


def test_no_xla_trains_and_a_run_resumes_only_with_its_xla_setting(tmp_path, capsys):
    """XLA draws other dropout masks than TensorFlow, so the setting is part of the run."""
    data = names_file(tmp_path / "names.txt", n=200)
    train = ["lm", "train", "--data", data, "--level", "char", "--logdir", str(tmp_path / "exp"), "--run", "r",
             "--no-progress", "--max-steps", "3", *TINY]
    assert run_cli(capsys, *train, "--no-xla")[0] == 0
    code, _, err = run_cli(capsys, *train)  # the same run without --no-xla
    assert code == 2 and "holds a run with other settings" in err, err
    assert run_cli(capsys, *train, "--no-xla", "--max-steps", "6")[0] == 0  # resumes with its setting


@pytest.mark.parametrize("argv, message", [
    (["sample", "--temperature", "nan"], "--temperature must be a finite number >= 0, got nan"),
    (["sample", "--temperature", "inf"], "--temperature must be a finite number >= 0, got inf"),
    (["sample", "--temperature", "-0.5"], "--temperature must be a finite number >= 0, got -0.5"),
    (["train", "--samples", "-1"], "--samples must be an integer >= 0, got -1"),
    (["train", "--devices", "2"], "devices is for the mirrored strategy only, got devices=2 with 'default'"),
    (["train", "--strategy", "mirrored", "--devices", "0"], "devices must be a positive integer, got 0"),
    (["train", "--strategy", "multi-worker"], "the multi-worker strategy needs the TF_CONFIG environment variable"),
])
def test_bad_options_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    run = ["--logdir", str(tmp_path), "--run", "r"]
    code, out, err = run_cli(capsys, "lm", *argv, *run)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert err.startswith("tfseq lm: error: ") and "Traceback" not in err


def test_help_texts_and_no_rst_quotes(capsys):
    for argv in (["lm"], ["lm", "train"], ["lm", "sample"], ["lm", "eval"]):
        with pytest.raises(SystemExit):
            main(argv + ["--help"])
        out = capsys.readouterr().out
        assert "``" not in out, (argv, out)
        if argv == ["lm", "train"]:
            assert "recurrent cell: lstm (BasicLSTMCell)" in out and "seed of the initial weights" in out
            assert "--strategy {default,mirrored,multi-worker}" in out and "--devices DEVICES" in out
        if argv == ["lm", "sample"]:
            assert "divides the logits before sampling" in out and "seed of the sampling" in out


def test_train_mirrored_two_devices_then_resume_without_strategy(tmp_path, capsys):
    """``--strategy mirrored --devices 2`` (two logical CPUs: a fresh process), then the same run
    trained further in this process without a strategy, from the mirrored run's checkpoint."""
    data = names_file(tmp_path / "names.txt", n=300)
    logdir = str(tmp_path / "exp")
    train = ["lm", "train", "--data", data, "--level", "char", "--logdir", logdir, "--run", "m", "--no-progress"]
    proc = run_process([*train, "--strategy", "mirrored", "--devices", "2", "--no-xla", *TINY], cpu_only=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 epochs, 2 replicas (mirrored))" in proc.stdout and "Epoch 2," in proc.stdout
    assert "Test perplexity:" in proc.stdout
    code, out, err = run_cli(capsys, *train, "--no-xla", *TINY[:-1], "max_max_epoch=3")
    assert code == 0, err
    assert "Epoch 3," in out and "Epoch 2," not in out and "Test perplexity:" in out


def test_optimizer_option_trains_with_adam(tmp_path, capsys):
    """``optimizer=adam`` trains with Adam (its moment slots are checkpointed; SGD has none)
    under the same per-epoch schedule; the choice is part of the run's settings."""
    import tensorflow as tf

    data = names_file(tmp_path / "names.txt", n=200)
    logdir = str(tmp_path / "exp")
    slots = {}
    for optimizer in ("sgd", "adam"):
        code, _, err = run_cli(capsys, "lm", "train", "--data", data, "--level", "char", "--logdir", logdir,
                                 "--run", optimizer, "--no-progress", "--max-steps", "3", *TINY,
                                 f"optimizer={optimizer}")
        assert code == 0, err
        checkpoint = os.path.join(logdir, optimizer, "checkpoints")
        with open(os.path.join(checkpoint, "latest")) as f:
            names = tf.train.list_variables(os.path.join(checkpoint, f.read().strip(), "ckpt"))
        shapes = {n: shape for n, shape in names}
        slots[optimizer] = [n for n, shape in shapes.items() if n.startswith("optimizer_variables/") and shape]
        with open(os.path.join(logdir, optimizer, "config.json"), encoding="utf-8") as f:
            assert f'"optimizer": "{optimizer}"' in f.read()
    weights = len(final_weights(os.path.join(logdir, "adam")))
    assert slots["sgd"] == [] and len(slots["adam"]) == 2 * weights, slots  # first and second moments
