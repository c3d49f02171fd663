"""TF1 contrib's ``*Helper`` spellings of the samplers: the decoding inputs are given at construction.

TF 1.x::

    helper = tf.contrib.seq2seq.TrainingHelper(inputs, sequence_length)
    decoder = tf.contrib.seq2seq.BasicDecoder(cell, helper, initial_state, output_layer)
    outputs, state, lengths = tf.contrib.seq2seq.dynamic_decode(decoder)

runs unchanged with ``tfseq.seq2seq`` in place of ``tf.contrib.seq2seq``. Each helper is
the matching sampler (same math) whose ``initialize()`` needs no arguments. Helpers hold
tensors, so a ``BasicDecoder`` built on one cannot be saved to a ``.keras`` file: use the
sampler spelling (``BasicDecoder(cell, sampler)``, inputs given when calling it) for that.
"""

import tensorflow as tf

from tfseq.seq2seq import sampler as sampler_lib


class _HelperMixin:
    """``initialize()`` with no arguments uses the ones given at construction."""

    def _store(self, *args, **kwargs):
        self._helper_args, self._helper_kwargs = args, kwargs

    def initialize(self, *args, **kwargs):
        if any(a is not None for a in args) or any(v is not None for v in kwargs.values()):
            raise ValueError(
                f"{type(self).__name__}: its inputs were given at construction (TF1 spelling); "
                "call initialize() without arguments, or use the matching sampler"
            )
        return super().initialize(*self._helper_args, **self._helper_kwargs)

    def get_config(self):
        raise TypeError(
            f"{type(self).__name__} holds tensors and cannot be saved; use "
            f"{type(self).__mro__[2].__name__} (the sampler spelling) in models you save"
        )


class Helper(sampler_lib.Sampler):
    """TF1 contrib's abstract ``Helper``, the base of a program's own helpers, subclassed as in TF1.

    A subclass defines ``initialize(name=None) -> (finished, first_inputs)``,
    ``sample(time, outputs, state, name=None) -> sample_ids``,
    ``next_inputs(time, outputs, state, sample_ids, name=None) -> (finished, next_inputs, next_state)``
    and the properties ``batch_size``, ``sample_ids_shape`` and ``sample_ids_dtype``;
    ``BasicDecoder(cell, helper, initial_state, output_layer)`` calls ``initialize()`` without
    arguments, as TF1's did. (TF Addons renamed it ``Sampler``; its ``initialize`` takes the inputs.)
    """


class TrainingHelper(_HelperMixin, sampler_lib.TrainingSampler):
    """TF1's ``TrainingHelper(inputs, sequence_length, time_major=False)``: see ``TrainingSampler``."""

    def __init__(self, inputs, sequence_length, time_major=False):
        super().__init__(time_major=time_major)
        self._store(inputs, sequence_length=sequence_length)

    @property
    def inputs(self):
        """The ground-truth inputs given at construction."""
        return self._helper_args[0]

    @property
    def init_kwargs(self) -> dict:
        """The other ``initialize`` arguments given at construction (``sequence_length``)."""
        return dict(self._helper_kwargs)


class ScheduledEmbeddingTrainingHelper(_HelperMixin, sampler_lib.ScheduledEmbeddingTrainingSampler):
    """TF1's ``ScheduledEmbeddingTrainingHelper(inputs, sequence_length, embedding,
    sampling_probability, time_major=False, seed=None, scheduling_seed=None)``;
    ``embedding`` is a matrix or a callable."""

    def __init__(
        self,
        inputs,
        sequence_length,
        embedding,
        sampling_probability,
        time_major=False,
        seed=None,
        scheduling_seed=None,
    ):
        super().__init__(
            sampling_probability,
            embedding_fn=embedding if callable(embedding) else None,
            time_major=time_major,
            seed=seed,
            scheduling_seed=scheduling_seed,
        )
        self._store(inputs, sequence_length=sequence_length, embedding=None if callable(embedding) else embedding)


class GreedyEmbeddingHelper(_HelperMixin, sampler_lib.GreedyEmbeddingSampler):
    """TF1's ``GreedyEmbeddingHelper(embedding, start_tokens, end_token)``; ``embedding`` is a
    matrix or a callable."""

    def __init__(self, embedding, start_tokens, end_token):
        super().__init__(embedding if callable(embedding) else None)
        self._store(None if callable(embedding) else embedding, start_tokens=start_tokens, end_token=end_token)


class SampleEmbeddingHelper(_HelperMixin, sampler_lib.SampleEmbeddingSampler):
    """TF1's ``SampleEmbeddingHelper(embedding, start_tokens, end_token, softmax_temperature=None,
    seed=None)``."""

    def __init__(self, embedding, start_tokens, end_token, softmax_temperature=None, seed=None):
        super().__init__(embedding if callable(embedding) else None, softmax_temperature=softmax_temperature, seed=seed)
        self._store(None if callable(embedding) else embedding, start_tokens=start_tokens, end_token=end_token)


class ScheduledOutputTrainingHelper(_HelperMixin, sampler_lib.ScheduledOutputTrainingSampler):
    """TF1's ``ScheduledOutputTrainingHelper(inputs, sequence_length, sampling_probability,
    time_major=False, seed=None, next_inputs_fn=None, auxiliary_inputs=None)``: see
    ``ScheduledOutputTrainingSampler`` (its ``sample_ids`` are int32 0/1, as in TF Addons,
    where TF1's were bool)."""

    def __init__(self, inputs, sequence_length, sampling_probability, time_major=False, seed=None,
                 next_inputs_fn=None, auxiliary_inputs=None):
        super().__init__(sampling_probability, time_major=time_major, seed=seed, next_inputs_fn=next_inputs_fn)
        self._store(inputs, sequence_length=sequence_length, auxiliary_inputs=auxiliary_inputs)


class InferenceHelper(_HelperMixin, sampler_lib.InferenceSampler):
    """TF1's ``InferenceHelper(sample_fn, sample_shape, sample_dtype, start_inputs, end_fn,
    next_inputs_fn=None)``: see ``InferenceSampler``."""

    def __init__(self, sample_fn, sample_shape, sample_dtype, start_inputs, end_fn, next_inputs_fn=None):
        super().__init__(sample_fn, sample_shape, sample_dtype, end_fn, next_inputs_fn=next_inputs_fn)
        self._store(start_inputs)


class CustomHelper(sampler_lib.CustomSampler):
    """TF1's ``CustomHelper(initialize_fn, sample_fn, next_inputs_fn, sample_ids_shape=None,
    sample_ids_dtype=None)``: ``initialize_fn()`` takes no arguments (TF1), and
    ``dynamic_decode(decoder)`` calls ``initialize()`` without any."""

    def initialize(self, *args, **kwargs):
        finished, next_inputs = self._initialize_fn(*args, **kwargs)
        if self._batch_size is None:
            self._batch_size = tf.size(finished)
        return finished, next_inputs
