"""``tfseq regress``: linear regression by gradient descent, logged to TensorBoard.

    tfseq regress                                   # synthetic y = Wx + b + noise, 1 feature, seed 0
    tfseq regress --features 3 --examples 1000 --noise 0.5 --seed 1
    tfseq regress --csv data.csv --target price     # every other column is a feature

Prints the learned ``W`` and ``b`` beside the closed-form least-squares solution and their
difference, and writes ``<logdir>/<run>/`` (``train/``, ``validation/`` event files: loss,
each weight, the bias, ``W/mean|stddev|min|max``, histograms, a plot of the data against
the fitted line, the parameter table; the hyper-parameters; ``config.json``,
``checkpoints/`` and, once finished, ``model.keras``). It shares the options and the rules of
every ``train`` command (:mod:`tfseq.demos.frame`): ``--run``, ``--max-steps``,
``--checkpoint-every``, ``--no-progress``, ``--no-xla``, ``--strategy``; running the same
command again resumes a stopped run, and a larger ``--epochs`` trains a finished one further.
"""

import argparse
import math
import os

import numpy as np

from tfseq._checks import UsageError
from tfseq.demos.frame import (
    PRECISIONS,
    RunPlan,
    Training,
    add_train_arguments,
    begin_training,
    replicas_note,
    train,
)

_SYNTHETIC_DEFAULTS = {"features": 1, "examples": 200, "noise": 0.1}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("regress", help="linear regression by gradient descent, with TensorBoard",
                                   description=__doc__.splitlines()[0].replace("``", ""))
    data = parser.add_argument_group("data (synthetic unless --csv is given)")
    data.add_argument("--csv", default=None, help="a CSV file with a header row of column names")
    data.add_argument("--target", default=None, help="the CSV column to predict (required with --csv)")
    data.add_argument("--features", type=int, default=None,
                      help=f"synthetic data: number of features (default {_SYNTHETIC_DEFAULTS['features']})")
    data.add_argument("--examples", type=int, default=None,
                      help=f"synthetic data: number of rows (default {_SYNTHETIC_DEFAULTS['examples']})")
    data.add_argument("--noise", type=float, default=None,
                      help=f"synthetic data: stddev of the Gaussian noise (default {_SYNTHETIC_DEFAULTS['noise']})")
    data.add_argument("--valid-fraction", type=float, default=0.2, help="rows held out for validation")
    train = parser.add_argument_group("training")
    train.add_argument("--learning-rate", type=float, default=0.1, help="SGD step size")
    train.add_argument("--epochs", type=int, default=15, help="number of epochs")
    train.add_argument("--steps-per-epoch", type=int, default=20, help="full-batch gradient steps per epoch")
    train.add_argument("--precision", default="float32", help="float32 (default) or mixed_bfloat16: the "
                       "model's Keras dtype policy (float32 weights and loss, bfloat16 compute)")
    add_train_arguments(
        train, logdir_default=os.path.join("logdir", "regression"),
        logdir_help="experiment directory, logdir/<experiment> (default: logdir/regression)",
        run_help="run name (default: regress-<data>-<time>); an existing run with the same settings is resumed "
                 "(raise --epochs to train a finished one further)",
        seed_help="draws the synthetic W, b, x, noise and the split (default 0)")
    parser.set_defaults(func=cmd_regress)


def _check(name, value, ok, expected):
    if not ok:
        raise UsageError(f"{name} must be {expected}, got {value!r}")


def _check_args(args):
    for name in ("features", "examples", "epochs", "steps_per_epoch"):
        value = getattr(args, name)
        low = 2 if name == "examples" else 1
        _check("--" + name.replace("_", "-"), value, value is None or value >= low, f"an integer >= {low}")
    _check("--noise", args.noise, args.noise is None or (math.isfinite(args.noise) and args.noise >= 0),
           "a finite number >= 0")
    _check("--learning-rate", args.learning_rate, math.isfinite(args.learning_rate) and args.learning_rate > 0,
           "a finite number > 0")
    _check("--valid-fraction", args.valid_fraction, 0 <= args.valid_fraction < 1, "a number in [0, 1)")
    _check("--precision", args.precision, args.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
    synthetic = [f"--{name}" for name in _SYNTHETIC_DEFAULTS if getattr(args, name) is not None]
    if args.csv is not None and synthetic:
        raise UsageError(f"{', '.join(synthetic)} describe synthetic data; with --csv the other columns are the "
                         "features")
    if (args.csv is None) != (args.target is None):
        raise UsageError("--csv and --target go together (--target names the CSV column to predict)")


def _load_data(args):
    """``(features, targets, feature names, description)``."""
    from tfseq.data.csv_source import read_csv_table
    from tfseq.demos.regress.model import synthetic_data

    if args.csv is not None:
        try:
            table = read_csv_table(args.csv, args.target)
        except ValueError as err:
            raise UsageError(str(err)) from None
        return table.features, table.targets, table.feature_names, (
            f"{args.csv}: predict {args.target!r} from {', '.join(table.feature_names)}")
    settings = {name: getattr(args, name) if getattr(args, name) is not None else default
                for name, default in _SYNTHETIC_DEFAULTS.items()}
    x, y, true_w, true_b = synthetic_data(settings["examples"], settings["features"], settings["noise"], args.seed)
    with np.printoptions(precision=4):
        description = (f"synthetic y = x @ W + b + noise (seed {args.seed}): true W = {true_w}, "
                       f"b = {true_b:.4f}, noise stddev {settings['noise']:g}")
    return x, y, None, description


def _parameter_table(rows):
    width = max(len(row[0]) for row in rows + [("parameter",)])
    lines = [f"{'parameter':<{width}}  {'gradient descent':>16}  {'least squares':>14}  {'difference':>11}"]
    lines += [f"{name:<{width}}  {ours:>16.6f}  {best:>14.6f}  {diff:>11.3g}" for name, ours, best, diff in rows]
    return "\n".join(lines)


def _settings(args):
    """What a run is: a resumed run must have the same (``epochs`` may grow)."""
    data = {"csv": os.path.abspath(args.csv), "target": args.target} if args.csv else {
        name: getattr(args, name) if getattr(args, name) is not None else default
        for name, default in _SYNTHETIC_DEFAULTS.items()}
    return {"data": data, "seed": args.seed, "valid_fraction": args.valid_fraction,
            "learning_rate": args.learning_rate, "steps_per_epoch": args.steps_per_epoch, "epochs": args.epochs,
            **({"precision": args.precision} if args.precision != "float32" else {})}


def cmd_regress(args: argparse.Namespace) -> int:
    from tfseq.demos.regress.model import train_validation_split
    from tfseq.train import default_run_name

    strategy = begin_training(args)
    _check_args(args)
    x, y, names, description = _load_data(args)
    try:
        split = train_validation_split(x, y, args.valid_fraction, args.seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    settings = _settings(args)
    if args.no_xla:  # XLA may round otherwise: a run resumes with the setting it started with
        settings["xla"] = False
    plan = RunPlan(args.logdir, args.run or default_run_name("regress", "csv" if args.csv else "synthetic"),
                   settings, "epochs", epochs_flag="--epochs")
    return train(args, strategy, plan, lambda: _build(args, x, y, split, names, description, strategy))


def _build(args, x, y, split, names, description, strategy):
    """The model, its task and the optimizer (under the strategy's scope)."""
    import keras

    from tfseq.demos.regress.model import LinearRegression, RegressionTask

    train_x, train_y, valid_x, valid_y = split
    print(f"data: {description}")
    print(f"{len(y)} examples: {len(train_y)} train, {len(valid_y)} validation, "
          f"{x.shape[1]} feature{'s' if x.shape[1] > 1 else ''}")
    # histogram tags weights/linear_regression/W, /b
    model = LinearRegression(x.shape[1], name="linear_regression", dtype=args.precision)
    task = RegressionTask(model, train_x, train_y, args.steps_per_epoch, valid_x, valid_y, feature_names=names)

    def finish(trainer):
        rows = task.comparison()
        if not all(math.isfinite(value) for row in rows for value in row[1:]):
            with np.errstate(over="ignore", invalid="ignore"):
                loss = float(np.mean((task.predict(task.x) - task.y) ** 2))
            raise UsageError(f"training diverged (train loss {loss:.3g} at --learning-rate {args.learning_rate:g}): "
                             "lower the learning rate or rescale the features")
        print(_parameter_table(rows))
        valid = task.evaluate("validation")
        if valid is not None:
            print(f"validation: mean squared error {valid['loss']:.6g}, R2 {valid['R2']:.4f}")

    where = replicas_note(strategy, args.strategy)
    return Training(
        model, task, keras.optimizers.SGD(args.learning_rate), epochs=args.epochs,
        summary=f"full-batch gradient descent, lr {args.learning_rate:g}, {args.epochs} epochs x "
                f"{args.steps_per_epoch} steps{where}",
        hparams={"data": args.csv or "synthetic", "target": args.target or "y", "features": x.shape[1],
                 "examples": len(y), "seed": args.seed, "learning_rate": args.learning_rate, "epochs": args.epochs,
                 "steps_per_epoch": args.steps_per_epoch, "valid_fraction": args.valid_fraction,
                 "precision": args.precision},
        log_every=max(1, args.steps_per_epoch // 4), finish=finish,
    )
