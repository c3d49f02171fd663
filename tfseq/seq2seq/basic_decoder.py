"""``BasicDecoder``: a cell, an optional output layer and a sampler, stepped by ``dynamic_decode``."""

import collections
import inspect
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq._checks import serialize_optional
from tfseq._xla import argmax
from tfseq.rnn_cell.base import call_cell
from tfseq.rnn_cell.wrappers import check_cell
from tfseq.seq2seq import fused_attention, fused_attention_decode
from tfseq.seq2seq.decoder import BaseDecoder
from tfseq.seq2seq.helper import TrainingHelper
from tfseq.seq2seq.sampler import Sampler, TrainingSampler, mask_lengths


class BasicDecoderOutput(collections.namedtuple("BasicDecoderOutput", ("rnn_output", "sample_id"))):
    """One step of a ``BasicDecoder`` (stacked over time by ``dynamic_decode``).

    Attributes:
        rnn_output: ``[batch, (time,) vocab]``, the output layer's (else the cell's) output.
        sample_id: ``[batch, (time,)]`` int32, the sampler's ids.
    """

    __slots__ = ()


OUTPUT_LAYER_HINT = (
    "output_layer must be a Keras 3 layer or None (for TF1's tf.compat.v1.layers.Dense(units, use_bias=...) or "
    "tensorflow/nmt's layers_core.Dense, write keras.layers.Dense(units, use_bias=...): the same kernel "
    "[depth, units] and bias)"
)


def rnn_output_size(cell, output_layer):
    """Depth of a decoder's per-step output (``TensorShape`` without batch)."""
    size = tf.TensorShape(cell.output_size)
    if output_layer is None:
        return size
    shape = output_layer.compute_output_shape(tuple(tf.TensorShape([None]).concatenate(size).as_list()))
    return tf.TensorShape(shape[1:])


def check_end_token(owner, end_token, cell, output_layer):
    """``end_token`` must index the output vocabulary when both are known statically."""
    value = tf.get_static_value(end_token)
    if value is None:
        return
    vocab = rnn_output_size(cell, output_layer)[-1]
    if vocab is not None and not 0 <= int(value) < vocab:
        raise ValueError(f"{owner}: end_token must be in [0, {vocab}) (the output vocabulary), got {int(value)}")


def check_state_batch(owner, initial_state, batch_size, hint=""):
    """Every state tensor's first dimension must be ``batch_size`` (when both are static)."""
    expected = tf.get_static_value(batch_size)
    if expected is None:
        return
    for tensor in tf.nest.flatten(initial_state):
        if isinstance(tensor, tf.TensorArray) or tensor.shape.rank in (None, 0):
            continue
        if tensor.shape[0] is not None and tensor.shape[0] != expected:
            raise ValueError(
                f"{owner}: initial_state has batch size {tensor.shape[0]} but the decoder's batch "
                f"is {int(expected)}{hint}"
            )


def _given_at_construction(inputs, initial_state, kwargs) -> bool:
    """TF1's spelling: ``BasicDecoder(cell, helper, initial_state)`` then ``initialize()`` or
    ``dynamic_decode(decoder)`` with nothing, the inputs held by the helper."""
    return inputs is None and initial_state is None and not kwargs


@keras.saving.register_keras_serializable(package="tfseq")
class BasicDecoder(BaseDecoder):
    """Decodes with ``cell`` and a sampler: at step ``t``

        (o_t, s_t) = cell(x_t, s_{t-1});   y_t = output_layer(o_t);   id_t = sampler.sample(y_t)
        x_{t+1} = sampler.next_inputs(y_t, id_t)     (ground truth, embedding(id_t), ...)

    Args:
        cell: any RNN cell (tfseq cells and wrappers, ``AttentionWrapper``, Keras cells).
        sampler: a :class:`~tfseq.seq2seq.sampler.Sampler` (or TF1 ``*Helper``; by name
            also ``helper=``, TF1's argument name).
        output_layer: optional layer on the cell output (e.g. ``keras.layers.Dense(vocab)``).
        initial_state: TF1's spelling ``BasicDecoder(cell, helper, initial_state, output_layer)``
            (then ``dynamic_decode(decoder)`` needs no inputs). Positionally, a third
            argument that is not a layer is taken as this state.
        **kwargs: loop settings of :class:`~tfseq.seq2seq.decoder.BaseDecoder`
            (``maximum_iterations``, ``impute_finished``, ``output_time_major``, ...).

    Call arguments (sampler spelling): ``decoder(inputs, initial_state=..., training=None,
    **sampler_kwargs)``; ``inputs`` are the sampler's first ``initialize`` argument (the
    ground truth ``[batch, time, depth]`` for ``TrainingSampler``, ``None`` or an embedding
    matrix for ``GreedyEmbeddingSampler`` together with ``start_tokens=``/``end_token=``).

    Returns:
        ``(BasicDecoderOutput(rnn_output [batch, time, vocab], sample_id [batch, time]),
        final_state, sequence_lengths [batch])``.

    Raises:
        TypeError: ``cell`` is not an RNN cell or ``sampler`` not a Sampler.
        ValueError: ``end_token`` outside ``[0, vocab)``; ``initial_state``'s batch differs
            from the sampler's.
    """

    def __init__(self, cell: Any, sampler: Sampler | None = None, *args: Any,
                 output_layer: keras.layers.Layer | None = None, initial_state: Any = None, **kwargs: Any) -> None:
        if "helper" in kwargs:  # TF1's name for the sampler: BasicDecoder(cell=..., helper=..., initial_state=...)
            if sampler is not None:
                raise TypeError("BasicDecoder: sampler and helper given both (helper is TF1's name for the sampler)")
            sampler = kwargs.pop("helper")
        if sampler is None:
            raise TypeError("BasicDecoder: missing sampler (TF1: helper)")
        if len(args) > 2:
            raise TypeError(f"BasicDecoder: at most 4 positional arguments, got {2 + len(args)}")
        if len(args) == 1 and (args[0] is None or isinstance(args[0], keras.layers.Layer)):
            args = (initial_state, args[0])  # TFA: (cell, sampler, output_layer)
        if args:  # TF1: (cell, helper, initial_state[, output_layer])
            if (initial_state is not None and args[0] is not None) or (len(args) == 2 and output_layer is not None):
                raise TypeError("BasicDecoder: initial_state or output_layer given twice")
            initial_state = args[0] if args[0] is not None else initial_state
            output_layer = args[1] if len(args) == 2 else output_layer
        if isinstance(cell, keras.layers.Layer):
            kwargs.setdefault("dtype", cell.dtype_policy)  # float64 cells decode float64 inputs
        super().__init__(**kwargs)
        self.cell = check_cell("BasicDecoder", "cell", cell)
        if not isinstance(sampler, Sampler):
            raise TypeError(f"BasicDecoder: sampler must be a tfseq.seq2seq Sampler, got {sampler!r}")
        if output_layer is not None and not isinstance(output_layer, keras.layers.Layer):
            raise TypeError(f"BasicDecoder: {OUTPUT_LAYER_HINT}, got {output_layer!r}")
        self.sampler = sampler
        self.output_layer = output_layer
        self._tf1_initial_state = initial_state

    def decode_at_once(self, inputs: Any, init_kwargs: dict, output_time_major: bool, impute_finished: bool,
                       maximum_iterations: Any, training: bool | None) -> tuple | None:
        # Teacher forcing through an AttentionWrapper that seq2seq.fused_attention covers runs as
        # its one hoisted loop, the output layer after it as one batched matmul; everything else
        # (and the reference) is dynamic_decode's per-step loop.
        initial_state = init_kwargs.pop("initial_state", None)
        if _given_at_construction(inputs, initial_state, init_kwargs):
            if not isinstance(self.sampler, TrainingHelper):
                return None
            inputs, init_kwargs, initial_state = self.sampler.inputs, self.sampler.init_kwargs, self._tf1_initial_state
        if isinstance(inputs, (np.ndarray, list)):
            inputs = tf.convert_to_tensor(inputs)
        loop = fused_attention_decode.DecodeLoop(output_time_major, impute_finished, maximum_iterations)
        if "mask" in init_kwargs and type(self.sampler) is TrainingSampler and init_kwargs.get("sequence_length") is None:
            # a mask gives the rows' lengths, as the sampler reads it (the per-step loop raises for both);
            # read only where the rest of the call takes the hoisted loop
            init_kwargs = dict(init_kwargs)
            mask = init_kwargs.pop("mask")
            if mask is not None:
                if fused_attention_decode.decoder_plan(self, inputs, initial_state, init_kwargs, training,
                                                       loop).path != fused_attention.HOISTED:
                    return None
                init_kwargs["sequence_length"] = mask_lengths("TrainingSampler", mask, self.sampler.time_major)
        if fused_attention_decode.decoder_plan(self, inputs, initial_state, init_kwargs, training, loop).path != (
                fused_attention.HOISTED):
            return None
        time_major = self.sampler.time_major
        check_state_batch("BasicDecoder", initial_state, inputs.shape[1 if time_major else 0])
        given_lengths = init_kwargs.get("sequence_length")
        outputs, state, lengths = fused_attention_decode.decoder_teacher_forced(
            self.cell, inputs, initial_state, given_lengths, training, time_major, impute_finished)
        if self.output_layer is not None:
            outputs = self.output_layer(outputs)  # [batch, T, ...] (or [T, batch, ...]), one batched matmul
            if impute_finished and given_lengths is not None:  # finished rows' outputs are zeros, as imputed
                outputs = fused_attention_decode.zero_past_lengths(outputs, lengths, time_major)
        if time_major != output_time_major:
            outputs = tf.transpose(outputs, [1, 0, 2])
        outputs = fused_attention_decode.pad_steps(outputs, maximum_iterations, output_time_major)
        return BasicDecoderOutput(outputs, argmax(outputs)), state, lengths

    def reads_mask(self) -> bool:
        return "mask" in inspect.signature(self.sampler.initialize).parameters  # the sampler's initialize reads it

    def initialize(self, inputs=None, initial_state=None, **kwargs):
        if _given_at_construction(inputs, initial_state, kwargs):
            finished, first_inputs = self.sampler.initialize()
            initial_state = self._tf1_initial_state
        else:
            finished, first_inputs = self.sampler.initialize(inputs, **kwargs)
        if initial_state is None:
            raise ValueError("BasicDecoder: initial_state is required (e.g. cell.get_initial_state(batch_size=...))")
        if getattr(self.sampler, "end_token", None) is not None:
            check_end_token("BasicDecoder", self.sampler.end_token, self.cell, self.output_layer)
        check_state_batch("BasicDecoder", initial_state, self.sampler.batch_size)
        self._cell_dtype = tf.nest.flatten(initial_state)[0].dtype
        return finished, first_inputs, initial_state

    @property
    def batch_size(self):
        return self.sampler.batch_size

    @property
    def steps_bound(self) -> int | None:
        """The sampler's (:attr:`Sampler.steps_bound`): teacher forcing's inputs' static length."""
        return self.sampler.steps_bound

    @property
    def output_size(self):
        return BasicDecoderOutput(rnn_output_size(self.cell, self.output_layer), self.sampler.sample_ids_shape)

    @property
    def output_dtype(self):
        return BasicDecoderOutput(self._cell_dtype, self.sampler.sample_ids_dtype)

    def step(self, time, inputs, state, training=None):
        cell_outputs, cell_state = call_cell(self.cell, inputs, state, training)  # also TF1-style __call__ cells
        cell_state = tf.nest.pack_sequence_as(state, tf.nest.flatten(cell_state))  # Keras cells return lists
        if self.output_layer is not None:
            cell_outputs = self.output_layer(cell_outputs)
        sample_ids = self.sampler.sample(time=time, outputs=cell_outputs, state=cell_state)
        finished, next_inputs, next_state = self.sampler.next_inputs(
            time=time, outputs=cell_outputs, state=cell_state, sample_ids=sample_ids
        )
        return BasicDecoderOutput(cell_outputs, sample_ids), next_state, next_inputs, finished

    def get_config(self):
        if self._tf1_initial_state is not None:
            raise TypeError("BasicDecoder: a decoder holding a TF1 initial_state cannot be saved; pass it when calling")
        return {
            **super().get_config(),
            "cell": keras.saving.serialize_keras_object(self.cell),
            "sampler": keras.saving.serialize_keras_object(self.sampler),
            "output_layer": serialize_optional(self.output_layer),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("cell", "sampler", "output_layer"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
