"""An attentive RNN translation model: tensorflow/nmt's architecture as a Keras 3 model.

::

    e_src   = src_embedding[source]                                  # [batch, S, units]
    h, s    = encoder(e_src, source_length)                          # uni: MultiRNNCell; bi: fw/bw halves,
                                                                     #   h = [h_fw, h_bw], s = (fw_0, bw_0, ...)
    mech    = attention(units, memory=h, memory_sequence_length)     # Luong / Bahdanau (+ scale / normalize)
    cell    = AttentionWrapper(MultiRNNCell(decoder layers), mech, attention_layer=W_a)
    s0      = cell.zero_state.clone(cell_state=s)                    # pass_hidden_state
    o_t     = cell(tgt_embedding[y_{t-1}], s_{t-1})                  # teacher forcing: nn.dynamic_rnn (its
                                                                     #   seq2seq.fused_attention loop where it plans so)
    logits  = o_t @ W_out                                            # [batch, T, tgt_vocab]

Every layer's cell is ``make_cell(cell, units)`` wrapped in ``DropoutWrapper(input_keep_prob
= 1 - dropout)`` and, with ``residual``, ``ResidualWrapper`` from the second layer on
(nmt's ``num_residual_layers = num_layers - 1``). Inference (:meth:`TranslationModel.translate`)
decodes with ``BasicDecoder`` + ``GreedyEmbeddingSampler`` or ``BeamSearchDecoder``
(GNMT length penalty) in one in-graph loop, up to ``ceil(max_length_ratio * S)`` tokens.
"""

import keras
import tensorflow as tf

from tfseq import nn, rnn_cell, seq2seq
from tfseq._checks import check_positive_int
from tfseq.data.subwords import BOS_ID, EOS_ID
from tfseq.demos.frame import dtype_policy_scope
from tfseq.demos.translate.presets import ATTENTIONS, ENCODERS
from tfseq.rnn_cell import make_cell


def masked_xent(logits, targets, weights):
    """``(sum of weighted token cross-entropies, sum of weights)``; padding has weight 0.

    ``logits [batch, T, V]``, ``targets`` int ``[batch, T]``, ``weights`` float ``[batch, T]``.
    """
    xent = nn.sparse_cross_entropy(targets, logits)  # [batch, T], float32 (mixed precision too)
    weights = tf.cast(weights, xent.dtype)
    return tf.reduce_sum(xent * weights), tf.reduce_sum(weights)


@keras.saving.register_keras_serializable(package="tfseq")
class TranslationModel(keras.Model):
    """Encoder-decoder with attention (Luong et al. 2015; Bahdanau et al. 2015), as tensorflow/nmt.

    Args:
        src_vocab_size, tgt_vocab_size: int > 0.
        num_units: int > 0; embeddings, every cell and the attention depth.
        num_layers: int > 0 decoder layers; the encoder has as many (``bi``: half per direction,
            so it must be even).
        cell: ``"lstm"``, ``"peephole"``, ``"gru"`` or ``"rnn"`` (:func:`~tfseq.demos.lm.model.make_cell`).
        encoder_type: ``"uni"`` or ``"bi"``.
        residual: residual connections from the second layer on.
        dropout: float in [0, 1), dropout on every cell's input while training.
        attention: ``"luong"``, ``"scaled_luong"``, ``"bahdanau"`` or ``"normed_bahdanau"``.
        output_attention: the wrapper outputs the attention vector (Luong) or the cell output.
        attention_layer: use an attention layer ``[cell_output, context] @ W_a`` (num_units);
            else the context is the attention.
        pass_hidden_state: start the decoder from the encoder's final state (else zeros).
        init_weight: weights (not biases) uniform in ``[-init_weight, init_weight]`` (nmt);
            ``None`` keeps Keras' initialisers.
        start_id, end_id: the target's start and end token ids.
        seed: int seed of the initialiser and dropout.
        dtype: Keras' ``dtype`` (policy) of the model and every layer in it, e.g.
            ``"mixed_bfloat16"``: float32 weights, bfloat16 compute, float32 logits.

    Call arguments:
        inputs: dict with ``source`` int ``[batch, S]``, ``source_length`` int ``[batch]``,
            ``target_in`` int ``[batch, T]`` (``<s> y_1 ... y_n``, padded).
        training: enables dropout.

    Returns:
        logits ``[batch, T, tgt_vocab_size]``.
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, num_units, num_layers=2, cell="lstm", encoder_type="bi",
                 residual=False, dropout=0.0, attention="scaled_luong", output_attention=True, attention_layer=True,
                 pass_hidden_state=True, init_weight=0.1, start_id=BOS_ID, end_id=EOS_ID, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = "TranslationModel"
        self.src_vocab_size = check_positive_int(owner, "src_vocab_size", src_vocab_size)
        self.tgt_vocab_size = check_positive_int(owner, "tgt_vocab_size", tgt_vocab_size)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        if encoder_type not in ENCODERS:
            raise ValueError(f"{owner}: encoder_type must be one of {ENCODERS}, got {encoder_type!r}")
        if encoder_type == "bi" and num_layers % 2:
            raise ValueError(f"{owner}: num_layers must be even with encoder_type='bi', got {num_layers}")
        if attention not in ATTENTIONS:
            raise ValueError(f"{owner}: attention must be one of {ATTENTIONS}, got {attention!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout!r}")
        if init_weight is not None and not init_weight > 0:
            raise ValueError(f"{owner}: init_weight must be > 0 or None, got {init_weight!r}")
        for name, value in (("start_id", start_id), ("end_id", end_id)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < self.tgt_vocab_size:
                raise ValueError(f"{owner}: {name} must be an id in [0, {self.tgt_vocab_size}), got {value!r}")
        self.cell_kind, self.encoder_type, self.attention = cell, encoder_type, attention
        self.residual, self.dropout = bool(residual), float(dropout)
        self.output_attention, self.attention_layer = bool(output_attention), bool(attention_layer)
        self.pass_hidden_state = bool(pass_hidden_state)
        self.init_weight = None if init_weight is None else float(init_weight)
        self.start_id, self.end_id, self.seed = start_id, end_id, seed
        self._seed = 0 if seed is None else int(seed)

        with dtype_policy_scope(self.dtype_policy):  # every layer takes the model's precision
            self.src_embedding = keras.layers.Embedding(self.src_vocab_size, num_units, name="src_embedding")
            self.tgt_embedding = keras.layers.Embedding(self.tgt_vocab_size, num_units, name="tgt_embedding")
            if encoder_type == "uni":
                self.encoder_cell = self._stack(num_layers, "encoder")
            else:
                self.encoder_fw = self._stack(num_layers // 2, "encoder_fw")
                self.encoder_bw = self._stack(num_layers // 2, "encoder_bw")
            self.decoder_cell = self._stack(num_layers, "decoder")
            if attention in ("luong", "scaled_luong"):
                self.mechanism = seq2seq.LuongAttention(num_units, scale=attention == "scaled_luong", name="attention")
            else:
                self.mechanism = seq2seq.BahdanauAttention(num_units, normalize=attention == "normed_bahdanau",
                                                           name="attention")
            self.attention_dense = (keras.layers.Dense(num_units, use_bias=False, name="attention_layer")
                                    if self.attention_layer else None)
            # Two wrappers share the cell, mechanism and attention layer: the second keeps the
            # alignment history (for plots) and is only used by greedy translation.
            self.attention_cell = self._wrap(False)
            self._history_cell = self._wrap(True)
            self.projection = keras.layers.Dense(self.tgt_vocab_size, use_bias=False, name="output_projection")

    def _stack(self, count, prefix):
        layers = []
        for i in range(count):
            layer = make_cell(self.cell_kind, self.num_units, forget_bias=1.0 if self.cell_kind == "lstm" else 0.0,
                              name=f"{prefix}_cell_{i}")
            if self.dropout > 0:
                layer = rnn_cell.DropoutWrapper(layer, input_keep_prob=1.0 - self.dropout,
                                                seed=self._seed + 7 * len(prefix) + i)
            if self.residual and i >= 1:
                layer = rnn_cell.ResidualWrapper(layer)
            layers.append(layer)
        return rnn_cell.MultiRNNCell(layers)

    def _wrap(self, history):
        return seq2seq.AttentionWrapper(self.decoder_cell, self.mechanism, alignment_history=history,
                                        output_attention=self.output_attention, attention_layer=self.attention_dense,
                                        name="attention_wrapper")

    # -- weights ------------------------------------------------------------------------------
    def build(self, input_shape=None):
        if self.built:
            return
        dummy = {"source": tf.ones([1, 2], tf.int32), "source_length": tf.constant([2], tf.int32),
                 "target_in": tf.ones([1, 2], tf.int32)}
        self._forward(dummy, training=False)
        self.built = True
        if self.init_weight is not None:
            generator = keras.random.SeedGenerator(self._seed)
            for weight in self.trainable_weights:
                if "bias" in weight.name:  # cell biases keep their TF1 initialiser (nmt: zeros)
                    continue
                weight.assign(keras.random.uniform(weight.shape, -self.init_weight, self.init_weight,
                                                   dtype=weight.dtype, seed=generator))

    # -- encoder ------------------------------------------------------------------------------
    def encode(self, source, source_length, training=False):
        """``(outputs [batch, S, units], state)``: the decoder layers' initial cell states."""
        x = self.src_embedding(source)  # [batch, S, units]
        if self.encoder_type == "uni":
            return nn.dynamic_rnn(self.encoder_cell, x, sequence_length=source_length, training=training)
        (out_fw, out_bw), (state_fw, state_bw) = nn.bidirectional_dynamic_rnn(
            self.encoder_fw, self.encoder_bw, x, sequence_length=source_length, training=training)
        outputs = tf.concat([out_fw, out_bw], axis=-1)  # [batch, S, 2 * units]
        state = tuple(s for pair in zip(state_fw, state_bw) for s in pair)  # (fw_0, bw_0, fw_1, ...)
        return outputs, state

    def decoder_initial_state(self, cell, batch_size, encoder_state):
        state = cell.get_initial_state(batch_size=batch_size, dtype=self.compute_dtype)  # the encoder state's
        if self.pass_hidden_state:
            state = state.clone(cell_state=tuple(encoder_state))
        return state

    # -- teacher forcing ------------------------------------------------------------------------
    def _forward(self, inputs, training):
        source = tf.convert_to_tensor(inputs["source"])
        source_length = tf.convert_to_tensor(inputs["source_length"])
        memory, encoder_state = self.encode(source, source_length, training)
        self.mechanism.setup_memory(memory, memory_sequence_length=source_length)
        state = self.decoder_initial_state(self.attention_cell, tf.shape(source)[0], encoder_state)
        x = self.tgt_embedding(inputs["target_in"])  # [batch, T, units]
        # the hoisted loop of seq2seq.fused_attention where it covers the wrapper (the same math and
        # dropout masks as the per-step path), else per step
        outputs, _ = nn.dynamic_rnn(self.attention_cell, x, initial_state=state, training=training)
        return tf.cast(self.projection(outputs), tf.float32)  # [batch, T, tgt_vocab], float32 for the loss

    def call(self, inputs, training=False):
        return self._forward(inputs, training)

    # -- inference ----------------------------------------------------------------------------
    def translate(self, source, source_length, beam_width=1, length_penalty=0.0, max_length_ratio=2.0,
                  alignments=False):
        """Target ids by greedy (``beam_width=1``) or beam search.

        Returns:
            dict: ``ids`` int ``[batch, L]`` (the best beam; ``end_id`` and what follows are
            not to be read past ``lengths``), ``lengths`` int ``[batch]`` (tokens before the
            end token), and with ``alignments=True`` (greedy only) ``alignments``
            ``[batch, L, S]``.
        """
        beam_width = check_positive_int("TranslationModel.translate", "beam_width", beam_width)
        if not max_length_ratio > 0:
            raise ValueError(f"TranslationModel.translate: max_length_ratio must be > 0, got {max_length_ratio!r}")
        if alignments and beam_width > 1:
            raise ValueError("TranslationModel.translate: alignments are kept for greedy decoding only (beam_width=1)")
        source = tf.convert_to_tensor(source, tf.int32)
        source_length = tf.convert_to_tensor(source_length, tf.int32)
        max_steps = tf.cast(tf.math.ceil(max_length_ratio * tf.cast(tf.reduce_max(source_length), tf.float32)),
                            tf.int32)
        memory, encoder_state = self.encode(source, source_length, training=False)
        batch = tf.shape(source)[0]
        start = tf.fill([batch], self.start_id)
        result = {}
        if beam_width == 1:
            cell = self._history_cell if alignments else self.attention_cell
            self.mechanism.setup_memory(memory, memory_sequence_length=source_length)
            decoder = seq2seq.BasicDecoder(cell, seq2seq.GreedyEmbeddingSampler(self.tgt_embedding),
                                           output_layer=self.projection)
            outputs, state, lengths = seq2seq.dynamic_decode(
                decoder, maximum_iterations=max_steps, training=False, decoder_init_input=None,
                decoder_init_kwargs={"start_tokens": start, "end_token": self.end_id,
                                     "initial_state": self.decoder_initial_state(cell, batch, encoder_state)})
            ids = outputs.sample_id
            if alignments:
                result["alignments"] = tf.transpose(state.alignment_history.stack(), [1, 0, 2])  # [batch, L, S]
        else:
            self.mechanism.setup_memory(seq2seq.tile_batch(memory, beam_width),
                                        memory_sequence_length=seq2seq.tile_batch(source_length, beam_width))
            state = self.decoder_initial_state(self.attention_cell, batch * beam_width,
                                               seq2seq.tile_batch(encoder_state, beam_width))
            decoder = seq2seq.BeamSearchDecoder(self.attention_cell, beam_width, embedding_fn=self.tgt_embedding,
                                                output_layer=self.projection, length_penalty_weight=length_penalty)
            outputs, _, _ = seq2seq.dynamic_decode(
                decoder, maximum_iterations=max_steps, training=False, decoder_init_input=None,
                decoder_init_kwargs={"start_tokens": start, "end_token": self.end_id, "initial_state": state})
            ids = outputs.predicted_ids[:, :, 0]  # [batch, L], the best beam
        is_end = tf.cast(tf.equal(ids, self.end_id), tf.int32)
        result["ids"] = ids
        result["lengths"] = tf.where(tf.reduce_any(is_end > 0, axis=1), tf.argmax(is_end, axis=1, output_type=tf.int32),
                                     tf.shape(ids)[1])
        return result

    def get_config(self):
        return {
            **super().get_config(),
            "src_vocab_size": self.src_vocab_size, "tgt_vocab_size": self.tgt_vocab_size,
            "num_units": self.num_units, "num_layers": self.num_layers, "cell": self.cell_kind,
            "encoder_type": self.encoder_type, "residual": self.residual, "dropout": self.dropout,
            "attention": self.attention, "output_attention": self.output_attention,
            "attention_layer": self.attention_layer, "pass_hidden_state": self.pass_hidden_state,
            "init_weight": self.init_weight, "start_id": self.start_id, "end_id": self.end_id, "seed": self.seed,
        }


def translation_model_from_config(config, src_vocab_size, tgt_vocab_size, seed=None):
    """A built :class:`TranslationModel` for a :class:`~tfseq.demos.translate.presets.TranslationConfig`."""
    model = TranslationModel(
        src_vocab_size, tgt_vocab_size, config.num_units, num_layers=config.num_layers, cell=config.cell,
        encoder_type=config.encoder_type, residual=config.residual, dropout=config.dropout,
        attention=config.attention, output_attention=config.output_attention,
        attention_layer=config.attention_layer, pass_hidden_state=config.pass_hidden_state,
        init_weight=config.init_weight, seed=seed, dtype=config.precision,
    )
    model.build()
    return model

