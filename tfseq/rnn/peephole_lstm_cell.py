"""TF Addons' ``PeepholeLSTMCell`` on Keras 3: Keras' ``LSTMCell`` with peephole connections
from the cell state to the three gates (Gers et al., 2002; Sak et al., 2014)."""

from typing import Any

import keras
from keras import ops

from tfseq.rnn._args import check_units_and_dropout
from tfseq.rnn._initial_state import KerasTwoInitialState


@keras.saving.register_keras_serializable(package="tfseq.rnn")
class PeepholeLSTMCell(KerasTwoInitialState, keras.layers.LSTMCell):
    """TF Addons' ``tfa.rnn.PeepholeLSTMCell``: ``keras.layers.LSTMCell`` whose gates also see
    the cell state through three diagonal (elementwise) peephole weights ``p_i``, ``p_f``, ``p_o``::

        z = x @ kernel + h @ recurrent_kernel + bias;   z = [z_i, z_f, z_g, z_o]
        i = σ(z_i + p_i * c)    f = σ(z_f + p_f * c)
        c' = f * c + i * act(z_g)
        o = σ(z_o + p_o * c')                                 (the new state, as in Sak et al.)
        h' = o * act(c')

    Arguments, state ``[h, c]``, dropout and ``get_config`` are ``keras.layers.LSTMCell``'s (its
    ``implementation=1`` path, taken when ``recurrent_dropout > 0``, gets the same peepholes);
    ``get_config`` also keeps ``implementation``, as TF Addons' did.

    Weights, in order: ``kernel``, ``recurrent_kernel``, ``bias`` (``use_bias``), then
    ``input_gate_peephole_weights``, ``forget_gate_peephole_weights``,
    ``output_gate_peephole_weights`` (``[units]`` each, drawn with ``kernel_initializer``).

    Keras 2 → 3: Keras 3 clamps a dropout rate outside ``[0, 1]``; here it raises ``ValueError``.
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        check_units_and_dropout("PeepholeLSTMCell", units, kwargs.get("dropout", 0.0),
                                kwargs.get("recurrent_dropout", 0.0))
        super().__init__(units, **kwargs)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        for gate in ("input", "forget", "output"):
            setattr(self, f"{gate}_gate_peephole_weights", self.add_weight(
                shape=(self.units,), name=f"{gate}_gate_peephole_weights", initializer=self.kernel_initializer))

    def get_config(self) -> dict:
        # Keras 3's LSTMCell leaves ``implementation`` out of its config; TF Addons' (Keras 2) kept it
        return {**super().get_config(), "implementation": self.implementation}

    def _compute_carry_and_output(self, x: tuple, h_tm1: tuple, c_tm1: Any) -> tuple[Any, Any]:
        # implementation=1: each gate's own recurrent matmul (Keras' split path), then the peepholes
        n, r = self.units, self.recurrent_kernel
        z = [x[k] + ops.matmul(h_tm1[k], r[:, k * n:(k + 1) * n]) for k in range(4)]
        return self._compute_carry_and_output_fused(z, c_tm1)

    def _compute_carry_and_output_fused(self, z: Any, c_tm1: Any) -> tuple[Any, Any]:
        z_i, z_f, z_g, z_o = z
        i = self.recurrent_activation(z_i + self.input_gate_peephole_weights * c_tm1)
        f = self.recurrent_activation(z_f + self.forget_gate_peephole_weights * c_tm1)
        c = f * c_tm1 + i * self.activation(z_g)
        o = self.recurrent_activation(z_o + self.output_gate_peephole_weights * c)
        return c, o
