"""A TF Addons program, written the way TF Addons' seq2seq tutorial teaches, run twice: by real
TF Addons 0.23 on tf-keras (the reference subprocess, ``tests/tfa_reference.py``) and by tfseq on
Keras 3, where the only change is the import (``import tfseq as tfa``).

The program: a ``tf.keras.Model`` encoder (``Embedding`` + ``LSTM`` returning its states) and a
``tf.keras.Model`` decoder holding an ``Embedding``, a ``Dense`` output layer, a Keras
``LSTMCell`` in ``tfa.seq2seq.AttentionWrapper`` over a ``LuongAttention`` or ``BahdanauAttention``
built with ``memory=None`` and a Python list of lengths, and ``BasicDecoder(TrainingSampler)``
called with a Python list ``sequence_length``; a ``@tf.function`` training step (masked
cross-entropy, ``tape.gradient``, ``optimizer.apply_gradients``); greedy decoding with
``GreedyEmbeddingSampler()`` and the embedding matrix as the decoder's first argument; beam search
with ``tile_batch`` on the memory and on the ``[h, c]`` list and ``BeamSearchDecoder``; and, on
tfseq's side, ``tf.train.Checkpoint`` save and restore into new objects.

Both sides start from the same weights (set by the harness, not the program) and must agree on
every step's loss, the greedy ids and the beam ids and scores (1e-5).

One difference is Keras 3's, not tfseq's, and the docs' migration guide says what to add: Keras 3's
``Adam`` (and most of its optimizers) applies an ``Embedding``'s ``tf.IndexedSlices`` gradient one
slice per occurrence, where tf-keras sums the slices of a repeated row first. With SGD the
program matches as written; with Adam it matches once the gradients go through
``tfseq.train.sum_duplicate_slices``, and :func:`test_keras3_adam_without_the_line_trains_differently`
checks that the line is still needed (if a Keras release changes this, that test says so).
"""

import linecache

import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa_many

import tfseq
from tfseq.seq2seq import fused_attention

pytestmark = requires_tfa

ATOL = 1e-5
V, E, U, B, S, T, W, STEPS = 12, 6, 8, 4, 7, 6, 3, 3  # vocab, embedding, units, batch, source, target, beam, steps
START, END, MAXLEN = 1, 2, 8

# The program, as a TF Addons user writes it (``tfa`` is tensorflow_addons on one side, tfseq on the other).
PROGRAM = '''
class Encoder(tf.keras.Model):
    def __init__(self, vocab_size, embedding_dim, enc_units, batch_sz):
        super().__init__()
        self.batch_sz, self.enc_units = batch_sz, enc_units
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)
        self.lstm_layer = tf.keras.layers.LSTM(enc_units, return_sequences=True, return_state=True)

    def call(self, x, hidden):
        output, h, c = self.lstm_layer(self.embedding(x), initial_state=hidden)
        return output, h, c

    def initialize_hidden_state(self):
        return [tf.zeros((self.batch_sz, self.enc_units)), tf.zeros((self.batch_sz, self.enc_units))]


class Decoder(tf.keras.Model):
    def __init__(self, vocab_size, embedding_dim, dec_units, batch_sz, source_len, target_len, attention_type):
        super().__init__()
        self.batch_sz, self.target_len = batch_sz, target_len
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)
        self.fc = tf.keras.layers.Dense(vocab_size)
        self.decoder_rnn_cell = tf.keras.layers.LSTMCell(dec_units)
        self.sampler = tfa.seq2seq.sampler.TrainingSampler()
        if attention_type == "bahdanau":
            self.attention_mechanism = tfa.seq2seq.BahdanauAttention(
                units=dec_units, memory=None, memory_sequence_length=batch_sz * [source_len])
        else:
            self.attention_mechanism = tfa.seq2seq.LuongAttention(
                units=dec_units, memory=None, memory_sequence_length=batch_sz * [source_len])
        self.rnn_cell = tfa.seq2seq.AttentionWrapper(self.decoder_rnn_cell, self.attention_mechanism,
                                                     attention_layer_size=dec_units)
        self.decoder = tfa.seq2seq.BasicDecoder(self.rnn_cell, sampler=self.sampler, output_layer=self.fc)

    def build_initial_state(self, batch_sz, encoder_state, dtype):
        state = self.rnn_cell.get_initial_state(batch_size=batch_sz, dtype=dtype)
        return state.clone(cell_state=encoder_state)

    def call(self, inputs, initial_state):
        x = self.embedding(inputs)
        outputs, _, _ = self.decoder(x, initial_state=initial_state,
                                     sequence_length=self.batch_sz * [self.target_len - 1])
        return outputs


def loss_function(real, pred):
    cross_entropy = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    loss = cross_entropy(y_true=real, y_pred=pred)
    mask = tf.cast(tf.logical_not(tf.math.equal(real, 0)), dtype=loss.dtype)
    return tf.reduce_mean(mask * loss)


def make_train_step(encoder, decoder, optimizer, batch_sz, prepare_gradients):
    @tf.function
    def train_step(inp, targ, enc_hidden):
        with tf.GradientTape() as tape:
            enc_output, enc_h, enc_c = encoder(inp, enc_hidden)
            decoder.attention_mechanism.setup_memory(enc_output)
            initial_state = decoder.build_initial_state(batch_sz, [enc_h, enc_c], tf.float32)
            pred = decoder(targ[:, :-1], initial_state)
            loss = loss_function(targ[:, 1:], pred.rnn_output)
        variables = encoder.trainable_variables + decoder.trainable_variables
        gradients = prepare_gradients(tape.gradient(loss, variables))
        optimizer.apply_gradients(zip(gradients, variables))
        return loss

    return train_step


def greedy_translate(encoder, decoder, inputs, start, end, max_len):
    batch = inputs.shape[0]
    enc_out, enc_h, enc_c = encoder(inputs, [tf.zeros((batch, encoder.enc_units))] * 2)
    sampler = tfa.seq2seq.GreedyEmbeddingSampler()
    instance = tfa.seq2seq.BasicDecoder(cell=decoder.rnn_cell, sampler=sampler, output_layer=decoder.fc,
                                        maximum_iterations=max_len)
    decoder.attention_mechanism.setup_memory(enc_out)
    initial_state = decoder.build_initial_state(batch, [enc_h, enc_c], tf.float32)
    outputs, _, _ = instance(decoder.embedding.variables[0], start_tokens=tf.fill([batch], start),
                             end_token=end, initial_state=initial_state)
    return outputs.sample_id


def beam_translate(encoder, decoder, inputs, start, end, max_len, beam_width):
    batch = inputs.shape[0]
    enc_out, enc_h, enc_c = encoder(inputs, [tf.zeros((batch, encoder.enc_units))] * 2)
    enc_out = tfa.seq2seq.tile_batch(enc_out, multiplier=beam_width)
    decoder.attention_mechanism.setup_memory(enc_out)
    hidden_state = tfa.seq2seq.tile_batch([enc_h, enc_c], multiplier=beam_width)
    initial_state = decoder.rnn_cell.get_initial_state(batch_size=beam_width * batch, dtype=tf.float32)
    initial_state = initial_state.clone(cell_state=hidden_state)
    instance = tfa.seq2seq.BeamSearchDecoder(decoder.rnn_cell, beam_width=beam_width, output_layer=decoder.fc,
                                             maximum_iterations=max_len)
    outputs, _, lengths = instance(decoder.embedding.variables[0], start_tokens=tf.fill([batch], start),
                                   end_token=end, initial_state=initial_state)
    return outputs.predicted_ids, outputs.beam_search_decoder_output.scores, lengths
'''

# The harness around it, the same text on both sides: build, set the shared weights, train, decode.
HARNESS = '''
hp = inputs["hp"]
encoder = Encoder(hp["V"], hp["E"], hp["U"], hp["B"])
decoder = Decoder(hp["V"], hp["E"], hp["U"], hp["B"], hp["S"], hp["T"], inputs["attention"])
source, target = tf.constant(inputs["source"]), tf.constant(inputs["target"])
enc_out, enc_h, enc_c = encoder(source, encoder.initialize_hidden_state())  # builds the layers
decoder.attention_mechanism.setup_memory(enc_out)
decoder(target[:, :-1], decoder.build_initial_state(hp["B"], [enc_h, enc_c], tf.float32))

mechanism = decoder.attention_mechanism


def layer_kernel(mechanism, which):
    """TF Addons keeps a default Dense as ``memory_layer``/``query_layer``; tfseq its own weight."""
    layer = getattr(mechanism, which + "_layer")
    return getattr(mechanism, which + "_kernel") if layer is None else layer.kernel


roles = {
    "enc_embedding": encoder.embedding.embeddings, "enc_kernel": encoder.lstm_layer.cell.kernel,
    "enc_recurrent": encoder.lstm_layer.cell.recurrent_kernel, "enc_bias": encoder.lstm_layer.cell.bias,
    "dec_embedding": decoder.embedding.embeddings, "dec_kernel": decoder.decoder_rnn_cell.kernel,
    "dec_recurrent": decoder.decoder_rnn_cell.recurrent_kernel, "dec_bias": decoder.decoder_rnn_cell.bias,
    "memory_kernel": layer_kernel(mechanism, "memory"),
    "attention_kernel": decoder.rnn_cell._attention_layers[0].kernel,
    "fc_kernel": decoder.fc.kernel, "fc_bias": decoder.fc.bias,
}
if inputs["attention"] == "bahdanau":
    roles.update(query_kernel=layer_kernel(mechanism, "query"), attention_v=mechanism.attention_v)
for role, variable in roles.items():
    variable.assign(inputs["weights"][role])
outputs["num_variables"] = len(encoder.trainable_variables + decoder.trainable_variables)

ids, scores, lengths = beam_translate(encoder, decoder, source, hp["START"], hp["END"], hp["MAXLEN"], hp["W"])
outputs["greedy_before"] = greedy_translate(encoder, decoder, source, hp["START"], hp["END"], hp["MAXLEN"])
outputs["beam_ids_before"], outputs["beam_scores_before"], outputs["beam_lengths_before"] = ids, scores, lengths

if inputs["optimizer"] == "adam":
    optimizer = tf.keras.optimizers.Adam()
else:
    optimizer = tf.keras.optimizers.SGD(0.1)
train_step = make_train_step(encoder, decoder, optimizer, hp["B"], prepare_gradients)
outputs["losses"] = [float(train_step(source, target, encoder.initialize_hidden_state())) for _ in range(hp["STEPS"])]
outputs["greedy"] = greedy_translate(encoder, decoder, source, hp["START"], hp["END"], hp["MAXLEN"])
ids, scores, lengths = beam_translate(encoder, decoder, source, hp["START"], hp["END"], hp["MAXLEN"], hp["W"])
outputs["beam_ids"], outputs["beam_scores"], outputs["beam_lengths"] = ids, scores, lengths
'''

HP = dict(V=V, E=E, U=U, B=B, S=S, T=T, W=W, STEPS=STEPS, START=START, END=END, MAXLEN=MAXLEN)


def _weights(attention, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {
        "enc_embedding": (V, E), "enc_kernel": (E, 4 * U), "enc_recurrent": (U, 4 * U), "enc_bias": (4 * U,),
        "dec_embedding": (V, E), "dec_kernel": (E + U, 4 * U), "dec_recurrent": (U, 4 * U), "dec_bias": (4 * U,),
        "memory_kernel": (U, U), "attention_kernel": (2 * U, U), "fc_kernel": (U, V), "fc_bias": (V,),
    }
    if attention == "bahdanau":
        shapes.update(query_kernel=(U, U), attention_v=(U,))
    return {role: ((0.1 if len(shape) == 1 else 0.6) * rng.standard_normal(shape)).astype(np.float32)
            for role, shape in shapes.items()}


def _inputs(attention, optimizer, masked=False):
    rng = np.random.default_rng(1)
    source = rng.integers(3, V, (B, S)).astype(np.int32)  # a small vocabulary: ids repeat within the batch
    if masked:  # source rows padded with 0 (the mask's padding) after 7, 4, 6 and 2 ids
        for row, length in enumerate([S, 4, 6, 2]):
            source[row, length:] = 0
    target = rng.integers(3, V, (B, T)).astype(np.int32)
    target[:, 0] = START
    for row, length in enumerate([T, 4, 5, T]):  # each target ends with the end token, then padding
        target[row, length - 1] = END
        target[row, length:] = 0  # masked out of the loss
    return {"hp": HP, "attention": attention, "optimizer": optimizer, "source": source, "target": target,
            "weights": _weights(attention)}


def _masked(program):
    """The program written with Keras masks instead of lengths: ``Embedding(mask_zero=True)`` in
    encoder and decoder, the encoder's ``LSTM`` given the mask (Keras 3 drops the carried one next
    to an ``initial_state``; the docs' migration table says so), the decoder called without
    ``sequence_length`` (its inputs' mask gives the rows' lengths) and the memory set up through
    the mechanism's call (which reads the encoder outputs' mask; ``setup_memory`` would not), for
    beam search ``setup_memory`` with the tiled mask."""
    edits = [("Embedding(vocab_size, embedding_dim)", "Embedding(vocab_size, embedding_dim, mask_zero=True)", 2),
             # Keras 3's LSTM drops the mask its inputs carry when given an initial_state: pass it
             ("self.lstm_layer(self.embedding(x), initial_state=hidden)",
              "self.lstm_layer(self.embedding(x), initial_state=hidden, mask=tf.not_equal(x, 0))", 1),
             ("""outputs, _, _ = self.decoder(x, initial_state=initial_state,
                                     sequence_length=self.batch_sz * [self.target_len - 1])""",
              "outputs, _, _ = self.decoder(x, initial_state=initial_state)", 1),
             ("decoder.attention_mechanism.setup_memory(enc_output)",
              "decoder.attention_mechanism(enc_output, setup_memory=True)", 1),
             ("""    decoder.attention_mechanism.setup_memory(enc_out)
    initial_state = decoder.build_initial_state(batch, [enc_h, enc_c], tf.float32)""",
              """    decoder.attention_mechanism(enc_out, setup_memory=True)
    initial_state = decoder.build_initial_state(batch, [enc_h, enc_c], tf.float32)""", 1),
             ("""    enc_out = tfa.seq2seq.tile_batch(enc_out, multiplier=beam_width)
    decoder.attention_mechanism.setup_memory(enc_out)""",  # tile_batch drops the Keras mask: tiled by hand
              """    enc_out = tfa.seq2seq.tile_batch(enc_out, multiplier=beam_width)
    mask = tfa.seq2seq.tile_batch(tf.not_equal(inputs, 0), multiplier=beam_width)
    decoder.attention_mechanism.setup_memory(enc_out, memory_mask=mask)""", 1)]
    for old, new, count in edits:
        assert program.count(old) == count, old
        program = program.replace(old, new)
    return program


CASES = {"luong_sgd": ("luong", "sgd"), "bahdanau_sgd": ("bahdanau", "sgd"), "luong_adam": ("luong", "adam"),
         "bahdanau_sgd_masked": ("bahdanau", "sgd")}
SOURCES = {name: _masked(PROGRAM) if name.endswith("_masked") else PROGRAM for name in CASES}


@pytest.fixture(scope="module")
def tfa_results():
    prefix = "prepare_gradients = lambda gradients: gradients\n"
    return run_tfa_many([(name, prefix + SOURCES[name] + HARNESS, _inputs(*spec, masked=name.endswith("_masked")))
                         for name, spec in CASES.items()])


def _run_tfseq(name, prepare_gradients=lambda gradients: gradients):
    """The program with ``import tfseq as tfa``, in this process (Keras 3); returns (outputs, namespace)."""
    outputs = {}
    namespace = {"tf": tf, "tfa": tfseq, "np": np, "inputs": _inputs(*CASES[name], masked=name.endswith("_masked")),
                 "outputs": outputs, "prepare_gradients": prepare_gradients}
    filename = f"<tfa program {name}>"
    source = SOURCES[name] + HARNESS
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for AutoGraph
    exec(compile(source, filename, "exec"), namespace)
    return {k: np.asarray(v) for k, v in outputs.items()}, namespace


def _sum_duplicates(gradients):
    return [tfseq.train.sum_duplicate_slices(g) for g in gradients]


def _assert_same_run(ours, theirs):
    assert ours["num_variables"] == theirs["num_variables"]
    np.testing.assert_allclose(ours["losses"], theirs["losses"], atol=ATOL)
    for when in ("_before", ""):  # decoded before and after training
        np.testing.assert_array_equal(ours["greedy" + when], theirs["greedy" + when])
        np.testing.assert_array_equal(ours["beam_ids" + when], theirs["beam_ids" + when])
        np.testing.assert_allclose(ours["beam_scores" + when], theirs["beam_scores" + when], atol=ATOL)
        np.testing.assert_array_equal(ours["beam_lengths" + when], theirs["beam_lengths" + when])


@pytest.mark.parametrize("name", ["luong_sgd", "bahdanau_sgd", "bahdanau_sgd_masked"])
def test_the_program_with_only_the_import_renamed_matches_tf_addons(name, tfa_results, monkeypatch):
    taken = []  # tfseq trains the program's Keras LSTMCell through the hoisted attention loop
    teacher_forced = fused_attention.teacher_forced
    monkeypatch.setattr(fused_attention, "teacher_forced", lambda *a, **k: taken.append(1) or teacher_forced(*a, **k))
    ours, _ = _run_tfseq(name)
    assert taken  # (traced by the training step)
    theirs = tfa_results[name]
    assert len(theirs["losses"]) == STEPS and theirs["losses"][-1] < theirs["losses"][0] - 0.1  # it trains
    assert theirs["greedy_before"].shape == (B, MAXLEN)  # no row ended at once: a real comparison
    assert theirs["beam_lengths_before"].max() == MAXLEN and theirs["beam_lengths"].max() == MAXLEN
    _assert_same_run(ours, theirs)


def test_adam_matches_tf_addons_with_repeated_rows_summed(tfa_results):
    ours, _ = _run_tfseq("luong_adam", _sum_duplicates)
    _assert_same_run(ours, tfa_results["luong_adam"])


def test_keras3_adam_without_the_line_trains_differently(tfa_results):
    """What the migration guide warns about: the same program on Keras 3's Adam, gradients as they come."""
    ours, _ = _run_tfseq("luong_adam")
    theirs = tfa_results["luong_adam"]
    np.testing.assert_allclose(ours["losses"][0], theirs["losses"][0], atol=ATOL)  # before any update: equal
    assert np.abs(ours["losses"][1:] - theirs["losses"][1:]).max() > 1e-4


def test_checkpoint_restores_into_new_objects(tmp_path):
    """The tutorial's ``tf.train.Checkpoint(optimizer=..., encoder=..., decoder=...)``, on tfseq."""
    ours, ns = _run_tfseq("luong_sgd")
    prefix = tf.train.Checkpoint(optimizer=ns["optimizer"], encoder=ns["encoder"], decoder=ns["decoder"]).save(
        str(tmp_path / "ckpt"))
    encoder = ns["Encoder"](V, E, U, B)
    decoder = ns["Decoder"](V, E, U, B, S, T, "luong")
    source, target = tf.constant(ns["inputs"]["source"]), tf.constant(ns["inputs"]["target"])
    enc_out, enc_h, enc_c = encoder(source, encoder.initialize_hidden_state())
    decoder.attention_mechanism.setup_memory(enc_out)
    decoder(target[:, :-1], decoder.build_initial_state(B, [enc_h, enc_c], tf.float32))
    tf.train.Checkpoint(encoder=encoder, decoder=decoder).restore(prefix).assert_existing_objects_matched()
    for new, old in zip(encoder.weights + decoder.weights, ns["encoder"].weights + ns["decoder"].weights):
        np.testing.assert_array_equal(new.numpy(), old.numpy())
    np.testing.assert_array_equal(ns["greedy_translate"](encoder, decoder, source, START, END, MAXLEN), ours["greedy"])
