"""``tfseq.data.slots``: the seq.in/seq.out/label reader keeps words and tags aligned, names the
file and line of bad input, and its batches pad and mask as documented."""

import numpy as np
import pytest

from tfseq.data.slots import (
    SlotBatches,
    SlotVocabularies,
    Utterance,
    length_boundaries,
    load_slots,
    normalize_word,
    read_split,
)
from tfseq.data.text import DataSourceError


def write_split(folder, words, tags, labels):
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("seq.in", words), ("seq.out", tags), ("label", labels)):
        (folder / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def test_shipped_slice_is_aligned():
    corpus = load_slots("builtin:snips")
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (3000, 700, 700)
    for utterance in corpus.train + corpus.valid + corpus.test:
        assert len(utterance.words) == len(utterance.tags) > 0
    assert len({u.intent for u in corpus.train}) == 7
    # SNIPS' irregular whitespace: str.split() keeps words and tags aligned
    first = corpus.valid[0]
    assert first.words[:4] == ("i", "d", "like", "to") and first.intent == "AddToPlaylist"


def test_whitespace_and_gzip(tmp_path):
    import gzip

    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "seq.in").write_text(" fly  to boston \n", encoding="utf-8")
    (folder / "seq.out").write_text("O O B-toloc.city_name \n", encoding="utf-8")
    with gzip.open(folder / "label.gz", "wt", encoding="utf-8") as f:
        f.write("atis_flight\n")
    assert read_split(folder) == [Utterance(("fly", "to", "boston"), ("O", "O", "B-toloc.city_name"), "atis_flight")]


@pytest.mark.parametrize("change, message", [
    (dict(tags=["O O", "O"]), "train/seq.out: line 2 has 1 tags but train/seq.in line 2 has 2 words"),
    (dict(tags=["O O"]), "seq.out: has 1 lines but train/seq.in has 2"),
    (dict(labels=["a", "b", "c"]), "label: has 3 lines but train/seq.in has 2"),
    (dict(tags=["O B-x", "O X-y"]), "seq.out: line 2: tag 'X-y' is not BIO"),
    (dict(tags=["O B-", "O O"]), "seq.out: line 1: tag 'B-' is not BIO"),
    (dict(words=["a b", "   "]), "seq.in: line 2 has no words"),
    (dict(labels=["a", "b c"]), "label: line 2: expected one intent label, got 'b c'"),
])
def test_bad_input_names_file_and_line(tmp_path, change, message):
    parts = dict(words=["a b", "c d"], tags=["O B-x", "B-y I-y"], labels=["a", "b"])
    parts.update(change)
    folder = write_split(tmp_path / "train", parts["words"], parts["tags"], parts["labels"])
    with pytest.raises(DataSourceError) as err:
        read_split(folder)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_empty_and_missing_files(tmp_path):
    folder = write_split(tmp_path / "train", ["a"], ["O"], ["x"])
    (folder / "label").write_text("\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match="label: file is empty"):
        read_split(folder)
    (folder / "label").unlink()
    with pytest.raises(DataSourceError, match="label: no such file"):
        read_split(folder)
    with pytest.raises(DataSourceError, match="has no train/ folder"):
        load_slots(str(tmp_path / "train"))
    with pytest.raises(DataSourceError, match="unknown builtin slot corpus"):
        load_slots("builtin:atis")


def test_vocabularies_unknown_labels_and_digits(tmp_path):
    train = [Utterance(("fly", "at", "8"), ("O", "O", "B-time"), "flight"),
             Utterance(("fly", "home"), ("O", "B-to"), "flight#fare")]
    vocab = SlotVocabularies.build(train)
    assert vocab.words.tokens[:2] == ["<pad>", "<unk>"] and vocab.tags.tokens[:2] == ["<pad>", "<unk>"]
    assert normalize_word("24th") == "00th" and "0" in vocab.words
    words, tags, intent = vocab.encode(Utterance(("fly", "at", "9", "zurich"), ("O", "O", "B-time", "B-city"),
                                                 "day_name"))
    assert vocab.words.decode(words) == ["fly", "at", "0", "<unk>"]
    assert tags[-1] == vocab.tags.unk_id and intent == vocab.intents.unk_id  # unseen tag and intent
    assert vocab.intents.encode(["flight#fare"])[0] != vocab.intents.unk_id  # a multi-intent label is one label
    path = tmp_path / "vocab.json"
    vocab.save(path)
    again = SlotVocabularies.load(path)
    assert again.words == vocab.words and again.tags == vocab.tags and again.intents == vocab.intents


def test_batches_keep_alignment_and_pad():
    corpus = load_slots("builtin:snips")
    utterances = corpus.valid[:50]
    vocab = SlotVocabularies.build(corpus.train)
    examples = [vocab.encode(u) for u in utterances]
    bounds = length_boundaries(max(len(u.words) for u in utterances), 3)
    data = SlotBatches(examples, 16, bounds, seed=3)
    seen = []
    for batch in data.in_order():
        width = batch["words"].shape[1]
        assert width in bounds and batch["tags"].shape == batch["words"].shape
        real = int(batch["weight"].sum())
        assert np.all(batch["weight"][:real] == 1) and np.all(batch["weight"][real:] == 0)
        for row in range(16):
            length, index = batch["length"][row], batch["index"][row]
            assert np.all(batch["words"][row, length:] == 0) and np.all(batch["tags"][row, length:] == 0)
            assert vocab.tags.decode(batch["tags"][row, :length]) == list(utterances[index].tags)
            assert batch["intent"][row] == vocab.intents.id(utterances[index].intent)
        seen += batch["index"][:real].tolist()
    assert sorted(seen) == list(range(50))
    first = [b["index"].tolist() for b in data.epoch(1)]
    assert first == [b["index"].tolist() for b in data.epoch(1)] != [b["index"].tolist() for b in data.epoch(2)]
    assert [b["index"].tolist() for b in data.epoch(1, start=2)] == first[2:]
    assert len(first) == len(data)


def test_characters_encode_truncate_and_round_trip(tmp_path):
    train = [Utterance(("book", "42nd"), ("O", "B-n"), "x")]
    vocab = SlotVocabularies.build(train)
    assert vocab.chars.tokens[:2] == ["<pad>", "<unk>"] and "0" in vocab.chars.tokens and "4" not in vocab.chars.tokens
    ids = vocab.encode_chars(["bo", "zook", "42nd"], 3)
    assert ids.shape == (3, 3) and ids.dtype == np.int32
    assert vocab.chars.decode(ids[0, :2]) == ["b", "o"] and ids[0, 2] == 0  # padded
    assert ids[1, 0] == vocab.chars.unk_id and vocab.chars.decode(ids[1, 1:]) == ["o", "o"]  # unknown, truncated
    assert vocab.chars.decode(ids[2]) == ["0", "0", "n"]  # digits read as 0
    *_, chars = vocab.encode(train[0], max_chars=5)
    np.testing.assert_array_equal(chars, vocab.encode_chars(train[0].words, 5))
    assert len(vocab.encode(train[0])) == 3
    with pytest.raises(ValueError, match="max_chars must be a positive integer, got 0"):
        vocab.encode_chars(["a"], 0)
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert SlotVocabularies.load(path).chars == vocab.chars
    import json

    data = json.loads(vocab.to_json())
    del data["chars"]  # a vocabulary saved without characters still loads
    older = SlotVocabularies.from_json(json.dumps(data))
    assert older.chars is None and older.words == vocab.words
    with pytest.raises(ValueError, match="has no characters"):
        older.encode_chars(["a"], 3)


def test_batches_carry_padded_characters():
    corpus = load_slots("builtin:snips")
    utterances = corpus.valid[:20]
    vocab = SlotVocabularies.build(corpus.train)
    data = SlotBatches([vocab.encode(u, max_chars=6) for u in utterances], 8,
                       length_boundaries(max(len(u.words) for u in utterances), 2))
    for batch in data.in_order():
        assert batch["chars"].shape == (*batch["words"].shape, 6) and batch["chars"].dtype == np.int32
        for row in range(8):
            length, index = batch["length"][row], batch["index"][row]
            assert np.all(batch["chars"][row, length:] == 0)  # padding words have no characters
            for t, word in enumerate(utterances[index].words):
                chars = batch["chars"][row, t]
                assert vocab.chars.decode(chars[chars > 0]) == list(normalize_word(word)[:6])
