"""tfseq implementations, through the public API only.

- ``tfseq.<Cell>``: one ``tfseq.nn.dynamic_rnn`` per layer, on whatever path
  ``dynamic_rnn`` picks by itself (fused or per-step; the path is recorded); the cells
  are called directly, one token at a time, to generate;
- ``tfseq.<Cell> fast=False``: the same with the readable per-step loop forced, to show
  what the fast path buys;
- ``tfseq.MultiRNNCell(<Cell>)``: one ``dynamic_rnn`` over a ``MultiRNNCell``;
- ``tfseq.MultiRNNCell(<Cell>) jit_compile``: the same, the whole step compiled with XLA
  (``tf.function(jit_compile=True)``), as ``tfseq lm train`` compiles its training step;
- ``tfseq.<Cell> in keras.layers.RNN``: a tfseq cell inside Keras' own sequence layer;
- ``tfseq.nn.RNN(<Cell>)``: tfseq's drop-in for ``keras.layers.RNN``.

Generation does not go through ``dynamic_rnn``, so it only runs the first and the
``MultiRNNCell`` variants (not ``jit_compile``), plus ``MultiRNNCell`` with the whole
sampling loop in one graph (``tfseq.MultiRNNCell(<Cell>) in-graph loop``, how
``tfseq.demos.lm.generate`` samples).

The summary's references (:mod:`benchmarks.report`) are the first entry and, where
present, tfseq's own way: the ``jit_compile`` one, or the ``in-graph loop`` one.
"""

import keras
import tensorflow as tf

from benchmarks import report
from tfseq import nn, rnn_cell

_CELLS = {
    "lstm": [
        ("BasicLSTMCell", lambda n: rnn_cell.BasicLSTMCell(n, forget_bias=0.0)),
        ("LSTMCell(use_peepholes)", lambda n: rnn_cell.LSTMCell(n, use_peepholes=True, forget_bias=0.0)),
    ],
    "gru": [("GRUCell", lambda n: rnn_cell.GRUCell(n))],
    "rnn": [("BasicRNNCell", lambda n: rnn_cell.BasicRNNCell(n))],
}


class DynamicRnnStack:
    """``layers`` cells, one ``tfseq.nn.dynamic_rnn`` each."""

    def __init__(self, make_cell, layers, fast=None):
        self.cells = [make_cell() for _ in range(layers)]
        self.fast = fast

    @property
    def detail(self):
        return nn.fused.plan(self.cells[0], fast=self.fast).path  # the path dynamic_rnn takes

    def build(self, depth):
        for cell in self.cells:
            cell.build((None, depth))
            depth = cell.output_size

    @property
    def variables(self):
        return [v for cell in self.cells for v in cell.trainable_variables]

    def sequence(self, x):
        kwargs = {} if self.fast is None else {"fast": self.fast}
        for cell in self.cells:
            x, _ = nn.dynamic_rnn(cell, x, dtype=x.dtype, **kwargs)
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

    def __init__(self, make_cell, layers, fast=None):
        super().__init__(make_cell, layers, fast)
        self.multi = rnn_cell.MultiRNNCell(self.cells)

    @property
    def detail(self):
        return nn.fused.plan(self.multi, fast=self.fast).path

    def build(self, depth):
        self.multi.build((None, depth))

    def sequence(self, x):
        outputs, _ = nn.dynamic_rnn(self.multi, x, dtype=x.dtype)
        return outputs

    def step(self, x, states):
        return self.multi(x, states)

    def initial_states(self, batch):
        return self.multi.zero_state(batch, tf.float32)


class JitCompiledStack(MultiCellStack):
    """``MultiRNNCell`` with the whole timed step compiled with XLA (see
    :mod:`benchmarks.tf_harness`), as ``tfseq lm train`` compiles its training step."""

    jit_compile = True


class InGraphSamplingStack(MultiCellStack):
    """``MultiRNNCell`` generating with the whole sampling loop in one graph ``tf.while_loop``,
    as ``tfseq.demos.lm.generate`` does (the other rows make one ``tf.function`` call per token)."""

    in_graph_loop = True


class KerasRnnStack(DynamicRnnStack):
    """Each tfseq cell inside ``keras.layers.RNN(cell, return_sequences=True)``."""

    layer_class = keras.layers.RNN

    def __init__(self, make_cell, layers, fast=None):
        super().__init__(make_cell, layers, fast)
        self.layers = [self.layer_class(cell, return_sequences=True) for cell in self.cells]

    @property
    def detail(self):
        return None  # Keras' own loop decides

    def build(self, depth):
        for layer, cell in zip(self.layers, self.cells):
            layer.build((None, None, depth))
            depth = cell.output_size

    def sequence(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class NnRnnStack(KerasRnnStack):
    """Each tfseq cell inside ``tfseq.nn.RNN(cell, return_sequences=True)``."""

    layer_class = nn.RNN

    @property
    def detail(self):
        return self.layers[0].plan().path


def implementations(family, bench, precisions=("float32",)):
    """``[(name, make_stack(shape))]`` for ``family``; the first one is the reference for ratios
    (with the ``jit_compile`` one, in ``fwd_bwd`` and ``train``). With ``"mixed_bfloat16"`` in
    ``precisions``, the ``MultiRNNCell`` rows (plain and ``jit_compile``) come again with the cells
    under Keras' ``mixed_bfloat16`` policy, named ``... [mixed_bfloat16]``: the harness then casts
    the inputs and the softmax weights to bfloat16 and the logits back to float32 for the loss."""
    impls = _float32_implementations(family, bench)
    if "mixed_bfloat16" in precisions and bench != "generate":
        base_name, base_make = _CELLS[family][0]
        mixed = _mixed(base_make)
        impls.append((f"tfseq.MultiRNNCell({base_name}) [mixed_bfloat16]", _factory(MixedMultiCellStack, mixed)))
        impls.append((f"tfseq.MultiRNNCell({base_name}) [mixed_bfloat16]{report.JIT_COMPILE_SUFFIX}",
                      _factory(MixedJitCompiledStack, mixed)))
    return impls


def _mixed(make_cell):
    """``make_cell`` with the cell created under the ``mixed_bfloat16`` policy (restored after)."""

    def make(units):
        before = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            return make_cell(units)
        finally:
            keras.config.set_dtype_policy(before)

    return make


class MixedMultiCellStack(MultiCellStack):
    """``MultiCellStack`` of ``mixed_bfloat16`` cells (float32 weights, bfloat16 compute)."""

    compute_dtype = tf.bfloat16


class MixedJitCompiledStack(MixedMultiCellStack):
    """The same with the whole timed step compiled with XLA."""

    jit_compile = True


def _float32_implementations(family, bench):
    cells = _CELLS[family]
    base_name, base_make = cells[0]
    impls = [(f"tfseq.{name}", _factory(DynamicRnnStack, make)) for name, make in cells]
    sequence_bench = bench != "generate"
    if sequence_bench:
        impls.insert(1, (f"tfseq.{base_name} fast=False", _factory(DynamicRnnStack, base_make, fast=False)))
    impls.append((f"tfseq.MultiRNNCell({base_name})", _factory(MultiCellStack, base_make)))
    if sequence_bench:
        name = f"tfseq.MultiRNNCell({base_name}){report.JIT_COMPILE_SUFFIX}"
        impls.append((name, _factory(JitCompiledStack, base_make)))
    else:
        impls.append((f"tfseq.MultiRNNCell({base_name}){report.IN_GRAPH_LOOP_SUFFIX}",
                      _factory(InGraphSamplingStack, base_make)))
    if family == "lstm" and sequence_bench:
        impls.append((f"tfseq.{base_name} in keras.layers.RNN", _factory(KerasRnnStack, base_make)))
        impls.append((f"tfseq.nn.RNN({base_name})", _factory(NnRnnStack, base_make)))
    return impls


def _factory(stack_cls, make_cell, fast=None):
    def make_stack(shape):
        return stack_cls(lambda: make_cell(shape.hidden), shape.layers, fast)

    return make_stack
