"""tfds:NAME sources, offline: tiny datasets built with TFDS's own GeneratorBasedBuilder."""

import numpy as np
import pytest
import tensorflow_datasets as tfds  # a dependency of tfseq: never skipped

from tfseq.data import DataSourceError, detokenize, load_corpus
from tfseq.data.tfds_source import load_tfds_texts

TRAIN = ["the cat sat", "the dog ran\nthe cat ran"]  # an example may hold several lines
VALID = ["a bird sat"]
TEST = ["the cat"]


class TfseqTestTinyText(tfds.core.GeneratorBasedBuilder):
    """Three splits; two string features (text, title) and a label."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.FeaturesDict({
            "text": tfds.features.Text(),
            "title": tfds.features.Text(),
            "label": tfds.features.ClassLabel(num_classes=2),
        })
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(TRAIN), "validation": self._generate_examples(VALID),
                "test": self._generate_examples(TEST)}

    def _generate_examples(self, texts):
        for i, text in enumerate(texts):
            yield i, {"text": text, "title": f"title {i}", "label": i % 2}


class TfseqTestTrainOnly(tfds.core.GeneratorBasedBuilder):
    """Only a train split, one string feature that is not called "text"."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.FeaturesDict({"content": tfds.features.Text()})
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        yield 0, {"content": "".join(f"line {i}\n" for i in range(10))}


def test_tfds_splits_and_text_feature(tmp_path):
    # not prepared yet: load_corpus prepares it (locally generated, no network)
    corpus = load_corpus("tfds:tfseq_test_tiny_text", "word", data_dir=str(tmp_path))
    decode = corpus.vocab.decode
    lines = detokenize(decode(corpus.train), "word").splitlines()
    assert sorted(lines) == ["the cat ran", "the cat sat", "the dog ran"]  # in TFDS's example order
    assert lines.index("the cat ran") == lines.index("the dog ran") + 1  # lines of one example stay in order
    assert decode(corpus.valid) == ["<unk>", "<unk>", "sat", "<eos>"]  # vocab from train only
    assert decode(corpus.test) == ["the", "cat", "<eos>"]
    assert corpus.name == "tfseq_test_tiny_text" and corpus.train.dtype == np.int32
    titles = load_corpus("tfds:tfseq_test_tiny_text", "word", data_dir=str(tmp_path), text_key="title")
    assert titles.vocab.decode(titles.test) == ["title", "0", "<eos>"]
    assert titles.vocab.size == 5  # <unk>, <eos>, title, 0, 1


def test_tfds_split_overrides_and_char_level(tmp_path):
    texts, key = load_tfds_texts("tfseq_test_tiny_text", data_dir=str(tmp_path), splits={"test": "validation"})
    assert key == "text" and texts["test"] == "a bird sat\n" == texts["valid"]
    corpus = load_corpus("tfds:tfseq_test_tiny_text", "char", data_dir=str(tmp_path))
    assert "".join(corpus.vocab.decode(corpus.test)) == "the cat\n"


def test_tfds_without_valid_and_test_is_split_by_lines(tmp_path):
    corpus = load_corpus("tfds:tfseq_test_train_only", "word", data_dir=str(tmp_path),
                         valid_fraction=0.2, test_fraction=0.1)
    assert corpus.vocab.decode(corpus.valid) == ["line", "<unk>", "<eos>", "line", "<unk>", "<eos>"]
    assert len(corpus.train) == 7 * 3 and len(corpus.test) == 3


def test_tfds_errors(tmp_path):
    with pytest.raises(DataSourceError, match="text_key 'body' is not a feature"):
        load_corpus("tfds:tfseq_test_tiny_text", data_dir=str(tmp_path), text_key="body")
    with pytest.raises(DataSourceError, match="tfds:no_such_dataset_xyz"):
        load_corpus("tfds:no_such_dataset_xyz", data_dir=str(tmp_path))
    with pytest.raises(DataSourceError, match="not prepared in"):
        load_tfds_texts("tfseq_test_train_only", data_dir=str(tmp_path / "empty"), download=False)


class TfseqTestNeedsDownload(tfds.core.GeneratorBasedBuilder):
    """A dataset whose preparation downloads from an unreachable URL (as offline)."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({"text": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        path = dl_manager.download("http://127.0.0.1:9/corpus.txt")
        return {"train": self._generate_examples(path)}

    def _generate_examples(self, path):
        yield 0, {"text": path.read_text()}


def test_tfds_offline_download_is_a_clear_error(tmp_path, monkeypatch):
    # TFDS retries a failed HTTP download 10 times with exponential backoff (~3.5 minutes);
    # the failure and our message are the same with no retries.
    from tensorflow_datasets.core.download import downloader

    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)
    with pytest.raises(DataSourceError) as info:
        load_corpus("tfds:tfseq_test_needs_download", data_dir=str(tmp_path))
    message = str(info.value)
    assert message.startswith("tfds:tfseq_test_needs_download: cannot download and prepare")
    assert "tfds build tfseq_test_needs_download --data_dir DIR" in message and "\n" not in message
