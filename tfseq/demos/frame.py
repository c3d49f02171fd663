"""What every ``tfseq <task> train`` command does with its run directory and its strategy.

:func:`prepare_run` writes or checks a run's settings through
:class:`tfseq.train.run_dir.RunDir` (the chief only, under a strategy) and says when a run
is already complete; :func:`replicas_note` is the start line's description of the strategy;
:func:`fit_run` trains and says what every command says around it.
``tfseq lm train`` and ``tfseq translate train`` use both, so a user meets the same rules
and the same words in each.
"""

import os
import sys

from tfseq._checks import UsageError


def prepare_run(run_dir, settings, files, epochs_key, strategy, then):
    """Write or check the run's settings; ``False`` when the run is already complete.

    Args:
        run_dir: ``<logdir>/<run>``.
        settings: the run's JSON settings (compared with a saved run's).
        files: ``{name: write(path)}`` written once, for a new run (vocabulary, tokenizers).
        epochs_key: the dotted settings key of the number of epochs (e.g. ``"config.epochs"``):
            it may grow, so a finished run can be trained further.
        strategy: a ``tf.distribute`` strategy or ``None``; only its chief writes.
        then: what the user can do with a complete run, e.g. ``"to evaluate it: tfseq lm eval ..."``.

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
    if done >= epochs and os.path.exists(run.file("model.keras")):
        name = epochs_key.rsplit(".", 1)[-1]
        print(f"run {run_dir} is complete ({done} of {epochs} epochs); nothing to train. To train further, "
              f"raise the epochs on the same run (e.g. {name}={epochs + 1}); {then}", flush=True)
        return False
    return True


def replicas_note(strategy, name):
    """``", 2 replicas (mirrored)"`` for the start line; ``""`` without a strategy."""
    from tfseq.train.distribute import worker_label

    if strategy is None:
        return ""
    label = worker_label(strategy)
    return f", {strategy.num_replicas_in_sync} replicas ({name}{', ' if label else ''}{label})"


def fit_run(trainer, command, strategy, max_steps):
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
