"""Three TF1-style programs, each run twice: as written, by real TF1 in the reference subprocess
(``tests/tf1_reference.py``: ``tf.compat.v1`` graph mode, the tf-keras legacy cells), and ported to
tfseq. Each exercises usage patterns common in TF1 code:

1. a text classifier: a ``keep_prob`` placeholder in ``DropoutWrapper``, ``MultiRNNCell([cell] * n)``
   (one cell object repeated: TF1 shares its weights and names them once, under ``cell_0``), L2 on
   every variable named ``kernel``; one- and two-directional;
2. a streaming regressor: each batch's final state fed as the next batch's initial state,
   ``legacy_seq2seq.sequence_loss_by_example`` over per-step lists with a custom loss;
3. a tagger: a char BiLSTM over every word (padding words have length 0) feeding a word BiLSTM,
   with a loss masked to the sentence lengths.

The TF1 run initialises the variables, saves them with ``tf.train.Saver``, reports outputs, cost
and gradients, then trains a few SGD steps. The port loads that checkpoint with one strict
``compat.load_tf1_checkpoint`` call (the names prove tfseq's variable scopes are TF1's) and must
give the same numbers (<= 1e-5).

What the port changes, and nothing else:

* imports: ``tf.nn.rnn_cell.X`` -> ``rnn_cell.X``; ``tf.nn.dynamic_rnn`` /
  ``bidirectional_dynamic_rnn`` -> ``nn.*``; ``legacy_seq2seq`` (``tf.contrib`` in TF 1.x; in the
  subprocess the graph ops of ``tests/legacy_seq2seq_ref.py``) -> ``tfseq.legacy_seq2seq``; TF1 ops
  that TF2 moved -> ``tf.compat.v1.*`` (``get_variable``, ``variable_scope``, ``nn.dropout(x, keep_prob)``);
* Session -> ``tf.function``: what the graph created once (cells, ``get_variable``s) is created in
  ``__init__``; the ops run per ``session.run`` move into a ``tf.function`` whose arguments are the
  placeholders; a scalar placeholder that objects are built with (``keep_prob`` in a
  ``DropoutWrapper``) becomes a ``tf.Variable`` assigned before the call (the feed);
  ``tf.trainable_variables()`` becomes the model's variable list; the training op becomes a
  ``GradientTape`` step with ``keras.optimizers.SGD``.
"""

import types

import keras
import legacy_seq2seq_ref
import numpy as np
import pytest
import tensorflow as tf
from tf1_reference import run_tf1_many

from tfseq import compat, legacy_seq2seq, nn, rnn_cell

tf1 = tf.compat.v1
ATOL = 1e-5
pytestmark = pytest.mark.usefixtures("no_xla")  # XLA is not under test here: plain TF ops

# Run first in every TF1 case: the program's ``tf`` is TF 1.x's API, ``legacy_seq2seq`` the reference's.
PRELUDE = "import types\ntf = tf1\n" + legacy_seq2seq_ref.TF1_SOURCE


# -- 1. text classifier: keep_prob placeholder, MultiRNNCell([cell] * n), L2 on every kernel -------------------
CLASSIFIER_HP = {"vocab_size": 20, "units": 8, "num_layers": 2, "num_classes": 3, "l2_weight": 0.01}
CLASSIFIER_DATA = {
    "words": np.random.default_rng(1).integers(0, 20, [4, 7]).astype(np.int32),
    "lengths": np.array([7, 3, 5, 1], np.int32),
    "labels": np.array([0, 2, 1, 2], np.int64),
}

CLASSIFIER_TF1 = PRELUDE + '''
class TextClassifier:
    """Sentence -> class: word vectors, a stack of LSTM layers, a softmax over the top layer's final h."""

    def __init__(self, hp, bidirectional):
        self.words = tf.placeholder(tf.int32, [None, None], name="words")      # [batch, time]
        self.lengths = tf.placeholder(tf.int32, [None], name="lengths")
        self.labels = tf.placeholder(tf.int64, [None], name="labels")
        self.keep_prob = tf.placeholder(tf.float32, [], name="keep_prob")
        batch_size = tf.shape(self.words)[0]

        with tf.variable_scope("embedding"):
            table = tf.get_variable("table", [hp.vocab_size, hp.units])
        inputs = tf.nn.dropout(tf.nn.embedding_lookup(table, self.words), keep_prob=self.keep_prob)

        with tf.variable_scope("encoder"):
            if bidirectional:
                forward, backward = self.stack(hp), self.stack(hp)
                _, (last_fw, last_bw) = tf.nn.bidirectional_dynamic_rnn(
                    forward, backward, inputs, sequence_length=self.lengths,
                    initial_state_fw=forward.zero_state(batch_size, tf.float32),
                    initial_state_bw=backward.zero_state(batch_size, tf.float32))
                features = tf.concat([last_fw[-1].h, last_bw[-1].h], axis=1)  # [batch, 2 * units]
            else:
                stack = self.stack(hp)
                _, last = tf.nn.dynamic_rnn(stack, inputs, sequence_length=self.lengths,
                                            initial_state=stack.zero_state(batch_size, tf.float32))
                features = last[-1].h                                           # [batch, units]

        with tf.variable_scope("classes"):
            width = hp.units * (2 if bidirectional else 1)
            kernel = tf.get_variable("kernel", [width, hp.num_classes])
            bias = tf.get_variable("bias", [hp.num_classes], initializer=tf.zeros_initializer())
        self.logits = tf.matmul(features, kernel) + bias

        penalty = tf.add_n([tf.nn.l2_loss(v) for v in tf.trainable_variables() if "kernel" in v.name])
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.labels, logits=self.logits)
        self.cost = tf.reduce_mean(xent) + hp.l2_weight * penalty

    def stack(self, hp):
        lstm = tf.nn.rnn_cell.LSTMCell(hp.units)
        lstm = tf.nn.rnn_cell.DropoutWrapper(lstm, output_keep_prob=self.keep_prob)
        return tf.nn.rnn_cell.MultiRNNCell([lstm] * hp.num_layers)  # one layer object, repeated


model = TextClassifier(types.SimpleNamespace(**inputs["hp"]), bidirectional=bool(inputs["bidirectional"]))
train = tf.train.GradientDescentOptimizer(0.5).minimize(model.cost)
sess.run(tf.global_variables_initializer())
tf.train.Saver().save(sess, inputs["ckpt"])
outputs["names"] = np.array([v.op.name for v in tf.global_variables()])
feed = {model.words: inputs["words"], model.lengths: inputs["lengths"], model.labels: inputs["labels"],
        model.keep_prob: 1.0}
outputs["cost"], outputs["logits"] = sess.run([model.cost, model.logits], feed)
variables = tf.trainable_variables()
gradients = sess.run([tf.convert_to_tensor(g) for g in tf.gradients(model.cost, variables)], feed)
for v, g in zip(variables, gradients):
    outputs["grad:" + v.op.name] = g
for step in range(2):
    sess.run(train, feed)
    outputs[f"cost_{step}"] = sess.run(model.cost, feed)
feed[model.keep_prob] = 0.5
outputs["cost_dropped"] = sess.run(model.cost, feed)
'''


class TextClassifier:
    """The port of ``CLASSIFIER_TF1``'s ``TextClassifier``."""

    def __init__(self, hp, bidirectional):
        self.hp, self.bidirectional = hp, bidirectional
        self.keep_prob = tf.Variable(1.0, trainable=False, name="keep_prob")  # the placeholder, fed by assign
        with tf1.variable_scope("embedding"):
            self.table = tf1.get_variable("table", [hp.vocab_size, hp.units])
        self.cells = [self.stack(hp), self.stack(hp)] if bidirectional else [self.stack(hp)]
        with tf1.variable_scope("classes"):
            width = hp.units * (2 if bidirectional else 1)
            self.kernel = tf1.get_variable("kernel", [width, hp.num_classes])
            self.bias = tf1.get_variable("bias", [hp.num_classes], initializer=tf.zeros_initializer())

    def stack(self, hp):
        lstm = rnn_cell.LSTMCell(hp.units)
        lstm = rnn_cell.DropoutWrapper(lstm, output_keep_prob=self.keep_prob)
        return rnn_cell.MultiRNNCell([lstm] * hp.num_layers)  # one layer object, repeated

    def trainable_variables(self):
        return [self.table, *[v for cell in self.cells for v in cell.trainable_variables], self.kernel, self.bias]

    @tf.function
    def __call__(self, words, lengths, labels):
        batch_size = tf.shape(words)[0]
        inputs = tf1.nn.dropout(tf.nn.embedding_lookup(self.table, words), keep_prob=self.keep_prob)
        if self.bidirectional:
            forward, backward = self.cells
            _, (last_fw, last_bw) = nn.bidirectional_dynamic_rnn(
                forward, backward, inputs, sequence_length=lengths,
                initial_state_fw=forward.zero_state(batch_size, tf.float32),
                initial_state_bw=backward.zero_state(batch_size, tf.float32))
            features = tf.concat([last_fw[-1].h, last_bw[-1].h], axis=1)
        else:
            stack = self.cells[0]
            _, last = nn.dynamic_rnn(stack, inputs, sequence_length=lengths,
                                     initial_state=stack.zero_state(batch_size, tf.float32))
            features = last[-1].h
        logits = tf.matmul(features, self.kernel) + self.bias
        penalty = tf.add_n([tf.nn.l2_loss(v) for v in self.trainable_variables() if "kernel" in v.name])
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_mean(xent) + self.hp.l2_weight * penalty, logits


# -- 2. streaming regressor: the state runs on across batches, sequence_loss_by_example with a custom loss ------
REGRESSOR_HP = {"units": 6, "steps": 12, "batch_size": 8, "learning_rate": 0.1}
WINDOWS = 3


def signal_windows(batch_size, steps, windows):
    """A wave read in consecutive windows, time-major: ``x, y`` ``[windows, steps, batch, 1]``, ``y`` one
    step ahead of ``x``. Batch row ``b`` reads its own stretch of the wave, window after window."""
    t = 1000.0 * np.arange(batch_size)[:, None] + np.arange(windows * steps + 1)[None, :]  # [batch, total + 1]
    wave = np.sin(0.21 * t) + 0.4 * np.cos(0.053 * t)

    def cut(series):  # [batch, windows * steps] -> [windows, steps, batch, 1]
        return series.reshape(batch_size, windows, steps).transpose(1, 2, 0)[..., None].astype(np.float32)

    return cut(wave[:, :-1]), cut(wave[:, 1:])


REGRESSOR_X, REGRESSOR_Y = signal_windows(REGRESSOR_HP["batch_size"], REGRESSOR_HP["steps"], WINDOWS)

REGRESSOR_TF1 = PRELUDE + '''
def pseudo_huber(labels, logits):
    """Squared error near 0, absolute error far away; [batch, 1] -> [batch]."""
    return tf.reduce_sum(tf.sqrt(1.0 + tf.square(logits - labels)) - 1.0, axis=1)


class StreamRegressor:
    """Predicts a signal's next value; reads it window by window, the LSTM state running on between windows."""

    def __init__(self, hp):
        self.inputs = tf.placeholder(tf.float32, [hp.steps, hp.batch_size, 1], name="inputs")    # time-major
        self.targets = tf.placeholder(tf.float32, [hp.steps, hp.batch_size, 1], name="targets")
        with tf.variable_scope("read_in"):
            w_in = tf.get_variable("w", [1, hp.units], initializer=tf.random_normal_initializer(stddev=1.0))
            b_in = tf.get_variable("b", [hp.units], initializer=tf.constant_initializer(0.1))
        projected = tf.tensordot(self.inputs, w_in, axes=1) + b_in                                # [time, batch, units]
        cell = tf.nn.rnn_cell.BasicLSTMCell(hp.units)
        self.initial_state = cell.zero_state(hp.batch_size, tf.float32)
        with tf.variable_scope("memory"):
            hidden, self.final_state = tf.nn.dynamic_rnn(cell, projected, initial_state=self.initial_state,
                                                         time_major=True)
        with tf.variable_scope("read_out"):
            w_out = tf.get_variable("w", [hp.units, 1], initializer=tf.random_normal_initializer(stddev=1.0))
            b_out = tf.get_variable("b", [1], initializer=tf.constant_initializer(0.1))
        self.predictions = [tf.matmul(h, w_out) + b_out for h in tf.unstack(hidden)]              # [batch, 1] each
        per_row = legacy_seq2seq.sequence_loss_by_example(
            self.predictions, tf.unstack(self.targets), [tf.ones([hp.batch_size])] * hp.steps,
            average_across_timesteps=True, softmax_loss_function=pseudo_huber)
        self.cost = tf.reduce_mean(per_row)


hp = types.SimpleNamespace(**inputs["hp"])
model = StreamRegressor(hp)
train = tf.train.GradientDescentOptimizer(hp.learning_rate).minimize(model.cost)
sess.run(tf.global_variables_initializer())
tf.train.Saver().save(sess, inputs["ckpt"])
state = sess.run(model.initial_state)
for k in range(len(inputs["x"])):
    feed = {model.inputs: inputs["x"][k], model.targets: inputs["y"][k], model.initial_state: state}
    _, cost, state, predictions = sess.run([train, model.cost, model.final_state, model.predictions], feed)
    outputs[f"cost_{k}"], outputs[f"predictions_{k}"] = cost, np.stack(predictions)
outputs["c"], outputs["h"] = state
'''


def pseudo_huber(labels, logits):
    """Squared error near 0, absolute error far away; [batch, 1] -> [batch]."""
    return tf.reduce_sum(tf.sqrt(1.0 + tf.square(logits - labels)) - 1.0, axis=1)


class StreamRegressor:
    """The port of ``REGRESSOR_TF1``'s ``StreamRegressor``."""

    def __init__(self, hp):
        self.hp = hp
        with tf1.variable_scope("read_in"):
            self.w_in = tf1.get_variable("w", [1, hp.units], initializer=tf1.random_normal_initializer(stddev=1.0))
            self.b_in = tf1.get_variable("b", [hp.units], initializer=tf1.constant_initializer(0.1))
        self.cell = rnn_cell.BasicLSTMCell(hp.units)
        with tf1.variable_scope("read_out"):
            self.w_out = tf1.get_variable("w", [hp.units, 1], initializer=tf1.random_normal_initializer(stddev=1.0))
            self.b_out = tf1.get_variable("b", [1], initializer=tf1.constant_initializer(0.1))

    @tf.function
    def __call__(self, inputs, targets, initial_state):
        projected = tf.tensordot(inputs, self.w_in, axes=1) + self.b_in
        hidden, final_state = nn.dynamic_rnn(self.cell, projected, initial_state=initial_state, time_major=True)
        predictions = [tf.matmul(h, self.w_out) + self.b_out for h in tf.unstack(hidden)]
        per_row = legacy_seq2seq.sequence_loss_by_example(
            predictions, tf.unstack(targets), [tf.ones([self.hp.batch_size])] * self.hp.steps,
            average_across_timesteps=True, softmax_loss_function=pseudo_huber)
        return tf.reduce_mean(per_row), final_state, tf.stack(predictions)


# -- 3. tagger: char BiLSTM per word (padding words of length 0) -> word BiLSTM, masked loss -----------------
TAGGER_HP = {"num_words": 30, "word_dim": 6, "num_chars": 12, "char_dim": 4, "char_units": 3, "word_units": 5,
             "num_tags": 4}
_rng = np.random.default_rng(5)
_WORD_LENGTHS = np.array([[4, 2, 3, 1, 4], [3, 4, 1, 0, 0], [2, 0, 0, 0, 0]], np.int32)  # 0: padding word
TAGGER_DATA = {
    "words": (_rng.integers(1, 30, [3, 5]) * (_WORD_LENGTHS > 0)).astype(np.int32),
    "sentence_lengths": np.array([5, 3, 1], np.int32),
    "chars": (_rng.integers(1, 12, [3, 5, 4]) * (np.arange(4) < _WORD_LENGTHS[..., None])).astype(np.int32),
    "word_lengths": _WORD_LENGTHS,
    "tags": _rng.integers(0, 4, [3, 5]).astype(np.int32),
}

TAGGER_TF1 = PRELUDE + '''
class Tagger:
    """One tag per word, from the word's vector and its spelling (a char BiLSTM), read in context."""

    def __init__(self, hp):
        self.words = tf.placeholder(tf.int32, [None, None], name="words")                # [batch, sentence]
        self.sentence_lengths = tf.placeholder(tf.int32, [None], name="sentence_lengths")
        self.chars = tf.placeholder(tf.int32, [None, None, None], name="chars")          # [batch, sentence, word]
        self.word_lengths = tf.placeholder(tf.int32, [None, None], name="word_lengths")  # 0 for padding words
        self.tags = tf.placeholder(tf.int32, [None, None], name="tags")
        self.keep_prob = tf.placeholder_with_default(1.0, [], name="keep_prob")
        batch, sentence = tf.shape(self.words)[0], tf.shape(self.words)[1]

        with tf.variable_scope("spelling"):
            char_table = tf.get_variable("char_table", [hp.num_chars, hp.char_dim])
            chars = tf.nn.embedding_lookup(char_table, self.chars)
            chars = tf.reshape(chars, [batch * sentence, tf.shape(self.chars)[2], hp.char_dim])  # a row per word
            _, (last_fw, last_bw) = tf.nn.bidirectional_dynamic_rnn(
                tf.nn.rnn_cell.LSTMCell(hp.char_units), tf.nn.rnn_cell.LSTMCell(hp.char_units), chars,
                sequence_length=tf.reshape(self.word_lengths, [-1]), dtype=tf.float32)
            spelling = tf.concat([last_fw.h, last_bw.h], axis=1)
            self.spelling = tf.reshape(spelling, [batch, sentence, 2 * hp.char_units])
        with tf.variable_scope("lexicon"):
            word_table = tf.get_variable("word_table", [hp.num_words, hp.word_dim])
        features = tf.concat([tf.nn.embedding_lookup(word_table, self.words), self.spelling], axis=2)
        features = tf.nn.dropout(features, keep_prob=self.keep_prob)

        with tf.variable_scope("context"):
            (out_fw, out_bw), _ = tf.nn.bidirectional_dynamic_rnn(
                tf.nn.rnn_cell.LSTMCell(hp.word_units), tf.nn.rnn_cell.LSTMCell(hp.word_units), features,
                sequence_length=self.sentence_lengths, dtype=tf.float32)
            context = tf.reshape(tf.concat([out_fw, out_bw], axis=2), [-1, 2 * hp.word_units])
        with tf.variable_scope("tag_scores"):
            w = tf.get_variable("w", [2 * hp.word_units, hp.num_tags])
            b = tf.get_variable("b", [hp.num_tags], initializer=tf.zeros_initializer())
        self.scores = tf.reshape(tf.matmul(context, w) + b, [batch, sentence, hp.num_tags])

        mask = tf.sequence_mask(self.sentence_lengths, sentence, dtype=tf.float32)    # [batch, sentence]
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.tags, logits=self.scores)
        self.loss = tf.reduce_sum(xent * mask) / tf.reduce_sum(mask)


model = Tagger(types.SimpleNamespace(**inputs["hp"]))
train = tf.train.GradientDescentOptimizer(0.5).minimize(model.loss)
sess.run(tf.global_variables_initializer())
tf.train.Saver().save(sess, inputs["ckpt"])
feed = {model.words: inputs["words"], model.sentence_lengths: inputs["sentence_lengths"],
        model.chars: inputs["chars"], model.word_lengths: inputs["word_lengths"], model.tags: inputs["tags"]}
outputs["loss"], outputs["scores"], outputs["spelling"] = sess.run([model.loss, model.scores, model.spelling], feed)
variables = tf.trainable_variables()
gradients = sess.run([tf.convert_to_tensor(g) for g in tf.gradients(model.loss, variables)], feed)
for v, g in zip(variables, gradients):
    outputs["grad:" + v.op.name] = g
for step in range(2):
    sess.run(train, feed)
    outputs[f"loss_{step}"] = sess.run(model.loss, feed)
'''


class Tagger:
    """The port of ``TAGGER_TF1``'s ``Tagger``."""

    def __init__(self, hp):
        self.hp = hp
        with tf1.variable_scope("spelling"):
            self.char_table = tf1.get_variable("char_table", [hp.num_chars, hp.char_dim])
        self.char_cells = (rnn_cell.LSTMCell(hp.char_units), rnn_cell.LSTMCell(hp.char_units))
        with tf1.variable_scope("lexicon"):
            self.word_table = tf1.get_variable("word_table", [hp.num_words, hp.word_dim])
        self.word_cells = (rnn_cell.LSTMCell(hp.word_units), rnn_cell.LSTMCell(hp.word_units))
        with tf1.variable_scope("tag_scores"):
            self.w = tf1.get_variable("w", [2 * hp.word_units, hp.num_tags])
            self.b = tf1.get_variable("b", [hp.num_tags], initializer=tf.zeros_initializer())

    @tf.function
    def __call__(self, words, sentence_lengths, chars, word_lengths, tags, keep_prob=1.0):
        hp = self.hp
        batch, sentence = tf.shape(words)[0], tf.shape(words)[1]
        char_vectors = tf.nn.embedding_lookup(self.char_table, chars)
        char_vectors = tf.reshape(char_vectors, [batch * sentence, tf.shape(chars)[2], hp.char_dim])
        _, (last_fw, last_bw) = nn.bidirectional_dynamic_rnn(
            *self.char_cells, char_vectors, sequence_length=tf.reshape(word_lengths, [-1]), dtype=tf.float32)
        spelling = tf.concat([last_fw.h, last_bw.h], axis=1)
        spelling = tf.reshape(spelling, [batch, sentence, 2 * hp.char_units])
        features = tf.concat([tf.nn.embedding_lookup(self.word_table, words), spelling], axis=2)
        features = tf1.nn.dropout(features, keep_prob=keep_prob)
        (out_fw, out_bw), _ = nn.bidirectional_dynamic_rnn(
            *self.word_cells, features, sequence_length=sentence_lengths, dtype=tf.float32)
        context = tf.reshape(tf.concat([out_fw, out_bw], axis=2), [-1, 2 * hp.word_units])
        scores = tf.reshape(tf.matmul(context, self.w) + self.b, [batch, sentence, hp.num_tags])
        mask = tf.sequence_mask(sentence_lengths, sentence, dtype=tf.float32)
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tags, logits=scores)
        return tf.reduce_sum(xent * mask) / tf.reduce_sum(mask), scores, spelling


# -- the comparisons ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf1_runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tf1_programs")
    ckpt = {name: str(directory / name / "model.ckpt") for name in ("lstm", "bilstm", "regressor", "tagger")}
    cases = [
        (name, CLASSIFIER_TF1,
         {"hp": CLASSIFIER_HP, "bidirectional": name == "bilstm", "ckpt": ckpt[name], **CLASSIFIER_DATA})
        for name in ("lstm", "bilstm")
    ]
    cases.append(("regressor", REGRESSOR_TF1,
                  {"hp": REGRESSOR_HP, "x": REGRESSOR_X, "y": REGRESSOR_Y, "ckpt": ckpt["regressor"]}))
    cases.append(("tagger", TAGGER_TF1, {"hp": TAGGER_HP, "ckpt": ckpt["tagger"], **TAGGER_DATA}))
    return run_tf1_many(cases), ckpt


def _sgd_step(variables, loss_fn, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def _check_gradients(ref, loaded, loss_fn):
    """Every TF1 gradient (by variable name) equals tfseq's for the variable loaded under that name."""
    names = [name for name in ref if name.startswith("grad:")]
    assert sorted(name[len("grad:"):] for name in names) == sorted(loaded)  # every trainable variable
    variables = [loaded[name[len("grad:"):]] for name in names]
    with tf.GradientTape() as tape:
        loss = loss_fn()
    for name, grad in zip(names, tape.gradient(loss, variables)):
        np.testing.assert_allclose(tf.convert_to_tensor(grad), ref[name], atol=ATOL, err_msg=name)


@pytest.mark.parametrize("name", ["lstm", "bilstm"])
def test_text_classifier(tf1_runs, name):
    """A keep_prob placeholder in DropoutWrapper, ``MultiRNNCell([cell] * num_layers)`` (one cell object:
    shared weights, TF1 names under cell_0 only), L2 on every 'kernel', (bi)directional LSTM over lengths."""
    ref, ckpt = tf1_runs[0][name], tf1_runs[1][name]
    tf1_names = [str(n) for n in ref["names"]]
    assert any("/cell_0/" in n for n in tf1_names) and not any("cell_1" in n for n in tf1_names)  # TF1's fact
    with pytest.warns(UserWarning, match="same object and will share weights"):  # TF1's warning, too
        model = TextClassifier(types.SimpleNamespace(**CLASSIFIER_HP), bidirectional=name == "bilstm")
    def call():
        return model(CLASSIFIER_DATA["words"], CLASSIFIER_DATA["lengths"], CLASSIFIER_DATA["labels"])
    call()  # builds the cells
    target = {"embedding/table": model.table, "classes/kernel": model.kernel, "classes/bias": model.bias}
    if name == "lstm":
        target["encoder/rnn"] = model.cells[0]
    else:
        target["encoder/bidirectional_rnn"] = tuple(model.cells)
    loaded = compat.load_tf1_checkpoint(ckpt, target)  # strict: every name of the checkpoint is used
    assert sorted(loaded) == sorted(tf1_names)
    assert not any("cell_1" in n for n in loaded)  # the shared cell has TF1's names once
    cost, logits = call()
    np.testing.assert_allclose(cost, ref["cost"], atol=ATOL)
    np.testing.assert_allclose(logits, ref["logits"], atol=ATOL)
    _check_gradients(ref, loaded, lambda: call()[0])
    optimizer = keras.optimizers.SGD(0.5)
    for step in range(2):
        _sgd_step(model.trainable_variables(), lambda: call()[0], optimizer)
        np.testing.assert_allclose(call()[0], ref[f"cost_{step}"], atol=ATOL)
    clean_logits = call()[1]
    model.keep_prob.assign(0.5)  # feeding keep_prob=0.5: the DropoutWrapper (and tf.nn.dropout) now drop
    dropped_logits = call()[1]
    # Random masks: compare every logit, not one cost that a draw can leave nearly unchanged.
    assert np.abs(np.asarray(dropped_logits) - np.asarray(clean_logits)).max() > 1e-2
    # TF1 drops too (its masks are random as well: any change shows it; no drop leaves the cost exact).
    assert abs(float(ref["cost_dropped"]) - float(ref["cost_1"])) > 1e-6


def test_stream_regressor_carries_state(tf1_runs):
    """``zero_state``, ``dynamic_rnn`` (time-major) fed the previous window's final state,
    ``legacy_seq2seq.sequence_loss_by_example`` with a custom loss, an SGD step per window."""
    ref, ckpt = tf1_runs[0]["regressor"], tf1_runs[1]["regressor"]
    hp = types.SimpleNamespace(**REGRESSOR_HP)
    model = StreamRegressor(hp)
    model.cell.build((None, hp.units))
    target = {"read_in/w": model.w_in, "read_in/b": model.b_in, "memory/rnn": model.cell,
              "read_out/w": model.w_out, "read_out/b": model.b_out}
    compat.load_tf1_checkpoint(ckpt, target)
    variables = [model.w_in, model.b_in, *model.cell.trainable_variables, model.w_out, model.b_out]
    optimizer = keras.optimizers.SGD(hp.learning_rate)
    state = model.cell.zero_state(hp.batch_size, tf.float32)
    for k in range(WINDOWS):
        with tf.GradientTape() as tape:
            cost, next_state, predictions = model(REGRESSOR_X[k], REGRESSOR_Y[k], state)
        optimizer.apply_gradients(zip(tape.gradient(cost, variables), variables))
        # The cost averages ~100 terms: compare it relatively as well.
        np.testing.assert_allclose(cost, ref[f"cost_{k}"], rtol=1e-6, atol=ATOL)
        np.testing.assert_allclose(predictions, ref[f"predictions_{k}"], atol=ATOL)
        if k == 1:  # the carried state matters: from a zero state the same window reads differently
            _, _, fresh = model(REGRESSOR_X[k], REGRESSOR_Y[k], model.cell.zero_state(hp.batch_size, tf.float32))
            assert np.abs(np.asarray(fresh) - ref[f"predictions_{k}"]).max() > 1e-3
        state = next_state
    np.testing.assert_allclose(state.c, ref["c"], atol=ATOL)
    np.testing.assert_allclose(state.h, ref["h"], atol=ATOL)


def test_tagger_char_and_word_bilstm(tf1_runs):
    """A char BiLSTM over every word (padding words have length 0), a word BiLSTM over the sentence,
    a masked softmax loss, two SGD steps."""
    ref, ckpt = tf1_runs[0]["tagger"], tf1_runs[1]["tagger"]
    model = Tagger(types.SimpleNamespace(**TAGGER_HP))
    def call():
        return model(**TAGGER_DATA)
    call()  # builds the cells
    target = {
        "spelling/char_table": model.char_table, "spelling/bidirectional_rnn": model.char_cells,
        "lexicon/word_table": model.word_table, "context/bidirectional_rnn": model.word_cells,
        "tag_scores/w": model.w, "tag_scores/b": model.b,
    }
    loaded = compat.load_tf1_checkpoint(ckpt, target)
    loss, scores, spelling = call()
    np.testing.assert_allclose(loss, ref["loss"], atol=ATOL)
    np.testing.assert_allclose(scores, ref["scores"], atol=ATOL)
    np.testing.assert_allclose(spelling, ref["spelling"], atol=ATOL)
    padding = TAGGER_DATA["word_lengths"] == 0  # a word of length 0 has the zero state as its spelling
    assert np.all(ref["spelling"][padding] == 0) and np.all(np.asarray(spelling)[padding] == 0)
    assert np.all(np.abs(ref["spelling"][~padding]).max(axis=-1) > 0)
    _check_gradients(ref, loaded, lambda: call()[0])
    optimizer = keras.optimizers.SGD(0.5)
    for step in range(2):
        _sgd_step(list(loaded.values()), lambda: call()[0], optimizer)
        np.testing.assert_allclose(call()[0], ref[f"loss_{step}"], atol=ATOL)
