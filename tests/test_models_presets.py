"""Presets: the PTB tutorial's exact hyper-parameters, the learning-rate schedule, overrides."""

import dataclasses

import pytest

from tfseq.demos.lm import presets

# tensorflow/models tutorials/rnn/ptb/ptb_word_lm.py, SmallConfig/MediumConfig/LargeConfig/TestConfig.
TUTORIAL = {
    "small": dict(init_scale=0.1, learning_rate=1.0, max_grad_norm=5, num_layers=2, num_steps=20,
                  hidden_size=200, max_epoch=4, max_max_epoch=13, keep_prob=1.0, lr_decay=0.5,
                  batch_size=20, vocab_size=10000),
    "medium": dict(init_scale=0.05, learning_rate=1.0, max_grad_norm=5, num_layers=2, num_steps=35,
                   hidden_size=650, max_epoch=6, max_max_epoch=39, keep_prob=0.5, lr_decay=0.8,
                   batch_size=20, vocab_size=10000),
    "large": dict(init_scale=0.04, learning_rate=1.0, max_grad_norm=10, num_layers=2, num_steps=35,
                  hidden_size=1500, max_epoch=14, max_max_epoch=55, keep_prob=0.35, lr_decay=1 / 1.15,
                  batch_size=20, vocab_size=10000),
    "test": dict(init_scale=0.1, learning_rate=1.0, max_grad_norm=1, num_layers=1, num_steps=2,
                 hidden_size=2, max_epoch=1, max_max_epoch=1, keep_prob=1.0, lr_decay=0.5,
                 batch_size=20, vocab_size=10000),
}
# The tutorial's docstring table (test perplexity) and its valid column.
PUBLISHED = {"small": (121.39, 115.91), "medium": (86.16, 82.07), "large": (82.62, 78.29)}


@pytest.mark.parametrize("name", sorted(TUTORIAL))
def test_tutorial_hyper_parameters(name):
    config = presets.get(name)
    for key, value in TUTORIAL[name].items():
        assert getattr(config, key) == pytest.approx(value), key
    assert config.cell == "lstm" and config.forget_bias == 0.0 and not config.tie_embeddings
    if name in PUBLISHED:
        assert (config.published_valid_ppl, config.published_test_ppl) == PUBLISHED[name]


def _tutorial_schedule(config):
    """The learning rate of each epoch, computed the iterative way: constant for max_epoch
    epochs, then multiplied by lr_decay once per epoch."""
    rates, lr = [], config.learning_rate
    for epoch in range(config.max_max_epoch):
        if epoch >= config.max_epoch:
            lr *= config.lr_decay
        rates.append(lr)
    return rates


@pytest.mark.parametrize("name", presets.NAMES)
def test_learning_rate_schedule_per_epoch(name):
    config = presets.get(name)
    got = [config.learning_rate_at(e) for e in range(config.max_max_epoch)]
    assert got == pytest.approx(_tutorial_schedule(config), rel=1e-12)


def test_small_schedule_values():
    got = [presets.get("small").learning_rate_at(e) for e in range(13)]
    assert got == [1, 1, 1, 1, 0.5, 0.25, 0.125, 0.0625, 2**-5, 2**-6, 2**-7, 2**-8, 2**-9]


def test_regularised_preset_has_small_size_and_number_of_epochs():
    small, reg = presets.get("small"), presets.get("small_reg")
    for key in ("num_layers", "hidden_size", "num_steps", "batch_size", "max_max_epoch",
                "learning_rate", "lr_decay", "max_grad_norm", "init_scale"):
        assert getattr(reg, key) == getattr(small, key), key
    assert reg.tie_embeddings and reg.variational_dropout and reg.keep_prob < 1
    # regularised: two more epochs at the initial learning rate, then small's decay
    assert [reg.learning_rate_at(e) for e in range(13)] == [1] * 6 + [0.5 ** k for k in range(1, 8)]


def test_overrides():
    config = presets.get("small").with_overrides(hidden_size=64, cell="gru")
    assert (config.hidden_size, config.cell, config.num_layers) == (64, "gru", 2)
    assert presets.get("small").hidden_size == 200  # presets are not changed
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.hidden_size = 3


def test_unknown_override_key_is_named():
    with pytest.raises(ValueError, match="unknown config key 'hiden_size'"):
        presets.get("small").with_overrides(hiden_size=64)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(keep_prob=0.0), r"keep_prob must be in \(0, 1\], got 0.0"),
        (dict(num_layers=0), "num_layers must be a positive integer, got 0"),
        (dict(cell="lstn"), "cell must be one of lstm, peephole, gru, rnn, got 'lstn'"),
        (dict(learning_rate=-1.0), "learning_rate must be a positive number, got -1.0"),
        (dict(optimizer="rmsprop"), "optimizer must be one of sgd, adam, got 'rmsprop'"),
    ],
)
def test_bad_override_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        presets.get("tiny").with_overrides(**overrides)


def test_unknown_preset_and_bad_epoch():
    with pytest.raises(ValueError, match="unknown config 'huge'; choose one of test, tiny, small"):
        presets.get("huge")
    with pytest.raises(ValueError, match="epoch must be a non-negative integer, got -1"):
        presets.get("small").learning_rate_at(-1)


def test_char_preset_is_tiny_windows_and_schedule_larger_and_regularised():
    tiny, char = presets.get("tiny"), presets.get("char")
    for key in ("num_steps", "batch_size", "learning_rate", "lr_decay", "max_grad_norm", "init_scale", "cell",
                "optimizer"):
        assert getattr(char, key) == getattr(tiny, key), key
    assert (char.num_layers, char.hidden_size, char.keep_prob, char.variational_dropout) == (2, 256, 0.85, True)
    assert [char.learning_rate_at(e) for e in range(8)] == [1] * 5 + [0.5, 0.25, 0.125]


def test_lm_train_default_config_is_char():
    import argparse

    from tfseq.demos.lm import command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["lm", "train"]).config == "char"
