"""The one flow every demo command runs: train a run, or open a trained one.

How to add a demo command (``tfseq <name> train``), in ``tfseq/demos/<name>/command.py``:

1. ``register(subparsers)`` adds the parser: the demo's own options (data, ``--config``, ...),
   then :func:`add_train_arguments` for the ones every ``train`` command shares (``--logdir``,
   ``--run``, ``--seed``, ``--max-steps``, ``--checkpoint-every``, ``--no-progress``,
   ``--no-xla``, ``--strategy``/``--devices``/``--collective-timeout``); an eval/sample
   command adds :func:`add_run_arguments`. Key ``=`` value overrides of a preset go through
   :func:`parse_overrides`. Add the module to ``SUBCOMMANDS`` in :mod:`tfseq.cli.main`.
2. The train function calls :func:`begin_training` first (the strategy must exist before any
   TensorFlow op), builds its config and loads its data (a bad input raises
   :class:`~tfseq._checks.UsageError`), says where the run lives and what it is in a
   :class:`RunPlan`, and returns ``train(args, strategy, plan, build)``.
3. ``build()`` runs under the strategy's scope, after the seed is set, for a run that has
   epochs left; it creates the model, the task and the optimizer and returns a
   :class:`Training`: those three, the Trainer's settings, the hyper-parameters for
   TensorBoard, the start line, and ``finish``, which reports a finished run (test numbers,
   samples) and returns the test scalars to log.
4. Opening a trained run (eval, decode, sample) is :func:`open_run` with a ``load`` that
   builds the model from the run's settings; the frame checks the run and restores the
   model's weights from its latest checkpoint.

:func:`train` then does what every command does, in the same words for each: write or check
the run's settings (:class:`~tfseq.train.run_dir.RunDir`: a complete run says so and trains
nothing, a run with other settings is refused, an existing one resumes from its checkpoint),
set the seed, build under the strategy, open the TensorBoard writers (the chief only), run
the :class:`~tfseq.train.loop.Trainer`, save ``model.keras`` once all epochs are done,
log the test scalars, and close with the ``tensorboard --logdir ...`` line. Nothing here
imports TensorFlow until a command runs, so ``--help`` stays fast.
"""

import argparse
import contextlib
import dataclasses
import importlib
import os
import sys
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from tfseq._checks import UsageError
from tfseq.demos.strategy_args import add_strategy_arguments, strategy_from_args

MODEL_FILE = "model.keras"


# -- arguments -----------------------------------------------------------------------------------
def add_train_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                        logdir_default: str | None = None,
                        logdir_help: str = "experiment directory, logdir/<experiment>",
                        run_help: str = "run name; an existing run is resumed",
                        seed_help: str | None = None) -> None:
    """The options every ``train`` command shares (see the module docstring)."""
    parser.add_argument("--logdir", default=logdir_default, help=logdir_help)
    parser.add_argument("--run", default=None, help=run_help)
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (resume later)")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-xla", action="store_true",
                        help="do not compile the training step with XLA (default: XLA where the step compiles)")
    add_strategy_arguments(parser)


def add_run_arguments(parser: argparse.ArgumentParser, logdir_default: str) -> None:
    """``--logdir`` and ``--run`` (required) of a command that opens a trained run."""
    parser.add_argument("--logdir", default=logdir_default,
                        help=f"experiment directory, logdir/<experiment> (default: {logdir_default})")
    parser.add_argument("--run", required=True, help="run name (a directory under --logdir)")


def check_positive_options(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Each option in ``names`` (attribute names, e.g. ``"max_steps"``) is ``None`` or > 0."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A demo package's module ``__getattr__``: each name in ``exports`` (name -> the module
    that defines it, or the submodule of that name) is imported on first use, so importing a
    demo's command for ``tfseq --help`` does not import TensorFlow."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        return module if module.__name__.endswith("." + name) else getattr(module, name)

    return __getattr__


class Preset:
    """What every demo's frozen dataclass config shares: :meth:`with_overrides` (what
    :func:`parse_overrides` calls) and :meth:`to_dict` (what a run's ``config.json`` stores)."""

    def with_overrides(self, **values: Any) -> Any:
        """A copy with ``values`` replaced (validated again by ``__post_init__``); an unknown key
        raises ``ValueError`` naming it."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict; ``precision`` only when it is not the default ``float32``, so a
        float32 run's settings read as they did before the field existed (such runs resume)."""
        values = dataclasses.asdict(self)
        if values.get("precision") == "float32":
            del values["precision"]
        return values


def parse_overrides(config: Any, items: Sequence[str]) -> Any:
    """Apply ``key=value`` strings to a frozen dataclass config with ``with_overrides``;
    each value is parsed by its field's type (``bool``, ``int``, ``float``, ``str``, or
    ``None`` for an optional field)."""
    fields = {f.name for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"override must look like key=value, got {item!r}")
        if key not in fields:
            raise UsageError(f"unknown config key {key!r}; known keys: {', '.join(sorted(fields))}")
        values[key] = _parse_value(key, text, hints[key])
    try:
        return config.with_overrides(**values)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _parse_value(key, text, hint):
    args = typing.get_args(hint)
    if type(None) in args:
        if text.lower() in ("none", "null", ""):
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        raise UsageError(f"{key}={text!r}: expected a {hint.__name__}") from None
    return text


# -- precision -----------------------------------------------------------------------------------
PRECISIONS = ("float32", "mixed_bfloat16")


def check_precision(owner: str, value: Any) -> str:
    """A preset's ``precision`` field: ``float32`` (the default) or ``mixed_bfloat16`` (Keras' mixed
    policy: float32 weights, bfloat16 compute; the models return float32 logits, so losses stay
    float32). Anything else raises ``ValueError`` naming ``<owner>.precision`` and the value."""
    if not isinstance(value, str) or value not in PRECISIONS:
        raise ValueError(f"{owner}.precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


@contextlib.contextmanager
def dtype_policy_scope(policy: Any) -> Iterator[None]:
    """Layers created inside take ``policy`` (a name or a ``keras.DTypePolicy``) as their dtype
    policy; Keras' global policy is set back to what it was on the way out, so a model's
    precision never leaks into other code. Demo models create their layers in one."""
    import keras  # here, not at the top: this module stays free of TensorFlow until a command runs

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


# -- training ------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunPlan:
    """Where a training run lives and what it is, decided before anything is built.

    Attributes:
        logdir: the experiment directory ``logdir/<experiment>``.
        run: the run's name; the run directory is ``<logdir>/<run>`` (:attr:`path`).
        settings: the run's JSON settings, compared with a saved run's on resume.
        epochs_key: the dotted settings key of the number of epochs (e.g. ``"config.epochs"``):
            it may grow, so a finished run can be trained further.
        files: ``{name: write(path)}`` written once, for a new run (vocabulary, tokenizers).
        then: what a user can do with a complete run (``"to evaluate it: tfseq ..."``) or ``""``.
        epochs_flag: the option that sets the epochs (``"--epochs"``), when it is not a
            ``key=value`` override named by ``epochs_key``.
    """

    logdir: str
    run: str
    settings: dict
    epochs_key: str
    files: Mapping[str, Callable[[str], None]] = dataclasses.field(default_factory=dict)
    then: str = ""
    epochs_flag: str | None = None

    @property
    def path(self) -> str:
        return os.path.join(self.logdir, self.run)


@dataclasses.dataclass
class Training:
    """What a demo's ``build()`` returns: the parts :func:`train` hands the Trainer.

    Attributes:
        model, task, optimizer: created under the strategy's scope.
        epochs: total epochs.
        summary: the start line after ``"run <dir>: "`` (data, model, steps per epoch, with
            :func:`replicas_note` where the demo wants it).
        hparams: the run's hyper-parameters for TensorBoard (the strategy and the number
            of replicas are added).
        learning_rate_at, max_grad_norm, log_every: passed to the Trainer.
        best_by: for a task that keeps its best validation epoch
            (:class:`~tfseq.train.task.SelectsBest`), what "best" means, e.g. ``"best
            validation accuracy"``: once all epochs are done the chief puts those weights back
            (``task.use_best()``), checkpoints them (``eval`` and ``predict`` read the last
            checkpoint) and prints ``kept the weights of epoch K of N (best_by)`` before
            ``model.keras`` is saved. ``None``: the last epoch's weights are the run's.
        finish: called on the chief once all epochs are done and ``model.keras`` is saved:
            prints what the demo reports about a finished run and returns the scalars to log
            under ``test/`` (or ``None``). A :class:`~tfseq._checks.UsageError` it raises
            (a diverged fit) is the command's one-line error.
        weight_average: the Trainer's ``weight_average`` (a decay, or ``None``): validation
            scores the averaged weights (so ``best_by`` keeps averages), and a run without
            ``best_by`` ends with the averages in the model (checkpointed, then ``model.keras``).
    """

    model: Any
    task: Any
    optimizer: Any
    epochs: int
    summary: str
    hparams: Mapping[str, Any]
    learning_rate_at: Callable[[int], float] | None = None
    max_grad_norm: float | None = None
    log_every: int | None = None
    finish: Callable[[Any], Mapping[str, float] | None] | None = None
    best_by: str | None = None
    weight_average: float | None = None


def begin_training(args: argparse.Namespace) -> Any:
    """The strategy the options ask for (``None`` for the default one), built before any
    TensorFlow op, then the shared options checked (``--max-steps``, ``--checkpoint-every``)."""
    strategy = strategy_from_args(args)  # first: logical devices and the cluster precede any TF op
    check_positive_options(args, ("max_steps", "checkpoint_every"))
    return strategy


def train(args: argparse.Namespace, strategy: Any, plan: RunPlan, build: Callable[[], Training]) -> int:
    """Train the run ``plan`` describes (new, resumed or trained further); the exit code.

    ``args`` holds the shared options (:func:`add_train_arguments`) and ``command`` (the
    sub-command's name, for error lines).
    """
    import keras

    from tfseq._xla import xla_pays_for
    from tfseq.train import Progress, RunWriters, Trainer
    from tfseq.train.distribute import is_chief

    if not _prepare(plan, strategy):
        return 0
    keras.utils.set_random_seed(args.seed)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        parts = build()
    writers = None
    if is_chief(strategy):  # other workers of a multi-worker job write no event files
        writers = RunWriters(plan.path)
    try:
        if writers is not None:
            writers.hparams({**parts.hparams, "strategy": args.strategy,
                             "replicas": strategy.num_replicas_in_sync if strategy is not None else 1})
        trainer = Trainer(
            parts.task, parts.optimizer, epochs=parts.epochs, learning_rate_at=parts.learning_rate_at,
            max_grad_norm=parts.max_grad_norm, writers=writers,
            checkpoint_dir=os.path.join(plan.path, "checkpoints"), checkpoint_every=args.checkpoint_every,
            log_every=parts.log_every, progress=Progress(enabled=not args.no_progress),
            jit_compile=False if args.no_xla else None, strategy=strategy, weight_average=parts.weight_average,
        )
        compute_dtype = getattr(parts.task.model, "compute_dtype", "float32")
        skipped = not args.no_xla and not trainer.xla and not xla_pays_for(compute_dtype)
        note = f"; no XLA: {compute_dtype} runs faster without it on a CPU" if skipped else ""
        print(f"run {plan.path}: {parts.summary}{note}", flush=True)
        code = fit_run(trainer, args.command, strategy, args.max_steps)
        if code is not None:
            return code
        if trainer.complete:
            kept = parts.task.use_best() if parts.best_by is not None else None
            if kept is not None:
                trainer.save()  # the run's last checkpoint holds the kept weights too (eval, predict)
                print(f"kept the weights of epoch {kept} of {parts.epochs} ({parts.best_by})", flush=True)
            elif trainer.use_averages():
                trainer.save()
                print(f"the model's weights are the average of its training (decay {parts.weight_average})",
                      flush=True)
            parts.model.save(os.path.join(plan.path, MODEL_FILE))  # keras.saving.load_model() reads it back
            scalars = parts.finish(trainer) if parts.finish is not None else None
            if scalars:
                writers.scalars("test", dict(scalars), int(trainer.global_step.numpy()))
    finally:
        if writers is not None:
            writers.close()
    if writers is not None:
        print(f"tensorboard --logdir {tensorboard_root(plan.logdir)}", flush=True)
    return 0


def tensorboard_root(logdir: str) -> str:
    """The directory to give ``tensorboard --logdir``: the parent of the experiment directory,
    so one TensorBoard shows every experiment."""
    return os.path.dirname(os.path.normpath(logdir)) or logdir


def _prepare(plan, strategy):
    return prepare_run(plan.path, plan.settings, plan.files, plan.epochs_key, strategy, plan.then,
                       epochs_flag=plan.epochs_flag)


def prepare_run(run_dir: str, settings: dict, files: Mapping[str, Callable[[str], None]], epochs_key: str,
                strategy: Any, then: str, epochs_flag: str | None = None) -> bool:
    """Write or check the run's settings; ``False`` when the run is already complete.

    Args:
        run_dir: ``<logdir>/<run>``.
        settings: the run's JSON settings (compared with a saved run's).
        files: ``{name: write(path)}`` written once, for a new run (vocabulary, tokenizers).
        epochs_key: the dotted settings key of the number of epochs (e.g. ``"config.epochs"``):
            it may grow, so a finished run can be trained further.
        strategy: a ``tf.distribute`` strategy or ``None``; only its chief writes.
        then: what the user can do with a complete run, e.g. ``"to evaluate it: tfseq lm eval ..."``,
            or ``""``.
        epochs_flag: the option that raises the epochs (``"--epochs"``); ``None``: the
            ``key=value`` override named by ``epochs_key``.

    A complete run (all epochs done and ``model.keras`` saved: a run killed while saving it
    finishes the save) is said on stdout, and nothing is trained, evaluated or sampled again.
    """
    from tfseq.train.distribute import is_chief
    from tfseq.train.run_dir import RunDir, SettingsMismatch, flatten

    run = RunDir(run_dir)
    if is_chief(strategy):
        try:
            run.prepare(settings, files=files, may_change=(epochs_key,))
        except SettingsMismatch as err:
            raise UsageError(str(err)) from None
    epochs, done = flatten(settings)[epochs_key], run.completed_epochs()
    if done >= epochs and os.path.exists(run.file(MODEL_FILE)):
        more = f"{epochs_flag} {epochs + 1}" if epochs_flag else f"{epochs_key.rsplit('.', 1)[-1]}={epochs + 1}"
        print(f"run {run_dir} is complete ({done} of {epochs} epochs); nothing to train. To train further, "
              f"raise the epochs on the same run (e.g. {more}){'; ' + then if then else ''}", flush=True)
        return False
    return True


def replicas_note(strategy: Any, name: str) -> str:
    """``", 2 replicas (mirrored)"`` for the start line; ``""`` without a strategy."""
    from tfseq.train.distribute import worker_label

    if strategy is None:
        return ""
    label = worker_label(strategy)
    return f", {strategy.num_replicas_in_sync} replicas ({name}{', ' if label else ''}{label})"


def fit_run(trainer: Any, command: str, strategy: Any, max_steps: int | None) -> int | None:
    """``trainer.fit(max_steps)``, then one line where the run stops short.

    Returns an exit code when this process is done: 1 when a worker of the job was lost (said
    on stderr as ``tfseq <command>: error: ...``), 0 for a worker other than the chief once all
    epochs are done; ``None`` otherwise: the caller goes on (the chief of a complete run saves
    and evaluates the model; a run stopped at ``max_steps`` was told how to resume).
    """
    from tfseq.train.distribute import WorkerLostError, is_chief, worker_label

    try:
        trainer.fit(max_steps=max_steps)
    except WorkerLostError as err:
        print(f"tfseq {command}: error: {err}", file=sys.stderr, flush=True)
        return 1
    if not trainer.complete:
        print(f"stopped at step {int(trainer.global_step.numpy())}; run the same command to resume", flush=True)
    elif not is_chief(strategy):
        print(f"{worker_label(strategy)}: done; the chief writes the model and evaluates it", flush=True)
        return 0
    return None


# -- opening a trained run -----------------------------------------------------------------------
@dataclasses.dataclass
class TrainedRun:
    """A trained run opened by :func:`open_run`.

    Attributes:
        path: the run directory.
        settings: its saved settings (``config.json``).
        model: the model, with the weights of the latest checkpoint.
        parts: whatever else the demo's ``load`` returned (its config, vocabulary, tokenizers).
    """

    path: str
    settings: dict
    model: Any
    parts: Any = None


def open_run(logdir: str, run: str, load: Callable[[str, dict], tuple[Any, Any]], *, name: str,
             kind: str | None = None) -> TrainedRun:
    """Open ``<logdir>/<run>`` for eval, decode or sample.

    Args:
        logdir, run: the experiment directory and the run's name.
        load: ``(run_dir, settings) -> (model, parts)``: builds the model (no weights yet)
            and reads what else the demo needs from the run.
        name: what the run is called in errors, e.g. ``"tfseq lm"``.
        kind: the ``"kind"`` the run's settings must hold, or ``None`` to check none.

    Raises:
        UsageError: no such run, not a run of this demo, or no checkpoint yet.
    """
    from tfseq.train.run_dir import RunDir

    run_dir = os.path.join(logdir, run)
    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir}: no such run")
    files = RunDir(run_dir)
    if not files.exists():
        raise UsageError(f"{run_dir}: not a {name} run (no config.json)")
    settings = files.read()
    if kind is not None and settings.get("kind") != kind:
        raise UsageError(f"{run_dir}: not a {name} run")
    model, parts = load(run_dir, settings)
    restore_model(run_dir, model)
    return TrainedRun(run_dir, settings, model, parts)


def restore_model(run_dir: str, model: Any) -> str:
    """Reads the model's weights (no optimizer, no counters) from the run's latest checkpoint;
    its prefix. ``UsageError`` when the run has none yet."""
    from tfseq.train import CheckpointKeeper

    keeper = CheckpointKeeper(os.path.join(run_dir, "checkpoints"), {"model_variables": list(model.variables)})
    prefix = keeper.latest()
    if prefix is None:
        raise UsageError(f"{run_dir}: no checkpoint yet")
    keeper.checkpoint.read(prefix).expect_partial()
    return prefix
