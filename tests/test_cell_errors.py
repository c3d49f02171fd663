"""Bad input -> ValueError/TypeError whose message names the argument and echoes the value."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell

CELLS = {
    "BasicRNNCell": rnn_cell.BasicRNNCell,
    "BasicLSTMCell": rnn_cell.BasicLSTMCell,
    "LSTMCell": rnn_cell.LSTMCell,
    "GRUCell": rnn_cell.GRUCell,
}
X = tf.zeros((3, 5, 4))


@pytest.mark.parametrize("cls", list(CELLS))
@pytest.mark.parametrize("num_units", [0, -2, 2.5, True, "4", None])
def test_num_units_must_be_positive_int(cls, num_units):
    with pytest.raises((ValueError, TypeError), match=rf"num_units.*{re_value(num_units)}"):
        CELLS[cls](num_units)


def re_value(value):
    import re

    return re.escape(repr(value))


@pytest.mark.parametrize("cls", list(CELLS))
def test_numpy_scalars_are_valid_arguments(cls):
    cell = CELLS[cls](np.int64(3))
    assert cell.num_units == 3 and type(cell.num_units) is int
    if cls.endswith("LSTMCell"):
        cell = CELLS[cls](3, forget_bias=np.float32(0.5))
        assert cell.forget_bias == 0.5 and type(cell.forget_bias) is float


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"cell_clip": -1.0}, r"cell_clip.*-1\.0"),
        ({"cell_clip": -0.5}, r"cell_clip.*got -0\.5"),  # 0.0 is TF1's "clip to zero" (test_tf1_dropin.py)
        ({"cell_clip": "big"}, r"cell_clip.*'big'"),
        ({"num_proj": 0}, r"num_proj.*got 0"),
        ({"num_proj": 2, "proj_clip": -0.5}, r"proj_clip.*-0\.5"),
        ({"proj_clip": 1.0}, r"proj_clip=1\.0.*num_proj"),
        ({"forget_bias": "1"}, r"forget_bias.*'1'"),
        ({"num_unit_shards": 2}, r"num_unit_shards=2.*tf\.distribute"),
        ({"num_proj_shards": 4}, r"num_proj_shards=4"),
    ],
)
def test_lstm_cell_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        rnn_cell.LSTMCell(3, **kwargs)


@pytest.mark.parametrize("cls", list(CELLS))
def test_non_callable_activation_is_a_type_error(cls):
    with pytest.raises(TypeError, match=r"activation.*42"):
        CELLS[cls](3, activation=42)


@pytest.mark.parametrize("cls", list(CELLS))
def test_unknown_activation_name(cls):
    with pytest.raises(ValueError, match=r"activation.*'tanhh'"):
        CELLS[cls](3, activation="tanhh")


@pytest.mark.parametrize("cls", list(CELLS))
def test_reuse_is_rejected_with_advice(cls):
    with pytest.raises(ValueError, match=r"reuse=True.*same cell object"):
        CELLS[cls](3, reuse=True)
    CELLS[cls](3, reuse=None)  # TF1's default is accepted, so copied code runs


@pytest.mark.parametrize("cls", list(CELLS))
def test_wrong_input_rank_for_one_step(cls):
    cell = CELLS[cls](3)
    state = cell.get_initial_state(batch_size=3, dtype=tf.float32)
    with pytest.raises(ValueError, match=r"inputs must have rank 2.*\(3, 5, 4\)"):
        cell(X, state)


@pytest.mark.parametrize("cls", list(CELLS))
def test_integer_inputs_to_a_float_cell(cls):
    cell = CELLS[cls](3)
    state = cell.get_initial_state(batch_size=2, dtype=tf.float32)
    with pytest.raises(TypeError, match=r"inputs must be a float tensor.*int32"):
        cell(tf.ones((2, 4), tf.int32), state)
    with pytest.raises(TypeError, match=r"inputs must be a float tensor.*int32"):
        nn.dynamic_rnn(CELLS[cls](3), tf.ones((2, 5, 4), tf.int32))


@pytest.mark.parametrize(
    "cell, state, pattern",
    [
        (rnn_cell.GRUCell(3), tf.zeros((2, 4)), r"state.*\[batch, 3\].*\(2, 4\)"),
        (rnn_cell.BasicLSTMCell(3), tf.zeros((2, 3)), r"state_size=LSTMStateTuple\(c=3, h=3\), got 1"),
        (rnn_cell.LSTMCell(3, num_proj=2), (tf.zeros((2, 3)), tf.zeros((2, 3))), r"\[batch, 2\].*\(2, 3\)"),
        (rnn_cell.BasicLSTMCell(3, state_is_tuple=False), tf.zeros((2, 3)), r"\[batch, 6\].*\(2, 3\)"),
    ],
    ids=["gru_width", "lstm_tuple_count", "lstm_proj_h_width", "lstm_concat_width"],
)
def test_mismatched_state_for_one_step(cell, state, pattern):
    with pytest.raises(ValueError, match=pattern):
        cell(tf.zeros((2, 4)), state)


def test_dynamic_rnn_wrong_input_rank():
    with pytest.raises(ValueError, match=r"inputs must have rank 3 \[batch, time, depth\].*\(3, 4\)"):
        nn.dynamic_rnn(rnn_cell.GRUCell(3), tf.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"rank 3 \[time, batch, depth\].*\(3, 4\)"):
        nn.dynamic_rnn(rnn_cell.GRUCell(3), tf.zeros((3, 4)), time_major=True)
    with pytest.raises(TypeError, match=r"inputs must be a non-empty list.*EagerTensor"):
        nn.static_rnn(rnn_cell.GRUCell(3), X)


@pytest.mark.parametrize("driver", ["static_rnn", "static_bidirectional_rnn"])
def test_static_drivers_take_steps_of_rank_2_or_more_all_of_one_shape(driver):
    """TF1's static drivers run a cell on [batch, ...] steps of any rank >= 2 (a conv cell's [batch, H, W, C]);
    a step of rank below 2, or of another shape than the first, is a clear error naming it."""
    run = {"static_rnn": lambda steps: nn.static_rnn(rnn_cell.GRUCell(3), steps),
           "static_bidirectional_rnn": lambda steps: nn.static_bidirectional_rnn(
               rnn_cell.GRUCell(3), rnn_cell.GRUCell(2), steps)}[driver]
    with pytest.raises(ValueError, match=r"inputs\[1\] must have rank 2 \[batch, depth\] \(or more.*got shape \(3,\)"):
        run([tf.zeros((3, 4)), tf.zeros((3,))])
    with pytest.raises(ValueError, match=r"every step must have the shape of inputs\[0\], \(3, 4\); inputs\[1\] has "
                                         r"shape \(3, 4, 1\)"):
        run([tf.zeros((3, 4)), tf.zeros((3, 4, 1))])
    conv = rnn_cell.Conv1DLSTMCell(input_shape=[4, 2], output_channels=3, kernel_shape=[3])
    steps = [tf.ones((3, 4, 2)), tf.zeros((3, 4, 2))]
    if driver == "static_rnn":
        outputs, state = nn.static_rnn(conv, steps, sequence_length=[2, 1, 0])
    else:
        outputs, state, _ = nn.static_bidirectional_rnn(conv, conv, steps, sequence_length=[2, 1, 0])
    assert len(outputs) == 2 and tuple(state.h.shape) == (3, 4, 3)
    assert np.all(outputs[1][1:].numpy() == 0) and np.all(outputs[0][2].numpy() == 0)  # past each row's length
    assert np.all(state.c[2].numpy() == 0) and np.any(state.c[1].numpy() != 0)


@pytest.mark.parametrize(
    "cell, initial_state, pattern",
    [
        (rnn_cell.GRUCell(3), tf.zeros((3, 4)), r"initial_state.*\(3, 4\)"),
        (rnn_cell.GRUCell(3), tf.zeros((2, 3)), r"initial_state.*\(2, 3\)"),  # wrong batch
        (rnn_cell.GRUCell(3), (tf.zeros((3, 3)), tf.zeros((3, 3))), r"initial_state.*state_size=3.*got 2"),
        (rnn_cell.BasicLSTMCell(3), tf.zeros((3, 3)), r"initial_state.*expected 2 tensor\(s\), got 1"),
        (rnn_cell.LSTMCell(3, num_proj=2), rnn_cell.LSTMStateTuple(tf.zeros((3, 3)), tf.zeros((3, 3))),
         r"initial_state.*\[3, 2\].*\(3, 3\)"),
    ],
    ids=["width", "batch", "too_many", "too_few", "proj_width"],
)
def test_dynamic_rnn_mismatched_initial_state(cell, initial_state, pattern):
    with pytest.raises(ValueError, match=pattern):
        nn.dynamic_rnn(cell, X, initial_state=initial_state)


@pytest.mark.parametrize(
    "sequence_length, error, pattern",
    [
        ([5, 2], ValueError, r"sequence_length.*\[batch\]=\[3\].*\(2,\)"),
        ([[5, 2, 1]], ValueError, r"sequence_length.*\(1, 3\)"),
        (4, ValueError, r"sequence_length.*scalar 4"),
        ([5.0, 2.0, 1.0], TypeError, r"sequence_length.*float32"),
    ],
    ids=["short", "rank2", "scalar", "float"],
)
@pytest.mark.parametrize("driver", ["dynamic_rnn", "bidirectional_dynamic_rnn", "static_rnn"])
def test_sequence_length_of_wrong_shape(sequence_length, error, pattern, driver):
    with pytest.raises(error, match=pattern):
        if driver == "dynamic_rnn":
            nn.dynamic_rnn(rnn_cell.GRUCell(3), X, sequence_length=sequence_length)
        elif driver == "static_rnn":
            nn.static_rnn(rnn_cell.GRUCell(3), tf.unstack(X, axis=1), sequence_length=sequence_length)
        else:
            nn.bidirectional_dynamic_rnn(rnn_cell.GRUCell(3), rnn_cell.GRUCell(3), X, sequence_length=sequence_length)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"parallel_iterations": 0}, r"parallel_iterations must be a positive integer or None, got 0"),
    ({"swap_memory": "yes"}, r"swap_memory must be True or False, got 'yes'"),
])
def test_tf1_performance_knobs_reject_bad_values(kwargs, pattern):
    # any valid value is accepted (TF1 code passes parallel_iterations=32, swap_memory=True):
    # tests/test_tf1_dropin.py
    with pytest.raises(ValueError, match=pattern):
        nn.dynamic_rnn(rnn_cell.GRUCell(3), X, **kwargs)
    with pytest.raises(ValueError, match=pattern):
        nn.bidirectional_dynamic_rnn(rnn_cell.GRUCell(3), rnn_cell.GRUCell(3), X, **kwargs)


def test_not_a_cell():
    with pytest.raises(TypeError, match=r"cell must have a state_size.*Dense"):
        nn.dynamic_rnn(keras.layers.Dense(3), X)


def test_initial_state_needs_a_batch_size_and_variables_need_a_build():
    cell = rnn_cell.GRUCell(3)
    with pytest.raises(ValueError, match=r"batch_size or inputs"):
        cell.get_initial_state()
    with pytest.raises(ValueError, match=r"build the cell"):
        cell.tf1_variables()


def test_unknown_rank_inside_tf_function_is_reported_not_crashed():
    cell = rnn_cell.GRUCell(3)

    def run(x, seq):
        return nn.dynamic_rnn(cell, x, sequence_length=seq)[0]

    unknown_inputs = tf.function(run, input_signature=[tf.TensorSpec(None), tf.TensorSpec([None], tf.int32)])
    with pytest.raises(ValueError, match=r"inputs must have rank 3.*got shape <unknown>"):
        unknown_inputs.get_concrete_function()
    unknown_seq = tf.function(run, input_signature=[tf.TensorSpec([3, 5, 4]), tf.TensorSpec(None, tf.int32)])
    with pytest.raises(ValueError, match=r"sequence_length must have shape \[batch\]=\[3\], got <unknown>"):
        unknown_seq.get_concrete_function()
