"""TF1's cell wrappers on one shared base: residual, device, embedding, projections.

:class:`RNNCellWrapper` holds everything a wrapper shares (state/output sizes, initial
state, build delegation, nested ``get_config``/``from_config``, TF1 variable names);
each wrapper overrides only its step and, where it owns weights, ``build``.
:class:`~tfseq.rnn_cell.multi_rnn.MultiRNNCell` and
:class:`~tfseq.rnn_cell.dropout.DropoutWrapper` build on the same base. Wrapped cells may
be tfseq cells, other wrappers (any order, any depth) or Keras 3 cells
(``keras.layers.LSTMCell`` & co.). The cell contract is in :mod:`tfseq.rnn_cell.base`.

TF1 variable scopes: ``DropoutWrapper``, ``ResidualWrapper`` and ``DeviceWrapper`` add
none (``rnn/basic_lstm_cell/kernel``); ``MultiRNNCell`` adds ``multi_rnn_cell/cell_<k>``;
the contrib wrappers add their own scope around their weights and the wrapped cell's:
``embedding_wrapper/embedding``, ``input_projection_wrapper/kernel`` (no bias),
``output_projection_wrapper/{kernel,bias}``.
"""

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

from tfseq._checks import check_positive_int, serialize_optional
from tfseq.rnn_cell.base import RNNCell, call_cell, dims_compatible, get_activation, reject_tf1_only_args, state_dims
from tfseq.rnn_cell.fusion import FusedWrapping, NotFusable


def check_cell(owner: str, name: str, cell: keras.layers.Layer) -> keras.layers.Layer:
    """A wrapped cell must be a Keras layer with ``state_size`` (an RNN cell)."""
    if not isinstance(cell, keras.layers.Layer) or not hasattr(cell, "state_size"):
        raise TypeError(f"{owner}: {name} must be an RNN cell (a Keras layer with state_size), got {cell!r}")
    return cell


def cell_initial_state(
    cell: keras.layers.Layer,
    batch_size: int | tf.Tensor | None,
    dtype: tf.DType | str | None,
) -> Any:
    """Zero state of any cell: tfseq cells take ``dtype``, Keras 3 cells only ``batch_size``
    (and may have no ``get_initial_state`` at all)."""
    if isinstance(cell, RNNCell):
        return cell.get_initial_state(batch_size=batch_size, dtype=dtype)
    if not hasattr(cell, "get_initial_state"):  # optional in Keras' cell contract
        return tf.nest.map_structure(lambda n: tf.zeros([batch_size, n], dtype), cell.state_size)
    state = cell.get_initial_state(batch_size=batch_size)
    return tf.nest.map_structure(lambda t: tf.cast(t, dtype), state)


def cell_tf1_variables(cell: keras.layers.Layer) -> dict[str, keras.Variable]:
    """``cell.tf1_variables()``, or a clear error for cells without TF1 names (Keras cells)."""
    if not hasattr(cell, "tf1_variables"):
        raise TypeError(
            f"{cell.name} ({type(cell).__name__}) has no TF1 variable names; only tfseq cells map "
            "to TF1 checkpoints (convert Keras cells with tfseq.compat.from_keras_cell first)"
        )
    return cell.tf1_variables()


def build_cell(cell: keras.layers.Layer, input_shape: tuple) -> keras.layers.Layer:
    """Build ``cell`` for a step input of ``input_shape`` unless it is built already.

    A cell without its own ``build`` (a TF1-style cell that creates its layers in
    ``__init__`` and runs them in ``__call__``) is left to build them on first use."""
    if not cell.built and type(cell).build is not keras.layers.Layer.build:
        cell.build(tuple(input_shape))
    return cell


def step_shape(input_shape: Any) -> tuple | None:
    """``(batch, *dims)`` of one step's input shape (a ``TensorShape`` or a tuple, also
    ``(batch, TensorShape)``), or None for the shapes of nested inputs or an unknown rank."""
    if isinstance(input_shape, tf.TensorShape):
        return None if input_shape.rank is None else tuple(input_shape.as_list())
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        return None
    batch, *rest = input_shape
    if batch is not None and not isinstance(batch, numbers.Integral):
        return None  # a tuple of shapes: nested inputs
    dims = [batch]
    for dim in rest:
        if dim is None or isinstance(dim, numbers.Integral):
            dims.append(dim)
        elif isinstance(dim, tf.TensorShape) and dim.rank is not None:
            dims.extend(dim.as_list())
        else:
            return None
    return tuple(dims)


def _shape_text(dims: Sequence[int | None]) -> str:
    return "[batch" + "".join(f", {d}" for d in dims) + "]"


def residual_add(owner: str, inputs: Any, outputs: Any) -> Any:
    """TF1's default residual: ``inputs + outputs``, tensor by tensor for nested ones, of any
    rank (``[batch, depth]``, a convolutional cell's ``[batch, *spatial, channels]``).

    Raises:
        ValueError: ``inputs`` and ``outputs`` differ in structure or in shape (both named).
    """
    try:
        tf.nest.assert_same_structure(inputs, outputs)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: the default residual_fn adds the inputs to the cell's outputs, so they must have "
            f"the same structure, got inputs {tf.nest.map_structure(lambda x: x.shape, inputs)} and outputs "
            f"{tf.nest.map_structure(lambda y: y.shape, outputs)}"
        ) from None

    def add(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        if not tf.TensorShape(x.shape).is_compatible_with(y.shape):
            raise ValueError(
                f"{owner}: the default residual_fn adds the inputs to the cell's outputs, so they must have "
                f"the same shape, got inputs of shape {x.shape} and outputs of shape {y.shape}"
            )
        return x + y

    return tf.nest.map_structure(add, inputs, outputs)


class RNNCellWrapper(RNNCell):
    """Base of every wrapper: a cell around one (or, for MultiRNNCell, several) cells.

    By default a wrapper is transparent: same ``state_size``, ``output_size`` and
    initial state as the wrapped cell, builds it with its own input shape
    (:meth:`wrapped_input_shape` changes that), adds no TF1 scope unless
    ``tf1_scope_name`` is set, and serializes the wrapped cell inside its config.

    Every wrapper takes TF1's ``reuse=None`` (any other value: ``ValueError``, share weights
    by reusing the cell object) and Keras layer keywords (``name``, ``dtype``); the wrapped
    cell is ``wrapper.cell`` (TF1: ``wrapper.wrapped_cell``). The wrapped cell is called
    through :func:`~tfseq.rnn_cell.base.call_cell`, so TF1-style cells that override
    ``__call__(inputs, state, scope=None)`` work inside.

    Args:
        cell: the wrapped RNN cell.
        reuse: TF1 only; accepted as None.
    """

    tf1_scope_name = None  # TF1 scope the wrapper opens around its weights and its cell
    object_args = ("cell",)

    def __init__(self, cell: keras.layers.Layer, reuse: bool | None = None, **kwargs: Any):
        reject_tf1_only_args(type(self).__name__, reuse=reuse)
        super().__init__(**kwargs)
        self.cell = check_cell(type(self).__name__, "cell", cell)

    @property
    def wrapped_cell(self) -> keras.layers.Layer:
        """TF1's name for the wrapped cell (``self.cell``)."""
        return self.cell

    def wrapped_cells(self) -> list[keras.layers.Layer]:
        """The wrapped cells, in TF1 order."""
        return [self.cell]

    def wrapped_cell_scope(self, index: int) -> str:
        """TF1 scope of ``wrapped_cells()[index]`` inside the wrapper's (default: none)."""
        return ""

    @property
    def state_size(self) -> Any:
        return self.cell.state_size

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    def wrapped_input_shape(self, input_shape: tuple) -> tuple:
        """Step input shape the wrapped cell sees (default: the wrapper's own)."""
        return tuple(input_shape)

    def build(self, input_shape: tuple) -> None:
        build_cell(self.cell, self.wrapped_input_shape(input_shape))

    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> Any:
        batch_size, dtype = self.initial_state_args(batch_size, dtype, inputs)
        return cell_initial_state(self.cell, batch_size, dtype)

    def resample_dropout_masks(self) -> None:
        """Start a new sequence for every ``DropoutWrapper`` inside (see its docstring)."""
        for cell in self.wrapped_cells():
            if hasattr(cell, "resample_dropout_masks"):
                cell.resample_dropout_masks()

    def tf1_variables(self) -> dict[str, keras.Variable]:
        """TF1 names: the wrapper's own weights and its cells', under ``tf1_scope_name`` if any."""
        if not self.built:
            raise ValueError(f"{self.name}: build the cell (call it once) before asking for variables")
        names = dict(self._tf1_weights)
        seen = set()
        for index, cell in enumerate(self.wrapped_cells()):
            if id(cell) in seen:  # one cell object used twice: TF1 created its variables once, at its first use
                continue
            seen.add(id(cell))
            prefix = self.wrapped_cell_scope(index)
            for name, var in cell_tf1_variables(cell).items():
                names[f"{prefix}/{name}" if prefix else name] = var
        if self.tf1_scope_name is None:
            return names
        return {f"{self.tf1_scope_name}/{name}": var for name, var in names.items()}

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        return call_cell(self.cell, inputs, states, training)

    def get_config(self) -> dict:
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}


@keras.saving.register_keras_serializable(package="tfseq")
class ResidualWrapper(RNNCellWrapper):
    """Adds the step input to the step output: ``output = residual_fn(inputs, cell_output)``.

    The default ``residual_fn`` is TF1's: ``inputs + outputs``, for steps of any rank (a
    convolutional cell's ``[batch, *spatial, channels]`` too) and tensor by tensor for nested
    inputs and outputs, whose shapes must match.

    Args:
        cell: the wrapped cell; for the default ``residual_fn`` its ``output_size`` must be the
            shape of a step input after the batch (the input depth for ``[batch, depth]`` steps;
            ``input_shape[:-1] + [output_channels]`` of a convolutional cell's input).
        residual_fn: ``(inputs, outputs) -> outputs``; default ``inputs + outputs``. A
            custom function must be registered with ``keras.saving.register_keras_serializable``
            for ``.keras`` files to load.

    TF1 scope: none (``rnn/basic_lstm_cell/kernel``).

    Raises:
        ValueError: with the default ``residual_fn``, step inputs of another shape than the
            cell's outputs (both named; at build, or at the first step for nested inputs).
    """

    object_args = ("cell", "residual_fn")

    def __init__(self, cell: keras.layers.Layer, residual_fn: Callable | None = None, **kwargs: Any):
        super().__init__(cell, **kwargs)
        if residual_fn is not None and not callable(residual_fn):
            raise TypeError(f"ResidualWrapper: residual_fn must be callable or None, got {residual_fn!r}")
        self.residual_fn = residual_fn

    def build(self, input_shape: tuple) -> None:
        shape, size = step_shape(input_shape), getattr(self.cell, "output_size", None)
        if self.residual_fn is None and shape is not None and isinstance(size, (numbers.Integral, tf.TensorShape)):
            dims = state_dims(size)
            if not dims_compatible(shape[1:], dims):
                raise ValueError(
                    f"{self.name}: the default residual_fn adds the inputs to the cell's outputs, so they must "
                    f"have the same shape, got inputs {_shape_text(shape[1:])} and outputs {_shape_text(dims)} "
                    f"(the cell's output_size={size})"
                )
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        output, new_state = call_cell(self.cell, inputs, states, training)
        if self.residual_fn is None:
            return residual_add(self.name, inputs, output), new_state
        return self.residual_fn(inputs, output), new_state

    def fused_wrapping(self) -> FusedWrapping:
        """For the fused path (:mod:`tfseq.rnn_cell.fusion`): the default ``residual_fn`` adds
        the inputs to the whole output sequence.

        Raises:
            NotFusable: a custom ``residual_fn`` (it runs per step).
        """
        if self.residual_fn is not None:
            raise NotFusable(f"{self.name}: a ResidualWrapper with a residual_fn")
        return FusedWrapping(residual=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "residual_fn": serialize_optional(self.residual_fn)}


@keras.saving.register_keras_serializable(package="tfseq")
class DeviceWrapper(RNNCellWrapper):
    """Runs the wrapped cell's step (and its zero state) on ``device``, e.g. ``"/cpu:0"``.

    TF1 scope: none.
    """

    def __init__(self, cell: keras.layers.Layer, device: str, **kwargs: Any):
        super().__init__(cell, **kwargs)
        if not isinstance(device, str):
            raise TypeError(f"DeviceWrapper: device must be a device string like '/cpu:0', got {device!r}")
        self.device = device

    def get_initial_state(
        self,
        batch_size: int | tf.Tensor | None = None,
        dtype: tf.DType | str | None = None,
        inputs: tf.Tensor | None = None,
    ) -> Any:
        with tf.device(self.device):
            return super().get_initial_state(batch_size=batch_size, dtype=dtype, inputs=inputs)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        with tf.device(self.device):
            return call_cell(self.cell, inputs, states, training)

    def fused_wrapping(self) -> FusedWrapping:
        """For the fused path (:mod:`tfseq.rnn_cell.fusion`): the whole sequence of the wrapped
        cell runs on ``device``."""
        return FusedWrapping(device=self.device)

    def get_config(self) -> dict:
        return {**super().get_config(), "device": self.device}


@keras.saving.register_keras_serializable(package="tfseq")
class EmbeddingWrapper(RNNCellWrapper):
    """Looks integer ids up in an embedding, then runs the cell: TF1's contrib wrapper.

    Step inputs are ids shaped ``[batch]`` or ``[batch, 1]`` (int, or float holding
    whole numbers, for drivers that only carry floats); ids outside
    ``[0, embedding_classes)`` raise ``InvalidArgumentError`` (checked on every step).

    Args:
        cell: the wrapped cell, fed ``[batch, embedding_size]`` vectors.
        embedding_classes: int > 0, the vocabulary size.
        embedding_size: int > 0.
        initializer: default uniform in ``[-sqrt(3), sqrt(3)]`` (TF1's, unit variance).

    Weights: ``embedding_wrapper/embedding`` ``[embedding_classes, embedding_size]``;
    the wrapped cell's names are nested under ``embedding_wrapper/``.
    """

    tf1_scope_name = "embedding_wrapper"
    object_args = ("cell", "initializer")

    def __init__(
        self,
        cell: keras.layers.Layer,
        embedding_classes: int,
        embedding_size: int,
        initializer: keras.initializers.Initializer | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(cell, reuse=reuse, **kwargs)
        owner = type(self).__name__
        self.embedding_classes = check_positive_int(owner, "embedding_classes", embedding_classes)
        self.embedding_size = check_positive_int(owner, "embedding_size", embedding_size)
        self._initializer_arg = initializer

    def wrapped_input_shape(self, input_shape: tuple) -> tuple:
        return (tuple(input_shape)[0], self.embedding_size)

    def build(self, input_shape: tuple) -> None:
        shape = tuple(input_shape)
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[-1] not in (None, 1)):
            raise ValueError(f"{self.name}: step inputs must be ids shaped [batch] or [batch, 1], got {shape}")
        sqrt3 = math.sqrt(3.0)
        init = self._initializer_arg or self.tf1_scope_initializer() or keras.initializers.RandomUniform(-sqrt3, sqrt3)
        self.embedding = self.add_tf1_weight(
            "embedding", (self.embedding_classes, self.embedding_size), keras.initializers.get(init)
        )
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        ids = tf.reshape(inputs, [-1])
        if ids.dtype.is_floating:
            ids = tf.cast(ids, tf.int64)
        elif not ids.dtype.is_integer:
            raise TypeError(f"{self.name}: inputs must be integer ids, got dtype {ids.dtype.name}")
        tf.debugging.assert_non_negative(ids, message=f"{self.name}: ids must be >= 0")
        tf.debugging.assert_less(
            ids,
            tf.cast(self.embedding_classes, ids.dtype),
            message=f"{self.name}: ids must be < embedding_classes={self.embedding_classes}",
        )
        embedded = tf.gather(self.embedding, ids)  # [batch, embedding_size]
        return call_cell(self.cell, embedded, states, training)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "embedding_classes": self.embedding_classes,
            "embedding_size": self.embedding_size,
            "initializer": serialize_optional(self._initializer_arg),
        }


@keras.saving.register_keras_serializable(package="tfseq")
class InputProjectionWrapper(RNNCellWrapper):
    """Projects the step input, ``activation(x @ kernel)`` (no bias, as in TF1), then runs the cell.

    Args:
        cell: the wrapped cell, fed ``[batch, num_proj]``.
        num_proj: int > 0.
        activation: None (identity, TF1's default), a callable or a Keras activation name.
        input_size: TF1's deprecated input depth; None, or an int checked against the
            inputs' depth at build (TF1 ignored it).
        reuse: TF1 only; accepted as None.

    Weights: ``input_projection_wrapper/kernel`` ``[depth, num_proj]`` (Glorot uniform);
    the wrapped cell's names are nested under ``input_projection_wrapper/``.
    """

    tf1_scope_name = "input_projection_wrapper"
    object_args = ("cell", "activation")

    def __init__(
        self,
        cell: keras.layers.Layer,
        num_proj: int | None,
        activation: Callable | str | None = None,
        input_size: int | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(cell, reuse=reuse, **kwargs)
        owner = type(self).__name__
        self.num_proj = check_positive_int(owner, "num_proj", num_proj)
        self.input_size = None if input_size is None else check_positive_int(owner, "input_size", input_size)
        self._activation_arg = activation
        self.activation = None if activation is None else get_activation(type(self).__name__, activation)

    def wrapped_input_shape(self, input_shape: tuple) -> tuple:
        return (tuple(input_shape)[0], self.num_proj)

    def build(self, input_shape: tuple) -> None:
        depth = self.input_depth(input_shape)
        if self.input_size is not None and depth != self.input_size:
            raise ValueError(f"{self.name}: input_size={self.input_size} but the inputs have depth {depth}")
        self.kernel = self.add_tf1_weight("kernel", (depth, self.num_proj), None)  # the scope's, else glorot
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        projected = tf.matmul(self.check_inputs(inputs), self.kernel)
        if self.activation is not None:
            projected = self.activation(projected)
        return call_cell(self.cell, projected, states, training)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_proj": self.num_proj,
            "input_size": self.input_size,
            "activation": serialize_optional(self._activation_arg),
        }


@keras.saving.register_keras_serializable(package="tfseq")
class OutputProjectionWrapper(RNNCellWrapper):
    """Runs the cell, then projects its output: ``activation(output @ kernel + bias)``.

    Args:
        cell: the wrapped cell.
        output_size: int > 0, the new output size.
        activation: None (identity, TF1's default), a callable or a Keras activation name.
        reuse: TF1 only; accepted as None.

    Weights: ``output_projection_wrapper/kernel`` ``[cell.output_size, output_size]``
    (Glorot uniform) and ``output_projection_wrapper/bias`` (zeros); the wrapped cell's
    names are nested under ``output_projection_wrapper/``.
    """

    tf1_scope_name = "output_projection_wrapper"
    object_args = ("cell", "activation")

    def __init__(
        self,
        cell: keras.layers.Layer,
        output_size: int,
        activation: Callable | str | None = None,
        reuse: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(cell, reuse=reuse, **kwargs)
        self.projection_size = check_positive_int(type(self).__name__, "output_size", output_size)
        self._activation_arg = activation
        self.activation = None if activation is None else get_activation(type(self).__name__, activation)

    @property
    def output_size(self) -> int:
        return self.projection_size

    def build(self, input_shape: tuple) -> None:
        cell_output = self.cell.output_size
        self.kernel = self.add_tf1_weight("kernel", (cell_output, self.projection_size), None)
        self.bias = self.add_tf1_weight("bias", (self.projection_size,), "zeros")
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, states: Any, training: bool | tf.Tensor | None = None) -> tuple[tf.Tensor, Any]:
        output, new_state = call_cell(self.cell, inputs, states, training)
        projected = tf.matmul(output, self.kernel) + self.bias
        if self.activation is not None:
            projected = self.activation(projected)
        return projected, new_state

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "output_size": self.projection_size,
            "activation": serialize_optional(self._activation_arg),
        }


__all__ = [
    "RNNCellWrapper",
    "ResidualWrapper",
    "DeviceWrapper",
    "EmbeddingWrapper",
    "InputProjectionWrapper",
    "OutputProjectionWrapper",
]
