"""Load name-based TF1 checkpoints (``tf.compat.v1.train.Saver``) into tfseq cells.

A *target* says which TF1 names to expect and where to put the values:

* a built cell or wrapper: its ``tf1_variables()`` under ``scope`` (default ``"rnn"``,
  what ``tf.nn.dynamic_rnn`` used), e.g. ``rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel``;
* a ``(cell_fw, cell_bw)`` pair: ``<scope>/fw/...`` and ``<scope>/bw/...`` (default
  scope ``"bidirectional_rnn"``, what ``bidirectional_dynamic_rnn`` used);
* a mapping ``{name: variable | cell | pair | mapping}`` for whole models (embedding,
  softmax weights): each key is joined to ``scope`` (default ``""``), e.g.
  ``{"embedding": emb, "RNN": cell, "softmax_w": w}`` with ``scope="Model"``.

Three naming eras of TF1 are recognised for the names that come from cells (names you
spell out in a mapping are used as written):

* TF >= 1.2: ``rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel`` and ``.../bias``;
* TF 1.0-1.1: ``.../basic_lstm_cell/weights`` and ``.../biases``
  (``lstm_cell/projection/weights``);
* TF <= 0.12: ``RNN/MultiRNNCell/Cell0/BasicLSTMCell/Linear/Matrix`` and ``.../Linear/Bias``
  (``GRUCell/Gates/Linear/Matrix``; ``LSTMCell/W_0``, ``B``, ``W_F_diag``, ``W_P_0``;
  ``BiRNN/FW``, ``BiRNN/BW``).

The era that matches the most names is used. Loading is strict by default: one
``ValueError`` lists every missing, unexpected and shape-mismatched name.
``strict="target"`` loads a sub-scope strictly while the checkpoint also holds a program's
other variables (a learning rate, an embedding, another model): only the target's own
cell scopes are checked for unexpected names.
"""

import collections
import collections.abc
import os
import re
from typing import Any

import tensorflow as tf

from tfseq.rnn_cell.base import keras_weight_name

ERAS = ("tf>=1.2", "tf1.0-1.1", "tf<=0.12")

# scope components renamed in TF <= 0.12 (class names, capitalised driver scopes)
_SCOPES_0_12 = {
    "rnn": "RNN",
    "bidirectional_rnn": "BiRNN",
    "fw": "FW",
    "bw": "BW",
    "multi_rnn_cell": "MultiRNNCell",
    "basic_lstm_cell": "BasicLSTMCell",
    "lstm_cell": "LSTMCell",
    "gru_cell": "GRUCell",
    "basic_rnn_cell": "BasicRNNCell",
    "gates": "Gates",
    "candidate": "Candidate",
    "embedding_wrapper": "EmbeddingWrapper",
    "input_projection_wrapper": "InputProjectionWrapper",
    "output_projection_wrapper": "OutputProjectionWrapper",
}
# TF <= 0.12 LSTMCell created its variables by hand, not through _linear
_LSTM_LEAVES_0_12 = {
    "kernel": "W_0", "bias": "B", "w_f_diag": "W_F_diag", "w_i_diag": "W_I_diag", "w_o_diag": "W_O_diag",
}
# bookkeeping a TF1 training graph saves next to the model; never "unexpected"
_BOOKKEEPING = {"global_step", "beta1_power", "beta2_power"}

Entry = collections.namedtuple("Entry", ["scope", "relative", "variable"])  # relative None: name used as written


def _join(*parts):
    return "/".join(p for p in parts if p)


def _is_cell(obj):
    return hasattr(obj, "tf1_variables") and hasattr(obj, "state_size")


def _is_pair(obj):
    return isinstance(obj, (tuple, list)) and len(obj) == 2 and all(_is_cell(c) for c in obj)


def _is_variable(obj):
    return hasattr(obj, "assign") and hasattr(obj, "shape") and not _is_cell(obj)


def _default_scope(target):
    if _is_cell(target):
        return "rnn"
    if _is_pair(target):
        return "bidirectional_rnn"
    return ""


def _entries(target, scope):
    """Flatten a target into ``Entry``s (scope, cell-relative TF1 name, variable)."""
    if _is_cell(target):
        return [Entry(scope, rel, var) for rel, var in sorted(target.tf1_variables().items())]
    if _is_pair(target):
        return _entries(target[0], _join(scope, "fw")) + _entries(target[1], _join(scope, "bw"))
    if isinstance(target, collections.abc.Mapping):
        entries = []
        for key, value in target.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"target keys must be non-empty TF1 names (str), got {key!r}")
            if _is_variable(value):
                entries.append(Entry(_join(scope, key), None, value))
            else:
                entries += _entries(value, _join(scope, key))
        return entries
    raise TypeError(
        "target must be a built tfseq cell or wrapper, a (cell_fw, cell_bw) pair, or a mapping "
        f"{{tf1_name: variable | cell}}, got {target!r}"
    )


def _rename_0_12(relative):
    parts = relative.split("/")
    if len(parts) >= 3 and parts[-3:-1] == ["lstm_cell", "projection"] and parts[-1] == "kernel":
        parts = parts[:-2] + ["W_P_0"]
        leaf = None
    else:
        leaf = parts.pop()
    owner = parts[-1] if parts else ""
    if leaf is not None:
        if owner == "lstm_cell" and leaf in _LSTM_LEAVES_0_12:
            parts.append(_LSTM_LEAVES_0_12[leaf])
        elif leaf == "kernel":
            parts += ["Linear", "Matrix"]
        elif leaf == "bias":
            parts += ["Linear", "Bias"]
        else:
            parts.append(leaf)
    return "/".join(_scope_0_12(p) for p in parts)


def _scope_0_12(component):
    match = re.fullmatch(r"cell_(\d+)", component)
    if match:
        return f"Cell{match.group(1)}"
    return _SCOPES_0_12.get(component, component)


def _rename_1_0(relative):
    head, _, leaf = relative.rpartition("/")
    leaf = {"kernel": "weights", "bias": "biases"}.get(leaf, leaf)
    return _join(head, leaf)


def era_name(entry: Any, era: str) -> str:
    """The checkpoint name of ``entry`` in naming ``era`` (one of :data:`ERAS`)."""
    if entry.relative is None:
        return entry.scope
    if era == ERAS[0]:
        return _join(entry.scope, entry.relative)
    if era == ERAS[1]:
        return _join(entry.scope, _rename_1_0(entry.relative))
    return _join(era_scope(entry.scope, era), _rename_0_12(entry.relative))


def era_scope(scope: str | None, era: str) -> str:
    """``scope`` spelled in ``era`` (only TF <= 0.12 renames driver scopes like ``rnn``)."""
    if era != ERAS[2] or not scope:
        return scope
    return "/".join(_scope_0_12(p) for p in scope.split("/"))


def tf1_variable_names(target: Any, scope: str | None = None) -> list[str]:
    """Sorted TF1 (>= 1.2) names that ``target`` expects, e.g. ``rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel``.

    ``target`` and ``scope`` as in :func:`load_tf1_checkpoint`; cells must be built.
    """
    scope = _default_scope(target) if scope is None else scope
    return sorted(era_name(e, ERAS[0]) for e in _entries(target, scope))


def resolve_checkpoint(checkpoint_path: str | os.PathLike) -> str:
    """A checkpoint prefix from a prefix or a directory; ``ValueError`` naming the path if none."""
    path = os.fspath(checkpoint_path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"checkpoint_path={path!r} is a directory without a TF checkpoint")
        return latest
    if not (os.path.exists(path + ".index") or os.path.exists(path)):
        raise ValueError(f"checkpoint_path={path!r}: no such checkpoint (expected {path}.index)")
    if path.endswith(".index"):
        path = path[: -len(".index")]
    return path


def checkpoint_shapes(checkpoint_path: str | os.PathLike) -> dict[str, tuple]:
    """``{name: shape tuple}`` of every variable in a checkpoint."""
    return _shapes(tf.train.load_checkpoint(resolve_checkpoint(checkpoint_path)))


def _shapes(reader):
    return {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()}


def under_scope(name: str, scope: str | None) -> bool:
    """Is checkpoint variable ``name`` inside ``scope`` (``""``: everything)?"""
    return not scope or name == scope or name.startswith(scope + "/")


def _is_slot(name, loaded_names):
    """``<var>/Adam`` and, for an optimizer built inside a scope, ``<scope>/<var>/Adam``."""
    head = name.rpartition("/")[0]
    return any(head == loaded or head.endswith("/" + loaded) for loaded in loaded_names)


def _plan(entries, shapes):
    """Pick the era matching most names; return (era, {checkpoint name: entry})."""
    best = None
    for era in ERAS:
        names = {era_name(e, era): e for e in entries}
        hits = sum(name in shapes for name in names)
        if best is None or hits > best[0]:
            best = (hits, era, names)
    return best[1], best[2]


def _owner_prefixes(entries, era):
    """The checkpoint scopes the target's cells own (``<scope>/<cell or wrapper scope>``), in
    ``era``; a variable spelled out in a mapping owns just its own name."""
    prefixes = set()
    for entry in entries:
        if entry.relative is None:
            prefixes.add(entry.scope)
        else:
            owner = entry.relative.split("/")[0]
            prefixes.add(era_name(Entry(entry.scope, owner, None), era))
    return prefixes


def load_tf1_checkpoint(
    checkpoint_path: str | os.PathLike,
    target: Any,
    scope: str | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Load a TF1 name-based checkpoint into ``target`` (see the module docstring) with one call.

    Args:
        checkpoint_path: a checkpoint prefix (``.../model.ckpt-1000``) or a directory
            (its latest checkpoint).
        target: a built cell/wrapper, a ``(cell_fw, cell_bw)`` pair, or a mapping
            ``{tf1_name: variable | cell | pair}``.
        scope: the TF1 variable scope the target lived in. Default ``"rnn"`` for a cell,
            ``"bidirectional_rnn"`` for a pair, ``""`` for a mapping.
        strict: ``True`` (default): any missing name, and any name under ``scope`` that
            the target does not expect, is an error. ``"target"``: missing names are errors,
            and unexpected ones only inside the target's own cell scopes (e.g.
            ``<scope>/basic_lstm_cell/...``, ``<scope>/multi_rnn_cell/...``): the
            checkpoint's other variables -- a learning rate, an embedding, a second model
            -- are left alone without listing them. ``False``: load what matches. Shape
            mismatches are always an error. Checkpoint names under ``scope`` that are
            optimizer slots of loaded variables (``.../kernel/Adam``, also
            ``Model/Model/.../kernel/Adam`` from an optimizer built inside the scope) or TF1 bookkeeping
            (``global_step``, ``beta1_power``) are never unexpected.

    Returns:
        ``{checkpoint_name: variable}`` of what was loaded.

    Raises:
        ValueError: one message listing every missing, unexpected and shape-mismatched
            name (with the naming era and scope used), or a bad ``checkpoint_path``.
        TypeError: ``target`` is none of the accepted kinds.
    """
    scope = _default_scope(target) if scope is None else scope
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a string, got {scope!r}")
    if not (isinstance(strict, bool) or strict == "target"):
        raise ValueError(f"strict must be True, False or 'target', got {strict!r}")
    path = resolve_checkpoint(checkpoint_path)
    reader = tf.train.load_checkpoint(path)
    shapes = _shapes(reader)
    entries = _entries(target, scope)
    era, plan = _plan(entries, shapes)

    missing = sorted(name for name in plan if name not in shapes)
    mismatched = sorted(
        f"{name}: checkpoint {list(shapes[name])}, target {list(entry.variable.shape)}"
        for name, entry in plan.items()
        if name in shapes and shapes[name] != tuple(entry.variable.shape)
    )
    prefix = era_scope(scope, era)
    prefixes = _owner_prefixes(entries, era) if strict == "target" else [prefix]
    if strict == "target":
        prefix = ", ".join(sorted(prefixes))
    unexpected = sorted(
        name
        for name in shapes
        if any(under_scope(name, p) for p in prefixes)
        and name not in plan
        and name.rpartition("/")[2] not in _BOOKKEEPING
        and not _is_slot(name, plan)
    )
    if mismatched or (strict and (missing or unexpected)):
        lines = [f"TF1 checkpoint {path!r} does not match the target (naming era {era}, scope {scope!r}):"]
        for title, names in [
            ("missing (expected by the target, not in the checkpoint)", missing),
            (f"unexpected (in the checkpoint under {prefix!r}, not in the target)", unexpected),
            ("shape mismatch", mismatched),
        ]:
            if names:
                lines.append(f"  {title}: " + ", ".join(names))
        if missing or unexpected:
            lines.append("  (see `tfseq inspect-checkpoint PATH` for the checkpoint's names; strict=False skips "
                         "missing and unexpected names)")
        raise ValueError("\n".join(lines))

    loaded = {}
    for name, entry in plan.items():
        if name in shapes:
            value = reader.get_tensor(name)
            entry.variable.assign(tf.cast(value, entry.variable.dtype))
            loaded[name] = entry.variable
    return loaded


# -- inspection: which tfseq cell a checkpoint variable belongs to -------------------------
# each cell scope's TF1 weight names; the class names are the TF <= 0.12 scopes
_LEAVES = {
    "basic_lstm_cell": ("kernel", "bias"),
    "lstm_cell": ("kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag", "projection/kernel"),
    "gru_cell": ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"),
    "basic_rnn_cell": ("kernel", "bias"),
}
_CELL_CLASSES = {scope: _SCOPES_0_12[scope] for scope in _LEAVES}
_WRAPPER_CLASSES = {
    scope: _SCOPES_0_12[scope]
    for scope in ("embedding_wrapper", "input_projection_wrapper", "output_projection_wrapper")
}
_FROM_0_12 = {v: k for k, v in _SCOPES_0_12.items()}
_LEAF_TO_MODERN = {"weights": "kernel", "biases": "bias", "Linear/Matrix": "kernel", "Linear/Bias": "bias"}


def _modern_component(component):
    match = re.fullmatch(r"Cell(\d+)", component)
    if match:
        return f"cell_{match.group(1)}"
    return _FROM_0_12.get(component, component)


def _split_leaf(cell_scope, rest):
    """(modern leaf, optimizer slot or '') from the components after a cell scope, any era."""
    rest = "/".join(rest)
    for leaf in _LEAVES[cell_scope]:
        spellings = {leaf, _rename_1_0(leaf), _rename_0_12(f"{cell_scope}/{leaf}").split("/", 1)[1]}
        for spelled in spellings:
            if rest == spelled or rest.startswith(spelled + "/"):
                return leaf, rest[len(spelled) + 1:]
    return None, ""


def describe_variable(name: str, shape: tuple) -> str | None:
    """Which tfseq cell (or wrapper) and weight a TF1 checkpoint variable maps to, or None."""
    parts = [_modern_component(p) for p in name.split("/")]
    context = []
    for k, part in enumerate(parts):
        match = re.fullmatch(r"cell_(\d+)", part)
        if match and k > 0 and parts[k - 1] == "multi_rnn_cell":
            context.append(f"MultiRNNCell layer {match.group(1)}")
        if part in ("fw", "bw") and k > 0 and parts[k - 1] == "bidirectional_rnn":
            context.append(f"{part} direction")
    where = f" ({', '.join(context)})" if context else ""
    cell_positions = [k for k, p in enumerate(parts) if p in _CELL_CLASSES]
    if cell_positions:
        k = cell_positions[-1]
        cell_scope = parts[k]
        leaf, slot = _split_leaf(cell_scope, name.split("/")[k + 1:])
        if leaf is None:
            return None
        units = _units(cell_scope, leaf, shape)
        cell_class = _CELL_CLASSES[cell_scope] + (f"(num_units={units})" if units else "")
        desc = f"{cell_class}.{keras_weight_name(leaf)}"
        if slot:
            desc += f" [optimizer slot {slot}]"
        return desc + where
    wrappers = [k for k, p in enumerate(parts) if p in _WRAPPER_CLASSES]
    if wrappers:
        k = wrappers[-1]
        leaf = _LEAF_TO_MODERN.get("/".join(name.split("/")[k + 1:]), "/".join(parts[k + 1:]))
        return f"{_WRAPPER_CLASSES[parts[k]]}.{leaf}" + where
    return None


def _units(cell_scope, leaf, shape):
    if not shape:
        return None
    last = shape[-1]
    if cell_scope in ("basic_lstm_cell", "lstm_cell") and leaf in ("kernel", "bias"):
        return last // 4
    if leaf == "gates/kernel" or leaf == "gates/bias":
        return last // 2
    if leaf == "projection/kernel":
        return shape[0]
    return last
