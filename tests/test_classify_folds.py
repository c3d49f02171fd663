"""benchmarks.classify_quality's K-fold cross-validation splits (Kim 2014's MR protocol): every
example is tested exactly once, validation is carved out of each training part, the folds
follow the seed, and the files the runs read hold the same tokens."""

import os

import pytest

from benchmarks.classify_quality import main, mr_folds, write_fold
from tfseq.data.sentiment import load_sentiment


def _examples(n):
    return [([f"w{i}", "film", "!"], i % 2) for i in range(n)]


@pytest.mark.parametrize("n, folds", [(103, 10), (20, 4)])
def test_every_example_is_tested_once_and_validation_comes_from_the_training_part(n, folds):
    examples = _examples(n)
    runs = mr_folds(examples, folds, seed=0, valid_fraction=0.1)
    assert len(runs) == folds
    tested = [e[0][0] for _, _, test in runs for e in test]
    assert sorted(tested) == sorted(e[0][0] for e in examples)
    assert max(len(t) for _, _, t in runs) - min(len(t) for _, _, t in runs) <= 1
    for train, valid, test in runs:
        names = [{e[0][0] for e in part} for part in (train, valid, test)]
        assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
        assert len(train) + len(valid) + len(test) == n
        assert len(valid) == round((n - len(test)) * 0.1)


def test_the_folds_follow_the_seed():
    examples = _examples(50)
    first = [[e[0][0] for e in t] for _, _, t in mr_folds(examples, 5, seed=3, valid_fraction=0.1)]
    assert first == [[e[0][0] for e in t] for _, _, t in mr_folds(examples, 5, seed=3, valid_fraction=0.1)]
    assert first != [[e[0][0] for e in t] for _, _, t in mr_folds(examples, 5, seed=4, valid_fraction=0.1)]


def test_a_fold_written_to_disk_reads_back_as_the_same_tokens_and_labels(tmp_path):
    examples = [(["it", "'s", "a", "gorgeous", ",", "witty", "film", "!"], 1), (["dull", "."], 0),
                (["does", "n't", "work"], 0)]
    parts = (examples, examples[:1], examples[1:])
    write_fold(str(tmp_path), parts)
    corpus = load_sentiment(str(tmp_path))
    assert (corpus.train, corpus.valid, corpus.test) == parts


def test_too_few_folds_is_refused(tmp_path, capsys):
    for name in ("rt-polarity.pos", "rt-polarity.neg"):
        (tmp_path / name).write_text("good\n")
    assert main(["quality", "--data", os.fspath(tmp_path), "--folds", "1"]) == 2
    assert capsys.readouterr().err == "--folds must be >= 2, got 1\n"


def test_the_kept_epoch_is_read_from_the_train_output():
    from benchmarks.classify_quality import _kept_epoch

    out = "Epoch 4, lr 0.001, ...\nkept the weights of epoch 3 of 4 (best validation accuracy)\ntest: accuracy 70.00%"
    assert _kept_epoch(out) == 3 and _kept_epoch("Epoch 1, lr 0.001\ntest: accuracy 70.00%") is None
