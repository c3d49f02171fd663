"""Attention mechanisms: tensorflow/nmt's four variants (luong, scaled_luong, bahdanau,
normed_bahdanau) as Keras 3 layers, with TF1 contrib / TF Addons names and math.

The score math lives in small pure functions (:func:`luong_score`,
:func:`bahdanau_score`, :func:`mask_score`, :func:`hardmax`), tested against NumPy.
A mechanism holds the encoder memory (set with :meth:`AttentionMechanism.setup_memory`
or the ``memory=`` argument, as in TFA) and turns a query into alignments::

    keys       = values @ memory_layer/kernel            # [batch, max_time, units]
    score      = luong_score(...) | bahdanau_score(...)  # [batch, max_time]
    alignments = probability_fn(mask_score(score, ...))  # [batch, max_time], rows sum to 1

``values`` is the memory with the rows past ``memory_sequence_length`` zeroed; the scores
there are ``-inf`` (TF1's ``score_mask_value``), so their alignments are exactly 0.

TF1 variable names (:meth:`AttentionMechanism.tf1_variables`): ``memory_layer/kernel``
(created where the mechanism is, e.g. ``decoder/memory_layer/kernel`` in tensorflow/nmt)
and, inside the wrapper's scope, ``luong_attention/attention_g`` or
``bahdanau_attention/{query_layer/kernel, attention_v, attention_g, attention_b}``.
"""

import math

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int, serialize_optional
from tfseq.rnn_cell.base import keras_weight_name, tf1_weight_name

# -- pure functions ----------------------------------------------------------------


def luong_score(query, keys, scale=None):
    """Luong's multiplicative score (Luong et al., 2015), optionally scaled.

    ``score[b, t] = g * sum_u query[b, u] * keys[b, t, u]`` with ``g = scale`` (a scalar
    weight, TF1's ``attention_g``) or 1 when ``scale`` is None.

    Args:
        query: ``[batch, units]``.
        keys: ``[batch, max_time, units]``.
        scale: None or a scalar tensor.

    Returns:
        ``[batch, max_time]`` unnormalised scores.

    Raises:
        ValueError: query and keys depths differ.
    """
    if query.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"luong_score: query depth {query.shape[-1]} != keys depth {keys.shape[-1]}; "
            "Luong attention needs units == the query (decoder output) depth"
        )
    score = tf.matmul(query[:, None, :], keys, transpose_b=True)  # [batch, 1, max_time]
    score = score[:, 0, :]  # [batch, max_time]
    return score if scale is None else scale * score


def bahdanau_score(processed_query, keys, attention_v, attention_g=None, attention_b=None, normalize=False):
    """Bahdanau's additive score (Bahdanau et al., 2015), optionally weight-normalised.

    ``score[b, t] = sum_u v[u] * tanh(keys[b, t, u] + q[b, u])``; with ``normalize``,
    ``v`` becomes ``g * v / ||v||`` and a bias ``b`` is added inside the ``tanh``
    (Salimans & Kingma, 2016): ``sum_u g v[u] / ||v|| * tanh(keys + q + b)[b, t, u]``.

    Args:
        processed_query: ``q = query @ query_layer/kernel``, ``[batch, units]``.
        keys: ``[batch, max_time, units]``.
        attention_v: ``[units]``.
        attention_g: scalar, needed when ``normalize``.
        attention_b: ``[units]``, needed when ``normalize``.
        normalize: bool.

    Returns:
        ``[batch, max_time]`` unnormalised scores.
    """
    query = processed_query[:, None, :]  # [batch, 1, units]
    if not normalize:
        return tf.reduce_sum(attention_v * tf.tanh(keys + query), axis=2)
    if attention_g is None or attention_b is None:
        raise ValueError("bahdanau_score: normalize=True needs attention_g and attention_b")
    normed_v = attention_g * attention_v * tf.math.rsqrt(tf.reduce_sum(tf.square(attention_v)))  # [units]
    return tf.reduce_sum(normed_v * tf.tanh(keys + query + attention_b), axis=2)


def mask_score(score, mask):
    """``score`` where ``mask`` is True, ``-inf`` elsewhere (``mask=None``: unchanged).

    Args:
        score: ``[batch, max_time]``.
        mask: None or bool ``[batch, max_time]``, True at real memory positions.
    """
    if mask is None:
        return score
    return tf.where(mask, score, tf.fill(tf.shape(score), tf.constant(-math.inf, score.dtype)))


def hardmax(logits):
    """One-hot of the arg-max along the last axis: ``[batch, max_time]`` -> same shape."""
    depth = logits.shape[-1] if logits.shape[-1] is not None else tf.shape(logits)[-1]
    return tf.one_hot(tf.argmax(logits, axis=-1), depth, dtype=logits.dtype)


_PROBABILITY_FNS = {"softmax": tf.nn.softmax, "hardmax": hardmax}


def _probability_fn(owner, probability_fn):
    if probability_fn is None:  # TF1 contrib's default
        return tf.nn.softmax
    if isinstance(probability_fn, str):
        if probability_fn not in _PROBABILITY_FNS:
            raise ValueError(
                f"{owner}: probability_fn must be 'softmax', 'hardmax' or a callable, got {probability_fn!r}"
            )
        return _PROBABILITY_FNS[probability_fn]
    if not callable(probability_fn):
        raise ValueError(f"{owner}: probability_fn must be 'softmax', 'hardmax' or a callable, got {probability_fn!r}")
    return probability_fn


# -- mechanisms --------------------------------------------------------------------


class AttentionMechanism(keras.layers.Layer):
    """Base of the attention mechanisms: holds the memory and maps a query to alignments.

    Subclasses set ``tf1_scope_name`` and define :meth:`build_score` (the score weights,
    given the query depth) and :meth:`score` (the unnormalised ``[batch, max_time]``).

    Args:
        units: int > 0, depth of the keys (``memory @ memory_layer/kernel``).
        memory: optional ``[batch, max_time, depth]``; may be set later by :meth:`setup_memory`.
        memory_sequence_length: optional int ``[batch]``, the real length of each memory row.
        probability_fn: ``"softmax"`` (default; TF1's ``None`` means the same), ``"hardmax"`` or a
            callable ``score -> probabilities`` (register it with
            ``keras.saving.register_keras_serializable`` to save it).
        dtype, name: as for any Keras layer.

    Call arguments:
        inputs: ``[query, state]`` (TFA's form): query ``[batch, query_depth]`` (the decoder
            output), state ``[batch, max_time]`` (the previous alignments; unused by these
            mechanisms). TF1's form ``mechanism(query, state)`` works too.

    Returns:
        ``(alignments, next_state)``, both ``[batch, max_time]`` (``next_state`` is the alignments).
    """

    tf1_scope_name = None

    def __init__(self, units, memory=None, memory_sequence_length=None, probability_fn="softmax",
                 dtype=None, name=None, **kwargs):
        super().__init__(dtype=dtype, name=name, **kwargs)
        owner = type(self).__name__
        self.units = check_positive_int(owner, "units", units)
        self._probability_fn_arg = probability_fn
        self.probability_fn = _probability_fn(owner, probability_fn)
        self._tf1_weights = {}
        self._memory_depth = None
        self._query_depth = None
        self.values = self.keys = self.mask = None
        self.batch_size = None
        self._alignments_size = None
        if memory is not None:
            self.setup_memory(memory, memory_sequence_length)
        elif memory_sequence_length is not None:
            raise ValueError(f"{owner}: memory_sequence_length given without memory")

    # -- weights ---------------------------------------------------------------
    def _add_tf1_weight(self, name, shape, initializer):
        weight = self.add_weight(name=keras_weight_name(name), shape=shape, initializer=initializer)
        self._tf1_weights[tf1_weight_name(name)] = weight
        return weight

    def build_memory(self, memory_depth):
        """Create ``memory_layer/kernel`` ``[memory_depth, units]`` (once)."""
        if self._memory_depth is not None:
            if memory_depth != self._memory_depth:
                raise ValueError(
                    f"{self.name}: memory depth must stay {self._memory_depth} (the memory layer is "
                    f"built for it), got {memory_depth}"
                )
            return
        self.memory_kernel = self._add_tf1_weight("memory_layer_kernel", (memory_depth, self.units), "glorot_uniform")
        self._memory_depth = int(memory_depth)

    def build(self, input_shape):
        """Create the score weights for a query shape ``[batch, depth]`` (or ``[query, state]`` shapes)."""
        if self._memory_depth is None:
            raise ValueError(f"{self.name}: set up the memory (memory= or setup_memory) before querying")
        shape = tuple(input_shape[0]) if isinstance(input_shape[0], (list, tuple)) else tuple(input_shape)
        if len(shape) != 2 or shape[-1] is None:
            raise ValueError(f"{self.name}: query must be [batch, depth] with a known depth, got shape {shape}")
        self._query_depth = int(shape[-1])
        self.build_score(self._query_depth)
        self.built = True

    def build_score(self, query_depth):
        raise NotImplementedError

    def get_build_config(self):
        return {"memory_depth": self._memory_depth, "query_depth": self._query_depth}

    def build_from_config(self, config):
        if config.get("memory_depth") is not None:
            self.build_memory(config["memory_depth"])
            if config.get("query_depth") is not None and not self.built:
                self.build((None, config["query_depth"]))

    def tf1_variables(self):
        """``{tf1 name: variable}``: ``memory_layer/kernel`` and ``<tf1_scope_name>/<score weight>``."""
        if self._memory_depth is None or not self.built:
            raise ValueError(f"{self.name}: set up the memory and query once before asking for variables")
        return {
            name if name.startswith("memory_layer/") else f"{self.tf1_scope_name}/{name}": var
            for name, var in self._tf1_weights.items()
        }

    # -- memory ----------------------------------------------------------------
    def setup_memory(self, memory, memory_sequence_length=None, memory_mask=None):
        """Store the memory, its keys and its padding mask.

        Args:
            memory: ``[batch, max_time, depth]`` float, usually the encoder outputs (cast to the
                layer's compute dtype, as Keras casts layer inputs).
            memory_sequence_length: optional int ``[batch]``, each row's length (>= 1).
            memory_mask: optional bool ``[batch, max_time]``, True at real positions
                (exclusive with ``memory_sequence_length``).

        Raises:
            ValueError: wrong memory rank or unknown depth; a length vector whose batch
                differs from the memory's; both a length and a mask; (eagerly) lengths
                outside ``[1, max_time]``.
        """
        owner = self.name
        memory = tf.convert_to_tensor(memory)
        if not memory.dtype.is_floating:
            raise TypeError(f"{owner}: memory must be a float tensor, got dtype {memory.dtype.name}")
        memory = tf.cast(memory, self.compute_dtype)  # Keras' autocast rule (mixed precision: float16)
        if memory.shape.rank != 3 or memory.shape[-1] is None:
            raise ValueError(
                f"{owner}: memory must have rank 3 [batch, max_time, depth] with a known depth, "
                f"got shape {memory.shape}"
            )
        if memory_sequence_length is not None and memory_mask is not None:
            raise ValueError(f"{owner}: pass memory_sequence_length or memory_mask, not both")
        batch, max_time = memory.shape[0], memory.shape[1]
        mask = None
        if memory_sequence_length is not None:
            mask = tf.sequence_mask(self._check_lengths(memory_sequence_length, batch, max_time),
                                    maxlen=tf.shape(memory)[1])
        elif memory_mask is not None:
            mask = tf.convert_to_tensor(memory_mask, tf.bool)
            if mask.shape.rank != 2 or not mask.shape.is_compatible_with(memory.shape[:2]):
                raise ValueError(f"{owner}: memory_mask must be [batch, max_time]={memory.shape[:2]}, got {mask.shape}")
        self.build_memory(memory.shape[-1])
        values = memory if mask is None else memory * tf.cast(mask, memory.dtype)[:, :, None]
        self.values = values  # [batch, max_time, depth], zero past each row's length
        self.keys = tf.matmul(values, tf.cast(self.memory_kernel, values.dtype))  # [batch, max_time, units]
        self.mask = mask
        self.batch_size = batch if batch is not None else tf.shape(memory)[0]
        self._alignments_size = max_time

    def _check_lengths(self, lengths, batch, max_time):
        owner = self.name
        lengths = tf.convert_to_tensor(lengths)
        if not lengths.dtype.is_integer:
            raise TypeError(f"{owner}: memory_sequence_length must be integers, got dtype {lengths.dtype.name}")
        if lengths.shape.rank != 1 or (batch is not None and lengths.shape[0] not in (None, batch)):
            raise ValueError(
                f"{owner}: memory_sequence_length must have shape [batch]=[{batch}] like the memory, "
                f"got shape {lengths.shape}"
            )
        if tf.executing_eagerly():
            bad = [int(n) for n in lengths.numpy() if n < 1 or (max_time is not None and n > max_time)]
            if bad:
                raise ValueError(
                    f"{owner}: memory_sequence_length must be in [1, max_time={max_time}], got {bad}"
                )
            return lengths
        with tf.control_dependencies([
            tf.debugging.assert_positive(lengths, message=f"{owner}: memory_sequence_length must be >= 1")
        ]):
            return tf.identity(lengths)

    @property
    def memory_initialized(self):
        return self.values is not None

    @property
    def alignments_size(self):
        """The memory's ``max_time`` (None until the memory is set or when it is dynamic)."""
        return self._alignments_size

    @property
    def state_size(self):
        return self._alignments_size

    @property
    def memory_depth(self):
        return self._memory_depth

    def initial_alignments(self, batch_size, dtype):
        """Zeros ``[batch_size, max_time]``."""
        self._check_memory()
        max_time = self._alignments_size if self._alignments_size is not None else tf.shape(self.keys)[1]
        return tf.zeros([batch_size, max_time], dtype=dtype)

    def initial_state(self, batch_size, dtype):
        """The mechanism's state at step 0: :meth:`initial_alignments`."""
        return self.initial_alignments(batch_size, dtype)

    def _check_memory(self):
        if self.values is None:
            raise ValueError(f"{self.name}: set up the memory (memory= or setup_memory) before querying")

    # -- step ------------------------------------------------------------------
    def call(self, inputs, state=None):
        query, state = (inputs[0], inputs[1]) if state is None else (inputs, state)
        self._check_memory()
        score = self.score(query)  # [batch, max_time]
        alignments = self.probability_fn(mask_score(score, self.mask))
        return alignments, alignments

    def score(self, query):
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "units": self.units, "probability_fn": self._probability_fn_serialized()}

    def _probability_fn_serialized(self):
        arg = self._probability_fn_arg
        return arg if arg is None or isinstance(arg, str) else serialize_optional(arg)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("probability_fn") is not None and not isinstance(config["probability_fn"], str):
            config["probability_fn"] = keras.saving.deserialize_keras_object(config["probability_fn"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfseq")
class LuongAttention(AttentionMechanism):
    """Luong's multiplicative attention (``luong``), or its scaled form (``scaled_luong``).

    ``keys = values @ W_m``; ``score[b, t] = g * query[b] . keys[b, t]`` with ``g`` a
    learnt scalar (``attention_g``, initialised to 1) when ``scale=True``, else 1;
    ``alignments = probability_fn(score)``. The query (decoder output) depth must equal
    ``units``.

    Args:
        units, memory, memory_sequence_length, probability_fn, dtype, name: see
            :class:`AttentionMechanism`.
        scale: bool, learn the scalar ``g``.

    Weights (TF1 names): ``memory_layer/kernel`` ``[depth, units]``; with ``scale``,
    ``luong_attention/attention_g`` ``[]``.

    Example:
        >>> mechanism = LuongAttention(8, memory=encoder_outputs, memory_sequence_length=lengths)
        >>> alignments, _ = mechanism([decoder_output, mechanism.initial_state(batch, tf.float32)])
    """

    tf1_scope_name = "luong_attention"

    def __init__(self, units, memory=None, memory_sequence_length=None, scale=False, probability_fn="softmax",
                 dtype=None, name="LuongAttention", **kwargs):
        self.scale = check_bool("LuongAttention", "scale", scale)
        super().__init__(units, memory, memory_sequence_length, probability_fn, dtype=dtype, name=name, **kwargs)

    def build_score(self, query_depth):
        if query_depth != self.units:
            raise ValueError(
                f"{self.name}: the query depth must equal units={self.units} for Luong attention, got {query_depth}"
            )
        self.scale_weight = self._add_tf1_weight("attention_g", (), "ones") if self.scale else None

    def score(self, query):
        return luong_score(query, self.keys, self.scale_weight)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="tfseq")
class BahdanauAttention(AttentionMechanism):
    """Bahdanau's additive attention (``bahdanau``), or its normalised form (``normed_bahdanau``).

    ``keys = values @ W_m``, ``q = query @ W_q``;
    ``score[b, t] = v . tanh(keys[b, t] + q[b])``, or with ``normalize=True``
    ``score[b, t] = (g v / ||v||) . tanh(keys[b, t] + q[b] + b)``;
    ``alignments = probability_fn(score)``.

    Args:
        units, memory, memory_sequence_length, probability_fn, dtype, name: see
            :class:`AttentionMechanism`.
        normalize: bool, weight normalisation of ``v`` (``g`` initialised to ``sqrt(1/units)``,
            ``b`` to zeros).
        kernel_initializer: initializer of ``attention_v`` (default Glorot uniform).

    Weights (TF1 names): ``memory_layer/kernel`` ``[depth, units]``,
    ``bahdanau_attention/query_layer/kernel`` ``[query_depth, units]``,
    ``bahdanau_attention/attention_v`` ``[units]``; with ``normalize``,
    ``bahdanau_attention/attention_g`` ``[]`` and ``bahdanau_attention/attention_b`` ``[units]``.
    """

    tf1_scope_name = "bahdanau_attention"

    def __init__(self, units, memory=None, memory_sequence_length=None, normalize=False, probability_fn="softmax",
                 kernel_initializer="glorot_uniform", dtype=None, name="BahdanauAttention", **kwargs):
        self.normalize = check_bool("BahdanauAttention", "normalize", normalize)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        super().__init__(units, memory, memory_sequence_length, probability_fn, dtype=dtype, name=name, **kwargs)

    def build_score(self, query_depth):
        self.query_kernel = self._add_tf1_weight("query_layer_kernel", (query_depth, self.units), "glorot_uniform")
        self.attention_v = self._add_tf1_weight("attention_v", (self.units,), self.kernel_initializer)
        self.attention_g = self.attention_b = None
        if self.normalize:
            g0 = keras.initializers.Constant(math.sqrt(1.0 / self.units))
            self.attention_g = self._add_tf1_weight("attention_g", (), g0)
            self.attention_b = self._add_tf1_weight("attention_b", (self.units,), "zeros")

    def score(self, query):
        processed_query = tf.matmul(query, self.query_kernel)  # [batch, units]
        return bahdanau_score(processed_query, self.keys, self.attention_v, self.attention_g, self.attention_b,
                              self.normalize)

    def get_config(self):
        return {
            **super().get_config(),
            "normalize": self.normalize,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


__all__ = [
    "AttentionMechanism",
    "LuongAttention",
    "BahdanauAttention",
    "luong_score",
    "bahdanau_score",
    "mask_score",
    "hardmax",
]
