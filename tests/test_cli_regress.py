"""``tfseq regress``: the printed parameters against NumPy's least squares, the run directory,
and bad input (CSV, arguments) as one line with exit code 2."""

import os
import re

import numpy as np
import pytest

from tfseq.cli.main import main
from tfseq.data.csv_source import read_csv_table
from tfseq.demos.regress.model import least_squares, train_validation_split

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
                 "--run", "r1", *FAST]) == 0
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
], ids=["csv_alone", "target_alone", "csv_and_synthetic", "noise_nan", "lr_zero", "examples", "epochs",
        "valid_fraction"])
def test_bad_arguments_are_one_line_exit_2(tmp_path, capsys, args, message):
    assert main(["regress", "--logdir", str(tmp_path / "runs"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfseq regress: error: ") and message in err


def test_existing_run_and_divergence(tmp_path, capsys):
    logdir = str(tmp_path / "runs")
    assert main(["regress", "--logdir", logdir, "--run", "r", "--epochs", "1", "--steps-per-epoch", "5"]) == 0
    assert main(["regress", "--logdir", logdir, "--run", "r"]) == 2
    assert capsys.readouterr().err == (
        f"tfseq regress: error: {os.path.join(logdir, 'r')} holds a run with other settings: "
        "steps_per_epoch: saved 5, now 20; choose another --run to start afresh\n")
    assert main(["regress", "--logdir", logdir, "--run", "big", "--learning-rate", "5", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfseq regress: error: training diverged (train loss ") and err.count("\n") == 1


def test_a_run_resumes_and_a_finished_run_trains_further_only_when_asked(tmp_path, capsys):
    """Same RunDir rules as every train command: the same command on a finished run trains
    nothing; a larger --epochs continues it from its checkpoint (epoch 2 is printed, epoch 1 is not)."""
    logdir = str(tmp_path / "runs")
    args = ["regress", "--logdir", logdir, "--run", "r", "--steps-per-epoch", "5"]
    assert main([*args, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*args, "--epochs", "1"]) == 0
    assert capsys.readouterr().out == (f"run {os.path.join(logdir, 'r')} is complete (1 of 1 epochs); nothing to "
                                       "train. To train further, raise --epochs on the same run\n")
    assert main([*args, "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "Epoch 2," in out and "Epoch 1," not in out
