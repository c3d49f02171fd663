"""``tfseq.nn.RNN``: ``keras.layers.RNN`` that runs tfseq's fused fast path when it can; ``tfseq.nn.Dropout``:
``keras.layers.Dropout`` with noise that is fast under XLA."""

from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_optional_bool
from tfseq._keras import keras_mask
from tfseq._random import ALGORITHM, next_seed
from tfseq.nn import fused
from tfseq.rnn_cell.fusion import NotFusable, sequence_kernel

WHOLE_SEQUENCE = "whole_sequence"  # the cell class's own whole-sequence kernel (an AttentionWrapper's)


@keras.saving.register_keras_serializable(package="tfseq")
class RNN(keras.layers.RNN):
    """Drop-in for ``keras.layers.RNN`` that runs a whole sequence fused when the cell allows it.

    Same arguments, call signature, outputs and config as ``keras.layers.RNN``, plus
    ``fast`` and ``xla``. When :func:`tfseq.nn.fused.plan` accepts the cell (tfseq LSTM/GRU/BasicRNN
    cells, ``DropoutWrapper``/``MultiRNNCell`` of them), the sequence runs through the
    fused kernels of :mod:`tfseq.nn.fused`; an ``AttentionWrapper`` that
    :func:`tfseq.seq2seq.fused_attention.plan` covers, through its hoisted loop (the cell
    class's registered whole-sequence kernel, :func:`tfseq.rnn_cell.fusion.sequence_kernel`;
    plan path ``"whole_sequence"``); otherwise (Keras cells, other wrappers,
    ``go_backwards``, ``unroll``, a mask with ``zero_output_for_mask=False``) it runs
    Keras' own per-step loop. Both give the same numbers (``tests/test_fused.py``).

    A Keras mask (e.g. from ``Embedding(mask_zero=True)``) gives TF1's semantics when
    ``zero_output_for_mask=True``: zeros at masked steps, state carried unchanged. The mask the
    sequences carry counts with an ``initial_state`` too (Keras 3's own RNN layers drop it then,
    as Keras 3.15 does: it looks for a mask only where a layer's call gets one tensor).

    ``training`` follows Keras (``DropoutWrapper`` drops in ``fit``, not in ``predict`` or a
    call without ``training``); every call draws new variational dropout masks, also with a
    caller's ``initial_state`` or ``stateful=True``.

    Args:
        cell: an RNN cell (see ``keras.layers.RNN``).
        fast: ``None`` (default): fused when possible; ``False``: always Keras' loop;
            ``True``: fused or ``ValueError`` at call time saying why not.
        xla: compile the fused path with XLA: ``None`` (default) inside a ``tf.function``
            when the number of steps is static; ``True``/``False`` force it
            (:func:`tfseq.nn.fused.uses_xla`).
        **kwargs: ``keras.layers.RNN``'s (``return_sequences``, ``return_state``,
            ``go_backwards``, ``stateful``, ``unroll``, ``zero_output_for_mask``, ...).

    Example:
        >>> layer = tfseq.nn.RNN(tfseq.rnn_cell.BasicLSTMCell(8), return_sequences=True)
        >>> y = layer(tf.zeros([2, 5, 3]))  # [2, 5, 8], fused
    """

    def __init__(self, cell: keras.layers.Layer, fast: bool | None = None, xla: bool | None = None, **kwargs: Any):
        fast, xla = check_optional_bool("RNN", "fast", fast), check_optional_bool("RNN", "xla", xla)
        super().__init__(cell, **kwargs)
        self.fast, self.xla = fast, xla

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("mask") is None and len(args) < 3:  # mask: call()'s third argument
            mask = keras_mask(args[0] if args else kwargs.get("sequences"))
            if mask is not None:
                kwargs["mask"] = mask
        return super().__call__(*args, **kwargs)

    def plan(
        self,
        sequences: tf.Tensor | None = None,
        mask: tf.Tensor | None = None,
        training: bool | tf.Tensor | None = None,
    ) -> fused.Plan:
        """The :class:`tfseq.nn.fused.Plan` this layer uses for such a call."""
        if self.fast is not False:
            reason = None
            if self.go_backwards:
                reason = "go_backwards=True"
            elif self.unroll:
                reason = "unroll=True"
            elif mask is not None and not self.zero_output_for_mask:
                reason = "a mask with zero_output_for_mask=False (Keras keeps the previous output)"
            if reason is not None:
                if self.fast:
                    raise ValueError(f"fast=True but {self.name} cannot run fused: {reason}")
                return fused.Plan(fused.PER_STEP, reason)
            try:
                sequence_kernel(self.cell, None, training)
                return fused.Plan(WHOLE_SEQUENCE, f"{type(self.cell).__name__}'s whole-sequence kernel")
            except NotFusable:
                pass
        return fused.plan(self.cell, sequences, training, self.fast)

    def inner_loop(
        self,
        sequences: tf.Tensor,
        initial_state: Any,
        mask: tf.Tensor | None,
        training: bool | tf.Tensor | None = False,
    ) -> tuple[tf.Tensor, tf.Tensor, Any]:
        if hasattr(self.cell, "resample_dropout_masks"):
            # new variational masks at every call, also with a caller's initial_state (TF1: per session.run)
            self.cell.resample_dropout_masks()
        if tf.nest.is_nested(mask):
            mask = tf.nest.flatten(mask)[0]
        path = self.plan(sequences, mask, training).path
        if path == fused.PER_STEP:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        state = tf.nest.pack_sequence_as(self.cell.state_size, tf.nest.flatten(initial_state))
        # Keras masks are True where a step is real; the kernels want [time, batch] True where skipped.
        finished = None if mask is None else tf.logical_not(tf.transpose(tf.cast(mask, tf.bool)))
        if path == WHOLE_SEQUENCE:
            run = sequence_kernel(self.cell, state, training)
            outputs, final_state = run(tf.transpose(sequences, [1, 0, 2]), state, finished=finished)
        else:
            outputs, final_state = fused.run(
                self.cell, tf.transpose(sequences, [1, 0, 2]), state, training=training, finished=finished,
                xla=self.xla,
            )
        last_output = outputs[-1]
        outputs = tf.transpose(outputs, [1, 0, 2])  # [batch, time, output_size]
        return last_output, outputs, tf.nest.pack_sequence_as(initial_state, tf.nest.flatten(final_state))

    def get_config(self) -> dict:
        return {**super().get_config(), "fast": self.fast, "xla": self.xla}


@keras.saving.register_keras_serializable(package="tfseq")
class Dropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` whose noise is fast inside an XLA program.

    Same arguments, config and masks as ``keras.layers.Dropout``: Philox, which Keras' default
    algorithm picks too, but by name, because under ``jit_compile`` on a CPU the default takes
    a path about 100 times slower for the same numbers (a compiled training step with dropout
    then runs up to twice as slow; see :mod:`tfseq._random`).
    """

    def call(self, inputs: tf.Tensor, training: bool | None = False) -> tf.Tensor:
        if not training or self.rate <= 0:
            return inputs
        noise_shape = None
        if self.noise_shape is not None:
            dynamic = tf.shape(inputs)
            noise_shape = tf.stack([dynamic[i] if size is None else size for i, size in enumerate(self.noise_shape)])
        return tf.nn.experimental.stateless_dropout(inputs, rate=self.rate, seed=next_seed(self.seed_generator),
                                                    noise_shape=noise_shape, rng_alg=ALGORITHM)
