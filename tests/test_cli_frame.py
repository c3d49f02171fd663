"""``tfseq.demos.frame``: the flow every demo command runs, exercised by a minimal demo command
written only against it (as a new demo would be): train, the test scalars, ``model.keras``,
a complete run, opening the run; and ``parse_overrides``."""

import argparse
import dataclasses
import os

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfseq._checks import UsageError
from tfseq.demos import frame
from tfseq.demos.regress.model import LinearRegression, RegressionTask

KIND = "tfseq toy"


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    epochs: int = 2
    rate: float = 0.1
    name: str = "toy"
    limit: int | None = None
    shuffle: bool = False

    def with_overrides(self, **values):
        if values.get("rate", 1.0) <= 0:
            raise ValueError(f"rate must be > 0, got {values['rate']}")
        return dataclasses.replace(self, **values)


def toy_parser():
    """``toy train`` as a demo's ``register`` would add it."""
    parser = argparse.ArgumentParser(prog="toy")
    frame.add_train_arguments(parser, logdir_default="unused")
    parser.add_argument("overrides", nargs="*")
    parser.set_defaults(command="toy")
    return parser


def write_notes(path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("toy\n")


def toy_train(argv, logdir):
    """The demo's train function: config and data, a RunPlan, a build."""
    args = toy_parser().parse_args(argv)
    strategy = frame.begin_training(args)
    config = frame.parse_overrides(ToyConfig(), args.overrides)
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-1, 1, (40, 2))
    y = x @ [1.0, -2.0] + 0.5
    plan = frame.RunPlan(logdir, args.run, {"kind": KIND, "config": dataclasses.asdict(config)}, "config.epochs",
                         files={"notes.txt": write_notes}, then="try toy eval")

    def build():
        model = LinearRegression(2)
        task = RegressionTask(model, x[:32], y[:32], 5, x[32:], y[32:])

        def finish(trainer):
            print("finished at step", int(trainer.global_step.numpy()))
            return {"Test Loss": task.evaluate("validation")["loss"]}

        return frame.Training(model, task, keras.optimizers.SGD(config.rate), config.epochs,
                              summary=f"toy, {config.epochs} epochs{frame.replicas_note(strategy, args.strategy)}",
                              hparams={"rate": config.rate}, finish=finish)

    return frame.train(args, strategy, plan, build)


def load(run_dir, settings):
    return LinearRegression(2), ToyConfig(**settings["config"])


def test_a_demo_written_against_the_frame(tmp_path, capsys):
    logdir = str(tmp_path / "logdir" / "toy")
    run_dir = os.path.join(logdir, "r")
    assert toy_train(["--run", "r", "--no-progress", "--no-xla", "epochs=2"], logdir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"run {run_dir}: toy, 2 epochs"
    assert lines[-2:] == ["finished at step 10", f"tensorboard --logdir {tmp_path / 'logdir'}"]
    assert {"config.json", "notes.txt", "model.keras", "checkpoints", "train", "test"} <= set(os.listdir(run_dir))
    events = EventAccumulator(os.path.join(run_dir, "test"), size_guidance={"tensors": 0})
    events.Reload()
    assert [event.step for event in events.Tensors("Test Loss")] == [10]

    # the same command on the finished run: one line, what to do with it; more epochs train it further
    assert toy_train(["--run", "r", "--no-progress", "--no-xla", "epochs=2"], logdir) == 0
    assert capsys.readouterr().out == (f"run {run_dir} is complete (2 of 2 epochs); nothing to train. To train "
                                       "further, raise the epochs on the same run (e.g. epochs=3); try toy eval\n")
    with pytest.raises(UsageError, match="holds a run with other settings: config.rate: saved 0.1, now 0.2"):
        toy_train(["--run", "r", "--no-progress", "--no-xla", "rate=0.2"], logdir)
    assert toy_train(["--run", "r", "--no-progress", "--no-xla", "epochs=3"], logdir) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "Epoch 3," in out and "Epoch 2," not in out and "finished at step 15" in out

    # opening it: the weights of its latest checkpoint, what load returned, the kind checked
    run = frame.open_run(logdir, "r", load, name=KIND, kind=KIND)
    saved = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    np.testing.assert_array_equal(run.model.weight.numpy(), saved.weight.numpy())
    assert run.path == run_dir and run.parts == ToyConfig(epochs=3) and run.settings["kind"] == KIND


def test_open_run_errors(tmp_path):
    with pytest.raises(UsageError, match=r"nope: no such run$"):
        frame.open_run(str(tmp_path), "nope", load, name=KIND)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"empty: not a tfseq toy run \(no config.json\)$"):
        frame.open_run(str(tmp_path), "empty", load, name=KIND)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"kind": "tfseq other", "config": {}}')
    with pytest.raises(UsageError, match=r"other: not a tfseq toy run$"):
        frame.open_run(str(tmp_path), "other", load, name=KIND, kind=KIND)
    (tmp_path / "other" / "config.json").write_text('{"kind": "tfseq toy", "config": {}}')
    with pytest.raises(UsageError, match=r"other: no checkpoint yet$"):
        frame.open_run(str(tmp_path), "other", load, name=KIND, kind=KIND)


def test_shared_options_are_checked_first(tmp_path):
    with pytest.raises(UsageError, match="--max-steps must be a positive integer, got 0"):
        toy_train(["--run", "r", "--max-steps", "0"], str(tmp_path))
    with pytest.raises(UsageError, match="devices is for the mirrored strategy only"):
        toy_train(["--run", "r", "--devices", "2"], str(tmp_path))
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("items, expected", [
    (["epochs=5", "rate=0.5"], ToyConfig(epochs=5, rate=0.5)),
    (["name=big", "limit=none"], ToyConfig(name="big", limit=None)),
    (["limit=7", "shuffle=yes"], ToyConfig(limit=7, shuffle=True)),
    (["shuffle=off"], ToyConfig(shuffle=False)),
    ([], ToyConfig()),
])
def test_parse_overrides(items, expected):
    assert frame.parse_overrides(ToyConfig(), items) == expected


@pytest.mark.parametrize("items, message", [
    (["epochs"], "override must look like key=value, got 'epochs'"),
    (["=3"], "override must look like key=value, got '=3'"),
    (["epoch=3"], "unknown config key 'epoch'; known keys: epochs, limit, name, rate, shuffle"),
    (["epochs=two"], "epochs='two': expected a int"),
    (["limit=1.5"], "limit='1.5': expected a int"),
    (["shuffle=maybe"], "shuffle='maybe': expected a bool"),
    (["rate=-1"], "rate must be > 0, got -1.0"),
])
def test_parse_overrides_errors(items, message):
    with pytest.raises(UsageError) as info:
        frame.parse_overrides(ToyConfig(), items)
    assert str(info.value) == message
