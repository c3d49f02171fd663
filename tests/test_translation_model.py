"""TranslationModel and TranslationTask: masked loss, config/serialisation, decoding, schedule, BLEU,
and a toy reversal task learnt through the shared Trainer."""

import math

import keras
import numpy as np
import pytest
import sacrebleu
import tensorflow as tf

from tfseq.data.parallel import ParallelCorpus
from tfseq.data.subwords import EOS_ID, WordTokenizer
from tfseq.demos.translate import presets as translation_presets
from tfseq.demos.translate.model import TranslationModel, masked_xent, translation_model_from_config
from tfseq.demos.translate.task import NMTLearningRate, TranslationTask, corpus_bleu
from tfseq.seq2seq import fused_attention
from tfseq.train import Trainer


def _np_xent(logits, targets, weights):
    shifted = logits - logits.max(-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    return float(-(picked * weights).sum()), float(weights.sum())


def test_masked_loss_matches_numpy_and_ignores_padding():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    targets = rng.integers(0, 7, (3, 5)).astype(np.int32)
    weights = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], np.float32)
    loss_sum, count = masked_xent(logits, targets, weights)
    expected = _np_xent(logits, targets, weights)
    np.testing.assert_allclose([float(loss_sum), float(count)], expected, rtol=1e-5)
    changed_logits, changed_targets = logits.copy(), targets.copy()
    changed_logits[weights == 0] = rng.normal(size=(int((weights == 0).sum()), 7)) * 10
    changed_targets[weights == 0] = 0
    again = masked_xent(changed_logits, changed_targets, weights)
    np.testing.assert_allclose(float(again[0]), float(loss_sum), rtol=1e-6)


def _batch():
    return {"source": tf.constant([[4, 5, 6, 0], [7, 4, 0, 0]]), "source_length": tf.constant([3, 2]),
            "target_in": tf.constant([[2, 5, 6], [2, 4, 0]])}


@pytest.mark.parametrize("attention, encoder", [("luong", "uni"), ("normed_bahdanau", "bi")])
def test_keras_save_load_and_config(tmp_path, attention, encoder):
    model = TranslationModel(12, 10, 8, num_layers=2, cell="gru", encoder_type=encoder, attention=attention,
                             residual=True, dropout=0.2, output_attention=attention == "luong", seed=3)
    model.build()
    logits = model(_batch())
    assert logits.shape == (2, 3, 10)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(_batch()).numpy(), logits.numpy(), atol=1e-6)
    greedy = model.translate(_batch()["source"], _batch()["source_length"])
    np.testing.assert_array_equal(loaded.translate(_batch()["source"], _batch()["source_length"])["ids"],
                                  greedy["ids"])


@pytest.mark.parametrize("cell,attention,dropout,residual", [
    ("lstm", "scaled_luong", 0.0, False), ("lstm", "scaled_luong", 0.3, False),
    ("gru", "bahdanau", 0.5, False),  # the multi30k preset's model
    ("gru", "normed_bahdanau", 0.0, False), ("lstm", "luong", 0.3, True),
])
def test_teacher_forcing_takes_the_hoisted_loop_and_equals_the_per_step_path(monkeypatch, cell, attention, dropout,
                                                                              residual):
    model = TranslationModel(12, 10, 8, num_layers=2, cell=cell, encoder_type="bi", attention=attention,
                             dropout=dropout, residual=residual, seed=3)
    model.build()
    samplers = [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]
    assert len(samplers) == (4 if dropout else 0)  # two encoder and two decoder layers
    start = [v.numpy() for v in samplers]
    taken = []
    teacher_forced = fused_attention.teacher_forced
    monkeypatch.setattr(fused_attention, "teacher_forced", lambda *a, **k: taken.append(1) or teacher_forced(*a, **k))

    def logits_and_grads():
        for variable, value in zip(samplers, start):  # the same dropout masks on both paths
            variable.assign(value)
        with tf.GradientTape() as tape:
            logits = model(_batch(), training=True)
            loss = tf.reduce_sum(tf.sin(logits))
        return [logits] + tape.gradient(loss, model.trainable_variables) + [v.numpy() for v in samplers]

    hoisted = logits_and_grads()
    assert taken == [1]
    monkeypatch.setattr(fused_attention, "plan", lambda cell, training=None: fused_attention.Plan(
        fused_attention.PER_STEP, "forced by the test"))
    per_step = logits_and_grads()
    assert taken == [1]
    assert len(hoisted) == len(per_step) == 1 + len(model.trainable_variables) + len(samplers)
    for mine, ref in zip(hoisted, per_step):
        np.testing.assert_allclose(tf.convert_to_tensor(mine), tf.convert_to_tensor(ref), atol=1e-5, rtol=0)


def test_the_per_step_forward_traces_with_unknown_shapes(monkeypatch):
    """As the demo's evaluation step traces it: batch and lengths unknown, the decoder per step."""
    model = TranslationModel(12, 10, 8, num_layers=2, cell="gru", attention="bahdanau", seed=3)
    model.build()
    expected = model(_batch(), training=False)
    monkeypatch.setattr(fused_attention, "plan", lambda cell, training=None: fused_attention.Plan(
        fused_attention.PER_STEP, "forced by the test"))
    signature = {k: tf.TensorSpec([None] * len(v.shape), v.dtype) for k, v in _batch().items()}
    traced = tf.function(lambda batch: model(batch, training=False), input_signature=[signature])
    np.testing.assert_allclose(traced(_batch()).numpy(), expected.numpy(), atol=1e-5)


def test_beam_width_one_is_greedy_and_lengths_stop_at_end_token():
    model = TranslationModel(12, 10, 8, num_layers=2, seed=1)
    model.build()
    source, length = _batch()["source"], _batch()["source_length"]
    greedy = model.translate(source, length, alignments=True)
    beam1 = model.translate(source, length, beam_width=1)
    np.testing.assert_array_equal(greedy["ids"], beam1["ids"])
    beam3 = model.translate(source, length, beam_width=3, length_penalty=1.0)
    assert beam3["ids"].shape[0] == 2 and greedy["ids"].shape[1] <= math.ceil(2.0 * 3)
    for ids, n in zip(greedy["ids"].numpy(), greedy["lengths"].numpy()):
        assert EOS_ID not in ids[:n] and (n == len(ids) or ids[n] == EOS_ID)
    weights = greedy["alignments"].numpy()  # [batch, L, S]: a distribution over the real source tokens
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert (weights[1, :, 2:] == 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_layers=3, encoder_type="bi"), "num_layers must be even with encoder_type='bi', got 3"),
    (dict(attention="dot"), "attention must be one of"),
    (dict(dropout=1.0), r"dropout must be in \[0, 1\), got 1.0"),
    (dict(num_units=0), "num_units"),
])
def test_bad_arguments(kwargs, message):
    args = dict(src_vocab_size=10, tgt_vocab_size=10, num_units=4)
    with pytest.raises(ValueError, match=message):
        TranslationModel(**{**args, **kwargs})


def test_config_validation():
    tiny = translation_presets.get("tiny")
    assert tiny.with_overrides(num_units=64).num_units == 64
    with pytest.raises(ValueError, match="unknown config key 'units'"):
        tiny.with_overrides(units=3)
    with pytest.raises(ValueError, match="TranslationConfig.decay_scheme must be one of"):
        tiny.with_overrides(decay_scheme="cosine")
    with pytest.raises(ValueError, match="unknown config 'huge'"):
        translation_presets.get("huge")


def test_nmt_learning_rate_schedule():
    # nmt luong234 with 1200 steps: staircase halving every 100 steps from step 800, at most 4 times
    lr = NMTLearningRate(1.0, total_steps=1200, decay_scheme="luong234")
    values = [float(lr(s)) for s in (0, 799, 800, 899, 900, 1100, 1199, 5000)]
    assert values == [1.0, 1.0, 1.0, 1.0, 0.5, 0.125, 0.125, 0.0625]
    warm = NMTLearningRate(0.5, total_steps=100, warmup_steps=10)
    np.testing.assert_allclose([float(warm(s)) for s in (0, 5, 10, 50)], [0.5 * 0.01, 0.5 * 0.1, 0.5, 0.5], rtol=1e-5)
    assert NMTLearningRate.from_config(lr.get_config()).get_config() == lr.get_config()


def test_bleu_is_sacrebleus_own():
    hyps = ["the cat sat on the mat", "a dog .", "hello world"]
    refs = ["the cat sat on a mat", "a dog ran .", "hello there world"]
    score, signature = corpus_bleu(hyps, refs)
    assert score == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert "tok:13a" in signature and "version:" in signature


def _reverse_corpus(rng, n):
    pairs = []
    for _ in range(n):
        word = list(rng.choice(list("abcdefgh"), rng.integers(3, 7)))
        pairs.append((" ".join(word), " ".join(word[::-1])))
    return pairs


def test_reversal_learnt_to_high_bleu():
    rng = np.random.default_rng(0)
    corpus = ParallelCorpus("reverse", "x", "y", _reverse_corpus(rng, 1500), _reverse_corpus(rng, 100), [])
    config = translation_presets.get("tiny").with_overrides(
        num_units=32, num_layers=1, encoder_type="uni", batch_size=32, epochs=4, learning_rate=0.01, dropout=0.0,
        tokenizer="word", max_length=8, num_buckets=1)
    src = WordTokenizer.train([s for s, _ in corpus.train])
    tgt = WordTokenizer.train([t for _, t in corpus.train])
    keras.utils.set_random_seed(0)
    model = translation_model_from_config(config, src.size, tgt.size, seed=0)
    task = TranslationTask(model, src, tgt, corpus, config)
    history = Trainer(task, keras.optimizers.Adam(config.learning_rate), epochs=config.epochs,
                      jit_compile=False).fit()
    losses = [record["train_loss"] for record in history]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.5 * losses[0]
    assert history[-1]["validation_bleu"] > 90.0, history[-1]
    result = task.score(corpus.valid)
    assert result["BLEU"] == sacrebleu.corpus_bleu(result["hypotheses"], [[t for _, t in corpus.valid]]).score
    # score() decodes from its loss batches (padded to source and target): same as translating the sources alone
    assert result["hypotheses"] == task.translate([s for s, _ in corpus.valid])
    assert task.translate(["a b c d"]) == ["d c b a"]
