"""tfseq implementations, through the public API only.

- ``tfseq.<Cell>``: one ``tfseq.nn.dynamic_rnn`` per layer (whatever path
  ``dynamic_rnn`` picks, fused or per-step), the cells called directly to generate;
- ``tfseq.MultiRNNCell(2x<Cell>)``: one ``dynamic_rnn`` over a ``MultiRNNCell`` (only when
  ``tfseq.rnn_cell.MultiRNNCell`` exists);
- ``tfseq.<Cell> in keras.layers.RNN``: a tfseq cell inside Keras' own sequence layer.
"""

import keras
import tensorflow as tf

from tfseq import nn, rnn_cell

def _cell_factories():
    return {
        "lstm": [
            ("BasicLSTMCell", lambda n: rnn_cell.BasicLSTMCell(n, forget_bias=0.0)),
            ("LSTMCell(use_peepholes)", lambda n: rnn_cell.LSTMCell(n, use_peepholes=True, forget_bias=0.0)),
        ],
        "gru": [("GRUCell", lambda n: rnn_cell.GRUCell(n))],
        "rnn": [("BasicRNNCell", lambda n: rnn_cell.BasicRNNCell(n))],
    }


class DynamicRnnStack:
    """``layers`` cells, one ``tfseq.nn.dynamic_rnn`` each."""

    def __init__(self, make_cell, layers):
        self.cells = [make_cell() for _ in range(layers)]

    def build(self, depth):
        for cell in self.cells:
            cell.build((None, depth))
            depth = cell.output_size

    @property
    def variables(self):
        return [v for cell in self.cells for v in cell.trainable_variables]

    def sequence(self, x):
        for cell in self.cells:
            x, _ = nn.dynamic_rnn(cell, x, dtype=x.dtype)
        return x

    def step(self, x, states):
        new_states = []
        for cell, state in zip(self.cells, states):
            x, state = cell(x, state)
            new_states.append(state)
        return x, tuple(new_states)

    def initial_states(self, batch):
        return tuple(cell.zero_state(batch, tf.float32) for cell in self.cells)


class MultiCellStack(DynamicRnnStack):
    """One ``dynamic_rnn`` over ``tfseq.rnn_cell.MultiRNNCell(cells)``."""

    def __init__(self, make_cell, layers):
        super().__init__(make_cell, layers)
        self.multi = rnn_cell.MultiRNNCell(self.cells)

    def build(self, depth):
        self.multi.build((None, depth))

    def sequence(self, x):
        outputs, _ = nn.dynamic_rnn(self.multi, x, dtype=x.dtype)
        return outputs

    def step(self, x, states):
        return self.multi(x, states)

    def initial_states(self, batch):
        return self.multi.zero_state(batch, tf.float32)


class KerasRnnStack(DynamicRnnStack):
    """Each tfseq cell inside ``keras.layers.RNN(cell, return_sequences=True)``."""

    def __init__(self, make_cell, layers):
        super().__init__(make_cell, layers)
        self.layers = [keras.layers.RNN(cell, return_sequences=True) for cell in self.cells]

    def build(self, depth):
        for layer, cell in zip(self.layers, self.cells):
            layer.build((None, None, depth))
            depth = cell.output_size

    def sequence(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def implementations(family):
    """``[(name, make_stack(shape))]`` for ``family``; the first one is the reference for ratios."""
    cells = _cell_factories()[family]
    impls = [(f"tfseq.{name}", _factory(DynamicRnnStack, make)) for name, make in cells]
    base_name, base_make = cells[0]
    if hasattr(rnn_cell, "MultiRNNCell"):
        impls.append((f"tfseq.MultiRNNCell({base_name})", _factory(MultiCellStack, base_make)))
    if family == "lstm":
        impls.append((f"tfseq.{base_name} in keras.layers.RNN", _factory(KerasRnnStack, base_make)))
    return impls


def _factory(stack_cls, make_cell):
    def make_stack(shape):
        return stack_cls(lambda: make_cell(shape.hidden), shape.layers)

    return make_stack
