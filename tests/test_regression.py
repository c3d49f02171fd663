"""Linear regression: gradient descent through the shared Trainer reaches the closed-form
least-squares solution; CSV tables and their errors; the TensorBoard events it writes."""

import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tfseq.data.csv_source import read_csv_table
from tfseq.demos.regress.model import (
    LinearRegression,
    RegressionTask,
    least_squares,
    synthetic_data,
    train_validation_split,
)
from tfseq.train import RunWriters, Trainer


def train(task, epochs, learning_rate=0.1, writers=None):
    trainer = Trainer(task, keras.optimizers.SGD(learning_rate), epochs, writers=writers, log_every=5,
                      jit_compile=False)
    return trainer.fit()


def test_least_squares_recovers_noise_free_parameters():
    x, y, true_w, true_b = synthetic_data(50, num_features=3, noise=0.0, seed=4)
    weights, bias = least_squares(x, y)
    np.testing.assert_allclose(weights, true_w, atol=1e-10)
    assert bias == pytest.approx(true_b, abs=1e-10)
    # and it is the minimum: the gradient of the squared error vanishes there
    residual = x @ weights + bias - y
    np.testing.assert_allclose(x.T @ residual, 0, atol=1e-9)


def test_gradient_descent_converges_to_the_closed_form():
    x, y, _, _ = synthetic_data(120, num_features=2, noise=0.3, seed=1)
    train_x, train_y, valid_x, valid_y = train_validation_split(x, y, 0.25, seed=1)
    model = LinearRegression(2)
    task = RegressionTask(model, train_x, train_y, 40, valid_x, valid_y)
    history = train(task, epochs=8)
    weights, bias = task.parameters()
    best_w, best_b = least_squares(train_x, train_y)
    np.testing.assert_allclose(weights, best_w, atol=1e-4)
    assert bias == pytest.approx(best_b, abs=1e-4)
    # the logged training loss is the mean squared error of the final fit (NumPy)
    assert history[-1]["train_loss"] == pytest.approx(np.mean((train_x @ weights + bias - train_y) ** 2), rel=1e-3)
    valid = task.evaluate("validation")
    errors = valid_x @ weights + bias - valid_y
    assert valid["loss"] == pytest.approx(np.mean(errors ** 2), rel=1e-6)
    assert valid["R2"] == pytest.approx(1 - np.sum(errors ** 2) / np.sum((valid_y - valid_y.mean()) ** 2), rel=1e-6)
    assert [row[0] for row in task.comparison()] == ["W[x0]", "W[x1]", "b"]
    assert max(abs(row[3]) for row in task.comparison()) < 1e-4


def test_window_scalars_are_the_parameters_and_their_summaries():
    model = LinearRegression(3)
    model.weight.assign([0.5, -1.0, 2.0])
    model.bias.assign(0.25)
    task = RegressionTask(model, np.zeros((4, 3)), np.zeros(4), feature_names=["a", "b", "c"])
    got = task.window_scalars()
    w = np.array([0.5, -1.0, 2.0])
    assert got == pytest.approx({"W/a": 0.5, "W/b": -1.0, "W/c": 2.0, "W/mean": w.mean(), "W/stddev": w.std(),
                                 "W/min": -1.0, "W/max": 2.0, "b": 0.25})


def test_model_config_and_keras_file_round_trip(tmp_path):
    model = LinearRegression(2, name="lr")
    model.weight.assign([1.5, -2.0])
    model.bias.assign(0.5)
    x = np.array([[1.0, 2.0], [0.0, -1.0]], np.float32)
    np.testing.assert_allclose(model(x), [-2.0, 2.5])
    assert model.get_config()["num_features"] == 2
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, LinearRegression)
    np.testing.assert_allclose(loaded(x), model(x))


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_bad_num_features(value):
    with pytest.raises(ValueError, match=f"LinearRegression: num_features must be a positive integer, got {value!r}"):
        LinearRegression(value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_examples=1), "num_examples must be an integer >= 2, got 1"),
    (dict(num_examples=10, num_features=0), "num_features must be an integer >= 1, got 0"),
    (dict(num_examples=10, noise=-0.1), "noise must be a finite number >= 0, got -0.1"),
    (dict(num_examples=10, noise=float("nan")), "noise must be a finite number >= 0, got nan"),
])
def test_bad_synthetic_data_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_data(**kwargs)


def test_task_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"features must have shape \[N, 2\], got \[5, 3\]"):
        RegressionTask(LinearRegression(2), np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match=r"targets must have shape \[5\], got \[4\]"):
        RegressionTask(LinearRegression(2), np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer, got 0"):
        RegressionTask(LinearRegression(2), np.zeros((5, 2)), np.zeros(5), steps_per_epoch=0)


# -- CSV -------------------------------------------------------------------------------------------
def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_csv_table_columns_and_values(tmp_path):
    path = write(tmp_path, "size, y ,rooms\n1.5,10,3\n\n2,20.5,-4e-1\n")
    table = read_csv_table(path, target="y")
    assert table.feature_names == ("size", "rooms") and table.target_name == "y"
    np.testing.assert_array_equal(table.features, [[1.5, 3.0], [2.0, -0.4]])
    np.testing.assert_array_equal(table.targets, [10.0, 20.5])
    only = read_csv_table(path, target="rooms", features=["y"])
    np.testing.assert_array_equal(only.features, [[10.0], [20.5]])


@pytest.mark.parametrize("text, target, message", [
    ("", "y", "line 1: the file is empty, expected a header row of column names"),
    ("\n\n", "y", "line 1: the file is empty, expected a header row of column names"),
    ("a,b\n1,2\n", "y", "line 1: no column 'y' (the columns are a, b)"),
    ("a,y\n", "y", "no data rows after the header (line 1)"),
    ("y\n1\n", "y", "line 1: no feature column besides the target 'y'"),
    ("a,a,y\n1,2,3\n", "y", "line 1, column 2: column 'a' appears twice"),
    ("a,y\n1,2\n3,four\n", "y", "line 3, column 'y': not a number: 'four'"),
    ("a,y\n1,2\n\n,4\n", "y", "line 4, column 'a': not a number: ''"),
    ("a,y\n1,nan\n", "y", "line 2, column 'y': not a finite number: 'nan'"),
    ("a,b,y\n1,2,3\n4,5\n", "y", "line 3, column 'y': missing (2 fields, the header on line 1 has 3)"),
    ("a,y\n1,2\n3,4,5\n", "y", "line 3, column 3: extra field (3 fields, the header on line 1 has 2)"),
], ids=["empty", "blank", "missing_column", "header_only", "no_features", "duplicate", "non_numeric",
        "empty_field", "nan", "ragged_short", "ragged_long"])
def test_bad_csv_names_file_line_and_column(tmp_path, text, target, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        read_csv_table(path, target)
    assert str(info.value) == f"{path}: {message}"


def test_missing_and_non_utf8_csv(tmp_path):
    with pytest.raises(ValueError, match="nope.csv: no such file"):
        read_csv_table(tmp_path / "nope.csv", "y")
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,y\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.csv: not UTF-8 text"):
        read_csv_table(path, "y")


# -- TensorBoard events ---------------------------------------------------------------------------------
def load_events(directory):
    accumulator = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    accumulator.Reload()
    by_plugin = {}
    for tag in accumulator.Tags()["tensors"]:
        by_plugin.setdefault(accumulator.SummaryMetadata(tag).plugin_data.plugin_name, set()).add(tag)
    return accumulator, by_plugin


def test_events_scalars_histograms_image_and_text(tmp_path):
    x, y, _, _ = synthetic_data(60, num_features=1, noise=0.1, seed=2)
    train_x, train_y, valid_x, valid_y = train_validation_split(x, y, 0.2, seed=0)
    model = LinearRegression(1)
    task = RegressionTask(model, train_x, train_y, 10, valid_x, valid_y)
    with RunWriters(tmp_path / "run") as writers:
        train(task, epochs=2, writers=writers)

    events, by_plugin = load_events(tmp_path / "run" / "train")
    assert {"Training Loss", "Learning Rate", "Gradient Norm", "examples_per_second", "W/x0", "W/mean",
            "W/stddev", "W/min", "W/max", "b"} <= by_plugin["scalars"]
    assert by_plugin["histograms"] == {f"weights/{model.weight.path}", f"weights/{model.bias.path}"}
    assert model.weight.path.endswith("/W") and model.bias.path.endswith("/b")
    assert by_plugin["images"] == {"fit"} and by_plugin["text"] == {"parameters"}
    weight_steps = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors("W/x0")]
    assert [step for step, _ in weight_steps] == [5, 10, 15, 20]
    assert weight_steps[-1][1] == pytest.approx(float(model.weight.numpy()[0]))
    images = events.Tensors("fit")
    assert [e.step for e in images] == [10, 20]
    width, height, png = tf.make_ndarray(images[-1].tensor_proto)
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (int(width), int(height)) == (400, 300)
    text = tf.make_ndarray(events.Tensors("parameters")[-1].tensor_proto).item().decode()
    assert text.splitlines()[0] == "| parameter | gradient descent | least squares | difference |"

    _, valid_plugins = load_events(tmp_path / "run" / "validation")
    assert valid_plugins["scalars"] == {"Validation Loss", "R2"}
    assert os.listdir(tmp_path / "run" / "validation")
