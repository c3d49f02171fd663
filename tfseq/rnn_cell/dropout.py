"""TF1's ``DropoutWrapper`` with Keras' training switch and per-sequence variational masks."""

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfseq._checks import check_optional_int, serialize_optional
from tfseq._random import next_seeds, uniform
from tfseq.rnn_cell.base import LSTMStateTuple, call_cell, cell_training, dims_compatible
from tfseq.rnn_cell.fusion import FusedDropout, FusedSpec, NotFusable, check_not_overridden
from tfseq.rnn_cell.wrappers import RNNCellWrapper, step_shape

_INPUT_SALT, _OUTPUT_SALT, _STATE_SALT = 0, 1, 2  # state component k uses _STATE_SALT + k


def _check_input_size(value: Any) -> int | tuple[int, ...] | None:
    """None or an int (TF1's input depth), or the shape of a step input after the batch
    (``tf.TensorShape`` or list of positive ints), kept as a tuple."""
    if not isinstance(value, (tf.TensorShape, list, tuple)):
        return check_optional_int("DropoutWrapper", "input_size", value)
    dims = value.as_list() if isinstance(value, tf.TensorShape) and value.rank is not None else value
    if isinstance(dims, tf.TensorShape) or not dims or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in dims
    ):
        raise ValueError(f"DropoutWrapper: input_size must be an int, a shape of positive ints or None, got {value!r}")
    return tuple(int(d) for d in dims)


def default_dropout_state_filter_visitor(substate: Any) -> Any:
    """TF1's default: drop every state tensor except an LSTM's memory ``c``."""
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)
    return True


def _children(structure):
    if isinstance(structure, dict):
        return [structure[key] for key in sorted(structure)]
    return list(structure)


def dropout_flags(visitor: Callable, state: Any) -> list[bool]:
    """One bool per ``tf.nest.flatten(state)`` leaf: does dropout apply to it?

    Follows TF1's ``nest.get_traverse_shallow_structure``: ``visitor(substate)``
    returns a bool (False: skip the whole subtree, True: look inside it) or a depth-1
    structure of bools, one per child.
    """
    decision = visitor(state)
    if isinstance(decision, (bool, np.bool_)):
        decision = bool(decision)
        if not decision:
            return [False] * len(tf.nest.flatten(state))
        if not tf.nest.is_nested(state):
            return [True]
        return [flag for child in _children(state) for flag in dropout_flags(visitor, child)]
    decisions, children = _children(decision), _children(state)
    if len(decisions) != len(children):
        raise ValueError(
            f"dropout_state_filter_visitor returned {decision!r}, which does not match the state structure {state!r}"
        )
    flags = []
    for flag, child in zip(decisions, children):
        flags += dropout_flags(visitor, child) if flag else [False] * len(tf.nest.flatten(child))
    return flags


def check_keep_prob(owner: str, name: str, value: Any) -> float | tf.Tensor | tf.Variable:
    """A number in (0, 1] (returned as a float), or a scalar float tensor / ``tf.Variable``
    (TF1's placeholder idiom) whose range :func:`keep_prob_tensor` checks when the cell runs.
    Shared by ``DropoutWrapper`` and ``LayerNormBasicLSTMCell``."""
    if isinstance(value, tf.Variable) or tf.is_tensor(value):
        if value.shape.rank not in (None, 0) or not tf.as_dtype(value.dtype).is_floating:
            raise ValueError(f"{owner}: {name} must be a number or a scalar float tensor, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value <= 1.0:
        raise ValueError(f"{owner}: {name} must be in (0, 1], got {value!r}")
    return float(value)


def may_drop(keep_prob: float | tf.Tensor | tf.Variable) -> bool:
    """Python-level: can this keep probability drop anything? (A tensor: yes, maybe.)"""
    return not isinstance(keep_prob, float) or keep_prob < 1.0


def keep_prob_tensor(
    owner: str,
    name: str,
    keep_prob: float | tf.Tensor | tf.Variable,
    dtype: tf.DType | str | None,
) -> float | tf.Tensor:
    """A float ``keep_prob`` as is; a tensor/Variable cast to ``dtype`` and checked to be in
    (0, 1] at run time (``InvalidArgumentError`` naming ``owner`` and ``name``)."""
    if isinstance(keep_prob, float):
        return keep_prob
    keep = tf.cast(keep_prob, dtype)
    message = f"{owner}: {name} must be in (0, 1]"
    with tf.control_dependencies([
        tf.debugging.assert_greater(keep, tf.zeros([], dtype), message=message),
        tf.debugging.assert_less_equal(keep, tf.ones([], dtype), message=message),
    ]):
        return tf.identity(keep)


def keep_prob_config(owner: str, name: str, keep_prob: float | tf.Tensor | tf.Variable) -> float:
    """A keep probability for ``get_config``: a tensor/Variable is saved as its current value.
    Shared by ``DropoutWrapper`` and ``LayerNormBasicLSTMCell``."""
    if isinstance(keep_prob, float):
        return keep_prob
    try:
        return float(keras.ops.convert_to_numpy(keep_prob))
    except Exception:  # a symbolic tensor has no value to save
        raise ValueError(
            f"{owner}: cannot serialize a symbolic {name} {keep_prob!r}; pass a number or a tf.Variable"
        ) from None


@keras.saving.register_keras_serializable(package="tfseq")
class DropoutWrapper(RNNCellWrapper):
    """Dropout on a cell's inputs, outputs and new state, with TF1's semantics.

    Kept units are scaled by ``1 / keep_prob`` (inverted dropout), so the expected
    value of every tensor is unchanged: ``y = x / keep_prob * floor(keep_prob + U[0, 1))``.
    State dropout passes each state tensor through ``dropout_state_filter_visitor``; the
    default never drops an LSTM's memory ``c``.

    **When it drops** (one rule, TF1's where TF1 code runs, Keras' inside Keras):

    * TF1 drivers -- ``tfseq.nn.dynamic_rnn``, ``static_rnn``, ``bidirectional_dynamic_rnn``,
      ``static_bidirectional_rnn``, ``stack_bidirectional_*``, ``legacy_seq2seq.rnn_decoder``
      -- called without ``training`` outside any Keras layer's ``call`` drop, as TF1 always
      did (TF1 programs build the wrapper with ``keep_prob < 1`` for training only, or feed
      ``keep_prob=1.0``); Keras cells under them keep Keras' rule, as under TF1's drivers.
      ``training=False`` turns dropout off, ``training=True`` on.
    * Keras (``keras.layers.RNN(cell)``, ``tfseq.nn.RNN``, a driver called inside a Keras
      layer's ``call``, the cell called directly): Keras' ``training`` semantics --
      ``model.fit`` drops, ``model.predict``/``evaluate`` and a call without ``training``
      do not.

    ``input_keep_prob`` & co. may be floats, or scalar float tensors / ``tf.Variable``s
    (TF1's ``keep_prob`` placeholder idiom): their range is then checked when the wrapper
    runs (``InvalidArgumentError``), and such a wrapper runs on the per-step path.

    ``variational_recurrent=False``: a fresh mask for every element at every step.
    ``variational_recurrent=True`` (Gal & Ghahramani): one mask of shape ``[1, size]``
    per tensor (input, output, each state part; ``[1, *spatial, channels]`` for a
    convolutional cell's, as TF1's ``[1] + size``), shared by every time step and every
    batch row of a sequence batch, and resampled for the next sequence batch.

    How variational masks stay fixed within a sequence and change between sequences,
    in eager mode, in ``tf.function``, in ``keras.layers.RNN`` and in
    ``tfseq.nn.dynamic_rnn`` alike: each mask is *stateless* random,
    ``stateless_uniform([1, size], seed=fold_in(sequence_seed, salt))``, keyed by a
    per-sequence seed held in a ``keras.random.SeedGenerator`` variable. Every step
    reads the same seed, so every step (every while-loop iteration) recomputes the
    same mask; nothing random is carried between iterations. The seed advances once
    per sequence batch, outside the loop: at every call of a TF1 driver
    (``tfseq.nn.dynamic_rnn`` & co., like TF1's new masks at every ``session.run``) and of
    ``tfseq.nn.RNN``, also when the caller passes ``initial_state`` (truncated BPTT
    carrying the state across batches), and in :meth:`get_initial_state`. Only
    ``keras.layers.RNN`` with a caller's ``initial_state`` (or ``stateful=True``) needs
    :meth:`resample_dropout_masks` on the outermost cell before each batch; a wrapper
    forwards it to every ``DropoutWrapper`` inside. TF1's eager mode sampled the masks
    once and froze them forever (tensorflow#7927); this does not.

    Args:
        cell: the wrapped cell.
        input_keep_prob, output_keep_prob, state_keep_prob: floats in (0, 1] (1 disables),
            or scalar float tensors / ``tf.Variable``s checked at run time.
        variational_recurrent: bool, see above.
        input_size: optional int, the input depth (TF1 needed it for variational input
            dropout; here it is inferred at build and, if given, checked), or the shape of a
            step input after the batch (a ``tf.TensorShape`` or list of ints, TF1's for a
            convolutional cell's ``[batch, *spatial, channels]`` steps).
        dtype: TF1's dtype of inputs and state; here the Keras layer dtype (policy).
        seed: optional int, makes masks reproducible.
        dropout_state_filter_visitor: ``substate -> bool or depth-1 structure of bools``
            (TF1's); default :func:`default_dropout_state_filter_visitor`.

    Call arguments: ``inputs``, ``states``, ``training`` (bool or bool tensor; None: off,
        unless a TF1 driver resolved it, see above).

    TF1 scope: none (``rnn/basic_lstm_cell/kernel``).

    Raises:
        ValueError: a keep probability outside (0, 1] (a tensor one: ``InvalidArgumentError``
            at run time); ``input_size`` not matching the input.
    """

    object_args = ("cell", "dropout_state_filter_visitor")

    def __init__(
        self,
        cell: keras.layers.Layer,
        input_keep_prob: float | tf.Tensor | tf.Variable = 1.0,
        output_keep_prob: float | tf.Tensor | tf.Variable = 1.0,
        state_keep_prob: float | tf.Tensor | tf.Variable = 1.0,
        variational_recurrent: bool = False,
        input_size: int | tf.TensorShape | Sequence[int] | None = None,
        dtype: tf.DType | str | None = None,
        seed: int | None = None,
        dropout_state_filter_visitor: Callable | None = None,
        **kwargs: Any,
    ):
        super().__init__(cell, dtype=dtype, **kwargs)
        self.input_keep_prob = check_keep_prob("DropoutWrapper", "input_keep_prob", input_keep_prob)
        self.output_keep_prob = check_keep_prob("DropoutWrapper", "output_keep_prob", output_keep_prob)
        self.state_keep_prob = check_keep_prob("DropoutWrapper", "state_keep_prob", state_keep_prob)
        self.variational_recurrent = bool(variational_recurrent)
        self.input_size = _check_input_size(input_size)
        self.seed = check_optional_int("DropoutWrapper", "seed", seed)
        if dropout_state_filter_visitor is not None and not callable(dropout_state_filter_visitor):
            raise TypeError(
                f"DropoutWrapper: dropout_state_filter_visitor must be callable, got {dropout_state_filter_visitor!r}"
            )
        self.dropout_state_filter_visitor = dropout_state_filter_visitor
        self.sequence_seed = keras.random.SeedGenerator(seed)

    def build(self, input_shape: tuple) -> None:
        shape = step_shape(input_shape)
        if self.input_size is not None and shape is not None:
            dims = shape[1:]
            if isinstance(self.input_size, int):
                if len(dims) == 1 and dims[0] not in (None, self.input_size):
                    raise ValueError(f"{self.name}: input_size={self.input_size} but the inputs have depth {dims[0]}")
                if len(dims) > 1:
                    raise ValueError(f"{self.name}: input_size={self.input_size} is a depth, but the inputs have "
                                     f"shape {shape}: pass their shape after the batch, input_size={list(dims)}")
            elif not dims_compatible(dims, self.input_size):
                raise ValueError(f"{self.name}: input_size={list(self.input_size)} but the inputs have shape {shape}")
        super().build(input_shape)

    # -- sequences -------------------------------------------------------------
    def resample_dropout_masks(self) -> None:
        """Start a new sequence batch: new variational masks from the next call on."""
        self.sequence_seed.next()
        super().resample_dropout_masks()

    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> Any:
        self.sequence_seed.next()
        return super().get_initial_state(batch_size=batch_size, dtype=dtype, inputs=inputs)

    # -- masks -----------------------------------------------------------------
    def _drop(self, value, keep_prob, salt, name):
        """``value / keep_prob * floor(keep_prob + uniform)``, TF1's formula."""
        keep_prob = keep_prob_tensor("DropoutWrapper", name, keep_prob, value.dtype)
        if self.variational_recurrent:
            seed = tf.random.experimental.stateless_fold_in(self.sequence_seed.state.value, salt)
            # one [1, *size] mask per sequence: TF's default algorithm, whose numbers under XLA
            # (this int64 seed) are not Philox-by-name's; too small to matter for speed
            shape = [1, *value.shape[1:]] if value.shape[1:].is_fully_defined() else tf.concat(
                [[1], tf.shape(value)[1:]], 0)
            noise = tf.random.stateless_uniform(shape, seed=seed, dtype=value.dtype)
        else:
            # Drawn from the SeedGenerator variable (not a stateful op) so that a checkpoint
            # holds the RNG position and a resumed run draws the same masks; Philox, fast under XLA.
            noise = uniform(tf.shape(value), self.sequence_seed, value.dtype)
        keep = tf.floor(keep_prob + noise)  # 1 with probability keep_prob
        return value / keep_prob * keep

    def drop_inputs(self, inputs: tf.Tensor) -> tf.Tensor:
        """Input dropout as a training step applies it (any leading shape; the fused path
        applies it to a whole sequence at once)."""
        return self._drop(inputs, self.input_keep_prob, _INPUT_SALT, "input_keep_prob")

    def masks_by_step(self, steps: int | tf.Tensor, input_shape: Any, output_shape: Any,
                      dtype: tf.DType | str) -> tuple[tf.Tensor | None, tf.Tensor | None]:
        """``(input masks [steps, *input_shape], output masks [steps, *output_shape])`` (each
        ``1 / keep_prob`` or 0; None where that dropout is off): the masks ``steps`` steps of the
        per-step path draw, step ``t``'s at ``[t]``, in its order (a step's input mask, then its
        output mask), the sampler advanced as those draws advance it. A loop that applies them
        equals the per-step path (non-variational input and output dropout, no state dropout; the
        fused attention loop draws its masks so)."""
        dtype = tf.as_dtype(dtype)
        wanted = [(keep, shape, name) for keep, shape, name in (
            (self.input_keep_prob, input_shape, "input_keep_prob"),
            (self.output_keep_prob, output_shape, "output_keep_prob")) if may_drop(keep)]
        seeds = tf.reshape(next_seeds(self.sequence_seed, steps * len(wanted)), [steps, len(wanted), 2])
        masks = {}
        for k, (keep, shape, name) in enumerate(wanted):
            keep_prob = keep_prob_tensor("DropoutWrapper", name, keep, dtype)
            noise = tf.map_fn(lambda seed: uniform(shape, seed, dtype), seeds[:, k], fn_output_signature=dtype)
            masks[name] = tf.floor(keep_prob + noise) / keep_prob
        return masks.get("input_keep_prob"), masks.get("output_keep_prob")

    def drop_outputs(self, outputs: tf.Tensor) -> tf.Tensor:
        """Output dropout as a training step applies it."""
        return self._drop(outputs, self.output_keep_prob, _OUTPUT_SALT, "output_keep_prob")

    def drop_state_component(self, value: Any, index: int) -> tf.Tensor:
        """State dropout of the ``index``-th flattened state tensor (LSTM: 0 is c, 1 is h)."""
        return self._drop(value, self.state_keep_prob, _STATE_SALT + index, "state_keep_prob")

    # -- the fused path ---------------------------------------------------------
    # What fused_dropout() stands in for: a subclass replacing one of these runs per step.
    _FUSED_REPLACES = ("call", "__call__", "_dropout_step", "drop_inputs", "drop_outputs", "drop_state_component",
                       "masks_by_step")

    def fused_dropout(self, spec: FusedSpec, training: bool | None) -> FusedDropout | None:
        """This wrapper's dropout around a cell described by ``spec``, for the fused path
        (:mod:`tfseq.rnn_cell.fusion`): None when nothing drops in a call with ``training``.

        The fused path applies input and output dropout to whole sequences; state dropout
        only where it is a variational mask on the ``h`` a layer carries (an LSTM's with a tuple
        state and TF1's default filter keeping ``c``, or a GRU's or basic RNN's one state; the
        fused layers of :mod:`tfseq.nn.fused` take an LSTM's only). ``training`` must be a
        Python bool (or None with every keep probability 1): the per-step path alone resolves
        it at run time.

        Raises:
            NotFusable: the per-step path must run this call (the message says why).
        """
        check_not_overridden(self, DropoutWrapper, self._FUSED_REPLACES)
        keeps = (self.input_keep_prob, self.output_keep_prob, self.state_keep_prob)
        if not all(isinstance(k, float) for k in keeps):  # TF1's keep_prob placeholder idiom
            raise NotFusable(f"{self.name}: a keep probability is a tensor (checked at run time per step)")
        if all(k == 1.0 for k in keeps):
            return None
        if training is None:
            raise NotFusable(
                f"{self.name}: dropout with training=None (only the per-step path lets Keras "
                "resolve training from the calling layer); pass training=True/False"
            )
        if not isinstance(training, bool):
            raise NotFusable(f"{self.name}: dropout with a tensor training={training!r}")
        if not training:
            return None
        h_index = self._check_fused_state_dropout(spec) if self.state_keep_prob < 1.0 else None
        return FusedDropout(
            variational=self.variational_recurrent,
            input_mask=self.drop_inputs if self.input_keep_prob < 1.0 else None,
            h_mask=(lambda ones: self.drop_state_component(ones, h_index)) if h_index is not None else None,
            output_mask=self.drop_outputs if self.output_keep_prob < 1.0 else None,
            masks_by_step=(self.masks_by_step if not self.variational_recurrent and self.state_keep_prob == 1.0
                           else None),
        )

    def _check_fused_state_dropout(self, spec: FusedSpec) -> int | None:
        """Which flattened state tensor the fused path drops: an LSTM's ``h`` (1; ``c`` kept), the
        one state ``h`` of a GRU or basic RNN (0), or None where the filter drops nothing."""
        if not self.variational_recurrent:
            raise NotFusable(f"{self.name}: per-step state dropout (variational_recurrent=False)")
        visitor = self.dropout_state_filter_visitor or default_dropout_state_filter_visitor
        if spec.kind != "lstm":
            return 0 if dropout_flags(visitor, tf.zeros([1, spec.output_size])) == [True] else None
        if not spec.state_is_tuple:
            raise NotFusable(f"{self.name}: state dropout of a {type(self.cell).__name__} without a tuple state")
        if dropout_flags(visitor, LSTMStateTuple(0, 0)) != [False, True]:
            raise NotFusable(f"{self.name}: state dropout on c (a custom dropout_state_filter_visitor)")
        return 1

    # -- the step ----------------------------------------------------------------
    def _dropout_step(self, inputs, states, training):
        if may_drop(self.input_keep_prob):
            inputs = self.drop_inputs(inputs)
        output, new_state = call_cell(self.cell, inputs, states, training)
        if may_drop(self.state_keep_prob):
            visitor = self.dropout_state_filter_visitor or default_dropout_state_filter_visitor
            flat = tf.nest.flatten(new_state)
            flags = dropout_flags(visitor, new_state)
            flat = [
                self.drop_state_component(s, k) if flag else s
                for k, (s, flag) in enumerate(zip(flat, flags))
            ]
            new_state = tf.nest.pack_sequence_as(new_state, flat)
        if may_drop(self.output_keep_prob):
            output = self.drop_outputs(output)
        return output, new_state

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        training = cell_training(training)  # None under a TF1 driver: True (see "When it drops")
        if training is None or training is False:
            return call_cell(self.cell, inputs, states, training)
        if training is True:
            return self._dropout_step(inputs, states, True)
        return tf.cond(
            tf.convert_to_tensor(training),
            lambda: self._dropout_step(inputs, states, True),
            lambda: call_cell(self.cell, inputs, states, False),
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "input_keep_prob": keep_prob_config("DropoutWrapper", "input_keep_prob", self.input_keep_prob),
            "output_keep_prob": keep_prob_config("DropoutWrapper", "output_keep_prob", self.output_keep_prob),
            "state_keep_prob": keep_prob_config("DropoutWrapper", "state_keep_prob", self.state_keep_prob),
            "variational_recurrent": self.variational_recurrent,
            "input_size": list(self.input_size) if isinstance(self.input_size, tuple) else self.input_size,
            "seed": self.seed,
            "dropout_state_filter_visitor": serialize_optional(self.dropout_state_filter_visitor),
        }
