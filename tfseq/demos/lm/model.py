"""An RNN language model: embedding -> stacked tfseq cells with dropout -> softmax.

Zaremba et al. (2014) / the TF PTB tutorial's ``PTBModel`` as a Keras 3 model::

    x      = embedding[ids]                       # [batch, time, hidden]
    x      = dropout(x, keep_prob)                # training only
    h, s'  = dynamic_rnn(MultiRNNCell([DropoutWrapper(cell_l, output_keep_prob)]), x, s)
    logits = h @ softmax_w + softmax_b            # [batch, time, vocab]

The recurrent state is explicit: ``model(ids, initial_state=state)`` returns
``(logits, final_state)``, so a training loop can carry the state from one batch to the
next (truncated BPTT) and reset it each epoch. Weights are initialised as in the
tutorial: uniform in ``[-init_scale, init_scale]``, except biases, which keep their cell's
TF1 initialiser (zeros; GRU gates 1.0).
"""

import keras
import tensorflow as tf

from tfseq import nn, rnn_cell
from tfseq._checks import check_positive_int
from tfseq.demos.frame import dtype_policy_scope
from tfseq.rnn_cell import CELLS, make_cell


@keras.saving.register_keras_serializable(package="tfseq")
class LanguageModel(keras.Model):
    """Word- or char-level RNN language model with explicit recurrent state.

    Args:
        vocab_size: int > 0, number of token ids.
        hidden_size: int > 0, embedding size and every layer's ``num_units``.
        num_layers: int > 0, cells stacked in a ``MultiRNNCell``.
        cell: ``"lstm"``, ``"peephole"``, ``"gru"`` or ``"rnn"``.
        keep_prob: float in (0, 1]; below 1, dropout on the embeddings and on every layer's
            output (Zaremba et al.); never on the recurrent connection unless
            ``variational_dropout``.
        tie_embeddings: use the embedding matrix (transposed) as the softmax weights.
        variational_dropout: one dropout mask per sequence for inputs, outputs and the
            recurrent state (Gal & Ghahramani 2016) instead of a fresh mask per step.
        forget_bias: added to the LSTM forget gate (the tutorial uses 0.0).
        init_scale: float > 0, weights uniform in ``[-init_scale, init_scale]``; ``None``
            keeps Keras/TF1 default initialisers.
        seed: int seed of the initialiser and of the dropout masks.
        dtype: Keras' ``dtype`` (policy) of the model and every layer in it, e.g.
            ``"mixed_bfloat16"``: float32 weights, bfloat16 compute, float32 logits.

    Call arguments:
        inputs: int ``[batch, time]`` token ids.
        initial_state: the state structure of :attr:`cell` (see :meth:`get_initial_state`);
            zeros if omitted.
        training: enables dropout.

    Returns:
        ``(logits, final_state)``: logits ``[batch, time, vocab_size]`` float32 and the state
        after the last step (float32), structured like the initial state.

    Example:
        >>> model = LanguageModel(vocab_size=50, hidden_size=16, num_layers=2)
        >>> state = model.get_initial_state(4)
        >>> logits, state = model(tf.zeros([4, 7], tf.int32), initial_state=state)
        >>> logits.shape
        TensorShape([4, 7, 50])
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        num_layers=1,
        cell="lstm",
        keep_prob=1.0,
        tie_embeddings=False,
        variational_dropout=False,
        forget_bias=0.0,
        init_scale=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        vocab_size = check_positive_int("LanguageModel", "vocab_size", vocab_size)
        hidden_size = check_positive_int("LanguageModel", "hidden_size", hidden_size)
        num_layers = check_positive_int("LanguageModel", "num_layers", num_layers)
        if cell not in CELLS:
            raise ValueError(f"LanguageModel: cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if isinstance(keep_prob, bool) or not isinstance(keep_prob, (int, float)) or not 0 < keep_prob <= 1:
            raise ValueError(f"LanguageModel: keep_prob must be in (0, 1], got {keep_prob!r}")
        if init_scale is not None and not init_scale > 0:
            raise ValueError(f"LanguageModel: init_scale must be > 0 or None, got {init_scale!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell_kind = cell
        self.keep_prob = float(keep_prob)
        self.tie_embeddings = bool(tie_embeddings)
        self.variational_dropout = bool(variational_dropout)
        self.forget_bias = float(forget_bias)
        self.init_scale = None if init_scale is None else float(init_scale)
        self.seed = seed
        seed = 0 if seed is None else int(seed)

        with dtype_policy_scope(self.dtype_policy):  # every layer takes the model's precision
            self.embedding = keras.layers.Embedding(vocab_size, hidden_size, name="embedding")
            self.input_dropout = None
            if self.keep_prob < 1.0:
                noise_shape = (None, 1, hidden_size) if self.variational_dropout else None
                self.input_dropout = nn.Dropout(
                    1.0 - self.keep_prob, noise_shape=noise_shape, seed=seed, name="input_dropout"
                )
            layers = []
            for i in range(num_layers):
                layer = make_cell(cell, hidden_size, forget_bias, name=f"cell_{i}")
                if self.keep_prob < 1.0:
                    extra = {}
                    if self.variational_dropout:
                        extra = dict(state_keep_prob=self.keep_prob, variational_recurrent=True,
                                     input_size=hidden_size, dtype=self.dtype_policy)
                    layer = rnn_cell.DropoutWrapper(
                        layer, output_keep_prob=self.keep_prob, seed=seed + 1 + i, **extra
                    )
                layers.append(layer)
            self.cell = rnn_cell.MultiRNNCell(layers)

    # -- weights ------------------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:
            return
        self.embedding.build((None, None))
        self.cell.build((None, self.hidden_size))
        if not self.tie_embeddings:
            self.softmax_w = self.add_weight(
                name="softmax_w", shape=(self.hidden_size, self.vocab_size), initializer="glorot_uniform"
            )
        self.softmax_b = self.add_weight(name="softmax_b", shape=(self.vocab_size,), initializer="zeros")
        if self.init_scale is not None:
            self._uniform_init()
        self.built = True

    def _uniform_init(self):
        """The tutorial's ``tf.random_uniform_initializer(-init_scale, init_scale)`` for every
        weight that has no explicit initialiser in TF1 (all but the cells' biases)."""
        generator = keras.random.SeedGenerator(0 if self.seed is None else int(self.seed))
        weights = list(self.embedding.weights) + list(self.cell.weights) + [self.softmax_b]
        if not self.tie_embeddings:
            weights.append(self.softmax_w)
        for weight in weights:
            if weight is not self.softmax_b and "bias" in weight.name:
                continue
            weight.assign(keras.random.uniform(
                weight.shape, -self.init_scale, self.init_scale, dtype=weight.dtype, seed=generator
            ))

    def output_weights(self):
        """``(softmax_w [hidden, vocab], softmax_b [vocab])``; with tied embeddings the weight
        is the transposed embedding matrix."""
        w = tf.transpose(self.embedding.embeddings) if self.tie_embeddings else self.softmax_w
        return w, self.softmax_b

    # -- state --------------------------------------------------------------------------
    @property
    def state_size(self):
        return self.cell.state_size

    def get_initial_state(self, batch_size):
        """Zeros structured like :attr:`state_size` (a tuple with one entry per layer)."""
        return self.cell.get_initial_state(batch_size=batch_size, dtype=tf.float32)

    # -- forward ------------------------------------------------------------------------
    def call(self, inputs, initial_state=None, training=False):
        ids = tf.convert_to_tensor(inputs)
        if not ids.dtype.is_integer:
            raise TypeError(f"LanguageModel: inputs must be integer token ids, got dtype {ids.dtype.name}")
        if self.variational_dropout and self.keep_prob < 1.0 and training:
            # The state is passed in (truncated BPTT), so new per-sequence masks are drawn here.
            self.cell.resample_dropout_masks()
        x = self.embedding(ids)  # [batch, time, hidden]
        if self.input_dropout is not None:
            x = self.input_dropout(x, training=training)
        outputs, state = nn.dynamic_rnn(self.cell, x, initial_state=initial_state, training=training)
        w, b = self.output_weights()
        compute = self.compute_dtype  # mixed precision: the projection in bfloat16, float32 weights cast
        batch, time = tf.shape(outputs)[0], tf.shape(outputs)[1]
        flat = tf.cast(tf.reshape(outputs, [-1, self.hidden_size]), compute)  # [batch * time, hidden]
        logits = tf.matmul(flat, tf.cast(w, compute)) + tf.cast(b, compute)  # [batch * time, vocab]
        logits = tf.reshape(tf.cast(logits, tf.float32), [batch, time, self.vocab_size])  # float32 for the loss
        # the carried state stays float32 (get_initial_state's) under mixed precision too
        return logits, tf.nest.map_structure(lambda s: tf.cast(s, tf.float32), state)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell_kind,
            "keep_prob": self.keep_prob,
            "tie_embeddings": self.tie_embeddings,
            "variational_dropout": self.variational_dropout,
            "forget_bias": self.forget_bias,
            "init_scale": self.init_scale,
            "seed": self.seed,
        }


def language_model_from_config(config, seed=None):
    """A built :class:`LanguageModel` for an :class:`~tfseq.demos.lm.presets.LMConfig`.

    Set the corpus vocabulary's size first: ``config.with_overrides(vocab_size=vocab.size)``.
    """
    model = LanguageModel(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        cell=config.cell,
        keep_prob=config.keep_prob,
        tie_embeddings=config.tie_embeddings,
        variational_dropout=config.variational_dropout,
        forget_bias=config.forget_bias,
        init_scale=config.init_scale,
        seed=seed,
        dtype=config.precision,
    )
    model.build()
    return model


def sequence_xent(logits, targets):
    """Per-token cross-entropy in nats: ``[batch, time]`` from ``[batch, time, vocab]`` logits."""
    return nn.sparse_cross_entropy(targets, logits)


def tutorial_cost(logits, targets):
    """The PTB tutorial's training objective: the sum over time of the batch-mean cross-entropy.

    ``sequence_loss(average_across_timesteps=False, average_across_batch=True)`` then
    ``reduce_sum``; equals ``num_steps * mean_xent``, which is why SGD with learning rate 1.0
    is right for it (a per-token mean would need ``num_steps`` times the learning rate).
    """
    return tutorial_cost_from_xent(sequence_xent(logits, targets))


def tutorial_cost_from_xent(xent):
    """:func:`tutorial_cost` of per-token cross-entropies ``[batch, time]`` already computed
    (a training step that also sums them for its metrics computes the softmax once)."""
    return tf.reduce_sum(tf.reduce_mean(xent, axis=0))
