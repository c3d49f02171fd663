"""``tfseq inspect-checkpoint``: a real name-based checkpoint written with tf.compat.v1 graph code."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tfseq.cli.main import main

tf1 = tf.compat.v1


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """TF <= 0.12 and >= 1.2 names side by side, written by tf1.get_variable + Saver."""
    prefix = str(tmp_path_factory.mktemp("ckpt") / "model.ckpt")
    with tf.Graph().as_default(), tf1.Session() as sess:
        with tf1.variable_scope("Model"):
            tf1.get_variable("embedding", [10, 4])
            with tf1.variable_scope("RNN/multi_rnn_cell/cell_0/basic_lstm_cell"):
                tf1.get_variable("kernel", [8, 16])
                tf1.get_variable("bias", [16])
        with tf1.variable_scope("RNN/MultiRNNCell/Cell1/GRUCell/Gates/Linear"):
            tf1.get_variable("Matrix", [5, 4])
        sess.run(tf1.global_variables_initializer())
        tf1.train.Saver().save(sess, prefix, global_step=7)
    return prefix + "-7"


def test_lists_names_shapes_and_cells(checkpoint, capsys):
    assert main(["inspect-checkpoint", checkpoint]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    by_name = {line.split()[0]: line for line in lines[:-1]}
    assert by_name["Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/kernel"].split(None, 1)[1].split() == [
        "[8,", "16]", "BasicLSTMCell(num_units=4).kernel", "(MultiRNNCell", "layer", "0)"]
    assert "GRUCell(num_units=2).gates_kernel (MultiRNNCell layer 1)" in by_name[
        "RNN/MultiRNNCell/Cell1/GRUCell/Gates/Linear/Matrix"]
    assert by_name["Model/embedding"].split()[-1] == "-"
    assert lines[-1] == "4 variables, 3 map to tfseq cells"


def test_scope_filter_and_directory(checkpoint, capsys):
    assert main(["inspect-checkpoint", os.path.dirname(checkpoint), "--scope", "Model/RNN"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        "Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
        "Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/kernel",
    ]


@pytest.mark.parametrize("args, message", [
    (lambda checkpoint: ["/nonexistent/model.ckpt"], "no such checkpoint"),
    (lambda checkpoint: [checkpoint, "--scope", "Decoder"], "no variables under --scope 'Decoder'"),
], ids=["missing_path", "empty_scope"])
def test_usage_errors_are_one_line_exit_2(checkpoint, capsys, args, message):
    assert main(["inspect-checkpoint", *args(checkpoint)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert err.startswith("tfseq inspect-checkpoint: error:")


def _keras_file(directory):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = directory / "model.keras"
    model.save(path)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda tmp, checkpoint: (tmp / "empty").write_bytes(b"") or tmp / "empty", "(the file is empty)"),
    (lambda tmp, checkpoint: _keras_file(tmp), "(a .keras model file: load it with keras.saving.load_model)"),
    (lambda tmp, checkpoint: checkpoint + ".meta", "(it is part of the checkpoint 'PREFIX': pass that prefix)"),
], ids=["empty", "keras", "meta"])
def test_a_file_that_is_not_a_checkpoint_is_one_line_exit_2(checkpoint, tmp_path, capsys, make, message):
    path = str(make(tmp_path, checkpoint))
    assert os.path.isfile(path)
    assert main(["inspect-checkpoint", path]) == 2
    err = capsys.readouterr().err
    assert err == (f"tfseq inspect-checkpoint: error: {path} is not a TensorFlow checkpoint "
                   f"{message.replace('PREFIX', checkpoint)}\n")


def test_console_entry_point(checkpoint):
    proc = subprocess.run([sys.executable, "-m", "tfseq", "inspect-checkpoint", checkpoint, "--scope", "RNN"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "GRUCell(num_units=2).gates_kernel" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "1 variables, 1 map to tfseq cells"
