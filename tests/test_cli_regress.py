"""``tfseq regress``: the printed parameters against NumPy's least squares, the run directory
(``model.keras``, resume, the XLA setting), the shared train options, and bad input (CSV,
arguments) as one line with exit code 2."""

import os
import re

import keras
import numpy as np
import pytest
from cli_runs import final_weights, run_cli, run_process

from tfseq.cli.main import main
from tfseq.data.csv_source import read_csv_table
from tfseq.demos.regress.model import LinearRegression, least_squares, train_validation_split

FAST = ["--epochs", "3", "--steps-per-epoch", "100"]


def parameter_rows(out):
    """``{name: (gradient descent, least squares, difference)}`` from the printed table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("parameter "))
    rows = {}
    for line in lines[start + 1:]:
        match = re.fullmatch(r"(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if not match:
            break
        rows[match[1]] = tuple(float(v) for v in match.groups()[1:])
    return rows


def test_synthetic_run_prints_truth_fit_and_closed_form(tmp_path, capsys):
    logdir = tmp_path / "logdir" / "regression"
    assert main(["regress", "--features", "2", "--noise", "0.2", "--seed", "3", "--logdir", str(logdir),
                 "--run", "r1", "--no-progress", *FAST]) == 0
    out = capsys.readouterr().out
    assert re.search(r"true W = \[\s*-?\d\.\d{4}\s+-?\d\.\d{4}\], b = -?\d\.\d{4}, noise stddev 0\.2", out)
    assert "200 examples: 160 train, 40 validation, 2 features" in out
    rows = parameter_rows(out)
    assert list(rows) == ["W[x0]", "W[x1]", "b"]
    for ours, best, diff in rows.values():
        assert abs(diff) < 1e-4 and ours - best == pytest.approx(diff, abs=2e-6)
    assert re.search(r"validation: mean squared error \d\.\d+, R2 0\.\d{4}", out)
    assert out.strip().splitlines()[-1] == f"tensorboard --logdir {tmp_path / 'logdir'}"
    run = logdir / "r1"
    assert os.listdir(run / "train") and os.listdir(run / "validation")
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(run))  # hparams
    model = keras.saving.load_model(run / "model.keras")
    assert isinstance(model, LinearRegression)
    np.testing.assert_allclose([*model.weight.numpy(), model.bias.numpy()], [row[0] for row in rows.values()],
                               atol=1e-6)  # the printed fit


def test_csv_run_matches_numpy_least_squares(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (50, 2))
    y = x @ [1.5, -0.5] + 0.25 + rng.normal(0, 0.05, 50)
    path = tmp_path / "table.csv"
    path.write_text("u,target,v\n" + "".join(f"{a:.17g},{t:.17g},{b:.17g}\n" for (a, b), t in zip(x, y)))
    assert main(["regress", "--csv", str(path), "--target", "target", "--logdir", str(tmp_path / "runs"),
                 "--run", "csv", *FAST]) == 0
    out = capsys.readouterr().out
    assert f"data: {path}: predict 'target' from u, v" in out
    table = read_csv_table(path, "target")
    train_x, train_y, _, _ = train_validation_split(table.features, table.targets, 0.2, seed=0)
    best_w, best_b = least_squares(train_x, train_y)
    rows = parameter_rows(out)
    assert list(rows) == ["W[u]", "W[v]", "b"]
    np.testing.assert_allclose([row[1] for row in rows.values()], [*best_w, best_b], atol=1e-6)
    np.testing.assert_allclose([row[0] for row in rows.values()], [*best_w, best_b], atol=1e-4)


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n", "line 1: no column 'y' (the columns are a, b)"),
    ("a,y\n1,2\n2,x\n", "line 3, column 'y': not a number: 'x'"),
    ("a,b,y\n1,2,3\n4,5\n", "line 3, column 'y': missing (2 fields, the header on line 1 has 3)"),
    ("", "line 1: the file is empty, expected a header row of column names"),
], ids=["missing_column", "non_numeric", "ragged", "empty"])
def test_bad_csv_is_one_line_exit_2(tmp_path, capsys, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert main(["regress", "--csv", str(path), "--target", "y", "--logdir", str(tmp_path / "runs")]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"tfseq regress: error: {path}: {message}\n"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, message", [
    (["--csv", "x.csv"], "--csv and --target go together"),
    (["--target", "y"], "--csv and --target go together"),
    (["--csv", "x.csv", "--target", "y", "--noise", "1"], "--noise describe synthetic data"),
    (["--noise", "nan"], "--noise must be a finite number >= 0, got nan"),
    (["--learning-rate", "0"], "--learning-rate must be a finite number > 0, got 0.0"),
    (["--examples", "1"], "--examples must be an integer >= 2, got 1"),
    (["--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
    (["--valid-fraction", "1"], "--valid-fraction must be a number in [0, 1), got 1.0"),
    (["--examples", "2", "--valid-fraction", "0.5"], "only 1 training rows of 2 (valid_fraction 0.5)"),
    (["--max-steps", "0"], "--max-steps must be a positive integer, got 0"),
    (["--checkpoint-every", "-1"], "--checkpoint-every must be a positive integer, got -1"),
    (["--devices", "2"], "devices is for the mirrored strategy only, got devices=2 with 'default'"),
], ids=["csv_alone", "target_alone", "csv_and_synthetic", "noise_nan", "lr_zero", "examples", "epochs",
        "valid_fraction", "no_training_rows", "max_steps", "checkpoint_every", "devices"])
def test_bad_arguments_are_one_line_exit_2(tmp_path, capsys, args, message):
    assert main(["regress", "--logdir", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfseq regress: error: ") and message in err


def test_existing_run_and_divergence(tmp_path, capsys):
    logdir = str(tmp_path / "runs")
    assert main(["regress", "--logdir", logdir, "--run", "r", "--epochs", "1", "--steps-per-epoch", "5",
                 "--no-progress"]) == 0
    assert main(["regress", "--logdir", logdir, "--run", "r", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        f"tfseq regress: error: {os.path.join(logdir, 'r')} holds a run with other settings: "
        "steps_per_epoch: saved 5, now 20; choose another --run to start afresh\n")
    assert main(["regress", "--logdir", logdir, "--run", "big", "--learning-rate", "5", "--no-progress", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfseq regress: error: training diverged (train loss ") and err.count("\n") == 1


def test_a_run_resumes_and_a_finished_run_trains_further_only_when_asked(tmp_path, capsys):
    """Same RunDir rules as every train command: the same command on a finished run trains
    nothing; a larger --epochs continues it from its checkpoint (epoch 2 is printed, epoch 1 is not)."""
    logdir = str(tmp_path / "runs")
    args = ["regress", "--logdir", logdir, "--run", "r", "--steps-per-epoch", "5", "--no-progress"]
    assert main([*args, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*args, "--epochs", "1"]) == 0
    assert capsys.readouterr().out == (f"run {os.path.join(logdir, 'r')} is complete (1 of 1 epochs); nothing to "
                                       "train. To train further, raise the epochs on the same run (e.g. --epochs 2)\n")
    assert main([*args, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "Epoch 2," in out and "Epoch 1," not in out


def test_stopped_run_resumes_to_the_uninterrupted_weights_and_finishes_a_lost_model_file(tmp_path, capsys):
    """``--max-steps`` stops mid-epoch and says how to resume; the same command resumes from the
    checkpoint and ends with the weights of an uninterrupted run. A run whose epochs are done
    but whose ``model.keras`` is missing (killed while saving it) saves it and reports again."""
    logdir = str(tmp_path / "runs")
    args = ["regress", "--logdir", logdir, "--epochs", "2", "--steps-per-epoch", "6", "--no-progress", "--no-xla"]
    code, out, err = run_cli(capsys, *args, "--run", "stopped", "--max-steps", "9")
    assert code == 0, err
    assert "stopped at step 9; run the same command to resume" in out and "parameter " not in out
    assert not os.path.exists(os.path.join(logdir, "stopped", "model.keras"))
    code, out, err = run_cli(capsys, *args, "--run", "stopped")
    assert code == 0, err
    assert "resumed from" in out and "(epoch 2, step 3/6)" in out and "parameter " in out
    assert run_cli(capsys, *args, "--run", "straight")[0] == 0
    stopped, straight = final_weights(os.path.join(logdir, "stopped")), final_weights(os.path.join(logdir, "straight"))
    assert stopped.keys() == straight.keys() and len(stopped) == 2
    for name in stopped:
        np.testing.assert_array_equal(stopped[name], straight[name], err_msg=name)

    os.remove(os.path.join(logdir, "straight", "model.keras"))
    code, out, err = run_cli(capsys, *args, "--run", "straight")
    assert code == 0, err
    assert "the run is complete" in out and "parameter " in out and "Epoch" not in out
    model = keras.saving.load_model(os.path.join(logdir, "straight", "model.keras"))
    assert sorted([*model.weight.numpy().tolist(), float(model.bias.numpy())]) == sorted(
        float(v) for array in straight.values() for v in np.ravel(array))  # the checkpoint's weights


def test_a_run_resumes_only_with_its_xla_setting(tmp_path, capsys):
    """XLA is the default (``--no-xla`` turns it off) and part of the run's settings."""
    logdir = str(tmp_path / "runs")
    args = ["regress", "--logdir", logdir, "--run", "r", "--epochs", "1", "--steps-per-epoch", "4", "--no-progress"]
    assert run_cli(capsys, *args, "--no-xla")[0] == 0
    code, _, err = run_cli(capsys, *args, "--epochs", "2")  # the same run with XLA
    assert code == 2 and err.count("\n") == 1, err
    assert "holds a run with other settings: xla: saved false, now (not set)" in err, err
    code, out, err = run_cli(capsys, *args, "--no-xla", "--epochs", "2")
    assert code == 0 and "Epoch 2," in out, err
    with pytest.raises(SystemExit):  # the bar is drawn unless --no-progress: there is no --progress
        main([*args, "--progress"])
    assert "unrecognized arguments: --progress" in capsys.readouterr().err


def test_mirrored_two_devices(tmp_path):
    """``--strategy mirrored --devices 2`` (two logical CPUs: a fresh process) reaches the same
    least-squares answer: each replica takes half the rows, the gradients are summed."""
    proc = run_process(["regress", "--logdir", str(tmp_path / "runs"), "--run", "m", "--no-progress",
                        "--strategy", "mirrored", "--devices", "2", *FAST], cpu_only=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "3 epochs x 100 steps, 2 replicas (mirrored)" in proc.stdout
    rows = parameter_rows(proc.stdout)
    assert all(abs(diff) < 1e-4 for _, _, diff in rows.values()), rows
    assert os.path.exists(tmp_path / "runs" / "m" / "model.keras")
