"""The demos' ``precision`` option through the real command line: ``precision=mixed_bfloat16``
trains every demo family for a few steps (finite float32 weights in the checkpoint), a bad
value is refused naming the field, and a mixed model keeps its policy through a ``.keras`` file
without changing Keras' global policy."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_runs import checkpoint_step, final_weights
from demo_runs import word_pairs_tsv

from tfseq.cli.main import main
from tfseq.demos.frame import dtype_policy_scope
from tfseq.demos.lm import presets as lm_presets
from tfseq.demos.lm.model import language_model_from_config

MIXED = "precision=mixed_bfloat16"


COMMANDS = {
    "lm": lambda tmp: ["lm", "train", "--config", "tiny", "--no-progress", "--samples", "0",
                       "hidden_size=16", "batch_size=64", "num_steps=10", "max_max_epoch=1", MIXED],
    "translate": lambda tmp: ["translate", "train", "--data", str(word_pairs_tsv(tmp / "pairs.tsv")), "--src", "es",
                              "--tgt", "en", "--no-progress", "--no-xla", "--eval-sentences", "4", "num_units=16",
                              "num_layers=2", "tokenizer=word", "epochs=1", "batch_size=32", MIXED],
    "classify": lambda tmp: ["classify", "train", "--no-progress", "--no-xla", "embedding_dim=8", "num_units=8",
                             "batch_size=64", "max_length=16", "num_buckets=2", "epochs=1", "min_count=3", MIXED],
    "tag": lambda tmp: ["tag", "train", "--no-progress", "--no-xla", "num_units=8", "embedding_size=8",
                        "batch_size=64", "epochs=1", "num_buckets=2", "variant=slot_gated", MIXED],
    "regress": lambda tmp: ["regress", "--epochs", "1", "--steps-per-epoch", "4", "--precision", "mixed_bfloat16"],
}


@pytest.mark.parametrize("demo", sorted(COMMANDS))
def test_each_demo_trains_with_mixed_precision(demo, tmp_path, capsys):
    logdir = tmp_path / "logs"
    argv = COMMANDS[demo](tmp_path) + ["--logdir", str(logdir), "--run", "r", "--max-steps", "3"]
    assert main(argv) == 0, capsys.readouterr().err
    assert keras.config.dtype_policy().name == "float32"  # nothing leaked into the process
    # without --no-xla, the step skips XLA on a CPU (bfloat16 runs faster without it) and says so
    skipped = "--no-xla" not in argv and not tf.config.list_logical_devices("GPU")
    assert ("no XLA: bfloat16 runs faster without it on a CPU" in capsys.readouterr().out) is skipped
    run = logdir / "r"
    if demo != "regress":
        assert json.loads((run / "config.json").read_text())["config"]["precision"] == "mixed_bfloat16"
    assert checkpoint_step(str(run)) == 3
    # the master weights after three mixed-precision steps: float32 and finite (int64: dropout seeds)
    weights = [w for w in final_weights(str(run)).values() if w.dtype != np.int64]
    assert weights and all(w.dtype == np.float32 and np.isfinite(w).all() for w in weights)


@pytest.mark.parametrize("argv", [
    ["lm", "train", "--config", "tiny", "precision=bfloat16"],
    ["classify", "train", "precision=fp16"],
    ["regress", "--precision", "half"],
])
def test_a_bad_precision_is_refused_naming_the_field(argv, tmp_path, capsys):
    assert main(argv + ["--logdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "precision" in err and argv[-1].split("=")[-1] in err, err


def test_preset_rejects_an_unknown_precision():
    with pytest.raises(ValueError, match=r"LMConfig.precision must be one of float32, mixed_bfloat16, got 'bf16'"):
        lm_presets.get("tiny").with_overrides(precision="bf16")


def test_mixed_model_keeps_its_policy_through_a_keras_file(tmp_path):
    config = lm_presets.get("tiny").with_overrides(vocab_size=30, hidden_size=8, precision="mixed_bfloat16")
    model = language_model_from_config(config, seed=3)
    assert keras.config.dtype_policy().name == "float32"
    layers = [model, model.embedding, *model.cell.cells]
    assert {layer.dtype_policy.name for layer in layers} == {"mixed_bfloat16"}
    assert {w.dtype for w in model.weights} == {"float32"}
    ids = tf.constant(np.arange(12).reshape(2, 6) % 30, tf.int32)
    logits, _ = model(ids, initial_state=model.get_initial_state(2))
    assert logits.dtype == tf.float32
    model.save(tmp_path / "lm.keras")
    loaded = keras.models.load_model(tmp_path / "lm.keras")
    assert {layer.dtype_policy.name for layer in [loaded, loaded.embedding, *loaded.cell.cells]} == {"mixed_bfloat16"}
    again, _ = loaded(ids, initial_state=loaded.get_initial_state(2))
    np.testing.assert_array_equal(again, logits)
    assert keras.config.dtype_policy().name == "float32"


def test_dtype_policy_scope_restores_the_global_policy_after_an_error():
    with pytest.raises(RuntimeError), dtype_policy_scope("mixed_bfloat16"):
        assert keras.layers.Dense(2).dtype_policy.name == "mixed_bfloat16"
        raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"


def test_a_float32_runs_settings_do_not_name_the_precision():
    """``config.json`` of a float32 run reads as before the field existed, so such runs resume."""
    tiny = lm_presets.get("tiny")
    assert "precision" not in tiny.to_dict()
    assert tiny.with_overrides(precision="mixed_bfloat16").to_dict()["precision"] == "mixed_bfloat16"
    assert type(tiny)(**tiny.to_dict()) == tiny
