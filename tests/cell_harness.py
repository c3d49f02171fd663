"""A broad baseline test for any tfseq cell or wrapper, in one call (STYLE.md practice 9).

    from cell_harness import check_cell

    def test_my_wrapper(tmp_path):
        check_cell(lambda: MyWrapper(rnn_cell.GRUCell(3)), tmp_path,
                   weight_shapes={"gru_cell/gates/kernel": (7, 6), ...})

``check_cell`` builds cells with ``make_cell()`` (called several times: it must return
a fresh, unbuilt cell) and checks, failing with an assertion:

1. one step: output ``[batch, output_size]``, new state shaped like ``state_size``,
   ``zero_state`` == ``get_initial_state``;
2. the weight-shape dict ``{tf1 name: shape}`` from ``cell.tf1_variables()``;
3. config round trip (``from_config(get_config())``, Keras (de)serialization by
   registered name) gives the same config and, with copied weights, the same output;
4. ``keras.layers.RNN(cell)`` == a Python loop over the cell;
5. eager == ``tf.function``;
6. ``.keras`` save -> ``load_model`` (no ``custom_objects``) -> identical outputs;
7. one SGD step: every weight gets a finite, non-zero gradient and the loss goes down.

Only public Keras API is used. Pass ``training`` for cells whose step depends on it.

:func:`check_gradients_by_finite_differences` checks a cell's gradients (inputs, initial state,
every weight) against central differences of a NumPy reference's loss.

Small helpers several test modules share: :func:`randomize` (non-trivial weights),
:func:`half_kernels` (TF1's constant-weight goldens), :func:`cotangent` (a fixed weighting
of results in a test loss, also as source text for the reference subprocess).
"""

import inspect
import os

import keras
import numpy as np
import tensorflow as tf
from numpy_ref import dynamic_rnn as np_dynamic_rnn


def _step(cell, x_t, state, training):
    return cell(x_t, state) if training is None else cell(x_t, state, training=training)


def python_loop(cell, x, training=None):
    """Step ``cell`` by hand over batch-major ``x``; returns (outputs ``[b, t, out]``, final state)."""
    state = cell.get_initial_state(batch_size=x.shape[0], dtype=x.dtype)
    outputs = []
    for t in range(x.shape[1]):
        output, state = _step(cell, x[:, t], state, training)
        outputs.append(output)
    return tf.stack(outputs, 1), state


def rnn_model(cell, time, depth):
    """A functional model ``keras.layers.RNN(cell, return_sequences=True)`` over ``[time, depth]``."""
    inputs = keras.Input((time, depth))
    return keras.Model(inputs, keras.layers.RNN(cell, return_sequences=True)(inputs))


def copy_weights(src_cell, dst_cell):
    dst_cell.set_weights(src_cell.get_weights())


def check_cell(make_cell, tmp_path, weight_shapes=None, depth=3, batch=2, time=4, training=None, atol=1e-6):
    """Run the whole baseline on ``make_cell``; returns the built cell of step 1."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, time, depth)), tf.float32)

    # 1. one step: shapes and the initial state
    cell = make_cell()
    state = cell.get_initial_state(batch_size=batch, dtype=tf.float32)
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_array_equal(a.numpy(), b.numpy()), state, cell.zero_state(batch, tf.float32)
    )
    output, new_state = _step(cell, x[:, 0], state, training)
    assert tuple(output.shape) == (batch, cell.output_size), (output.shape, cell.output_size)
    flat_sizes = tf.nest.flatten(cell.state_size)
    flat_state = tf.nest.flatten(new_state)
    assert [tuple(s.shape) for s in flat_state] == [(batch, n) for n in flat_sizes], (new_state, cell.state_size)
    tf.nest.assert_same_structure(new_state, state)

    # 2. weight names (TF1) and shapes
    shapes = {name: tuple(v.shape) for name, v in cell.tf1_variables().items()}
    if weight_shapes is not None:
        assert shapes == {k: tuple(v) for k, v in weight_shapes.items()}, shapes
    assert len(cell.trainable_weights) == len(shapes) > 0

    # 3. config round trip, by class and by registered name
    config = cell.get_config()
    clone = type(cell).from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(revived) is type(cell) and revived.get_config() == config
    _step(clone, x[:, 0], clone.get_initial_state(batch_size=batch, dtype=tf.float32), training)
    copy_weights(cell, clone)
    clone_output, _ = _step(clone, x[:, 0], state, training)
    np.testing.assert_allclose(clone_output.numpy(), output.numpy(), atol=atol)

    # 4. keras.layers.RNN(cell) == a Python loop over the same cell
    model = rnn_model(make_cell(), time, depth)
    rnn_cell = model.layers[-1].cell
    model_outputs = model(x, training=training) if training is not None else model(x)
    loop_outputs, _ = python_loop(rnn_cell, x, training)
    np.testing.assert_allclose(model_outputs.numpy(), loop_outputs.numpy(), atol=atol)

    # 5. eager == tf.function
    traced_outputs, _ = tf.function(lambda x: python_loop(rnn_cell, x, training))(x)
    np.testing.assert_allclose(traced_outputs.numpy(), loop_outputs.numpy(), atol=atol)

    # 6. .keras save -> load (registered classes, no custom_objects) -> identical outputs
    path = os.path.join(str(tmp_path), f"{type(cell).__name__}.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[-1].cell) is type(rnn_cell)
    loaded_outputs = loaded(x, training=training) if training is not None else loaded(x)
    np.testing.assert_array_equal(loaded_outputs.numpy(), model_outputs.numpy())

    # 7. one gradient step lowers the loss
    def loss_fn():
        y = model(x, training=training) if training is not None else model(x)
        return tf.reduce_mean(tf.square(y - 0.5))

    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, model.trainable_weights)
    for weight, grad in zip(model.trainable_weights, grads):
        assert grad is not None, f"no gradient for {weight.path}"
        assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).max() > 0, weight.path
    keras.optimizers.SGD(0.05).apply_gradients(zip(grads, model.trainable_weights))
    assert float(loss_fn()) < float(loss)
    return cell


def randomize(layer, scale=0.8, seed=0, normal=False):
    """Non-trivial values for every weight of ``layer``: ``uniform(-scale, scale)``, or
    ``scale * normal(0, 1)`` with ``normal=True``; scalar weights (an attention scale ``g``) are
    shifted by +1, so they stay positive and away from their init.

    The weights are visited in ``tf1_variables()`` order when the layer names them, else in
    ``weights`` order. Returns ``{tf1 name: array}`` of the new values (``{}`` without TF1 names).
    """
    rng = np.random.default_rng(seed)
    named = layer.tf1_variables() if hasattr(layer, "tf1_variables") else dict(enumerate(layer.weights))
    values = {}
    for name, v in named.items():
        draw = scale * rng.standard_normal(v.shape) if normal else rng.uniform(-scale, scale, v.shape)
        values[name] = (draw + (1.0 if len(v.shape) == 0 else 0.0)).astype(keras.backend.standardize_dtype(v.dtype))
        v.assign(values[name])
    return values if hasattr(layer, "tf1_variables") else {}


def half_kernels(cell):
    """TF1's golden-test weights: every kernel 0.5, every other weight (biases) 0."""
    for name, variable in cell.tf1_variables().items():
        variable.assign(np.full(variable.shape, 0.5 if name.endswith("kernel") else 0.0, np.float32))


def cotangent(t, k):
    """A fixed, non-uniform weighting of result ``k`` in a test loss (``sum(t * cotangent(t, k))``)."""
    index = tf.cast(tf.range(tf.size(t)), t.dtype)
    return tf.reshape(tf.cos(index * 0.37 + float(k)), tf.shape(t))


# The same function for the reference subprocess, where ``tf`` is TensorFlow too.
COTANGENT_SOURCE = inspect.getsource(cotangent)


def check_gradients_by_finite_differences(cell, step, x, state, weights, weight_key=lambda name: name,
                                          np_state=lambda state: state, seed=11, eps=1e-6):
    """float64: ``d(loss)/d(inputs, initial state, every weight)`` from the tape through
    ``tfseq.nn.dynamic_rnn(cell)`` equals central differences of the same loss computed by the
    NumPy reference, along one random direction per source.

    ``x`` is an array ``[batch, time, ...]`` or a tuple of them (``PhasedLSTMCell``'s inputs);
    outputs and states may have more than two axes (``ConvLSTMCell``'s). ``step(x_t, state, w) ->
    (y_t, state')`` is the reference step over ``weights`` (arrays), keyed by
    ``weight_key(tf1 name)`` for each of ``cell.tf1_variables()``; ``np_state`` turns ``state``
    into the reference's structure. The loss weights every output and final state with fixed
    random numbers (through ``sin`` for the outputs, so it is not linear in them).
    """
    from tfseq import nn

    nested = isinstance(x, tuple)
    flat_x, flat_state = list(x) if nested else [x], tf.nest.flatten(state)
    rng = np.random.default_rng(seed)

    def np_loss(flat_x, flat_state, w):
        y, final = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), tuple(flat_x) if nested else flat_x[0],
                                  tf.nest.pack_sequence_as(np_state(state), flat_state))
        return float(np.sum(np.sin(3.0 * y) * dy) + sum(np.sum(f * c) for f, c in zip(tf.nest.flatten(final), dc)))

    dy = rng.standard_normal(np_dynamic_rnn(lambda x_t, s: step(x_t, s, weights), x, np_state(state))[0].shape)
    dc = [rng.standard_normal(s.shape) for s in flat_state]
    x_t = [tf.constant(v) for v in flat_x]
    s_t = [tf.constant(s) for s in flat_state]
    with tf.GradientTape() as tape:
        tape.watch([*x_t, *s_t])
        y, final = nn.dynamic_rnn(cell, tuple(x_t) if nested else x_t[0],
                                  initial_state=tf.nest.pack_sequence_as(state, s_t))
        loss = tf.reduce_sum(tf.sin(3.0 * y) * dy) + tf.add_n(
            [tf.reduce_sum(f * c) for f, c in zip(tf.nest.flatten(final), dc)])
    np.testing.assert_allclose(float(loss), np_loss(flat_x, flat_state, weights), rtol=1e-10)
    named = cell.tf1_variables()
    grads = tape.gradient(loss, [*x_t, *s_t, *named.values()])

    def replaced(values, k, v):
        return [v if i == k else other for i, other in enumerate(values)]

    sources = [(f"x{k}" if nested else "x", v, lambda v, k=k: np_loss(replaced(flat_x, k, v), flat_state, weights))
               for k, v in enumerate(flat_x)]
    sources += [(f"state{k}", s, lambda v, k=k: np_loss(flat_x, replaced(flat_state, k, v), weights))
                for k, s in enumerate(flat_state)]
    for name in named:
        key = weight_key(name)
        sources.append((name, weights[key], lambda v, key=key: np_loss(flat_x, flat_state, {**weights, key: v})))
    for (label, base, loss_at), grad in zip(sources, grads):
        direction = rng.standard_normal(base.shape)
        numeric = (loss_at(base + eps * direction) - loss_at(base - eps * direction)) / (2 * eps)
        analytic = 0.0 if grad is None else float(np.sum(np.asarray(grad) * direction))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=label)
