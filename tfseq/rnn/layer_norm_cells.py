"""TF Addons' layer-normalized cells on Keras 3: ``LayerNormLSTMCell`` (Keras' ``LSTMCell`` with
layer normalization of both matmuls and of the cell state) and ``LayerNormSimpleRNNCell``
(Keras' ``SimpleRNNCell`` with a scale-only layer normalization before the bias).

Both subclass Keras 3's own cell and normalize with ``keras.layers.LayerNormalization``
sub-layers, as TF Addons did on Keras 2, so the weights, their order and ``get_config`` are
TF Addons' (``tests/test_tfa_rnn_cells.py`` checks them against TF Addons 0.23).
"""

from typing import Any

import keras
from keras import ops

from tfseq.rnn._args import check_real, check_units_and_dropout
from tfseq.rnn._initial_state import KerasTwoInitialState


@keras.saving.register_keras_serializable(package="tfseq.rnn")
class LayerNormLSTMCell(KerasTwoInitialState, keras.layers.LSTMCell):
    """TF Addons' ``tfa.rnn.LayerNormLSTMCell``: an LSTM cell with layer normalization (Ba et al.,
    2016) before the nonlinearities and recurrent dropout without memory loss (Semeniuta et al., 2016).

    One step, with ``LN_k``, ``LN_r``, ``LN_c`` three layer normalizations (each with its own
    ``gamma``, ``beta``; ``epsilon = norm_epsilon``)::

        z = LN_k(x @ kernel) + LN_r(h @ recurrent_kernel) + bias;   z = [z_i, z_f, z_g, z_o]
        i = σ(z_i)   f = σ(z_f)   o = σ(z_o)                       (σ = recurrent_activation)
        c' = LN_c(f * c + i * act(z_g))
        h' = o * act(c')                                              (act = activation)

    The state is ``[h, c]``, the output ``h'``. ``dropout`` multiplies ``x`` and
    ``recurrent_dropout`` multiplies ``h`` by one mask each (the same for all four gates and
    every step of a call), in training only.

    ``activation``, ``recurrent_activation``, ``use_bias``, the initializers, ``unit_forget_bias``,
    the regularizers and the constraints are ``keras.layers.LSTMCell``'s arguments.

    Args:
        units: int > 0, the size of ``h`` and ``c``.
        dropout: in ``[0, 1)``, the rate for ``x``.
        recurrent_dropout: in ``[0, 1)``, the rate for ``h``.
        norm_gamma_initializer: the layer normalizations' ``gamma`` initializer.
        norm_beta_initializer: the layer normalizations' ``beta`` initializer.
        norm_epsilon: float > 0, the layer normalizations' epsilon.
        **kwargs: Keras layer arguments (``name``, ``dtype``, ``seed`` for the dropout masks).

    Weights, in order: ``kernel`` ``[depth, 4 * units]``, ``recurrent_kernel`` ``[units, 4 * units]``,
    ``bias`` ``[4 * units]`` (``use_bias``), then ``kernel_norm``, ``recurrent_norm`` (``gamma``,
    ``beta`` ``[4 * units]`` each) and ``state_norm`` (``gamma``, ``beta`` ``[units]``).

    Keras 2 → 3: Keras 2 drew four dropout masks (``get_dropout_mask_for_cell(count=4)``) of which
    TF Addons used the first; here one mask is drawn. Keras 3 clamps a dropout rate outside
    ``[0, 1]``; here it raises ``ValueError``.
    """

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 norm_gamma_initializer: Any = "ones", norm_beta_initializer: Any = "zeros",
                 norm_epsilon: float = 1e-3, **kwargs: Any) -> None:
        check_units_and_dropout("LayerNormLSTMCell", units, dropout, recurrent_dropout)
        norm_epsilon = check_real("LayerNormLSTMCell", "norm_epsilon", norm_epsilon, 0.0, low_open=True)
        super().__init__(
            units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, **kwargs)
        # One mask per call for x and one for h (Keras 3's LSTMCell draws four when recurrent_dropout > 0).
        self.dropout_mask_count = None
        self.norm_gamma_initializer = keras.initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = keras.initializers.get(norm_beta_initializer)
        self.norm_epsilon = norm_epsilon
        self.kernel_norm = self._norm_layer("kernel_norm")
        self.recurrent_norm = self._norm_layer("recurrent_norm")
        self.state_norm = self._norm_layer("state_norm")

    def _norm_layer(self, name: str) -> keras.layers.LayerNormalization:
        return keras.layers.LayerNormalization(
            epsilon=self.norm_epsilon, gamma_initializer=self.norm_gamma_initializer,
            beta_initializer=self.norm_beta_initializer, dtype=self.dtype_policy, name=name)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.kernel_norm.build((None, 4 * self.units))
        self.recurrent_norm.build((None, 4 * self.units))
        self.state_norm.build((None, self.units))

    def call(self, inputs: Any, states: Any, training: bool | None = False) -> tuple[Any, list]:
        h_prev, c_prev = states[0], states[1]
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_prev = h_prev * self.get_recurrent_dropout_mask(h_prev)
        z = self.kernel_norm(ops.matmul(inputs, self.kernel))
        z = z + self.recurrent_norm(ops.matmul(h_prev, self.recurrent_kernel))
        if self.use_bias:
            z = z + self.bias
        c, o = self._compute_carry_and_output_fused(ops.split(z, 4, axis=1), c_prev)
        c = self.state_norm(c)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {**super().get_config(), "implementation": self.implementation,
                "norm_gamma_initializer": keras.initializers.serialize(self.norm_gamma_initializer),
                "norm_beta_initializer": keras.initializers.serialize(self.norm_beta_initializer),
                "norm_epsilon": self.norm_epsilon}


@keras.saving.register_keras_serializable(package="tfseq.rnn")
class LayerNormSimpleRNNCell(KerasTwoInitialState, keras.layers.SimpleRNNCell):
    """TF Addons' ``tfa.rnn.LayerNormSimpleRNNCell``: Keras' simple RNN cell with a layer
    normalization (scale only, no centering) of the pre-activation, before the bias::

        y' = act(LN(x @ kernel + y @ recurrent_kernel) + bias)
        LN(v) = gamma * (v - mean(v)) / sqrt(var(v) + layernorm_epsilon)

    The state is ``[y]``, the output ``y'``. ``dropout`` multiplies ``x`` and
    ``recurrent_dropout`` multiplies ``y`` by one mask each per call, in training only.

    ``activation``, ``use_bias`` and the ``kernel_*``, ``recurrent_*`` and ``bias_*``
    initializers, regularizers and constraints are ``keras.layers.SimpleRNNCell``'s arguments;
    ``gamma_initializer``, ``gamma_regularizer`` and ``gamma_constraint`` are for the layer
    normalization's ``gamma``.

    Args:
        units: int > 0, the size of ``y``.
        layernorm_epsilon: float > 0, the layer normalization's epsilon.
        dropout: in ``[0, 1)``, the rate for ``x``.
        recurrent_dropout: in ``[0, 1)``, the rate for ``y``.
        **kwargs: Keras layer arguments (``name``, ``dtype``, ``seed`` for the dropout masks).

    Weights, in order: ``kernel`` ``[depth, units]``, ``recurrent_kernel`` ``[units, units]``,
    ``bias`` ``[units]`` (``use_bias``), the layer normalization's ``gamma`` ``[units]``.

    Keras 2 → 3: TF Addons passed the cell's keyword arguments (``name`` too) on to its
    ``LayerNormalization`` and so left ``name`` out of ``get_config``; here the sub-layer is
    always named ``layernorm`` and the config keeps the cell's ``name`` (Keras 3 layers serialize it).
    Keras 3 puts a sub-layer's weights under its name: ``gamma``'s path is
    ``layer_norm_simple_rnn_cell/layernorm/gamma`` (TF Addons: ``layer_norm_simple_rnn_cell/gamma``).
    """

    single_state_in_list = True  # Keras 3's SimpleRNNCell's form, as before

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 layernorm_epsilon: float = 1e-5, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, gamma_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, gamma_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, **kwargs: Any) -> None:
        check_units_and_dropout("LayerNormSimpleRNNCell", units, dropout, recurrent_dropout)
        layernorm_epsilon = check_real("LayerNormSimpleRNNCell", "layernorm_epsilon", layernorm_epsilon, 0.0,
                                       low_open=True)
        super().__init__(
            units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, **kwargs)
        self.layernorm = keras.layers.LayerNormalization(
            axis=-1, epsilon=layernorm_epsilon, center=False, scale=True, gamma_initializer=gamma_initializer,
            gamma_regularizer=gamma_regularizer, gamma_constraint=gamma_constraint, dtype=self.dtype_policy,
            name="layernorm")

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.layernorm.build((None, self.units))

    def call(self, inputs: Any, states: Any, training: bool | None = False) -> tuple[Any, Any]:
        prev = states[0] if isinstance(states, (list, tuple)) else states
        if training and self.dropout > 0.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            prev = prev * self.get_recurrent_dropout_mask(prev)
        net = ops.matmul(inputs, self.kernel) + ops.matmul(prev, self.recurrent_kernel)
        output = self.layernorm(net)
        if self.bias is not None:
            output = output + self.bias
        if self.activation is not None:
            output = self.activation(output)
        return output, ([output] if isinstance(states, (list, tuple)) else output)

    def get_config(self) -> dict:
        norm = self.layernorm.get_config()
        return {**super().get_config(), "layernorm_epsilon": norm["epsilon"],
                **{k: norm[k] for k in ("gamma_initializer", "gamma_regularizer", "gamma_constraint")}}
