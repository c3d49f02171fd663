"""``tf.distribute`` for :class:`~tfseq.train.loop.Trainer`: strategies by name, the global
batch split among replicas, the optimizer and the model under a strategy, and who writes what.

* **The API.** Build the model, the task *and the optimizer* inside ``strategy.scope()``,
  then pass the strategy: ``Trainer(task, optimizer, epochs, strategy=strategy)``. The
  Trainer creates its own counters in the same scope. The batch a task yields is the
  *global* batch; replica ``r`` of ``n`` gets rows ``[floor(r*B/n), floor((r+1)*B/n))``
  (contiguous blocks in ``replica_id_in_sync_group`` order), a ``tf.data.Dataset`` through
  ``strategy.distribute_datasets_from_function``, any other iterable through
  ``strategy.experimental_distribute_values_from_function``.
* **The step** (:mod:`tfseq.train.step`, under ``strategy.run``): each replica computes its
  ``task.loss``; its objective is weighted by its share of the global ``count``
  (``count_r / sum(count)``), so an objective that is a mean over the counted items (a
  batch-mean cost, a per-token mean, a mean squared error) gives the
  single-device gradient when the weighted gradients are summed. A task whose objective
  is a *sum* sets ``objective_reduction = "sum"`` (no weighting). The gradients are
  all-reduced (SUM) once, the global norm is taken and clipped on the summed gradient
  exactly as on one device, and the optimizer applies them without reducing again.
* **The command line**: :mod:`tfseq.demos.strategy_args` (``--strategy`` ...).
* **Writes.** Only the chief (``strategy.extended.should_checkpoint``) writes TensorBoard
  events and checkpoints; other workers save to a scratch directory they delete at once
  (TF's multi-worker guide), and every worker restores from the chief's checkpoint
  directory, which therefore has to be shared storage across hosts.
"""

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi-worker")
COLLECTIVE_TIMEOUT = 60.0  # seconds a collective may wait for a peer before the job ends


class WorkerLostError(RuntimeError):
    """A peer of a multi-worker job stopped responding; the last checkpoint is intact."""

    @classmethod
    def from_error(cls, err: BaseException) -> "WorkerLostError":
        return cls(f"a worker of the job stopped responding ({describe(err)}); the last checkpoint is intact: "
                   "start every worker again with the same command to resume")


# -- strategies by name ------------------------------------------------------------------------
def make_strategy(name: str, devices: int | None = None,
                  timeout_seconds: float = COLLECTIVE_TIMEOUT) -> tf.distribute.Strategy | None:
    """The strategy for ``--strategy NAME``, or ``None`` for ``"default"`` (no strategy).

    Args:
        name: ``"default"``, ``"mirrored"`` (all replicas in this process: ``devices`` GPUs,
            or ``devices`` logical CPU devices on a machine without a GPU) or
            ``"multi-worker"`` (``MultiWorkerMirroredStrategy``, one process per worker,
            the cluster read from the ``TF_CONFIG`` environment variable).
        devices: replicas for ``"mirrored"`` (int > 0; default: every GPU, else 1 CPU).
            Making logical CPU devices must happen before TensorFlow initialises its
            devices, so call this first thing in the program.
        timeout_seconds: ``"multi-worker"``: how long a collective (all-reduce) waits for a
            peer before failing, so a job whose worker died ends in bounded time.

    Raises:
        ValueError: unknown name, bad ``devices``, missing or malformed ``TF_CONFIG``,
            devices already initialised.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if devices is not None and (isinstance(devices, bool) or not isinstance(devices, int) or devices <= 0):
        raise ValueError(f"devices must be a positive integer, got {devices!r}")
    if devices is not None and name != "mirrored":
        raise ValueError(f"devices is for the mirrored strategy only, got devices={devices} with {name!r}")
    if name == "default":
        return None
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(_mirrored_devices(devices))
    check_tf_config(os.environ.get("TF_CONFIG"))
    if isinstance(timeout_seconds, bool) or not timeout_seconds or not timeout_seconds > 0:
        raise ValueError(f"timeout_seconds must be > 0, got {timeout_seconds!r}")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=float(timeout_seconds))
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _mirrored_devices(count):
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        count = count or len(gpus)
        if count > len(gpus):
            raise ValueError(f"devices={count} but this machine has {len(gpus)} GPUs")
        return [f"/gpu:{i}" for i in range(count)]
    count = count or 1
    cpu = tf.config.list_physical_devices("CPU")[0]
    if count > 1:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:  # devices initialised: only fine if they are already split so
            if len(tf.config.list_logical_devices("CPU")) < count:
                raise ValueError(f"devices={count}: TensorFlow's devices are already initialised with "
                                 f"{len(tf.config.list_logical_devices('CPU'))} CPU device(s); create the "
                                 "strategy before running any TensorFlow op") from None
    return [f"/cpu:{i}" for i in range(count)]


def check_tf_config(text: str | None) -> dict[str, Any]:
    """Validate a ``TF_CONFIG`` value (JSON with ``cluster`` and ``task``); returns it parsed."""
    if not text:
        raise ValueError("the multi-worker strategy needs the TF_CONFIG environment variable, e.g. "
                         'TF_CONFIG=\'{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
                         '"task": {"type": "worker", "index": 0}}\'')
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task_type, index = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"TF_CONFIG must be JSON with cluster.worker and task.type/task.index, got {text!r}") \
            from None
    if task_type not in config["cluster"] or not 0 <= index < len(config["cluster"][task_type]):
        raise ValueError(f"TF_CONFIG: task {task_type}:{index} is not in the cluster {config['cluster']}")
    if not workers:
        raise ValueError(f"TF_CONFIG: cluster.worker is empty, got {text!r}")
    return config


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes summaries and checkpoints (always, without a strategy)."""
    return strategy is None or bool(strategy.extended.should_checkpoint)


def worker_label(strategy: tf.distribute.Strategy | None) -> str:
    """``"worker 1"`` for a multi-worker task, ``""`` otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return ""
    return f"{resolver.task_type} {resolver.task_id}"


class ScratchDirectory:
    """A non-chief worker's checkpoint target: a fresh temporary directory, deleted after use."""

    def __enter__(self) -> str:
        self.path = tempfile.mkdtemp(prefix="tfseq-worker-ckpt-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


# -- the global batch split among replicas --------------------------------------------------
def replica_rows(batch: Any, replica: Any, replicas: int) -> Any:
    """Rows ``[floor(r*B/n), floor((r+1)*B/n))`` of every tensor of ``batch`` (any nest)."""
    def take(t):
        t = tf.convert_to_tensor(t)
        rows = tf.shape(t, out_type=tf.int64)[0]
        r = tf.cast(replica, tf.int64)
        return t[rows * r // replicas:rows * (r + 1) // replicas]
    return tf.nest.map_structure(take, batch)


def distribute_batches(strategy: tf.distribute.Strategy, batches_fn: Callable[[], Any]) -> Iterator[Any]:
    """An iterator of per-replica batches over the global batches ``batches_fn()`` yields."""
    probe = batches_fn()
    replicas = strategy.num_replicas_in_sync
    if isinstance(probe, tf.data.Dataset):
        def dataset_fn(context):
            local = context.num_replicas_in_sync // context.num_input_pipelines
            first = context.input_pipeline_id * local
            dataset = probe if context.input_pipeline_id == 0 else batches_fn()

            def split(*element):
                batch = element[0] if len(element) == 1 else element
                ids = tf.data.Dataset.range(first, first + local)
                return ids.map(lambda r: replica_rows(batch, r, replicas))
            return dataset.flat_map(split)
        options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
        return iter(strategy.distribute_datasets_from_function(dataset_fn, options))
    return _distribute_iterable(strategy, probe, replicas)


def _distribute_iterable(strategy, batches, replicas):
    for batch in batches:
        yield strategy.experimental_distribute_values_from_function(
            lambda context, batch=batch: replica_rows(batch, context.replica_id_in_sync_group, replicas))


# -- the optimizer and the model under a strategy ---------------------------------------------
def apply_without_reduction(optimizer: Any) -> None:
    """Make ``optimizer`` apply gradients as given in replica context: the training step
    (:mod:`tfseq.train.step`) already all-reduced (and clipped) them, and Keras' TF optimizer
    would SUM them again."""
    if not hasattr(type(optimizer), "_all_reduce_sum_gradients"):
        raise ValueError(f"Trainer: under a strategy the optimizer must be a Keras optimizer (TensorFlow "
                         f"backend), got {type(optimizer).__name__}")
    object.__setattr__(optimizer, "_all_reduce_sum_gradients", list)


def check_created_in_scope(strategy: tf.distribute.Strategy, model: Any, optimizer: Any) -> None:
    """``ValueError`` unless the model's variables and the optimizer belong to ``strategy``."""
    for variable in model.variables:
        handle = getattr(variable, "value", variable)
        if not strategy.extended.variable_created_in_scope(handle):
            raise ValueError(f"Trainer: the model's variable {variable.path!r} was not created under "
                             "strategy.scope(); build the model, the task and the optimizer inside "
                             "`with strategy.scope():`")
    if getattr(optimizer, "_distribution_strategy", strategy) is not strategy:
        raise ValueError("Trainer: the optimizer was not created under strategy.scope(); create it inside "
                         "`with strategy.scope():`")


SEED_STRIDE = 1_000_003  # replica r's dropout streams start at seed + r * SEED_STRIDE


def decorrelate_seeds(strategy: tf.distribute.Strategy, model: Any) -> None:
    """Give every replica its own random stream (dropout masks).

    Keras' ``SeedGenerator`` states are mirrored variables: every replica would draw the
    same masks for its rows. Replica ``r``'s copy of each state is offset by
    ``r * SEED_STRIDE`` in the seed; each copy then advances on its own. A checkpoint
    saves replica 0's copy (the single-device stream), so call this again after a restore.
    """
    states = [getattr(v, "value", v) for v in model.variables if "seed_generator_state" in v.path]
    if not states or strategy.num_replicas_in_sync == 1:
        return
    ids = strategy.experimental_local_results(
        strategy.experimental_distribute_values_from_function(lambda context: context.replica_id_in_sync_group))
    for state in states:
        copies = strategy.experimental_local_results(state)
        base = tf.identity(copies[0].read_value())  # all copies hold the same (initial or restored) state
        for copy, replica in zip(copies, ids):
            offset = tf.constant([int(replica) * SEED_STRIDE] + [0] * (base.shape[0] - 1), base.dtype)
            copy.assign(base + offset)


def check_same_step(strategy: tf.distribute.Strategy, global_step: tf.Variable) -> None:
    """``ValueError`` unless every replica holds the same ``global_step`` (after a restore:
    workers that read different checkpoint directories would otherwise train apart)."""
    if strategy.num_replicas_in_sync == 1:
        return
    steps = strategy.run(tf.function(lambda: tf.distribute.get_replica_context().all_gather(
        tf.reshape(global_step.read_value(), [1]), axis=0)))
    steps = strategy.experimental_local_results(steps)[0].numpy().tolist()
    if len(set(steps)) > 1:
        raise ValueError(f"the replicas resumed from different checkpoints (global steps {steps} by replica): "
                         "every worker must read the chief's checkpoint directory (storage shared by all "
                         "hosts)")


def collective_failure(err: BaseException) -> bool:
    """Whether ``err`` is a collective that failed because a peer is gone."""
    return isinstance(err, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                            tf.errors.CancelledError, tf.errors.AbortedError))


def describe(err: BaseException, limit: int = 240) -> str:
    """One line for a failed collective: the error class and its message without TF's
    ``{{function_node ...}}`` prefixes."""
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", str(err)).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:limit]}"
