"""Whole TF1 programs' uses of ``tfseq.legacy_seq2seq``, in the style of the TF1 translate tutorial's
``Seq2SeqModel``: a ``MultiRNNCell`` of ``GRUCell``/``BasicLSTMCell``, ``embedding_attention_seq2seq`` per bucket
of ``model_with_buckets`` (the cell itself, or a ``copy.deepcopy`` of it at every call), a sampled softmax through
``output_projection``, ``feed_previous=True`` to decode, ``dtype=tf.float16`` (``--use_fp16``), and saving the
model to decode with it later."""

import copy
import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfseq import legacy_seq2seq, rnn_cell

VOCAB, SIZE, BATCH, BUCKETS, SAMPLES = 12, 6, 3, [(2, 3), (4, 5)], 4
RNG = np.random.default_rng(5)
ENCODER = [RNG.integers(0, VOCAB, [BATCH]).astype(np.int32) for _ in range(BUCKETS[-1][0])]
DECODER = [RNG.integers(0, VOCAB, [BATCH]).astype(np.int32) for _ in range(BUCKETS[-1][1] + 1)]


def _translate_model(cell, dtype, feed_previous, copy_per_call):
    """The tutorial's model as a function of its inputs: ``(outputs, losses)`` per bucket."""
    w_t = tf.Variable(tf.random.normal([VOCAB, SIZE], stddev=0.3, seed=3, dtype=dtype), name="proj_w")
    b = tf.Variable(tf.zeros([VOCAB], dtype), name="proj_b")
    output_projection = (tf.transpose(w_t), b)

    def sampled_loss(labels, logits):  # in float32, as the tutorial
        return tf.cast(tf.nn.sampled_softmax_loss(
            weights=tf.cast(w_t, tf.float32), biases=tf.cast(b, tf.float32), labels=tf.reshape(labels, [-1, 1]),
            inputs=tf.cast(logits, tf.float32), num_sampled=SAMPLES, num_classes=VOCAB), dtype)

    def seq2seq_f(encoder_inputs, decoder_inputs):
        return legacy_seq2seq.embedding_attention_seq2seq(
            encoder_inputs, decoder_inputs, copy.deepcopy(cell) if copy_per_call else cell,
            num_encoder_symbols=VOCAB, num_decoder_symbols=VOCAB, embedding_size=SIZE,
            output_projection=output_projection, feed_previous=feed_previous, dtype=dtype)

    def model():
        encoder_inputs = [tf.constant(x) for x in ENCODER]
        decoder_inputs = [tf.constant(x) for x in DECODER]
        weights = [tf.ones([BATCH], dtype)] * len(DECODER)
        return legacy_seq2seq.model_with_buckets(encoder_inputs, decoder_inputs, decoder_inputs[1:], weights,
                                                 BUCKETS, seq2seq_f, softmax_loss_function=sampled_loss)
    return model, [w_t, b]


def _stack(make_cell):
    return rnn_cell.MultiRNNCell([make_cell(SIZE) for _ in range(2)])


@pytest.mark.parametrize("copy_per_call", [False, True], ids=["cell", "deepcopy_per_call"])
def test_float16_model(copy_per_call):
    """``dtype=tf.float16`` (the tutorial's ``--use_fp16``): the encoder's copy of the cell, and a deepcopy
    passed per call, take the function's dtype like the cell itself, as in TF1."""
    cell = _stack(rnn_cell.GRUCell)
    model, _ = _translate_model(cell, tf.float16, feed_previous=False, copy_per_call=copy_per_call)
    outputs, losses = model()
    assert {o.dtype for bucket in outputs for o in bucket} == {tf.float16}
    assert all(loss.dtype == tf.float16 and np.isfinite(float(loss)) for loss in losses)
    weights = legacy_seq2seq.variable_store(cell).trainable_weights
    assert len(weights) == 26 and {w.dtype for w in weights} == {"float16"}  # one model, all float16


def test_float64_basic_model_copies_the_cell_in_its_dtype():
    steps = [tf.ones([BATCH, 2], tf.float64)] * 3
    outputs, state = legacy_seq2seq.basic_rnn_seq2seq(steps, steps, rnn_cell.GRUCell(SIZE), dtype=tf.float64)
    assert outputs[-1].dtype == state.dtype == tf.float64
    given = rnn_cell.GRUCell(SIZE, dtype="float32")  # an explicit dtype stays an error, as in the cell itself
    with pytest.raises(TypeError, match="inputs are float64 but it was created with dtype= float32"):
        legacy_seq2seq.basic_rnn_seq2seq(steps, steps, given, dtype=tf.float64)


def test_checkpoint_of_the_store_restores_a_decoding_model(tmp_path):
    """train() saves, decode() builds the forward_only model (feed_previous=True) around a new cell and restores:
    ``tf.train.Checkpoint`` of the store holds every variable by TF1 name, restored also before the first call."""
    cell = _stack(rnn_cell.BasicLSTMCell)
    model, _ = _translate_model(cell, tf.float32, feed_previous=False, copy_per_call=True)
    model()
    trained = legacy_seq2seq.tf1_variables(cell)
    for var in trained.values():
        var.assign(var + 0.5)  # not what a new model starts from
    path = tf.train.Checkpoint(model=legacy_seq2seq.variable_store(cell)).save(str(tmp_path / "translate"))
    assert len(tf.train.list_variables(path)) == len(trained) + 2  # and the object graph, the save counter

    decode_cell = _stack(rnn_cell.BasicLSTMCell)
    status = tf.train.Checkpoint(model=legacy_seq2seq.variable_store(decode_cell)).restore(path)
    decode, _ = _translate_model(decode_cell, tf.float32, feed_previous=True, copy_per_call=True)
    decode()
    status.assert_existing_objects_matched()
    restored = legacy_seq2seq.tf1_variables(decode_cell)
    assert set(restored) == set(trained)
    for name, var in trained.items():
        np.testing.assert_array_equal(restored[name].numpy(), var.numpy(), err_msg=name)


def test_deepcopy_shares_and_a_name_does_not():
    """An unbuilt ``copy.deepcopy`` of a cell (also of a copy) runs that cell's variables (TF1 shared them by
    name); two cells that merely have the same explicit name are two models."""
    first, second = rnn_cell.GRUCell(4, name="decoder"), rnn_cell.GRUCell(4, name="decoder")
    enc, dec = [tf.constant(ENCODER[0])] * 2, [tf.constant(DECODER[0])] * 2
    legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, first, VOCAB, VOCAB, 3)
    legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, second, VOCAB, VOCAB, 3)
    assert legacy_seq2seq.variable_store(first) is not legacy_seq2seq.variable_store(second)
    ids = {id(v) for v in legacy_seq2seq.variable_store(first).trainable_weights}
    assert not ids & {id(v) for v in legacy_seq2seq.variable_store(second).trainable_weights}

    cell = _stack(rnn_cell.GRUCell)
    middle = copy.deepcopy(cell)
    copies = [copy.deepcopy(cell), copy.deepcopy(middle)]
    del middle
    gc.collect()  # the copy in the middle is gone: the copy of it still belongs to cell's model
    for c in copies:
        legacy_seq2seq.embedding_rnn_seq2seq(enc, dec, c, VOCAB, VOCAB, 3)
    assert legacy_seq2seq.variable_store(copies[1]) is legacy_seq2seq.variable_store(cell)
    assert copies[0].built and not copies[1].built  # the first copy passed in runs for the others
    assert len(legacy_seq2seq.tf1_variables(cell)) == 2 + 8 + 8 + 2  # embeddings, two stacks, projection wrapper


def test_deepcopy_of_a_cell_is_a_keras_copy():
    """The link a deepcopy keeps changes nothing else: same config, serialization, dtype choice; a built cell's
    copy has its own weights with the same values."""
    cell = rnn_cell.MultiRNNCell([rnn_cell.GRUCell(3), rnn_cell.BasicLSTMCell(3)], name="stack")
    copied = copy.deepcopy(cell)
    assert copied is not cell and copied.cells[0] is not cell.cells[0]
    assert copied.get_config() == cell.get_config()
    assert keras.saving.serialize_keras_object(copied) == keras.saving.serialize_keras_object(cell)
    assert not copied.dtype_given and not copied.cells[1].dtype_given
    cell(tf.ones([2, 5]), cell.zero_state(2, tf.float32))
    built = copy.deepcopy(cell)
    assert built.built and len(built.weights) == len(cell.weights) == 6
    for a, b in zip(built.weights, cell.weights):
        assert a is not b
        np.testing.assert_array_equal(a.numpy(), b.numpy())
