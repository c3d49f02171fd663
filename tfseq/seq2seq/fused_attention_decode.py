"""``dynamic_decode``'s teacher forcing through the hoisted attention loop
(:mod:`tfseq.seq2seq.fused_attention`): which ``BasicDecoder(cell, TrainingSampler())`` calls it
covers (:func:`decoder_plan`) and what it returns for them (:func:`decoder_teacher_forced`:
outputs, final state and lengths as the per-step loop's, rows ending early and imputed ones
included). ``BasicDecoder.decode_at_once`` routes through here.
"""

from typing import Any, NamedTuple

import tensorflow as tf

from tfseq._xla import inside_xla
from tfseq.nn.fused import Plan
from tfseq.rnn_cell.fusion import placed_cell
from tfseq.seq2seq import fused_attention  # its plan and loop looked up at call time
from tfseq.seq2seq.fused_attention import PER_STEP
from tfseq.seq2seq.helper import TrainingHelper
from tfseq.seq2seq.sampler import TrainingSampler


class DecodeLoop(NamedTuple):
    """``dynamic_decode``'s loop settings (``maximum_iterations``: None, an int or a tensor)."""

    output_time_major: bool = False
    impute_finished: bool = False
    maximum_iterations: Any = None


def decoder_plan(decoder, inputs, initial_state, kwargs, training=None, loop: DecodeLoop | None = None) -> Plan:
    """Which path ``dynamic_decode`` over ``BasicDecoder(cell, TrainingSampler())`` with ``inputs``,
    ``initial_state`` and the sampler's other arguments ``kwargs`` takes, under ``loop`` (default:
    the decoder's own settings, as calling it uses). The hoisted loop needs the teacher forcing
    ``dynamic_decode`` would run: a plain ``TrainingSampler`` (or TF1's ``TrainingHelper``),
    either major, no ``mask``, ``maximum_iterations`` absent or a static ``>= T`` (the inputs'
    steps), and ``sequence_length`` absent or all ``T``, or with rows ending early
    (:func:`decoder_teacher_forced`; with ``impute_finished=True`` not with an alignment history)
    and, where the lengths are known only at run time, outside XLA; and :func:`plan` of the cell
    with ``training``."""
    if loop is None:
        loop = DecodeLoop(decoder.output_time_major, decoder.impute_finished, decoder.maximum_iterations)
    if type(decoder.sampler) not in (TrainingSampler, TrainingHelper):
        return Plan(PER_STEP, "the sampler is not a TrainingSampler")
    if initial_state is None:
        return Plan(PER_STEP, "no initial_state")
    if set(kwargs) - {"sequence_length"}:
        return Plan(PER_STEP, f"sampler arguments {sorted(set(kwargs) - {'sequence_length'})}")
    time_axis = 0 if decoder.sampler.time_major else 1
    if not isinstance(inputs, (tf.Tensor, tf.Variable)) or inputs.shape.rank != 3 or inputs.shape[time_axis] is None:
        return Plan(PER_STEP, "inputs are not one tensor [batch, T, depth] (or [T, batch, depth]) with a static T")
    steps = inputs.shape[time_axis]
    if loop.maximum_iterations is not None:
        most = tf.get_static_value(loop.maximum_iterations)
        if most is None or most < steps:
            return Plan(PER_STEP, "maximum_iterations may stop before the inputs end")
    lengths = kwargs.get("sequence_length")
    if lengths is not None:
        value = tf.get_static_value(tf.convert_to_tensor(lengths))
        if value is None or not (value == steps).all():  # rows end early: the loop runs max(lengths) steps
            if loop.impute_finished and getattr(placed_cell(decoder.cell)[0], "alignment_history", False):
                return Plan(PER_STEP, "impute_finished=True and alignment_history=True with rows ending early")
            if value is None and inside_xla():
                return Plan(PER_STEP, "sequence_length known only at run time, under XLA (a dynamic step count)")
            if value is not None and (value.size == 0 or value.max() <= 0):
                return Plan(PER_STEP, "sequence_length is zero for every row")
    return fused_attention.plan(decoder.cell, training)


def pad_steps(outputs, maximum_iterations, time_major: bool):
    """Under XLA ``dynamic_decode``'s outputs are ``maximum_iterations`` steps long, zeros past
    the last step (static shapes): ``outputs`` padded so; elsewhere ``outputs`` as they are."""
    if maximum_iterations is None or not inside_xla():
        return outputs
    missing = int(tf.get_static_value(maximum_iterations)) - outputs.shape[0 if time_major else 1]
    if missing <= 0:
        return outputs
    return tf.pad(outputs, [[0, missing], [0, 0], [0, 0]] if time_major else [[0, 0], [0, missing], [0, 0]])


def decoder_teacher_forced(cell, inputs, initial_state, sequence_length=None, training: bool | None = None,
                           time_major: bool = False, impute_finished: bool = False):
    """``(outputs [batch, steps, ...], final_state, lengths)`` of ``dynamic_decode`` over
    ``BasicDecoder(cell, TrainingSampler(time_major))``, by :func:`teacher_forced`
    (``new_sequence=False``): all ``T`` steps of ``inputs`` without a ``sequence_length``, else
    ``max(sequence_length)`` steps, over every row (what the per-step loop computes when rows end
    early) or, with ``impute_finished``, each row's state carried and zeros out past its length
    (zero the output layer's outputs there too, as :func:`zero_past_lengths` does); a run-time
    ``max`` of 0 gives no steps and the initial state, as the per-step loop does. ``time_major``:
    inputs and outputs ``[T, batch, ...]``.

    Raises:
        ValueError, InvalidArgumentError: a length beyond ``T`` (known at trace time, or at run
            time), where the per-step loop reads past the inputs.
    """
    batch, steps = tf.shape(inputs)[1 if time_major else 0], inputs.shape[0 if time_major else 1]

    def first(n):  # the first n steps of the inputs
        return inputs[:n] if time_major else inputs[:, :n]

    if sequence_length is None:
        outputs, state = fused_attention.teacher_forced(cell, inputs, initial_state, training=training, new_sequence=False,
                                        time_major=time_major)
        return outputs, state, tf.fill([batch], steps)
    lengths = tf.cast(sequence_length, tf.int32)
    value = tf.get_static_value(lengths)
    if value is not None:
        if value.size and value.max() > steps:
            raise ValueError(f"BasicDecoder: sequence_length must be at most the number of input steps, {steps}, "
                             f"got {value.tolist()}")
        outputs, state = fused_attention.teacher_forced(cell, first(int(value.max())), initial_state, training=training,
                                        new_sequence=False, time_major=time_major,
                                        sequence_length=lengths if impute_finished else None)
        return outputs, state, lengths
    with tf.control_dependencies([tf.debugging.assert_less_equal(
            lengths, steps, message=f"BasicDecoder: sequence_length must be at most the number of input steps, "
                                    f"{steps}")]):
        longest = tf.reduce_max(lengths)

    def run():
        return fused_attention.teacher_forced(cell, first(longest), initial_state, training=training, new_sequence=False,
                              time_major=time_major, sequence_length=lengths if impute_finished else None)

    def none():  # no step: the initial state, in the loop's dtype (an alignment_history as it is)
        state = tf.nest.map_structure(
            lambda t: tf.cast(t, inputs.dtype) if isinstance(t, tf.Tensor) and t.dtype.is_floating else t,
            initial_state)
        empty = [0, batch, cell.output_size] if time_major else [batch, 0, cell.output_size]
        return tf.zeros(empty, inputs.dtype), state

    outputs, state = tf.cond(longest > 0, run, none)
    return outputs, state, lengths


def zero_past_lengths(outputs, lengths, time_major: bool):
    """``outputs [batch, steps, ...]`` (or time major) with zeros from each row's length on."""
    steps = tf.shape(outputs)[0 if time_major else 1]
    going = tf.sequence_mask(lengths, steps)  # [batch, steps]
    going = tf.transpose(going) if time_major else going
    return tf.where(going[:, :, None], outputs, tf.zeros_like(outputs))
