"""``AttentionWrapper``: any RNN cell plus one or several attention mechanisms, as one cell.

One step (TF Addons' order, which is TF1 contrib's)::

    cell_input            = cell_input_fn(inputs, state.attention)   # default concat on depth
    cell_output, cell_st  = cell(cell_input, state.cell_state)
    for each mechanism m (k = 0, 1, ...):
        alignments_k      = m([cell_output, state.attention_state_k])      # [batch, max_time_k]
        context_k         = sum_t alignments_k[:, t] * m.values[:, t]      # [batch, depth_k]
        attention_k       = [cell_output, context_k] @ attention_layer_k   # or context_k
    attention             = concat_k attention_k
    output                = attention if output_attention else cell_output

The state is :class:`AttentionWrapperState` (TFA's field order). It is a proper RNN cell:
it runs stepped by hand, in ``tfseq.nn.dynamic_rnn`` / ``static_rnn``, ``keras.layers.RNN``
and ``tfseq.nn.RNN`` (never by the fused layer kernels: :func:`tfseq.nn.fused.plan` sends it per
step; ``nn.dynamic_rnn`` (with or without a ``sequence_length``) and ``nn.RNN`` (with or
without a Keras mask) run the hoisted loop of :mod:`tfseq.seq2seq.fused_attention` where that
covers it),
and in the seq2seq decoders. ``alignment_history=True`` keeps a ``TensorArray`` in the state,
as TFA does: use it stepped by hand or in ``dynamic_decode``; the RNN layers and
``dynamic_rnn`` carry tensors only and need ``alignment_history=False`` (given one, they
stop with :data:`ALIGNMENT_HISTORY_HINT`, which says what to write instead).
"""

import collections
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
from tensorflow.python.framework import tensor_conversion_registry

from tfseq._checks import check_bool, check_positive_int, deserialize_optional, serialize_optional
from tfseq.rnn_cell.base import call_cell
from tfseq.rnn_cell.wrappers import RNNCellWrapper, build_cell, cell_initial_state
from tfseq.seq2seq.attention import (  # also importable from here, as from TF Addons' attention_wrapper
    AttentionMechanism,
    BahdanauAttention,
    LuongAttention,
    hardmax,
)
from tfseq.seq2seq.monotonic_attention import (
    BahdanauMonotonicAttention,
    LuongMonotonicAttention,
    monotonic_attention,
    safe_cumprod,
)


class AttentionWrapperState(
    collections.namedtuple(
        "AttentionWrapperState", ("cell_state", "attention", "alignments", "alignment_history", "attention_state")
    )
):
    """State of an :class:`AttentionWrapper` (TFA's fields and order).

    Attributes:
        cell_state: the wrapped cell's state.
        attention: ``[batch, attention_size]``, the attention emitted at the previous step.
        alignments: ``[batch, max_time]`` (a tuple of them for several mechanisms).
        alignment_history: ``TensorArray`` of alignments, one per step (time major), when
            enabled; ``()`` otherwise (a tuple for several mechanisms).
        attention_state: the mechanisms' states (their previous alignments).
    """

    __slots__ = ()

    def clone(self, **kwargs):
        """A copy with the given fields replaced, e.g. ``state.clone(cell_state=encoder_state)``.

        Raises:
            ValueError: a replacement tensor whose static shape differs from the field's.
        """
        def same_shape(old, new):
            if isinstance(old, tf.Tensor) and isinstance(new, tf.Tensor):
                if not old.shape.is_compatible_with(new.shape):
                    raise ValueError(
                        f"AttentionWrapperState.clone: a new tensor must have the shape {old.shape} "
                        f"of the one it replaces, got {new.shape}"
                    )
            return new

        return tf.nest.map_structure(same_shape, self, self._replace(**kwargs))


ALIGNMENT_HISTORY_HINT = (
    "a tf.TensorArray cannot be converted to a tensor. If it is an AttentionWrapper's alignment_history=True: "
    "keras.layers.RNN, tfseq.nn.RNN and tfseq.nn.dynamic_rnn carry tensors only, so there pass "
    "alignment_history=False (each step's alignments are state.alignments), or run the same cell with "
    "tfseq.seq2seq.BasicDecoder(cell, TrainingSampler()) (dynamic_decode carries TensorArrays; same outputs, "
    "and final_state.alignment_history.stack() is [time, batch, max_time])"
)


def _refuse_tensor_array(value, dtype=None, name=None, as_ref=False):
    raise ValueError(ALIGNMENT_HISTORY_HINT)


# Converting a TensorArray always fails; this gives the failure the message above (the RNN
# layers convert their states, and an alignment history is where tfseq users meet it).
tensor_conversion_registry.register_tensor_conversion_function(tf.TensorArray, _refuse_tensor_array)


def _unwrap(tensor_array):
    """``TensorArray.write``'s result without TF's should-use wrapper (graph mode), so that the
    conversion above sees a TensorArray."""
    if hasattr(tensor_array, "mark_used"):
        tensor_array.mark_used()
    return getattr(tensor_array, "_tf_should_use_wrapped_value", tensor_array)


def default_cell_input_fn(inputs: tf.Tensor, attention: tf.Tensor) -> tf.Tensor:
    """``concat([inputs, attention], -1)``: the cell sees the input and the previous attention."""
    return tf.concat([inputs, attention], -1)


def compute_attention(mechanism: AttentionMechanism, cell_output: tf.Tensor, attention_state: Any,
                      attention_kernel: Any) -> tuple:
    """One mechanism's ``(attention, alignments, next_attention_state)`` (TFA's ``attention_fn`` contract).

    Args:
        mechanism: an :class:`~tfseq.seq2seq.attention.AttentionMechanism` with memory set up.
        cell_output: ``[batch, query_depth]``, the query.
        attention_state: the mechanism's previous state.
        attention_kernel: None, a ``[query_depth + depth, size]`` weight, or a Keras layer
            applied to ``concat([cell_output, context])``.
    """
    alignments, next_state = mechanism([cell_output, attention_state])  # [batch, max_time]
    context = mechanism.context(alignments)  # [batch, depth]
    if attention_kernel is None:
        return context, alignments, next_state
    mixed = tf.concat([cell_output, context], 1)  # [batch, query_depth + depth]
    if isinstance(attention_kernel, keras.layers.Layer):
        return attention_kernel(mixed), alignments, next_state
    return tf.matmul(mixed, tf.cast(attention_kernel, mixed.dtype)), alignments, next_state  # [batch, size]


class AttentionLayerView:
    """TF Addons' ``AttentionWrapper._attention_layers[k]`` for tfseq's own attention-layer kernel:
    ``kernel_initializer`` may be set before the wrapper is built; ``kernel`` is the weight after."""

    def __init__(self, wrapper, index):
        self._wrapper, self._index = wrapper, index

    @property
    def units(self):
        return self._wrapper._layer_sizes[self._index]

    @property
    def kernel_initializer(self):
        return self._wrapper._attention_initializers[self._index]

    @kernel_initializer.setter
    def kernel_initializer(self, initializer):
        if self._wrapper.built:
            raise ValueError(f"{self._wrapper.name}: set kernel_initializer before the wrapper is built")
        self._wrapper._attention_initializers[self._index] = keras.initializers.get(initializer)
        self._wrapper._attention_initializers_set[self._index] = True

    @property
    def kernel(self):
        kernels = self._wrapper._attention_kernels
        return None if kernels is None else kernels[self._index]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)


def _as_list(owner, name, value, count):
    if value is None:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(items) != count:
        raise ValueError(
            f"{owner}: {name} must have one entry per attention mechanism ({count}), got {value!r}"
        )
    return items


@keras.saving.register_keras_serializable(package="tfseq")
class AttentionWrapper(RNNCellWrapper):
    """Wraps an RNN cell with attention over an encoder's memory (TF Addons' ``AttentionWrapper``).

    The step is in the module docstring. ``attention_layer_size`` sets the attention
    layer ``attention = [cell_output, context] @ W_a`` (no bias); without it the
    attention is the context itself.

    Args:
        cell: any tfseq cell or Keras 3 RNN cell.
        attention_mechanism: an :class:`~tfseq.seq2seq.attention.AttentionMechanism`, or a
            list of them (then alignments/attention states are tuples).
        attention_layer_size: None, an int > 0, or a list of ints (one per mechanism).
        alignment_history: bool, keep every step's alignments in a ``TensorArray``.
        cell_input_fn: ``(inputs, attention) -> cell inputs``; default concatenation.
        output_attention: bool, output the attention (Luong style, default) or the cell
            output (Bahdanau style).
        initial_cell_state: optional cell state used by :meth:`get_initial_state` (not saved
            in the config: it is a tensor).
        name: layer name; also the TF1 scope (default ``attention_wrapper``).
        attention_layer: a Keras layer (or list) applied to ``[cell_output, context]``;
            exclusive with ``attention_layer_size``.
        attention_fn: ``(mechanism, cell_output, attention_state, attention_layer) ->
            (attention, alignments, next_attention_state)``; default :func:`compute_attention`.

    Call arguments:
        inputs: ``[batch, depth]``.
        states: an :class:`AttentionWrapperState` (or ``keras.layers.RNN``'s list of its fields).
        training: passed to the wrapped cell.

    Returns:
        ``(output, next_state)``: ``output`` ``[batch, output_size]``, ``next_state`` an
        :class:`AttentionWrapperState`.

    Raises:
        ValueError: a mechanism without memory when building; batch sizes of memory and
            state (or initial_cell_state, or ``batch_size``) that differ, the usual
            ``tile_batch`` mistake; list arguments whose length is not the number of mechanisms.

    TF1 variable names: ``attention_wrapper/<cell names>``, ``attention_wrapper/attention_layer/kernel``,
    ``attention_wrapper/<luong|bahdanau>_attention/...`` and ``memory_layer/kernel`` (the
    mechanism's, outside the wrapper's scope); a second mechanism's get ``_1`` suffixes.

    Example:
        >>> mechanism = LuongAttention(16, memory=encoder_outputs, memory_sequence_length=lengths)
        >>> cell = AttentionWrapper(tfseq.rnn_cell.LSTMCell(16), mechanism, attention_layer_size=16)
        >>> state = cell.get_initial_state(batch_size=batch, dtype=tf.float32)
        >>> state = state.clone(cell_state=encoder_state)
        >>> outputs, final = tfseq.nn.dynamic_rnn(cell, decoder_inputs, initial_state=state)
    """

    object_args = ("cell", "cell_input_fn", "attention_fn")

    def __init__(self, cell: Any, attention_mechanism: AttentionMechanism | list, attention_layer_size: Any = None,
                 alignment_history: bool = False, cell_input_fn: Callable | None = None, output_attention: bool = True,
                 initial_cell_state: Any = None, name: str | None = None, attention_layer: Any = None,
                 attention_fn: Callable | None = None, **kwargs: Any) -> None:
        super().__init__(cell, name=name, **kwargs)
        owner = "AttentionWrapper"
        self.tf1_scope_name = name or "attention_wrapper"
        self._is_multi = isinstance(attention_mechanism, (list, tuple))
        mechanisms = list(attention_mechanism) if self._is_multi else [attention_mechanism]
        if not mechanisms or not all(isinstance(m, AttentionMechanism) for m in mechanisms):
            raise TypeError(
                f"{owner}: attention_mechanism must be an AttentionMechanism or a non-empty list of them, "
                f"got {attention_mechanism!r}"
            )
        if attention_layer_size is not None and attention_layer is not None:
            raise ValueError(f"{owner}: set attention_layer_size or attention_layer, not both")
        sizes = _as_list(owner, "attention_layer_size", attention_layer_size, len(mechanisms))
        self._layer_sizes = None if sizes is None else [check_positive_int(owner, "attention_layer_size", s)
                                                         for s in sizes]
        self._attention_layer_arg = attention_layer
        self.attention_layers = _as_list(owner, "attention_layer", attention_layer, len(mechanisms))
        for flag, value in (("alignment_history", alignment_history), ("output_attention", output_attention)):
            check_bool(owner, flag, value)
        for fname, fn in (("cell_input_fn", cell_input_fn), ("attention_fn", attention_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{owner}: {fname} must be callable or None, got {fn!r}")
        self.attention_mechanisms = mechanisms
        self.alignment_history = alignment_history
        self.output_attention = output_attention
        self.cell_input_fn = cell_input_fn
        self.attention_fn = attention_fn
        self._attention_kernels = None
        self._attention_initializers = [keras.initializers.get("glorot_uniform") for _ in mechanisms]
        self._attention_initializers_set = [False for _ in mechanisms]  # else a TF1 variable scope's counts
        self._initial_cell_state = None
        if initial_cell_state is not None:
            self._check_batch(tf.nest.flatten(initial_cell_state)[-1], "initial_cell_state")
            self._initial_cell_state = initial_cell_state

    # -- sizes -----------------------------------------------------------------
    def _item_or_tuple(self, items):
        items = tuple(items)
        return items if self._is_multi else items[0]

    def _attention_sizes(self):
        """Per mechanism: the attention depth (None while a memory depth is unknown)."""
        if self._layer_sizes is not None:
            return list(self._layer_sizes)
        if self.attention_layers is not None:
            sizes = []
            for layer, m in zip(self.attention_layers, self.attention_mechanisms):
                if m.memory_depth is None:
                    sizes.append(None)
                else:
                    sizes.append(layer.compute_output_shape((None, self.cell.output_size + m.memory_depth))[-1])
            return sizes
        return [m.memory_depth for m in self.attention_mechanisms]

    @property
    def attention_size(self):
        sizes = self._attention_sizes()
        return None if None in sizes else sum(sizes)

    @property
    def output_size(self):
        return self.attention_size if self.output_attention else self.cell.output_size

    @property
    def state_size(self):
        ms = self.attention_mechanisms
        return AttentionWrapperState(
            cell_state=self.cell.state_size,
            attention=self.attention_size,
            alignments=self._item_or_tuple(m.alignments_size for m in ms),
            alignment_history=self._item_or_tuple(m.alignments_size if self.alignment_history else () for m in ms),
            attention_state=self._item_or_tuple(m.state_size for m in ms),
        )

    # -- build -----------------------------------------------------------------
    def _memory_depths(self):
        depths = [m.memory_depth for m in self.attention_mechanisms]
        if None in depths:
            raise ValueError(
                f"{self.name}: every attention mechanism needs its memory (memory= or setup_memory()) "
                "before the wrapper is built or called"
            )
        return depths

    def wrapped_input_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.cell_input_fn is None:
            return shape[:-1] + (shape[-1] + self.attention_size,)
        probe = self.cell_input_fn(tf.zeros([1, shape[-1]]), tf.zeros([1, self.attention_size]))
        return shape[:-1] + (probe.shape[-1],)

    def build(self, input_shape):
        depths = self._memory_depths()
        self.input_depth(input_shape)
        super().build(input_shape)  # the wrapped cell
        query_shape = (None, self.cell.output_size)
        for m in self.attention_mechanisms:
            if not m.built:
                m.build(query_shape)
        if self._layer_sizes is not None:
            self._attention_kernels = []
            for k, (size, depth) in enumerate(zip(self._layer_sizes, depths)):
                shape = (self.cell.output_size + depth, size)
                initializer = self._attention_initializers[k]
                if not self._attention_initializers_set[k]:
                    initializer = self.tf1_scope_initializer() or initializer
                if k == 0:
                    kernel = self.add_tf1_weight("attention_layer_kernel", shape, initializer)
                else:
                    kernel = self.add_weight(name=f"attention_layer_{k}_kernel", shape=shape,
                                             initializer=initializer)
                    self._tf1_weights[f"attention_layer_{k}/kernel"] = kernel
                self._attention_kernels.append(kernel)
        elif self.attention_layers is not None:
            self._attention_kernels = self.attention_layers
            for layer, depth in zip(self.attention_layers, depths):
                build_cell(layer, (None, self.cell.output_size + depth))
        self.built = True

    @property
    def _attention_layers(self):
        """TF Addons' name: the attention layers (views of tfseq's kernels), or None without them."""
        if self._layer_sizes is not None:
            return [AttentionLayerView(self, k) for k in range(len(self._layer_sizes))]
        return self.attention_layers

    # -- state -----------------------------------------------------------------
    def _check_batch(self, tensor, what):
        """Static batch of ``tensor`` (or an int) against every memory's; ValueError on mismatch."""
        batch = tensor if isinstance(tensor, int) else getattr(tensor, "shape", [None])[0]
        for m in self.attention_mechanisms:
            m._check_memory()
            if isinstance(batch, int) and isinstance(m.batch_size, int) and batch != m.batch_size:
                raise ValueError(
                    f"{self.name}: {what} has batch size {batch} but the memory of {m.name} has {m.batch_size}; "
                    "with beam search, tile the memory, its lengths and the encoder state with "
                    "tile_batch(..., multiplier=beam_width) and use batch_size * beam_width"
                )

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None,
                          dtype: Any = None) -> AttentionWrapperState:
        """Zero :class:`AttentionWrapperState` (cell state from ``initial_cell_state`` if given).

        Args:
            inputs: optional ``[batch, ...]`` tensor giving the batch size and dtype.
            batch_size: int or scalar tensor; must equal the memory's batch.
            dtype: state dtype (default: the inputs', else the layer's compute dtype).

        Raises:
            ValueError: ``batch_size`` differs from the memory's batch.
        """
        batch_size, dtype = self.initial_state_args(batch_size, dtype, inputs)
        if isinstance(batch_size, int) or (tf.is_tensor(batch_size) and tf.get_static_value(batch_size) is not None):
            self._check_batch(int(tf.get_static_value(batch_size)), "get_initial_state(batch_size=...)")
        else:
            self._check_batch(None, "get_initial_state")
        if self._initial_cell_state is not None:
            cell_state = self._initial_cell_state
        else:
            cell_state = cell_initial_state(self.cell, batch_size, dtype)
        ms = self.attention_mechanisms
        alignments = [m.initial_alignments(batch_size, dtype) for m in ms]
        history = [
            tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=a.shape) if self.alignment_history else ()
            for a in alignments
        ]
        return AttentionWrapperState(
            cell_state=cell_state,
            attention=tf.zeros([batch_size, self.attention_size], dtype),
            alignments=self._item_or_tuple(alignments),
            alignment_history=self._item_or_tuple(history),
            attention_state=self._item_or_tuple(m.initial_state(batch_size, dtype) for m in ms),
        )

    def _as_state(self, states):
        if isinstance(states, AttentionWrapperState):
            return states
        structure = self.state_size
        if isinstance(states, (list, tuple)) and len(states) == 5:  # keras.layers.RNN: the fields as a list
            candidate = AttentionWrapperState(*states)
            try:
                tf.nest.assert_same_structure(candidate, structure, check_types=False)
                return candidate
            except (ValueError, TypeError):  # five flat tensors, e.g. an LSTM's (c, h) + 3
                pass
        return tf.nest.pack_sequence_as(structure, tf.nest.flatten(states))

    # -- step ------------------------------------------------------------------
    def call(self, inputs, states, training=None):
        state = self._as_state(states)
        cell_inputs = (self.cell_input_fn or default_cell_input_fn)(inputs, state.attention)
        cell_output, cell_state = call_cell(self.cell, cell_inputs, state.cell_state, training)
        cell_state = tf.nest.pack_sequence_as(state.cell_state, tf.nest.flatten(cell_state))
        self._check_batch(cell_output, "the cell output (decoder batch)")
        cell_output = self._assert_batch(cell_output)

        as_list = (lambda x: list(x)) if self._is_multi else (lambda x: [x])
        attention_fn = self.attention_fn or compute_attention
        kernels = self._attention_kernels or [None] * len(self.attention_mechanisms)
        attentions, alignments, attention_states, histories = [], [], [], []
        for m, prev, history, kernel in zip(
            self.attention_mechanisms, as_list(state.attention_state), as_list(state.alignment_history), kernels
        ):
            attention, align, next_state = attention_fn(m, cell_output, prev, kernel)
            attentions.append(attention)
            alignments.append(align)
            attention_states.append(next_state)
            histories.append(_unwrap(history.write(history.size(), align)) if self.alignment_history else ())
        attention = tf.concat(attentions, 1)  # [batch, attention_size]
        next_state = AttentionWrapperState(
            cell_state=cell_state,
            attention=attention,
            alignments=self._item_or_tuple(alignments),
            alignment_history=self._item_or_tuple(histories),
            attention_state=self._item_or_tuple(attention_states),
        )
        return (attention if self.output_attention else cell_output), next_state

    def _assert_batch(self, cell_output):
        """Run-time batch check where the batch is not static (inside graphs)."""
        dynamic = [m for m in self.attention_mechanisms if not isinstance(m.batch_size, int)]
        if cell_output.shape[0] is not None and not dynamic:
            return cell_output
        checks = [
            tf.debugging.assert_equal(
                tf.shape(cell_output)[0], tf.cast(m.batch_size, tf.int32) if tf.is_tensor(m.batch_size)
                else m.batch_size,
                message=f"{self.name}: the decoder batch differs from the memory batch of {m.name} "
                "(tile the memory with tile_batch for beam search)",
            )
            for m in self.attention_mechanisms
        ]
        with tf.control_dependencies(checks):
            return tf.identity(cell_output)

    # -- names and config -----------------------------------------------------
    def tf1_variables(self):
        """TF1 names (see the class docstring)."""
        names = super().tf1_variables()  # attention_layer kernels and the cell's, under the wrapper's scope
        seen = collections.Counter()
        for k, m in enumerate(self.attention_mechanisms):
            index = seen[m.tf1_scope_name]
            seen[m.tf1_scope_name] += 1
            for name, var in m.tf1_variables().items():
                head, rest = name.split("/", 1)
                if name.startswith("memory_layer/"):
                    names[f"{head}_{k}/{rest}" if k else name] = var
                else:
                    scoped = f"{head}_{index}/{rest}" if index else name
                    names[f"{self.tf1_scope_name}/{scoped}"] = var
        return names

    def get_config(self):
        def serialize_many(items, as_list):
            out = [keras.saving.serialize_keras_object(x) for x in items]
            return out if as_list else out[0]

        layer_arg = self._attention_layer_arg
        return {
            **super().get_config(),
            "attention_mechanism": serialize_many(self.attention_mechanisms, self._is_multi),
            "attention_layer_size": (None if self._layer_sizes is None
                                     else self._layer_sizes if self._is_multi else self._layer_sizes[0]),
            "alignment_history": self.alignment_history,
            "cell_input_fn": serialize_optional(self.cell_input_fn),
            "output_attention": self.output_attention,
            "attention_layer": (None if layer_arg is None
                                else serialize_many(self.attention_layers, isinstance(layer_arg, (list, tuple)))),
            "attention_fn": serialize_optional(self.attention_fn),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("attention_mechanism", "attention_layer"):
            value = config.get(key)
            if isinstance(value, list):
                config[key] = [keras.saving.deserialize_keras_object(v) for v in value]
            else:
                config[key] = deserialize_optional(value)
        return super().from_config(config)


__all__ = [
    "AttentionWrapper",
    "AttentionWrapperState",
    "compute_attention",
    "default_cell_input_fn",
    "AttentionMechanism",
    "LuongAttention",
    "BahdanauAttention",
    "LuongMonotonicAttention",
    "BahdanauMonotonicAttention",
    "hardmax",
    "monotonic_attention",
    "safe_cumprod",
]
