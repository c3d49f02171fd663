"""The decoder contract and ``dynamic_decode``: TF1 contrib's / TF Addons' decoding loop.

A decoder turns a cell into a step function over *decoding* time::

    finished, inputs, state = decoder.initialize(...)          # once
    outputs, state, inputs, finished = decoder.step(t, inputs, state, training)   # per step
    outputs, state = decoder.finalize(outputs, state, lengths)  # optional, once

* ``inputs``: (structure of) tensors fed to the cell at step ``t`` (``[batch, depth]``).
* ``state``: (structure of) tensors and ``tf.TensorArray`` s (e.g. an attention
  wrapper's ``alignment_history``).
* ``finished``: bool ``[batch]``, which rows are done.
* ``outputs``: a namedtuple of tensors (e.g. ``BasicDecoderOutput``), one per step.

:func:`dynamic_decode` runs that loop as **one** ``tf.while_loop`` (eagerly, in a
``tf.function``, and in an XLA program when ``maximum_iterations`` is given or the decoder
bounds its steps), writes each step's outputs into ``tf.TensorArray`` s and stacks them at
the end.
"""

import abc
import contextlib
import inspect
import numbers
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq._checks import check_bool
from tfseq._keras import keras_mask
from tfseq._xla import inside_xla
from tfseq.rnn_cell.keras_dropout import keras_dropout_cells, keras_dropout_masks
from tfseq.rnn_cell.wrappers import build_cell


class _DecoderContract:
    """What :func:`dynamic_decode` reads of any decoder, shared by :class:`Decoder` and
    :class:`BaseDecoder`: the three properties a subclass must define, the optional
    ``finalize`` and ``tracks_own_finished``."""

    @property
    def batch_size(self):
        raise NotImplementedError

    @property
    def output_size(self):
        raise NotImplementedError

    @property
    def output_dtype(self):
        raise NotImplementedError

    def finalize(self, outputs, final_state, sequence_lengths):
        raise NotImplementedError  # optional: dynamic_decode skips it

    @property
    def tracks_own_finished(self):
        """True when the decoder reorders rows, so ``dynamic_decode`` must not OR ``finished``."""
        return False

    @property
    def steps_bound(self) -> int | None:
        """After ``initialize``: a static number of steps the decoder never runs past, or None
        (the default). Inside an XLA program, where a loop's outputs need a static size,
        :func:`dynamic_decode` uses it when ``maximum_iterations`` is not given."""
        return None


class Decoder(_DecoderContract, metaclass=abc.ABCMeta):
    """TF1's abstract decoder: ``initialize()`` takes no inputs (they were given at construction).

    Subclasses define ``batch_size``, ``output_size`` (structure of ``TensorShape`` s
    without the batch), ``output_dtype``, :meth:`initialize`, :meth:`step` and, when
    they reorder rows between steps (beam search), ``tracks_own_finished = True``.
    """

    @abc.abstractmethod
    def initialize(self, name=None):
        """``(finished [batch] bool, first inputs, initial state)``."""

    @abc.abstractmethod
    def step(self, time, inputs, state, training=None, name=None):
        """``(outputs, next_state, next_inputs, finished)`` for step ``time``."""


class BaseDecoder(_DecoderContract, keras.layers.Layer):
    """A decoder that is a Keras layer: ``decoder(inputs, initial_state=..., **kwargs)`` decodes.

    Calling the layer runs :func:`dynamic_decode` with the loop settings given here;
    ``inputs`` and the keyword arguments go to :meth:`initialize` (e.g. the
    ``TrainingSampler``'s ``sequence_length``, or ``start_tokens``/``end_token``).

    Args:
        output_time_major: return ``[time, batch, ...]`` outputs instead of ``[batch, time, ...]``.
        impute_finished: past a row's end, zero its outputs and copy its state through.
        maximum_iterations: ``None`` (decode until every row is finished) or an int ``>= 0``.
        parallel_iterations: TF1's ``tf.while_loop`` knob, passed on (default 32).
        swap_memory: passed on to ``tf.while_loop``.

    Call arguments:
        inputs: what the sampler's (or decoder's) ``initialize`` reads first.
        initial_state: the cell's initial state.
        training: passed to the cell at every step (dropout).
        **kwargs: further ``initialize`` arguments. Without a ``mask`` or a
            ``sequence_length``, the Keras mask that ``inputs`` carries (from
            ``Embedding(mask_zero=True)``, say) is passed as ``mask`` where :meth:`initialize`
            takes one (:meth:`reads_mask`), as tf.keras 2 passed it to TF Addons' decoders
            (``TrainingSampler`` reads each row's length from it; TF Addons raised where
            ``sequence_length`` was given too). The outputs carry no Keras mask.

    Returns:
        ``(final_outputs, final_state, final_sequence_lengths)``.

    Raises:
        ValueError: ``maximum_iterations`` is negative or not an integer.
    """

    def __init__(
        self,
        output_time_major: bool = False,
        impute_finished: bool = False,
        maximum_iterations: Any = None,
        parallel_iterations: int = 32,
        swap_memory: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True  # it reads a mask (compute_mask: its outputs carry none)
        owner = type(self).__name__
        self.output_time_major = check_bool(owner, "output_time_major", output_time_major)
        self.impute_finished = check_bool(owner, "impute_finished", impute_finished)
        self.maximum_iterations = check_maximum_iterations(owner, maximum_iterations)
        self.parallel_iterations = parallel_iterations
        self.swap_memory = check_bool(owner, "swap_memory", swap_memory)

    def build(self, input_shape=None):
        # The cell and output layer build at their first call inside the loop.
        self.built = True

    def __call__(self, *args, **kwargs):
        if "mask" not in kwargs and kwargs.get("sequence_length") is None:  # given lengths win
            mask = _keras_mask(args[0] if args else kwargs.get("inputs"))
            if mask is not None and self.reads_mask():
                kwargs["mask"] = mask
        if any(isinstance(x, tf.TensorArray) for x in tf.nest.flatten((args, kwargs))):
            # Keras 3's Layer.__call__ refuses arguments mixing tensors and TensorArrays (an
            # attention state with alignment_history): call directly (sublayers still go through Keras).
            self.built = True
            return self.call(*args, **kwargs)
        # Keras 3 also refuses Python numbers next to tensors (end_token=2, start_tokens=[1, 1]).
        kwargs = {k: v if k == "training" else _numbers_as_tensors(v) for k, v in kwargs.items()}
        return super().__call__(*args, **kwargs)

    def call(self, inputs, initial_state=None, training=None, **kwargs):
        return dynamic_decode(
            self,
            output_time_major=self.output_time_major,
            impute_finished=self.impute_finished,
            maximum_iterations=self.maximum_iterations,
            parallel_iterations=self.parallel_iterations,
            swap_memory=self.swap_memory,
            training=training,
            decoder_init_input=inputs,
            decoder_init_kwargs=dict(kwargs, initial_state=initial_state),
        )

    def initialize(self, inputs, initial_state=None, **kwargs):
        raise NotImplementedError

    def reads_mask(self) -> bool:
        """Whether :meth:`initialize` takes a ``mask`` (then calling the decoder passes it the Keras
        mask its inputs carry)."""
        return "mask" in inspect.signature(self.initialize).parameters

    def step(self, time, inputs, state, training=None):
        raise NotImplementedError

    def decode_at_once(self, inputs: Any, init_kwargs: dict, output_time_major: bool, impute_finished: bool,
                       maximum_iterations: Any, training: bool | None) -> tuple | None:
        """:func:`dynamic_decode`'s result by a faster path than the per-step loop, or None (the
        default: run the loop). ``inputs`` and ``init_kwargs`` are what :meth:`initialize` would
        get (None and ``{}`` in TF1's spelling, everything given at construction); a subclass
        that answers must return exactly what the loop returns (``BasicDecoder``: teacher
        forcing through an attention wrapper, :mod:`tfseq.seq2seq.fused_attention`)."""
        return None

    def compute_mask(self, inputs, mask=None):
        return None  # the mask gives the rows' lengths; the outputs carry none (TF Addons' neither)

    def get_config(self):
        return {
            **super().get_config(),
            "output_time_major": self.output_time_major,
            "impute_finished": self.impute_finished,
            "maximum_iterations": self.maximum_iterations,
            "parallel_iterations": self.parallel_iterations,
            "swap_memory": self.swap_memory,
        }


def _keras_mask(inputs):
    """The Keras mask ``inputs`` carries (:func:`tfseq._keras.keras_mask`), or None.

    Raises:
        ValueError: nested ``inputs`` of which some carry a mask (pass ``mask=`` or
            ``sequence_length=`` for them).
    """
    if not tf.nest.is_nested(inputs):
        return keras_mask(inputs)
    if any(keras_mask(x) is not None for x in tf.nest.flatten(inputs)):
        raise ValueError("decoder inputs: nested inputs carry Keras masks; pass mask= or sequence_length= "
                         "for the rows' lengths")
    return None


def _numbers_as_tensors(value):
    if isinstance(value, (numbers.Number, np.ndarray, np.generic)) and not isinstance(value, bool):
        return tf.convert_to_tensor(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, numbers.Number) for v in value):
        return tf.convert_to_tensor(value)
    return value


def check_maximum_iterations(owner, value):
    """``None`` or an integer ``>= 0`` (a Python/NumPy int or a scalar tensor); negative is rejected."""
    if value is None:
        return None
    if isinstance(value, (tf.Tensor, tf.Variable)):
        static = tf.get_static_value(value)
        if value.shape.rank not in (None, 0):
            raise ValueError(f"{owner}: maximum_iterations must be a scalar, got shape {value.shape}")
        if static is not None and int(static) < 0:
            raise ValueError(f"{owner}: maximum_iterations must be >= 0, got {int(static)}")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{owner}: maximum_iterations must be None or an integer >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{owner}: maximum_iterations must be >= 0, got {value!r}")
    return int(value)


def transpose_batch_time(tensor):
    """``[a, b, ...] -> [b, a, ...]`` for tensors of rank >= 2 (others unchanged)."""
    if tensor.shape.rank is not None and tensor.shape.rank < 2:
        return tensor
    perm = tf.concat(([1, 0], tf.range(2, tf.rank(tensor))), axis=0)
    return tf.transpose(tensor, perm)


def _with_batch(batch_size, shape):
    """``[batch] + shape`` as a static shape (batch may be unknown), for TensorArray elements."""
    static_batch = tf.get_static_value(batch_size)
    return tf.TensorShape([static_batch]).concatenate(tf.TensorShape(shape))


def _zeros(batch_size, shape, dtype):
    shape = tf.TensorShape(shape)
    return tf.zeros(tf.concat([[batch_size], tf.constant(shape.as_list(), tf.int32)], 0), dtype)


def _copy_through_finished(finished, new, current):
    """State past a row's end: keep ``current`` where ``finished`` (TensorArrays, scalars pass)."""
    if isinstance(current, tf.TensorArray) or current.shape.rank == 0:
        return new
    new.set_shape(current.shape)
    mask = tf.reshape(finished, tf.concat([tf.shape(finished), tf.ones([tf.rank(new) - 1], tf.int32)], 0))
    return tf.where(mask, current, new)


def _scope_name(scope):
    if scope is None:
        return "decoder"
    if isinstance(scope, str):
        return scope
    name = getattr(scope, "name", None)
    if isinstance(name, str):
        return name  # tf.compat.v1.variable_scope objects (VariableScope)
    raise TypeError(f"dynamic_decode: scope must be a string or a variable scope with a name, got {scope!r}")


def _check_batch_of_one(batch_size):
    """TF Addons' check, with its error type (``InvalidArgumentError``, raised while tracing when
    the batch is static): code and tests that catch it keep working."""
    tf.debugging.assert_equal(
        batch_size, 1,
        message="dynamic_decode: enable_tflite_convertible=True needs a batch size of 1 "
        "(TFLite conversion requires a batch size of 1)",
    )


def _keras_dropout_masks(decoder, inputs, batch_size):
    """Keras' dropout rule for the Keras cells in ``decoder.cell`` (:mod:`tfseq.rnn_cell.keras_dropout`):
    masks drawn before the loop for the rows the cell steps (``batch_size``, times the beam
    width of a beam search), the cell built first where one of them is not yet."""
    cell = getattr(decoder, "cell", None)
    cells = [] if cell is None else keras_dropout_cells(cell)
    if not cells:
        return contextlib.nullcontext()
    flat = tf.nest.flatten(inputs)
    if not all(layer.built for layer in cells) and len(flat) == 1 and flat[0].shape.rank:
        build_cell(cell, (None, flat[0].shape[-1]))  # a step's input: [rows, depth]
    return keras_dropout_masks(cell, batch_size * getattr(decoder, "beam_width", 1))


def dynamic_decode(
    decoder: Any,
    output_time_major: bool = False,
    impute_finished: bool = False,
    maximum_iterations: Any = None,
    parallel_iterations: int = 32,
    swap_memory: bool = False,
    training: bool | None = None,
    scope: Any = None,
    enable_tflite_convertible: bool = False,
    **kwargs: Any,
) -> tuple:
    """Runs ``decoder`` until every row is finished (or ``maximum_iterations`` steps).

    One ``tf.while_loop``: ``initialize`` once, then ``step`` per iteration, outputs
    written to ``tf.TensorArray`` s. A row's ``sequence_length`` is the step at which it
    finished plus one (decoders that track their own finished state, like beam search,
    report theirs through ``state.lengths``).

    Args:
        decoder: a :class:`Decoder` (TF1: ``initialize()`` without arguments) or a
            :class:`BaseDecoder` layer.
        output_time_major: ``[time, batch, ...]`` outputs if True, else ``[batch, time, ...]``.
        impute_finished: zero outputs and copy the state through for finished rows, so the
            final state is each row's state at its last step and no gradient flows past it.
        maximum_iterations: ``None`` or an int (or int32 scalar tensor) ``>= 0``. Inside an XLA
            program, where outputs are then ``maximum_iterations`` long (zeros past the last
            step), since XLA needs static shapes, it is required unless the decoder bounds its
            own steps (``decoder.steps_bound``: teacher forcing through a ``TrainingSampler``,
            ``TrainingHelper`` or a scheduled one, with inputs of a static length, as
            tensorflow/nmt's training graph decodes); the outputs are then as long as outside
            XLA, the steps run. Such a sampler given a ``sequence_length`` beyond its inputs'
            length fails outside XLA (a read past the inputs) and stops at their length inside it.
        parallel_iterations, swap_memory: passed to ``tf.while_loop``.
        training: passed to ``decoder.step`` (and on to the cell).
        scope: name scope of the ops: a string, or an object with a ``name`` (a TF1
            ``tf.compat.v1.variable_scope``, as tensorflow/nmt passes it; only its name is used).
        enable_tflite_convertible: TF Addons' switch for TFLite export. Here it checks that the
            batch is 1, needs ``maximum_iterations`` and returns TF Addons' shapes for it: fixed-size
            outputs ``maximum_iterations`` long (zeros past the last step), every step's output
            flattened, ``[time, prod(shape) or 1]`` time major, ``[1, time, prod(shape) or 1]``
            batch major (so a scalar ``sample_id`` gets a trailing axis of 1). The values are
            those of the default path; tfseq does not itself check TFLite conversion.
        **kwargs: ``decoder_init_input`` / ``decoder_init_kwargs`` for a :class:`BaseDecoder`.

    Returns:
        ``(final_outputs, final_state, final_sequence_lengths)``: outputs with the
        structure of ``decoder.output_size``, the last state, int32 ``[batch]`` lengths.

    Raises:
        ValueError: negative or non-integer ``maximum_iterations``; inside an XLA program,
            no ``maximum_iterations`` and no ``decoder.steps_bound``, or a ``TensorArray`` in the
            state (``alignment_history``).
    """
    maximum_iterations = check_maximum_iterations("dynamic_decode", maximum_iterations)
    check_bool("dynamic_decode", "enable_tflite_convertible", enable_tflite_convertible)
    with tf.name_scope(_scope_name(scope)):
        if isinstance(decoder, BaseDecoder) and not enable_tflite_convertible and set(kwargs) <= {
                "decoder_init_input", "decoder_init_kwargs"}:
            at_once = decoder.decode_at_once(
                kwargs.get("decoder_init_input"), dict(kwargs.get("decoder_init_kwargs") or {}), output_time_major,
                impute_finished, maximum_iterations, training)
            if at_once is not None:
                return at_once
        in_xla = inside_xla()
        if maximum_iterations is not None:
            maximum_iterations = tf.convert_to_tensor(maximum_iterations, tf.int32, name="maximum_iterations")
            if not in_xla and tf.get_static_value(maximum_iterations) is None:
                tf.debugging.assert_non_negative(maximum_iterations, "dynamic_decode: maximum_iterations must be >= 0")
        elif enable_tflite_convertible:
            raise ValueError(
                "dynamic_decode: enable_tflite_convertible=True needs maximum_iterations (its outputs have a "
                "fixed length), got None"
            )

        if isinstance(decoder, BaseDecoder) and "decoder_init_input" in kwargs:
            init_input = kwargs.pop("decoder_init_input")
            init_kwargs = kwargs.pop("decoder_init_kwargs", {}) or {}
            finished, inputs, state = decoder.initialize(init_input, **init_kwargs)
        else:
            finished, inputs, state = decoder.initialize()
        if kwargs:
            raise TypeError(f"dynamic_decode: unexpected keyword arguments {sorted(kwargs)}")
        # Inside XLA the outputs need a static size: a decoder that can say how many steps it may take
        # at most (teacher forcing: its inputs' length) stands in for a missing maximum_iterations,
        # and its outputs are cut back to the steps it ran, as outside XLA.
        steps_run_only = False
        if in_xla and maximum_iterations is None:
            bound = getattr(decoder, "steps_bound", None)
            if bound is None:
                raise ValueError(
                    "dynamic_decode: maximum_iterations is required inside an XLA program, got None (only "
                    "teacher forcing with inputs of a static length bounds the loop by itself)"
                )
            maximum_iterations, steps_run_only = tf.constant(bound, tf.int32, name="maximum_iterations"), True
        if in_xla and any(isinstance(x, tf.TensorArray) for x in tf.nest.flatten(state)):
            raise ValueError(
                "dynamic_decode: a TensorArray in the decoder state (an attention alignment_history) "
                "cannot grow inside an XLA program; use alignment_history=False or jit_compile=False"
            )

        if maximum_iterations is not None:
            finished = tf.logical_or(finished, maximum_iterations <= 0)
        batch_size = decoder.batch_size
        if enable_tflite_convertible:
            _check_batch_of_one(batch_size)
        output_size, output_dtype = decoder.output_size, decoder.output_dtype
        zero_outputs = tf.nest.map_structure(lambda s, d: _zeros(batch_size, s, d), output_size, output_dtype)
        # XLA needs a static number of TensorArray elements; TFLite export (TF Addons) too
        fixed_size = in_xla or enable_tflite_convertible
        outputs_ta = tf.nest.map_structure(
            lambda s, d: tf.TensorArray(
                d,
                size=maximum_iterations if fixed_size else 0,
                dynamic_size=not fixed_size,
                element_shape=_with_batch(batch_size, s),
            ),
            output_size,
            output_dtype,
        )
        lengths = tf.zeros_like(finished, tf.int32)  # [batch]

        def condition(time, outputs_ta, state, inputs, finished, lengths):
            return tf.logical_not(tf.reduce_all(finished))

        def body(time, outputs_ta, state, inputs, finished, lengths):
            outputs, next_state, next_inputs, step_finished = decoder.step(time, inputs, state, training)
            if decoder.tracks_own_finished:
                next_finished = step_finished
                own_lengths = getattr(next_state, "lengths", None)
                next_lengths = (
                    tf.where(finished, lengths, time + 1) if own_lengths is None else tf.cast(own_lengths, tf.int32)
                )
            else:
                next_finished = tf.logical_or(step_finished, finished)
                next_lengths = tf.where(finished, lengths, time + 1)
            tf.nest.assert_same_structure(state, next_state)
            tf.nest.assert_same_structure(inputs, next_inputs)
            if impute_finished:
                outputs = tf.nest.map_structure(
                    lambda out, zero: _copy_through_finished(finished, out, zero), outputs, zero_outputs
                )
                next_state = tf.nest.map_structure(
                    lambda new, cur: _copy_through_finished(finished, new, cur), next_state, state
                )
            outputs_ta = tf.nest.map_structure(lambda ta, out: ta.write(time, out), outputs_ta, outputs)
            return time + 1, outputs_ta, next_state, next_inputs, next_finished, next_lengths

        with _keras_dropout_masks(decoder, inputs, batch_size):
            steps, outputs_ta, state, _, _, lengths = tf.while_loop(
                condition,
                body,
                loop_vars=(tf.constant(0, tf.int32), outputs_ta, state, inputs, finished, lengths),
                parallel_iterations=parallel_iterations,
                maximum_iterations=maximum_iterations,
                swap_memory=swap_memory,
            )
        final_outputs = tf.nest.map_structure(lambda ta: ta.stack(), outputs_ta)  # [time, batch, ...]
        if steps_run_only:
            final_outputs = tf.nest.map_structure(lambda x: x[:steps], final_outputs)
        try:
            final_outputs, state = decoder.finalize(final_outputs, state, lengths)
        except NotImplementedError:
            pass
        if enable_tflite_convertible:  # TF Addons' shapes: [time, flat] per output, batch 1 restored below
            final_outputs = tf.nest.map_structure(lambda x: tf.reshape(x, [tf.shape(x)[0], -1]), final_outputs)
            if not output_time_major:
                final_outputs = tf.nest.map_structure(lambda x: x[:, None], final_outputs)
        if not output_time_major:
            final_outputs = tf.nest.map_structure(transpose_batch_time, final_outputs)
    return final_outputs, state, lengths
