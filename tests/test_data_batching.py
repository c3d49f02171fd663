"""lm_batches: the TF PTB tutorial's ptb_producer layout, checked against a NumPy loop."""

import numpy as np
import pytest
import tensorflow as tf

from tfseq.data import lm_batches, lm_epoch_size


def ptb_producer_numpy(raw, batch_size, num_steps):
    """The tutorial's reader, written as its loop: window i of data[batch_size, batch_len]."""
    batch_len = len(raw) // batch_size
    data = np.zeros([batch_size, batch_len], dtype=np.int32)
    for b in range(batch_size):
        data[b] = raw[batch_len * b : batch_len * (b + 1)]
    epoch_size = (batch_len - 1) // num_steps
    for i in range(epoch_size):
        yield data[:, i * num_steps : (i + 1) * num_steps], data[:, i * num_steps + 1 : (i + 1) * num_steps + 1]


@pytest.mark.parametrize("n, batch_size, num_steps", [(103, 4, 5), (100, 3, 7), (24, 4, 5), (61, 1, 6)])
def test_matches_tutorial_reader(n, batch_size, num_steps):
    raw = np.random.default_rng(n).integers(0, 50, size=n).astype(np.int32)
    expected = list(ptb_producer_numpy(raw, batch_size, num_steps))
    got = [(x.numpy(), y.numpy()) for x, y in lm_batches(raw, batch_size, num_steps)]
    assert len(got) == len(expected) == lm_epoch_size(n, batch_size, num_steps) > 0
    for (x, y), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_windows_continue_across_batches_and_y_is_shifted_x():
    ids = np.arange(1000, 1103, dtype=np.int32)  # distinct tokens make positions visible
    batch_size, num_steps = 4, 5
    batches = [(x.numpy(), y.numpy()) for x, y in lm_batches(ids, batch_size, num_steps)]
    batch_len = len(ids) // batch_size  # 25 tokens per row
    rows = np.concatenate([x for x, _ in batches], axis=1)  # [B, E*T]
    for b in range(batch_size):  # row b is one contiguous stretch of the stream
        np.testing.assert_array_equal(rows[b], ids[b * batch_len : b * batch_len + rows.shape[1]])
    for k, (x, y) in enumerate(batches):
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
        if k + 1 < len(batches):  # last target of window k == first input of window k+1
            np.testing.assert_array_equal(y[:, -1], batches[k + 1][0][:, 0])


def test_dataset_spec_is_static_int32():
    ds = lm_batches(list(range(50)), batch_size=2, num_steps=3)
    spec = ds.element_spec
    assert spec[0].shape == (2, 3) and spec[1].shape == (2, 3)
    assert spec[0].dtype == tf.int32 and spec[1].dtype == tf.int32
    assert ds.cardinality().numpy() == lm_epoch_size(50, 2, 3) == 8


def test_start_resumes_at_window_k():
    ids = np.arange(200)
    full = [x.numpy() for x, _ in lm_batches(ids, 3, 4)]
    resumed = [x.numpy() for x, _ in lm_batches(ids, 3, 4, start=5)]
    assert len(resumed) == len(full) - 5
    for a, b in zip(full[5:], resumed):
        np.testing.assert_array_equal(a, b)
    assert len(list(lm_batches(ids, 3, 4, start=len(full)))) == 0


def test_epoch_size_formula():
    # batch_len = n // B; epoch_size = (batch_len - 1) // T  (ptb_producer)
    assert lm_epoch_size(929589, 20, 20) == 2323  # PTB train, small config
    assert lm_epoch_size(929589, 20, 35) == 1327
    assert lm_epoch_size(10, 4, 1) == 1 and lm_epoch_size(7, 4, 1) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch_size=0, num_steps=5), "batch_size must be a positive int, got 0"),
        (dict(batch_size=-2, num_steps=5), "batch_size must be a positive int, got -2"),
        (dict(batch_size=2.0, num_steps=5), "batch_size must be a positive int, got 2.0"),
        (dict(batch_size=True, num_steps=5), "batch_size must be a positive int, got True"),
        (dict(batch_size=2, num_steps=0), "num_steps must be a positive int, got 0"),
        (dict(batch_size=4, num_steps=5, start=-1), r"start must be an int in \[0, epoch_size=4\], got -1"),
        (dict(batch_size=4, num_steps=5, start=5), r"start must be an int in \[0, epoch_size=4\], got 5"),
        (dict(batch_size=10, num_steps=10), r"too few tokens \(100\) .* batch_size=10 and num_steps=10"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lm_batches(np.arange(100), **kwargs)


def test_bad_ids():
    with pytest.raises(ValueError, match=r"1-D .* got shape \(2, 50\)"):
        lm_batches(np.zeros([2, 50], np.int32), 2, 3)
    with pytest.raises(ValueError, match="ids must be integers, got dtype float"):
        lm_batches(np.zeros([50]), 2, 3)
