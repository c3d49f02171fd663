"""TF1 contrib's whole-sequence RNN objects (``tf.contrib.rnn.FusedRNNCell``,
``FusedRNNCellAdaptor``, ``TimeReversedFusedRNN``) as Keras 3 layers.

A *fused RNN cell* runs a whole time-major sequence in one call::

    outputs, final_state = fused(inputs, initial_state=None, dtype=None, sequence_length=None, scope=None)

with ``inputs`` ``[time, batch, depth]`` (or a list of ``time`` tensors ``[batch, depth]``,
the outputs then a list too). :class:`tfseq.nn.LSTMBlockFusedCell` is one;
:class:`FusedRNNCellAdaptor` makes one of any RNN cell (through ``nn.static_rnn`` or
``nn.dynamic_rnn``), and :class:`TimeReversedFusedRNN` runs one over the reversed sequence,
the backward half of a bidirectional layer::

    fw = FusedRNNCellAdaptor(rnn_cell.LSTMCell(128), use_dynamic_rnn=True)
    bw = TimeReversedFusedRNN(FusedRNNCellAdaptor(rnn_cell.LSTMCell(128), use_dynamic_rnn=True))
    out_fw, _ = fw(x_tm, dtype=tf.float32)
    out_bw, _ = bw(x_tm, dtype=tf.float32, sequence_length=lengths)

They are Keras layers (contrib's were plain objects), so a model that holds one tracks and saves
its cell's weights; the variable names are the cell's own (``rnn/lstm_cell/kernel``).
"""

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_bool
from tfseq.nn.rnn import dynamic_rnn, static_rnn

Inputs = tf.Tensor | Sequence[tf.Tensor]


class FusedRNNCell(keras.layers.Layer):
    """TF1 contrib's abstract ``FusedRNNCell``: a layer whose ``call(inputs, initial_state=None,
    dtype=None, sequence_length=None, scope=None)`` runs a whole time-major sequence and returns
    ``(outputs, final_state)``. Subclass it and define ``call``."""

    def call(self, inputs: Inputs, initial_state: Any = None, dtype: tf.DType | str | None = None,
             sequence_length: Any = None, scope: str | None = None) -> tuple[Any, Any]:
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs, initial_state, dtype, "
                                  "sequence_length, scope)")

    # A subclass that wraps one layer keeps it in ``self.cell``: serialized with the config.
    def get_config(self) -> dict:
        config = super().get_config()
        if isinstance(getattr(self, "cell", None), keras.layers.Layer):
            config["cell"] = keras.saving.serialize_keras_object(self.cell)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "FusedRNNCell":
        config = dict(config)
        if "cell" in config:
            config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


def _fused_cell(owner: str, cell: Any) -> keras.layers.Layer:
    if not isinstance(cell, keras.layers.Layer):
        raise TypeError(f"{owner}: cell must be a Keras layer (an RNN cell or a fused RNN cell), got {cell!r}")
    return cell


@keras.saving.register_keras_serializable(package="tfseq")
class FusedRNNCellAdaptor(FusedRNNCell):
    """Runs an RNN cell over a whole time-major sequence: TF1 contrib's ``FusedRNNCellAdaptor``.

    Args:
        cell: the RNN cell (any ``tfseq.rnn_cell`` cell or Keras 3 cell).
        use_dynamic_rnn: False (TF1's default): ``nn.static_rnn`` over the unstacked steps;
            True: ``nn.dynamic_rnn(..., time_major=True)``. Both give the same numbers.

    Call arguments: ``inputs`` ``[time, batch, depth]`` or a list of ``[batch, depth]`` steps,
    ``initial_state``, ``dtype``, ``sequence_length`` and ``scope`` as the driver takes them.
    Returns ``(outputs, final_state)``: outputs in the inputs' form (tensor or list).

    Raises:
        TypeError: ``cell`` is not a Keras layer; ValueError: ``use_dynamic_rnn`` not a bool.
    """

    def __init__(self, cell: keras.layers.Layer, use_dynamic_rnn: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.cell = _fused_cell("FusedRNNCellAdaptor", cell)
        self.use_dynamic_rnn = check_bool("FusedRNNCellAdaptor", "use_dynamic_rnn", use_dynamic_rnn)

    def call(self, inputs: Inputs, initial_state: Any = None, dtype: tf.DType | str | None = None,
             sequence_length: Any = None, scope: str | None = None) -> tuple[Any, Any]:
        is_list = isinstance(inputs, (list, tuple))
        if self.use_dynamic_rnn:
            x = tf.stack(list(inputs)) if is_list else inputs
            outputs, state = dynamic_rnn(self.cell, x, sequence_length=sequence_length, initial_state=initial_state,
                                         dtype=dtype, time_major=True, scope=scope)
            return (tf.unstack(outputs) if is_list else outputs), state
        steps = list(inputs) if is_list else tf.unstack(tf.convert_to_tensor(inputs))
        outputs, state = static_rnn(self.cell, steps, initial_state=initial_state, dtype=dtype,
                                    sequence_length=sequence_length, scope=scope)
        return (outputs if is_list else tf.stack(outputs)), state

    def get_config(self) -> dict:
        return {**super().get_config(), "use_dynamic_rnn": self.use_dynamic_rnn}


@keras.saving.register_keras_serializable(package="tfseq")
class TimeReversedFusedRNN(FusedRNNCell):
    """Runs a fused RNN cell over the time-reversed sequence and reverses its outputs back: TF1
    contrib's ``TimeReversedFusedRNN``.

    A tensor is reversed within each row's ``sequence_length`` (``tf.reverse_sequence``), so row
    ``b``'s output at step ``t < length_b`` has read steps ``t .. length_b - 1``. A list of steps is
    reversed whole, ``sequence_length`` or not, exactly as contrib did (for ragged rows pass a
    tensor). The final state is the one after the (reversed) sequence, i.e. after step 0.

    Args:
        cell: a fused RNN cell (:class:`FusedRNNCellAdaptor`, :class:`tfseq.nn.LSTMBlockFusedCell`,
            another ``TimeReversedFusedRNN``).

    Raises:
        TypeError: ``cell`` is not a Keras layer.
    """

    def __init__(self, cell: keras.layers.Layer, **kwargs: Any):
        super().__init__(**kwargs)
        self.cell = _fused_cell("TimeReversedFusedRNN", cell)

    @staticmethod
    def _reverse(t: Inputs, lengths: Any) -> Inputs:
        if isinstance(t, (list, tuple)):
            return list(reversed(t))
        if lengths is None:
            return tf.reverse(t, [0])
        return tf.reverse_sequence(t, lengths, seq_axis=0, batch_axis=1)

    def call(self, inputs: Inputs, initial_state: Any = None, dtype: tf.DType | str | None = None,
             sequence_length: Any = None, scope: str | None = None) -> tuple[Any, Any]:
        kwargs = {} if scope is None else {"scope": scope}  # LSTMBlockFusedCell names by its layer name
        outputs, state = self.cell(self._reverse(inputs, sequence_length), initial_state=initial_state, dtype=dtype,
                                   sequence_length=sequence_length, **kwargs)
        return self._reverse(outputs, sequence_length), state



__all__ = ["FusedRNNCell", "FusedRNNCellAdaptor", "TimeReversedFusedRNN"]
