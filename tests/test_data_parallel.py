"""tfseq.data.parallel and tfseq.data.subwords: sources, normalisation, splits, ids, buckets, tokenizers."""

import gzip
import unicodedata

import numpy as np
import pytest
import tensorflow_datasets as tfds  # a dependency of tfseq: never skipped

from tfseq.data import DataSourceError
from tfseq.data.parallel import (
    BucketedBatches,
    bucket_boundaries,
    encode_pairs,
    load_parallel,
    read_aligned_pairs,
)
from tfseq.data.subwords import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SubwordTokenizer,
    WordTokenizer,
    load_tokenizer,
    save_tokenizer,
)


def test_tsv_columns_normalisation_and_bad_lines(tmp_path):
    decomposed = unicodedata.normalize("NFD", "café")
    path = tmp_path / "pairs.txt"
    path.write_text(f"Hello  there.\tHola.\tCC-BY attribution\nA {decomposed}.\tUn {decomposed}.\n"
                    "Only English.\t  \n", encoding="utf-8")
    corpus = load_parallel(str(path), "es", "en", valid_fraction=0.0, test_fraction=0.0)
    assert sorted(corpus.train) == [("Hola.", "Hello there."), ("Un café.", "A café.")]  # empty side dropped
    assert all(unicodedata.is_normalized("NFC", s) for pair in corpus.train for s in pair)
    forward = load_parallel(str(path), "en", "es", valid_fraction=0.0, test_fraction=0.0)
    assert sorted(forward.train) == [("A café.", "Un café."), ("Hello there.", "Hola.")]
    path.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match="line 1 has no tab"):
        load_parallel(str(path), "es", "en")
    with pytest.raises(DataSourceError, match="give the source and target languages"):
        load_parallel(str(path))


def test_aligned_files_gzip_directory_and_mismatch(tmp_path):
    for split, n in (("train", 6), ("val", 2), ("test_2016_flickr", 3)):
        (tmp_path / f"{split}.en").write_text("".join(f"{split} en {i}\n" for i in range(n)), encoding="utf-8")
        with gzip.open(tmp_path / f"{split}.de.gz", "wt", encoding="utf-8") as f:
            f.write("".join(f"{split} de {i}\n" for i in range(n)))
    corpus = load_parallel(str(tmp_path), "en", "de")
    assert corpus.train[4] == ("train en 4", "train de 4")
    assert corpus.valid == [("val en 0", "val de 0"), ("val en 1", "val de 1")]
    assert len(corpus.test) == 3 and corpus.test[2] == ("test_2016_flickr en 2", "test_2016_flickr de 2")
    (tmp_path / "extra.en").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "extra.de").write_text("a\n", encoding="utf-8")
    with pytest.raises(DataSourceError, match=r"extra.en has 2 lines but .*extra.de has 1"):
        read_aligned_pairs(tmp_path / "extra.en", tmp_path / "extra.de")
    with pytest.raises(DataSourceError, match="no train.en and train.fr"):
        load_parallel(str(tmp_path), "en", "fr")


def test_builtin_corpus_fixed_seed_split():
    corpus = load_parallel("builtin:spa-eng")
    assert (corpus.src, corpus.tgt) == ("es", "en")
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (40779, 5097, 5097)
    again = load_parallel("builtin:spa-eng")
    assert again.valid == corpus.valid
    other = load_parallel("builtin:spa-eng", seed=1)
    assert other.valid != corpus.valid and sorted(other.train + other.valid + other.test) == sorted(
        corpus.train + corpus.valid + corpus.test)
    assert set(corpus.train).isdisjoint(corpus.test)


class TfseqTestTinyTranslate(tfds.core.GeneratorBasedBuilder):
    """A two-split Portuguese-English toy set with a Translation feature, as ted_hrlr_translate."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        features = tfds.features.Translation(languages=["en", "pt"])
        return tfds.core.DatasetInfo(builder=self, features=features)

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(["o gato", "o cão", "a casa"]),
                "validation": self._generate_examples(["o sol"])}

    def _generate_examples(self, sentences):
        for i, pt in enumerate(sentences):
            yield i, {"pt": pt, "en": f"english {i}"}


def test_tfds_translation_dataset(tmp_path):
    corpus = load_parallel("tfds:tfseq_test_tiny_translate", "pt", "en", data_dir=str(tmp_path))
    assert sorted(corpus.train) == [("a casa", "english 2"), ("o cão", "english 1"), ("o gato", "english 0")]
    assert corpus.valid == [("o sol", "english 0")] and corpus.test == []
    with pytest.raises(DataSourceError, match="no 'pt' and 'de' features"):
        load_parallel("tfds:tfseq_test_tiny_translate", "pt", "de", data_dir=str(tmp_path))


def _word_tokenizers(pairs):
    return WordTokenizer.train([s for s, _ in pairs]), WordTokenizer.train([t for _, t in pairs])


def test_encode_filter_and_reverse():
    pairs = [("a b c", "x y"), ("a b c d e", "x"), ("a", "x y z w v u")]
    src, tgt = _word_tokenizers(pairs)
    examples, kept = encode_pairs(pairs, src, tgt, max_length=4, reverse_source=True)
    assert kept == [0]  # the second has 5 source tokens, the third 6 target tokens
    source, target = examples[0]
    assert src.vocab.decode(source) == ["c", "b", "a"]
    assert target[0] == BOS_ID and target[-1] == EOS_ID and tgt.vocab.decode(target[1:-1]) == ["x", "y"]


def test_buckets_bounded_shapes_and_every_example_once():
    rng = np.random.default_rng(0)
    examples = [(np.arange(1, rng.integers(1, 15), dtype=np.int32) + 3,
                 np.concatenate([[BOS_ID], rng.integers(4, 9, rng.integers(1, 15)), [EOS_ID]]).astype(np.int32))
                for _ in range(103)]
    bounds = bucket_boundaries(16, 3)
    assert bounds == [8, 12, 16]
    data = BucketedBatches(examples, batch_size=8, boundaries=bounds, seed=3)
    batches = list(data.epoch(0))
    assert len(batches) == len(data)
    assert {b["source"].shape for b in batches} <= {(8, w) for w in bounds}
    weight = sum(float(b["target_weight"].sum()) for b in batches)
    assert weight == sum(len(t) - 1 for _, t in examples)  # every example counted once, filler rows at 0
    seen = sorted(int(i) for b in batches for i, w in zip(b["index"], b["target_weight"].sum(1)) if w > 0)
    assert seen == list(range(103))
    for b in batches:  # padding is PAD_ID, teacher forcing shifts the target by one
        for row in range(8):
            n = b["source_length"][row]
            assert (b["source"][row, n:] == PAD_ID).all() and (b["source"][row, :n] != PAD_ID).all()
            tgt = examples[b["index"][row]][1]
            assert (b["target_in"][row, : len(tgt) - 1] == tgt[:-1]).all()
            assert (b["target_out"][row, : len(tgt) - 1] == tgt[1:]).all()
    again = list(data.epoch(0, start=5))
    assert all((a["source"] == b["source"]).all() for a, b in zip(again, batches[5:]))
    assert any((a["index"] != b["index"]).any() for a, b in zip(data.epoch(1), batches))
    with pytest.raises(ValueError, match="needs length 16 > the last bucket 12"):
        BucketedBatches([(np.ones(16, np.int32), np.ones(3, np.int32))], 4, [8, 12])


def test_sentencepiece_round_trip_and_saved_file(tmp_path):
    corpus = load_parallel("builtin:spa-eng")
    spanish = [s for s, _ in corpus.train]
    tok = SubwordTokenizer.train(spanish, vocab_size=500)
    assert tok.size == 500 and tok.pieces([PAD_ID, 1, BOS_ID, EOS_ID]) == ["<pad>", "<unk>", "<s>", "</s>"]
    for sentence in [s for s, _ in corpus.test[:50]] + ["¿Dónde está el baño?"]:
        ids = tok.encode(sentence)
        assert min(ids) > EOS_ID and tok.decode(ids) == sentence
    save_tokenizer(tok, tmp_path / "src.json")
    loaded = load_tokenizer(tmp_path / "src.json")
    assert loaded.encode("¿Qué hora es?") == tok.encode("¿Qué hora es?")
    assert SubwordTokenizer.train(spanish, vocab_size=500).model_proto == tok.model_proto  # deterministic


def test_word_tokenizer_detokenises_punctuation(tmp_path):
    tok = WordTokenizer.train(["¿Qué tal?", "Muy bien, gracias."])
    assert WordTokenizer.split("¿Qué tal?") == ["¿", "Qué", "tal", "?"]
    assert tok.decode(tok.encode("¿Muy bien, gracias?")) == "¿Muy bien, gracias?"
    assert tok.decode(tok.encode("Muy mal.")) == "Muy <unk>."
    save_tokenizer(tok, tmp_path / "w.json")
    assert load_tokenizer(tmp_path / "w.json").vocab.tokens == tok.vocab.tokens
