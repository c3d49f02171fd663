"""A recurrent sentence classifier (many-to-one) from tfseq cells, as a Keras 3 model.

::

    x      = embedding[ids]                                   # [batch, T, E]
    h      = encoder(x, length)                               # uni: MultiRNNCell -> [batch, T, H]
                                                              # bi: per layer [h_fw, h_bw] -> [batch, T, 2H]
    mask_t = t < length                                       # padding never reaches the pooled vector
    z      = pool(h, mask)                                    # [batch, F]
             last:      final state h of the last layer (both directions for bi)
             mean:      sum_t mask_t h_t / length
             max:       max over unmasked t of h_t
             attention: a = softmax_t(v . tanh(W h_t + b)) over unmasked t;  z = sum_t a_t h_t
    logits = dropout(z) @ W_out + b_out                       # [batch, classes]

Every layer's cell is ``make_cell(cell, units)`` wrapped in ``DropoutWrapper(input_keep_prob
= 1 - dropout)``; ``residual`` adds each layer's input to its output from the second layer
on (``ResidualWrapper`` in the unidirectional stack, the concatenated pair in the
bidirectional one). The backward direction reads each sentence reversed within its own
length (TF1's ``bidirectional_dynamic_rnn``), so padding never enters either direction.
"""

import keras
import numpy as np
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq._checks import check_positive_int
from tfseq.demos.classify.presets import POOLINGS
from tfseq.demos.frame import dtype_policy_scope
from tfseq.rnn_cell import make_cell


@tf.custom_gradient
def embedding_lookup(table, ids):
    """``table[ids]`` whose gradient is dense, with repeated ids summed first.

    ``tf.gather``'s gradient has one slice per occurrence; Keras 3's Adam squares each slice
    before adding them, so a word seen k times would move sqrt(k) times too far. Here
    ``d table = unsorted_segment_sum(d out, ids, vocab)`` (``[vocab, dim]``, a static shape XLA
    compiles), which any optimizer treats as TF1's summed gradient.
    """
    out = tf.gather(table, ids)  # [batch, T, dim]

    def grad(d_out):
        flat = tf.reshape(d_out, [-1, tf.shape(table)[1]])  # [batch * T, dim]
        return tf.math.unsorted_segment_sum(flat, tf.reshape(ids, [-1]), tf.shape(table)[0]), None

    return out, grad


def _h(state):
    """The output part of one layer's final state (``h`` of an ``LSTMStateTuple``)."""
    return state.h if hasattr(state, "h") else state


@keras.saving.register_keras_serializable(package="tfseq")
class SentenceClassifier(keras.Model):
    """Embeddings, a (bi)directional stack of tfseq cells, pooling and a softmax layer.

    Args:
        vocab_size: int > 0 (id 0 is padding).
        num_classes: int >= 2.
        embedding_dim, num_units: int > 0 (``num_units`` per direction).
        num_layers: int > 0.
        cell: ``"lstm"``, ``"peephole"``, ``"gru"`` or ``"rnn"`` (:func:`tfseq.rnn_cell.make_cell`).
        bidirectional: read each sentence both ways in every layer.
        residual: residual connections from the second layer on.
        dropout: float in [0, 1): cell inputs and the pooled features, while training.
        pooling: ``"last"``, ``"mean"``, ``"max"`` or ``"attention"``.
        attention_units: hidden size of attention pooling.
        train_embeddings: ``False`` freezes the embedding matrix (pretrained vectors).
        seed: int seed of dropout.
        dtype: Keras' ``dtype`` (policy) of the model and every layer in it, e.g.
            ``"mixed_bfloat16"``: float32 weights, bfloat16 compute, float32 logits.

    Call arguments:
        inputs: dict with ``ids`` int ``[batch, T]`` (0-padded) and ``length`` int ``[batch]``.
        training: enables dropout.

    Returns:
        logits ``[batch, num_classes]``.
    """

    def __init__(self, vocab_size, num_classes=2, embedding_dim=64, num_units=64, num_layers=1, cell="lstm",
                 bidirectional=True, residual=False, dropout=0.0, pooling="max", attention_units=64,
                 train_embeddings=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = "SentenceClassifier"
        self.vocab_size = check_positive_int(owner, "vocab_size", vocab_size)
        self.num_classes = check_positive_int(owner, "num_classes", num_classes)
        if self.num_classes < 2:
            raise ValueError(f"{owner}: num_classes must be >= 2, got {num_classes!r}")
        self.embedding_dim = check_positive_int(owner, "embedding_dim", embedding_dim)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        self.attention_units = check_positive_int(owner, "attention_units", attention_units)
        if pooling not in POOLINGS:
            raise ValueError(f"{owner}: pooling must be one of {POOLINGS}, got {pooling!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")
        self.cell_kind, self.bidirectional, self.residual = cell, bool(bidirectional), bool(residual)
        self.dropout, self.pooling, self.train_embeddings = float(dropout), pooling, bool(train_embeddings)
        self.seed = seed
        self._seed = 0 if seed is None else int(seed)

        with dtype_policy_scope(self.dtype_policy):  # every layer takes the model's precision
            self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim,
                                                    trainable=self.train_embeddings,
                                                    embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
                                                    name="embedding")
            if self.bidirectional:
                self.cells_fw = [self._cell(f"fw_cell_{i}", i) for i in range(num_layers)]
                self.cells_bw = [self._cell(f"bw_cell_{i}", i + 100) for i in range(num_layers)]
            else:
                layers = [self._cell(f"cell_{i}", i) for i in range(num_layers)]
                if self.residual:
                    layers = [layers[0]] + [rnn_cell.ResidualWrapper(layer) for layer in layers[1:]]
                self.encoder_cell = rnn_cell.MultiRNNCell(layers)
            width = self.num_units * (2 if self.bidirectional else 1)
            if pooling == "attention":
                self.attention_hidden = keras.layers.Dense(self.attention_units, activation="tanh",
                                                           name="attention_hidden")
                self.attention_score = keras.layers.Dense(1, use_bias=False, name="attention_score")
            self.feature_dropout = nn.Dropout(self.dropout, seed=self._seed + 999)
            self.output_layer = keras.layers.Dense(self.num_classes, name="output")
        self.feature_width = width

    def _cell(self, name, index):
        layer = make_cell(self.cell_kind, self.num_units, forget_bias=1.0 if self.cell_kind == "lstm" else 0.0,
                          name=name)
        if self.dropout > 0:
            layer = rnn_cell.DropoutWrapper(layer, input_keep_prob=1.0 - self.dropout, seed=self._seed + 7 * index + 1)
        return layer

    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        self.call({"ids": tf.ones([1, 2], tf.int32), "length": tf.constant([2], tf.int32)}, training=False)
        self.built = True

    def set_embeddings(self, matrix):
        """Copy a ``[vocab_size, embedding_dim]`` matrix (pretrained vectors) into the embedding."""
        matrix = np.asarray(matrix, np.float32)
        if matrix.shape != (self.vocab_size, self.embedding_dim):
            raise ValueError(f"SentenceClassifier.set_embeddings: matrix must be "
                             f"[{self.vocab_size}, {self.embedding_dim}], got {list(matrix.shape)}")
        self.embedding.embeddings.assign(matrix)

    # -- forward --------------------------------------------------------------------------------
    def _encoder(self, x, length, training):
        """``(outputs [batch, T, F], last [batch, F])``; outputs are zero past ``length``."""
        if not self.bidirectional:
            outputs, state = nn.dynamic_rnn(self.encoder_cell, x, sequence_length=length, training=training)
            return outputs, _h(state[-1])
        layer_input = x
        for k, (cell_fw, cell_bw) in enumerate(zip(self.cells_fw, self.cells_bw)):
            (out_fw, out_bw), (state_fw, state_bw) = nn.bidirectional_dynamic_rnn(
                cell_fw, cell_bw, layer_input, sequence_length=length, training=training, scope=f"layer_{k}")
            outputs = tf.concat([out_fw, out_bw], axis=-1)  # [batch, T, 2H]
            if self.residual and k >= 1:
                outputs = outputs + layer_input
            layer_input = outputs
        return layer_input, tf.concat([_h(state_fw), _h(state_bw)], axis=-1)

    def encode(self, inputs, training=False):
        """``(features [batch, F], attention weights [batch, T] or None)`` before the output layer."""
        ids = tf.convert_to_tensor(inputs["ids"], tf.int32)
        length = tf.convert_to_tensor(inputs["length"], tf.int32)
        table = tf.cast(tf.convert_to_tensor(self.embedding.embeddings), self.compute_dtype)  # mixed: bfloat16
        x = embedding_lookup(table, ids)  # [batch, T, E]
        outputs, last = self._encoder(x, length, training)
        if self.pooling == "last":
            return last, None
        scores = None
        if self.pooling == "attention":
            scores = tf.squeeze(self.attention_score(self.attention_hidden(outputs)), -1)  # [batch, T]
        return nn.masked_pool(outputs, length, self.pooling, scores)

    def call(self, inputs, training=False):
        features, _ = self.encode(inputs, training)
        logits = self.output_layer(self.feature_dropout(features, training=training))  # [batch, classes]
        return tf.cast(logits, tf.float32)  # float32 for the loss under mixed precision

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size, "num_classes": self.num_classes, "embedding_dim": self.embedding_dim,
            "num_units": self.num_units, "num_layers": self.num_layers, "cell": self.cell_kind,
            "bidirectional": self.bidirectional, "residual": self.residual, "dropout": self.dropout,
            "pooling": self.pooling, "attention_units": self.attention_units,
            "train_embeddings": self.train_embeddings, "seed": self.seed,
        }


def classifier_from_config(config, vocab_size: int, num_classes: int = 2,
                           seed: int | None = None) -> "SentenceClassifier":
    """A built :class:`SentenceClassifier` for a :class:`~tfseq.demos.classify.presets.ClassifyConfig`."""
    model = SentenceClassifier(
        vocab_size, num_classes, embedding_dim=config.embedding_dim, num_units=config.num_units,
        num_layers=config.num_layers, cell=config.cell, bidirectional=config.bidirectional,
        residual=config.residual, dropout=config.dropout, pooling=config.pooling,
        attention_units=config.attention_units, train_embeddings=not config.freeze_embeddings, seed=seed,
        dtype=config.precision,
    )
    model.build()
    return model
