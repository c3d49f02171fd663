"""TF1 contrib's cell wrappers with weights of their own: ``HighwayWrapper`` and
``AttentionCellWrapper`` (``tf.contrib.rnn``), with contrib's arguments, math, state layout and
variable names. Both run per step (no fused kernel).

* ``HighwayWrapper`` (Srivastava et al. 2015) mixes the step input ``x`` into the wrapped cell's
  output ``y`` (their depths must match)::

      t_c = sigmoid(x @ carry_w + carry_b)
      t_t = 1 - t_c                 or, uncoupled,  sigmoid(x @ transform_w + transform_b)
      output = x * t_c + y * t_t                                     (state: the cell's, unchanged)

  contrib's wrapper opens no variable scope: ``carry_w``, ``carry_b`` (and ``transform_w``,
  ``transform_b``) sit next to the wrapped cell's scope (``rnn/carry_w``, ``rnn/lstm_cell/kernel``).

* ``AttentionCellWrapper`` (Bahdanau-style attention over the last ``attn_length`` outputs; ``L``
  that length, ``A = attn_size``, ``V = attn_vec_size``). State ``(cell_state, attns [A],
  attn_states [L * A])``; one step::

      x' = [x, attns] @ kernel + bias                                 (depth input_size)
      y, cell_state' = cell(x', cell_state)
      q = concat(flatten(cell_state')) @ attention/kernel + attention/bias          # [V]
      H = reshape(attn_states, [L, A]);  s_l = sum(attention/attn_v * tanh(H_l @ attn_w + q))
      attns' = sum_l softmax(s)_l * H_l
      output = [y, attns'] @ attn_output_projection/kernel + attn_output_projection/bias  # [A]
      attn_states' = [H_2, ..., H_L, output]   (the window slides by one output)

  Variables under ``attention_cell_wrapper/``: ``kernel``, ``bias``, ``attention/attn_w``
  ``[1, 1, A, V]`` (contrib's 1x1 convolution), ``attention/attn_v`` ``[V]``,
  ``attention/kernel``, ``attention/bias``, ``attn_output_projection/kernel``,
  ``attn_output_projection/bias``; the wrapped cell's are nested there too
  (``attention_cell_wrapper/lstm_cell/kernel``).

Weights without an initializer of their own take the TF1 variable scope's, else Glorot uniform;
biases are zeros, ``carry_b`` is ``carry_bias_init`` and ``transform_b`` ``-carry_bias_init``.
"""

from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool, check_positive_int
from tfseq.rnn_cell.base import call_cell
from tfseq.rnn_cell.block_cells import check_number
from tfseq.rnn_cell.contrib_cells import add_scoped_weight
from tfseq.rnn_cell.fusion import FusedStack
from tfseq.rnn_cell.wrappers import RNNCellWrapper, check_cell


def _optional_positive_int(owner: str, name: str, value: Any) -> int | None:
    return None if value is None else check_positive_int(owner, name, value)


@keras.saving.register_keras_serializable(package="tfseq")
class HighwayWrapper(RNNCellWrapper):
    """TF1 contrib's ``HighwayWrapper(cell, couple_carry_transform_gates=True, carry_bias_init=1.0)``:
    a highway connection from the step input to the cell's output (math in the module docstring).

    Args:
        cell: the wrapped cell; its ``output_size`` must equal the input depth.
        couple_carry_transform_gates: bool; True: transform gate ``1 - carry``; False: a gate of
            its own (``transform_w``, ``transform_b``).
        carry_bias_init: number, the initial value of ``carry_b`` (``transform_b`` starts at its
            negative).

    State and ``state_size`` are the wrapped cell's. Weights (no scope of their own, as in
    contrib): ``carry_w`` ``[depth, depth]``, ``carry_b`` ``[depth]``; uncoupled also
    ``transform_w`` ``[depth, depth]``, ``transform_b`` ``[depth]``.

    Raises:
        TypeError: ``cell`` is not an RNN cell.
        ValueError: ``couple_carry_transform_gates`` not a bool, ``carry_bias_init`` not a
            number; at build, input depth != ``cell.output_size``.
    """

    def __init__(
        self,
        cell: keras.layers.Layer,
        couple_carry_transform_gates: bool = True,
        carry_bias_init: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(cell, **kwargs)
        owner = type(self).__name__
        self.couple_carry_transform_gates = check_bool(
            owner, "couple_carry_transform_gates", couple_carry_transform_gates
        )
        self.carry_bias_init = check_number(owner, "carry_bias_init", carry_bias_init)

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        if depth != self.cell.output_size:
            raise ValueError(
                f"{self.name}: HighwayWrapper needs input depth == cell output_size, got input "
                f"depth {depth} and output_size {self.cell.output_size}"
            )
        self.carry_w = self.add_tf1_weight("carry_w", (depth, depth), None)
        self.carry_b = self.add_tf1_weight("carry_b", (depth,), keras.initializers.Constant(self.carry_bias_init))
        self.transform_w = self.transform_b = None
        if not self.couple_carry_transform_gates:
            self.transform_w = self.add_tf1_weight("transform_w", (depth, depth), None)
            self.transform_b = self.add_tf1_weight(
                "transform_b", (depth,), keras.initializers.Constant(-self.carry_bias_init)
            )
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        output, new_state = call_cell(self.cell, inputs, states, training)
        x = self.check_inputs(inputs)
        carry = tf.sigmoid(tf.matmul(x, self.carry_w) + self.carry_b)
        if self.transform_w is None:
            transform = 1.0 - carry
        else:
            transform = tf.sigmoid(tf.matmul(x, self.transform_w) + self.transform_b)
        return x * carry + output * transform, new_state

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "couple_carry_transform_gates": self.couple_carry_transform_gates,
            "carry_bias_init": self.carry_bias_init,
        }


@keras.saving.register_keras_serializable(package="tfseq")
class AttentionCellWrapper(RNNCellWrapper):
    """TF1 contrib's ``AttentionCellWrapper(cell, attn_length, attn_size=None, attn_vec_size=None,
    input_size=None, state_is_tuple=True, reuse=None)``: attention over a sliding window of the
    last ``attn_length`` outputs (math in the module docstring).

    Args:
        cell: the wrapped cell, fed ``[batch, input_size]``.
        attn_length: int > 0, the window's length ``L``.
        attn_size: None (``cell.output_size``) or int > 0: the size ``A`` of the attention vector
            and of the wrapper's output.
        attn_vec_size: None (``attn_size``) or int > 0, the size ``V`` of the attention features.
        input_size: None (the input depth) or int > 0, the depth of the cell's projected input.
        state_is_tuple: True: state ``(cell_state, attns, attn_states)``; False: their
            concatenation (needs a cell whose state is one tensor).
        reuse: TF1 only; accepted as None.

    ``state_size`` ``(cell.state_size, A, A * L)`` (or their sum); ``output_size`` ``A``.
    Weights: see the module docstring (scope ``attention_cell_wrapper``).

    Raises:
        TypeError: ``cell`` is not an RNN cell.
        ValueError: a bad ``attn_length``, ``attn_size``, ``attn_vec_size``, ``input_size``,
            ``state_is_tuple`` or ``reuse``; ``state_is_tuple=False`` with a cell whose state is
            a tuple.
    """

    tf1_scope_name = "attention_cell_wrapper"

    def __init__(
        self,
        cell: keras.layers.Layer,
        attn_length: int,
        attn_size: int | None = None,
        attn_vec_size: int | None = None,
        input_size: int | None = None,
        state_is_tuple: bool = True,
        reuse: bool | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        check_cell(owner, "cell", cell)
        self.state_is_tuple = check_bool(owner, "state_is_tuple", state_is_tuple)
        if not self.state_is_tuple and tf.nest.is_nested(cell.state_size):
            raise ValueError(
                f"{owner}: state_is_tuple=False needs a cell whose state is one tensor, got "
                f"state_size={cell.state_size!r}"
            )
        self.attn_length = check_positive_int(owner, "attn_length", attn_length)
        self._attn_size_arg = _optional_positive_int(owner, "attn_size", attn_size)
        self._attn_vec_size_arg = _optional_positive_int(owner, "attn_vec_size", attn_vec_size)
        self.input_size = _optional_positive_int(owner, "input_size", input_size)
        super().__init__(cell, reuse=reuse, **kwargs)
        self.attn_size = self._attn_size_arg or int(cell.output_size)
        self.attn_vec_size = self._attn_vec_size_arg or self.attn_size

    @property
    def state_size(self) -> Any:
        sizes = (self.cell.state_size, self.attn_size, self.attn_size * self.attn_length)
        return sizes if self.state_is_tuple else sum(sizes)

    @property
    def output_size(self) -> int:
        return self.attn_size

    def wrapped_input_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        return (shape[0], self.input_size or self.input_depth(shape))

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        a, v = self.attn_size, self.attn_vec_size
        query = sum(tf.nest.flatten(self.cell.state_size))
        self.kernel = self.add_tf1_weight("kernel", (depth + a, self.input_size or depth), None)
        self.bias = self.add_tf1_weight("bias", (self.input_size or depth,), "zeros")
        self.attn_w = add_scoped_weight(self, "attention/attn_w", (1, 1, a, v), None)
        self.attn_v = add_scoped_weight(self, "attention/attn_v", (v,), None)
        self.query_kernel = add_scoped_weight(self, "attention/kernel", (query, v), None)
        self.query_bias = add_scoped_weight(self, "attention/bias", (v,), "zeros")
        self.output_kernel = add_scoped_weight(
            self, "attn_output_projection/kernel", (self.cell.output_size + a, a), None
        )
        self.output_bias = add_scoped_weight(self, "attn_output_projection/bias", (a,), "zeros")
        super().build(input_shape)

    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> Any:
        batch_size, dtype = self.initial_state_args(batch_size, dtype, inputs)
        cell_state = super().get_initial_state(batch_size=batch_size, dtype=dtype)
        attns = tf.zeros([batch_size, self.attn_size], dtype)
        attn_states = tf.zeros([batch_size, self.attn_size * self.attn_length], dtype)
        if self.state_is_tuple:
            return (cell_state, attns, attn_states)
        return tf.concat([cell_state, attns, attn_states], 1)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        a, length = self.attn_size, self.attn_length
        state = self.check_state(states)
        if self.state_is_tuple:
            cell_state, attns, attn_states = state
        else:
            n = int(self.cell.state_size)
            cell_state, attns, attn_states = state[:, :n], state[:, n : n + a], state[:, n + a :]
        window = tf.reshape(attn_states, [-1, length, a])
        x = tf.matmul(tf.concat([self.check_inputs(inputs), attns], 1), self.kernel) + self.bias
        cell_output, new_cell_state = call_cell(self.cell, x, cell_state, training)
        query = tf.concat(tf.nest.flatten(new_cell_state), 1)
        features = tf.einsum("bla,av->blv", window, self.attn_w[0, 0])
        q = tf.matmul(query, self.query_kernel) + self.query_bias
        scores = tf.reduce_sum(self.attn_v * tf.tanh(features + q[:, None, :]), 2)
        new_attns = tf.reduce_sum(tf.nn.softmax(scores)[:, :, None] * window, 1)
        output = tf.matmul(tf.concat([cell_output, new_attns], 1), self.output_kernel) + self.output_bias
        new_window = tf.reshape(tf.concat([window[:, 1:], output[:, None, :]], 1), [-1, length * a])
        if self.state_is_tuple:
            return output, (new_cell_state, new_attns, new_window)
        return output, tf.concat([new_cell_state, new_attns, new_window], 1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "attn_length": self.attn_length,
            "attn_size": self._attn_size_arg,
            "attn_vec_size": self._attn_vec_size_arg,
            "input_size": self.input_size,
            "state_is_tuple": self.state_is_tuple,
        }


@keras.saving.register_keras_serializable(package="tfseq")
class CompiledWrapper(RNNCellWrapper):
    """TF1 contrib's ``CompiledWrapper(cell, compile_stateful=False)``: the wrapped cell's step,
    unchanged.

    In TF1 it asked XLA to compile the cell's ops (``jit_scope``). In TensorFlow 2 XLA compiles
    whole functions: ``tf.function(jit_compile=True)``, which ``tfseq.train.Trainer`` and
    ``tfseq.nn.dynamic_rnn``'s fused path use by themselves. So the wrapper computes exactly what
    its cell computes, runs fused where its cell does, and adds no variables or scope
    (``rnn/lstm_cell/kernel``, as without it).

    Args:
        cell: the wrapped cell.
        compile_stateful: bool, TF1's switch for stateful ops (kept in the config only).

    Raises:
        ValueError: ``compile_stateful`` is not a bool.
    """

    def __init__(self, cell: keras.layers.Layer, compile_stateful: bool = False, **kwargs: Any):
        super().__init__(cell, **kwargs)
        self.compile_stateful = check_bool("CompiledWrapper", "compile_stateful", compile_stateful)

    def fused_layers(self) -> FusedStack:
        """The fused path runs the wrapped cell (:mod:`tfseq.rnn_cell.fusion`)."""
        return FusedStack((self.cell,), lambda state: [state], lambda states: states[0])

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        return call_cell(self.cell, inputs, states, training)

    def get_config(self) -> dict:
        return {**super().get_config(), "compile_stateful": self.compile_stateful}


__all__ = ["HighwayWrapper", "AttentionCellWrapper", "CompiledWrapper"]
