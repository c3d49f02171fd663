"""TF1 contrib's whole-sequence RNN objects and utilities: ``FusedRNNCellAdaptor`` (both drivers),
``TimeReversedFusedRNN`` (over ragged rows, over a list, over ``LSTMBlockFusedCell``),
``CompiledWrapper`` (the wrapped cell's numbers, names and fused path), ``transpose_batch_time``
and ``best_effort_input_batch_size``, all from ``compat.contrib_rnn`` as a TF1 program imports them."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq.compat import contrib_rnn as rnn

T, B, D, H = 6, 3, 4, 5
rng = np.random.default_rng(5)
X_TM = rng.standard_normal((T, B, D)).astype(np.float32)
LENGTHS = np.array([6, 2, 4], np.int32)


def lstm(seed=1):
    keras.utils.set_random_seed(seed)
    return rnn.LSTMCell(H)


@pytest.mark.parametrize("use_dynamic_rnn", [False, True])
@pytest.mark.parametrize("as_list", [False, True])
def test_adaptor_equals_the_driver(use_dynamic_rnn, as_list):
    cell = lstm()
    reference, ref_state = nn.dynamic_rnn(cell, X_TM, sequence_length=LENGTHS, time_major=True, dtype=tf.float32)
    fused = rnn.FusedRNNCellAdaptor(cell, use_dynamic_rnn=use_dynamic_rnn)
    inputs = list(tf.unstack(X_TM)) if as_list else tf.constant(X_TM)
    outputs, state = fused(inputs, dtype=tf.float32, sequence_length=LENGTHS)
    assert isinstance(outputs, list) == as_list
    np.testing.assert_allclose(tf.stack(outputs) if as_list else outputs, reference, atol=1e-6)
    for mine, ref in zip(tf.nest.flatten(state), tf.nest.flatten(ref_state)):
        np.testing.assert_allclose(mine, ref, atol=1e-6)
    assert sorted(cell.tf1_variables()) == ["lstm_cell/bias", "lstm_cell/kernel"]  # no scope of its own


def test_time_reversed_reads_each_row_backwards_within_its_length():
    cell = lstm()
    backward = rnn.TimeReversedFusedRNN(rnn.FusedRNNCellAdaptor(cell, use_dynamic_rnn=True))
    outputs, state = backward(tf.constant(X_TM), dtype=tf.float32, sequence_length=LENGTHS)
    for b, length in enumerate(LENGTHS):  # row b alone, its real steps reversed by hand
        row = X_TM[:length, b:b + 1][::-1]
        ref, ref_state = nn.dynamic_rnn(cell, row, time_major=True, dtype=tf.float32)
        np.testing.assert_allclose(outputs[:length, b], ref[::-1, 0], atol=1e-6)
        np.testing.assert_allclose(outputs[length:, b], 0.0)
        np.testing.assert_allclose(state.h[b], ref_state.h[0], atol=1e-6)
    # twice reversed is forwards again
    twice = rnn.TimeReversedFusedRNN(backward)
    forward, _ = rnn.FusedRNNCellAdaptor(cell)(tf.constant(X_TM), dtype=tf.float32, sequence_length=LENGTHS)
    np.testing.assert_allclose(twice(tf.constant(X_TM), dtype=tf.float32, sequence_length=LENGTHS)[0], forward,
                               atol=1e-6)


def test_time_reversed_list_is_reversed_whole_as_in_contrib():
    cell = lstm()
    backward = rnn.TimeReversedFusedRNN(rnn.FusedRNNCellAdaptor(cell))
    outputs, _ = backward(list(tf.unstack(X_TM)), dtype=tf.float32)
    ref, _ = nn.dynamic_rnn(cell, X_TM[::-1], time_major=True, dtype=tf.float32)
    assert isinstance(outputs, list) and len(outputs) == T
    np.testing.assert_allclose(tf.stack(outputs), ref[::-1], atol=1e-6)


def test_time_reversed_block_fused_cell_and_its_scope():
    block = rnn.LSTMBlockFusedCell(H, name="bw_lstm")
    backward = rnn.TimeReversedFusedRNN(block)
    outputs, state = backward(tf.constant(X_TM), dtype=tf.float32)
    ref, ref_state = block(tf.constant(X_TM[::-1]), dtype=tf.float32)
    np.testing.assert_allclose(outputs, ref[::-1], atol=1e-6)
    np.testing.assert_allclose(state.c, ref_state.c, atol=1e-6)
    assert sorted(block.tf1_variables()) == ["bw_lstm/bias", "bw_lstm/kernel"]
    # TF1's layers took their scope from the first call (DeepSpeech-style scope="bw"), later ones kept it
    scoped = rnn.TimeReversedFusedRNN(rnn.LSTMBlockFusedCell(H))
    scoped(tf.constant(X_TM), dtype=tf.float32, scope="bw")
    scoped(tf.constant(X_TM), dtype=tf.float32, scope="other")
    assert sorted(scoped.cell.tf1_variables()) == ["bw/bias", "bw/kernel"]


def test_fused_rnn_objects_are_keras_layers_that_track_and_serialize():
    adaptor = rnn.FusedRNNCellAdaptor(lstm(), use_dynamic_rnn=True)
    reversed_ = rnn.TimeReversedFusedRNN(adaptor)
    reversed_(tf.constant(X_TM), dtype=tf.float32)
    assert len(reversed_.trainable_weights) == 2
    again = rnn.TimeReversedFusedRNN.from_config(reversed_.get_config())
    assert again.cell.use_dynamic_rnn is True and again.cell.cell.num_units == H
    assert isinstance(adaptor, rnn.FusedRNNCell)
    with pytest.raises(ValueError, match="use_dynamic_rnn must be True or False, got 1"):
        rnn.FusedRNNCellAdaptor(lstm(), use_dynamic_rnn=1)
    with pytest.raises(TypeError, match="cell must be a Keras layer"):
        rnn.TimeReversedFusedRNN(lambda x: x)


def test_compiled_wrapper_is_its_cell():
    x = np.transpose(X_TM, (1, 0, 2))
    plain = lstm()
    wrapped = rnn.CompiledWrapper(plain)  # the same cell: the same weights
    ref, ref_state = nn.dynamic_rnn(plain, x, sequence_length=LENGTHS, dtype=tf.float32)
    out, state = nn.dynamic_rnn(wrapped, x, sequence_length=LENGTHS, dtype=tf.float32)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    np.testing.assert_allclose(state.h, ref_state.h, atol=1e-6)
    assert sorted(wrapped.tf1_variables()) == sorted(plain.tf1_variables()) == ["lstm_cell/bias", "lstm_cell/kernel"]
    assert nn.fused.plan(wrapped, tf.constant(x)).path != nn.fused.PER_STEP  # its cell's fused path
    per_step, _ = nn.dynamic_rnn(wrapped, x, sequence_length=LENGTHS, dtype=tf.float32, fast=False)
    np.testing.assert_allclose(per_step, ref, atol=1e-6)
    again = rnn_cell.CompiledWrapper.from_config(rnn.CompiledWrapper(lstm(), compile_stateful=True).get_config())
    assert again.compile_stateful is True
    with pytest.raises(ValueError, match="compile_stateful must be True or False, got None"):
        rnn.CompiledWrapper(lstm(), compile_stateful=None)


def test_transpose_batch_time_and_best_effort_batch_size():
    x = tf.constant(rng.standard_normal((2, 3, 4, 5)))
    np.testing.assert_array_equal(rnn.transpose_batch_time(x), np.transpose(x, (1, 0, 2, 3)))
    np.testing.assert_array_equal(rnn.transpose_batch_time(tf.constant([1.0, 2.0])), [1.0, 2.0])
    assert rnn.best_effort_input_batch_size([tf.constant(X_TM)]) == B

    @tf.function(input_signature=[tf.TensorSpec([None, None, D]), tf.TensorSpec([None, B, D])])
    def sizes(unknown, known):
        first = rnn.best_effort_input_batch_size([unknown])
        assert tf.is_tensor(first)  # only the run-time size is known
        assert rnn.best_effort_input_batch_size([unknown, known]) == B  # the static one wins
        return first

    assert int(sizes(tf.zeros([2, 7, D]), tf.zeros([2, B, D]))) == 7
    with pytest.raises(ValueError, match="inputs must be \\[time, batch, ...\\], got shape \\(3,\\)"):
        rnn.best_effort_input_batch_size([tf.zeros([3])])
    with pytest.raises(ValueError, match="at least one tensor"):
        rnn.best_effort_input_batch_size([])
