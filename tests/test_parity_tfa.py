"""Parity of tfseq's attention with the real TF Addons 0.23 code (``tfa.seq2seq``).

Every case builds the same decoder on both sides from one spec (mechanism classes,
units and arguments - the softmax and the monotonic mechanisms in every ``mode``, the
user's own ``memory_layer``/``query_layer`` -, Keras LSTM/GRU cell, ``attention_layer_size``, ``output_attention``,
``alignment_history``, memory padding), gives both sides the same random weights (keyed
by what they are: ``m0.memory_kernel``, ``layer0``, ``cell.kernel``...; TF Addons
weights are assigned through their attributes, then its memory is set up again so its
keys use them), feeds the same memory and teacher-forced inputs through a few steps of
``AttentionWrapper``, and compares outputs, alignments at every step, the final
attention and cell state, the alignment history, and the gradients of one scalar loss
w.r.t. every weight, the memory and the inputs, to 1e-5.
All cases run in ONE TF Addons subprocess (module-scoped fixture).
"""

import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import describe, requires_tfa, run_tfa_many

from tfseq import seq2seq

pytestmark = requires_tfa

ATOL = 1e-5
BATCH, MAX_TIME, MEM_DEPTH, STEPS, IN_DEPTH = 3, 5, 4, 4, 3
LENGTHS = np.array([5, 3, 1], np.int32)  # full, partial and one-step memory rows

# Mechanism kinds: (class name, constructor arguments); "layers" asks for the user's own Dense
# memory_layer (with a bias) and, for Bahdanau, query_layer.
KINDS = {
    "luong": ("LuongAttention", {}),
    "scaled_luong": ("LuongAttention", {"scale": True}),
    "luong_hardmax": ("LuongAttention", {"probability_fn": "hardmax"}),
    "bahdanau": ("BahdanauAttention", {}),
    "normed_bahdanau": ("BahdanauAttention", {"normalize": True}),
    "bahdanau_user_layers": ("BahdanauAttention", {"layers": True}),
    "luong_user_memory_layer": ("LuongAttention", {"layers": True}),
    "luong_monotonic_parallel": ("LuongMonotonicAttention", {"score_bias_init": -0.5}),
    "scaled_luong_monotonic_recursive": ("LuongMonotonicAttention", {"scale": True, "mode": "recursive"}),
    "bahdanau_monotonic_parallel": ("BahdanauMonotonicAttention", {"score_bias_init": 0.5}),
    "normed_bahdanau_monotonic_recursive": ("BahdanauMonotonicAttention", {"normalize": True, "mode": "recursive"}),
    "bahdanau_monotonic_hard": ("BahdanauMonotonicAttention", {"mode": "hard", "score_bias_init": 0.2}),
}

# name: (mechanisms [(kind, units)], options)
CASES = {
    "luong_layer_output_attention": ([("luong", 6)], dict(cell="lstm", units=6, layer=5, out_att=True)),
    "scaled_luong_no_layer_cell_output": ([("scaled_luong", 6)], dict(cell="gru", units=6, layer=None,
                                                                      out_att=False)),
    "bahdanau_layer_cell_output": ([("bahdanau", 7)], dict(cell="lstm", units=6, layer=4, out_att=False)),
    "normed_bahdanau_no_layer_no_padding": ([("normed_bahdanau", 7)], dict(cell="gru", units=5, layer=None,
                                                                          out_att=True, lengths=None)),
    "luong_hardmax": ([("luong_hardmax", 6)], dict(cell="lstm", units=6, layer=3, out_att=True, grads=False)),
    "multi_scaled_luong_normed_bahdanau_history": (
        [("scaled_luong", 6), ("normed_bahdanau", 5)],
        dict(cell="lstm", units=6, layer=[3, 4], out_att=True, history=True),
    ),
    "bahdanau_user_query_and_memory_layers": ([("bahdanau_user_layers", 5)], dict(cell="lstm", units=6, layer=4,
                                                                                 out_att=True)),
    "luong_user_memory_layer": ([("luong_user_memory_layer", 6)], dict(cell="gru", units=6, layer=None,
                                                                      out_att=False)),
    "luong_monotonic_parallel": ([("luong_monotonic_parallel", 6)], dict(cell="lstm", units=6, layer=5,
                                                                        out_att=True, history=True)),
    "scaled_luong_monotonic_recursive": ([("scaled_luong_monotonic_recursive", 6)], dict(cell="gru", units=6,
                                                                                        layer=None, out_att=True)),
    "bahdanau_monotonic_parallel_no_padding": ([("bahdanau_monotonic_parallel", 5)], dict(
        cell="lstm", units=6, layer=4, out_att=False, lengths=None)),
    "normed_bahdanau_monotonic_recursive": ([("normed_bahdanau_monotonic_recursive", 7)], dict(
        cell="lstm", units=6, layer=3, out_att=True)),
    "bahdanau_monotonic_hard": ([("bahdanau_monotonic_hard", 5)], dict(cell="gru", units=6, layer=4,
                                                                      out_att=True)),
    "multi_luong_monotonic_and_bahdanau": (
        [("luong_monotonic_parallel", 6), ("bahdanau", 5)],
        dict(cell="lstm", units=6, layer=[3, 4], out_att=True),
    ),
}


def _spec(name):
    mechanisms, opts = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    lengths = opts.get("lengths", LENGTHS)
    return dict(
        mechanisms=mechanisms,
        kinds={kind: KINDS[kind] for kind, _ in mechanisms},
        multi=len(mechanisms) > 1,
        cell=opts["cell"],
        units=opts["units"],
        layer=opts["layer"],
        out_att=opts["out_att"],
        history=opts.get("history", False),
        grads=opts.get("grads", True),
        memory=rng.standard_normal((BATCH, MAX_TIME, MEM_DEPTH)).astype(np.float32),
        lengths=lengths,
        x=rng.standard_normal((BATCH, STEPS, IN_DEPTH)).astype(np.float32),
        seed=int(rng.integers(2**31)),
    )


# Runs in the TF Addons subprocess: `inputs` is the spec plus `weights` and `loss_w`.
TFA_SOURCE = """
spec = inputs
memory = tf.constant(spec["memory"])
lengths = None if spec["lengths"] is None else tf.constant(spec["lengths"])
x = tf.constant(spec["x"])

def make(kind, units):
    cls, kwargs = spec["kinds"][kind]
    kwargs = dict(kwargs)
    if kwargs.pop("layers", False):
        kwargs["memory_layer"] = tf.keras.layers.Dense(units, use_bias=True)
        if cls.startswith("Bahdanau"):
            kwargs["query_layer"] = tf.keras.layers.Dense(units, use_bias=False)
    return getattr(tfa.seq2seq, cls)(units, memory, lengths, **kwargs)

mechs = [make(kind, units) for kind, units in spec["mechanisms"]]
cell = (tf.keras.layers.LSTMCell if spec["cell"] == "lstm" else tf.keras.layers.GRUCell)(spec["units"])
wrapper = tfa.seq2seq.AttentionWrapper(
    cell, mechs if spec["multi"] else mechs[0], attention_layer_size=spec["layer"],
    alignment_history=spec["history"], output_attention=spec["out_att"])
state = wrapper.get_initial_state(batch_size=x.shape[0], dtype=tf.float32)
wrapper(x[:, 0], state)  # build every weight

def variable(key):
    head, _, attr = key.partition(".")
    if head == "cell":
        return getattr(cell, attr)
    if head.startswith("layer"):
        return wrapper._attention_layers[int(head[5:])].kernel
    m = mechs[int(head[1:])]
    return {"memory_kernel": lambda: m.memory_layer.kernel, "memory_bias": lambda: m.memory_layer.bias,
            "query_kernel": lambda: m.query_layer.kernel,
            "scale": lambda: getattr(m, "scale_weight", None) or m.attention_g,  # monotonic: attention_g
            "score_bias": lambda: m.attention_score_bias, "attention_v": lambda: m.attention_v,
            "attention_g": lambda: m.attention_g, "attention_b": lambda: m.attention_b}[attr]()

keys = sorted(spec["weights"])
variables = [variable(k) for k in keys]
for k, v in zip(keys, variables):
    v.assign(spec["weights"][k])
outputs["n_weights"] = len(wrapper.trainable_weights)
with tf.GradientTape(persistent=True) as tape:
    tape.watch([memory, x])
    for m in mechs:
        m.setup_memory(memory, lengths)  # keys from the assigned memory kernel, on the tape
    state = wrapper.get_initial_state(batch_size=x.shape[0], dtype=tf.float32)
    ys, aligns = [], []
    for t in range(x.shape[1]):
        y, state = wrapper(x[:, t], state)
        ys.append(y)
        aligns.append(state.alignments if spec["multi"] else (state.alignments,))
    y = tf.stack(ys, 1)
    loss = tf.reduce_sum(y * spec["loss_w"])
outputs["y"] = y
for k in range(len(mechs)):
    outputs[f"alignments{k}"] = tf.stack([a[k] for a in aligns], 1)
outputs["attention"] = state.attention
for i, s in enumerate(tf.nest.flatten(state.cell_state)):
    outputs[f"cell_state{i}"] = s
if spec["history"]:
    for k, h in enumerate(state.alignment_history if spec["multi"] else [state.alignment_history]):
        outputs[f"history{k}"] = h.stack()
if spec["grads"]:
    grads = tape.gradient(loss, variables + [memory, x])
    for k, g, v in zip(keys + ["memory", "x"], grads, variables + [memory, x]):
        outputs["grad:" + k] = tf.zeros_like(v) if g is None else g  # None: no path (hard monotonic)
"""


def _make_mechanism(kind, units, memory, lengths):
    cls, kwargs = KINDS[kind]
    kwargs = dict(kwargs)
    if kwargs.pop("layers", False):
        kwargs["memory_layer"] = keras.layers.Dense(units, use_bias=True)
        if cls.startswith("Bahdanau"):
            kwargs["query_layer"] = keras.layers.Dense(units, use_bias=False)
    return getattr(seq2seq, cls)(units, memory, lengths, **kwargs)


def _tfseq_variables(wrapper, mechs):
    """``{key: variable}`` with the keys the TF Addons side understands."""
    out = {f"cell.{w.name}": w for w in wrapper.cell.weights}
    for k, m in enumerate(mechs):
        out[f"m{k}.memory_kernel"] = m.memory_layer.kernel  # TF Addons' names: tfseq's own kernel, or the user's layer
        if m.memory_layer.bias is not None:
            out[f"m{k}.memory_bias"] = m.memory_layer.bias
        if isinstance(m, (seq2seq.LuongMonotonicAttention, seq2seq.BahdanauMonotonicAttention)):
            out[f"m{k}.score_bias"] = m.attention_score_bias
        if isinstance(m, seq2seq.LuongAttention):
            if m.scale:
                out[f"m{k}.scale"] = m.scale_weight
        else:
            out[f"m{k}.query_kernel"] = m.query_layer.kernel
            out[f"m{k}.attention_v"] = m.attention_v
            if m.normalize:
                out[f"m{k}.attention_g"] = m.attention_g
                out[f"m{k}.attention_b"] = m.attention_b
    for k, kernel in enumerate(wrapper._attention_kernels or []):
        out[f"layer{k}"] = kernel
    return out


def _build(spec):
    memory = tf.constant(spec["memory"])
    lengths = None if spec["lengths"] is None else tf.constant(spec["lengths"])
    mechs = [_make_mechanism(kind, units, memory, lengths) for kind, units in spec["mechanisms"]]
    cell = (keras.layers.LSTMCell if spec["cell"] == "lstm" else keras.layers.GRUCell)(spec["units"])
    wrapper = seq2seq.AttentionWrapper(
        cell, mechs if spec["multi"] else mechs[0], attention_layer_size=spec["layer"],
        alignment_history=spec["history"], output_attention=spec["out_att"],
    )
    x = tf.constant(spec["x"])
    wrapper(x[:, 0], wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32))  # build
    variables = _tfseq_variables(wrapper, mechs)
    rng = np.random.default_rng(spec["seed"])
    weights = {k: (0.5 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in variables.items()}
    for k, v in variables.items():
        v.assign(weights[k])
    return wrapper, mechs, variables, weights, memory, lengths, x


def _run_tfseq(spec, loss_w):
    wrapper, mechs, variables, weights, memory, lengths, x = _build(spec)
    keys = sorted(variables)
    out = {"n_weights": len(wrapper.trainable_weights)}
    with tf.GradientTape() as tape:
        tape.watch([memory, x])
        for m in mechs:
            m.setup_memory(memory, lengths)
        state = wrapper.get_initial_state(batch_size=BATCH, dtype=tf.float32)
        ys, aligns = [], []
        for t in range(STEPS):
            y, state = wrapper(x[:, t], state)
            ys.append(y)
            aligns.append(state.alignments if spec["multi"] else (state.alignments,))
        y = tf.stack(ys, 1)
        loss = tf.reduce_sum(y * loss_w)
    out["y"] = y.numpy()
    for k in range(len(mechs)):
        out[f"alignments{k}"] = tf.stack([a[k] for a in aligns], 1).numpy()
    out["attention"] = state.attention.numpy()
    for i, s in enumerate(tf.nest.flatten(state.cell_state)):
        out[f"cell_state{i}"] = s.numpy()
    if spec["history"]:
        for k, h in enumerate(state.alignment_history if spec["multi"] else [state.alignment_history]):
            out[f"history{k}"] = h.stack().numpy()
    if spec["grads"]:
        grads = tape.gradient(loss, [variables[k] for k in keys] + [memory, x])
        for k, g, v in zip(keys + ["memory", "x"], grads, [variables[k] for k in keys] + [memory, x]):
            out["grad:" + k] = (tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)).numpy()
    return out, weights


@pytest.fixture(scope="module")
def results():
    cases, ours = [], {}
    for name in CASES:
        spec = _spec(name)
        out_size = _out_size(spec)
        loss_w = np.random.default_rng(1).standard_normal((BATCH, STEPS, out_size)).astype(np.float32)
        ours[name], weights = _run_tfseq(spec, loss_w)
        cases.append((name, TFA_SOURCE, dict(spec, weights=weights, loss_w=loss_w)))
    theirs = run_tfa_many(cases)
    return ours, theirs


def _out_size(spec):
    if not spec["out_att"]:
        return spec["units"]
    if spec["layer"] is None:
        return MEM_DEPTH * len(spec["mechanisms"])
    return sum(spec["layer"]) if isinstance(spec["layer"], list) else spec["layer"]


@pytest.mark.parametrize("name", list(CASES))
def test_matches_tfa(results, name):
    ours, theirs = results[0][name], results[1][name]
    assert sorted(ours) == sorted(theirs), (describe(ours), describe(theirs))
    for key in sorted(ours):
        np.testing.assert_allclose(ours[key], theirs[key], atol=ATOL, rtol=0, err_msg=f"{name}: {key}")
    if CASES[name][1].get("lengths", LENGTHS) is not None:  # padding really is in play: zero weight there
        padded = np.arange(MAX_TIME)[None, None, :] >= LENGTHS[:, None, None]
        assert np.all(ours["alignments0"][np.broadcast_to(padded, ours["alignments0"].shape)] == 0)
    if "grad:memory" in ours:
        assert np.abs(ours["grad:memory"]).max() > 0  # the comparison covers real gradients
