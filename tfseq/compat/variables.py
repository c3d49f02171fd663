"""TF1 optimizers on Keras 3 weights: the ``tf.Variable`` objects behind them.

A TF1 training script updates its weights with ``tf.compat.v1.train.*Optimizer``::

    grads = tape.gradient(loss, tvars)
    optimizer.apply_gradients(zip(grads, tvars))

Keras 3 weights (tfseq's and every other Keras layer's) are ``keras.Variable`` objects that
wrap a ``tf.Variable``. TF1's optimizers accept them eagerly but not inside a
``tf.function`` (``AttributeError: 'Variable' object has no attribute '_in_graph_mode'``).
Given the wrapped ``tf.Variable`` instead they work everywhere, and a layer that reads its
weight reads that very variable, so gradients taken with respect to it are the weight's.
:func:`trainable_variables` is TF1's ``tf.compat.v1.trainable_variables()`` spelled for the
layers at hand: the one change a TF1 script needs::

    tvars = tf.compat.v1.trainable_variables()         # TF1
    tvars = tfseq.compat.trainable_variables(model)    # tfseq: same optimizer code after it

Keras' own optimizers keep taking ``model.trainable_variables`` (the Keras variables).
"""

from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf


def tf_variable(variable: keras.Variable | tf.Variable) -> tf.Variable:
    """The ``tf.Variable`` behind a Keras 3 weight (a ``tf.Variable`` is returned as is).

    Raises:
        TypeError: ``variable`` is neither, or is read inside a Keras stateless or
            mixed-precision scope (where Keras hands out a value, not its variable).
    """
    if isinstance(variable, tf.Variable):
        return variable
    if not isinstance(variable, keras.Variable):
        raise TypeError(f"expected a Keras or TensorFlow variable, got {variable!r}")
    value = variable.value
    if not isinstance(value, tf.Variable):
        raise TypeError(
            f"{variable.path}: Keras hands out a tensor, not its tf.Variable, here (a stateless or "
            "autocast scope); collect the variables outside the model's call"
        )
    return value


def trainable_variables(*objects: Any) -> list[tf.Variable]:
    """The ``tf.Variable`` objects that TF1 optimizers update, for the given layers: TF1's
    ``tf.compat.v1.trainable_variables()``.

    Args:
        *objects: Keras layers or models (tfseq cells and wrappers, ``keras.layers.Dense``,
            ...: their ``trainable_weights``), single variables, or lists / dicts of these
            (``cell.tf1_variables()``).

    Returns:
        A list of ``tf.Variable``, each once, in the order given.

    Example:
        >>> tvars = tfseq.compat.trainable_variables(cell, projection)
        >>> optimizer = tf.compat.v1.train.GradientDescentOptimizer(1.0)
        >>> @tf.function
        ... def step(x):
        ...     with tf.GradientTape() as tape:
        ...         loss = ...
        ...     optimizer.apply_gradients(zip(tape.gradient(loss, tvars), tvars))

    Raises:
        TypeError: an object is none of these (the message echoes it).
    """
    found: dict[int, tf.Variable] = {}

    def visit(obj):
        if isinstance(obj, keras.layers.Layer):
            for weight in obj.trainable_weights:
                visit(weight)
        elif isinstance(obj, (keras.Variable, tf.Variable)):
            variable = tf_variable(obj)
            found.setdefault(id(variable), variable)
        elif isinstance(obj, Mapping):
            for value in obj.values():
                visit(value)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                visit(value)
        else:
            raise TypeError(
                f"trainable_variables: expected Keras layers, variables, or lists/dicts of them, got {obj!r}"
            )

    for obj in objects:
        visit(obj)
    return list(found.values())
