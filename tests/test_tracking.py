"""TensorFlow object-graph tracking: ``tf.train.Checkpoint``, ``CheckpointManager``
and SavedModel save and restore every weight of every tfseq cell and wrapper, nested, alone and
inside a Keras model. (Before the fix a ``MultiRNNCell`` -- like Keras' ``StackedRNNCells`` --
saved none of its cells' weights and restored nothing, silently.)"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import nn, rnn_cell

X = np.random.default_rng(3).standard_normal([2, 4, 3]).astype(np.float32)
IDS = np.random.default_rng(4).integers(0, 7, [2, 4, 1]).astype(np.int32)

CELLS = {
    "BasicRNNCell": lambda: rnn_cell.BasicRNNCell(3),
    "BasicLSTMCell": lambda: rnn_cell.BasicLSTMCell(3),
    "LSTMCell": lambda: rnn_cell.LSTMCell(4, use_peepholes=True, num_proj=3),
    "GRUCell": lambda: rnn_cell.GRUCell(3),
    "LSTMBlockCell": lambda: rnn_cell.LSTMBlockCell(3),
    "GRUBlockCellV2": lambda: rnn_cell.GRUBlockCellV2(3),
    "LayerNormBasicLSTMCell": lambda: rnn_cell.LayerNormBasicLSTMCell(3),
    "DropoutWrapper": lambda: rnn_cell.DropoutWrapper(rnn_cell.GRUCell(3), output_keep_prob=0.5),
    "ResidualWrapper": lambda: rnn_cell.ResidualWrapper(rnn_cell.GRUCell(3)),
    "DeviceWrapper": lambda: rnn_cell.DeviceWrapper(rnn_cell.BasicLSTMCell(3), "/cpu:0"),
    "EmbeddingWrapper": lambda: rnn_cell.EmbeddingWrapper(rnn_cell.GRUCell(3), 7, 5),
    "InputProjectionWrapper": lambda: rnn_cell.InputProjectionWrapper(rnn_cell.GRUCell(3), 5),
    "OutputProjectionWrapper": lambda: rnn_cell.OutputProjectionWrapper(rnn_cell.GRUCell(4), 3),
    "MultiRNNCell": lambda: rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(3)]),
    "nested": lambda: rnn_cell.MultiRNNCell([
        rnn_cell.DropoutWrapper(rnn_cell.LSTMCell(3, use_peepholes=True), output_keep_prob=0.7),
        rnn_cell.ResidualWrapper(rnn_cell.GRUCell(3)),
        rnn_cell.MultiRNNCell([rnn_cell.OutputProjectionWrapper(rnn_cell.BasicRNNCell(4), 3),
                               rnn_cell.DeviceWrapper(rnn_cell.BasicLSTMCell(3), "/cpu:0")]),
    ]),
}


def _built(name):
    cell = CELLS[name]()
    inputs = IDS if name == "EmbeddingWrapper" else X
    nn.dynamic_rnn(cell, inputs, training=False)  # builds every weight
    return cell, inputs


def _values(cell):
    return [w.numpy() for w in cell.weights]


def _saved_weight_count(path):
    """Number of model weights in a checkpoint: ``.../VARIABLE_VALUE`` entries but the save
    counter and the dropout wrappers' seed state."""
    names = [n for n, _ in tf.train.list_variables(path) if n.endswith("VARIABLE_VALUE")]
    return len([n for n in names if not n.startswith("save_counter") and "seed" not in n])


def _perturb(cell):
    for weight in cell.weights:
        weight.assign(weight + 1.0)


@pytest.mark.parametrize("name", list(CELLS))
def test_checkpoint_saves_and_restores_every_weight(name, tmp_path):
    cell, inputs = _built(name)
    expected_outputs, _ = nn.dynamic_rnn(cell, inputs, training=False)
    expected = _values(cell)
    path = tf.train.Checkpoint(cell=cell).save(str(tmp_path / "ckpt"))
    assert _saved_weight_count(path) == len({id(w) for w in cell.weights}) > 0
    _perturb(cell)
    tf.train.Checkpoint(cell=cell).restore(path).assert_existing_objects_matched()
    for got, want in zip(_values(cell), expected):
        np.testing.assert_array_equal(got, want)
    fresh, _ = _built(name)  # a second object of the same structure restores the same numbers
    tf.train.Checkpoint(cell=fresh).restore(path).assert_consumed()
    np.testing.assert_allclose(nn.dynamic_rnn(fresh, inputs, training=False)[0], expected_outputs, atol=1e-6)


def test_checkpoint_manager_and_deferred_restore(tmp_path):
    cell, _ = _built("nested")
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(cell=cell), str(tmp_path), max_to_keep=2)
    manager.save()
    expected = _values(cell)
    fresh = CELLS["nested"]()  # not built yet: TF restores each weight when it is created
    tf.train.Checkpoint(cell=fresh).restore(tf.train.CheckpointManager(
        tf.train.Checkpoint(cell=fresh), str(tmp_path), max_to_keep=2).latest_checkpoint)
    nn.dynamic_rnn(fresh, X, training=False)
    for got, want in zip(_values(fresh), expected):
        np.testing.assert_array_equal(got, want)


def test_savedmodel_holds_every_weight(tmp_path):
    cell, _ = _built("nested")
    module = tf.Module()
    module.cell = cell
    tf.saved_model.save(module, str(tmp_path))
    variables = os.path.join(str(tmp_path), "variables", "variables")
    assert _saved_weight_count(variables) == len(cell.weights)
    fresh, _ = _built("nested")
    tf.train.Checkpoint(cell=fresh).restore(variables).expect_partial()
    for got, want in zip(_values(fresh), _values(cell)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layer", [keras.layers.RNN, nn.RNN])
def test_keras_model_checkpoint_restores_cells_inside(layer, tmp_path):
    def model():
        cell = CELLS["nested"]()
        return keras.Sequential([keras.Input((4, 3)), layer(cell, return_sequences=True), keras.layers.Dense(2)])

    first = model()
    path = tf.train.Checkpoint(model=first).save(str(tmp_path / "ckpt"))
    assert _saved_weight_count(path) == len(first.weights)
    second = model()
    tf.train.Checkpoint(model=second).restore(path).assert_consumed()
    np.testing.assert_allclose(second(X), first(X), atol=1e-6)
