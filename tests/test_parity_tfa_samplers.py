"""Parity of tfseq's samplers and decoding options with the real TF Addons 0.23 code, to 1e-5.

Each case is ONE piece of source run twice: in the TF Addons subprocess with
``s2s = tfa.seq2seq`` and ``K = tf.keras``, and here with ``s2s = tfseq.seq2seq`` and
``K = keras`` (the renames a user makes), on the same weights and inputs. The cases cover
``ScheduledOutputTrainingSampler`` (sampling everywhere and nowhere; auxiliary inputs;
``next_inputs_fn``; per row against those runs), ``InferenceSampler``, ``CustomSampler``,
``ScheduledEmbeddingTrainingSampler`` at probabilities 0 and 1, ``TrainingSampler`` reading the
rows' lengths from the Keras mask of an ``Embedding(mask_zero=True)``, the attention mechanisms
reading that mask as their memory's (or not, through ``setup_memory``), and
``dynamic_decode(enable_tflite_convertible=True)``. The TF1 ``*Helper`` spellings
(TF Addons has none) are checked against the same TF Addons sampler runs.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import describe, requires_tfa, run_tfa_many

from tfseq import seq2seq

pytestmark = requires_tfa

ATOL = 1e-5
B, T, H, V, AUX = 3, 5, 4, 6, 2  # batch, time, units (= input depth), vocab, auxiliary depth
START, END = 1, 2
rng = np.random.default_rng(7)
DATA = dict(
    B=B, T=T, H=H, V=V, START=START, END=END,
    x=rng.standard_normal((B, T, H)).astype(np.float32),
    x_aux=rng.standard_normal((B, T, H - AUX)).astype(np.float32),
    aux=rng.standard_normal((B, T, AUX)).astype(np.float32),
    lengths=np.array([5, 3, 4], np.int32),
    ids=np.array([[1, 3, 5, 2, 4], [4, 4, 1, 0, 0], [5, 1, 3, 3, 0]], np.int32),  # 0: padding, rows 5, 3, 4 long
    embedding=rng.standard_normal((V, H)).astype(np.float32),
    h0=(0.5 * rng.standard_normal((B, H))).astype(np.float32),
    c0=(0.5 * rng.standard_normal((B, H))).astype(np.float32),
    cell_weights=[(0.5 * rng.standard_normal(s)).astype(np.float32) for s in ((H, 4 * H), (H, 4 * H), (4 * H,))],
    out_weights=[rng.standard_normal((H, V)).astype(np.float32), np.eye(V, dtype=np.float32)[END]],
    proj_weights=[rng.standard_normal((H, H)).astype(np.float32), np.zeros(H, np.float32)],
    proj_aux_weights=[rng.standard_normal((H, H - AUX)).astype(np.float32), np.zeros(H - AUX, np.float32)],
)

# Shared by every case: `s2s` and `K` are the library under test and its Keras.
PRELUDE = """
init = [tf.constant(inputs["h0"]), tf.constant(inputs["c0"])]
emb = tf.constant(inputs["embedding"])

def lstm(depth):
    cell = K.layers.LSTMCell(inputs["H"])
    cell(tf.zeros([1, depth]), [tf.zeros([1, inputs["H"]])] * 2)
    cell.set_weights(inputs["cell_weights"])
    return cell

def dense(weights):
    layer = K.layers.Dense(weights[0].shape[1])
    layer(tf.zeros([1, weights[0].shape[0]]))
    layer.set_weights(weights)
    return layer

def save(prefix, structure):
    for i, t in enumerate(tf.nest.flatten(structure)):
        outputs[f"{prefix}{i}"] = t
"""

CASES = {
    "scheduled_output_everywhere_with_auxiliary_inputs": """
sampler = s2s.ScheduledOutputTrainingSampler(1.0)  # next input: concat(output, auxiliary input)
dec = s2s.BasicDecoder(lstm(inputs["H"]), sampler, dense(inputs["proj_aux_weights"]))
o, s, l = dec(tf.constant(inputs["x_aux"]), initial_state=init, sequence_length=tf.constant(inputs["lengths"]),
              auxiliary_inputs=tf.constant(inputs["aux"]))
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "scheduled_output_nowhere": """
dec = s2s.BasicDecoder(lstm(inputs["H"]), s2s.ScheduledOutputTrainingSampler(0.0))
o, s, l = dec(tf.constant(inputs["x"]), initial_state=init, sequence_length=tf.constant(inputs["lengths"]))
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "scheduled_output_next_inputs_fn": """
sampler = s2s.ScheduledOutputTrainingSampler(1.0, next_inputs_fn=tf.tanh)
dec = s2s.BasicDecoder(lstm(inputs["H"]), sampler, dense(inputs["proj_weights"]))
o, s, l = dec(tf.constant(inputs["x"]), initial_state=init, sequence_length=tf.constant(inputs["lengths"]))
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "scheduled_embedding_probability_one": """
sampler = s2s.ScheduledEmbeddingTrainingSampler(1.0)
dec = s2s.BasicDecoder(lstm(inputs["H"]), sampler, dense(inputs["out_weights"]))
o, s, l = dec(tf.constant(inputs["x"]), initial_state=init, sequence_length=tf.constant(inputs["lengths"]),
              embedding=emb)
outputs["sampled_ids_valid"] = tf.reduce_all((o.sample_id >= 0) & (o.sample_id < inputs["V"]))
outputs["lengths"] = l
""",
    "scheduled_embedding_probability_zero": """
sampler = s2s.ScheduledEmbeddingTrainingSampler(0.0)
dec = s2s.BasicDecoder(lstm(inputs["H"]), sampler, dense(inputs["out_weights"]))
o, s, l = dec(tf.constant(inputs["x"]), initial_state=init, sequence_length=tf.constant(inputs["lengths"]),
              embedding=emb)
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "training_sampler_keras_mask_from_embedding": """
embedding = K.layers.Embedding(inputs["V"], inputs["H"], mask_zero=True)
embedding.build((None, None))
embedding.set_weights([inputs["embedding"]])
dec = s2s.BasicDecoder(lstm(inputs["H"]), s2s.TrainingSampler(), dense(inputs["out_weights"]))
o, s, l = dec(embedding(tf.constant(inputs["ids"])), initial_state=init)  # the rows' lengths: the mask's
save("out", o); save("state", s); outputs["lengths"] = l
o, s, l = tf.function(lambda ids: dec(embedding(ids), initial_state=init))(tf.constant(inputs["ids"]))
save("graph_out", o); save("graph_state", s); outputs["graph_lengths"] = l
""",
    "mechanisms_read_the_keras_mask_of_their_memory": """
embedding = K.layers.Embedding(inputs["V"], inputs["H"], mask_zero=True)
embedding.build((None, None))
embedding.set_weights([inputs["embedding"]])
memory = embedding(tf.constant(inputs["ids"]))  # carries the padding mask
query, state = tf.constant(inputs["h0"]), tf.zeros([inputs["B"], inputs["T"]])
for name, mechanism in (("luong", s2s.LuongAttention), ("bahdanau", s2s.BahdanauAttention)):
    at_construction = mechanism(inputs["H"], memory=memory)
    called = mechanism(inputs["H"])
    outputs[name + "_called"] = called(memory, setup_memory=True)
    set_up = mechanism(inputs["H"])
    set_up.setup_memory(memory)  # a plain method: no Keras mask there
    for how, m in (("at_construction", at_construction), ("called", called), ("set_up", set_up)):
        outputs[f"{name}_{how}_values"] = m.values
        alignments, _ = m([query, state])
        outputs[f"{name}_{how}_attends"] = tf.cast(alignments > 0, tf.int32)
""",
    "inference_sampler_argmax": """
sampler = s2s.InferenceSampler(
    sample_fn=lambda logits: tf.argmax(logits, -1, output_type=tf.int32), sample_shape=[],
    sample_dtype=tf.int32, end_fn=lambda ids: tf.equal(ids, inputs["END"]),
    next_inputs_fn=lambda ids: tf.nn.embedding_lookup(emb, ids))
dec = s2s.BasicDecoder(lstm(inputs["H"]), sampler, dense(inputs["out_weights"]), maximum_iterations=6)
o, s, l = dec(tf.nn.embedding_lookup(emb, tf.fill([inputs["B"]], inputs["START"])), initial_state=init)
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "inference_sampler_continuous": """
sampler = s2s.InferenceSampler(sample_fn=tf.tanh, sample_shape=[inputs["H"]], sample_dtype=tf.float32,
                               end_fn=lambda sample: tf.reduce_sum(sample, -1) > 1.5)
dec = s2s.BasicDecoder(lstm(inputs["H"]), sampler, dense(inputs["proj_weights"]), maximum_iterations=5)
o, s, l = dec(tf.constant(inputs["x"][:, 0]), initial_state=init)
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "custom_sampler": """
x = tf.constant(inputs["x"])

def initialize_fn(first, **kwargs):
    return tf.zeros([inputs["B"]], tf.bool), first

def sample_fn(time, outputs, state):
    return tf.argmax(outputs, -1, output_type=tf.int32)

def next_inputs_fn(time, outputs, state, sample_ids):
    step = tf.minimum(time + 1, inputs["T"] - 1)
    return time + 1 >= inputs["T"] - 1, tf.gather(x, step, axis=1) + tf.cast(sample_ids, tf.float32)[:, None], state

dec = s2s.BasicDecoder(lstm(inputs["H"]), s2s.CustomSampler(initialize_fn, sample_fn, next_inputs_fn),
                       dense(inputs["out_weights"]))
o, s, l = dec(x[:, 0], initial_state=init)
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "tflite_convertible_greedy_batch_one": """
cell, out = lstm(inputs["H"]), dense(inputs["out_weights"])
for time_major in (False, True):
    dec = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out)
    o, s, l = s2s.dynamic_decode(
        dec, output_time_major=time_major, maximum_iterations=4, enable_tflite_convertible=True,
        decoder_init_input=emb,
        decoder_init_kwargs=dict(start_tokens=tf.constant([inputs["START"]]), end_token=inputs["END"],
                                 initial_state=[init[0][:1], init[1][:1]]))
    save(f"out{time_major}_", o); outputs[f"lengths{time_major}"] = l
""",
}


def _run_ours(source, **names):
    outputs = {}
    exec(PRELUDE + source, dict(tf=tf, K=keras, s2s=seq2seq, np=np, inputs=DATA, outputs=outputs, **names))
    return {k: np.asarray(v) for k, v in outputs.items()}


@pytest.fixture(scope="module")
def tfa():
    prelude = "K = tf.keras\ns2s = tfa.seq2seq\n" + PRELUDE
    return run_tfa_many([(name, prelude + source, DATA) for name, source in CASES.items()])


def assert_matches(ours, theirs):
    assert sorted(ours) == sorted(theirs), (describe(ours), describe(theirs))
    for key, value in ours.items():
        assert value.shape == theirs[key].shape, (key, value.shape, theirs[key].shape)
        if value.dtype.kind in "iub":
            np.testing.assert_array_equal(value, theirs[key], err_msg=key)
        else:
            np.testing.assert_allclose(value, theirs[key], atol=ATOL, rtol=0, err_msg=key)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_tfa(tfa, name):
    ours = _run_ours(CASES[name])
    assert_matches(ours, tfa[name])
    if name.startswith("scheduled_output_everywhere"):  # sampling really happened: ids all 1
        assert np.all(ours["out1"] == 1)
    if name == "scheduled_output_next_inputs_fn":
        assert np.all(ours["out1"] == 1)


def test_scheduled_output_per_row_probability():
    """A ``[batch]`` probability draws once per row (TF Addons draws a ``[batch, batch]`` sample
    there, so this is checked against the teacher-forced and fully sampled runs instead)."""
    runs = {}
    for name, probability in (("truth", 0.0), ("sampled", 1.0), ("mixed", tf.constant([1.0, 0.0, 1.0]))):
        runs[name] = _run_ours(CASES["scheduled_output_next_inputs_fn"].replace("1.0, next", "p, next"),
                               p=probability)
    np.testing.assert_array_equal(runs["mixed"]["out1"], np.broadcast_to([[1], [0], [1]], runs["mixed"]["out1"].shape))
    for row, source in ((0, "sampled"), (1, "truth"), (2, "sampled")):
        np.testing.assert_allclose(runs["mixed"]["out0"][row], runs[source]["out0"][row], atol=ATOL, rtol=0)
    assert not np.allclose(runs["truth"]["out0"][0], runs["sampled"]["out0"][0])  # the rows really differ


def _helper_decode(helper, out_layer=None):
    cell = keras.layers.LSTMCell(H)
    cell(tf.zeros([1, H]), [tf.zeros([1, H])] * 2)
    cell.set_weights(DATA["cell_weights"])
    if out_layer is not None:
        layer = keras.layers.Dense(out_layer[0].shape[1])
        layer(tf.zeros([1, H]))
        layer.set_weights(out_layer)
        out_layer = layer
    init = [tf.constant(DATA["h0"]), tf.constant(DATA["c0"])]
    decoder = seq2seq.BasicDecoder(cell, helper, init, out_layer)
    o, s, lengths = seq2seq.dynamic_decode(decoder, maximum_iterations=6)
    flat = {f"out{i}": t for i, t in enumerate(tf.nest.flatten(o))}
    flat.update({f"state{i}": t for i, t in enumerate(tf.nest.flatten(s))})
    return {k: np.asarray(v) for k, v in dict(flat, lengths=lengths).items()}


def test_tf1_helpers_match_tfa_samplers(tfa):
    emb = tf.constant(DATA["embedding"])
    scheduled = seq2seq.ScheduledOutputTrainingHelper(
        DATA["x_aux"], DATA["lengths"], 1.0, auxiliary_inputs=DATA["aux"])
    assert_matches(_helper_decode(scheduled, DATA["proj_aux_weights"]),
                   tfa["scheduled_output_everywhere_with_auxiliary_inputs"])

    inference = seq2seq.InferenceHelper(
        sample_fn=lambda logits: tf.argmax(logits, -1, output_type=tf.int32), sample_shape=[],
        sample_dtype=tf.int32, start_inputs=tf.nn.embedding_lookup(emb, [START] * B),
        end_fn=lambda ids: tf.equal(ids, END), next_inputs_fn=lambda ids: tf.nn.embedding_lookup(emb, ids))
    assert_matches(_helper_decode(inference, DATA["out_weights"]), tfa["inference_sampler_argmax"])

    x = tf.constant(DATA["x"])
    custom = seq2seq.CustomHelper(
        initialize_fn=lambda: (tf.zeros([B], tf.bool), x[:, 0]),
        sample_fn=lambda time, outputs, state: tf.argmax(outputs, -1, output_type=tf.int32),
        next_inputs_fn=lambda time, outputs, state, sample_ids: (
            time + 1 >= T - 1,
            tf.gather(x, tf.minimum(time + 1, T - 1), axis=1) + tf.cast(sample_ids, tf.float32)[:, None],
            state,
        ),
    )
    assert_matches(_helper_decode(custom, DATA["out_weights"]), tfa["custom_sampler"])
