"""TF1 contrib's convolutional LSTM cells (``tf.contrib.rnn``): ``ConvLSTMCell`` and its spellings
of fixed rank ``Conv1DLSTMCell``, ``Conv2DLSTMCell`` and ``Conv3DLSTMCell`` (Shi et al. 2015,
"Convolutional LSTM Network"), with contrib's arguments, math, state layout and variable names.

An LSTM whose matrix products are convolutions. A step reads ``x`` ``[batch, *spatial, channels]``
and keeps ``LSTMStateTuple(c, h)`` of the same spatial shape. ``conv`` is a ``conv_ndims``-D
convolution, stride 1, ``"SAME"`` padding (TensorFlow's: an odd padding puts the extra row at the
end); ``[a, b]`` joins on the channel axis; ``*`` is elementwise::

    i, j, f, o = split(conv([x, h], kernel) + biases, 4, axis=-1)      (biases only with use_bias)
    c' = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j)
    h' = tanh(c') * sigmoid(o)
    h' = [h', x]                                                       (with skip_connection)

The output is ``h'`` and the new state ``(c', h')``. Sizes are ``TensorShape``s, as in TF1:
``state_size = LSTMStateTuple(spatial + [output_channels], spatial + [out])`` and
``output_size = spatial + [out]``, ``out = output_channels (+ channels with skip_connection)``.

Run a sequence ``[batch, time, *spatial, channels]`` with ``tfseq.nn.dynamic_rnn`` (Keras 3's
``keras.layers.RNN`` takes integer state sizes only).
"""

import numbers
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn_cell.base import LSTMStateTuple, RNNCell
from tfseq.rnn_cell.block_cells import check_name, check_number


def _check_dims(owner: str, name: str, value: Any, rank: int | None = None) -> tuple[int, ...]:
    """A list or tuple of positive ints (of length ``rank`` when given), as a tuple."""
    ok = isinstance(value, (list, tuple)) and (rank is None or len(value) == rank) and all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in value
    )
    if not ok:
        length = "" if rank is None else f"{rank} "
        raise ValueError(f"{owner}: {name} must be a list of {length}positive integers, got {value!r}")
    return tuple(int(d) for d in value)


@keras.saving.register_keras_serializable(package="tfseq")
class ConvLSTMCell(RNNCell):
    """TF1 contrib's ``ConvLSTMCell(conv_ndims, input_shape, output_channels, kernel_shape,
    use_bias=True, skip_connection=False, forget_bias=1.0, initializers=None,
    name="conv_lstm_cell")`` (math in the module docstring).

    Args:
        conv_ndims: 1, 2 or 3, the number of spatial axes.
        input_shape: list of ``conv_ndims + 1`` positive ints, the shape of one step's input
            without the batch: ``spatial + [channels]``.
        output_channels: int > 0, the channels of ``c`` (and of ``h`` without skip connection).
        kernel_shape: list of ``conv_ndims`` positive ints, the convolution window.
        use_bias: bool, add ``biases`` to the convolution.
        skip_connection: bool, append the step input to the output on the channel axis. The new
            ``h`` is that output, so ``h`` has ``output_channels + channels`` channels and its
            zero state too (contrib's ``state_size`` said ``output_channels``, which made its own
            zero state fail at the second step).
        forget_bias: number added to the forget gate at every step.
        initializers: unused by contrib; accepted as None only.
        name: the layer name and TF1 variable scope (default ``"conv_lstm_cell"``).

    Call arguments:
        inputs: ``[batch, *input_shape]``.
        states: ``LSTMStateTuple(c, h)`` shaped like ``state_size`` after the batch.

    Returns:
        ``(h', LSTMStateTuple(c', h'))``.

    Weights (scope ``name``): ``kernel`` ``kernel_shape + [channels + h channels,
    4 * output_channels]`` (the TF1 variable scope's initializer, else Glorot uniform) and, with
    ``use_bias``, ``biases`` ``[4 * output_channels]`` (zeros).

    Raises:
        ValueError: a bad ``conv_ndims``, ``input_shape`` (or one of another rank than
            ``conv_ndims + 1``), ``output_channels``, ``kernel_shape``, flag, ``forget_bias``,
            ``name``, or ``initializers`` other than None; at build, inputs of another shape than
            ``[batch, *input_shape]``.

    Example:
        >>> cell = ConvLSTMCell(2, [8, 8, 3], 16, [3, 3])
        >>> outputs, state = tfseq.nn.dynamic_rnn(cell, tf.zeros([4, 10, 8, 8, 3]))  # [4, 10, 8, 8, 16]
    """

    def __init__(
        self,
        conv_ndims: int,
        input_shape: Sequence[int],
        output_channels: int,
        kernel_shape: Sequence[int],
        use_bias: bool = True,
        skip_connection: bool = False,
        forget_bias: float = 1.0,
        initializers: None = None,
        name: str = "conv_lstm_cell",
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        if initializers is not None:
            raise ValueError(
                f"{owner}: initializers={initializers!r} was unused by contrib; remove it (the kernel takes "
                "the initializer of the enclosing tf.compat.v1.variable_scope, else Glorot uniform)"
            )
        if isinstance(conv_ndims, bool) or not isinstance(conv_ndims, numbers.Integral) or conv_ndims not in (1, 2, 3):
            raise ValueError(f"{owner}: conv_ndims must be 1, 2 or 3, got {conv_ndims!r}")
        super().__init__(name=check_name(owner, name), **kwargs)
        self.tf1_scope_name = name
        self.conv_ndims = int(conv_ndims)
        self.cell_input_shape = _check_dims(owner, "input_shape", input_shape)
        if len(self.cell_input_shape) != self.conv_ndims + 1:
            raise ValueError(
                f"{owner}: input_shape={list(input_shape)!r} must be spatial + [channels], "
                f"{self.conv_ndims + 1} entries for conv_ndims={self.conv_ndims}"
            )
        self.output_channels = check_positive_int(owner, "output_channels", output_channels)
        self.kernel_shape = _check_dims(owner, "kernel_shape", kernel_shape, self.conv_ndims)
        self.use_bias = check_bool(owner, "use_bias", use_bias)
        self.skip_connection = check_bool(owner, "skip_connection", skip_connection)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)

    @property
    def state_size(self) -> LSTMStateTuple:
        spatial = list(self.cell_input_shape[:-1])
        return LSTMStateTuple(tf.TensorShape([*spatial, self.output_channels]), self.output_size)

    @property
    def output_size(self) -> tf.TensorShape:
        channels = self.output_channels + (self.cell_input_shape[-1] if self.skip_connection else 0)
        return tf.TensorShape([*self.cell_input_shape[:-1], channels])

    def build(self, input_shape: tuple) -> None:
        shape = []  # (batch, *dims), also from MultiRNNCell's (batch, output_size of the cell below)
        for dim in input_shape:
            shape.extend(tf.TensorShape(dim).as_list() if isinstance(dim, (tf.TensorShape, list, tuple)) else [dim])
        shape = tuple(shape)
        if tuple(shape[1:]) != self.cell_input_shape:
            raise ValueError(
                f"{self.name}: inputs must be [batch, *input_shape] = [batch, {list(self.cell_input_shape)}] "
                f"for one time step, got shape {shape}"
            )
        in_channels = self.cell_input_shape[-1] + self.output_size[-1]  # [x, h]
        kernel = (*self.kernel_shape, in_channels, 4 * self.output_channels)
        self.kernel = self.add_tf1_weight("kernel", kernel, None)  # the scope's, else Glorot uniform
        self.biases = self.add_tf1_weight("biases", (4 * self.output_channels,), "zeros") if self.use_bias else None

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, h_prev = self.check_state(states)
        x = self.check_inputs(inputs)  # [batch, *spatial, channels]
        z = tf.nn.convolution(tf.concat([x, h_prev], -1), self.kernel, padding="SAME")
        if self.biases is not None:
            z = z + self.biases
        i, j, f, o = tf.split(z, 4, axis=-1)  # input gate, new input, forget gate, output gate
        c = tf.sigmoid(f + self.forget_bias) * c_prev + tf.sigmoid(i) * tf.tanh(j)
        h = tf.tanh(c) * tf.sigmoid(o)
        if self.skip_connection:
            h = tf.concat([h, x], -1)
        return h, LSTMStateTuple(c, h)

    def check_state(self, states: Any) -> LSTMStateTuple:
        """``(c, h)`` (or Keras' flat list), each ``[batch, *size]`` for its size in ``state_size``."""
        flat = tf.nest.flatten(states)
        if len(flat) != 2:
            raise ValueError(f"{self.name}: expected a state (c, h) shaped like state_size={self.state_size}, "
                             f"got {len(flat)} tensor(s)")
        for tensor, size in zip(flat, self.state_size):
            shape = tf.TensorShape(tensor.shape)
            if shape.rank is not None and not shape[1:].is_compatible_with(size):
                raise ValueError(f"{self.name}: state tensors must be [batch, *size] for "
                                 f"state_size={self.state_size}, got shape {shape}")
        return LSTMStateTuple(*flat)

    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> LSTMStateTuple:
        """Zeros ``[batch, *size]`` for each size of ``state_size``."""
        batch_size, dtype = self.initial_state_args(batch_size, dtype, inputs)
        return LSTMStateTuple(*(tf.zeros([batch_size, *size.as_list()], dtype) for size in self.state_size))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "conv_ndims": self.conv_ndims,
            "input_shape": list(self.cell_input_shape),
            "output_channels": self.output_channels,
            "kernel_shape": list(self.kernel_shape),
            "use_bias": self.use_bias,
            "skip_connection": self.skip_connection,
            "forget_bias": self.forget_bias,
        }


class _FixedRankConvLSTMCell(ConvLSTMCell):
    """``ConvLSTMCell`` with ``conv_ndims`` fixed by the class (``fixed_ndims``) and its own default
    name (``default_name``), as contrib's ``Conv{1,2,3}DLSTMCell`` (keyword arguments there)."""

    fixed_ndims = None
    default_name = None

    def __init__(
        self,
        input_shape: Sequence[int],
        output_channels: int,
        kernel_shape: Sequence[int],
        use_bias: bool = True,
        skip_connection: bool = False,
        forget_bias: float = 1.0,
        initializers: None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(self.fixed_ndims, input_shape, output_channels, kernel_shape, use_bias=use_bias,
                         skip_connection=skip_connection, forget_bias=forget_bias, initializers=initializers,
                         name=self.default_name if name is None else name, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["conv_ndims"]
        return config


@keras.saving.register_keras_serializable(package="tfseq")
class Conv1DLSTMCell(_FixedRankConvLSTMCell):
    """TF1 contrib's ``Conv1DLSTMCell(name="conv_1d_lstm_cell", **kwargs)``: ``ConvLSTMCell`` with
    ``conv_ndims=1``; steps ``[batch, width, channels]``. Arguments as ``ConvLSTMCell``'s."""

    fixed_ndims = 1
    default_name = "conv_1d_lstm_cell"


@keras.saving.register_keras_serializable(package="tfseq")
class Conv2DLSTMCell(_FixedRankConvLSTMCell):
    """TF1 contrib's ``Conv2DLSTMCell(name="conv_2d_lstm_cell", **kwargs)``: ``ConvLSTMCell`` with
    ``conv_ndims=2``; steps ``[batch, height, width, channels]``. Arguments as ``ConvLSTMCell``'s."""

    fixed_ndims = 2
    default_name = "conv_2d_lstm_cell"


@keras.saving.register_keras_serializable(package="tfseq")
class Conv3DLSTMCell(_FixedRankConvLSTMCell):
    """TF1 contrib's ``Conv3DLSTMCell(name="conv_3d_lstm_cell", **kwargs)``: ``ConvLSTMCell`` with
    ``conv_ndims=3``; steps ``[batch, depth, height, width, channels]``. Arguments as ``ConvLSTMCell``'s."""

    fixed_ndims = 3
    default_name = "conv_3d_lstm_cell"


__all__ = ["ConvLSTMCell", "Conv1DLSTMCell", "Conv2DLSTMCell", "Conv3DLSTMCell"]
