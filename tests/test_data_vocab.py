"""Vocabulary: deterministic order, unknown tokens, serialization."""

import numpy as np
import pytest

from tfseq.data import Vocabulary


def test_build_orders_specials_then_frequency_then_token():
    tokens = "b a c a b d a".split()  # a:3, b:2, c:1, d:1
    vocab = Vocabulary.build(tokens)
    assert vocab.tokens == ["<unk>", "a", "b", "c", "d"]
    assert vocab.size == len(vocab) == 5 and vocab.unk_id == 0
    # the same multiset in another order gives the same ids
    assert Vocabulary.build(sorted(tokens)) == vocab
    seq2seq = Vocabulary.build(tokens, specials=("<pad>", "<unk>", "<s>"), unk_token="<unk>")
    assert seq2seq.tokens[:3] == ["<pad>", "<unk>", "<s>"] and seq2seq.unk_id == 1


def test_special_token_in_text_is_not_duplicated():
    vocab = Vocabulary.build("x <unk> x <unk> <unk>".split())
    assert vocab.tokens == ["<unk>", "x"]


def test_min_count_and_max_size():
    tokens = "a a a b b c".split()
    assert Vocabulary.build(tokens, min_count=2).tokens == ["<unk>", "a", "b"]
    assert Vocabulary.build(tokens, max_size=2).tokens == ["<unk>", "a"]
    with pytest.raises(ValueError, match="min_count must be an int >= 1, got 0"):
        Vocabulary.build(tokens, min_count=0)
    with pytest.raises(ValueError, match="max_size must be .* got 0"):
        Vocabulary.build(tokens, max_size=0)
    with pytest.raises(ValueError, match="unk_token must be None or one of specials"):
        Vocabulary.build(tokens, specials=())


def test_encode_unknown_to_unk_and_decode():
    vocab = Vocabulary.build("the cat sat".split())
    ids = vocab.encode(["the", "dog", "sat"])
    assert ids.dtype == np.int32 and ids.tolist() == [vocab.id("the"), 0, vocab.id("sat")]
    assert vocab.decode(ids) == ["the", "<unk>", "sat"]
    assert vocab.decode(np.array([[1, 2]])) == [vocab.token(1), vocab.token(2)]
    assert vocab.encode([]).dtype == np.int32 and vocab.encode([]).shape == (0,)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 4\), got 4"):
        vocab.decode([4])


def test_without_unk_token_unknown_raises():
    vocab = Vocabulary.build("a b".split(), specials=(), unk_token=None)
    assert vocab.unk_id is None and vocab.encode(["b", "a"]).tolist() == [1, 0]
    with pytest.raises(KeyError, match="'z'"):
        vocab.encode(["z"])


def test_constructor_validation():
    with pytest.raises(ValueError, match="duplicates"):
        Vocabulary(["a", "a"], unk_token=None)
    with pytest.raises(ValueError, match="unk_token must be one of the tokens, got '<unk>'"):
        Vocabulary(["a"])
    with pytest.raises(ValueError, match="must not be empty"):
        Vocabulary([])


def test_json_and_file_round_trip(tmp_path):
    vocab = Vocabulary.build(list("héllo\nwörld") + ["<eos>"])
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    path = tmp_path / "run" / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocab and loaded.unk_id == vocab.unk_id
    assert [p.name for p in path.parent.iterdir()] == ["vocab.json"]  # no temporary left
    bad = tmp_path / "bad.json"
    bad.write_text('{"tokens": ["a"]}')
    with pytest.raises(ValueError, match="bad.json: not a vocabulary JSON document"):
        Vocabulary.load(bad)
    with pytest.raises(ValueError, match="missing.json: cannot read vocabulary"):
        Vocabulary.load(tmp_path / "missing.json")


def test_drop_words_replaces_only_real_words_at_the_rate_from_its_key():
    from tfseq.data.vocab import drop_words

    rng = np.random.default_rng(5)
    ids = rng.integers(2, 50, (200, 30)).astype(np.int32)
    ids[:, 20:] = 0  # padding
    assert drop_words(ids, 0.0, 1, (0, 0, 0)) is ids
    dropped = drop_words(ids, 0.25, 1, (3, 1, 7))
    assert dropped.dtype == np.int32 and dropped.shape == ids.shape
    np.testing.assert_array_equal(dropped[:, 20:], 0)  # padding stays padding
    changed = dropped[:, :20] != ids[:, :20]
    assert set(np.unique(dropped[:, :20][changed])) == {1}  # a dropped word is <unk>
    assert 0.22 < changed.mean() < 0.28, changed.mean()  # 4,000 draws at p = 0.25
    np.testing.assert_array_equal(dropped, drop_words(ids, 0.25, 1, (3, 1, 7)))  # the key fixes the draw
    assert (drop_words(ids, 0.25, 1, (3, 1, 8)) != dropped).any()
    with pytest.raises(ValueError, match="rate must be in \\[0, 1\\), got 1.0"):
        drop_words(ids, 1.0, 1, (0,))
