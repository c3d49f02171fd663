"""The cell contract, written once, and the one place that maps weights to TF1 names.

Every tfseq cell and wrapper is a Keras 3 layer that follows this contract:

* ``state_size``: an int (one state tensor of shape ``[batch, state_size]``) or a
  nested tuple of ints (``LSTMStateTuple(c=..., h=...)``, or one entry per layer in
  ``MultiRNNCell``). Order and nesting are TF1's: LSTM state is ``(c, h)``.
* ``output_size``: an int, the depth of the per-step output.
* ``call(inputs, states, training=None) -> (output, new_states)``: one time step.
  ``inputs`` is ``[batch, depth]`` float; ``states`` has the structure of
  ``state_size`` (``keras.layers.RNN`` hands it over as a flat list, which is
  accepted too); ``new_states`` has the structure of ``state_size``.
* ``get_initial_state(batch_size=None, dtype=None, inputs=None)``: zeros shaped
  like ``state_size``; ``zero_state(batch_size, dtype)`` is TF1's spelling of it.
* ``tf1_variables()``: ``{tf1_relative_name: variable}``, e.g.
  ``{"basic_lstm_cell/kernel": <Variable>}``; wrappers nest their children's.

TF1's call convention works too: ``cell(inputs, state=state, scope="name")``
(``scope`` only names the ops: variable names always come from the cell). A user's
TF1-style cell that overrides ``__call__(inputs, state, scope=None)`` instead of
``call`` runs inside tfseq's wrappers and drivers: they pass ``training`` only to cells
whose ``__call__`` accepts it (:func:`call_cell`).

**Float dtype, as in TF1.** A tfseq cell created without ``dtype=`` takes the float
dtype of the first inputs it sees (``float64`` inputs give ``float64`` weights, states
and outputs), unless a mixed-precision policy is set globally; wrappers pass it on to
their cells. A cell whose weights exist already (or that was given ``dtype=``) raises
``TypeError`` for inputs of another float dtype instead of casting them silently.

TF1 arguments that mean nothing in Keras 3 (``reuse``, variable sharding) follow one
rule: they are accepted at their TF1 default (so copied code runs) and any other value
raises ``ValueError`` saying what to do instead. See :func:`reject_tf1_only_args`.
"""

import collections
import contextlib
import contextvars
import copy
import inspect
import numbers
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import (  # noqa: F401  (re-exported: the cells' argument checks)
    check_bool,
    check_optional_bool,
    check_optional_int,
    check_optional_nonnegative,
    check_positive_int,
    deserialize_optional,
    serialize_optional,
)

if keras.backend.backend() != "tensorflow":  # pragma: no cover - configuration error
    raise ImportError(
        "tfseq needs the TensorFlow backend of Keras 3, got KERAS_BACKEND="
        f"{keras.backend.backend()!r}; unset KERAS_BACKEND or set it to 'tensorflow'."
    )

# Keras 3 forbids "/" in weight names, so a TF1 sub-scope is spelled with "_".
# This is the only table of such names; tfseq.compat builds on it.
_KERAS_TO_TF1 = {
    "gates_kernel": "gates/kernel",
    "gates_bias": "gates/bias",
    "candidate_kernel": "candidate/kernel",
    "candidate_bias": "candidate/bias",
    "projection_kernel": "projection/kernel",
    "memory_layer_kernel": "memory_layer/kernel",  # tfseq.seq2seq attention
    "query_layer_kernel": "query_layer/kernel",
    "attention_layer_kernel": "attention_layer/kernel",
    # LayerNormBasicLSTMCell: one layer norm per gate (input, transform, forget, output) and one for c
    **{f"{norm}_{param}": f"{norm}/{param}" for norm in ("input", "transform", "forget", "output", "state")
       for param in ("gamma", "beta")},
}
_TF1_TO_KERAS = {v: k for k, v in _KERAS_TO_TF1.items()}

# TF1-only arguments: name -> what to do instead in Keras 3.
_TF1_ONLY_ADVICE = {
    "reuse": "share weights by calling the same cell object again",
    "num_unit_shards": "variable sharding is gone; use tf.distribute for large models",
    "num_proj_shards": "variable sharding is gone; use tf.distribute for large models",
}


def tf1_weight_name(keras_name: str) -> str:
    """TF1 relative variable name for a Keras weight name (``gates_kernel`` -> ``gates/kernel``)."""
    return _KERAS_TO_TF1.get(keras_name, keras_name)


def keras_weight_name(tf1_name: str) -> str:
    """Keras weight name for a TF1 relative variable name (``gates/kernel`` -> ``gates_kernel``)."""
    return _TF1_TO_KERAS.get(tf1_name, tf1_name)


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """TF1's LSTM state: ``c`` is the cell state, ``h`` the output (hidden) state."""

    __slots__ = ()

    @property
    def dtype(self) -> tf.DType:
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"LSTMStateTuple has c.dtype={c.dtype} but h.dtype={h.dtype}")
        return c.dtype


def reject_tf1_only_args(owner: str, **kwargs: Any) -> None:
    """Raise ``ValueError`` for a TF1-only argument set to anything but its default (None)."""
    for name, value in kwargs.items():
        if value is not None and value is not False:
            raise ValueError(
                f"{owner}: {name}={value!r} has no meaning in Keras 3; "
                f"{_TF1_ONLY_ADVICE.get(name, 'remove it')}."
            )


def get_activation(owner: str, activation: Callable | str | None) -> Callable:
    """TF1 default tanh; accepts a callable or a Keras activation name."""
    if activation is None:
        return tf.tanh
    if isinstance(activation, str):
        try:
            return keras.activations.get(activation)
        except ValueError:
            raise ValueError(f"{owner}: unknown activation {activation!r}") from None
    if not callable(activation):
        raise TypeError(f"{owner}: activation must be callable or a name, got {activation!r}")
    return activation


_TF1_DRIVER = contextvars.ContextVar("tfseq_tf1_driver_training", default=False)


@contextlib.contextmanager
def tf1_driver_training(active: bool = True) -> Iterator[None]:
    """While active, a tfseq cell's own dropout called with ``training=None`` drops: the TF1
    drivers run their cells inside it when called without ``training`` outside Keras (TF1's
    ``DropoutWrapper`` always dropped). Keras cells keep Keras' rule (None: no dropout)."""
    token = _TF1_DRIVER.set(bool(active))
    try:
        yield
    finally:
        _TF1_DRIVER.reset(token)


def cell_training(training: bool | tf.Tensor | None) -> Any:
    """The ``training`` a tfseq cell's own dropout uses: None inside :func:`tf1_driver_training` is True."""
    if training is None and _TF1_DRIVER.get():
        return True
    return training


def accepts_training(cell: keras.layers.Layer) -> bool:
    """Whether ``cell(inputs, state, training=...)`` is a valid call: Keras layers (whose
    ``__call__`` routes ``training`` to ``call`` when ``call`` takes it) yes; a TF1-style cell
    overriding ``__call__(inputs, state, scope=None)`` only if that signature takes it."""
    call = type(cell).__call__
    if call in (keras.layers.Layer.__call__, RNNCell.__call__):
        return True
    try:
        parameters = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return any(p.name == "training" or p.kind is p.VAR_KEYWORD for p in parameters)


def call_cell(
    cell: keras.layers.Layer,
    inputs: tf.Tensor,
    state: Any,
    training: bool | tf.Tensor | None = None,
) -> tuple[Any, Any]:
    """One step of any cell: ``training`` is passed on when given and accepted."""
    if training is None or not accepts_training(cell):
        return cell(inputs, state)
    return cell(inputs, state, training=training)


def sub_cells(cell: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The cells a wrapper holds (``wrapped_cells()``), or ``[]``."""
    wrapped = getattr(cell, "wrapped_cells", None)
    return list(wrapped()) if callable(wrapped) else []


def adopt_input_dtype(cell: keras.layers.Layer, dtype: tf.DType | str | None) -> None:
    """TF1's rule: an unbuilt tfseq cell without an explicit ``dtype=`` takes the float dtype
    of its inputs (its weights are then created in it); wrapped cells too. Nothing changes
    for other cells, under a mixed-precision global policy, for a cell with a mixed policy of
    its own (created under one), or for non-float inputs."""
    dtype = tf.as_dtype(dtype)
    global_policy = keras.config.dtype_policy()
    if not dtype.is_floating or global_policy.compute_dtype != global_policy.variable_dtype:
        return
    own_policy = cell.dtype_policy
    mixed = own_policy.compute_dtype != own_policy.variable_dtype  # a mixed policy of its own: keep it
    if isinstance(cell, RNNCell) and not cell.built and not cell.dtype_given and not mixed:
        if cell.dtype_policy.compute_dtype != dtype.name:
            cell.dtype_policy = dtype.name
    for inner in sub_cells(cell):
        adopt_input_dtype(inner, dtype)


# copy -> weak reference to the cell it is a copy.deepcopy of (RNNCell.__deepcopy__)
_COPIED_FROM: "weakref.WeakKeyDictionary[keras.layers.Layer, weakref.ref]" = weakref.WeakKeyDictionary()


def copied_from(cell: keras.layers.Layer) -> keras.layers.Layer | None:
    """The cell that ``cell`` is a ``copy.deepcopy`` of, while that cell lives; else None."""
    ref = _COPIED_FROM.get(cell)
    return None if ref is None else ref()


def keep_construction_state(original: keras.layers.Layer, copied: keras.layers.Layer) -> None:
    """Give a copy made from ``original``'s config (and its wrapped cells) what the config does not
    hold: whether ``dtype=`` was given (a config always names a dtype, which would fix the copy's)
    and the variable scope initializer of the construction."""
    if isinstance(original, RNNCell) and isinstance(copied, RNNCell):
        copied.dtype_given = original.dtype_given
        copied._construction_scope_initializer = original._construction_scope_initializer
    for inner_original, inner_copied in zip(sub_cells(original), sub_cells(copied)):
        keep_construction_state(inner_original, inner_copied)


def initial_state_args(
    layer: keras.layers.Layer,
    batch_size: int | tf.Tensor | None = None,
    dtype: tf.DType | str | None = None,
    inputs: tf.Tensor | None = None,
) -> tuple[Any, tf.DType]:
    """``(batch_size, dtype)`` of ``layer``'s initial state: the given ones, else taken from
    ``inputs`` (float inputs give their dtype), else the layer's compute dtype."""
    if batch_size is None:
        if inputs is None:
            raise ValueError(f"{layer.name}: pass batch_size or inputs to get_initial_state")
        batch_size = tf.shape(inputs)[0]
    if dtype is None:
        floating = inputs is not None and tf.as_dtype(inputs.dtype).is_floating
        dtype = inputs.dtype if floating else layer.compute_dtype
    return batch_size, tf.as_dtype(dtype)


def variable_scope_initializer() -> Any:
    """The initializer of the enclosing ``tf.compat.v1.variable_scope(..., initializer=...)``, or None:
    TF1 gave it to every variable created without an initializer of its own."""
    return tf.compat.v1.get_variable_scope().initializer



def state_dims(size: Any) -> tuple:
    """The dimensions after the batch of one state or output tensor: ``(n,)`` for an int ``n``,
    the dimensions of a shape (``TensorShape``) for a cell with multi-dimensional states
    (``ConvLSTMCell``); ``(None,)`` for a size not known yet (``None``: an attention wrapper's
    alignments over a memory of unknown length)."""
    if size is None:
        return (None,)
    return (size,) if isinstance(size, numbers.Integral) else tuple(tf.TensorShape(size).as_list())

def dims_compatible(actual: Any, expected: Any) -> bool:
    """Two lists of dimensions of one length, equal wherever both are known (None: unknown)."""
    return len(actual) == len(expected) and all(a is None or e is None or a == e for a, e in zip(actual, expected))


class RNNCell(keras.layers.Layer):
    """Base class of every tfseq cell: one time step of a recurrent network.

    Subclasses set ``tf1_scope_name`` (their TF1 variable scope, e.g.
    ``"basic_lstm_cell"``), define ``state_size``, ``output_size``, ``build`` (creating
    weights with :meth:`add_tf1_weight`) and ``call``. See the module docstring for
    the contract.
    """

    tf1_scope_name = None
    object_args = ()  # config keys holding serialized Keras objects (activations, initializers)

    def __init__(self, **kwargs: Any):
        self.dtype_given = kwargs.get("dtype") is not None
        super().__init__(**kwargs)
        self._tf1_weights = {}
        self._construction_scope_initializer = variable_scope_initializer()

    def __call__(
        self,
        inputs: tf.Tensor,
        *args: Any,
        state: Any = None,
        scope: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Keras' ``__call__``, also with TF1's keywords: ``cell(inputs, state=s, scope="name")``.

        ``scope`` (a string) names the ops of this step; variable names come from the cell.
        Float inputs decide the weights' dtype of an unbuilt cell (module docstring). A state
        holding ``TensorArray``s (an ``AttentionWrapper``'s ``alignment_history``, also inside
        any wrapper or stack), which Keras 3's ``__call__`` refuses, is stepped directly: the
        cell is built if needed and float inputs are cast to its compute dtype, as Keras does.

        Raises:
            TypeError: ``state`` passed both positionally and by keyword; ``scope`` not a
                string; float inputs whose dtype differs from the weights'.
        """
        if state is not None:
            if args:
                raise TypeError(f"{self.name}: pass the state once, positionally or as state=, not both")
            args = (state,)
        if scope is not None and not isinstance(scope, str):
            raise TypeError(f"{self.name}: scope must be a string (it names the ops), got {scope!r}")
        self._check_input_dtype(inputs)
        holds_arrays = any(isinstance(t, tf.TensorArray) for t in tf.nest.flatten((args, kwargs)))
        step = self._step_with_tensor_arrays if holds_arrays else super().__call__
        if scope:
            with tf.name_scope(scope):
                return step(inputs, *args, **kwargs)
        return step(inputs, *args, **kwargs)

    def _step_with_tensor_arrays(self, inputs: tf.Tensor, *args: Any, **kwargs: Any) -> Any:
        """One step without Keras' ``__call__`` (which refuses ``TensorArray`` arguments); the
        sublayers a step calls still go through Keras."""
        if not self.built:
            self.build(tuple(inputs.shape))
        inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype.is_floating:  # Keras' autocast of float inputs (mixed precision: float16)
            inputs = tf.cast(inputs, self.compute_dtype)
        if "training" in kwargs and "training" not in inspect.signature(self.call).parameters:
            kwargs.pop("training")
        return self.call(inputs, *args, **kwargs)

    def __deepcopy__(self, memo: dict) -> "RNNCell":
        """``copy.deepcopy`` as Keras makes it (a save and load of the layer), which also keeps
        :func:`keep_construction_state` and remembers the original: :func:`copied_from`. TF1
        programs pass ``copy.deepcopy(cell)`` of a cell they never ran where TF1 shared its
        variables by name; ``tfseq.legacy_seq2seq`` follows the link to share them."""
        rebuild, args, *rest = self.__reduce_ex__(4)  # Keras 3: (load from the saved layer, (saved,))
        copied = rebuild(*copy.deepcopy(args, memo))
        memo[id(self)] = copied
        state = rest[0] if rest else None
        if state:  # a state set after construction (pickle's protocol), should a Keras release add one
            state = copy.deepcopy(state, memo)
            setter = getattr(copied, "__setstate__", None)
            setter(state) if setter is not None else copied.__dict__.update(state)
        keep_construction_state(self, copied)
        # the first original, not this cell: a copy of a copy stays linked when the middle copy is gone
        _COPIED_FROM[copied] = weakref.ref(copied_from(self) or self)
        return copied

    def _check_input_dtype(self, inputs):
        dtype = getattr(inputs, "dtype", None)
        if dtype is None or isinstance(inputs, (list, tuple, dict)):
            return
        try:
            dtype = tf.as_dtype(dtype)
        except TypeError:
            return
        if not dtype.is_floating:
            return
        if not self.built:  # once built, the dtype is fixed: skip the walk over wrapped cells (runs every step)
            adopt_input_dtype(self, dtype)
        policy = self.dtype_policy
        if policy.compute_dtype == policy.variable_dtype and dtype.name != policy.compute_dtype:
            why = "it was created with dtype=" if self.dtype_given else "its weights were created as"
            raise TypeError(
                f"{self.name}: inputs are {dtype.name} but {why} {policy.compute_dtype}; "
                f"cast the inputs (tf.cast(x, tf.{policy.compute_dtype})) or use a cell of the inputs' dtype "
                "(TF1 never casts them either)"
            )

    @property
    def state_size(self) -> Any:
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> keras.layers.Layer:
        config = dict(config)
        for key in cls.object_args:
            if key in config:
                config[key] = deserialize_optional(config[key])
        return cls(**config)

    # -- weights ---------------------------------------------------------------
    def tf1_scope_initializer(self) -> Any:
        """The initializer of the enclosing ``tf.compat.v1.variable_scope(..., initializer=...)``
        where the weights are created, else where the cell was constructed (a TF2 port often
        builds the cell later, outside the scope), else None."""
        return variable_scope_initializer() or self._construction_scope_initializer

    def add_tf1_weight(
        self,
        name: str,
        shape: tuple,
        initializer: keras.initializers.Initializer | str | None,
    ) -> keras.Variable:
        """Create a weight whose TF1 name is ``tf1_weight_name(name)``.

        ``initializer=None`` is TF1's ``get_variable`` without one: the variable scope's
        initializer (:meth:`tf1_scope_initializer`), else ``glorot_uniform``. TF1 programs set
        one with ``with tf.variable_scope("model", initializer=tf.random_uniform_initializer(-s, s))``.
        """
        if initializer is None:
            initializer = self.tf1_scope_initializer() or "glorot_uniform"
        weight = self.add_weight(name=name, shape=shape, initializer=initializer)
        self._tf1_weights[tf1_weight_name(name)] = weight
        # TensorFlow's object graph (tf.train.Checkpoint, SavedModel) names it too, however the
        # cell keeps it (an attribute, or a dict that Keras hides from that graph)
        self._track_trackable(weight, name=name, overwrite=True)
        return weight

    def tf1_variables(self) -> dict[str, keras.Variable]:
        """``{"<tf1_scope_name>/<tf1 name>": variable}`` for this cell's own weights."""
        if not self.built:
            raise ValueError(f"{self.name}: build the cell (call it once) before asking for variables")
        return {f"{self.tf1_scope_name}/{k}": v for k, v in self._tf1_weights.items()}

    # -- input checks (Python-level, free at run time) ------------------------
    def input_depth(self, input_shape: tuple) -> int:
        """Validate a build-time input shape ``[batch, depth]`` and return ``depth``."""
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(
                f"{self.name}: inputs must have rank 2 [batch, depth] for one time step, "
                f"got shape {shape}"
            )
        if shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of inputs must be known, got shape {shape}")
        return int(shape[-1])

    def check_inputs(self, inputs: tf.Tensor) -> tf.Tensor:
        dtype = tf.as_dtype(inputs.dtype)
        if not dtype.is_floating:
            raise TypeError(
                f"{self.name}: inputs must be a float tensor, got dtype {dtype.name}; "
                "cast integer ids through an embedding first"
            )
        return inputs

    def check_state(self, states: Any) -> Any:
        """Accept the nested ``state_size`` structure or Keras' flat list; return the nested one."""
        flat = tf.nest.flatten(states)
        sizes = tf.nest.flatten(self.state_size)
        if len(flat) != len(sizes):
            raise ValueError(
                f"{self.name}: expected a state with {len(sizes)} tensor(s) shaped like "
                f"state_size={self.state_size}, got {len(flat)}"
            )
        for tensor, size in zip(flat, sizes):
            if isinstance(tensor, tf.TensorArray):  # an attention wrapper's alignment_history
                continue
            shape, dims = tf.TensorShape(tensor.shape), state_dims(size)
            if shape.rank is None:  # unknown rank (traced code): checked at run time by the ops
                continue
            if not dims_compatible(shape[1:], dims):
                raise ValueError(
                    f"{self.name}: state tensors must be [batch, {', '.join(map(str, dims))}] "
                    f"(state_size={self.state_size}), got shape {shape}"
                )
        return tf.nest.pack_sequence_as(self.state_size, flat)

    # -- initial state ----------------------------------------------------------
    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> Any:
        """Zeros with the structure of ``state_size``.

        Works with ``keras.layers.RNN`` (``batch_size=``) and with TF1 call sites
        (``inputs=``, ``batch_size=``, ``dtype=``).
        """
        batch_size, dtype = self.initial_state_args(batch_size, dtype, inputs)
        return tf.nest.map_structure(lambda n: tf.zeros([batch_size, n], dtype), self.state_size)

    def initial_state_args(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> tuple[Any, tf.DType]:
        """``(batch_size, dtype)`` of an initial state: :func:`initial_state_args`."""
        return initial_state_args(self, batch_size, dtype, inputs)

    def zero_state(self, batch_size: int | tf.Tensor | None, dtype: tf.DType | str | None) -> Any:
        """TF1's name for :meth:`get_initial_state`."""
        return self.get_initial_state(batch_size=batch_size, dtype=dtype)


class LSTMTupleCell(RNNCell):
    """Base of the LSTM cells of ``num_units`` units (``self.num_units``) whose state is
    ``LSTMStateTuple(c, h)`` and whose output is ``h``, without projection (``LSTMBlockCell``,
    ``LayerNormBasicLSTMCell``): their ``state_size`` and ``output_size``."""

    @property
    def state_size(self) -> Any:
        return LSTMStateTuple(self.num_units, self.num_units)

    @property
    def output_size(self) -> int:
        return self.num_units
