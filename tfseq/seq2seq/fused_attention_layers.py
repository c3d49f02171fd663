"""Which layer stacks the hoisted attention loop (:mod:`tfseq.seq2seq.fused_attention`) runs, and
in what form: each covered layer's kind and weights for
:mod:`~tfseq.seq2seq.fused_attention_kernel` (Keras cells' kernels reordered into TF1's gate
order), its dropout (a ``DropoutWrapper``'s, or a Keras cell's own) as the masks the loop
applies, and what its ``ResidualWrapper`` and ``DeviceWrapper`` add; with the reason where a
stack is not covered.
"""

from collections.abc import Sequence

import keras
import tensorflow as tf

from tfseq.rnn_cell import BasicLSTMCell, GRUCell, LSTMCell, MultiRNNCell
from tfseq.rnn_cell.fusion import FusedDropout, NotFusable, peel_wrappings
from tfseq.seq2seq import fused_attention_kernel as kernel

TANH = (tf.tanh, tf.math.tanh, keras.activations.tanh)
SIGMOID = (tf.sigmoid, tf.math.sigmoid, keras.activations.sigmoid)
WEIGHT_NAMES = {kernel.LSTM: ("kernel", "bias"),
                kernel.GRU: ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")}
KERAS_CELLS = (keras.layers.LSTMCell, keras.layers.GRUCell)


def keras_cell_reason(layer: keras.layers.Layer, training: bool | tf.Tensor | None = None) -> str | None:
    """Why a Keras ``LSTMCell``/``GRUCell`` runs per step with ``training``, or None."""
    if layer.activation not in TANH or layer.recurrent_activation not in SIGMOID:
        return f"layer {layer.name!r}: a Keras cell with activations other than tanh and sigmoid"
    if not layer.use_bias:
        return f"layer {layer.name!r}: a Keras cell with use_bias=False"
    if layer.dropout or layer.recurrent_dropout:
        if not isinstance(training, bool):  # Keras resolves training=None from the calling layer, per step
            return f"layer {layer.name!r}: a Keras cell with dropout and training={training!r} (not True or False)"
        if training and (layer.recurrent_dropout or layer.implementation == 1):
            return (f"layer {layer.name!r}: a Keras cell with recurrent_dropout or implementation=1 (state "
                    "dropout, or a mask per gate)")
    return None


def keras_input_dropout(layer: keras.layers.Layer) -> FusedDropout:
    """A Keras cell's own input dropout as the loop applies it: the one mask per row that
    :func:`~tfseq.rnn_cell.keras_dropout.keras_dropout_masks` draws before the loop (Keras' rule,
    the per-step path's very mask), at every step; a
    :class:`~tfseq.rnn_cell.fusion.FusedDropout` whose ``masks_by_step`` gives it ``[T, batch, width]``."""

    def masks_by_step(steps, input_shape, output_shape, dtype):
        mask = tf.cast(layer.get_dropout_mask(tf.zeros(input_shape, layer.compute_dtype)), dtype)  # [batch, width]
        return tf.broadcast_to(mask[None], tf.concat([[steps], tf.shape(mask)], 0)), None

    return FusedDropout(variational=False, masks_by_step=masks_by_step)


def layer_math(layer: keras.layers.Layer, dtype: tf.DType) -> tuple:
    """``(kind, weights, forget_bias, keras_state_order)`` of one covered layer for
    :mod:`~tfseq.seq2seq.fused_attention_kernel`, its weights cast to ``dtype``. Keras'
    ``LSTMCell`` (gates ``i, f, c, o``, state ``[h, c]``) and ``GRUCell(reset_after=False)``
    (gates ``z, r, h``) are TF1's math with their kernels' columns reordered (differentiable ops,
    so their gradients reach the Keras weights); Keras' ``GRUCell(reset_after=True)`` has its
    own kind."""
    if not isinstance(layer, KERAS_CELLS):
        spec = layer.fused_spec()
        forget_bias = float(spec.forget_bias) if spec.kind == kernel.LSTM else 0.0
        return spec.kind, [tf.cast(spec.weights[name], dtype) for name in WEIGHT_NAMES[spec.kind]], forget_bias, False
    n = layer.units
    weights = [tf.cast(w, dtype) for w in (layer.kernel, layer.recurrent_kernel, layer.bias)]
    if isinstance(layer, keras.layers.GRUCell) and layer.reset_after:
        return kernel.GRU_RESET_AFTER, weights, 0.0, False
    stacked, bias = tf.concat(weights[:2], 0), weights[2]
    if isinstance(layer, keras.layers.LSTMCell):  # i, f, c, o -> TF1's i, j (= c), f, o
        order = tf.concat([tf.range(0, n), tf.range(2 * n, 3 * n), tf.range(n, 2 * n), tf.range(3 * n, 4 * n)], 0)
        return kernel.LSTM, [tf.gather(stacked, order, axis=1), tf.gather(bias, order)], 0.0, True
    gates = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], 0)  # z, r -> TF1's r, u (= z)
    return kernel.GRU, [tf.gather(stacked, gates, axis=1), tf.gather(bias, gates), stacked[:, 2 * n:],
                        bias[2 * n:]], 0.0, False


def stack(cell: keras.layers.Layer) -> list:
    """The layers of a ``MultiRNNCell`` or Keras ``StackedRNNCells``, or ``[cell]``."""
    return list(cell.cells) if type(cell) in (MultiRNNCell, keras.layers.StackedRNNCells) else [cell]


def stack_layers(cell: keras.layers.Layer, training: bool | tf.Tensor | None = None) -> tuple:
    """``(layers, dropouts, residuals, devices, reason)``: the plain LSTM/GRU layers and, per
    layer, its input and output dropout in this call (a
    :class:`~tfseq.rnn_cell.fusion.FusedDropout` with per-step masks) or None, whether a
    ``ResidualWrapper`` adds its input to its output and the device a ``DeviceWrapper`` puts
    it on (or None); ``(None, None, None, None, reason)`` when the stack is not covered."""
    layers, dropouts, residuals, devices = [], [], [], []
    not_covered = None, None, None, None
    for index, layer in enumerate(stack(cell)):
        dropout, name = None, layer.name
        try:
            layer, device, residual = peel_wrappings(layer)
        except NotFusable as error:
            return *not_covered, str(error)
        if residual and index == 0:
            return *not_covered, (f"layer {name!r}: a ResidualWrapper on the first layer (whose input is "
                                  "[inputs, attention])")
        if hasattr(layer, "fused_dropout"):  # a dropout wrapper (rnn_cell.fusion's contract)
            inner = layer.wrapped_cells()[0]
            spec = getattr(inner, "fused_spec", lambda: None)()
            if spec is None:
                return *not_covered, f"layer {layer.name!r} wraps a cell that does not run fused"
            try:
                dropout = layer.fused_dropout(spec, training)
            except NotFusable as error:
                return *not_covered, str(error)
            layer = inner  # state dropout reaching here: a variational mask of the h carried (else NotFusable)
        if type(layer) in KERAS_CELLS:
            reason = keras_cell_reason(layer, training)
            if reason is not None:
                return *not_covered, reason
            if training is True and layer.dropout:
                dropout = keras_input_dropout(layer)
            layers.append(layer)
            dropouts.append(dropout)
            residuals.append(residual)
            devices.append(device)
            continue
        if type(layer) not in (BasicLSTMCell, LSTMCell, GRUCell):
            return *not_covered, (f"layer {layer.name!r} is a {type(layer).__name__}, not a plain "
                                      "(Basic)LSTMCell or GRUCell or Keras' LSTMCell or GRUCell")
        spec = layer.fused_spec()
        if spec.kind == kernel.LSTM and (spec.use_peepholes or spec.cell_clip is not None
                                         or spec.num_proj is not None or not spec.state_is_tuple):
            return *not_covered, (f"layer {layer.name!r} has peepholes, a cell clip, a projection or a "
                                      "concatenated state")
        if spec.activation not in TANH:
            return *not_covered, f"layer {layer.name!r} has an activation other than tanh"
        layers.append(layer)
        dropouts.append(dropout)
        residuals.append(residual)
        devices.append(device)
    return layers, dropouts, residuals, devices, None


def swap_keras_lstm_states(kinds: Sequence[str], keras_order: Sequence[bool], flat: Sequence[tf.Tensor]) -> list:
    """Keras' LSTM state ``[h, c]`` to the kernel's ``(c, h)`` and back (the same swap)."""
    flat = list(flat)
    for at, swap in zip(kernel.state_layout(kinds)[1], keras_order):
        if swap:
            flat[at], flat[at + 1] = flat[at + 1], flat[at]
    return flat


def dropout_masks(layers: Sequence, dropouts: Sequence, x_tm: tf.Tensor, attention: tf.Tensor) -> tuple:
    """``(x_tm, drops, out_drops, h_drops)``: the inputs with layer 0's input dropout applied
    (before the hoisted projection) and, per layer, the ``[T, batch, width]`` masks the loop
    applies to the rest of its input (layer 0: the previous attention; above: the layer below's
    output) and to its output ``h``, and the variational ``[1, units]`` mask of the ``h`` a layer
    carries on (state dropout), or None; drawn as the per-step path draws them."""
    steps, batch = tf.shape(x_tm)[0], tf.shape(x_tm)[1]
    depth, dtype = x_tm.shape[-1], x_tm.dtype
    units = [layer.units if isinstance(layer, KERAS_CELLS) else layer.fused_spec().output_size for layer in layers]
    widths = [depth + attention.shape[-1]] + units[:-1]
    drops, out_drops, h_drops = [], [], []
    for layer, (dropout, width) in enumerate(zip(dropouts, widths)):
        h_drops.append(None if dropout is None or dropout.h_mask is None else
                       dropout.h_mask(tf.ones([1, units[layer]], dtype)))
        if dropout is None:
            drops.append(None)
            out_drops.append(None)
            continue
        if dropout.variational:  # one [1, size] mask per sequence, the per-step path's own: [T, 1, size]
            masks, out_masks = (None if draw is None else tf.broadcast_to(draw(tf.ones([1, size], dtype)),
                                                                            tf.stack([steps, 1, size]))
                                for draw, size in ((dropout.input_mask, width), (dropout.output_mask, units[layer])))
        else:
            masks, out_masks = dropout.masks_by_step(steps, tf.stack([batch, width]),
                                                     tf.stack([batch, units[layer]]), dtype)  # [T, batch, size]
        if layer == 0 and masks is not None:  # the per-step path drops [x_t, attention_{t-1}] as one tensor
            x_tm, masks = x_tm * masks[:, :, :depth], masks[:, :, depth:]
        drops.append(masks)
        out_drops.append(out_masks)
    return x_tm, drops, out_drops, h_drops
