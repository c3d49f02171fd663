"""``tfseq inspect-checkpoint PATH [--scope S]``: a TF1 checkpoint's variables and their tfseq cells.

Prints one line per variable (name, shape, and the tfseq cell weight it maps to, e.g.
``BasicLSTMCell(num_units=200).kernel (MultiRNNCell layer 0)``), so you can see which
cells to build and which ``scope`` to pass to ``tfseq.compat.load_tf1_checkpoint``.
"""

import argparse
import os
import zipfile

from tfseq._checks import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect-checkpoint",
        help="list a TF1 checkpoint's variables, shapes and the tfseq cells they map to",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("path", help="checkpoint prefix (model.ckpt-1000) or a directory (its latest checkpoint)")
    parser.add_argument("--scope", default="", help="only variables under this scope, e.g. Model/RNN")
    parser.set_defaults(func=run)


def not_a_checkpoint(path: str) -> str:
    """One line saying why ``path`` (a file TensorFlow could not read as a checkpoint) is not
    one, and what to pass instead."""
    stem, ext = os.path.splitext(path)
    if ext == ".meta" or ext.startswith(".data-"):
        hint = (f"it is part of the checkpoint {stem!r}: pass that prefix" if os.path.exists(stem + ".index")
                else "a TF1 checkpoint is the prefix whose .index file sits beside it")
    elif ext == ".keras" or zipfile.is_zipfile(path):
        hint = "a .keras model file: load it with keras.saving.load_model"
    elif os.path.getsize(path) == 0:
        hint = "the file is empty"
    else:
        hint = "pass a checkpoint prefix (model.ckpt-1000) or its directory"
    return f"{path} is not a TensorFlow checkpoint ({hint})"


def run(args: argparse.Namespace) -> int:
    # TF import only when used
    import tensorflow as tf

    from tfseq.compat.checkpoint import checkpoint_shapes, describe_variable, under_scope

    try:
        shapes = checkpoint_shapes(args.path)
    except ValueError as err:
        raise UsageError(str(err)) from None
    except tf.errors.OpError as err:  # DataLossError & co: the file exists but is no checkpoint
        if os.path.isfile(args.path):
            raise UsageError(not_a_checkpoint(args.path)) from None
        raise UsageError(f"{args.path}: the checkpoint cannot be read ({err.message.splitlines()[0]})") from None
    scope = args.scope.strip("/")
    names = sorted(n for n in shapes if under_scope(n, scope))
    if not names:
        raise UsageError(f"no variables under --scope {args.scope!r} in {args.path} ({len(shapes)} variables in all)")
    rows = [(n, "[" + ", ".join(str(d) for d in shapes[n]) + "]", describe_variable(n, shapes[n]) or "-")
            for n in names]
    width_name = max(len(r[0]) for r in rows)
    width_shape = max(len(r[1]) for r in rows)
    for name, shape, maps_to in rows:
        print(f"{name:<{width_name}}  {shape:<{width_shape}}  {maps_to}")
    mapped = sum(r[2] != "-" for r in rows)
    print(f"{len(rows)} variables, {mapped} map to tfseq cells")
    return 0
