"""Samplers: what a ``BasicDecoder`` feeds its cell at the next step (TF Addons' ``tfa.seq2seq``).

A sampler is three functions of the decoding step ``t``:

* ``initialize(...) -> (finished [batch] bool, first inputs [batch, depth])``;
* ``sample(t, outputs [batch, vocab], state) -> sample_ids [batch]``;
* ``next_inputs(t, outputs, state, sample_ids) -> (finished, next_inputs, state)``.

=================================== ===================================================
``TrainingSampler``                 teacher forcing: reads ``inputs[:, t + 1]``;
                                    ``sample_ids = argmax(outputs)``
``ScheduledEmbeddingTrainingSampler`` teacher forcing, but each row feeds
                                    ``embedding(sample ~ softmax(outputs))`` instead with
                                    probability ``sampling_probability`` (ids -1 elsewhere)
``GreedyEmbeddingSampler``          ``id = argmax(outputs)``, next input ``embedding(id)``;
                                    a row finishes when ``id == end_token``
``SampleEmbeddingSampler``          ``id ~ softmax(outputs / softmax_temperature)``
``ScheduledOutputTrainingSampler``  teacher forcing, but each row feeds the cell's own
                                    output (or ``next_inputs_fn`` of it) with probability
                                    ``sampling_probability`` (ids 1 there, 0 elsewhere)
``InferenceSampler``                ``id = sample_fn(outputs)``, next input
                                    ``next_inputs_fn(id)``; finished where ``end_fn(id)``
``CustomSampler``                   your three functions
=================================== ===================================================

TF1's contrib ``*Helper`` classes (arguments given at construction) are in
:mod:`tfseq.seq2seq.helper`. Samplers are plain objects with ``get_config``, registered
with Keras so a ``BasicDecoder`` saves and loads with them; an ``embedding_fn`` must then
be a Keras layer (e.g. ``keras.layers.Embedding``).
"""

import numbers
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, deserialize_optional, serialize_optional
from tfseq._xla import argmax, inside_xla
from tfseq.seq2seq.decoder import transpose_batch_time


def check_embedding_fn(owner, embedding_fn):
    if embedding_fn is not None and not callable(embedding_fn):
        raise TypeError(
            f"{owner}: embedding_fn must be callable (e.g. a keras.layers.Embedding) or None, got {embedding_fn!r}"
        )
    return embedding_fn


def embedding_lookup_fn(owner, embedding):
    """``ids -> vectors`` from a callable (a layer) or an embedding matrix ``[vocab, depth]``."""
    if callable(embedding):
        return embedding
    if embedding is None:
        raise ValueError(f"{owner}: pass an embedding (matrix or callable), or set embedding_fn at construction")
    return lambda ids: tf.nn.embedding_lookup(embedding, ids)


def serialize_embedding_fn(owner, embedding_fn):
    if embedding_fn is None:
        return None
    if not isinstance(embedding_fn, keras.layers.Layer):
        raise TypeError(
            f"{owner}: only a Keras layer embedding_fn can be saved, got {embedding_fn!r}; "
            "use keras.layers.Embedding, or pass the matrix to initialize(embedding=...)"
        )
    return keras.saving.serialize_keras_object(embedding_fn)


def mask_lengths(owner: str, mask: Any, time_major: bool = False) -> tf.Tensor:
    """Each row's length, int32 ``[batch]``, from ``TrainingSampler``'s ``mask``: a right-padded
    bool ``[batch, time]`` tensor (``[time, batch]`` when ``time_major``).

    Raises:
        ValueError: not a bool tensor of rank 2, or not right padded (where its values are
            known; else ``InvalidArgumentError`` when run).
    """
    mask = tf.convert_to_tensor(mask)
    if mask.shape.rank != 2 or mask.dtype != tf.bool:
        raise ValueError(f"{owner}: mask must be a bool [batch, time] tensor, got {mask.dtype.name} {mask.shape}")
    return _right_padded_lengths(owner, mask, time_major)


def _right_padded_lengths(owner: str, mask: tf.Tensor, time_major: bool) -> tf.Tensor:
    """Each row's length from a right-padded bool ``mask`` (every True before every False).

    Any other mask (left padding, a gap) would give lengths that mean nothing, so it is an error:
    a ``ValueError`` where the mask's values are known (eagerly), else a run-time
    ``InvalidArgumentError``, as TF Addons raises it (checked where TensorFlow runs assertions;
    XLA does not)."""
    rows = tf.transpose(mask) if time_major else mask  # [batch, time]
    lengths = tf.reduce_sum(tf.cast(rows, tf.int32), axis=1)
    right_padded = tf.reduce_all(tf.equal(rows, tf.sequence_mask(lengths, tf.shape(rows)[1])))
    message = f"{owner}: mask must be right padded (each row True up to its length, then False)"
    known = tf.get_static_value(right_padded)
    if known is not None:
        if not known:
            raise ValueError(f"{message}, got {tf.get_static_value(mask).astype(int).tolist()}")
        return lengths
    if inside_xla():  # XLA drops (and logs) Assert ops
        return lengths
    with tf.control_dependencies([tf.debugging.Assert(right_padded, [message])]):
        return tf.identity(lengths)


def _unstack_ta(tensor):
    """A TensorArray over the first (time) axis of ``tensor [time, batch, ...]``."""
    return tf.TensorArray(tensor.dtype, size=tf.shape(tensor)[0], element_shape=tensor.shape[1:]).unstack(tensor)


class Sampler:
    """Base of all samplers; subclasses define the three methods and the three properties.

    ``batch_size`` (int32 scalar) is known after :meth:`initialize`; ``sample_ids_shape``
    (``TensorShape`` without batch) and ``sample_ids_dtype`` describe ``sample``'s output.
    """

    def initialize(self, inputs, **kwargs):
        raise NotImplementedError

    def sample(self, time, outputs, state):
        raise NotImplementedError

    def next_inputs(self, time, outputs, state, sample_ids):
        raise NotImplementedError

    @property
    def batch_size(self):
        if getattr(self, "_batch_size", None) is None:
            raise ValueError(f"{type(self).__name__}: batch_size is known only after initialize()")
        return self._batch_size

    @property
    def steps_bound(self) -> int | None:
        """After :meth:`initialize`: a static number of steps this sampler never runs past, or
        None (the default). Teacher forcing reads its inputs step by step, so a
        :class:`TrainingSampler` (and the scheduled ones) gives its inputs' static length; inside
        an XLA program :func:`~tfseq.seq2seq.dynamic_decode` takes it for a ``maximum_iterations``
        that was not given."""
        return None

    @property
    def sample_ids_shape(self):
        return tf.TensorShape([])

    @property
    def sample_ids_dtype(self):
        return tf.int32

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "embedding_fn" in config:  # the embedding samplers save it as a Keras layer's config (or None)
            config["embedding_fn"] = deserialize_optional(config["embedding_fn"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfseq")
class TrainingSampler(Sampler):
    """Teacher forcing: step ``t`` reads ``inputs[:, t]``; a row finishes after ``sequence_length`` steps.

    ``sample_ids`` are ``argmax(outputs)`` (informative only).

    Args:
        time_major: ``inputs`` are ``[time, batch, ...]`` if True, else ``[batch, time, ...]``.

    ``initialize(inputs, sequence_length=None, mask=None)``: ``sequence_length`` int ``[batch]``
    or a right-padded bool ``mask [batch, time]``; neither means every row is full length.

    Raises:
        ValueError: both ``sequence_length`` and ``mask``, a wrong rank/dtype, or a ``mask`` that
            is not right padded (where its values are known; else ``InvalidArgumentError`` when run).
    """

    def __init__(self, time_major: bool = False) -> None:
        self.time_major = check_bool(type(self).__name__, "time_major", time_major)
        self._batch_size = None

    def initialize(self, inputs, sequence_length=None, mask=None):
        owner = type(self).__name__
        inputs = tf.nest.map_structure(tf.convert_to_tensor, inputs)
        if not self.time_major:
            inputs = tf.nest.map_structure(transpose_batch_time, inputs)  # [time, batch, ...]
        first = tf.nest.flatten(inputs)[0]
        self._batch_size = tf.shape(first)[1]
        self._steps_bound = first.shape[0]  # None where the length is known only at run time
        self.input_tas = tf.nest.map_structure(_unstack_ta, inputs)
        if sequence_length is not None and mask is not None:
            raise ValueError(f"{owner}: pass sequence_length or mask, not both")
        if sequence_length is not None:
            sequence_length = tf.convert_to_tensor(sequence_length)
            if sequence_length.shape.rank != 1:
                raise ValueError(
                    f"{owner}: sequence_length must be a vector [batch], got shape {sequence_length.shape}"
                )
            self.sequence_length = tf.cast(sequence_length, tf.int32)
        elif mask is not None:
            self.sequence_length = mask_lengths(owner, mask, self.time_major)
        else:
            self.sequence_length = tf.fill([self._batch_size], tf.shape(first)[0])
        self.zero_inputs = tf.nest.map_structure(lambda x: tf.zeros_like(x[0]), inputs)
        finished = tf.equal(0, self.sequence_length)
        return finished, self._read(0, finished)

    def _read(self, time, finished):
        """Inputs of step ``time``; zeros once every row is finished (no read past the end)."""
        return tf.cond(
            tf.reduce_all(finished),
            lambda: self.zero_inputs,
            lambda: tf.nest.map_structure(lambda ta: ta.read(time), self.input_tas),
        )

    @property
    def steps_bound(self) -> int | None:
        """The inputs' static length (after :meth:`initialize`), or None: a row's steps are its
        ``sequence_length``, at most the length of the inputs it reads."""
        return getattr(self, "_steps_bound", None)

    def sample(self, time, outputs, state):
        return argmax(outputs)

    def next_inputs(self, time, outputs, state, sample_ids):
        finished = time + 1 >= self.sequence_length
        return finished, self._read(time + 1, finished), state

    def get_config(self):
        return {"time_major": self.time_major}


@keras.saving.register_keras_serializable(package="tfseq")
class ScheduledEmbeddingTrainingSampler(TrainingSampler):
    """Scheduled sampling (Bengio et al., 2015): per row and step, with probability
    ``sampling_probability`` feed ``embedding(id)``, ``id ~ softmax(outputs)``, instead of
    the ground truth. ``sample_ids`` are the sampled ids, ``-1`` where nothing was sampled.

    Args:
        sampling_probability: float in ``[0, 1]`` (scalar or ``[batch]`` tensor, or a variable).
        embedding_fn: ``ids -> vectors``; else pass ``embedding=`` to ``initialize``.
        time_major: see :class:`TrainingSampler`.
        seed: seed of the categorical draw; scheduling_seed: of the Bernoulli draw.

    Raises:
        ValueError: a Python ``sampling_probability`` outside ``[0, 1]``, or of rank > 1.
    """

    def __init__(self, sampling_probability: Any, embedding_fn: Callable | None = None, time_major: bool = False,
                 seed: int | None = None, scheduling_seed: int | None = None) -> None:
        owner = type(self).__name__
        if isinstance(sampling_probability, numbers.Real) and not 0.0 <= sampling_probability <= 1.0:
            raise ValueError(f"{owner}: sampling_probability must be in [0, 1], got {sampling_probability!r}")
        if not isinstance(sampling_probability, tf.Variable):
            sampling_probability = tf.convert_to_tensor(sampling_probability, tf.float32)
        if sampling_probability.shape.rank not in (0, 1):
            raise ValueError(
                f"{owner}: sampling_probability must be a scalar or a vector, got shape {sampling_probability.shape}"
            )
        self.sampling_probability = sampling_probability
        self.embedding_fn = check_embedding_fn(owner, embedding_fn)
        self.seed, self.scheduling_seed = seed, scheduling_seed
        super().__init__(time_major=time_major)

    def initialize(self, inputs, sequence_length=None, mask=None, embedding=None):
        self._embed = self.embedding_fn or embedding_lookup_fn(type(self).__name__, embedding)
        return super().initialize(inputs, sequence_length=sequence_length, mask=mask)

    def sample(self, time, outputs, state):
        draw = tf.random.uniform([self.batch_size], seed=self.scheduling_seed)
        use_sample = draw < tf.cast(self.sampling_probability, draw.dtype)  # [batch]
        sampled = tf.reshape(tf.random.categorical(outputs, 1, dtype=tf.int32, seed=self.seed), [-1])
        return tf.where(use_sample, sampled, -tf.ones_like(sampled))

    def next_inputs(self, time, outputs, state, sample_ids):
        finished, truth, state = super().next_inputs(time, outputs, state, sample_ids)
        sampled = tf.cast(self._embed(tf.maximum(sample_ids, 0)), truth.dtype)  # [batch, depth]
        next_inputs = tf.where(tf.expand_dims(sample_ids > -1, -1), sampled, truth)
        return finished, next_inputs, state

    def get_config(self):
        probability = tf.get_static_value(self.sampling_probability)
        if probability is None or isinstance(self.sampling_probability, tf.Variable):
            probability = self.sampling_probability.numpy()
        return {
            "sampling_probability": probability.tolist(),
            "embedding_fn": serialize_embedding_fn(type(self).__name__, self.embedding_fn),
            "time_major": self.time_major,
            "seed": self.seed,
            "scheduling_seed": self.scheduling_seed,
        }


@keras.saving.register_keras_serializable(package="tfseq")
class GreedyEmbeddingSampler(Sampler):
    """Greedy inference: ``id_t = argmax(outputs_t)``, next input ``embedding_fn(id_t)``.

    Args:
        embedding_fn: ``ids [batch] -> [batch, depth]``; default: look ids up in the
            ``embedding`` matrix given to ``initialize``.

    ``initialize(embedding, start_tokens, end_token)``: ``start_tokens`` int ``[batch]``,
    ``end_token`` an int scalar; a row finishes at the step that emits ``end_token``.

    Raises:
        ValueError: ``start_tokens`` is not a vector or ``end_token`` not a scalar.
    """

    def __init__(self, embedding_fn: Callable | None = None) -> None:
        self.embedding_fn = check_embedding_fn(type(self).__name__, embedding_fn)
        self._batch_size = None

    def initialize(self, embedding, start_tokens=None, end_token=None):
        owner = type(self).__name__
        self._embed = self.embedding_fn or embedding_lookup_fn(owner, embedding)
        if start_tokens is None or end_token is None:
            raise ValueError(
                f"{owner}: initialize needs start_tokens and end_token, got {start_tokens!r}, {end_token!r}"
            )
        self.start_tokens = tf.convert_to_tensor(start_tokens, tf.int32, name="start_tokens")
        self.end_token = tf.convert_to_tensor(end_token, tf.int32, name="end_token")
        if self.start_tokens.shape.rank != 1:
            raise ValueError(f"{owner}: start_tokens must be a vector [batch], got shape {self.start_tokens.shape}")
        if self.end_token.shape.rank != 0:
            raise ValueError(f"{owner}: end_token must be a scalar, got shape {self.end_token.shape}")
        self._batch_size = tf.size(self.start_tokens)
        self.start_inputs = self._embed(self.start_tokens)  # [batch, depth]
        return tf.zeros([self._batch_size], tf.bool), self.start_inputs

    def sample(self, time, outputs, state):
        if not isinstance(outputs, tf.Tensor):
            raise TypeError(f"{type(self).__name__}: outputs must be one logits tensor, got {type(outputs).__name__}")
        return argmax(outputs)

    def next_inputs(self, time, outputs, state, sample_ids):
        finished = tf.equal(sample_ids, self.end_token)
        return finished, self._embed(sample_ids), state

    def get_config(self):
        return {"embedding_fn": serialize_embedding_fn(type(self).__name__, self.embedding_fn)}


@keras.saving.register_keras_serializable(package="tfseq")
class SampleEmbeddingSampler(GreedyEmbeddingSampler):
    """Random sampling: ``id_t ~ softmax(outputs_t / softmax_temperature)``, then as greedy.

    Args:
        embedding_fn: see :class:`GreedyEmbeddingSampler`.
        softmax_temperature: ``None`` (1.0) or a float ``> 0``.
        seed: seed of the categorical draw.

    Raises:
        ValueError: ``softmax_temperature <= 0``.
    """

    def __init__(self, embedding_fn: Callable | None = None, softmax_temperature: float | None = None,
                 seed: int | None = None) -> None:
        super().__init__(embedding_fn)
        if isinstance(softmax_temperature, numbers.Real) and not softmax_temperature > 0:
            raise ValueError(f"{type(self).__name__}: softmax_temperature must be > 0, got {softmax_temperature!r}")
        self.softmax_temperature = softmax_temperature
        self.seed = seed

    def sample(self, time, outputs, state):
        super().sample(time, outputs, state)  # type check
        logits = outputs if self.softmax_temperature is None else outputs / self.softmax_temperature
        return tf.reshape(tf.random.categorical(logits, 1, dtype=tf.int32, seed=self.seed), [-1])

    def get_config(self):
        return {**super().get_config(), "softmax_temperature": self.softmax_temperature, "seed": self.seed}


@keras.saving.register_keras_serializable(package="tfseq")
class ScheduledOutputTrainingSampler(TrainingSampler):
    """Scheduled sampling on the outputs: per row and step, with probability
    ``sampling_probability`` the next input is the cell's own output (or
    ``next_inputs_fn(output)``) instead of the ground truth; ``sample_ids`` are 1 where that
    happened, 0 elsewhere (int32, TF Addons' ``bernoulli_sample``).

    Args:
        sampling_probability: float in ``[0, 1]``, scalar or ``[batch]`` (or a variable).
        time_major: see :class:`TrainingSampler`.
        seed: seed of the Bernoulli draw.
        next_inputs_fn: optional ``outputs [n, out] -> inputs [n, depth]`` for the sampled rows.

    ``initialize(inputs, sequence_length=None, mask=None, auxiliary_inputs=None)``: with
    ``auxiliary_inputs`` ``[batch, time, aux]``, the ground truth read is
    ``concat([inputs, auxiliary_inputs], -1)`` and a sampled row reads
    ``concat([output, auxiliary_inputs[:, t + 1]], -1)``.

    Raises:
        ValueError: a Python ``sampling_probability`` outside ``[0, 1]``, or of rank > 1.
    """

    def __init__(self, sampling_probability: Any, time_major: bool = False, seed: int | None = None,
                 next_inputs_fn: Callable | None = None) -> None:
        owner = type(self).__name__
        if isinstance(sampling_probability, numbers.Real) and not 0.0 <= sampling_probability <= 1.0:
            raise ValueError(f"{owner}: sampling_probability must be in [0, 1], got {sampling_probability!r}")
        if not isinstance(sampling_probability, tf.Variable):
            sampling_probability = tf.convert_to_tensor(sampling_probability, tf.float32)
        if sampling_probability.shape.rank not in (0, 1):
            raise ValueError(
                f"{owner}: sampling_probability must be either a scalar or a vector, "
                f"got shape {sampling_probability.shape}"
            )
        if next_inputs_fn is not None and not callable(next_inputs_fn):
            raise TypeError(f"{owner}: next_inputs_fn must be callable or None, got {next_inputs_fn!r}")
        self.sampling_probability = sampling_probability
        self.seed = seed
        self.next_inputs_fn = next_inputs_fn
        super().__init__(time_major=time_major)

    def initialize(self, inputs, sequence_length=None, mask=None, auxiliary_inputs=None):
        self._auxiliary_tas = None
        if auxiliary_inputs is not None:
            inputs = tf.convert_to_tensor(inputs)
            auxiliary_inputs = tf.cast(tf.convert_to_tensor(auxiliary_inputs), inputs.dtype)
            inputs = tf.concat([inputs, auxiliary_inputs], -1)
            if not self.time_major:
                auxiliary_inputs = transpose_batch_time(auxiliary_inputs)
            self._auxiliary_tas = _unstack_ta(auxiliary_inputs)
        return super().initialize(inputs, sequence_length=sequence_length, mask=mask)

    def sample(self, time, outputs, state):
        # One draw per row: a scalar probability is drawn batch times, a [batch] one once (TF Addons
        # draws batch times from the vector too, giving [batch, batch] ids).
        sample_shape = self.batch_size if self.sampling_probability.shape.rank == 0 else ()
        return bernoulli_sample(probs=self.sampling_probability, sample_shape=sample_shape, seed=self.seed)

    def next_inputs(self, time, outputs, state, sample_ids):
        finished, truth, state = super().next_inputs(time, outputs, state, sample_ids)
        use_output = tf.cast(sample_ids, tf.bool)  # [batch]

        def with_auxiliary(values, rows=None):
            if self._auxiliary_tas is None:
                return values
            auxiliary = self._auxiliary_tas.read(time + 1)
            if rows is not None:
                auxiliary = tf.gather_nd(auxiliary, rows)
            return tf.concat([values, auxiliary], -1)

        def sampled():
            if self.next_inputs_fn is None:
                return tf.where(use_output[:, None], tf.cast(with_auxiliary(outputs), truth.dtype), truth)
            rows = tf.cast(tf.where(use_output), tf.int32)  # [n, 1]
            other = tf.cast(tf.where(tf.logical_not(use_output)), tf.int32)
            fed = with_auxiliary(self.next_inputs_fn(tf.gather_nd(outputs, rows)), rows)
            shape = tf.shape(truth)
            return (tf.scatter_nd(rows, tf.cast(fed, truth.dtype), shape)
                    + tf.scatter_nd(other, tf.gather_nd(truth, other), shape))

        skip = tf.logical_or(tf.reduce_all(finished), tf.logical_not(tf.reduce_any(use_output)))
        return finished, tf.cond(skip, lambda: truth, sampled), state

    def get_config(self):
        if self.next_inputs_fn is not None and not isinstance(self.next_inputs_fn, keras.layers.Layer):
            raise TypeError(f"{type(self).__name__}: only a Keras layer next_inputs_fn can be saved, "
                            f"got {self.next_inputs_fn!r}")
        probability = tf.get_static_value(self.sampling_probability)
        if probability is None or isinstance(self.sampling_probability, tf.Variable):
            probability = self.sampling_probability.numpy()
        return {
            "sampling_probability": probability.tolist(),
            "time_major": self.time_major,
            "seed": self.seed,
            "next_inputs_fn": serialize_optional(self.next_inputs_fn),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["next_inputs_fn"] = deserialize_optional(config.get("next_inputs_fn"))
        return cls(**config)


class InferenceSampler(Sampler):
    """Inference with your own sampling: ``id_t = sample_fn(outputs_t)``, next input
    ``next_inputs_fn(id_t)`` (default the ids themselves), a row finishes where
    ``end_fn(id_t)`` is True.

    Args:
        sample_fn: ``outputs -> sample_ids``.
        sample_shape: shape of one row's sample (e.g. ``[]`` or ``[depth]``).
        sample_dtype: dtype of the samples.
        end_fn: ``sample_ids -> bool [batch]``.
        next_inputs_fn: optional ``sample_ids -> next inputs``.

    ``initialize(start_inputs)``: the first inputs ``[batch, ...]``.
    """

    def __init__(self, sample_fn: Callable, sample_shape: Any, sample_dtype: Any, end_fn: Callable,
                 next_inputs_fn: Callable | None = None) -> None:
        owner = type(self).__name__
        for name, fn in (("sample_fn", sample_fn), ("end_fn", end_fn)):
            if not callable(fn):
                raise TypeError(f"{owner}: {name} must be callable, got {fn!r}")
        if next_inputs_fn is not None and not callable(next_inputs_fn):
            raise TypeError(f"{owner}: next_inputs_fn must be callable or None, got {next_inputs_fn!r}")
        self.sample_fn = sample_fn
        self.sample_shape = tf.TensorShape(sample_shape)
        self.sample_dtype = tf.as_dtype(sample_dtype)
        self.end_fn = end_fn
        self.next_inputs_fn = next_inputs_fn
        self._batch_size = None

    @property
    def sample_ids_shape(self):
        return self.sample_shape

    @property
    def sample_ids_dtype(self):
        return self.sample_dtype

    def initialize(self, start_inputs):
        self.start_inputs = tf.convert_to_tensor(start_inputs, name="start_inputs")
        self._batch_size = tf.shape(self.start_inputs)[0]
        return tf.zeros([self._batch_size], tf.bool), self.start_inputs

    def sample(self, time, outputs, state):
        return self.sample_fn(outputs)

    def next_inputs(self, time, outputs, state, sample_ids):
        next_inputs = sample_ids if self.next_inputs_fn is None else self.next_inputs_fn(sample_ids)
        return self.end_fn(sample_ids), next_inputs, state

    def get_config(self):
        raise TypeError(f"{type(self).__name__} holds Python functions and cannot be saved; "
                        "give the decoder the sampler when you load the model")


class CustomSampler(Sampler):
    """A sampler made of three functions (TF Addons' ``CustomSampler``).

    Args:
        initialize_fn: ``(inputs, **kwargs) -> (finished [batch], first inputs)``.
        sample_fn: ``(time, outputs, state) -> sample_ids``.
        next_inputs_fn: ``(time, outputs, state, sample_ids) -> (finished, next_inputs, next_state)``.
        sample_ids_shape: shape of one row's ids (default ``[]``).
        sample_ids_dtype: their dtype (default int32).
    """

    def __init__(self, initialize_fn: Callable, sample_fn: Callable, next_inputs_fn: Callable,
                 sample_ids_shape: Any = None, sample_ids_dtype: Any = None) -> None:
        for name, fn in (("initialize_fn", initialize_fn), ("sample_fn", sample_fn),
                         ("next_inputs_fn", next_inputs_fn)):
            if not callable(fn):
                raise TypeError(f"{type(self).__name__}: {name} must be callable, got {fn!r}")
        self._initialize_fn, self._sample_fn, self._next_inputs_fn = initialize_fn, sample_fn, next_inputs_fn
        self._sample_ids_shape = tf.TensorShape(sample_ids_shape or [])
        self._sample_ids_dtype = tf.as_dtype(sample_ids_dtype or tf.int32)
        self._batch_size = None

    @property
    def sample_ids_shape(self):
        return self._sample_ids_shape

    @property
    def sample_ids_dtype(self):
        return self._sample_ids_dtype

    def initialize(self, inputs, **kwargs):
        finished, next_inputs = self._initialize_fn(inputs, **kwargs)
        if self._batch_size is None:
            self._batch_size = tf.size(finished)
        return finished, next_inputs

    def sample(self, time, outputs, state):
        return self._sample_fn(time=time, outputs=outputs, state=state)

    def next_inputs(self, time, outputs, state, sample_ids):
        return self._next_inputs_fn(time=time, outputs=outputs, state=state, sample_ids=sample_ids)

    def get_config(self):
        raise TypeError(f"{type(self).__name__} holds Python functions and cannot be saved; "
                        "give the decoder the sampler when you load the model")


def _reshape_samples(sample_n, sample_shape):
    """``sample_n(n)`` for ``n = prod(sample_shape)``, reshaped to ``sample_shape + batch shape``."""
    sample_shape = tf.reshape(tf.convert_to_tensor(sample_shape, tf.int32), [-1])
    samples = sample_n(tf.reduce_prod(sample_shape))
    return tf.reshape(samples, tf.concat([sample_shape, tf.shape(samples)[1:]], 0))


def bernoulli_sample(probs: Any = None, logits: Any = None, dtype: Any = tf.int32, sample_shape: Any = (),
                     seed: int | None = None) -> tf.Tensor:
    """Bernoulli draws ``1[u < p]`` (``u`` uniform, ``p = probs`` or ``sigmoid(logits)``), shaped
    ``sample_shape + probs.shape``."""
    probs = tf.sigmoid(logits) if probs is None else tf.convert_to_tensor(probs)

    def sample_n(n):
        uniform = tf.random.uniform(tf.concat([[n], tf.shape(probs)], 0), seed=seed, dtype=probs.dtype)
        return tf.cast(uniform < probs, dtype)

    return _reshape_samples(sample_n, sample_shape)


def categorical_sample(logits: Any, dtype: Any = tf.int32, sample_shape: Any = (),
                       seed: int | None = None) -> tf.Tensor:
    """Categorical draws from ``logits [..., classes]``, shaped ``sample_shape + logits.shape[:-1]``."""
    logits = tf.convert_to_tensor(logits)

    def sample_n(n):
        flat = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
        draws = tf.random.categorical(flat, n, dtype=tf.int64 if logits.dtype.size > 4 else tf.int32, seed=seed)
        return tf.cast(tf.reshape(tf.transpose(draws), tf.concat([[n], tf.shape(logits)[:-1]], 0)), dtype)

    return _reshape_samples(sample_n, sample_shape)
