"""tfseq.data.sentiment: the SST-2 / SST-2 GLUE / MR readers, the fixed-seed split, bad input
as one line naming file, line and value, padded batches, pretrained word vectors."""

import gzip

import numpy as np
import pytest

from tfseq.data.sentiment import (
    BUILTIN,
    SentenceBatches,
    builtin_path,
    load_sentiment,
    load_word_vectors,
    tokenize,
)
from tfseq.data.text import DataSourceError
from tfseq.data.vocab import Vocabulary


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_tokenize_splits_punctuation_and_keeps_treebank_tokens():
    assert tokenize("A gorgeous, witty film!") == ["a", "gorgeous", ",", "witty", "film", "!"]
    assert tokenize("it 's   not -lrb- 2 1\\/2 -rrb- , does n't") == [
        "it", "'s", "not", "-lrb-", "2", "1\\/2", "-rrb-", ",", "does", "n't"]
    assert tokenize("it's \"great\".") == ["it's", '"', "great", '"', "."]


def test_sst2_sentence_level_and_glue_formats(tmp_path):
    sst = tmp_path / "sst"
    sst.mkdir()
    _write(sst / "stsa.binary.train", "1 a fine film\n0 it 's dull .\n")
    _write(sst / "stsa.binary.dev", "1 good\n")
    _write(sst / "stsa.binary.test", "0 bad -lrb- really -rrb-\n1 great\n0 poor\n")
    corpus = load_sentiment(str(sst))
    assert corpus.name == "sst2" and corpus.split == "official"
    assert corpus.train == [(["a", "fine", "film"], 1), (["it", "'s", "dull", "."], 0)]
    assert [len(corpus.valid), len(corpus.test)] == [1, 3]
    assert corpus.test[0] == (["bad", "-lrb-", "really", "-rrb-"], 0)

    glue = tmp_path / "glue"
    glue.mkdir()
    _write(glue / "sentiment-train", "hide new secretions \t0\nthat loves its characters \t1\n")
    _write(glue / "sentiment-dev", "good ( really ) \t1\n")
    _write(glue / "sentiment-test", "bad \t0\n")
    corpus = load_sentiment(str(glue))
    assert corpus.name == "sst2-glue"
    assert corpus.train == [(["hide", "new", "secretions"], 0), (["that", "loves", "its", "characters"], 1)]
    assert corpus.valid == [(["good", "(", "really", ")"], 1)]


def test_two_sst_copies_in_one_directory_are_refused(tmp_path):
    for name in ("stsa.binary.train", "sentiment-train"):
        _write(tmp_path / name, "1 x\n")
    with pytest.raises(DataSourceError, match="holds both SST-2 copies"):
        load_sentiment(str(tmp_path))


def test_mr_split_is_fixed_by_its_seed_and_recorded(tmp_path):
    _write(tmp_path / "rt-polarity.pos", "".join(f"good {i} \n" for i in range(50)))
    _write(tmp_path / "rt-polarity.neg", "".join(f"bad {i} \n" for i in range(50)))
    a, b = load_sentiment(str(tmp_path), seed=3), load_sentiment(str(tmp_path), seed=3)
    c = load_sentiment(str(tmp_path), seed=4)
    assert a.name == "mr" and a.split == "shuffled with default_rng(3); valid 0.1, test 0.1"
    assert [len(a.train), len(a.valid), len(a.test)] == [80, 10, 10]
    assert a.test == b.test and a.test != c.test
    everything = sorted(" ".join(t) for t, _ in a.train + a.valid + a.test)
    assert everything == sorted([f"good {i}" for i in range(50)] + [f"bad {i}" for i in range(50)])
    assert all((tokens[0] == "good") == bool(label) for tokens, label in a.train)


def test_builtin_slice_is_shipped_and_balanced():
    path = builtin_path("mr")
    assert path.endswith(BUILTIN["mr"])
    with gzip.open(path, "rt", encoding="utf-8") as f:
        assert sum(1 for _ in f) == 6000
    corpus = load_sentiment("builtin:mr")
    assert [len(corpus.train), len(corpus.valid), len(corpus.test)] == [4800, 600, 600]
    assert 0.45 < np.mean([label for _, label in corpus.train]) < 0.55
    with pytest.raises(DataSourceError, match="unknown builtin corpus 'builtin:sst'; available: builtin:mr"):
        load_sentiment("builtin:sst")


@pytest.mark.parametrize("name, text, message", [
    ("stsa.binary.train", "1 ok\n2 three classes?\n", "stsa.binary.train: line 2: label must be 0 or 1, got '2'"),
    ("stsa.binary.train", "1 ok\n0\n", "stsa.binary.train: line 2: no text"),
    ("sentiment-train", "fine \t1\nno tab here 1\n", "sentiment-train: line 2: expected '<text><TAB><label>'"),
    ("sentiment-train", "fine \tpositive\n", "sentiment-train: line 1: label must be 0 or 1, got 'positive'"),
    ("stsa.binary.train", " \n\n", "stsa.binary.train: file is empty"),
])
def test_bad_lines_name_file_line_and_value(tmp_path, name, text, message):
    _write(tmp_path / name, text)
    with pytest.raises(DataSourceError) as info:
        load_sentiment(str(tmp_path))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_sources(tmp_path):
    with pytest.raises(DataSourceError, match="nope.txt: no such file"):
        load_sentiment(str(tmp_path / "nope.txt"))
    with pytest.raises(DataSourceError, match="no sentiment files"):
        load_sentiment(str(tmp_path))


def test_batches_pad_with_zeros_and_weigh_filler_rows_zero():
    examples = [([5, 6, 7], 1), ([8], 0), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 1)]
    data = SentenceBatches(examples, batch_size=2, boundaries=(4, 8))
    assert len(data) == 2  # bucket 4: two sentences; bucket 8: one (truncated to 8), one filler row
    batches = list(data.in_order())
    first, second = batches
    np.testing.assert_array_equal(first["ids"], [[5, 6, 7, 0], [8, 0, 0, 0]])
    np.testing.assert_array_equal(first["length"], [3, 1])
    np.testing.assert_array_equal(first["weight"], [1, 1])
    np.testing.assert_array_equal(second["ids"][0], [1, 2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(second["weight"], [1, 0])
    assert second["ids"].shape == (2, 8) and list(second["label"]) == [1, 1]
    epoch_a = [b["index"].tolist() for b in data.epoch(1)]
    assert epoch_a == [b["index"].tolist() for b in data.epoch(1)]  # the same epoch, the same batches
    assert epoch_a[1:] == [b["index"].tolist() for b in data.epoch(1, start=1)]


def test_word_vectors_word2vec_and_glove_text(tmp_path):
    vocab = Vocabulary(["<pad>", "<unk>", "good", "bad", "film"], unk_token="<unk>")
    w2v = _write(tmp_path / "w2v.txt", "3 2\ngood 1 2\nBad 3 4\nzebra 5 6\n")
    matrix, found = load_word_vectors(str(w2v), vocab, 2, seed=0)
    assert found == 2 and matrix.shape == (5, 2)
    np.testing.assert_array_equal(matrix[2], [1, 2])
    np.testing.assert_array_equal(matrix[3], [3, 4])  # looked up lower-cased
    np.testing.assert_array_equal(matrix[0], [0, 0])  # <pad>
    assert np.all(np.abs(matrix[4]) <= 0.1) and np.any(matrix[4] != 0)
    glove = _write(tmp_path / "glove.txt", "film 0.5 0.25\ngood 1 1 1\n")
    with pytest.raises(DataSourceError, match=r"glove.txt: line 2: expected a word and 2 numbers, got 3 numbers"):
        load_word_vectors(str(glove), vocab, 2)
    bad = _write(tmp_path / "bad.txt", "film 0.5 x\n")
    with pytest.raises(DataSourceError, match=r"bad.txt: line 1: not a number in the vector of 'film'"):
        load_word_vectors(str(bad), vocab, 2)
