"""Three real public TF1 programs, ported to tfseq as a user would, against the same programs run
by real TF1 (``tests/tf1_reference.py``; ``tf.contrib.rnn`` there is ``tf.compat.v1.nn.rnn_cell``,
see ``tests/tf1_contrib_ref.py``).

Each TF1 program runs in the reference as written (configs shrunk), initialises its variables,
saves them with ``tf.train.Saver`` and reports cost, outputs and gradients, then trains a few
SGD steps. The port loads that checkpoint with one strict ``compat.load_tf1_checkpoint`` call
(the names prove tfseq's variable scopes are TF1's) and must give the same numbers (<= 1e-5).

What the ports change, and nothing else:

* imports: ``tf.contrib.rnn.X`` -> ``rnn_cell.X``; ``tf.nn.dynamic_rnn`` /
  ``bidirectional_dynamic_rnn`` -> ``nn.*``; ``tf.contrib.legacy_seq2seq`` ->
  ``legacy_seq2seq``; TF1 ops TF2 renamed -> ``tf.compat.v1.*`` (``get_variable``,
  ``variable_scope``, ``nn.dropout(x, keep_prob)``, ``div``);
* Session -> ``tf.function``: what the graph created once (cells, ``get_variable``s) is
  created in ``__init__``, the ops that ran per ``session.run`` move into a ``tf.function``
  whose arguments are the placeholders; a scalar placeholder that objects are built with
  (``keep_prob``) becomes a ``tf.Variable`` assigned before the run (the feed);
  ``tf.trainable_variables()`` becomes the model's variable list; the training op becomes a
  ``GradientTape`` step.
* the optimizer, in both processes: the programs' ``AdamOptimizer`` is replaced by plain
  ``GradientDescentOptimizer`` (``keras.optimizers.SGD`` in the port), so the steps compare
  exactly: Adam divides each gradient element by its own magnitude, turning float noise in a
  near-zero gradient (1e-9) into a full +-lr step whose sign neither side controls.
* ``reuse=tf.get_variable_scope().reuse`` -> ``reuse=False``: TF1's top-level scope had
  ``reuse=False``; TF2's eager scope reports ``AUTO_REUSE``, which tfseq refuses on purpose
  (share weights by reusing the cell object).
"""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf1_contrib_ref import TF1_NAMESPACE
from tf1_reference import run_tf1_many

from tfseq import compat, legacy_seq2seq, nn, rnn_cell

tf1 = tf.compat.v1
ATOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:At least two cells provided to MultiRNNCell")  # TF1's warning, expected


@pytest.fixture(autouse=True)
def _no_xla(monkeypatch):
    """XLA is not under test here (it compiles each fused direction for seconds): the fused
    path runs as plain TensorFlow ops."""
    from tfseq.nn import fused

    original = fused.uses_xla
    monkeypatch.setattr(fused, "uses_xla", lambda inputs_tm, xla=None: original(inputs_tm, False if xla is None else xla))

# -- 1. zackhy/TextClassification, rnn_classifier.py (commit 5fbf6120), LSTM and Bi-LSTM text classifier ------
CLF_CONFIG = dict(num_classes=3, vocab_size=20, hidden_size=8, num_layers=2, l2_reg_lambda=0.01)
CLF_DATA = dict(
    input_x=np.random.default_rng(1).integers(0, 20, [4, 7]).astype(np.int32),
    input_y=np.array([0, 2, 1, 2], np.int64),
    sequence_length=np.array([7, 3, 5, 1], np.int32),
)

CLF_TF1 = TF1_NAMESPACE + '''
class rnn_clf(object):
    def __init__(self, config):
        self.num_classes = config.num_classes
        self.vocab_size = config.vocab_size
        self.hidden_size = config.hidden_size
        self.num_layers = config.num_layers
        self.l2_reg_lambda = config.l2_reg_lambda
        self.batch_size = tf.placeholder(dtype=tf.int32, shape=[], name='batch_size')
        self.input_x = tf.placeholder(dtype=tf.int32, shape=[None, None], name='input_x')
        self.input_y = tf.placeholder(dtype=tf.int64, shape=[None], name='input_y')
        self.keep_prob = tf.placeholder(dtype=tf.float32, shape=[], name='keep_prob')
        self.sequence_length = tf.placeholder(dtype=tf.int32, shape=[None], name='sequence_length')
        self.l2_loss = tf.constant(0.0)
        with tf.device('/cpu:0'), tf.name_scope('embedding'):
            embedding = tf.get_variable('embedding', shape=[self.vocab_size, self.hidden_size], dtype=tf.float32)
            inputs = tf.nn.embedding_lookup(embedding, self.input_x)
        self.inputs = tf.nn.dropout(inputs, keep_prob=self.keep_prob)
        if config.clf == 'lstm':
            self.final_state = self.normal_lstm()
        else:
            self.final_state = self.bi_lstm()
        with tf.name_scope('softmax'):
            if config.clf == 'lstm':
                softmax_w = tf.get_variable('softmax_w', shape=[self.hidden_size, self.num_classes], dtype=tf.float32)
            else:
                softmax_w = tf.get_variable('softmax_w', shape=[2 * self.hidden_size, self.num_classes], dtype=tf.float32)
            softmax_b = tf.get_variable('softmax_b', shape=[self.num_classes], dtype=tf.float32)
            self.l2_loss += tf.nn.l2_loss(softmax_w)
            self.l2_loss += tf.nn.l2_loss(softmax_b)
            if config.clf == 'lstm':
                self.logits = tf.matmul(self.final_state[self.num_layers - 1].h, softmax_w) + softmax_b
            else:
                self.logits = tf.matmul(self.final_state, softmax_w) + softmax_b
        with tf.name_scope('loss'):
            tvars = tf.trainable_variables()
            for tv in tvars:
                if 'kernel' in tv.name:
                    self.l2_loss += tf.nn.l2_loss(tv)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.input_y, logits=self.logits)
            self.cost = tf.reduce_mean(losses) + self.l2_reg_lambda * self.l2_loss

    def normal_lstm(self):
        cell = tf.contrib.rnn.LSTMCell(self.hidden_size, forget_bias=1.0, state_is_tuple=True,
                                       reuse=tf.get_variable_scope().reuse)
        cell = tf.contrib.rnn.DropoutWrapper(cell, output_keep_prob=self.keep_prob)
        cell = tf.contrib.rnn.MultiRNNCell([cell] * self.num_layers, state_is_tuple=True)
        self._initial_state = cell.zero_state(self.batch_size, dtype=tf.float32)
        with tf.variable_scope('LSTM'):
            outputs, state = tf.nn.dynamic_rnn(cell, inputs=self.inputs, initial_state=self._initial_state,
                                               sequence_length=self.sequence_length)
        return state

    def bi_lstm(self):
        cell_fw = tf.contrib.rnn.LSTMCell(self.hidden_size, forget_bias=1.0, state_is_tuple=True,
                                          reuse=tf.get_variable_scope().reuse)
        cell_bw = tf.contrib.rnn.LSTMCell(self.hidden_size, forget_bias=1.0, state_is_tuple=True,
                                          reuse=tf.get_variable_scope().reuse)
        cell_fw = tf.contrib.rnn.DropoutWrapper(cell_fw, output_keep_prob=self.keep_prob)
        cell_bw = tf.contrib.rnn.DropoutWrapper(cell_bw, output_keep_prob=self.keep_prob)
        cell_fw = tf.contrib.rnn.MultiRNNCell([cell_fw] * self.num_layers, state_is_tuple=True)
        cell_bw = tf.contrib.rnn.MultiRNNCell([cell_bw] * self.num_layers, state_is_tuple=True)
        self._initial_state_fw = cell_fw.zero_state(self.batch_size, dtype=tf.float32)
        self._initial_state_bw = cell_bw.zero_state(self.batch_size, dtype=tf.float32)
        with tf.variable_scope('Bi-LSTM'):
            _, state = tf.nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs=self.inputs,
                                                       initial_state_fw=self._initial_state_fw,
                                                       initial_state_bw=self._initial_state_bw,
                                                       sequence_length=self.sequence_length)
        state_fw = state[0]
        state_bw = state[1]
        output = tf.concat([state_fw[self.num_layers - 1].h, state_bw[self.num_layers - 1].h], 1)
        return output

model = rnn_clf(_types.SimpleNamespace(clf=inputs["clf"], **inputs["config"]))
train_op = tf.train.GradientDescentOptimizer(0.5).minimize(model.cost)
sess.run(tf.global_variables_initializer())
tf.train.Saver().save(sess, inputs["ckpt"])
feed = {model.input_x: inputs["input_x"], model.input_y: inputs["input_y"], model.keep_prob: 1.0,
        model.sequence_length: inputs["sequence_length"], model.batch_size: 4}
tvars = tf.trainable_variables()
outputs["cost"], outputs["logits"] = sess.run([model.cost, model.logits], feed)
for v, g in zip(tvars, sess.run([tf.convert_to_tensor(g) for g in tf.gradients(model.cost, tvars)], feed)):
    outputs["grad:" + v.op.name] = g
for step in range(2):
    sess.run(train_op, feed)
    outputs[f"cost_{step}"] = sess.run(model.cost, feed)
feed[model.keep_prob] = 0.5
outputs["cost_dropped"] = sess.run(model.cost, feed)
'''


class rnn_clf(object):
    """The port of zackhy/TextClassification's ``rnn_clf`` (tfseq cells and drivers)."""

    def __init__(self, config):
        self.num_classes = config.num_classes
        self.vocab_size = config.vocab_size
        self.hidden_size = config.hidden_size
        self.num_layers = config.num_layers
        self.l2_reg_lambda = config.l2_reg_lambda
        self.clf = config.clf
        self.keep_prob = tf.Variable(1.0, trainable=False, name='keep_prob')  # the placeholder, fed by assign
        with tf.device('/cpu:0'):
            self.embedding = tf1.get_variable('embedding', shape=[self.vocab_size, self.hidden_size], dtype=tf.float32)
        if config.clf == 'lstm':
            self.cell = self.normal_lstm()
            self.softmax_w = tf1.get_variable('softmax_w', shape=[self.hidden_size, self.num_classes], dtype=tf.float32)
        else:
            self.cell_fw, self.cell_bw = self.bi_lstm()
            self.softmax_w = tf1.get_variable('softmax_w', shape=[2 * self.hidden_size, self.num_classes], dtype=tf.float32)
        self.softmax_b = tf1.get_variable('softmax_b', shape=[self.num_classes], dtype=tf.float32)

    def normal_lstm(self):
        cell = rnn_cell.LSTMCell(self.hidden_size, forget_bias=1.0, state_is_tuple=True, reuse=False)
        cell = rnn_cell.DropoutWrapper(cell, output_keep_prob=self.keep_prob)
        cell = rnn_cell.MultiRNNCell([cell] * self.num_layers, state_is_tuple=True)
        return cell

    def bi_lstm(self):
        cell_fw = rnn_cell.LSTMCell(self.hidden_size, forget_bias=1.0, state_is_tuple=True, reuse=False)
        cell_bw = rnn_cell.LSTMCell(self.hidden_size, forget_bias=1.0, state_is_tuple=True, reuse=False)
        cell_fw = rnn_cell.DropoutWrapper(cell_fw, output_keep_prob=self.keep_prob)
        cell_bw = rnn_cell.DropoutWrapper(cell_bw, output_keep_prob=self.keep_prob)
        cell_fw = rnn_cell.MultiRNNCell([cell_fw] * self.num_layers, state_is_tuple=True)
        cell_bw = rnn_cell.MultiRNNCell([cell_bw] * self.num_layers, state_is_tuple=True)
        return cell_fw, cell_bw

    @tf.function
    def __call__(self, input_x, input_y, sequence_length, batch_size):
        l2_loss = tf.constant(0.0)
        inputs = tf.nn.embedding_lookup(self.embedding, input_x)
        inputs = tf1.nn.dropout(inputs, keep_prob=self.keep_prob)
        if self.clf == 'lstm':
            initial_state = self.cell.zero_state(batch_size, dtype=tf.float32)
            outputs, state = nn.dynamic_rnn(self.cell, inputs=inputs, initial_state=initial_state,
                                            sequence_length=sequence_length)
            final_state = state
            logits = tf.matmul(final_state[self.num_layers - 1].h, self.softmax_w) + self.softmax_b
        else:
            initial_state_fw = self.cell_fw.zero_state(batch_size, dtype=tf.float32)
            initial_state_bw = self.cell_bw.zero_state(batch_size, dtype=tf.float32)
            _, state = nn.bidirectional_dynamic_rnn(self.cell_fw, self.cell_bw, inputs=inputs,
                                                    initial_state_fw=initial_state_fw,
                                                    initial_state_bw=initial_state_bw,
                                                    sequence_length=sequence_length)
            state_fw = state[0]
            state_bw = state[1]
            final_state = tf.concat([state_fw[self.num_layers - 1].h, state_bw[self.num_layers - 1].h], 1)
            logits = tf.matmul(final_state, self.softmax_w) + self.softmax_b
        l2_loss += tf.nn.l2_loss(self.softmax_w)
        l2_loss += tf.nn.l2_loss(self.softmax_b)
        for tv in self.trainable_variables():
            if 'kernel' in tv.name:
                l2_loss += tf.nn.l2_loss(tv)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=input_y, logits=logits)
        cost = tf.reduce_mean(losses) + self.l2_reg_lambda * l2_loss
        return cost, logits

    def trainable_variables(self):
        cells = [self.cell] if self.clf == 'lstm' else [self.cell_fw, self.cell_bw]
        return [self.embedding] + [v for c in cells for v in c.trainable_variables] + [self.softmax_w, self.softmax_b]


# -- 2. MorvanZhou/tutorials, tensorflowTUT/tf20_RNN2.2/full_code.py (commit 3e018ce7): LSTM regression ----------
# sin -> cos time series, state carried from batch to batch, legacy_seq2seq loss with a custom loss function.
TIME_STEPS, BATCH_SIZE, INPUT_SIZE, OUTPUT_SIZE, CELL_SIZE, LR = 20, 50, 1, 1, 10, 0.05  # LR for SGD

GET_BATCH = '''
BATCH_START = 0
def get_batch():
    global BATCH_START, TIME_STEPS
    xs = np.arange(BATCH_START, BATCH_START+TIME_STEPS*BATCH_SIZE).reshape((BATCH_SIZE, TIME_STEPS)) / (10*np.pi)
    seq = np.sin(xs)
    res = np.cos(xs)
    BATCH_START += TIME_STEPS
    return [seq[:, :, np.newaxis], res[:, :, np.newaxis], xs]
'''
exec(GET_BATCH)  # the program's own data function, the same text in both processes

LSTM_RNN_TF1 = TF1_NAMESPACE + f"TIME_STEPS, BATCH_SIZE, INPUT_SIZE, OUTPUT_SIZE, CELL_SIZE, LR = {TIME_STEPS}, {BATCH_SIZE}, 1, 1, 10, {LR}\n" + GET_BATCH + '''
class LSTMRNN(object):
    def __init__(self, n_steps, input_size, output_size, cell_size, batch_size):
        self.n_steps = n_steps
        self.input_size = input_size
        self.output_size = output_size
        self.cell_size = cell_size
        self.batch_size = batch_size
        with tf.name_scope('inputs'):
            self.xs = tf.placeholder(tf.float32, [None, n_steps, input_size], name='xs')
            self.ys = tf.placeholder(tf.float32, [None, n_steps, output_size], name='ys')
        with tf.variable_scope('in_hidden'):
            self.add_input_layer()
        with tf.variable_scope('LSTM_cell'):
            self.add_cell()
        with tf.variable_scope('out_hidden'):
            self.add_output_layer()
        with tf.name_scope('cost'):
            self.compute_cost()
        with tf.name_scope('train'):
            self.train_op = tf.train.GradientDescentOptimizer(LR).minimize(self.cost)

    def add_input_layer(self,):
        l_in_x = tf.reshape(self.xs, [-1, self.input_size], name='2_2D')
        Ws_in = self._weight_variable([self.input_size, self.cell_size])
        bs_in = self._bias_variable([self.cell_size,])
        with tf.name_scope('Wx_plus_b'):
            l_in_y = tf.matmul(l_in_x, Ws_in) + bs_in
        self.l_in_y = tf.reshape(l_in_y, [-1, self.n_steps, self.cell_size], name='2_3D')

    def add_cell(self):
        lstm_cell = tf.contrib.rnn.BasicLSTMCell(self.cell_size, forget_bias=1.0, state_is_tuple=True)
        with tf.name_scope('initial_state'):
            self.cell_init_state = lstm_cell.zero_state(self.batch_size, dtype=tf.float32)
        self.cell_outputs, self.cell_final_state = tf.nn.dynamic_rnn(
            lstm_cell, self.l_in_y, initial_state=self.cell_init_state, time_major=False)

    def add_output_layer(self):
        l_out_x = tf.reshape(self.cell_outputs, [-1, self.cell_size], name='2_2D')
        Ws_out = self._weight_variable([self.cell_size, self.output_size])
        bs_out = self._bias_variable([self.output_size, ])
        with tf.name_scope('Wx_plus_b'):
            self.pred = tf.matmul(l_out_x, Ws_out) + bs_out

    def compute_cost(self):
        losses = tf.contrib.legacy_seq2seq.sequence_loss_by_example(
            [tf.reshape(self.pred, [-1], name='reshape_pred')],
            [tf.reshape(self.ys, [-1], name='reshape_target')],
            [tf.ones([self.batch_size * self.n_steps], dtype=tf.float32)],
            average_across_timesteps=True,
            softmax_loss_function=self.ms_error,
            name='losses'
        )
        with tf.name_scope('average_cost'):
            self.cost = tf.div(
                tf.reduce_sum(losses, name='losses_sum'),
                self.batch_size,
                name='average_cost')

    @staticmethod
    def ms_error(labels, logits):
        return tf.square(tf.subtract(labels, logits))

    def _weight_variable(self, shape, name='weights'):
        initializer = tf.random_normal_initializer(mean=0., stddev=1.,)
        return tf.get_variable(shape=shape, initializer=initializer, name=name)

    def _bias_variable(self, shape, name='biases'):
        initializer = tf.constant_initializer(0.1)
        return tf.get_variable(name=name, shape=shape, initializer=initializer)

model = LSTMRNN(TIME_STEPS, INPUT_SIZE, OUTPUT_SIZE, CELL_SIZE, BATCH_SIZE)
sess.run(tf.global_variables_initializer())
tf.train.Saver().save(sess, inputs["ckpt"])
for i in range(3):
    seq, res, xs = get_batch()
    if i == 0:
        feed_dict = {model.xs: seq, model.ys: res}
    else:
        feed_dict = {model.xs: seq, model.ys: res, model.cell_init_state: state}
    _, cost, state, pred = sess.run([model.train_op, model.cost, model.cell_final_state, model.pred],
                                    feed_dict=feed_dict)
    outputs[f"cost_{i}"], outputs[f"pred_{i}"] = cost, pred
outputs["c"], outputs["h"] = state
'''


class LSTMRNN(object):
    """The port of MorvanZhou's ``LSTMRNN`` (tfseq cell, driver and legacy_seq2seq loss)."""

    def __init__(self, n_steps, input_size, output_size, cell_size, batch_size):
        self.n_steps = n_steps
        self.input_size = input_size
        self.output_size = output_size
        self.cell_size = cell_size
        self.batch_size = batch_size
        with tf1.variable_scope('in_hidden'):
            self.Ws_in = self._weight_variable([self.input_size, self.cell_size])
            self.bs_in = self._bias_variable([self.cell_size,])
        self.lstm_cell = rnn_cell.BasicLSTMCell(self.cell_size, forget_bias=1.0, state_is_tuple=True)
        with tf1.variable_scope('out_hidden'):
            self.Ws_out = self._weight_variable([self.cell_size, self.output_size])
            self.bs_out = self._bias_variable([self.output_size, ])

    @tf.function
    def __call__(self, xs, ys, cell_init_state=None):
        l_in_x = tf.reshape(xs, [-1, self.input_size], name='2_2D')
        l_in_y = tf.matmul(l_in_x, self.Ws_in) + self.bs_in
        l_in_y = tf.reshape(l_in_y, [-1, self.n_steps, self.cell_size], name='2_3D')
        if cell_init_state is None:
            cell_init_state = self.lstm_cell.zero_state(self.batch_size, dtype=tf.float32)
        cell_outputs, cell_final_state = nn.dynamic_rnn(
            self.lstm_cell, l_in_y, initial_state=cell_init_state, time_major=False)
        l_out_x = tf.reshape(cell_outputs, [-1, self.cell_size], name='2_2D')
        pred = tf.matmul(l_out_x, self.Ws_out) + self.bs_out
        losses = legacy_seq2seq.sequence_loss_by_example(
            [tf.reshape(pred, [-1], name='reshape_pred')],
            [tf.reshape(ys, [-1], name='reshape_target')],
            [tf.ones([self.batch_size * self.n_steps], dtype=tf.float32)],
            average_across_timesteps=True,
            softmax_loss_function=self.ms_error,
            name='losses'
        )
        cost = tf1.div(tf.reduce_sum(losses, name='losses_sum'), self.batch_size, name='average_cost')
        return cost, cell_final_state, pred

    @staticmethod
    def ms_error(labels, logits):
        return tf.square(tf.subtract(labels, logits))

    def _weight_variable(self, shape, name='weights'):
        initializer = tf1.random_normal_initializer(mean=0., stddev=1.,)
        return tf1.get_variable(shape=shape, initializer=initializer, name=name)

    def _bias_variable(self, shape, name='biases'):
        initializer = tf1.constant_initializer(0.1)
        return tf1.get_variable(name=name, shape=shape, initializer=initializer)


# -- 3. guillaumegenthial/sequence_tagging, model/ner_model.py (commit 8c94537c): char + word BiLSTM tagger ------
# (use_chars=True, use_crf=False: tf.contrib.crf is not part of the RNN API)
NER_CONFIG = dict(nwords=30, dim_word=6, nchars=12, dim_char=4, hidden_size_char=3, hidden_size_lstm=5, ntags=4)
_rng = np.random.default_rng(5)
NER_DATA = dict(
    word_ids=_rng.integers(1, 30, [3, 5]).astype(np.int32),
    sequence_lengths=np.array([5, 3, 1], np.int32),
    char_ids=_rng.integers(1, 12, [3, 5, 4]).astype(np.int32),
    word_lengths=np.array([[4, 2, 3, 1, 4], [3, 4, 1, 0, 0], [2, 0, 0, 0, 0]], np.int32),
    labels=_rng.integers(0, 4, [3, 5]).astype(np.int32),
)

NER_TF1 = TF1_NAMESPACE + '''
class NERModel(object):
    def __init__(self, config):
        self.config = config
    def add_placeholders(self):
        self.word_ids = tf.placeholder(tf.int32, shape=[None, None], name="word_ids")
        self.sequence_lengths = tf.placeholder(tf.int32, shape=[None], name="sequence_lengths")
        self.char_ids = tf.placeholder(tf.int32, shape=[None, None, None], name="char_ids")
        self.word_lengths = tf.placeholder(tf.int32, shape=[None, None], name="word_lengths")
        self.labels = tf.placeholder(tf.int32, shape=[None, None], name="labels")
        self.dropout = tf.placeholder(dtype=tf.float32, shape=[], name="dropout")
        self.lr = tf.placeholder(dtype=tf.float32, shape=[], name="lr")

    def add_word_embeddings_op(self):
        with tf.variable_scope("words"):
            _word_embeddings = tf.get_variable(name="_word_embeddings", dtype=tf.float32,
                                               shape=[self.config.nwords, self.config.dim_word])
            word_embeddings = tf.nn.embedding_lookup(_word_embeddings, self.word_ids, name="word_embeddings")
        with tf.variable_scope("chars"):
            _char_embeddings = tf.get_variable(name="_char_embeddings", dtype=tf.float32,
                                               shape=[self.config.nchars, self.config.dim_char])
            char_embeddings = tf.nn.embedding_lookup(_char_embeddings, self.char_ids, name="char_embeddings")
            s = tf.shape(char_embeddings)
            char_embeddings = tf.reshape(char_embeddings, shape=[s[0]*s[1], s[-2], self.config.dim_char])
            word_lengths = tf.reshape(self.word_lengths, shape=[s[0]*s[1]])
            cell_fw = tf.contrib.rnn.LSTMCell(self.config.hidden_size_char, state_is_tuple=True)
            cell_bw = tf.contrib.rnn.LSTMCell(self.config.hidden_size_char, state_is_tuple=True)
            _output = tf.nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, char_embeddings,
                                                      sequence_length=word_lengths, dtype=tf.float32)
            _, ((_, output_fw), (_, output_bw)) = _output
            output = tf.concat([output_fw, output_bw], axis=-1)
            output = tf.reshape(output, shape=[s[0], s[1], 2*self.config.hidden_size_char])
            word_embeddings = tf.concat([word_embeddings, output], axis=-1)
        self.word_embeddings = tf.nn.dropout(word_embeddings, self.dropout)

    def add_logits_op(self):
        with tf.variable_scope("bi-lstm"):
            cell_fw = tf.contrib.rnn.LSTMCell(self.config.hidden_size_lstm)
            cell_bw = tf.contrib.rnn.LSTMCell(self.config.hidden_size_lstm)
            (output_fw, output_bw), _ = tf.nn.bidirectional_dynamic_rnn(
                    cell_fw, cell_bw, self.word_embeddings,
                    sequence_length=self.sequence_lengths, dtype=tf.float32)
            output = tf.concat([output_fw, output_bw], axis=-1)
            output = tf.nn.dropout(output, self.dropout)
        with tf.variable_scope("proj"):
            W = tf.get_variable("W", dtype=tf.float32, shape=[2*self.config.hidden_size_lstm, self.config.ntags])
            b = tf.get_variable("b", shape=[self.config.ntags], dtype=tf.float32, initializer=tf.zeros_initializer())
            nsteps = tf.shape(output)[1]
            output = tf.reshape(output, [-1, 2*self.config.hidden_size_lstm])
            pred = tf.matmul(output, W) + b
            self.logits = tf.reshape(pred, [-1, nsteps, self.config.ntags])

    def add_loss_op(self):
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=self.logits, labels=self.labels)
        mask = tf.sequence_mask(self.sequence_lengths)
        losses = tf.boolean_mask(losses, mask)
        self.loss = tf.reduce_mean(losses)

model = NERModel(_types.SimpleNamespace(**inputs["config"]))
model.add_placeholders()
model.add_word_embeddings_op()
model.add_logits_op()
model.add_loss_op()
with tf.variable_scope("train_step"):
    train_op = tf.train.GradientDescentOptimizer(model.lr).minimize(model.loss)
sess.run(tf.global_variables_initializer())
tf.train.Saver().save(sess, inputs["ckpt"])
feed = {model.word_ids: inputs["word_ids"], model.sequence_lengths: inputs["sequence_lengths"],
        model.char_ids: inputs["char_ids"], model.word_lengths: inputs["word_lengths"],
        model.labels: inputs["labels"], model.dropout: 1.0, model.lr: 0.5}
tvars = tf.trainable_variables()
outputs["loss"], outputs["logits"] = sess.run([model.loss, model.logits], feed)
for v, g in zip(tvars, sess.run([tf.convert_to_tensor(g) for g in tf.gradients(model.loss, tvars)], feed)):
    outputs["grad:" + v.op.name] = g
for step in range(2):
    sess.run(train_op, feed)
    outputs[f"loss_{step}"] = sess.run(model.loss, feed)
'''


class NERModel(object):
    """The port of guillaumegenthial's ``NERModel`` (use_chars, no CRF)."""

    def __init__(self, config):
        self.config = config
        with tf1.variable_scope("words"):
            self._word_embeddings = tf1.get_variable(name="_word_embeddings", dtype=tf.float32,
                                                     shape=[self.config.nwords, self.config.dim_word])
        with tf1.variable_scope("chars"):
            self._char_embeddings = tf1.get_variable(name="_char_embeddings", dtype=tf.float32,
                                                     shape=[self.config.nchars, self.config.dim_char])
            self.char_cell_fw = rnn_cell.LSTMCell(self.config.hidden_size_char, state_is_tuple=True)
            self.char_cell_bw = rnn_cell.LSTMCell(self.config.hidden_size_char, state_is_tuple=True)
        self.cell_fw = rnn_cell.LSTMCell(self.config.hidden_size_lstm)
        self.cell_bw = rnn_cell.LSTMCell(self.config.hidden_size_lstm)
        with tf1.variable_scope("proj"):
            self.W = tf1.get_variable("W", dtype=tf.float32, shape=[2*self.config.hidden_size_lstm, self.config.ntags])
            self.b = tf1.get_variable("b", shape=[self.config.ntags], dtype=tf.float32, initializer=tf.zeros_initializer())

    @tf.function
    def __call__(self, word_ids, sequence_lengths, char_ids, word_lengths, labels, dropout):
        # add_word_embeddings_op
        word_embeddings = tf.nn.embedding_lookup(self._word_embeddings, word_ids, name="word_embeddings")
        char_embeddings = tf.nn.embedding_lookup(self._char_embeddings, char_ids, name="char_embeddings")
        s = tf.shape(char_embeddings)
        char_embeddings = tf.reshape(char_embeddings, shape=[s[0]*s[1], s[-2], self.config.dim_char])
        word_lengths = tf.reshape(word_lengths, shape=[s[0]*s[1]])
        _output = nn.bidirectional_dynamic_rnn(self.char_cell_fw, self.char_cell_bw, char_embeddings,
                                               sequence_length=word_lengths, dtype=tf.float32)
        _, ((_, output_fw), (_, output_bw)) = _output
        output = tf.concat([output_fw, output_bw], axis=-1)
        output = tf.reshape(output, shape=[s[0], s[1], 2*self.config.hidden_size_char])
        word_embeddings = tf.concat([word_embeddings, output], axis=-1)
        word_embeddings = tf1.nn.dropout(word_embeddings, dropout)
        # add_logits_op
        (output_fw, output_bw), _ = nn.bidirectional_dynamic_rnn(
                self.cell_fw, self.cell_bw, word_embeddings,
                sequence_length=sequence_lengths, dtype=tf.float32)
        output = tf.concat([output_fw, output_bw], axis=-1)
        output = tf1.nn.dropout(output, dropout)
        nsteps = tf.shape(output)[1]
        output = tf.reshape(output, [-1, 2*self.config.hidden_size_lstm])
        pred = tf.matmul(output, self.W) + self.b
        logits = tf.reshape(pred, [-1, nsteps, self.config.ntags])
        # add_loss_op
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=labels)
        mask = tf.sequence_mask(sequence_lengths)
        losses = tf.boolean_mask(losses, mask)
        loss = tf.reduce_mean(losses)
        return loss, logits


# -- the comparisons ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf1_runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tf1_programs")
    ckpt = {name: str(directory / name / "model.ckpt") for name in ("lstm", "blstm", "morvan", "ner")}
    cases = [
        (clf, CLF_TF1, {"clf": clf, "config": CLF_CONFIG, "ckpt": ckpt[clf], **CLF_DATA}) for clf in ("lstm", "blstm")
    ]
    cases.append(("morvan", LSTM_RNN_TF1, {"ckpt": ckpt["morvan"]}))
    cases.append(("ner", NER_TF1, {"config": NER_CONFIG, "ckpt": ckpt["ner"], **NER_DATA}))
    return run_tf1_many(cases), ckpt


def _sgd_step(variables, loss_fn, optimizer):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def _check_gradients(ref, loaded, loss_fn):
    """Every TF1 gradient (by variable name) equals tfseq's for the variable loaded under that name."""
    names = [name for name in ref if name.startswith("grad:")]
    variables = [loaded[name[len("grad:"):]] for name in names]
    with tf.GradientTape() as tape:
        loss = loss_fn()
    for name, grad in zip(names, tape.gradient(loss, variables)):
        np.testing.assert_allclose(tf.convert_to_tensor(grad), ref[name], atol=ATOL, err_msg=name)


@pytest.mark.parametrize("clf", ["lstm", "blstm"])
def test_zackhy_text_classifier(tf1_runs, clf):
    """zackhy/TextClassification ``rnn_classifier.py``: a keep_prob placeholder in DropoutWrapper,
    ``MultiRNNCell([cell] * num_layers)`` (one cell object: shared weights, TF1 names under cell_0
    only), L2 on every 'kernel', (bi)directional LSTM over ``sequence_length``."""
    ref, ckpt = tf1_runs[0][clf], tf1_runs[1][clf]
    model = rnn_clf(types.SimpleNamespace(clf=clf, **CLF_CONFIG))
    data = dict(CLF_DATA)
    call = lambda: model(data["input_x"], data["input_y"], data["sequence_length"], 4)  # noqa: E731
    call()  # builds the cells
    # TF1 named the variable "embedding_1": get_variable('embedding') inside name_scope('embedding')
    target = {"embedding_1": model.embedding, "softmax_w": model.softmax_w, "softmax_b": model.softmax_b}
    if clf == "lstm":
        target["LSTM/rnn"] = model.cell
    else:
        target["Bi-LSTM/bidirectional_rnn"] = (model.cell_fw, model.cell_bw)
    loaded = compat.load_tf1_checkpoint(ckpt, target)  # strict: every name of the checkpoint is used
    assert not any("cell_1" in name for name in loaded)  # the shared cell has TF1's names once
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


def test_morvan_lstm_regression_carries_state(tf1_runs):
    """MorvanZhou's LSTM regression: ``zero_state``, ``dynamic_rnn`` fed the previous batch's
    final state, ``legacy_seq2seq.sequence_loss_by_example`` with a custom loss, three SGD steps."""
    ref, ckpt = tf1_runs[0]["morvan"], tf1_runs[1]["morvan"]
    global BATCH_START
    BATCH_START = 0
    model = LSTMRNN(TIME_STEPS, INPUT_SIZE, OUTPUT_SIZE, CELL_SIZE, BATCH_SIZE)
    model.lstm_cell.build((None, CELL_SIZE))
    target = {"in_hidden/weights": model.Ws_in, "in_hidden/biases": model.bs_in, "LSTM_cell/rnn": model.lstm_cell,
              "out_hidden/weights": model.Ws_out, "out_hidden/biases": model.bs_out}
    compat.load_tf1_checkpoint(ckpt, target)
    variables = [model.Ws_in, model.bs_in, *model.lstm_cell.trainable_variables, model.Ws_out, model.bs_out]
    optimizer = keras.optimizers.SGD(LR)
    state = None
    for i in range(3):
        seq, res, xs = get_batch()  # noqa: F821 (defined by exec(GET_BATCH))
        seq, res = seq.astype(np.float32), res.astype(np.float32)
        with tf.GradientTape() as tape:
            cost, new_state, pred = model(seq, res, state)
        optimizer.apply_gradients(zip(tape.gradient(cost, variables), variables))
        # The cost sums ~100 squared errors: float32 resolves it to ~8e-6, so compare it relatively.
        np.testing.assert_allclose(cost, ref[f"cost_{i}"], rtol=1e-6, atol=ATOL)
        np.testing.assert_allclose(pred, ref[f"pred_{i}"], atol=ATOL)
        state = new_state
    np.testing.assert_allclose(state.c, ref["c"], atol=ATOL)
    np.testing.assert_allclose(state.h, ref["h"], atol=ATOL)


def test_sequence_tagging_char_and_word_bilstm(tf1_runs):
    """guillaumegenthial/sequence_tagging ``NERModel``: a char BiLSTM over every word (padding words
    have length 0), a word BiLSTM over the sentence, a masked softmax loss, two SGD steps."""
    ref, ckpt = tf1_runs[0]["ner"], tf1_runs[1]["ner"]
    model = NERModel(types.SimpleNamespace(**NER_CONFIG))
    call = lambda: model(**NER_DATA, dropout=1.0)  # noqa: E731
    call()  # builds the cells
    target = {
        "words/_word_embeddings": model._word_embeddings, "chars/_char_embeddings": model._char_embeddings,
        "chars/bidirectional_rnn": (model.char_cell_fw, model.char_cell_bw),
        "bi-lstm/bidirectional_rnn": (model.cell_fw, model.cell_bw), "proj/W": model.W, "proj/b": model.b,
    }
    loaded = compat.load_tf1_checkpoint(ckpt, target)
    loss, logits = call()
    np.testing.assert_allclose(loss, ref["loss"], atol=ATOL)
    np.testing.assert_allclose(logits, ref["logits"], atol=ATOL)
    _check_gradients(ref, loaded, lambda: call()[0])
    optimizer = keras.optimizers.SGD(0.5)
    for step in range(2):
        _sgd_step(list(loaded.values()), lambda: call()[0], optimizer)
        np.testing.assert_allclose(call()[0], ref[f"loss_{step}"], atol=ATOL)
