"""The slot-filling model and its scoring: the joint loss ignores padding (against NumPy), words
past an utterance's length change nothing, chunk F1 equals conlleval's count on a hand-made
example, and a bidirectional encoder beats a unidirectional one when a tag depends on the next word."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq.data.slots import SlotCorpus, SlotVocabularies, Utterance
from tfseq.demos.tag import presets
from tfseq.demos.tag.model import SlotIntentModel, joint_loss, tag_model_from_config
from tfseq.demos.tag.task import TagTask, score
from tfseq.train import Trainer


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_joint_loss_ignores_padding_numpy():
    rng = np.random.default_rng(0)
    slot_logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    intent_logits = rng.normal(size=(3, 4)).astype(np.float32)
    tags = rng.integers(0, 7, size=(3, 5)).astype(np.int32)
    intent = np.array([1, 3, 0], np.int32)
    length = np.array([5, 2, 3], np.int32)
    weight = np.array([1.0, 1.0, 0.0], np.float32)  # the last row is a filler
    objective, parts = joint_loss(slot_logits, tags, length, intent_logits, intent, weight, intent_weight=0.5)

    slot_lp, intent_lp = _log_softmax(slot_logits), _log_softmax(intent_logits)
    slot_sum = sum(-slot_lp[b, t, tags[b, t]] for b in range(2) for t in range(length[b]))
    intent_sum = -intent_lp[0, 1] - intent_lp[1, 3]
    np.testing.assert_allclose(float(parts["slot_sum"]), slot_sum, rtol=1e-5)
    np.testing.assert_allclose(float(parts["intent_sum"]), intent_sum, rtol=1e-5)
    assert float(parts["words"]) == 7 and float(parts["rows"]) == 2
    np.testing.assert_allclose(float(objective), slot_sum / 7 + 0.5 * intent_sum / 2, rtol=1e-5)
    # anything at padded positions or in filler rows changes nothing
    noisy_logits, noisy_tags = slot_logits.copy(), tags.copy()
    noisy_logits[1, 2:] += 100 * rng.normal(size=(3, 7))
    noisy_logits[2] = 0.0
    noisy_tags[1, 2:], noisy_tags[2] = 0, 6
    again, _ = joint_loss(noisy_logits, noisy_tags, length, intent_logits, intent, weight, intent_weight=0.5)
    assert float(again) == pytest.approx(float(objective), rel=1e-6)


def _check_words_past_the_length(model, words, length, slots, intent):
    """Other words past row 0's length (3) change neither its slots nor any intent logits."""
    other = words.copy()
    other[0, 3:] = [11, 12]
    slots2, intent2 = model({"words": other, "length": length})
    np.testing.assert_allclose(slots[0, :3], slots2[0, :3], atol=1e-6)
    np.testing.assert_allclose(intent, intent2, atol=1e-6)


@pytest.mark.parametrize("encoder_type, variant", [("bi", "joint"), ("bi", "slot_gated"), ("uni", "slot_gated")])
def test_words_past_the_length_change_nothing(encoder_type, variant):
    keras.utils.set_random_seed(1)
    model = SlotIntentModel(20, 6, 3, num_units=8, embedding_size=5, num_layers=2, encoder_type=encoder_type,
                            variant=variant)
    words = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], np.int32)
    length = np.array([3, 5], np.int32)
    slots, intent = model({"words": words, "length": length})
    _check_words_past_the_length(model, words, length, slots, intent)
    tag_ids, intent_ids = model.predict_ids(words, length)
    assert tag_ids.shape == (2, 5) and not np.isin(tag_ids.numpy(), [0, 1]).any() and 0 not in intent_ids.numpy()


def test_chunk_f1_equals_conlleval_count():
    # conlleval's rules: a chunk is right only with its type and both boundaries; an I- tag after O
    # (or after another type) starts a chunk; a tag never seen in training (ATIS' B-flight) cannot be
    # predicted, so its chunk is missed.
    gold = [["B-fromloc", "O", "B-toloc", "I-toloc", "O"],           # 2 chunks
            ["B-month", "B-day", "O", "B-flight"],                   # 3 chunks, B-flight unseen in training
            ["O", "I-city", "O"],                                    # 1 chunk (I- starts it)
            ["B-a", "I-a"],                                          # 1 chunk
            ["O", "B-a"]]                                            # 1 chunk
    pred = [["B-fromloc", "O", "B-toloc", "O", "O"],                 # 2 chunks, fromloc right, toloc too short
            ["B-month", "B-day", "O", "O"],                          # 2 chunks, both right
            ["O", "B-city", "O"],                                    # 1 chunk, right
            ["B-a", "I-b"],                                          # 2 chunks (a, b), none right
            ["O", "B-a"]]                                            # 1 chunk, right
    # right 5 (fromloc, month, day, city, a); gold 2+3+1+1+1 = 8; predicted 2+2+1+2+1 = 8
    gold_intents = ["flight", "flight#airfare", "day_name", "x", "y"]
    pred_intents = ["flight", "flight", "flight", "x", "y"]            # multi-intent: the whole string or wrong
    result = score(gold, pred, gold_intents, pred_intents)
    assert result["Slot Precision"] == pytest.approx(100 * 5 / 8)
    assert result["Slot Recall"] == pytest.approx(100 * 5 / 8)
    assert result["Slot F1"] == pytest.approx(100 * 2 * 5 / (8 + 8))
    assert result["Intent Accuracy"] == pytest.approx(60.0)
    assert result["Sentence Accuracy"] == pytest.approx(20.0)  # only the last: every tag and the intent right
    assert result["by_type"]["toloc"][2] == 0.0 and result["by_type"]["flight"][1:] == (0.0, 0.0, 1)
    assert result["by_type"]["a"][3] == 2  # two gold chunks of type a
    with pytest.raises(ValueError, match="utterance 0 has 2 gold tags but 1 predicted"):
        score([["O", "O"]], [["O"]], ["x"], ["x"])


def _future_corpus(n, seed):
    """Tag of word t is B-next when word t + 1 is 'a': only a reader of the future can know."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = list(rng.choice(list("abcd"), 6))
        tags = ["B-next" if t + 1 < 6 and words[t + 1] == "a" else "O" for t in range(6)]
        out.append(Utterance(tuple(words), tuple(tags), "q"))
    return out


def test_bidirectional_beats_unidirectional_when_tags_depend_on_the_future():
    corpus = SlotCorpus("future", _future_corpus(240, 0), _future_corpus(80, 1), [])
    vocab = SlotVocabularies.build(corpus.train)
    scores = {}
    for encoder_type in ("uni", "bi"):
        keras.utils.set_random_seed(0)
        config = presets.get("tiny").with_overrides(num_units=16, embedding_size=8, batch_size=24, epochs=6,
                                                    learning_rate=0.02, dropout=0.0, word_dropout=0.0,
                                                    encoder_type=encoder_type, num_buckets=1)
        model = tag_model_from_config(config, vocab, seed=0)
        task = TagTask(model, vocab, corpus, config)
        Trainer(task, keras.optimizers.Adam(config.learning_rate), config.epochs, jit_compile=False).fit()
        scores[encoder_type] = task.evaluate("validation")["Slot F1"]
    assert scores["bi"] > 95.0 and scores["uni"] < 60.0, scores


def test_config_and_model_errors():
    with pytest.raises(ValueError, match="TagConfig.variant must be one of joint, slot_gated, got 'x'"):
        presets.get("tiny").with_overrides(variant="x")
    with pytest.raises(ValueError, match="unknown config 'huge'"):
        presets.get("huge")
    with pytest.raises(ValueError, match="SlotIntentModel: encoder_type must be one of"):
        SlotIntentModel(5, 5, 2, 4, 4, encoder_type="both")
    with pytest.raises(ValueError, match="SlotIntentModel: dropout must be in"):
        SlotIntentModel(5, 5, 2, 4, 4, dropout=1.0)
    model = SlotIntentModel(5, 5, 2, 4, 4, variant="slot_gated")
    model.build()
    again = SlotIntentModel.from_config(model.get_config())
    assert again.get_config() == model.get_config()
    assert tf.is_tensor(again({"words": np.ones([1, 3], np.int32), "length": np.array([3], np.int32)})[0])


def _char_model(**kwargs):
    keras.utils.set_random_seed(2)
    options = {"num_units": 6, "embedding_size": 4, "num_chars": 9, "char_embedding_size": 3, "char_filters": 5,
               "char_kernel": 3, **kwargs}
    return SlotIntentModel(20, 6, 3, **options)


def test_character_features_shapes_and_padding():
    model = _char_model()
    chars = np.array([[[2, 3, 4, 0], [5, 0, 0, 0], [0, 0, 0, 0]],
                      [[6, 7, 8, 2], [3, 3, 0, 0], [4, 5, 6, 0]]], np.int32)  # [batch 2, T 3, C 4]
    model({"words": np.ones([2, 3], np.int32), "length": np.array([2, 3], np.int32), "chars": chars})
    features = model.char_features(chars).numpy()
    assert features.shape == (2, 3, 5) and np.all(features >= 0)
    np.testing.assert_array_equal(features[0, 2], 0.0)  # a padding word
    # more padding characters after each word change nothing (C = 4 -> 7)
    wider = np.concatenate([chars, np.zeros([2, 3, 3], np.int32)], axis=-1)
    np.testing.assert_allclose(model.char_features(wider).numpy(), features, atol=1e-6)
    # NumPy: max over the word's characters of relu(conv) with zero ("same") padding at both ends
    table = model.char_embedding.embeddings.numpy()
    kernel, bias = (w.numpy() for w in model.char_conv.weights)  # [3, Ec, F], [F]
    word = table[[6, 7, 8, 2]]
    padded = np.concatenate([np.zeros([1, 3]), word, np.zeros([1, 3])])
    conv = np.stack([np.einsum("kc,kcf->f", padded[k:k + 3], kernel) + bias for k in range(4)])
    np.testing.assert_allclose(features[1, 0], np.maximum(conv, 0).max(0), rtol=1e-5, atol=1e-6)
    # two unknown words (the same word id) with other characters get other features
    assert np.abs(features[1, 1] - features[1, 2]).max() > 1e-4
    with pytest.raises(ValueError, match="inputs need 'chars'"):
        model({"words": np.ones([1, 2], np.int32), "length": np.array([2], np.int32)})


@pytest.mark.parametrize("variant", ["joint", "slot_gated"])
def test_words_past_the_length_change_nothing_with_characters_and_max_pooling(variant):
    model = _char_model(variant=variant, intent_pooling="max", num_layers=2)
    words = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], np.int32)
    chars = np.random.default_rng(0).integers(1, 9, size=(2, 5, 4)).astype(np.int32)
    chars[0, 3:] = 0
    length = np.array([3, 5], np.int32)
    slots, intent = model({"words": words, "length": length, "chars": chars})
    other_words, other_chars = words.copy(), chars.copy()
    other_words[0, 3:], other_chars[0, 3:] = [11, 12], 7
    slots2, intent2 = model({"words": other_words, "length": length, "chars": other_chars})
    np.testing.assert_allclose(slots[0, :3], slots2[0, :3], atol=1e-6)
    np.testing.assert_allclose(intent, intent2, atol=1e-6)


@pytest.mark.parametrize("variant", ["joint", "slot_gated"])
def test_token_intent_is_the_words_mean_log_probability_and_feeds_the_slots(variant):
    keras.utils.set_random_seed(3)
    model = SlotIntentModel(20, 6, 4, num_units=5, embedding_size=4, variant=variant, token_intent=True,
                            crf=True)
    words = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], np.int32)
    length = np.array([3, 5], np.int32)
    slots, intent = model({"words": words, "length": length})
    assert not hasattr(model, "intent_dense")  # the sentence-level intent layer is not built
    h, _ = model.encode(words, length)
    kernel, bias = (w.numpy() for w in model.token_intent_dense.weights)
    word_lp = _log_softmax(h.numpy() @ kernel + bias)  # [batch, T, intents]
    np.testing.assert_allclose(intent[0], word_lp[0, :3].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(intent[1], word_lp[1].mean(0), rtol=1e-5, atol=1e-6)
    if variant == "joint":  # slot_i = W_S [h_i; p_i]
        slot_kernel, slot_bias = (w.numpy() for w in model.slot_dense.weights)
        expected = np.concatenate([h.numpy(), np.exp(word_lp)], -1) @ slot_kernel + slot_bias
        np.testing.assert_allclose(slots[:, :3], expected[:, :3], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(slots[1], expected[1], rtol=1e-5, atol=1e-6)
    _check_words_past_the_length(model, words, length, slots, intent)
    tag_ids, intent_ids = model.predict_ids(words, length)
    np.testing.assert_array_equal(intent_ids, np.argmax(intent[:, 1:], -1) + 1)
    assert not np.isin(tag_ids.numpy()[0, :3], [0, 1]).any() and not np.isin(tag_ids.numpy()[1], [0, 1]).any()
    again = SlotIntentModel.from_config(model.get_config())
    assert again.token_intent and again.get_config() == model.get_config()
    with pytest.raises(ValueError, match="SlotIntentModel: token_intent must be True or False"):
        SlotIntentModel(5, 5, 2, 4, 4, token_intent="yes")
    with pytest.raises(ValueError, match="TagConfig.token_intent must be True or False, got 1"):
        presets.get("tiny").with_overrides(token_intent=1)


def test_max_pooling_is_the_maximum_over_the_words():
    model = SlotIntentModel(20, 6, 3, num_units=4, embedding_size=5, intent_pooling="max")
    words = np.array([[3, 4, 5, 0], [6, 7, 8, 9]], np.int32)
    length = np.array([3, 4], np.int32)
    model.build()
    h, pooled = model.encode(words, length)
    h = h.numpy()
    np.testing.assert_allclose(pooled[0], h[0, :3].max(0), atol=1e-7)
    np.testing.assert_allclose(pooled[1], h[1].max(0), atol=1e-7)


def test_new_options_config_errors_and_round_trip():
    tiny = presets.get("tiny")
    for key, value, message in (("intent_pooling", "mean", "TagConfig.intent_pooling must be one of last, max"),
                                ("char_embedding_size", -1, "char_embedding_size must be an integer >= 0"),
                                ("char_filters", 0, "TagConfig.char_filters must be a positive integer, got 0"),
                                ("max_chars", 0, "TagConfig.max_chars must be a positive integer"),
                                ("learning_rate_decay", 0.0, "learning_rate_decay must be in \\(0, 1\\], got 0.0"),
                                ("learning_rate_decay", 1.5, "learning_rate_decay must be in \\(0, 1\\]"),
                                ("select_best", 1, "select_best must be True or False, got 1")):
        with pytest.raises(ValueError, match=message):
            tiny.with_overrides(**{key: value})
    decayed = tiny.with_overrides(learning_rate=0.01, learning_rate_decay=0.5)
    assert decayed.learning_rate_at(0) == 0.01 and decayed.learning_rate_at(2) == pytest.approx(0.0025)
    with pytest.raises(ValueError, match="SlotIntentModel: intent_pooling must be one of"):
        SlotIntentModel(5, 5, 2, 4, 4, intent_pooling="mean")
    with pytest.raises(ValueError, match="SlotIntentModel: num_chars must be an integer >= 0"):
        SlotIntentModel(5, 5, 2, 4, 4, num_chars=-2)
    model = _char_model(variant="slot_gated", intent_pooling="max")
    model.build()
    again = SlotIntentModel.from_config(model.get_config())
    assert again.get_config() == model.get_config() and again.num_chars == 9
    inputs = {"words": np.ones([1, 3], np.int32), "length": np.array([3], np.int32),
              "chars": np.ones([1, 3, 2], np.int32)}
    assert again(inputs)[0].shape == (1, 3, 6)


def test_select_best_keeps_the_best_validation_epoch():
    corpus = SlotCorpus("future", _future_corpus(120, 0), _future_corpus(40, 1), [])
    vocab = SlotVocabularies.build(corpus.train)
    keras.utils.set_random_seed(0)
    config = presets.get("tiny").with_overrides(num_units=8, embedding_size=6, batch_size=24, epochs=4,
                                                learning_rate=0.05, learning_rate_decay=0.5, dropout=0.0,
                                                word_dropout=0.0, num_buckets=1, select_best=True,
                                                char_embedding_size=4, char_filters=6, max_chars=3)
    model = tag_model_from_config(config, vocab, seed=0)
    task = TagTask(model, vocab, corpus, config)
    kept = {}
    original = task._best.offer

    def spy(score, epoch):  # what the weights were after each epoch
        kept[epoch + 1] = [w.numpy().copy() for w in model.trainable_variables]
        return original(score, epoch)

    task._best.offer = spy
    history = Trainer(task, keras.optimizers.Adam(config.learning_rate), config.epochs,
                      learning_rate_at=config.learning_rate_at, jit_compile=False).fit()
    assert [round(r["learning_rate"], 6) for r in history] == [0.05, 0.025, 0.0125, 0.00625]
    scores = [r["validation_slot_f1"] + r["validation_intent_accuracy"] for r in history]
    best = 1 + max(range(4), key=lambda e: (scores[e], -e))  # the first epoch with the best score
    assert task.best_epoch == best
    assert task.use_best() == best
    for weight, value in zip(model.trainable_variables, kept[best]):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert "best_weights" in task.trackables()
    plain = TagTask(model, vocab, corpus, config.with_overrides(select_best=False))
    assert plain.best_epoch is None and plain.use_best() is None and "best_weights" not in plain.trackables()
