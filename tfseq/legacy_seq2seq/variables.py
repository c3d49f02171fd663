"""Where the variables of ``tfseq.legacy_seq2seq`` live, under TF1's names.

A TF1 graph created the model's variables once, by name (``tf.get_variable``), and every later
call of the same function in the same variable scope (another bucket of ``model_with_buckets``,
the ``feed_previous`` branch) found them again by that name. A TF2 port calls the functions at
every training step instead (eagerly or inside a ``tf.function``), so the variables have to
outlive a call: each function keeps them in the :class:`VariableStore` of the cell it is given,
created at the first call and found again by TF1 name at every later call (TF1's
``reuse=tf.AUTO_REUSE``). The same cell object therefore means the same model, as it does for
the cell's own weights; a new cell object starts a new one, even with the same ``name=``. TF1
shared by name, so TF1 programs often pass ``copy.deepcopy(cell)`` of a cell they never run (the
translate tutorial, per bucket): a tfseq cell remembers what it is a deepcopy of
(:func:`tfseq.rnn_cell.base.copied_from`), so an unbuilt copy (or a copy of a copy, or the never-run
original) finds the store of that family, and the functions run the first cell of the family passed
in (its weights, TF1's sharing by name). A deepcopy of a cell that is not a tfseq cell is a new model.

The store is also TensorFlow's object graph of the model: ``tf.train.Checkpoint(model=store)``
saves every variable (TF1's ``tf.train.Saver(tf.global_variables())``, less the program's own), and
restores into a new model of the same program, also before its first call (the values are
assigned as the variables are created).

The store holds the functions' own weights (``embedding``, ``AttnW_0``, the ``kernel``/``bias``
of TF1's ``_linear``), the cells the functions create around the given cell (the encoder's
``EmbeddingWrapper`` around a copy of the cell, ``OutputProjectionWrapper``) and the TF1 scope
where each cell was first used, which prefixes the cell's own names (``cell.tf1_variables()``).
:func:`tf1_variables` lists them all by full TF1 name, e.g.
``embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/AttnW_0``; an
enclosing ``tf.compat.v1.variable_scope("model")`` prefixes them as it did in TF1.
"""

import copy
import weakref
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from tfseq.nn.rnn import prepare_cell
from tfseq.rnn_cell.base import copied_from, keep_construction_state, variable_scope_initializer

_STORES: "weakref.WeakKeyDictionary[keras.layers.Layer, VariableStore]" = weakref.WeakKeyDictionary()


class VariableStore(keras.layers.Layer):
    """The variables that ``tfseq.legacy_seq2seq``'s functions created for one cell, by TF1 name.

    Get it with :func:`variable_store`. A Keras layer: ``store.trainable_weights`` are every
    weight of the model (the functions' own, the cells') for an optimizer, and
    :meth:`tf1_variables` names them as TF1 did.
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._by_name = {}  # full TF1 name -> variable created here
        self._made = {}  # key -> a cell created by a function (EmbeddingWrapper, OutputProjectionWrapper, copies)
        self._first_scope = {}  # id(cell) -> TF1 scope of the cell's first use
        self._used = []  # the cells in order of first use
        self._runs = weakref.WeakKeyDictionary()  # original (_original) -> the first cell passed in for it

    def resolve(self, cell: keras.layers.Layer) -> keras.layers.Layer:
        """The cell to run for ``cell``: itself, or for an unbuilt ``copy.deepcopy`` of a cell (or
        of a copy of it, or the cell itself) when another cell of that family was passed in first,
        that cell (TF1 found its variables by name)."""
        held = self._runs.setdefault(_original(cell), cell)
        return cell if held is cell or cell.built else held

    def variable(
        self,
        name: str,
        shape: list[int] | tuple[int, ...],
        dtype: tf.DType | str,
        initializer: keras.initializers.Initializer | str | None = None,
    ) -> keras.Variable:
        """TF1's ``get_variable(name, shape)`` with ``reuse=AUTO_REUSE``: the variable of that full
        name, created at the first call. ``initializer=None``: the enclosing
        ``tf.compat.v1.variable_scope``'s initializer, else Glorot uniform (TF1's default).

        Raises:
            ValueError: the variable exists with another shape (TF1's message names both).
        """
        shape = tuple(int(n) for n in shape)
        existing = self._by_name.get(name)
        if existing is not None:
            if tuple(existing.shape) != shape:
                raise ValueError(
                    f"Trying to share variable {name}, but specified shape {list(shape)} and found shape "
                    f"{list(existing.shape)}: the same cell object was used for a model of another size"
                )
            return existing
        if initializer is None:
            initializer = variable_scope_initializer() or "glorot_uniform"
        with tf.init_scope():  # created once, outside any tf.function or control flow being traced
            weight = self.add_weight(
                name=name.replace("/", "."),  # Keras 3 forbids "/" in weight names
                shape=shape,
                dtype=tf.as_dtype(dtype).name,
                initializer=initializer,
            )
            self._track_trackable(weight, name=name, overwrite=True)  # restores a pending checkpoint value
        self._by_name[name] = weight
        return weight

    def linear(self, scope: str, args: list[tf.Tensor], output_size: int, dtype: tf.DType | str) -> tf.Tensor:
        """TF1's ``_linear(args, output_size, bias=True)`` in ``scope``: ``concat(args, 1) @ kernel + bias``
        with ``scope/kernel`` ``[sum of the args' depths, output_size]`` (Glorot uniform) and
        ``scope/bias`` ``[output_size]`` (zeros).

        Raises:
            ValueError: an argument's depth (last dimension) is unknown.
        """
        depths = []
        for arg in args:
            if arg.shape.rank != 2 or arg.shape[1] is None:
                raise ValueError(f"linear in {scope}: arguments must be [batch, depth] with a known depth, "
                                 f"got shape {arg.shape}")
            depths.append(int(arg.shape[1]))
        kernel = self.variable(join(scope, "kernel"), (sum(depths), output_size), dtype)
        bias = self.variable(join(scope, "bias"), (output_size,), dtype, initializer="zeros")
        joined = args[0] if len(args) == 1 else tf.concat(args, 1)
        return tf.nn.bias_add(tf.matmul(joined, kernel), bias)

    def made(self, key: str, make: Callable[[], keras.layers.Layer]) -> keras.layers.Layer:
        """The cell a function created under ``key`` at its first call (``make()`` then)."""
        cell = self._made.get(key)
        if cell is None:
            cell = self._made[key] = make()
            self._track_trackable(cell, name=key, overwrite=True)
        return cell

    def use(self, scope: str, cell: keras.layers.Layer, dtype: tf.DType | str | None = None) -> keras.layers.Layer:
        """Note that ``cell`` runs in ``scope``: its TF1 names are prefixed by the scope of its first use.
        An unbuilt cell takes ``dtype`` (TF1's scope dtype) for its weights."""
        if id(cell) not in self._first_scope:
            self._first_scope[id(cell)] = scope
            self._used.append(cell)
            same_scope = sum(self._first_scope[id(used)] == scope for used in self._used)
            name = f"{scope}#cell" + (f"_{same_scope - 1}" if same_scope > 1 else "")
            self._track_trackable(cell, name=name, overwrite=True)
        if dtype is not None:
            prepare_cell(cell, dtype)
        return cell

    def tf1_variables(self) -> dict[str, keras.Variable]:
        """``{full TF1 name: variable}`` of everything created or used so far (a variable reached
        by two names keeps the first)."""
        names: dict[str, keras.Variable] = {}
        seen: set[int] = set()

        def add(name, var):
            if id(var) not in seen:
                seen.add(id(var))
                names[name] = var

        for name, var in self._by_name.items():
            add(name, var)
        for cell in self._used:
            if not cell.built or not hasattr(cell, "tf1_variables"):
                continue
            for name, var in cell.tf1_variables().items():
                add(join(self._first_scope[id(cell)], name), var)
        return names


def variable_store(cell: keras.layers.Layer) -> VariableStore:
    """The :class:`VariableStore` of ``cell`` (created empty at the first request).

    Raises:
        TypeError: ``cell`` is not an RNN cell (a Keras layer with ``state_size``).
    """
    if not isinstance(cell, keras.layers.Layer) or not hasattr(cell, "state_size"):
        raise TypeError(f"cell must be an RNN cell (a Keras layer with state_size), got {cell!r}")
    store = _STORES.get(cell)
    if store is None:
        owner = cell if cell.built else _original(cell)  # an unbuilt copy: the store of what it copies
        store = _STORES.get(owner)
        if store is None:
            store = _STORES[owner] = VariableStore(name=f"{owner.name}_legacy_seq2seq")
    return store


def _original(cell: keras.layers.Layer) -> keras.layers.Layer:
    """The cell that ``cell`` is a (repeated) ``copy.deepcopy`` of, following the links while the
    copied cells live and are unbuilt; ``cell`` itself if it is no copy."""
    while not cell.built and (source := copied_from(cell)) is not None:
        cell = source
    return cell


def tf1_variables(cell: keras.layers.Layer) -> dict[str, keras.Variable]:
    """Every variable the functions of ``tfseq.legacy_seq2seq`` created or ran for ``cell``, by full
    TF1 name (``embedding_attention_seq2seq/rnn/embedding_wrapper/embedding``, ...): what a TF1
    checkpoint of the same program holds, less the variables the program made itself (an
    ``output_projection``). Empty before the first call."""
    return variable_store(cell).tf1_variables()


def join(*parts: str | None) -> str:
    """``"a/b/c"`` from the non-empty parts."""
    return "/".join(part for part in parts if part)


def open_store(cell: keras.layers.Layer) -> tuple[VariableStore, keras.layers.Layer]:
    """What every function starts with: ``cell``'s :class:`VariableStore` and the cell to run
    (:meth:`VariableStore.resolve`: the original for a never-run copy)."""
    store = variable_store(cell)
    return store, store.resolve(cell)


def scope_name(fn: str, scope: Any, default: str | None = None) -> str:
    """The TF1 variable scope function ``fn`` opens: ``scope`` (a string or a ``VariableScope``), else
    ``default`` (``fn``'s name), inside an enclosing ``tf.compat.v1.variable_scope`` if any.

    Raises:
        TypeError: ``scope`` is neither.
    """
    if scope is None:
        name = default or fn
    elif isinstance(scope, str):
        name = scope
    elif isinstance(getattr(scope, "name", None), str):
        return scope.name  # a VariableScope object names the full scope, as in TF1
    else:
        raise TypeError(f"{fn}: scope must be a string, a tf.compat.v1.VariableScope or None, got {scope!r}")
    return join(tf.compat.v1.get_variable_scope().name, name)




def copy_cell(cell: keras.layers.Layer) -> keras.layers.Layer:
    """A new cell like ``cell``, with weights of its own: TF1's ``copy.deepcopy(cell)`` of an unused
    cell (the encoder's copy of the decoder's cell). From the cell's config when it has one."""
    try:
        config = cell.get_config()
    except NotImplementedError:
        config = None
    if config is not None:
        try:
            copied = type(cell).from_config(config)
        except (TypeError, ValueError):
            pass
        else:
            keep_construction_state(cell, copied)
            return copied
    return copy.deepcopy(cell)


__all__ = ["VariableStore", "variable_store", "tf1_variables"]
