"""The tagger ensemble: each member trains as it would alone, predictions decode the members' mean
scores, and the ensemble saves to ``.keras`` and back."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import text
from tfseq.data.slots import SlotCorpus, SlotVocabularies, load_slots
from tfseq.demos.tag import presets
from tfseq.demos.tag.model import MEMBER_SEED_STRIDE, TaggerEnsemble, tag_model_from_config
from tfseq.demos.tag.task import TagTask
from tfseq.train import Trainer


def _corpus(train=48, valid=16):
    shipped = load_slots("builtin:snips")
    return SlotCorpus("small", shipped.train[:train], shipped.valid[:valid], [])


def _config(**overrides):
    settings = dict(num_units=8, embedding_size=6, batch_size=16, epochs=2, learning_rate=0.01, dropout=0.2,
                    word_dropout=0.1, num_buckets=2, crf=True, variant="slot_gated", char_embedding_size=4,
                    char_filters=5, max_chars=6, members=2, max_grad_norm=None)
    return presets.get("tiny").with_overrides(**{**settings, **overrides})


def _feed(task, utterances):
    batch = next(iter(task._batches(utterances).in_order()))
    return {k: tf.constant(v) for k, v in batch.items() if k != "index"}


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_each_member_trains_as_it_would_alone():
    corpus = _corpus()
    vocab = SlotVocabularies.build(corpus.train)
    config = _config()
    keras.utils.set_random_seed(0)
    ensemble = tag_model_from_config(config, vocab, seed=3)
    first, second = ensemble.members()
    assert not np.allclose(first.embedding.embeddings.numpy(), second.embedding.embeddings.numpy())
    # member 1 alone: its initial weights, its dropout seed, the ensemble's batches and word dropout
    lone = tag_model_from_config(config.with_overrides(members=1), vocab, seed=3 + MEMBER_SEED_STRIDE)
    lone.set_weights(second.get_weights())
    histories = {}
    for name, model in (("ensemble", ensemble), ("lone", lone)):
        task = TagTask(model, vocab, corpus, config, seed=5)
        histories[name] = Trainer(task, keras.optimizers.Adam(config.learning_rate), config.epochs,
                                  jit_compile=False).fit()
    for mine, alone in zip(second.weights, lone.weights):
        np.testing.assert_array_equal(mine.numpy(), alone.numpy(), err_msg=mine.path)  # bit for bit
    assert not np.allclose(first.embedding.embeddings.numpy(), second.embedding.embeddings.numpy())
    # the logged loss is the mean of the members' losses: not the lone member's
    assert histories["ensemble"][-1]["train_loss"] != pytest.approx(histories["lone"][-1]["train_loss"], rel=1e-4)


@pytest.mark.parametrize("crf", [True, False])
def test_predictions_decode_the_members_mean_scores(crf):
    corpus = _corpus(train=40, valid=0)
    vocab = SlotVocabularies.build(corpus.train)
    config = _config(crf=crf, members=3)
    keras.utils.set_random_seed(1)
    ensemble = tag_model_from_config(config, vocab, seed=0)
    rng = np.random.default_rng(0)
    for member in ensemble.members():  # untrained heads would tie: give them scores to disagree on
        member.slot_dense.kernel.assign(rng.normal(size=member.slot_dense.kernel.shape))
        member.intent_dense.kernel.assign(rng.normal(size=member.intent_dense.kernel.shape))
        if crf:
            member.transitions.assign(rng.normal(size=member.transitions.shape))
    task = TagTask(ensemble, vocab, corpus, config)
    feed = _feed(task, corpus.train[:16])
    slots, intents = zip(*[[x.numpy() for x in member(feed)] for member in ensemble.members()])
    assert not np.allclose(slots[0], slots[1])
    mean_slots = np.mean(slots, axis=0)
    mean_slots[..., [0, vocab.tags.unk_id]] = -1e9
    mean_intents = np.mean([_log_softmax(x) for x in intents], axis=0)
    mean_intents[:, vocab.intents.unk_id] = -1e9
    length = feed["length"].numpy()
    if crf:
        transitions = np.mean([m.transitions.numpy() for m in ensemble.members()], axis=0)
        expected_tags = text.crf_decode(mean_slots, transitions, length)[0].numpy()
    else:
        expected_tags = mean_slots.argmax(-1)
    tag_ids, intent_ids = ensemble.predict_ids(feed["words"], feed["length"], feed["chars"])
    mask = np.arange(tag_ids.shape[1])[None] < length[:, None]
    np.testing.assert_array_equal(np.where(mask, tag_ids.numpy(), 0), np.where(mask, expected_tags, 0))
    np.testing.assert_array_equal(intent_ids.numpy(), mean_intents.argmax(-1))
    # one member alone decodes differently somewhere: the mean is not any one member's answer
    alone_tags, alone_intents = ensemble.members()[0].predict_ids(feed["words"], feed["length"], feed["chars"])
    assert not (np.array_equal(np.where(mask, alone_tags.numpy(), 0), np.where(mask, tag_ids.numpy(), 0))
                and np.array_equal(alone_intents.numpy(), intent_ids.numpy()))


def test_keras_file_config_round_trip_and_errors(tmp_path):
    corpus = _corpus(train=32, valid=0)
    vocab = SlotVocabularies.build(corpus.train)
    config = _config()
    keras.utils.set_random_seed(2)
    ensemble = tag_model_from_config(config, vocab, seed=4)
    assert isinstance(ensemble, TaggerEnsemble) and ensemble.size == 2
    feed = _feed(TagTask(ensemble, vocab, corpus, config), corpus.train[:8])
    path = str(tmp_path / "ensemble.keras")
    ensemble.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, TaggerEnsemble) and loaded.get_config() == ensemble.get_config()
    for a, b in zip(ensemble.predict_ids(feed["words"], feed["length"], feed["chars"]),
                    loaded.predict_ids(feed["words"], feed["length"], feed["chars"])):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(ensemble(feed)[0].numpy(), loaded(feed)[0].numpy(), atol=1e-6)

    kwargs = {"vocab_size": 9, "num_tags": 5, "num_intents": 3, "num_units": 4, "embedding_size": 4}
    with pytest.raises(ValueError, match="TaggerEnsemble: size must be at least 2 .* got 1"):
        TaggerEnsemble(1, kwargs)
    with pytest.raises(ValueError, match="TaggerEnsemble: member_kwargs must not set 'seed'"):
        TaggerEnsemble(2, {**kwargs, "seed": 1})
    with pytest.raises(ValueError, match="TagConfig.members must be a positive integer, got 0"):
        presets.get("tiny").with_overrides(members=0)
