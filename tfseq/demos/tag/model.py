"""A joint slot tagger and intent classifier over tfseq cells (Hakkani-Tür et al. 2016; Goo et al. 2018).

::

    e      = dropout(embedding[words])                              # [batch, T, E]
    e      = dropout([embedding[words]; char_features(chars)])      # with character features: [batch, T, E + F]
    h      = encoder(e, length)                                     # bi: [h_fw; h_bw] per layer, [batch, T, D]
                                                                    #   D = 2 * units (bi) or units (uni)
    h      = dropout(h)
    last   = [h_fw at t = length - 1; h_bw at t = 0]                 # [batch, D], the final states
             (intent_pooling="max": last = max_{t < length} h_t, element-wise)

    char_features(chars)_i = max_{k < len_i} relu(conv_k(char_embedding[chars_i]))   # [F] per word i
             (a width-``char_kernel`` convolution with F filters over the word's characters, the
             padding characters' embeddings zeroed, so a word's feature does not depend on how
             much padding follows it; 0 for a padding word)

    joint:       slot_i  = W_S h_i                                  # [batch, T, tags]
                 intent  = W_I last                                 # [batch, intents]

    slot_gated:  c^S_i   = sum_j a_ij h_j,  a_ij = softmax_j((W_q h_i) . h_j / sqrt(D))   (padding masked)
                 c^I     = sum_j b_j h_j,   b_j = softmax_j(v . tanh(W_b h_j))
                 g_i     = v_g . tanh(c^S_i + W_g c^I)              # the slot gate, a scalar per word
                 slot_i  = W_S (h_i + g_i c^S_i)
                 intent  = W_I (last + c^I)

    token_intent (with either variant): every word predicts the intent, and its prediction
    feeds its slot layer (Qin et al. 2019's token-level intent and stack-propagation):
                 p_i     = softmax(W_T h_i)                         # [batch, T, intents]
                 slot_i  = W_S [s_i; p_i]                           # s_i: the variant's slot input above
                 intent  = (1 / length) sum_{i < length} log p_i    # the words' mean log-probability
    (a product of the words' predictions, trained through the joint loss's intent term, where
    Qin et al. train each word's prediction on its own and take a majority vote).

The slot-gated variant is Goo et al. (2018)'s "full attention" model, with a bilinear slot
attention score in place of their additive one. Every layer's cell is ``make_cell(cell,
units)``; the bidirectional encoder runs :func:`tfseq.nn.bidirectional_dynamic_rnn` per layer
(each layer reads the previous layer's ``[h_fw; h_bw]``), the unidirectional one
:func:`tfseq.nn.dynamic_rnn` over a ``MultiRNNCell``. Past an utterance's length the
encoder's outputs are zeros (TF1's ``sequence_length``), and the loss ignores them.

:class:`TaggerEnsemble` holds several such models, trained side by side in one run and decoded
together (``members`` in the presets).
"""

import keras
import tensorflow as tf

from tfseq import nn, rnn_cell, text
from tfseq._checks import check_bool, check_positive_int
from tfseq.demos.frame import dtype_policy_scope
from tfseq.demos.tag.presets import ENCODERS, POOLINGS, VARIANTS
from tfseq.rnn_cell import make_cell

NO_PREDICTION = -1e9  # added to the logits of <pad>/<unk> tags and the <unk> intent: never predicted


def joint_loss(slot_logits, tags, length, intent_logits, intent, weight, intent_weight=1.0, transitions=None):
    """The joint objective and its parts; padding and filler rows do not count.

    ``slot_logits [batch, T, tags]``, ``tags`` int ``[batch, T]``, ``length`` int ``[batch]``,
    ``intent_logits [batch, intents]``, ``intent`` int ``[batch]``, ``weight`` float
    ``[batch]`` (0 for filler rows)::

        m_bt      = weight_b * [t < length_b]
        slot_sum  = sum_bt m_bt * xent(tags_bt, slot_logits_bt)        words = sum_bt m_bt
        intent_sum = sum_b weight_b * xent(intent_b, intent_logits_b)   rows  = sum_b weight_b
        objective = slot_sum / words + intent_weight * intent_sum / rows

    With ``transitions`` (``[tags, tags]``, a CRF output layer), ``slot_sum`` is instead
    ``sum_b weight_b * -log p_CRF(tags_b)`` (:func:`tfseq.text.crf_log_likelihood`),
    which equals the sum above when the transitions are 0.

    Returns:
        ``(objective, {"slot_sum", "words", "intent_sum", "rows"})``.
    """
    steps = tf.shape(tags)[1]
    weight = tf.cast(weight, slot_logits.dtype)
    mask = tf.sequence_mask(length, steps, dtype=slot_logits.dtype) * weight[:, None]  # [batch, T]
    slot_xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tags, logits=slot_logits)  # [batch, T]
    intent_xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=intent, logits=intent_logits)  # [batch]
    slot_sum = tf.reduce_sum(slot_xent * mask)
    if transitions is not None:
        log_likelihood, _ = text.crf_log_likelihood(slot_logits, tags, length, transitions)
        slot_sum = -tf.reduce_sum(log_likelihood * weight)
    parts = {"slot_sum": slot_sum, "words": tf.reduce_sum(mask),
             "intent_sum": tf.reduce_sum(intent_xent * weight), "rows": tf.reduce_sum(weight)}
    objective = (parts["slot_sum"] / tf.maximum(parts["words"], 1.0)
                 + intent_weight * parts["intent_sum"] / tf.maximum(parts["rows"], 1.0))
    return objective, parts


@keras.saving.register_keras_serializable(package="tfseq")
class SlotIntentModel(keras.Model):
    """Joint slot filling (one BIO tag per word) and intent classification (module docstring).

    Args:
        vocab_size, num_tags, num_intents: int > 0 (vocabulary sizes, specials included).
        num_units: int > 0 units per direction and layer.
        embedding_size: int > 0.
        num_layers: int > 0 encoder layers (each bidirectional with ``encoder_type="bi"``).
        cell: ``"lstm"``, ``"peephole"``, ``"gru"`` or ``"rnn"`` (:func:`tfseq.rnn_cell.make_cell`).
        encoder_type: ``"bi"`` or ``"uni"``.
        variant: ``"joint"`` or ``"slot_gated"``.
        dropout: float in [0, 1) on the embeddings and the encoder outputs while training.
        blocked_tags, blocked_intents: ids never predicted (``<pad>``, ``<unk>``).
        seed: int seed of the dropout.
        intent_pooling: ``"last"`` (the final states) or ``"max"`` (max over the words).
        num_chars: character vocabulary size (specials included); 0: no character features.
        char_embedding_size, char_filters, char_kernel: int > 0, the character CNN (with ``num_chars``).
        crf: a linear-chain CRF output layer (:mod:`tfseq.text`): a learned tag
            transition matrix ``crf_transitions [num_tags, num_tags]``, the slot loss is the
            CRF's negative log-likelihood and :meth:`predict_ids` decodes with Viterbi.
        token_intent: every word predicts the intent and feeds that prediction to its slot
            layer; the utterance's intent logits are the words' mean log-probabilities
            (module docstring). ``intent_pooling`` is then unused: the final states are not read.
        dtype: Keras' ``dtype`` (policy) of the model and every layer in it, e.g.
            ``"mixed_bfloat16"``: float32 weights, bfloat16 compute, float32 logits.

    Call arguments:
        inputs: dict with ``words`` int ``[batch, T]`` and ``length`` int ``[batch]``, and
            ``chars`` int ``[batch, T, C]`` (0-padded) with character features.
        training: enables dropout.

    Returns:
        ``(slot_logits [batch, T, num_tags], intent_logits [batch, num_intents])``.
    """

    def __init__(self, vocab_size, num_tags, num_intents, num_units, embedding_size, num_layers=1, cell="lstm",
                 encoder_type="bi", variant="joint", dropout=0.0, blocked_tags=(0, 1), blocked_intents=(0,),
                 seed=None, intent_pooling="last", num_chars=0, char_embedding_size=32, char_filters=64,
                 char_kernel=3, crf=False, token_intent=False, **kwargs):
        super().__init__(**kwargs)
        owner = "SlotIntentModel"
        self.vocab_size = check_positive_int(owner, "vocab_size", vocab_size)
        self.num_tags = check_positive_int(owner, "num_tags", num_tags)
        self.num_intents = check_positive_int(owner, "num_intents", num_intents)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.embedding_size = check_positive_int(owner, "embedding_size", embedding_size)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        if encoder_type not in ENCODERS:
            raise ValueError(f"{owner}: encoder_type must be one of {ENCODERS}, got {encoder_type!r}")
        if variant not in VARIANTS:
            raise ValueError(f"{owner}: variant must be one of {VARIANTS}, got {variant!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")
        if intent_pooling not in POOLINGS:
            raise ValueError(f"{owner}: intent_pooling must be one of {POOLINGS}, got {intent_pooling!r}")
        if isinstance(num_chars, bool) or not isinstance(num_chars, int) or num_chars < 0:
            raise ValueError(f"{owner}: num_chars must be an integer >= 0 (0: no character features), "
                             f"got {num_chars!r}")
        self.intent_pooling, self.num_chars, self.crf = intent_pooling, num_chars, check_bool(owner, "crf", crf)
        self.token_intent = check_bool(owner, "token_intent", token_intent)
        self.char_embedding_size = check_positive_int(owner, "char_embedding_size", char_embedding_size)
        self.char_filters = check_positive_int(owner, "char_filters", char_filters)
        self.char_kernel = check_positive_int(owner, "char_kernel", char_kernel)
        self.cell_kind, self.encoder_type, self.variant = cell, encoder_type, variant
        self.dropout, self.seed = float(dropout), seed
        self.blocked_tags, self.blocked_intents = tuple(blocked_tags), tuple(blocked_intents)
        seed = 0 if seed is None else int(seed)
        forget_bias = 1.0 if cell == "lstm" else 0.0
        with dtype_policy_scope(self.dtype_policy):  # every layer takes the model's precision
            self.embedding = keras.layers.Embedding(self.vocab_size, embedding_size, name="embedding")
            if num_chars:
                self.char_embedding = keras.layers.Embedding(num_chars, char_embedding_size, name="char_embedding")
                self.char_conv = keras.layers.Conv1D(char_filters, char_kernel, padding="same", activation="relu",
                                                     name="char_conv")
            if encoder_type == "bi":
                self.cells_fw, self.cells_bw = (
                    [make_cell(cell, num_units, forget_bias, name=f"{d}_cell_{i}") for i in range(num_layers)]
                    for d in ("fw", "bw"))
                depth = 2 * num_units
            else:
                self.encoder_cell = rnn_cell.MultiRNNCell(
                    [make_cell(cell, num_units, forget_bias, name=f"cell_{i}") for i in range(num_layers)])
                depth = num_units
            self.depth = depth
            self.input_dropout = nn.Dropout(self.dropout, seed=seed, name="input_dropout")
            self.output_dropout = nn.Dropout(self.dropout, seed=seed + 1, name="output_dropout")
            if variant == "slot_gated":
                self.slot_query = keras.layers.Dense(depth, use_bias=False, name="slot_query")
                self.intent_score = keras.layers.Dense(depth, activation="tanh", name="intent_score")
                self.intent_score_v = keras.layers.Dense(1, use_bias=False, name="intent_score_v")
                self.gate_intent = keras.layers.Dense(depth, name="gate_intent")
                self.gate_v = keras.layers.Dense(1, use_bias=False, name="gate_v")
            self.slot_dense = keras.layers.Dense(self.num_tags, name="slot_output")
            self.transitions = None
            if crf:
                self.transitions = self.add_weight(shape=(self.num_tags, self.num_tags), initializer="zeros",
                                                   name="crf_transitions", dtype="float32")
            if token_intent:
                self.token_intent_dense = keras.layers.Dense(self.num_intents, name="token_intent_output")
            else:
                self.intent_dense = keras.layers.Dense(self.num_intents, name="intent_output")

    def build(self, input_shape=None):
        if self.built:
            return
        inputs = {"words": tf.ones([1, 2], tf.int32), "length": tf.constant([2], tf.int32)}
        if self.num_chars:
            inputs["chars"] = tf.ones([1, 2, 1], tf.int32)
        self._forward(inputs, training=False)
        self.built = True

    # -- encoder --------------------------------------------------------------------------------
    def char_features(self, chars):
        """``[batch, T, char_filters]``: each word's max-pooled character CNN (module docstring)."""
        batch, steps, width = tf.shape(chars)[0], tf.shape(chars)[1], tf.shape(chars)[2]
        real = tf.cast(chars > 0, self.compute_dtype)[..., None]  # [batch, T, C, 1]
        c = self.char_embedding(chars) * real  # [batch, T, C, Ec], padding characters zeroed
        c = tf.reshape(c, [batch * steps, width, self.char_embedding_size])  # [batch * T, C, Ec]
        c = self.char_conv(c) * tf.reshape(real, [batch * steps, width, 1])  # [batch * T, C, F], >= 0
        return tf.reshape(tf.reduce_max(c, axis=1), [batch, steps, self.char_filters])  # [batch, T, F]

    def encode(self, words, length, training=False, chars=None):
        """``(h [batch, T, D], last [batch, D])``: per-word states and the final states (or
        their max over the words, with ``intent_pooling="max"``)."""
        x = self.embedding(words)  # [batch, T, E]
        if self.num_chars:
            if chars is None:
                raise ValueError("SlotIntentModel: this model reads character features; its inputs need 'chars'")
            x = tf.concat([x, self.char_features(chars)], axis=-1)  # [batch, T, E + F]
        x = self.input_dropout(x, training=training)
        if self.encoder_type == "uni":
            h, _ = nn.dynamic_rnn(self.encoder_cell, x, sequence_length=length, training=training)
            last = tf.gather(h, tf.maximum(length - 1, 0), axis=1, batch_dims=1)  # [batch, D]
        else:
            h = x
            for cell_fw, cell_bw in zip(self.cells_fw, self.cells_bw):
                (out_fw, out_bw), _ = nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, h, sequence_length=length,
                                                                   training=training)
                h = tf.concat([out_fw, out_bw], axis=-1)  # [batch, T, 2 * units]
            last = tf.concat([tf.gather(out_fw, tf.maximum(length - 1, 0), axis=1, batch_dims=1),
                              out_bw[:, 0]], axis=-1)  # [batch, D]
        if self.intent_pooling == "max":
            valid = tf.sequence_mask(length, tf.shape(h)[1])[..., None]  # [batch, T, 1]
            last = tf.reduce_max(tf.where(valid, h, NO_PREDICTION), axis=1)  # [batch, D]
        return self.output_dropout(h, training=training), self.output_dropout(last, training=training)

    # -- heads ----------------------------------------------------------------------------------
    def _forward(self, inputs, training):
        words = tf.convert_to_tensor(inputs["words"])
        length = tf.convert_to_tensor(inputs["length"])
        h, last = self.encode(words, length, training, inputs.get("chars"))
        if self.variant == "joint":
            return self._heads(h, h, last, length)
        valid = tf.sequence_mask(length, tf.shape(words)[1])  # [batch, T]
        scores = tf.matmul(self.slot_query(h), h, transpose_b=True)  # [batch, T, T]
        scores /= tf.cast(tf.sqrt(float(self.depth)), scores.dtype)
        scores = tf.where(valid[:, None, :], scores, tf.constant(NO_PREDICTION, scores.dtype))
        slot_context = tf.matmul(tf.nn.softmax(scores, axis=-1), h)  # [batch, T, D]
        intent_scores = tf.squeeze(self.intent_score_v(self.intent_score(h)), -1)  # [batch, T]
        intent_scores = tf.where(valid, intent_scores, tf.constant(NO_PREDICTION, intent_scores.dtype))
        intent_context = tf.einsum("bt,btd->bd", tf.nn.softmax(intent_scores, axis=-1), h)  # [batch, D]
        gate = self.gate_v(tf.tanh(slot_context + self.gate_intent(intent_context)[:, None, :]))  # [batch, T, 1]
        return self._heads(h, h + gate * slot_context, last + intent_context, length)

    def _heads(self, h, slot_input, intent_input, length):
        """``(slot_logits, intent_logits)`` in float32 from the variant's slot input ``[batch, T, D]``
        and intent input ``[batch, D]``, or with ``token_intent`` from each word's state ``h``."""
        if not self.token_intent:
            return _float32(self.slot_dense(slot_input), self.intent_dense(intent_input))
        word_log_probs = tf.nn.log_softmax(tf.cast(self.token_intent_dense(h), tf.float32))  # [batch, T, intents]
        intent_logits, _ = nn.masked_pool(word_log_probs, length, "mean")  # [batch, intents]
        word_probs = tf.cast(tf.exp(word_log_probs), slot_input.dtype)
        return _float32(self.slot_dense(tf.concat([slot_input, word_probs], axis=-1)), intent_logits)

    def call(self, inputs, training=False):
        return self._forward(inputs, training)

    def members(self):
        """The models whose losses are trained: this one (an ensemble lists its members). A
        method, not a property: Keras' saving walks properties, and this one holds the model."""
        return (self,)

    def decode(self, outputs, length):
        """``(tag ids [batch, T], intent ids [batch])`` from ``outputs``, the list of the members'
        ``(slot_logits, intent_logits)`` (here one: this model's), never a blocked id."""
        (slot_logits, intent_logits), = outputs
        transitions = None if self.transitions is None else tf.convert_to_tensor(self.transitions)
        return decode_ids(slot_logits, intent_logits, length, transitions, self.blocked_tags, self.blocked_intents)

    def predict_ids(self, words, length, chars=None):
        """``(tag ids [batch, T], intent ids [batch])``, never a blocked id."""
        return self.decode([self._forward(model_inputs(words, length, chars), training=False)], length)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size, "num_tags": self.num_tags, "num_intents": self.num_intents,
            "num_units": self.num_units, "embedding_size": self.embedding_size, "num_layers": self.num_layers,
            "cell": self.cell_kind, "encoder_type": self.encoder_type, "variant": self.variant,
            "dropout": self.dropout, "blocked_tags": list(self.blocked_tags),
            "blocked_intents": list(self.blocked_intents), "seed": self.seed,
            "intent_pooling": self.intent_pooling, "num_chars": self.num_chars,
            "char_embedding_size": self.char_embedding_size, "char_filters": self.char_filters,
            "char_kernel": self.char_kernel, "crf": self.crf, "token_intent": self.token_intent,
        }


MEMBER_SEED_STRIDE = 1000  # member m's dropout seed is seed + m * MEMBER_SEED_STRIDE


@keras.saving.register_keras_serializable(package="tfseq")
class TaggerEnsemble(keras.Model):
    """``size`` slot taggers of one configuration, trained side by side in one run and decoded together.

    ``TaggerEnsemble(k, member_kwargs)`` holds ``k`` :class:`SlotIntentModel`
    of one configuration. Each member has its own initial weights and its own dropout seed; all
    of them read the same batches (the same order and word dropout). Training minimises the sum
    of the members' joint losses, so each member's gradient is that of its own loss, and without
    gradient clipping each member trains as it would alone (a test checks it bit for bit); the
    logged loss is the members' mean. Gradient clipping (the Trainer's ``max_grad_norm``) clips
    the global norm of all members' gradients together: with ``k`` members of similar gradient
    norms, clipping starts at about ``1 / sqrt(k)`` of the norm it would start at for one.

    Prediction combines the members before decoding::

        u_t     = (1 / k) sum_m slot_logits^m_t                     # the tags' scores of word t
        A       = (1 / k) sum_m A^m                                  # with a CRF: the transitions
        tags    = viterbi(u, A)  (argmax_y u_t(y) per word without a CRF)
        intent  = argmax (1 / k) sum_m log softmax(intent_logits^m)

    With a CRF, ``viterbi(u, A)`` is the tag sequence with the highest mean of the members' sequence
    scores, the mode of the (normalised) geometric mean of their distributions; without one, each
    word takes the tag of the highest mean logit. The intent is the mode of the members' geometric
    mean. The members share one training step, so two of them cost less than two runs (on ATIS
    8.9 CPU minutes against 2 x 4.8; the tag demo's docs have the scores).

    Args:
        size: int > 1, the number of members.
        member_kwargs: the :class:`SlotIntentModel` arguments every
            member shares (all but ``seed``, ``dtype`` and ``name``).
        seed: int seed; member ``m`` drops out with ``seed + m * MEMBER_SEED_STRIDE``.
        dtype: Keras' ``dtype`` (policy) of every member.

    Call arguments and result: as :class:`SlotIntentModel`'s, with the
    members' mean slot logits and mean intent log-probabilities (the scores :meth:`predict_ids`
    decodes, without the CRF's transitions).
    """

    def __init__(self, size: int, member_kwargs: dict, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = check_positive_int("TaggerEnsemble", "size", size)
        if self.size < 2:
            raise ValueError(f"TaggerEnsemble: size must be at least 2 (one tagger needs no ensemble), got {size!r}")
        for key in ("seed", "dtype", "name"):
            if key in member_kwargs:
                raise ValueError(f"TaggerEnsemble: member_kwargs must not set {key!r} (the ensemble sets it)")
        self.member_kwargs, self.seed = dict(member_kwargs), seed
        base = 0 if seed is None else int(seed)
        self.taggers = [SlotIntentModel(**self.member_kwargs, seed=base + m * MEMBER_SEED_STRIDE,
                                        dtype=self.dtype_policy, name=f"member_{m}") for m in range(self.size)]

    def members(self) -> tuple:
        """The member taggers, whose losses are trained."""
        return tuple(self.taggers)

    @property
    def transitions(self):
        """The members' mean CRF transitions ``[num_tags, num_tags]``, or ``None`` without a CRF."""
        if not self.taggers[0].crf:
            return None
        return tf.add_n([tf.convert_to_tensor(t.transitions) for t in self.taggers]) / self.size

    def build(self, input_shape=None):
        if self.built:
            return
        for tagger in self.taggers:
            tagger.build()
        self.built = True

    def call(self, inputs, training=False):
        return self._mean([tagger(inputs, training=training) for tagger in self.taggers])

    def _mean(self, outputs):
        """The members' mean slot logits and mean intent log-probabilities, from their outputs."""
        slot_logits = tf.add_n([slot for slot, _ in outputs]) / self.size
        intent = tf.add_n([tf.nn.log_softmax(intent) for _, intent in outputs]) / self.size
        return slot_logits, intent

    def decode(self, outputs, length):
        """``(tag ids [batch, T], intent ids [batch])`` of the combined members (class docstring)
        from ``outputs``, the list of the members' ``(slot_logits, intent_logits)``."""
        slot_logits, intent = self._mean(outputs)
        first = self.taggers[0]
        return decode_ids(slot_logits, intent, length, self.transitions, first.blocked_tags, first.blocked_intents)

    def predict_ids(self, words, length, chars=None):
        """``(tag ids [batch, T], intent ids [batch])`` of the combined members (class docstring)."""
        inputs = model_inputs(words, length, chars)
        return self.decode([tagger(inputs, training=False) for tagger in self.taggers], length)

    def get_config(self):
        member_kwargs = {k: list(v) if isinstance(v, tuple) else v for k, v in self.member_kwargs.items()}
        return {**super().get_config(), "size": self.size, "member_kwargs": member_kwargs, "seed": self.seed}


def model_inputs(words, length, chars=None):
    """The model's input dict of ``words``, ``length`` and (with character features) ``chars``."""
    inputs = {"words": words, "length": length}
    if chars is not None:
        inputs["chars"] = chars
    return inputs


def decode_ids(slot_logits, intent_logits, length, transitions, blocked_tags, blocked_intents):
    """``(tag ids [batch, T], intent ids [batch])`` from the heads' scores: the intent's argmax,
    and the tags' argmax per word, or their Viterbi path with CRF ``transitions``; never a
    blocked id."""
    slot_logits += _blocked(slot_logits.shape[-1], blocked_tags)
    intent_logits += _blocked(intent_logits.shape[-1], blocked_intents)
    intent_ids = tf.argmax(intent_logits, -1, output_type=tf.int32)
    if transitions is not None:
        return text.crf_decode(slot_logits, transitions, length)[0], intent_ids
    return tf.argmax(slot_logits, -1, output_type=tf.int32), intent_ids


def _float32(*logits):
    """The heads' logits as float32 (a no-op unless mixed precision computed them in bfloat16)."""
    return tuple(tf.cast(x, tf.float32) for x in logits)


def _blocked(size, ids):
    """``[size]`` zeros with :data:`NO_PREDICTION` at ``ids``."""
    penalty = [NO_PREDICTION if i in ids else 0.0 for i in range(size)]
    return tf.constant(penalty, tf.float32)


def tag_model_from_config(config, vocabularies, seed=None):
    """A built :class:`SlotIntentModel` for a :class:`~tfseq.demos.tag.presets.TagConfig` and
    :class:`~tfseq.data.slots.SlotVocabularies`, or with ``config.members > 1`` a built
    :class:`TaggerEnsemble` of that many."""
    chars = {}
    if config.uses_chars:
        if vocabularies.chars is None:
            raise ValueError("char_embedding_size > 0 needs a vocabulary with characters; this one has none "
                             "(saved without them)")
        chars = {"num_chars": vocabularies.chars.size, "char_embedding_size": config.char_embedding_size,
                 "char_filters": config.char_filters, "char_kernel": config.char_kernel}
    kwargs = dict(
        vocab_size=vocabularies.words.size, num_tags=vocabularies.tags.size, num_intents=vocabularies.intents.size,
        num_units=config.num_units, embedding_size=config.embedding_size, num_layers=config.num_layers,
        cell=config.cell, encoder_type=config.encoder_type, variant=config.variant, dropout=config.dropout,
        blocked_tags=(0, vocabularies.tags.unk_id), blocked_intents=(vocabularies.intents.unk_id,),
        intent_pooling=config.intent_pooling, crf=config.crf, token_intent=config.token_intent, **chars,
    )
    if config.members > 1:
        model = TaggerEnsemble(config.members, kwargs, seed=seed, dtype=config.precision)
    else:
        model = SlotIntentModel(**kwargs, seed=seed, dtype=config.precision)
    model.build()
    return model
