"""``Trainer(strategy=MirroredStrategy)`` over two logical CPU devices equals the single-device
Trainer on the same global batches (LM: weights, carried state rows, logged sums; the
translation model with its per-token mean; a mean-squared-error task split unevenly);
checkpoints written under the strategy load without it and the other way round; the weight
average under the strategy equals the single-device one; XLA under the strategy falls back for the LM with a warning.

Logical devices must be configured before TensorFlow initialises its devices, so the checks
run in a fresh interpreter (this file run as a script) and report JSON on its last line.
"""

import json
import os
import subprocess
import sys

import pytest

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Both checks in one fresh interpreter (one TensorFlow start-up)."""
    tmp = tmp_path_factory.mktemp("mirrored")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, __file__, str(tmp)], capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_lm_step_and_state_equal_single_device(results):
    result = results["lm"]
    assert result["replicas"] == 2
    # two steps with clipping (the norm is taken on the all-reduced gradient)
    assert result["clipped"], result
    assert result["weights"] < TOLERANCE, result
    assert result["state_rows"] < TOLERANCE, result
    assert result["sums"] < TOLERANCE * 10, result
    assert result["steps"] == [2, 2]
    # a checkpoint written under the strategy restores without one and vice versa
    assert result["strategy_to_single"] == 0.0 and result["single_to_strategy"] == 0.0, result
    # resumed under the strategy from the single-device checkpoint: continues like it
    assert result["resumed_steps"] == [4, 4], result
    assert result["resumed_equal"] < TOLERANCE, result
    assert result["different_steps"] == (
        "the replicas resumed from different checkpoints (global steps [4, 7] by replica): every worker must read "
        "the chief's checkpoint directory (storage shared by all hosts)"), result


def test_dropout_masks_per_replica_and_resume(results):
    result = results["lm"]
    assert result["dropout_masks_differ"], result
    expected = [[result["stride"], 0]] * 3  # input dropout + one DropoutWrapper per layer
    assert result["seed_offsets"] == expected and result["resumed_seed_offsets"] == expected, result
    assert result["dropout_resumed_equal"] < TOLERANCE, result


def test_translation_step_equals_single_device(results):
    """Two steps of C's TranslationModel (per-token mean objective, uneven rows and tokens)."""
    result = results["translation"]
    assert result["variables"] > 10 and result["weights"] < TOLERANCE, result


def test_adam_on_repeated_ids_equals_the_dense_gradient_step(results):
    """An embedding's repeated rows under the strategy: the same step as one device, and the
    dense-gradient step (Keras 3's Adam would square each repeated slice)."""
    result = results["embedding"]
    assert result["moved"] > 0.05 and result["dense"] < 1e-6 and result["single"] < 1e-6, result


def test_regression_uneven_split_xla_and_lm_xla_fallback(results):
    result = results["regression"]
    assert result["weights"] < TOLERANCE and result["xla_weights"] < TOLERANCE, result  # weights and averages
    assert result["averaged"] > 1e-3, result
    assert result["lm_xla_warning"], result
    assert result["lm_xla_weights"] < TOLERANCE, result  # the fallback equals the single-device graph


# -- the subprocess ----------------------------------------------------------------------------------
def _max_diff(a, b):
    import numpy as np
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b))


def _lm_parts(strategy, ckpt=None, clip=0.05, steps=60, jit=False, keep_prob=1.0):
    import contextlib

    import keras
    import numpy as np

    from tfseq.demos.lm import language_model_from_config, presets
    from tfseq.demos.lm.task import LanguageModelTask
    from tfseq.train import Trainer

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 11, 60 * steps).astype(np.int32)
    cfg = presets.get("test").with_overrides(hidden_size=8, num_layers=2, num_steps=5, batch_size=4,
                                             vocab_size=11, keep_prob=keep_prob, max_max_epoch=1)
    with strategy.scope() if strategy else contextlib.nullcontext():
        keras.utils.set_random_seed(3)
        model = language_model_from_config(cfg, seed=3)
        task = LanguageModelTask(model, ids, cfg.batch_size, cfg.num_steps)
        optimizer = keras.optimizers.SGD(1.0)
    trainer = Trainer(task, optimizer, 1, max_grad_norm=clip, checkpoint_dir=ckpt, jit_compile=jit,
                      strategy=strategy)
    return model, task, trainer


def _lm(tmp, strategy):
    single_model, single_task, single = _lm_parts(None, ckpt=os.path.join(tmp, "single"))
    mirrored_model, mirrored_task, mirrored = _lm_parts(strategy, ckpt=os.path.join(tmp, "mirrored"))
    initial = [v.numpy() for v in single_model.variables]
    assert _max_diff(initial, [v.numpy() for v in mirrored_model.variables]) == 0.0
    single.fit(max_steps=2)
    mirrored.fit(max_steps=2)
    result = {"replicas": strategy.num_replicas_in_sync,
              "weights": _max_diff([v.numpy() for v in single_model.trainable_variables],
                                   [v.numpy() for v in mirrored_model.trainable_variables]),
              "state_rows": _max_diff([v.numpy() for v in single_task._state],
                                      [v.numpy() for v in mirrored_task._state]),
              "sums": _max_diff([single._epoch_sums.numpy()], [mirrored._epoch_sums.numpy()]),
              "clipped": bool(single._epoch_sums.numpy()[2] / 2 > 0.05),
              "steps": [int(single.global_step.numpy()), int(mirrored.global_step.numpy())]}
    # cross-loading: mirrored checkpoint -> a fresh single-device trainer, and back
    fresh_model, fresh_task, fresh = _lm_parts(None, ckpt=os.path.join(tmp, "mirrored"))
    fresh.restore()
    result["strategy_to_single"] = _max_diff([v.numpy() for v in mirrored_model.variables + mirrored_task._state],
                                             [v.numpy() for v in fresh_model.variables + fresh_task._state])
    other_model, other_task, other = _lm_parts(strategy, ckpt=os.path.join(tmp, "single"))
    other.restore()
    result["single_to_strategy"] = _max_diff([v.numpy() for v in single_model.variables + single_task._state],
                                             [v.numpy() for v in other_model.variables + other_task._state])
    # resume under the strategy continues like the uninterrupted single-device run
    other.fit(max_steps=4)
    single.fit(max_steps=4)
    result["resumed_equal"] = _max_diff([v.numpy() for v in single_model.variables],
                                        [v.numpy() for v in other_model.variables])
    result["resumed_steps"] = [int(single.global_step.numpy()), int(other.global_step.numpy())]
    # replicas holding different steps (workers that restored from different directories) are refused
    from tfseq.train.distribute import check_same_step
    check_same_step(strategy, other.global_step)  # equal: passes
    strategy.experimental_local_results(other.global_step)[1].assign(7)
    try:
        check_same_step(strategy, other.global_step)
        result["different_steps"] = None
    except ValueError as err:
        result["different_steps"] = str(err)
    other.restore()  # every copy from the checkpoint again
    result.update(_dropout(tmp, strategy))
    return result


def _dropout(tmp, strategy):
    """keep_prob 0.5 under the strategy: each replica draws its own masks (its copy of every
    seed state is offset), also after a restore; an interrupted run resumes like an
    uninterrupted one."""
    import tensorflow as tf

    from tfseq.train.distribute import SEED_STRIDE

    model, _, trainer = _lm_parts(strategy, ckpt=os.path.join(tmp, "drop"), keep_prob=0.5)
    trainer.fit(max_steps=2)
    masks = strategy.experimental_local_results(
        strategy.run(tf.function(lambda: model.input_dropout(tf.ones([1, 64]), training=True))))
    states = [v.value for v in model.variables if "seed_generator_state" in v.path]
    offsets = [(strategy.experimental_local_results(v)[1] - strategy.experimental_local_results(v)[0]).numpy().tolist()
               for v in states]
    resumed_model, _, resumed = _lm_parts(strategy, ckpt=os.path.join(tmp, "drop"), keep_prob=0.5)
    resumed.fit(max_steps=4)
    resumed_offsets = [(strategy.experimental_local_results(v.value)[1] -
                        strategy.experimental_local_results(v.value)[0]).numpy().tolist()
                       for v in resumed_model.variables if "seed_generator_state" in v.path]
    straight_model, _, straight = _lm_parts(strategy, keep_prob=0.5)
    straight.fit(max_steps=4)
    return {"dropout_masks_differ": bool((masks[0].numpy() != masks[1].numpy()).any()),
            "seed_offsets": offsets, "resumed_seed_offsets": resumed_offsets, "stride": SEED_STRIDE,
            "dropout_resumed_equal": _max_diff([v.numpy() for v in resumed_model.trainable_variables],
                                               [v.numpy() for v in straight_model.trainable_variables])}


def _regression(strategy):
    import contextlib
    import warnings

    import keras
    import numpy as np
    import tensorflow as tf

    from tfseq.train import Trainer

    class Linear:  # a mean-squared-error task over a plain Python iterable of numpy batches
        def __init__(self):
            self.model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(1)])
            rng = np.random.default_rng(1)
            self.x = rng.normal(size=(7, 3)).astype(np.float32)  # 7 rows: an uneven split
            self.y = (self.x @ [[1.0], [-2.0], [0.5]] + 0.3).astype(np.float32)

        def steps_per_epoch(self):
            return 3

        def train_batches(self, start):
            return ((self.x, self.y) for _ in range(start, 3))

        def loss(self, batch, training):
            x, y = batch
            errors = tf.square(self.model(x, training=training) - y)
            return tf.reduce_mean(errors), {"loss_sum": tf.reduce_sum(errors), "count": tf.size(errors)}

    weights = []
    # single device; the strategy without XLA; the strategy with each replica's pass XLA-compiled
    for s, jit in ((None, False), (strategy, False), (strategy, True)):
        with s.scope() if s else contextlib.nullcontext():
            keras.utils.set_random_seed(5)
            task = Linear()
            optimizer = keras.optimizers.Adam(0.1)
        trainer = Trainer(task, optimizer, 1, max_grad_norm=1.0, jit_compile=jit, strategy=s,  # True: XLA or raise
                          weight_average=0.5)
        trainer.fit()
        weights.append([v.numpy() for v in task.model.trainable_variables + trainer.average.averages])
    result = {"weights": _max_diff(weights[0], weights[1]), "xla_weights": _max_diff(weights[0], weights[2]),
              "averaged": _max_diff(weights[0][:2], weights[0][2:])}  # the averages are not the weights
    # XLA: the LM's loss all-gathers its state, so under a strategy it falls back with a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _, trainer = _lm_parts(strategy, jit=None, clip=None)
        trainer.fit(max_steps=2)
    result["lm_xla_warning"] = any("cannot be compiled with XLA" in str(w.message) for w in caught)
    single_model, _, single = _lm_parts(None, jit=False, clip=None)  # the graph it fell back to
    single.fit(max_steps=2)
    result["lm_xla_weights"] = _max_diff([v.numpy() for v in model.trainable_variables],
                                         [v.numpy() for v in single_model.trainable_variables])
    return result


def _embedding(strategy):
    import contextlib

    import keras
    import numpy as np
    import tensorflow as tf

    from tfseq.train import Trainer

    ids = np.array([[1, 1, 1, 1, 2], [2, 3, 3, 1, 1]], np.int32)  # replica 0 sees row 1 four times

    class Embedding:
        def __init__(self):
            self.model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(4, 3)])

        def steps_per_epoch(self):
            return 1

        def train_batches(self, start):
            return [tf.constant(ids)][start:]

        def loss(self, batch, training):
            values = tf.reduce_sum(self.model(batch) * [1.0, 2.0, 3.0], axis=-1)  # [rows, 5]
            return tf.reduce_mean(values), {"loss_sum": tf.reduce_sum(values), "count": tf.size(values)}

    tables = []
    for s in (None, strategy):
        with s.scope() if s else contextlib.nullcontext():
            keras.utils.set_random_seed(6)
            task = Embedding()
            optimizer = keras.optimizers.Adam(0.1)
        initial = task.model.get_weights()[0]
        Trainer(task, optimizer, 1, jit_compile=False, strategy=s).fit()
        tables.append(task.model.get_weights()[0])
    keras.utils.set_random_seed(6)
    reference = Embedding()
    with tf.GradientTape() as tape:
        objective, _ = reference.loss(tf.constant(ids), True)
    table = reference.model.trainable_variables[0]
    keras.optimizers.Adam(0.1).apply_gradients([(tf.convert_to_tensor(tape.gradient(objective, table)), table)])
    return {"moved": float(np.abs(tables[1] - initial).max()), "dense": _max_diff([tables[1]], [table.numpy()]),
            "single": _max_diff([tables[0]], [tables[1]])}


def _translation(strategy):
    """C's TranslationModel (bi-encoder, attention) with its per-token mean objective on dict
    batches of different lengths: the replicas' token counts differ, so their weights do."""
    import contextlib

    import keras
    import numpy as np
    import tensorflow as tf

    from tfseq.demos.translate.model import TranslationModel, masked_xent
    from tfseq.train import Trainer

    rng = np.random.default_rng(2)
    batches = []
    for rows, src_len, tgt_len in ((5, 6, 5), (5, 6, 5)):  # 5 rows: an uneven split; one shape, one trace
        lengths = rng.integers(1, tgt_len + 1, rows)
        batches.append({"source": rng.integers(3, 20, (rows, src_len)).astype(np.int32),
                        "source_length": rng.integers(1, src_len + 1, rows).astype(np.int32),
                        "target_in": rng.integers(3, 20, (rows, tgt_len)).astype(np.int32),
                        "target_out": rng.integers(3, 20, (rows, tgt_len)).astype(np.int32),
                        "target_weight": (np.arange(tgt_len) < lengths[:, None]).astype(np.float32)})

    class Translation:
        def __init__(self):
            self.model = TranslationModel(20, 20, 8, num_layers=2, seed=4)
            self.model(batches[0])

        def steps_per_epoch(self):
            return len(batches)

        def train_batches(self, start):
            return iter(batches[start:])

        def loss(self, batch, training):
            loss_sum, count = masked_xent(self.model(batch, training=training), batch["target_out"],
                                          batch["target_weight"])
            return loss_sum / tf.maximum(count, 1.0), {"loss_sum": loss_sum, "count": count}

    weights = []
    for s in (None, strategy):
        with s.scope() if s else contextlib.nullcontext():
            keras.utils.set_random_seed(5)
            task = Translation()
            optimizer = keras.optimizers.SGD(1.0)  # not Adam: its first step is ~lr * sign(g), so a
            # rounding-level difference in a near-zero gradient would move a weight by ~lr
        Trainer(task, optimizer, 1, max_grad_norm=1.0, jit_compile=False, strategy=s).fit()
        weights.append([v.numpy() for v in task.model.trainable_variables])
    return {"weights": _max_diff(*weights), "variables": len(weights[0])}


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tmp = sys.argv[1]
    from tfseq.train.distribute import make_strategy

    # One strategy for the whole process: a second MirroredStrategy over the same devices
    # reuses collective instance keys and its first all-reduce is aborted.
    strategy = make_strategy("mirrored", 2)
    out = {"lm": _lm(tmp, strategy), "regression": _regression(strategy), "translation": _translation(strategy),
           "embedding": _embedding(strategy)}
    print(json.dumps(out))
