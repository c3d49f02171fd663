"""Real TF1 checkpoints (written by TF1 graph code + Saver in one subprocess) loaded into tfseq
with one call, compared with TF1's own outputs; the three naming eras; strict errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf1_reference import run_tf1_many

from tfseq import compat, nn, rnn_cell
from tfseq.compat.checkpoint import checkpoint_shapes, describe_variable

rng = np.random.default_rng(11)
X = rng.standard_normal((3, 5, 2)).astype(np.float32)
LENGTHS = np.array([5, 3, 1], np.int32)
PTB = dict(vocab=12, hidden=4, batch=2, steps=3)
IDS = rng.integers(0, PTB["vocab"], (PTB["batch"], PTB["steps"])).astype(np.int32)

# Names as the old TF releases wrote them, spelled out by hand (not by tfseq's translator).
ERA_1_0 = {
    "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel": "rnn/multi_rnn_cell/cell_0/lstm_cell/weights",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/bias": "rnn/multi_rnn_cell/cell_0/lstm_cell/biases",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/w_f_diag": "rnn/multi_rnn_cell/cell_0/lstm_cell/w_f_diag",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/w_i_diag": "rnn/multi_rnn_cell/cell_0/lstm_cell/w_i_diag",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/w_o_diag": "rnn/multi_rnn_cell/cell_0/lstm_cell/w_o_diag",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/projection/kernel": "rnn/multi_rnn_cell/cell_0/lstm_cell/projection/weights",
    "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel": "rnn/multi_rnn_cell/cell_1/gru_cell/gates/weights",
    "rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias": "rnn/multi_rnn_cell/cell_1/gru_cell/gates/biases",
    "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel": "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/weights",
    "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias": "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/biases",
    "rnn/multi_rnn_cell/cell_2/basic_rnn_cell/kernel": "rnn/multi_rnn_cell/cell_2/basic_rnn_cell/weights",
    "rnn/multi_rnn_cell/cell_2/basic_rnn_cell/bias": "rnn/multi_rnn_cell/cell_2/basic_rnn_cell/biases",
}
ERA_0_12 = {
    "rnn/multi_rnn_cell/cell_0/lstm_cell/kernel": "RNN/MultiRNNCell/Cell0/LSTMCell/W_0",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/bias": "RNN/MultiRNNCell/Cell0/LSTMCell/B",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/w_f_diag": "RNN/MultiRNNCell/Cell0/LSTMCell/W_F_diag",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/w_i_diag": "RNN/MultiRNNCell/Cell0/LSTMCell/W_I_diag",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/w_o_diag": "RNN/MultiRNNCell/Cell0/LSTMCell/W_O_diag",
    "rnn/multi_rnn_cell/cell_0/lstm_cell/projection/kernel": "RNN/MultiRNNCell/Cell0/LSTMCell/W_P_0",
    "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel": "RNN/MultiRNNCell/Cell1/GRUCell/Gates/Linear/Matrix",
    "rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias": "RNN/MultiRNNCell/Cell1/GRUCell/Gates/Linear/Bias",
    "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel": "RNN/MultiRNNCell/Cell1/GRUCell/Candidate/Linear/Matrix",
    "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias": "RNN/MultiRNNCell/Cell1/GRUCell/Candidate/Linear/Bias",
    "rnn/multi_rnn_cell/cell_2/basic_rnn_cell/kernel": "RNN/MultiRNNCell/Cell2/BasicRNNCell/Linear/Matrix",
    "rnn/multi_rnn_cell/cell_2/basic_rnn_cell/bias": "RNN/MultiRNNCell/Cell2/BasicRNNCell/Linear/Bias",
}
BIDI_0_12 = {
    "bidirectional_rnn/fw/basic_lstm_cell/kernel": "BiRNN/FW/BasicLSTMCell/Linear/Matrix",
    "bidirectional_rnn/fw/basic_lstm_cell/bias": "BiRNN/FW/BasicLSTMCell/Linear/Bias",
    "bidirectional_rnn/bw/gru_cell/gates/kernel": "BiRNN/BW/GRUCell/Gates/Linear/Matrix",
    "bidirectional_rnn/bw/gru_cell/gates/bias": "BiRNN/BW/GRUCell/Gates/Linear/Bias",
    "bidirectional_rnn/bw/gru_cell/candidate/kernel": "BiRNN/BW/GRUCell/Candidate/Linear/Matrix",
    "bidirectional_rnn/bw/gru_cell/candidate/bias": "BiRNN/BW/GRUCell/Candidate/Linear/Bias",
}

_SAVE_AND_RUN = """
sess.run(tf1.global_variables_initializer())
tf1.train.Saver().save(sess, inputs["dir"] + "/{name}/model.ckpt")
for k, value in enumerate(sess.run([y] + tf.nest.flatten(s))):
    outputs[f"t{{k}}"] = value
"""
CASES = {
    # the "done when": a MultiRNNCell checkpoint from a dynamic_rnn graph
    "multi": """
cell = tf1.nn.rnn_cell.MultiRNNCell([tf1.nn.rnn_cell.BasicLSTMCell(3), tf1.nn.rnn_cell.GRUCell(4)])
y, s = tf1.nn.dynamic_rnn(cell, tf1.constant(inputs["x"]), sequence_length=inputs["len"], dtype=tf.float32)
""" + _SAVE_AND_RUN.format(name="multi"),
    # shaped like the TF PTB tutorial (ptb_word_lm.py): cell called by hand under Model/RNN, Adam trained
    "ptb": """
V, H, B, T = inputs["ptb"]["vocab"], inputs["ptb"]["hidden"], inputs["ptb"]["batch"], inputs["ptb"]["steps"]
with tf1.variable_scope("Model", initializer=tf1.random_uniform_initializer(-0.1, 0.1)):
    embedding = tf1.get_variable("embedding", [V, H], dtype=tf.float32)
    x = tf1.nn.embedding_lookup(embedding, inputs["ids"])
    cell = tf1.nn.rnn_cell.MultiRNNCell([tf1.nn.rnn_cell.BasicLSTMCell(H, forget_bias=0.0) for _ in range(2)])
    state = cell.zero_state(B, tf.float32)
    steps = []
    with tf1.variable_scope("RNN"):
        for t in range(T):
            if t > 0:
                tf1.get_variable_scope().reuse_variables()
            out, state = cell(x[:, t, :], state)
            steps.append(out)
    output = tf1.reshape(tf1.concat(steps, 1), [-1, H])
    softmax_w = tf1.get_variable("softmax_w", [H, V], dtype=tf.float32)
    softmax_b = tf1.get_variable("softmax_b", [V], dtype=tf.float32)
    y = tf1.nn.xw_plus_b(output, softmax_w, softmax_b)
    loss = tf1.reduce_mean(tf1.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf1.reshape(inputs["ids"], [-1]), logits=y))
    train = tf1.train.AdamOptimizer(0.1).minimize(loss, global_step=tf1.train.get_or_create_global_step())
s = state
sess.run(tf1.global_variables_initializer())
sess.run(train)  # one trained step: the checkpoint also holds Adam slots and global_step
tf1.train.Saver().save(sess, inputs["dir"] + "/ptb/model.ckpt", global_step=1)
for k, value in enumerate(sess.run([y] + tf.nest.flatten(s))):
    outputs[f"t{k}"] = value
outputs["names"] = np.array([v.op.name for v in tf1.global_variables()])
""",
    "bidi": """
fw = tf1.nn.rnn_cell.BasicLSTMCell(3)
bw = tf1.nn.rnn_cell.GRUCell(2)
(y_fw, y_bw), s = tf1.nn.bidirectional_dynamic_rnn(
    fw, bw, tf1.constant(inputs["x"]), sequence_length=inputs["len"], dtype=tf.float32)
y = tf1.concat([y_fw, y_bw], 2)
sess.run(tf1.global_variables_initializer())
tf1.train.Saver().save(sess, inputs["dir"] + "/bidi/model.ckpt")
tf1.train.Saver({inputs["bidi_0_12"][v.op.name]: v for v in tf1.global_variables()}).save(
    sess, inputs["dir"] + "/bidi_0_12/model.ckpt")
for k, value in enumerate(sess.run([y] + tf.nest.flatten(s))):
    outputs[f"t{k}"] = value
""",
    # one graph, saved under the names of TF 1.0-1.1 and of TF <= 0.12
    "eras": """
cell = tf1.nn.rnn_cell.MultiRNNCell([
    tf1.nn.rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2),
    tf1.nn.rnn_cell.GRUCell(2),
    tf1.nn.rnn_cell.BasicRNNCell(2),
])
y, s = tf1.nn.dynamic_rnn(cell, tf1.constant(inputs["x"]), sequence_length=inputs["len"], dtype=tf.float32)
sess.run(tf1.global_variables_initializer())
variables = tf1.global_variables()
assert sorted(v.op.name for v in variables) == sorted(inputs["era_1_0"]), [v.op.name for v in variables]
for era in ("era_1_0", "era_0_12"):
    tf1.train.Saver({inputs[era][v.op.name]: v for v in variables}).save(sess, inputs["dir"] + f"/{era}/model.ckpt")
for k, value in enumerate(sess.run([y] + tf.nest.flatten(s))):
    outputs[f"t{k}"] = value
""",
}


@pytest.fixture(scope="module")
def tf1(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tf1_checkpoints"))
    inputs = {
        "x": X, "len": LENGTHS, "dir": directory, "ids": IDS, "ptb": PTB,
        "era_1_0": ERA_1_0, "era_0_12": ERA_0_12, "bidi_0_12": BIDI_0_12,
    }
    results = run_tf1_many([(name, source, inputs) for name, source in CASES.items()])
    return directory, results


def _compare(ref, got):
    assert len(got) == len([k for k in ref if k.startswith("t")])
    for k, tensor in enumerate(got):
        np.testing.assert_allclose(np.asarray(tensor), ref[f"t{k}"], atol=1e-5, err_msg=f"tensor {k}")


def test_multi_rnn_cell_checkpoint_from_dynamic_rnn_loads_with_one_call(tf1):
    directory, results = tf1
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(4)])
    cell.build((None, 2))
    assert compat.tf1_variable_names(cell) == sorted(
        f"rnn/multi_rnn_cell/cell_{k}/{n}"
        for k, names in [(0, ["basic_lstm_cell/kernel", "basic_lstm_cell/bias"]),
                         (1, ["gru_cell/gates/kernel", "gru_cell/gates/bias",
                              "gru_cell/candidate/kernel", "gru_cell/candidate/bias"])]
        for n in names
    )
    loaded = compat.load_tf1_checkpoint(f"{directory}/multi", cell)  # a directory: its latest checkpoint
    assert sorted(loaded) == compat.tf1_variable_names(cell)
    y, s = nn.dynamic_rnn(cell, X, sequence_length=LENGTHS)
    _compare(results["multi"], [y] + tf.nest.flatten(s))
    # the loaded cell runs the same inside keras.layers.RNN
    y_keras = keras.layers.RNN(cell, return_sequences=True)(X[:1])
    np.testing.assert_allclose(y_keras.numpy(), results["multi"]["t0"][:1], atol=1e-5)


def test_ptb_tutorial_checkpoint_into_a_model_mapping(tf1):
    directory, results = tf1
    vocab, hidden = PTB["vocab"], PTB["hidden"]
    embedding = keras.layers.Embedding(vocab, hidden)
    embedding.build((None,))
    softmax = keras.layers.Dense(vocab)
    softmax.build((None, hidden))
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(hidden, forget_bias=0.0) for _ in range(2)])
    cell.build((None, hidden))
    target = {"embedding": embedding.embeddings, "RNN": cell, "softmax_w": softmax.kernel, "softmax_b": softmax.bias}
    names = compat.tf1_variable_names(target, scope="Model")
    assert names == sorted([
        "Model/embedding", "Model/softmax_w", "Model/softmax_b",
        *(f"Model/RNN/multi_rnn_cell/cell_{k}/basic_lstm_cell/{w}" for k in (0, 1) for w in ("kernel", "bias")),
    ])
    assert set(names) < set(str(n) for n in results["ptb"]["names"])  # TF1's own names (+ Adam slots, step)
    loaded = compat.load_tf1_checkpoint(tf.train.latest_checkpoint(f"{directory}/ptb"), target, scope="Model")
    assert sorted(loaded) == names
    outputs, state = nn.dynamic_rnn(cell, embedding(IDS))
    logits = softmax(tf.reshape(outputs, [-1, hidden]))
    _compare(results["ptb"], [logits] + tf.nest.flatten(state))


def test_bidirectional_pair_in_two_eras(tf1):
    directory, results = tf1
    for sub in ("bidi", "bidi_0_12"):
        fw, bw = rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(2)
        fw.build((None, 2))
        bw.build((None, 2))
        loaded = compat.load_tf1_checkpoint(f"{directory}/{sub}", (fw, bw))
        assert len(loaded) == 6
        (y_fw, y_bw), s = nn.bidirectional_dynamic_rnn(fw, bw, X, sequence_length=LENGTHS)
        _compare(results["bidi"], [tf.concat([y_fw, y_bw], 2)] + tf.nest.flatten(s))


@pytest.mark.parametrize("era", ["era_1_0", "era_0_12"])
def test_old_naming_eras_load_and_match_tf1(tf1, era):
    directory, results = tf1
    cell = rnn_cell.MultiRNNCell([
        rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2), rnn_cell.GRUCell(2), rnn_cell.BasicRNNCell(2),
    ])
    cell.build((None, 2))
    loaded = compat.load_tf1_checkpoint(f"{directory}/{era}/model.ckpt", cell)
    expected = ERA_1_0 if era == "era_1_0" else ERA_0_12
    assert sorted(loaded) == sorted(expected.values())
    for modern, old in expected.items():  # each old name landed in the right variable
        assert loaded[old] is cell.tf1_variables()[modern[len("rnn/"):]]
    y, s = nn.dynamic_rnn(cell, X, sequence_length=LENGTHS)
    _compare(results["eras"], [y] + tf.nest.flatten(s))


def test_strict_error_lists_missing_unexpected_and_mismatched(tf1):
    directory, _ = tf1
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(5), rnn_cell.BasicRNNCell(4)])
    cell.build((None, 2))
    with pytest.raises(ValueError) as info:
        compat.load_tf1_checkpoint(f"{directory}/multi", cell)
    message = str(info.value)
    assert "naming era tf>=1.2, scope 'rnn'" in message
    assert "missing (expected by the target, not in the checkpoint): rnn/multi_rnn_cell/cell_1/basic_rnn_cell/bias, " \
           "rnn/multi_rnn_cell/cell_1/basic_rnn_cell/kernel" in message
    assert "unexpected (in the checkpoint under 'rnn', not in the target): " \
           "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias, rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel, " \
           "rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias, rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel" in message
    assert "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel: checkpoint [5, 12], target [7, 20]" in message
    with pytest.raises(ValueError, match="shape mismatch"):  # never loaded, even when not strict
        compat.load_tf1_checkpoint(f"{directory}/multi", cell, strict=False)


def test_non_strict_loads_what_matches(tf1):
    directory, results = tf1
    first_layer = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(3)])
    first_layer.build((None, 2))
    with pytest.raises(ValueError, match="unexpected"):
        compat.load_tf1_checkpoint(f"{directory}/multi", first_layer)
    loaded = compat.load_tf1_checkpoint(f"{directory}/multi", first_layer, strict=False)
    assert sorted(loaded) == ["rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
                              "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel"]


def test_bad_paths_targets_and_unbuilt_cells(tmp_path):
    cell = rnn_cell.GRUCell(2)
    with pytest.raises(ValueError, match="checkpoint_path='.*nope': no such checkpoint"):
        compat.load_tf1_checkpoint(str(tmp_path / "nope"), cell)
    with pytest.raises(ValueError, match="directory without a TF checkpoint"):
        compat.load_tf1_checkpoint(str(tmp_path), cell)
    with pytest.raises(ValueError, match="build the cell"):
        compat.tf1_variable_names(cell)
    with pytest.raises(TypeError, match="target must be a built tfseq cell"):
        compat.tf1_variable_names(42)


def test_describe_variable_names_the_tfseq_cell():
    assert describe_variable("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel", (7, 12)) == (
        "BasicLSTMCell(num_units=3).kernel (MultiRNNCell layer 1)")
    assert describe_variable("RNN/MultiRNNCell/Cell0/GRUCell/Gates/Linear/Matrix", (6, 4)) == (
        "GRUCell(num_units=2).gates_kernel (MultiRNNCell layer 0)")
    assert describe_variable("RNN/LSTMCell/W_P_0", (4, 2)) == "LSTMCell(num_units=4).projection_kernel"
    assert describe_variable("bidirectional_rnn/bw/gru_cell/candidate/biases", (3,)) == (
        "GRUCell(num_units=3).candidate_bias (bw direction)")
    assert describe_variable("rnn/basic_lstm_cell/kernel/Adam_1", (5, 12)) == (
        "BasicLSTMCell(num_units=3).kernel [optimizer slot Adam_1]")
    assert describe_variable("Model/softmax_w", (4, 12)) is None


def test_checkpoint_shapes_of_the_ptb_checkpoint(tf1):
    directory, _ = tf1
    shapes = checkpoint_shapes(f"{directory}/ptb")
    assert shapes["Model/RNN/multi_rnn_cell/cell_0/basic_lstm_cell/kernel"] == (8, 16)
    assert shapes["Model/embedding"] == (12, 4)
