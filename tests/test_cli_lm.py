"""``tfseq lm``: one-line errors with exit 2, train -> eval -> sample, resume after SIGKILL."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq.cli.main import main
from tfseq.models import LanguageModel

TINY = ["--config", "test", "hidden_size=16", "num_steps=8", "batch_size=8", "max_max_epoch=2"]


def names_file(path, n=600, seed=0):
    """Made-up names, one per line."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "ri", "mo", "an", "el", "to", "su", "na", "li", "be"]
    lines = ["".join(rng.choice(syllables, rng.integers(2, 4))) for _ in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


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

    # training the same run again resumes its finished state; other settings are refused
    code, out, _ = run_cli(capsys, "lm", "train", "--data", data, "--level", "char", "--logdir", logdir,
                           "--run", "r1", "--no-progress", *TINY)
    assert code == 0 and "Epoch" not in out
    code, _, err = run_cli(capsys, "lm", "train", "--data", data, "--level", "char", "--logdir", logdir,
                           "--run", "r1", *TINY, "hidden_size=32")
    assert code == 2 and "holds a run with other settings" in err


def _final_weights(run_dir):
    ckpt = os.path.join(run_dir, "checkpoints")
    with open(os.path.join(ckpt, "latest")) as f:
        reader = tf.train.load_checkpoint(os.path.join(ckpt, f.read().strip(), "ckpt"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith("model_variables/"))
    return {n: reader.get_tensor(n) for n in names}


def test_resume_after_sigkill_equals_uninterrupted(tmp_path, capsys):
    data = names_file(tmp_path / "names.txt", n=1000)
    logdir = str(tmp_path / "exp")
    train = ["lm", "train", "--data", data, "--level", "char", "--logdir", logdir, "--no-progress",
             "--checkpoint-every", "10", "--config", "test", "hidden_size=16", "num_steps=8", "batch_size=8",
             "max_max_epoch=2", "keep_prob=0.8", "num_layers=2"]
    args = [sys.executable, "-m", "tfseq"] + train
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    killed = subprocess.Popen(args + ["--run", "killed"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    pointer = os.path.join(logdir, "killed", "checkpoints", "latest")
    deadline = time.time() + 120
    while time.time() < deadline and killed.poll() is None:
        if os.path.exists(pointer) and int(open(pointer).read().strip()[5:] or 0) >= 20:
            break
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL  # really killed mid-run, not finished
    steps_at_kill = int(open(pointer).read().strip()[5:])
    subprocess.run(args + ["--run", "killed"], env=env, check=True, capture_output=True)
    assert run_cli(capsys, *train, "--run", "straight")[0] == 0  # uninterrupted, in this process
    resumed, straight = _final_weights(os.path.join(logdir, "killed")), _final_weights(
        os.path.join(logdir, "straight"))
    assert steps_at_kill < int(open(pointer).read().strip()[5:])
    assert resumed.keys() == straight.keys() and len(resumed) >= 8
    for name in resumed:
        np.testing.assert_allclose(resumed[name], straight[name], rtol=0, atol=1e-6, err_msg=name)


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
