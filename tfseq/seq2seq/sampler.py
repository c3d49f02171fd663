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
=================================== ===================================================

TF1's contrib ``*Helper`` classes (arguments given at construction) are in
:mod:`tfseq.seq2seq.helper`. Samplers are plain objects with ``get_config``, registered
with Keras so a ``BasicDecoder`` saves and loads with them; an ``embedding_fn`` must then
be a Keras layer (e.g. ``keras.layers.Embedding``).
"""

import numbers

import keras
import tensorflow as tf

from tfseq._checks import check_bool, deserialize_optional
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
        ValueError: both ``sequence_length`` and ``mask``, or a wrong rank/dtype.
    """

    def __init__(self, time_major=False):
        self.time_major = check_bool(type(self).__name__, "time_major", time_major)
        self._batch_size = None

    def initialize(self, inputs, sequence_length=None, mask=None):
        owner = type(self).__name__
        inputs = tf.nest.map_structure(tf.convert_to_tensor, inputs)
        if not self.time_major:
            inputs = tf.nest.map_structure(transpose_batch_time, inputs)  # [time, batch, ...]
        first = tf.nest.flatten(inputs)[0]
        self._batch_size = tf.shape(first)[1]
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
            mask = tf.convert_to_tensor(mask)
            if mask.shape.rank != 2 or mask.dtype != tf.bool:
                raise ValueError(
                    f"{owner}: mask must be a bool [batch, time] tensor, got {mask.dtype.name} {mask.shape}"
                )
            self.sequence_length = tf.reduce_sum(tf.cast(mask, tf.int32), axis=0 if self.time_major else 1)
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

    def sample(self, time, outputs, state):
        return tf.argmax(outputs, axis=-1, output_type=tf.int32)

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

    def __init__(self, sampling_probability, embedding_fn=None, time_major=False, seed=None, scheduling_seed=None):
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

    def __init__(self, embedding_fn=None):
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
        return tf.argmax(outputs, axis=-1, output_type=tf.int32)

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

    def __init__(self, embedding_fn=None, softmax_temperature=None, seed=None):
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
