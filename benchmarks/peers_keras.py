"""Keras 3 built-in recurrent layers as peers (run inside ``tf.function``).

``keras.layers.LSTM``, ``keras.layers.GRU(reset_after=False)`` (TF1's GRU math) and
``keras.layers.SimpleRNN``, ``shape.layers`` of them stacked with
``return_sequences=True``. Generation calls each layer on a one-step sequence with
``initial_state`` and ``return_state=True``, as a Keras sampling loop does.

For ``fwd_bwd`` and ``train`` each layer also runs as ``<name> jit_compile``: the whole
step compiled with XLA (``tf.function(jit_compile=True)``), the setting tfseq's
``jit_compile`` row runs in, so the comparison is like for like. Generation: no XLA variant.
"""

import keras
import tensorflow as tf

from benchmarks import report

_LAYERS = {
    "lstm": ("keras.layers.LSTM", lambda n: keras.layers.LSTM(n, return_sequences=True, return_state=True)),
    "gru": (
        "keras.layers.GRU(reset_after=False)",
        lambda n: keras.layers.GRU(n, reset_after=False, return_sequences=True, return_state=True),
    ),
    "rnn": ("keras.layers.SimpleRNN", lambda n: keras.layers.SimpleRNN(n, return_sequences=True, return_state=True)),
}


class KerasStack:
    """``layers`` Keras recurrent layers; states are each layer's list (``[h]`` or ``[h, c]``)."""

    def __init__(self, make_layer, hidden, layers):
        self.hidden = hidden
        self.layers = [make_layer(hidden) for _ in range(layers)]

    def build(self, depth):
        for layer in self.layers:
            layer.build((None, None, depth))
            depth = self.hidden

    @property
    def variables(self):
        return [v for layer in self.layers for v in layer.trainable_variables]

    def sequence(self, x):
        for layer in self.layers:
            x = layer(x)[0]
        return x

    def step(self, x, states):
        new_states = []
        x = x[:, None, :]  # [batch, 1, depth]
        for layer, state in zip(self.layers, states):
            out = layer(x, initial_state=list(state))
            x, state = out[0], tuple(out[1:])
            new_states.append(state)
        return x[:, 0, :], tuple(new_states)

    def initial_states(self, batch):
        count = len(tf.nest.flatten(self.layers[0].cell.state_size))  # 2 for LSTM ([h, c]), else 1
        return tuple(tuple(tf.zeros([batch, self.hidden]) for _ in range(count)) for _ in self.layers)


class JitCompiledKerasStack(KerasStack):
    """The same layers, the whole timed step compiled with XLA (see :mod:`benchmarks.tf_harness`)."""

    jit_compile = True


def implementations(family, bench):
    """``[(name, make_stack(shape))]``: the Keras 3 built-in layer of ``family``, plus its
    XLA-compiled variant for ``fwd_bwd`` and ``train``."""
    name, make_layer = _LAYERS[family]
    impls = [(name, _factory(KerasStack, make_layer))]
    if bench != "generate":
        impls.append((name + report.JIT_COMPILE_SUFFIX, _factory(JitCompiledKerasStack, make_layer)))
    return impls


def _factory(stack_cls, make_layer):
    return lambda shape: stack_cls(make_layer, shape.hidden, shape.layers)
