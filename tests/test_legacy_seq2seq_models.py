"""tfseq.legacy_seq2seq's models and attention decoders against the TF1 reference (``tests/legacy_seq2seq_ref.py``).

Every case is one line of TF1 program text, evaluated twice: in the TF1 reference subprocess (``legacy_seq2seq``
is the reference's graph ops, ``CELL`` is ``tf.compat.v1.nn.rnn_cell``, real TF1 cells) and here (``legacy_seq2seq``
and ``CELL`` are tfseq's): the port is the rename. TF1 reports its variables, outputs, final states and the
gradient of a loss of all of them w.r.t. every variable. tfseq runs the line once (creating its variables), must
hold exactly TF1's variable names, takes TF1's values by name, runs again and must give the same numbers (1e-5).
"""

import copy

import keras
import legacy_seq2seq_ref as ref_s2s
import numpy as np
import pytest
import tensorflow as tf
from tf1_reference import run_tf1_many

from tfseq import legacy_seq2seq, rnn_cell

RNG = np.random.default_rng(11)
BATCH, ENC_STEPS, DEC_STEPS, VOCAB_IN, VOCAB_OUT, EMB, UNITS = 3, 4, 3, 7, 8, 4, 5
DATA = {
    "enc": RNG.integers(0, VOCAB_IN, [ENC_STEPS, BATCH]).astype(np.int32),
    "dec": RNG.integers(0, VOCAB_OUT, [DEC_STEPS, BATCH]).astype(np.int32),
    "xenc": RNG.standard_normal([ENC_STEPS, BATCH, 3]).astype(np.float32),
    "xdec": RNG.standard_normal([DEC_STEPS, BATCH, 3]).astype(np.float32),
    "h0": RNG.standard_normal([BATCH, UNITS]).astype(np.float32),
    "att": RNG.standard_normal([BATCH, ENC_STEPS, 6]).astype(np.float32),
    "w": RNG.standard_normal([UNITS, VOCAB_OUT]).astype(np.float32),
    "b": RNG.standard_normal([VOCAB_OUT]).astype(np.float32),
    "weights": np.array([[1, 1, 1], [1, 0, 1], [0.5, 0, 1]], np.float32),
}

_PROJ_LOSS = ("lambda labels, logits: tf.nn.sparse_softmax_cross_entropy_with_logits("
              "labels=labels, logits=tf.matmul(logits, proj[0]) + proj[1])")
# name -> the TF1 program line; it sees enc/dec (lists of int32 [batch] ids), xenc/xdec (lists of [batch, 3]
# floats), h0, att, proj = (W, b), targets/weights (lists), CELL, legacy_seq2seq, tf.
CASES = {
    "attention_gru_2heads": "legacy_seq2seq.embedding_attention_seq2seq(enc, dec, CELL.GRUCell(5), 7, 8, 4, num_heads=2)",
    "attention_lstm_proj_feed_isa": (
        "legacy_seq2seq.embedding_attention_seq2seq(enc, dec, CELL.BasicLSTMCell(5), 7, 8, 4, output_projection=proj,"
        " feed_previous=True, initial_state_attention=True)"),
    "attention_decoder_lstm_isa": (
        "legacy_seq2seq.attention_decoder(xdec, CELL.LSTMStateTuple(h0, h0), att, CELL.BasicLSTMCell(5),"
        " output_size=6, num_heads=2, initial_state_attention=True)"),
    "attention_feed_gru": "legacy_seq2seq.embedding_attention_seq2seq(enc, dec, CELL.GRUCell(5), 7, 8, 4, feed_previous=True)",
    "embedding_attention_decoder_loop": (
        "legacy_seq2seq.embedding_attention_decoder(dec, h0, att, CELL.GRUCell(5), 8, 4, output_projection=proj,"
        " feed_previous=True, update_embedding_for_previous=False)"),
    "embedding_rnn_feed_gru": "legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, CELL.GRUCell(5), 7, 8, 4, feed_previous=True)",
    "embedding_rnn_lstm_proj": (
        "legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, CELL.BasicLSTMCell(5), 7, 8, 4, output_projection=proj)"),
    "embedding_tied_feed": (
        "legacy_seq2seq.embedding_tied_rnn_seq2seq(enc, dec, CELL.GRUCell(5), 8, 4, num_decoder_symbols=6,"
        " feed_previous=True)"),
    "basic_lstm": "legacy_seq2seq.basic_rnn_seq2seq(xenc, xdec, CELL.BasicLSTMCell(5))",
    "tied_gru": "legacy_seq2seq.tied_rnn_seq2seq(xenc, xdec, CELL.GRUCell(3))",
    "one2many": (
        "legacy_seq2seq.one2many_rnn_seq2seq(enc, {'a': dec, 'b': dec[:2]}, CELL.GRUCell(5),"
        " {'a': CELL.GRUCell(5), 'b': CELL.GRUCell(5)}, 7, {'a': 8, 'b': 6}, 4, feed_previous=True)"),
    # as the translate tutorial: a deepcopy of the (never run) cell per bucket; TF1 shares by name
    "buckets_per_example": (
        "(lambda cell: legacy_seq2seq.model_with_buckets(enc, dec, targets, weights, [(2, 2), (4, 3)],"
        " lambda x, y: legacy_seq2seq.embedding_attention_seq2seq(x, y, copy.deepcopy(cell), 7, 8, 4,"
        " output_projection=proj),"
        f" softmax_loss_function={_PROJ_LOSS}, per_example_loss=True))(CELL.GRUCell(5))"),
    "buckets_mean": (
        "(lambda cell: legacy_seq2seq.model_with_buckets(enc, dec, targets, weights, [(2, 1), (4, 3)],"
        " lambda x, y: legacy_seq2seq.embedding_rnn_seq2seq(x, y, copy.deepcopy(cell), 7, 8, 4)))(CELL.GRUCell(5))"),
}

_TF1_CASE = ref_s2s.TF1_SOURCE + """
CELL = tf1.nn.rnn_cell
enc, dec = [tf1.constant(x) for x in inputs["enc"]], [tf1.constant(x) for x in inputs["dec"]]
xenc, xdec = [tf1.constant(x) for x in inputs["xenc"]], [tf1.constant(x) for x in inputs["xdec"]]
h0, att = tf1.constant(inputs["h0"]), tf1.constant(inputs["att"])
proj = (tf1.constant(inputs["w"]), tf1.constant(inputs["b"]))
targets, weights = dec[1:] + [dec[0]], [tf1.constant(w) for w in inputs["weights"]]
flat = tf.nest.flatten(eval(inputs["line"]))
loss = tf1.add_n([tf1.reduce_sum(tf1.sin(t)) * (k + 1) for k, t in enumerate(flat)])
tvars = tf1.trainable_variables()
grads = tf1.gradients(loss, tvars)
sess.run(tf1.global_variables_initializer())
for k, value in enumerate(sess.run(flat)):
    outputs[f"out{k}"] = value
outputs["loss"] = sess.run(loss)
for v, g in zip(tvars, grads):
    outputs["var:" + v.op.name], outputs["grad:" + v.op.name] = sess.run([v, tf1.convert_to_tensor(g)])
"""


@pytest.fixture(scope="module")
def tf1():
    return run_tf1_many([(name, _TF1_CASE, {**DATA, "line": line}) for name, line in CASES.items()])


def _namespace():
    dec = [tf.constant(x) for x in DATA["dec"]]
    return {
        "CELL": rnn_cell, "legacy_seq2seq": legacy_seq2seq, "tf": tf, "copy": copy,
        "enc": [tf.constant(x) for x in DATA["enc"]], "dec": dec,
        "xenc": [tf.constant(x) for x in DATA["xenc"]], "xdec": [tf.constant(x) for x in DATA["xdec"]],
        "h0": tf.constant(DATA["h0"]), "att": tf.constant(DATA["att"]),
        "proj": (tf.constant(DATA["w"]), tf.constant(DATA["b"])),
        "targets": dec[1:] + [dec[0]], "weights": [tf.constant(w) for w in DATA["weights"]],
    }


def _run_line(line):
    """Evaluate ``line`` with tfseq; returns the flat results, the loss, and the cell the variables live with."""
    cells = []
    namespace = _namespace()

    class Recording:  # CELL.X(...) as tfseq's, remembering the first cell made (the store's owner)
        def __getattr__(self, name):
            cls = getattr(rnn_cell, name)
            if not isinstance(cls, type) or not hasattr(cls, "state_size"):
                return cls

            def make(*args, **kwargs):
                cells.append(cls(*args, **kwargs))
                return cells[-1]
            return make

    namespace["CELL"] = Recording()
    flat = tf.nest.flatten(eval(line, namespace))  # noqa: S307 (the test's own program lines)
    loss = tf.add_n([tf.reduce_sum(tf.sin(t)) * (k + 1) for k, t in enumerate(flat)])
    return flat, loss, cells


def _tfseq_variables(cells):
    names = {}
    for cell in cells:
        for name, var in legacy_seq2seq.tf1_variables(cell).items():
            names.setdefault(name, var)
    return names


@pytest.mark.parametrize("name", list(CASES))
def test_matches_tf1(tf1, name):
    ref = tf1[name]
    line = CASES[name]
    cells = []

    # first call: creates the variables; their names must be TF1's, exactly
    _, _, cells = _run_line(line)
    variables = _tfseq_variables(cells)
    ref_names = {k[len("var:"):] for k in ref if k.startswith("var:")}
    assert set(variables) == ref_names
    for var_name, var in variables.items():
        assert tuple(var.shape) == ref["var:" + var_name].shape, var_name
        var.assign(ref["var:" + var_name])

    # second call with the same cell objects: reuses those variables (TF1's values now)
    namespace_cells = iter(cells)

    def reuse_line():
        namespace = _namespace()

        class Same:
            def __getattr__(self, attr):
                value = getattr(rnn_cell, attr)
                return (lambda *a, **k: next(namespace_cells)) if isinstance(value, type) and hasattr(
                    value, "state_size") else value

        namespace["CELL"] = Same()
        flat = tf.nest.flatten(eval(line, namespace))  # noqa: S307
        return flat, tf.add_n([tf.reduce_sum(tf.sin(t)) * (k + 1) for k, t in enumerate(flat)])

    with tf.GradientTape() as tape:
        flat, loss = reuse_line()
    assert len(_tfseq_variables(cells)) == len(variables)  # nothing new was created
    for k, value in enumerate(flat):
        np.testing.assert_allclose(value, ref[f"out{k}"], atol=1e-5, err_msg=f"output {k}")
    # a weighted sum of sines that nearly cancels (about -0.1 from terms of order 1): relative 1e-5 alone is
    # tighter than the outputs' own 1e-5 (differences of 1.9e-6 occur), so 1e-5 absolute too, as for the gradients
    np.testing.assert_allclose(loss, ref["loss"], rtol=1e-5, atol=1e-5)
    grads = tape.gradient(loss, list(variables.values()))
    for (var_name, _), grad in zip(variables.items(), grads):
        assert grad is not None, var_name
        np.testing.assert_allclose(tf.convert_to_tensor(grad), ref["grad:" + var_name], rtol=1e-5, atol=1e-5,
                                   err_msg=var_name)


def test_translate_style_training_loop_learns():
    """A TF1 translate-tutorial-style program, renames only, in a tf.function: embedding_attention_seq2seq per
    bucket (a deepcopy of the cell each time, as the tutorial), model_with_buckets, a sampled softmax through
    output_projection. Training steps share one set of variables and the loss goes down."""
    vocab_in, vocab_out, size, buckets, batch = 12, 10, 16, [(3, 3), (5, 4)], 8
    rng = np.random.default_rng(0)
    source = rng.integers(2, vocab_in, [5, batch]).astype(np.int32)
    target = np.concatenate([np.zeros([1, batch], np.int32), (source[:4] % (vocab_out - 2)) + 2])  # GO, then a copy

    cell = rnn_cell.GRUCell(size)
    w_t = tf.Variable(tf.random.normal([vocab_out, size], stddev=0.1, seed=1), name="proj_w_t")
    b = tf.Variable(tf.zeros([vocab_out]), name="proj_b")
    output_projection = (tf.transpose(w_t), b)

    def sampled_loss(labels, logits):
        return tf.nn.sampled_softmax_loss(weights=w_t, biases=b, labels=tf.reshape(labels, [-1, 1]), inputs=logits,
                                          num_sampled=4, num_classes=vocab_out)

    def seq2seq_f(encoder_inputs, decoder_inputs):
        return legacy_seq2seq.embedding_attention_seq2seq(
            encoder_inputs, decoder_inputs, copy.deepcopy(cell), num_encoder_symbols=vocab_in,
            num_decoder_symbols=vocab_out, embedding_size=size, output_projection=output_projection,
            feed_previous=False)

    optimizer = keras.optimizers.Adam(0.05)

    @tf.function
    def train_step(encoder_inputs, decoder_inputs, targets, weights):
        with tf.GradientTape() as tape:
            _, losses = legacy_seq2seq.model_with_buckets(encoder_inputs, decoder_inputs, targets, weights, buckets,
                                                          seq2seq_f, softmax_loss_function=sampled_loss)
            loss = tf.add_n(losses)
        params = legacy_seq2seq.variable_store(cell).trainable_weights + [w_t, b]
        optimizer.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    encoder_inputs = [tf.constant(x) for x in source]
    decoder_inputs = [tf.constant(x) for x in target]
    targets = decoder_inputs[1:] + [tf.zeros([batch], tf.int32)]
    weights = [tf.ones([batch])] * 3 + [tf.zeros([batch])]
    losses = [float(train_step(encoder_inputs, decoder_inputs, targets, weights)) for _ in range(25)]
    names = legacy_seq2seq.tf1_variables(cell)
    assert len(names) == len(legacy_seq2seq.variable_store(cell).trainable_weights) == 18  # one model for both buckets
    assert "embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/AttnW_0" in names
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3]), losses


def test_tensor_feed_previous_picks_a_decoder():
    """feed_previous as a bool tensor (TF1: tf.cond over both decoders), also inside a tf.function."""
    namespace = _namespace()
    cell = rnn_cell.GRUCell(UNITS)

    def run(feed):
        outputs, _ = legacy_seq2seq.embedding_attention_seq2seq(namespace["enc"], namespace["dec"], cell, VOCAB_IN,
                                                                VOCAB_OUT, EMB, feed_previous=feed)
        return tf.stack(outputs)

    traced = tf.function(run)
    for feed in (True, False):
        np.testing.assert_allclose(traced(tf.constant(feed)), run(feed), atol=1e-6)
        np.testing.assert_allclose(run(tf.constant(feed)), run(feed), atol=1e-6)
    assert not np.allclose(run(True), run(False))


def test_bad_arguments_are_named():
    ns = _namespace()
    enc, dec, cell = ns["enc"], ns["dec"], rnn_cell.GRUCell(UNITS)
    with pytest.raises(ValueError, match=r"num_heads must be a positive int, got 0"):
        legacy_seq2seq.attention_decoder(ns["xdec"], ns["h0"], ns["att"], cell, num_heads=0)
    with pytest.raises(ValueError, match=r"attention_states must be \[batch, length, depth\]"):
        legacy_seq2seq.attention_decoder(ns["xdec"], ns["h0"], ns["h0"], cell)
    with pytest.raises(ValueError, match=r"output_projection\[0\] \(W\) must have shape \[depth, 7\], got \(5, 8\)"):
        legacy_seq2seq.embedding_attention_seq2seq(enc, dec, cell, 7, 7, 4, output_projection=ns["proj"])
    with pytest.raises(TypeError, match=r"output_projection must be None or a pair"):
        legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, cell, 7, 8, 4, output_projection=ns["proj"][0])
    with pytest.raises(TypeError, match=r"feed_previous must be a Python bool or a scalar bool tensor, got 1"):
        legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, cell, 7, 8, 4, feed_previous=1)
    with pytest.raises(ValueError, match=r"Length of targets \(2\) must be at least that of the last bucket \(3\)"):
        legacy_seq2seq.model_with_buckets(enc, dec, dec[:2], ns["weights"], [(4, 3)], lambda x, y: (x, None))
    with pytest.raises(ValueError, match=r"buckets must be a non-empty list of \(input size, output size\) pairs"):
        legacy_seq2seq.model_with_buckets(enc, dec, dec, ns["weights"], [4], lambda x, y: (x, None))
    with pytest.raises(ValueError, match=r"keys of dec_cells_dict \['a'\] != keys of decoder_inputs_dict \['b'\]"):
        legacy_seq2seq.one2many_rnn_seq2seq(enc, {"b": dec}, cell, {"a": cell}, 7, {"b": 8}, 4)
    with pytest.raises(TypeError, match=r"scope must be a string, a tf.compat.v1.VariableScope or None, got 3"):
        legacy_seq2seq.embedding_attention_seq2seq(enc, dec, cell, 7, 8, 4, scope=3)
    legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, cell, 7, 8, 4, scope="shared")
    with pytest.raises(ValueError, match=r"Trying to share variable shared/rnn/embedding_wrapper/embedding, but "
                                         r"specified shape \[9, 4\] and found shape \[7, 4\]"):
        legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, cell, 9, 8, 4, scope="shared")
