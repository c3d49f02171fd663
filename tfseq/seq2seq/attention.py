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
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int, deserialize_optional, serialize_optional
from tfseq._keras import keras_mask
from tfseq.rnn_cell.base import keras_weight_name, tf1_weight_name, variable_scope_initializer
from tfseq.seq2seq.beam_search_ops import tiled_from

# -- pure functions ----------------------------------------------------------------


def luong_score(query: tf.Tensor, keys: tf.Tensor, scale: tf.Tensor | None = None) -> tf.Tensor:
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


def bahdanau_score(processed_query: tf.Tensor, keys: tf.Tensor, attention_v: Any, attention_g: Any = None,
                   attention_b: Any = None, normalize: bool = False) -> tf.Tensor:
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


def mask_score(score: tf.Tensor, mask: tf.Tensor | None, score_mask_value: float | None = None) -> tf.Tensor:
    """``score`` where ``mask`` is True, ``score_mask_value`` (default ``-inf``) elsewhere
    (``mask=None``: unchanged).

    Args:
        score: ``[batch, max_time]``.
        mask: None or bool ``[batch, max_time]``, True at real memory positions.
        score_mask_value: TF1's argument; None means ``-inf``.
    """
    if mask is None:
        return score
    value = -math.inf if score_mask_value is None else score_mask_value
    return tf.where(mask, score, tf.fill(tf.shape(score), tf.constant(value, score.dtype)))


def hardmax(logits: Any) -> tf.Tensor:
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


class KernelLayerView:
    """TF Addons' default ``memory_layer``/``query_layer`` (a bias-free ``Dense``) for tfseq's own
    kernel weight: ``kernel`` (None before the mechanism is built), ``units``, ``weights``, and
    calling it multiplies by the kernel."""

    use_bias = False
    bias = None

    def __init__(self, mechanism: "AttentionMechanism", attribute: str) -> None:
        self._mechanism, self._attribute = mechanism, attribute

    @property
    def kernel(self) -> Any:
        return getattr(self._mechanism, self._attribute, None)

    @property
    def units(self) -> int:
        return self._mechanism.units

    @property
    def built(self) -> bool:
        return self.kernel is not None

    @property
    def weights(self) -> list:
        return [] if self.kernel is None else [self.kernel]

    trainable_weights = weights

    def __call__(self, inputs: Any) -> tf.Tensor:
        if self.kernel is None:
            raise ValueError(f"{self._mechanism.name}: the mechanism is not built yet (set up its memory first)")
        inputs = tf.convert_to_tensor(inputs)
        return tf.matmul(inputs, tf.cast(self.kernel, inputs.dtype))


def _check_layer(owner, name, layer):
    if layer is not None and not callable(layer):
        raise TypeError(f"{owner}: {name} must be a Keras layer (e.g. keras.layers.Dense(units, use_bias=False)) "
                        f"or None, got {layer!r}")
    return layer


# -- mechanisms --------------------------------------------------------------------


class AttentionMechanism(keras.layers.Layer):
    """Base of the attention mechanisms: holds the memory and maps a query to alignments.

    Subclasses set ``tf1_scope_name`` and define :meth:`build_score` (the score weights,
    given the query depth) and :meth:`score` (the unnormalised ``[batch, max_time]``).

    Args:
        units: int > 0, depth of the keys (``memory @ memory_layer/kernel``); TF1 contrib's name
            ``num_units=`` is accepted too.
        memory: optional ``[batch, max_time, depth]``; may be set later by :meth:`setup_memory`.
        memory_sequence_length: optional int ``[batch]``, the real length of each memory row.
        probability_fn: ``"softmax"`` (default; TF1's ``None`` means the same), ``"hardmax"`` or a
            callable ``score -> probabilities`` (register it with
            ``keras.saving.register_keras_serializable`` to save it).
        dtype, name: as for any Keras layer.
        memory_layer: optional layer computing the keys from the memory (TF Addons' argument,
            e.g. ``keras.layers.Dense(units, use_bias=False)``); default: tfseq's own
            ``memory_layer/kernel``, the same math.
        score_mask_value: TF1's score at padded memory positions; None (default) is ``-inf``,
            so padded positions get exactly 0 weight.

    ``memory=None`` with ``memory_sequence_length`` is accepted and the lengths are
    ignored, as in TF Addons: give them to :meth:`setup_memory`.

    Call arguments:
        inputs: ``[query, state]`` (TFA's form): query ``[batch, query_depth]`` (the decoder
            output), state ``[batch, max_time]`` (the previous alignments; unused by the
            softmax mechanisms). TF1's form ``mechanism(query, state)`` works too. With
            ``setup_memory=True``: ``memory`` or ``[memory, memory_sequence_length]``
            and ``mask=`` (see :meth:`__call__`).

    Returns:
        ``(alignments, next_state)``, both ``[batch, max_time]`` (``next_state`` is the alignments).
    """

    tf1_scope_name = None

    def __init__(self, units: int | None = None, memory: Any = None, memory_sequence_length: Any = None,
                 probability_fn: str | Callable | None = "softmax", dtype: Any = None, name: str | None = None,
                 memory_layer: keras.layers.Layer | None = None, score_mask_value: float | None = None,
                 **kwargs: Any) -> None:
        owner = type(self).__name__
        if "num_units" in kwargs:  # TF1 contrib's name for units
            if units is not None:
                raise TypeError(f"{owner}: units and num_units given both (num_units is TF1's name for units)")
            units = kwargs.pop("num_units")
        if units is None:
            raise TypeError(f"{owner}: missing units (TF1: num_units)")
        super().__init__(dtype=dtype, name=name, **kwargs)
        if score_mask_value is not None and (isinstance(score_mask_value, bool)
                                             or not isinstance(score_mask_value, (int, float))):
            raise ValueError(f"{owner}: score_mask_value must be a number or None, got {score_mask_value!r}")
        self.score_mask_value = None if score_mask_value is None else float(score_mask_value)
        self.units = check_positive_int(owner, "units", units)
        self._probability_fn_arg = probability_fn
        self.probability_fn = _probability_fn(owner, probability_fn)
        self._memory_layer = _check_layer(owner, "memory_layer", memory_layer)
        self._tf1_weights = {}
        self._construction_scope_initializer = variable_scope_initializer()
        self._memory_depth = None
        self._query_depth = None
        self.memory_kernel = None
        self.values = self.keys = self.mask = None
        self._tiled = None  # (multiplier, values, keys) of a tile_batch memory before tiling
        self.batch_size = None
        self._alignments_size = None
        if memory is not None:  # TF Addons set it up through Keras' __call__, which passed the memory's mask
            self.setup_memory(memory, memory_sequence_length,
                              memory_mask=None if memory_sequence_length is not None else keras_mask(memory))
        # memory=None with memory_sequence_length: TF Addons ignores the lengths (its NMT tutorial
        # passes them and calls setup_memory later); the lengths given to setup_memory count.

    # -- weights ---------------------------------------------------------------
    def _scope_initializer(self):
        """A TF1 variable scope's initializer: where the weight is made, else where the mechanism was; or None."""
        return variable_scope_initializer() or self._construction_scope_initializer

    def _add_tf1_weight(self, name, shape, initializer):
        if initializer is None:  # TF1's get_variable default: the variable scope's initializer, else Glorot
            initializer = self._scope_initializer() or "glorot_uniform"
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
        if self._memory_layer is None:
            self.memory_kernel = self._add_tf1_weight("memory_layer_kernel", (memory_depth, self.units), None)
        elif not self._memory_layer.built:
            self._memory_layer.build((None, None, int(memory_depth)))
        self._memory_depth = int(memory_depth)

    def build(self, input_shape: Any) -> None:
        """Create the weights for a shape.

        ``[batch, max_time, depth]`` (a memory's shape, TF Addons' ``build(memory.shape)``)
        creates the memory layer; ``[batch, depth]`` or ``[query_shape, state_shape]`` the
        score weights for that query depth (the memory must be known by then).
        """
        shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) else [input_shape]
        shape = tuple(shapes[0]) if shapes and isinstance(shapes[0], (list, tuple, tf.TensorShape)) else tuple(shapes)
        if len(shape) == 3:
            if shape[-1] is None:
                raise ValueError(f"{self.name}: the memory depth must be known, got shape {shape}")
            self.build_memory(int(shape[-1]))
            return
        if self._memory_depth is None:
            raise ValueError(f"{self.name}: set up the memory (memory= or setup_memory) before querying")
        if len(shape) != 2 or shape[-1] is None:
            raise ValueError(f"{self.name}: query must be [batch, depth] with a known depth, got shape {shape}")
        self._query_depth = int(shape[-1])
        self.build_score(self._query_depth)
        self.built = True

    def _lock_state(self) -> None:
        # Keras locks a layer's state after build(); a build from the memory's shape alone
        # still has the score weights to create.
        if self._query_depth is not None:
            super()._lock_state()

    def build_score(self, query_depth):
        raise NotImplementedError

    def get_build_config(self):
        return {"memory_depth": self._memory_depth, "query_depth": self._query_depth}

    def build_from_config(self, config):
        if config.get("memory_depth") is not None:
            self.build_memory(config["memory_depth"])
            if config.get("query_depth") is not None and self._query_depth is None:
                self.build((None, config["query_depth"]))

    def tf1_variables(self):
        """``{tf1 name: variable}``: ``memory_layer/kernel`` and ``<tf1_scope_name>/<score weight>``."""
        if self._memory_depth is None or not self.built:
            raise ValueError(f"{self.name}: set up the memory and query once before asking for variables")
        names = {
            name if name.startswith("memory_layer/") else f"{self.tf1_scope_name}/{name}": var
            for name, var in self._tf1_weights.items()
        }
        for scope, layer in (("memory_layer", self._memory_layer), (f"{self.tf1_scope_name}/query_layer",
                                                                    getattr(self, "_query_layer", None))):
            if layer is not None:
                names.update({f"{scope}/{w.name}": w for w in layer.weights})
        return names

    @property
    def memory_layer(self) -> Any:
        """TF Addons' ``memory_layer``: the layer given, else a :class:`KernelLayerView` of
        tfseq's own ``memory_layer/kernel``."""
        return self._memory_layer if self._memory_layer is not None else KernelLayerView(self, "memory_kernel")

    # -- memory ----------------------------------------------------------------
    def setup_memory(self, memory: Any, memory_sequence_length: Any = None, memory_mask: Any = None) -> None:
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
        given = memory
        if any(isinstance(x, keras.KerasTensor) for x in (memory, memory_sequence_length, memory_mask)):
            raise ValueError(
                f"{owner}: the memory is a symbolic keras.Input-derived tensor. In Keras 3 a layer cannot keep "
                "state computed from a functional model's symbolic tensors, so a mechanism cannot be given one as "
                "memory=, nor be set up with it. Write the decoder as a layer (or a subclassed keras.Model) whose "
                "call() runs `mechanism.setup_memory(encoder_outputs, memory_sequence_length=lengths)` (or "
                "`mechanism(encoder_outputs, mask=mask, setup_memory=True)`) and then decodes; such a model saves "
                "and loads as .keras"
            )
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
        self._tiled = self._before_tiling(given, memory_sequence_length, memory_mask)
        if self._tiled is None:
            self.keys = self._keys_of(values)  # [batch, max_time, units]
        else:  # the memory layer once per sentence, its rows repeated as tile_batch repeated the memory's
            self.keys = tf.repeat(self._tiled[2], self._tiled[0], axis=0)
        self.mask = mask
        self.batch_size = batch if batch is not None else tf.shape(memory)[0]
        self._alignments_size = max_time

    def _keys_of(self, values):
        if self._memory_layer is None:
            return tf.matmul(values, tf.cast(self.memory_kernel, values.dtype))
        return self._memory_layer(values)

    def _before_tiling(self, memory, lengths, memory_mask):
        """``(multiplier, values, keys)`` of the memory before :func:`~tfseq.seq2seq.tile_batch`
        when the memory (and the lengths, if any) are its outputs, else None.

        Beam search tiles each sentence's memory ``beam_width`` times; the rows of one group are
        equal, so :meth:`score` (Luong) and :meth:`context` read the untiled rows once for the
        group's queries (one ``[W, depth] x [depth, max_time]`` product per sentence instead of
        ``W`` matrix-vector products): the same products, a fifth of the memory traffic at
        ``W = 5``.
        """
        found = tiled_from(memory)
        if found is None or memory_mask is not None:
            return None
        source, multiplier = found
        mask = None
        if lengths is not None:
            found_lengths = tiled_from(lengths)
            if found_lengths is None or found_lengths[1] != multiplier:
                return None
            mask = tf.sequence_mask(found_lengths[0], maxlen=tf.shape(source)[1])
        source = tf.cast(source, self.compute_dtype)
        values = source if mask is None else source * tf.cast(mask, source.dtype)[:, :, None]
        return multiplier, values, self._keys_of(values)

    def _by_group(self, rows):
        """``rows [batch, n] -> [batch / multiplier, multiplier, n]`` (tiled memory only)."""
        return tf.reshape(rows, [-1, self._tiled[0], rows.shape[-1] or tf.shape(rows)[-1]])

    def context(self, alignments: tf.Tensor) -> tf.Tensor:
        """``sum_t alignments[:, t] * values[:, t]``: ``[batch, max_time] -> [batch, depth]``."""
        if self._tiled is None:
            return tf.matmul(alignments[:, None, :], self.values)[:, 0, :]
        values = self._tiled[1]  # [batch / W, max_time, depth]
        return tf.reshape(tf.matmul(self._by_group(alignments), values), [-1, values.shape[-1]])

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

    # -- step ----------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, setup_memory: bool = False, mask: Any = None,
                 **kwargs: Any) -> Any:
        """Query the attention, or (``setup_memory=True``, TF Addons' convention) set up the memory.

        ``mechanism(memory, mask=mask, setup_memory=True)`` or
        ``mechanism([memory, memory_sequence_length], setup_memory=True)`` stores the memory
        (as :meth:`setup_memory`) and returns the masked ``values``; without a ``mask`` or
        lengths, the Keras mask the memory carries (an ``Embedding(mask_zero=True)``'s, passed
        on by a Keras RNN layer) is its mask, as tf.keras 2 passed it to TF Addons' mechanisms
        (so is it for ``memory=`` given at construction without ``memory_sequence_length``);
        ``mechanism([query, state])`` (a third item, TF Addons' processed memory, is
        ignored) or ``mechanism(query, state)`` returns ``(alignments, next_state)``.
        """
        if setup_memory:
            if isinstance(inputs, (list, tuple)):
                if len(inputs) not in (1, 2):
                    raise ValueError(
                        f"{self.name}: setup_memory=True takes memory or [memory, memory_sequence_length], "
                        f"got {len(inputs)} items"
                    )
                memory, lengths = inputs[0], (inputs[1] if len(inputs) == 2 else None)
            else:
                memory, lengths = inputs, None
            if mask is None and lengths is None:  # tf.keras 2 passed the Keras mask the memory carries
                mask = keras_mask(memory)
            self.setup_memory(memory, memory_sequence_length=lengths, memory_mask=mask)
            return self.values
        if mask is not None:
            raise ValueError(f"{self.name}: mask= is the memory's mask; pass it with setup_memory=True")
        if isinstance(inputs, (list, tuple)) and not args:
            if len(inputs) not in (2, 3):
                raise ValueError(
                    f"{self.name}: expected [query, state] (and optionally the processed memory), "
                    f"got {len(inputs)} items"
                )
            inputs = [inputs[0], inputs[1]]
        if self._query_depth is None:
            self._check_memory()
            self.built = False  # built from the memory's shape only: the score weights come next
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, state=None):
        query, state = (inputs[0], inputs[1]) if state is None else (inputs, state)
        self._check_memory()
        score = self.score(query)  # [batch, max_time]
        alignments = self.probability_fn(mask_score(score, self.mask, self.score_mask_value))
        return alignments, alignments

    def score(self, query):
        raise NotImplementedError

    def get_config(self):
        config = {**super().get_config(), "units": self.units, "probability_fn": self._probability_fn_serialized()}
        if self.score_mask_value is not None:
            config["score_mask_value"] = self.score_mask_value
        for key in ("memory_layer", "query_layer"):
            if getattr(self, f"_{key}", None) is not None:  # the user's layer (not the view)
                config[key] = serialize_optional(getattr(self, f"_{key}"))
        return config

    def _probability_fn_serialized(self):
        arg = self._probability_fn_arg
        return arg if arg is None or isinstance(arg, str) else serialize_optional(arg)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("probability_fn") is not None and not isinstance(config["probability_fn"], str):
            config["probability_fn"] = keras.saving.deserialize_keras_object(config["probability_fn"])
        for key in ("memory_layer", "query_layer"):
            if isinstance(config.get(key), dict):
                config[key] = deserialize_optional(config[key])
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

    def __init__(self, units: int | None = None, memory: Any = None, memory_sequence_length: Any = None,
                 scale: bool = False,
                 probability_fn: str | Callable | None = "softmax", dtype: Any = None, name: str = "LuongAttention",
                 **kwargs: Any) -> None:
        self.scale = check_bool(type(self).__name__, "scale", scale)
        super().__init__(units, memory, memory_sequence_length, probability_fn, dtype=dtype, name=name, **kwargs)

    def build_score(self, query_depth):
        if self._memory_layer is None and query_depth != self.units:
            raise ValueError(
                f"{self.name}: the query depth must equal units={self.units} for Luong attention, got {query_depth}"
            )
        self.scale_weight = self._add_tf1_weight("attention_g", (), "ones") if self.scale else None

    def score(self, query):
        if self._tiled is None:
            return luong_score(query, self.keys, self.scale_weight)
        keys = self._tiled[2]  # [batch / W, max_time, units]: W queries per group
        score = tf.reshape(tf.matmul(self._by_group(query), keys, transpose_b=True), [-1, tf.shape(keys)[1]])
        return score if self.scale_weight is None else self.scale_weight * score

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
        kernel_initializer: initializer of ``attention_v`` (default Glorot uniform, or the
            initializer of an enclosing TF1 ``variable_scope``, as TF1 did).
        query_layer, memory_layer: optional layers for the processed query and the keys
            (TF Addons' arguments); default: tfseq's own kernels, the same math.

    Weights (TF1 names): ``memory_layer/kernel`` ``[depth, units]``,
    ``bahdanau_attention/query_layer/kernel`` ``[query_depth, units]``,
    ``bahdanau_attention/attention_v`` ``[units]``; with ``normalize``,
    ``bahdanau_attention/attention_g`` ``[]`` and ``bahdanau_attention/attention_b`` ``[units]``.
    """

    tf1_scope_name = "bahdanau_attention"

    def __init__(self, units: int | None = None, memory: Any = None, memory_sequence_length: Any = None,
                 normalize: bool = False,
                 probability_fn: str | Callable | None = "softmax", kernel_initializer: Any = "glorot_uniform",
                 dtype: Any = None, name: str = "BahdanauAttention", query_layer: keras.layers.Layer | None = None,
                 **kwargs: Any) -> None:
        self.normalize = check_bool(type(self).__name__, "normalize", normalize)
        self._default_kernel_initializer = kernel_initializer == "glorot_uniform"  # the default: TF1 had none
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._query_layer = _check_layer(type(self).__name__, "query_layer", query_layer)
        super().__init__(units, memory, memory_sequence_length, probability_fn, dtype=dtype, name=name, **kwargs)

    def build_score(self, query_depth):
        self.query_kernel = None
        if self._query_layer is None:
            self.query_kernel = self._add_tf1_weight("query_layer_kernel", (query_depth, self.units), None)
        elif not self._query_layer.built:
            self._query_layer.build((None, query_depth))
        v_init = self.kernel_initializer
        if self._default_kernel_initializer:  # TF1 had no argument: the variable scope's, if one is set
            v_init = self._scope_initializer() or v_init
        self.attention_v = self._add_tf1_weight("attention_v", (self.units,), v_init)
        self._build_score_bias()
        self.attention_g = self.attention_b = None
        if self.normalize:
            g0 = keras.initializers.Constant(math.sqrt(1.0 / self.units))
            self.attention_g = self._add_tf1_weight("attention_g", (), g0)
            self.attention_b = self._add_tf1_weight("attention_b", (self.units,), "zeros")

    @property
    def query_layer(self) -> Any:
        """TF Addons' ``query_layer``: the layer given, else a :class:`KernelLayerView` of
        tfseq's own ``query_layer/kernel``."""
        return self._query_layer if self._query_layer is not None else KernelLayerView(self, "query_kernel")

    def _build_score_bias(self):
        """No score bias here; monotonic attention adds its ``r`` at this point, which keeps TF
        Addons' weight order (``v``, ``r``, then ``g`` and ``b``)."""

    def score(self, query):
        processed_query = (tf.matmul(query, self.query_kernel) if self._query_layer is None
                           else self._query_layer(query))  # [batch, units]
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
