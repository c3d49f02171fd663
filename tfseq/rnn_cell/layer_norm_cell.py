"""TF1 contrib's ``LayerNormBasicLSTMCell``: an LSTM with layer normalization (Ba et al. 2016)
and recurrent dropout without memory loss (Semeniuta et al. 2016)."""

import warnings
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_optional_int, check_positive_int, serialize_optional
from tfseq._random import uniform
from tfseq.rnn_cell.base import LSTMStateTuple, LSTMTupleCell, cell_training, get_activation, reject_tf1_only_args
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.dropout import check_keep_prob, keep_prob_config, keep_prob_tensor, may_drop
from tfseq.rnn_cell.fusion import FusedSpec

_NORMS = ("input", "transform", "forget", "output", "state")  # TF1 scopes, in contrib's order
_EPSILON = 1e-12  # contrib's layer_norm (float32/float64)


@keras.saving.register_keras_serializable(package="tfseq")
class LayerNormBasicLSTMCell(LSTMTupleCell):
    """TF1 contrib's ``LayerNormBasicLSTMCell``, with its arguments, math and variable names.

    With ``LN_k(v) = (v - mean(v)) / sqrt(var(v) + 1e-12) * k/gamma + k/beta`` over the
    units of each row (contrib's ``layers.layer_norm``)::

        i, j, f, o = split([x, h] @ kernel (+ bias without layer_norm), 4)
        i, j, f, o = LN_input(i), LN_transform(j), LN_forget(f), LN_output(o)   # if layer_norm
        g  = dropout(activation(j), dropout_keep_prob)      # recurrent dropout, see below
        c' = c * sigmoid(f + forget_bias) + sigmoid(i) * g
        c' = LN_state(c')                                   # if layer_norm
        h' = activation(c') * sigmoid(o)

    State ``LSTMStateTuple(c, h)``; output ``h'``. The dropout is TF1's ``tf.nn.dropout``
    of the candidate ``g`` only (a fresh mask per step, kept units scaled by
    ``1 / keep_prob``), so the memory ``c`` is never dropped. It follows the training
    rule of :class:`tfseq.rnn_cell.DropoutWrapper`: active when the step runs with
    ``training=True``, off otherwise.

    Args:
        num_units: int > 0.
        forget_bias: number added to the forget gate at every step.
        input_size: TF1: deprecated and unused (a warning, as in TF1).
        activation: callable or name; default ``tanh``.
        layer_norm: bool; False gives a plain LSTM with a ``bias``.
        norm_gain, norm_shift: initial values of every ``gamma`` and ``beta``.
        dropout_keep_prob: number in (0, 1] (1 disables dropout), or a scalar float tensor /
            ``tf.Variable`` (TF1's placeholder idiom), checked when the cell runs.
        dropout_prob_seed: int or None, makes the dropout masks reproducible.
        reuse: TF1 only; accepted as None.

    Weights (TF1 names, scope ``layer_norm_basic_lstm_cell``): ``kernel``
    ``[depth + num_units, 4 * num_units]`` (Glorot uniform); with ``layer_norm``
    ``{input,transform,forget,output,state}/{gamma,beta}`` ``[num_units]``; without it
    ``bias`` ``[4 * num_units]`` (Glorot uniform: contrib created it without an
    initializer, so ``get_variable``'s default applied).

    Raises:
        ValueError: a bad ``num_units``, ``forget_bias``, ``norm_gain``, ``norm_shift``,
            ``layer_norm``, ``dropout_keep_prob`` (outside (0, 1]), seed or ``reuse``.
    """

    tf1_scope_name = "layer_norm_basic_lstm_cell"
    object_args = ("activation",)

    def __init__(
        self,
        num_units: int,
        forget_bias: float = 1.0,
        input_size: int | None = None,
        activation: Callable | str | None = None,
        layer_norm: bool = True,
        norm_gain: float = 1.0,
        norm_shift: float = 0.0,
        dropout_keep_prob: float | tf.Tensor | tf.Variable = 1.0,
        dropout_prob_seed: int | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        owner = type(self).__name__
        reject_tf1_only_args(owner, reuse=reuse)
        super().__init__(**kwargs)
        if input_size is not None:
            warnings.warn(f"{owner}: the input_size parameter is deprecated and unused", stacklevel=2)
        self.num_units = check_positive_int(owner, "num_units", num_units)
        self.forget_bias = check_number(owner, "forget_bias", forget_bias)
        self.input_size = check_optional_int(owner, "input_size", input_size)
        self.activation = get_activation(owner, activation)
        self._activation_arg = activation
        self.layer_norm = check_bool(owner, "layer_norm", layer_norm)
        self.norm_gain = check_number(owner, "norm_gain", norm_gain)
        self.norm_shift = check_number(owner, "norm_shift", norm_shift)
        self.dropout_keep_prob = check_keep_prob(owner, "dropout_keep_prob", dropout_keep_prob)
        self.dropout_prob_seed = check_optional_int(owner, "dropout_prob_seed", dropout_prob_seed)
        self.seed_generator = keras.random.SeedGenerator(dropout_prob_seed)

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        n = self.num_units
        self.kernel = self.add_tf1_weight("kernel", (depth + n, 4 * n), None)  # the scope's, else glorot
        if self.layer_norm:
            gain = keras.initializers.Constant(self.norm_gain)
            shift = keras.initializers.Constant(self.norm_shift)
            self.norms = {
                norm: (self.add_tf1_weight(f"{norm}_gamma", (n,), gain),
                       self.add_tf1_weight(f"{norm}_beta", (n,), shift))
                for norm in _NORMS
            }
        else:
            self.bias = self.add_tf1_weight("bias", (4 * n,), None)

    def _norm(self, value, norm):
        """contrib's ``layers.layer_norm`` over the units of each row: ``[batch, n] -> [batch, n]``."""
        if not self.layer_norm:
            return value
        gamma, beta = self.norms[norm]
        mean, variance = tf.nn.moments(value, [1], keepdims=True)  # [batch, 1] each
        return tf.nn.batch_normalization(value, mean, variance, beta, gamma, _EPSILON)

    def _keep_prob(self, dtype):
        """The keep probability as a number, or a tensor checked to be in (0, 1] at run time."""
        return keep_prob_tensor(type(self).__name__, "dropout_keep_prob", self.dropout_keep_prob, dtype)

    def _dropout(self, g, training):
        if not may_drop(self.dropout_keep_prob):
            return g
        training = cell_training(training)  # DropoutWrapper's rule: None under a TF1 driver drops
        if training is None or training is False:
            return g

        def drop():
            keep = self._keep_prob(g.dtype)
            noise = uniform(tf.shape(g), self.seed_generator, g.dtype)
            return g / keep * tf.floor(keep + noise)

        if training is True:
            return drop()
        return tf.cond(tf.convert_to_tensor(training), drop, lambda: g)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        c_prev, h_prev = self.check_state(states)
        x = self.check_inputs(inputs)
        z = tf.matmul(tf.concat([x, h_prev], 1), self.kernel)
        if not self.layer_norm:
            z = z + self.bias
        i, j, f, o = tf.split(z, 4, axis=1)  # input gate, new input, forget gate, output gate
        i, j = self._norm(i, "input"), self._norm(j, "transform")
        f, o = self._norm(f, "forget"), self._norm(o, "output")
        g = self._dropout(self.activation(j), training)
        c = c_prev * tf.sigmoid(f + self.forget_bias) + tf.sigmoid(i) * g
        c = self._norm(c, "state")
        h = self.activation(c) * tf.sigmoid(o)
        return h, LSTMStateTuple(c, h)

    def fused_spec(self) -> FusedSpec | None:
        """Without layer norm and dropout the step is ``BasicLSTMCell``'s: the fused LSTM kernel
        runs it. Layer norm has no fused kernel (``None``: per step)."""
        if self.layer_norm or may_drop(self.dropout_keep_prob):
            return None
        return FusedSpec("lstm", self.num_units, dict(self._tf1_weights), self.activation,
                         forget_bias=self.forget_bias)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "forget_bias": self.forget_bias,
            "input_size": self.input_size,
            "activation": serialize_optional(self._activation_arg),
            "layer_norm": self.layer_norm,
            "norm_gain": self.norm_gain,
            "norm_shift": self.norm_shift,
            "dropout_keep_prob": keep_prob_config(self.name, "dropout_keep_prob", self.dropout_keep_prob),
            "dropout_prob_seed": self.dropout_prob_seed,
        }
