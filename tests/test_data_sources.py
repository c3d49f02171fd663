"""load_corpus: shipped corpora, PTB-layout directories, plain text files, errors."""

import numpy as np
import pytest

from tfseq.data import (
    BUILTIN_CORPORA,
    DataSourceError,
    Vocabulary,
    builtin_corpus_path,
    detokenize,
    holdout_split,
    load_corpus,
)

PTB_TRAIN = " the cat sat \n the dog sat down \n a cat <unk> \n"
PTB_VALID = " the bird sat \n"  # "bird" is not in train -> <unk>
PTB_TEST = " a dog \n the N cats \n"


def write_ptb(directory, with_char_files=False):
    directory.mkdir(exist_ok=True)
    for split, text in (("train", PTB_TRAIN), ("valid", PTB_VALID), ("test", PTB_TEST)):
        (directory / f"ptb.{split}.txt").write_text(text)
        if with_char_files:  # Mikolov's rule, as in the published ptb.char.*.txt files
            chars = "".join("_".join(line.split()) + "\n" for line in text.splitlines())
            (directory / f"ptb.char.{split}.txt").write_text("".join(c + " " for c in chars))
    return directory


def test_ptb_directory_word_level_vocab_from_train_only(tmp_path):
    corpus = load_corpus(write_ptb(tmp_path / "ptb"), "word")
    vocab = corpus.vocab
    # train counts: <eos> 3, cat 2, sat 2, the 2, a 1, dog 1, down 1 (+ the special <unk>)
    assert vocab.tokens == ["<unk>", "<eos>", "cat", "sat", "the", "a", "dog", "down"]
    assert "bird" not in vocab and "N" not in vocab
    assert vocab.decode(corpus.train) == PTB_TRAIN.replace("\n", " <eos> ").split()
    assert vocab.decode(corpus.valid) == ["the", "<unk>", "sat", "<eos>"]
    assert vocab.decode(corpus.test) == ["a", "dog", "<eos>", "the", "<unk>", "<unk>", "<eos>"]
    assert corpus.train.dtype == np.int32 and corpus.level == "word" and corpus.name == "ptb"
    assert "vocab 8" in corpus.summary()


def test_ptb_directory_char_level_from_char_files_equals_derived(tmp_path):
    with_files = load_corpus(write_ptb(tmp_path / "a", with_char_files=True), "char")
    derived = load_corpus(write_ptb(tmp_path / "b"), "char")
    assert with_files.vocab == derived.vocab
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(with_files, split), getattr(derived, split))
    # b, i, r never occur in train: unknown at char level too
    assert "".join(derived.vocab.decode(derived.valid)) == "the_<unk><unk><unk>d_sat\n"
    assert " " not in derived.vocab and "_" in derived.vocab and "\n" in derived.vocab


def test_ptb_directory_generic_names(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(f"{split} words here\n")
    corpus = load_corpus(tmp_path, "word")
    assert corpus.vocab.decode(corpus.test) == ["<unk>", "words", "here", "<eos>"]


def test_ptb_directory_errors_name_the_file(tmp_path):
    directory = write_ptb(tmp_path / "ptb")
    (directory / "ptb.valid.txt").unlink()
    with pytest.raises(DataSourceError, match=r"ptb\.valid\.txt: no such file"):
        load_corpus(directory)
    (directory / "ptb.valid.txt").write_text("")
    with pytest.raises(DataSourceError, match=r"ptb\.valid\.txt: file is empty"):
        load_corpus(directory)
    (directory / "ptb.valid.txt").write_bytes(b"\xff\xfe bad\n")
    with pytest.raises(DataSourceError, match=r"ptb\.valid\.txt: not UTF-8"):
        load_corpus(directory)
    with pytest.raises(DataSourceError, match="no ptb.train.txt"):
        load_corpus(tmp_path)


def test_plain_text_file_contiguous_split(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(20)))
    corpus = load_corpus(path, "word", valid_fraction=0.1, test_fraction=0.2)
    words = lambda ids: detokenize(corpus.vocab.decode(ids), "word")  # noqa: E731
    assert words(corpus.train) == "".join(f"line {i}\n" for i in range(14))
    assert words(corpus.valid) == "line <unk>\nline <unk>\n"  # 14, 15 unseen in train
    assert corpus.vocab.decode(corpus.test)[:3] == ["line", "<unk>", "<eos>"]
    assert len(corpus.test) == 4 * 3 and corpus.name == "lines.txt"


def test_list_of_files_read_in_order(tmp_path):
    (tmp_path / "a.txt").write_text("ab\ncd")  # no final newline: the line still ends
    (tmp_path / "b.txt").write_text("ef\n")
    corpus = load_corpus([tmp_path / "a.txt", tmp_path / "b.txt"], "char", valid_fraction=0, test_fraction=0)
    assert "".join(corpus.vocab.decode(corpus.train)) == "ab\ncd\nef\n"
    assert corpus.valid.size == 0 and corpus.test.size == 0 and corpus.name == "a.txt+b.txt"


def test_builtin_names_char_level():
    corpus = load_corpus("builtin:names")
    assert corpus.level == "char" and corpus.name == "names"
    assert corpus.vocab.size == 28 and corpus.vocab.tokens[0] == "<unk>"
    assert set(corpus.vocab.tokens) == set("abcdefghijklmnopqrstuvwxyz\n") | {"<unk>"}
    with open(builtin_corpus_path("names"), encoding="utf-8") as f:
        names = f.read().split("\n")
    split_names = []
    for split in ("train", "valid", "test"):
        text = "".join(corpus.vocab.decode(getattr(corpus, split)))
        assert text.endswith("\n")  # every name ends with the end-of-line token
        split_names.append(text[:-1].split("\n"))
    assert sorted(sum(split_names, [])) == sorted(names)  # the splits partition the names
    assert len(split_names[1]) == len(split_names[2]) == round(len(names) * 0.1)
    assert split_names[0][:3] != names[:3]  # shuffled: the popular names are not all in train
    again = load_corpus("builtin:names")
    np.testing.assert_array_equal(again.valid, corpus.valid)  # deterministic
    assert sorted(corpus.lines()) == sorted(n for n in names if n)  # decoded, not read again


def test_builtin_shakespeare_contiguous_and_word_level():
    corpus = load_corpus("builtin:shakespeare")
    with open(builtin_corpus_path("shakespeare"), encoding="utf-8") as f:
        text = f.read()
    decoded = "".join(corpus.vocab.decode(np.concatenate([corpus.train, corpus.valid, corpus.test])))
    assert decoded == text and text.startswith("First Citizen:")
    words = load_corpus("builtin:shakespeare", "word")
    assert words.level == "word" and words.vocab.decode(words.train[:3]) == ["First", "Citizen:", "<eos>"]
    assert set(BUILTIN_CORPORA) >= {"names", "shakespeare"}


def test_given_vocabulary_is_reused(tmp_path):
    vocab = Vocabulary.build(list("abc"))
    corpus = load_corpus("builtin:names", vocab=vocab)
    assert corpus.vocab is vocab and set(corpus.train.tolist()) <= {0, 1, 2, 3}


def test_holdout_split_rules():
    lines = [str(i) for i in range(10)]
    assert holdout_split(lines, 0.2, 0.1) == (lines[:7], lines[7:9], lines[9:])
    train, valid, test = holdout_split(lines, 0.2, 0.1, order="shuffled", seed=3)
    assert sorted(train + valid + test) == sorted(lines) and train != lines[:7]
    assert holdout_split(lines, 0.2, 0.1, order="shuffled", seed=3) == (train, valid, test)
    assert holdout_split(lines[:3], 0.01, 0.01) == (["0"], ["1"], ["2"])  # at least one line each


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(valid_fraction=1.5), ValueError, r"valid_fraction must be a number in \[0, 1\), got 1.5"),
        (dict(test_fraction=-0.1), ValueError, r"test_fraction must be a number in \[0, 1\), got -0.1"),
        (dict(valid_fraction=0.5, test_fraction=0.5), ValueError, "valid_fraction \\+ test_fraction must be < 1"),
        (dict(split="random"), ValueError, "split must be one of .* got 'random'"),
        (dict(level="bytes"), ValueError, "level must be one of .* got 'bytes'"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_corpus("builtin:names", **kwargs)


def test_bad_sources(tmp_path):
    with pytest.raises(DataSourceError, match="unknown builtin corpus 'nope'; available: names, shakespeare"):
        load_corpus("builtin:nope")
    with pytest.raises(DataSourceError, match="missing.txt: no such file or directory"):
        load_corpus(tmp_path / "missing.txt")
    (tmp_path / "two.txt").write_text("one\ntwo\n")
    with pytest.raises(ValueError, match=r"too few lines \(2\)"):
        load_corpus(tmp_path / "two.txt")
    with pytest.raises(TypeError, match="source must be a str"):
        load_corpus(42)
    with pytest.raises(ValueError, match="at least one file"):
        load_corpus([])


def test_data_layer_imports_nothing_above_it():
    import subprocess
    import sys

    code = (
        "import sys, tfseq.data; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['tfseq', 'models'], ['tfseq', 'train'], ['tfseq', 'cli'], ['tfseq', 'bench'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fractions_checked_for_every_source_and_vocab_without_unk(tmp_path):
    directory = write_ptb(tmp_path / "ptb")
    with pytest.raises(ValueError, match=r"valid_fraction must be a number in \[0, 1\), got 2"):
        load_corpus(directory, valid_fraction=2)
    strict = Vocabulary(["the", "cat", "sat", "<eos>"], unk_token=None)
    with pytest.raises(DataSourceError, match="ptb: token 'dog' is not in the vocabulary and it has no unk_token"):
        load_corpus(directory, vocab=strict)
