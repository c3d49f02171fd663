"""TensorBoard output of a training run, read back with TensorBoard's own EventAccumulator."""

import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from tfseq.demos.lm import LanguageModelTask, language_model_from_config, presets
from tfseq.train import Progress, RunWriters, Trainer, default_run_name, repository_logdir


def load(path):
    acc = EventAccumulator(path, size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def values(acc, tag):
    return [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("logdir") / "exp" / "run1")
    cfg = presets.get("test").with_overrides(hidden_size=8, num_steps=5, batch_size=4, max_epoch=1,
                                             max_max_epoch=2, vocab_size=10)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = language_model_from_config(cfg, seed=0)
    task = LanguageModelTask(model, rng.integers(0, 10, 1000).astype(np.int32), 4, 5,
                             valid_ids=rng.integers(0, 10, 300).astype(np.int32),
                             texts=lambda epoch: {"samples": f"* sample of epoch {epoch + 1}"})
    writers = RunWriters(run_dir)
    writers.hparams({**cfg.to_dict(), "data": "generated"})
    stream = io.StringIO()
    Trainer(task, keras.optimizers.SGD(1.0), cfg.max_max_epoch, cfg.learning_rate_at, cfg.max_grad_norm,
            writers=writers, log_every=10, progress=Progress(stream=stream, lines=stream)).fit()
    writers.close()
    return run_dir, stream.getvalue()


def test_layout(run_dir):
    path, _ = run_dir
    assert {"train", "validation"} <= set(os.listdir(path))  # logdir/<experiment>/<run>/{train,validation}
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(path))  # hparams at the run level


def test_train_scalars(run_dir):
    acc = load(os.path.join(run_dir[0], "train"))
    tags = set(acc.Tags()["tensors"])
    assert {"Training Loss", "Learning Rate", "Perplexity", "Gradient Norm", "words_per_second"} <= tags
    steps_per_epoch = (1000 // 4 - 1) // 5  # 49
    lr = values(acc, "Learning Rate")
    assert [s for s, _ in lr] == [10, 20, 30, 40, 49, 59, 69, 79, 89, 98]
    assert [v for s, v in lr] == [1.0] * 5 + [0.5] * 5  # the schedule, epoch by epoch
    for (s, loss), (_, ppl) in zip(values(acc, "Training Loss"), values(acc, "Perplexity")):
        assert ppl == pytest.approx(np.exp(loss), rel=1e-5) and 0 < loss < 5
    assert all(v > 0 for _, v in values(acc, "words_per_second"))
    assert all(0 < v for _, v in values(acc, "Gradient Norm"))
    assert max(s for s, _ in lr) == 2 * steps_per_epoch


def test_histograms_and_samples(run_dir):
    acc = load(os.path.join(run_dir[0], "train"))
    tags = acc.Tags()["tensors"]
    hist = [t for t in tags if t.startswith("weights/")]
    model_name = hist[0].split("/")[1]  # language_model, language_model_1, ... (Keras unique names)
    assert {f"weights/{model_name}/softmax_w", f"weights/{model_name}/embedding/embeddings"} <= set(hist)
    assert len(hist) == 5  # embedding, LSTM kernel and bias, softmax weight and bias
    assert acc.SummaryMetadata(hist[0]).plugin_data.plugin_name == "histograms"
    texts = acc.Tensors("samples")
    assert [e.step for e in texts] == [49, 98]
    assert tf.make_ndarray(texts[1].tensor_proto).item().decode() == "* sample of epoch 2"
    assert acc.SummaryMetadata("samples").plugin_data.plugin_name == "text"


def test_validation_scalars(run_dir):
    acc = load(os.path.join(run_dir[0], "validation"))
    loss = values(acc, "Validation Loss")
    assert [s for s, _ in loss] == [49, 98]
    ppl = values(acc, "Perplexity")
    assert [p for _, p in ppl] == pytest.approx([np.exp(v) for _, v in loss], rel=1e-6)


def test_hparams(run_dir):
    acc = load(run_dir[0])
    tags = acc.Tags()["tensors"]
    assert hparams_metadata.SESSION_START_INFO_TAG in tags
    content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    assert info.hparams["hidden_size"].number_value == 8
    assert info.hparams["cell"].string_value == "lstm"
    assert info.hparams["data"].string_value == "generated"
    assert info.group_name == "run1"


def test_progress_bar_shows_live_metrics(run_dir):
    out = run_dir[1]
    assert "epoch 2/2" in out and "loss=" in out and "perplexity=" in out and "words/s=" in out
    assert "Epoch 1, lr 1, train perplexity" in out and "validation perplexity" in out


def test_writers_reject_bad_split_and_dir(tmp_path):
    writers = RunWriters(str(tmp_path / "run"))
    with pytest.raises(ValueError, match="split must be one of"):
        writers.scalars("valid", {"x": 1.0}, 0)
    with pytest.raises(ValueError, match="run_dir must be a non-empty path"):
        RunWriters("")


def test_default_run_name():
    name = default_run_name("names", "tiny", "lstm")
    assert name.startswith("names-tiny-lstm-") and len(name) == len("names-tiny-lstm-") + 15


def test_repository_logdir_is_the_clones_logdir_wherever_the_search_starts(tmp_path, monkeypatch):
    monkeypatch.delenv("TFSEQ_NOTEBOOK_LOGDIR", raising=False)
    clone = tmp_path / "clone"
    (clone / "tfseq").mkdir(parents=True)
    (clone / "setup.cfg").write_text("[metadata]\nname = tfseq\n")
    (clone / "notebooks" / "deeper").mkdir(parents=True)
    for where in (clone, clone / "notebooks", clone / "notebooks" / "deeper"):
        monkeypatch.chdir(where)
        assert repository_logdir() == clone.resolve() / "logdir"
        assert repository_logdir(start=tmp_path) == tmp_path.resolve() / "logdir"  # start wins over the cwd
    assert repository_logdir(start=str(clone / "notebooks")) == clone.resolve() / "logdir"
    # a setup.cfg without a tfseq/ folder beside it is not a clone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "setup.cfg").write_text("[metadata]\nname = other\n")
    monkeypatch.chdir(elsewhere)
    assert repository_logdir() == elsewhere.resolve() / "logdir"
    monkeypatch.setenv("TFSEQ_NOTEBOOK_LOGDIR", str(tmp_path / "override"))
    assert repository_logdir() == tmp_path / "override"
    assert repository_logdir(start=clone) == tmp_path / "override"


def test_a_scalar_beyond_float32_is_written_as_inf(tmp_path):
    """A diverged loss (1e308, finite in Python) is written, as inf, instead of failing the run."""
    writers = RunWriters(str(tmp_path / "run"))
    writers.scalars("train", {"Training Loss": 1e308, "Learning Rate": 0.5}, step=3)
    writers.close()
    acc = load(str(tmp_path / "run" / "train"))
    assert values(acc, "Training Loss") == [(3, float("inf"))]
    assert values(acc, "Learning Rate") == [(3, 0.5)]
