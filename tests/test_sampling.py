"""Sampling: temperature -> 0 equals greedy, seeds, the sampled distribution, lines and novelty."""

import numpy as np
import pytest
import tensorflow as tf

from tfseq.data import EOL, Vocabulary
from tfseq.demos.lm import LanguageModel, generate, generate_lines, generate_text, novelty

VOCAB = 9


@pytest.fixture(scope="module")
def model():
    model = LanguageModel(VOCAB, 8, num_layers=2, init_scale=1.0, seed=0)  # large weights: peaked logits
    model.build()
    return model


def test_temperature_to_zero_equals_greedy(model):
    greedy = generate(model, [1, 2], 30, greedy=True, num_samples=3)
    np.testing.assert_array_equal(generate(model, [1, 2], 30, temperature=0.0, num_samples=3), greedy)
    for seed in range(3):
        cold = generate(model, [1, 2], 30, temperature=1e-4, seed=seed, num_samples=3)
        np.testing.assert_array_equal(cold, greedy)
    hot = generate(model, [1, 2], 30, temperature=1.0, seed=0, num_samples=3)
    assert not np.array_equal(hot, greedy)


def test_greedy_is_the_argmax_of_the_model(model):
    prime = [3, 4, 5]
    out = generate(model, prime, 4, greedy=True)[0]
    seq = list(prime)
    for token in out:  # re-run the whole sequence from scratch at every step
        logits, _ = model(tf.constant([seq], tf.int32))
        assert token == int(np.argmax(logits[0, -1]))
        seq.append(int(token))


def test_seed_reproducible_and_seeds_differ(model):
    a = generate(model, [0], 40, seed=5, num_samples=4)
    b = generate(model, [0], 40, seed=5, num_samples=4)
    c = generate(model, [0], 40, seed=6, num_samples=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (4, 40) and a.dtype == np.int32 and a.min() >= 0 and a.max() < VOCAB


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_first_token_distribution_follows_softmax_over_temperature(model, temperature):
    n = 4000
    draws = generate(model, [2], 1, temperature=temperature, seed=1, num_samples=n)[:, 0]
    logits, _ = model(tf.constant([[2]], tf.int32))
    p = tf.nn.softmax(logits[0, -1] / temperature).numpy()
    freq = np.bincount(draws, minlength=VOCAB) / n
    # 5 standard errors of a binomial proportion
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-3), (freq, p)


def _forced(token_id, vocab_size):
    """A model that always predicts ``token_id`` (huge output bias)."""
    model = LanguageModel(vocab_size, 4, init_scale=0.01, seed=0)
    model.build()
    bias = np.zeros(vocab_size, np.float32)
    bias[token_id] = 50.0
    model.softmax_b.assign(bias)
    return model


def test_generate_lines_cuts_at_end_of_line():
    vocab = Vocabulary(["<unk>", EOL, "a", "b"])
    assert generate_lines(_forced(1, 4), vocab, "char", num_lines=3, seed=0) == ["", "", ""]
    lines = generate_lines(_forced(2, 4), vocab, "char", num_lines=2, max_length=7, prime="b", seed=0)
    assert lines == ["baaaaaaa", "baaaaaaa"]
    text = generate_text(_forced(3, 4), vocab, "char", prime="ab", length=5)
    assert text == "abbbbbb"


def test_novelty():
    train = ["emma", "olivia", "ava"]
    assert novelty(["emma", "zed", "ava", "quinta"], train) == 0.5
    assert novelty(["", "emma "], train) == 0.0  # blank lines do not count; whitespace is stripped
    assert novelty([], train) == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=-0.1), "temperature must be a number >= 0, got -0.1"),
        (dict(length=-1), "length must be an integer >= 0, got -1"),
        (dict(num_samples=0), "num_samples must be a positive integer, got 0"),
    ],
)
def test_bad_arguments(model, kwargs, message):
    args = dict(length=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate(model, [1], **args)


def test_bad_prime(model):
    with pytest.raises(ValueError, match="prime_ids must hold at least one token id"):
        generate(model, [], 3)
    with pytest.raises(ValueError, match=r"prime_ids must be in \[0, 9\)"):
        generate(model, [9], 3)
