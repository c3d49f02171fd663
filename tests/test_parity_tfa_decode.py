"""Parity of tfseq's decoding with the real TF Addons 0.23 code (``tfa.seq2seq``), to 1e-5.

Both sides build the same decoders (Keras LSTM cell, Dense output layer, embedding
matrix; for the attention case a Luong ``AttentionWrapper`` with alignment history) and
get the same random weights; then they compare: ``BasicDecoder`` teacher forcing with
``impute_finished`` (outputs, ids, final state, lengths), greedy decoding, beam search
with a length penalty (predicted ids, per-step scores and parents, final log-probs and
lengths; and with ``output_all_scores=True`` every token's scores), beam search over
attention with length and coverage penalties (same, plus the raw alignment history and TFA's
reordering of it, :func:`gather_tree_from_array`), teacher forcing through that wrapper with rows
ending early (imputed, or with the alignment history; tfseq's hoisted loop) with the gradients
of the inputs, the memory and every weight, ``gather_tree`` and ``sequence_loss``. All TF Addons cases run in ONE subprocess.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_seq2seq_fused_attention import paths
from tfa_reference import describe, requires_tfa, run_tfa_many

from tfseq import seq2seq as s2s
from tfseq.seq2seq import beam_search_ops

pytestmark = requires_tfa

ATOL = 1e-5
B, T, D, H, V, W, S, A = 3, 5, 4, 5, 6, 3, 4, 3  # batch, time, embedding, units, vocab, beam, memory, attention
START, END = 0, 2
rng = np.random.default_rng(42)
DATA = dict(
    x=rng.standard_normal((B, T, D)).astype(np.float32),
    lengths=np.array([5, 2, 4], np.int32),
    embedding=rng.standard_normal((V, D)).astype(np.float32),
    h0=(0.5 * rng.standard_normal((B, H))).astype(np.float32),
    c0=(0.5 * rng.standard_normal((B, H))).astype(np.float32),
    memory=rng.standard_normal((B, S, H)).astype(np.float32),
    memory_lengths=np.array([4, 2, 3], np.int32),
    cell_weights=[(0.5 * rng.standard_normal(s)).astype(np.float32) for s in ((D, 4 * H), (H, 4 * H), (4 * H,))],
    att_cell_weights=[
        (0.5 * rng.standard_normal(s)).astype(np.float32) for s in ((D + A, 4 * H), (H, 4 * H), (4 * H,))
    ],
    out_weights=[rng.standard_normal((H, V)).astype(np.float32), np.eye(V, dtype=np.float32)[END] * 1.2],
    att_out_weights=[rng.standard_normal((A, V)).astype(np.float32), np.eye(V, dtype=np.float32)[END] * 0.8],
    memory_kernel=(0.5 * rng.standard_normal((H, H))).astype(np.float32),
    attention_kernel=(0.5 * rng.standard_normal((2 * H, A))).astype(np.float32),
    step_ids=rng.integers(0, V, (6, B, W)).astype(np.int32),
    parent_ids=rng.integers(0, W, (6, B, W)).astype(np.int32),
    max_lengths=np.array([6, 3, 0], np.int32),
    logits=rng.standard_normal((B, T, V)).astype(np.float32),
    targets=rng.integers(0, V, (B, T)).astype(np.int32),
    weights=(rng.random((B, T)) > 0.3).astype(np.float32),
)

SETUP = """
x, emb = tf.constant(inputs["x"]), tf.constant(inputs["embedding"])
init = [tf.constant(inputs["h0"]), tf.constant(inputs["c0"])]

def parts(cell_weights, out_weights, depth):
    cell, out = tf.keras.layers.LSTMCell(inputs["H"]), tf.keras.layers.Dense(inputs["V"])
    cell(tf.zeros([1, depth]), [tf.zeros([1, inputs["H"]])] * 2)
    out(tf.zeros([1, out_weights[0].shape[0]]))
    cell.set_weights(cell_weights)
    out.set_weights(out_weights)
    return cell, out

def save(prefix, structure):
    for i, t in enumerate(tf.nest.flatten(structure)):
        outputs[f"{prefix}{i}"] = t.stack() if isinstance(t, tf.TensorArray) else t
"""

CASES = {
    "train": SETUP
    + """
cell, out = parts(inputs["cell_weights"], inputs["out_weights"], inputs["D"])
dec = tfa.seq2seq.BasicDecoder(cell, tfa.seq2seq.TrainingSampler(), out, impute_finished=True)
o, s, l = dec(x, initial_state=init, sequence_length=tf.constant(inputs["lengths"]))
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "greedy": SETUP
    + """
cell, out = parts(inputs["cell_weights"], inputs["out_weights"], inputs["D"])
dec = tfa.seq2seq.BasicDecoder(cell, tfa.seq2seq.GreedyEmbeddingSampler(), out, maximum_iterations=6)
o, s, l = dec(emb, start_tokens=tf.fill([inputs["B"]], inputs["START"]), end_token=inputs["END"], initial_state=init)
save("out", o); save("state", s); outputs["lengths"] = l
""",
    "beam": SETUP
    + """
cell, out = parts(inputs["cell_weights"], inputs["out_weights"], inputs["D"])
dec = tfa.seq2seq.BeamSearchDecoder(cell, inputs["W"], output_layer=out, length_penalty_weight=0.8,
                                    maximum_iterations=7)
o, s, l = dec(emb, start_tokens=tf.fill([inputs["B"]], inputs["START"]), end_token=inputs["END"],
              initial_state=tfa.seq2seq.tile_batch(init, inputs["W"]))
save("out", o); outputs["log_probs"] = s.log_probs; outputs["state_lengths"] = s.lengths; outputs["lengths"] = l
dec = tfa.seq2seq.BeamSearchDecoder(cell, inputs["W"], output_layer=out, length_penalty_weight=0.8,
                                    maximum_iterations=7, output_all_scores=True)
o, _, _ = dec(emb, start_tokens=tf.fill([inputs["B"]], inputs["START"]), end_token=inputs["END"],
              initial_state=tfa.seq2seq.tile_batch(init, inputs["W"]))
outputs["all_scores"] = o.beam_search_decoder_output.scores
outputs["all_scores_ids"] = o.predicted_ids
""",
    "beam_attention": SETUP
    + """
for reorder in (False, True):
    cell, out = parts(inputs["att_cell_weights"], inputs["att_out_weights"], inputs["D"] + inputs["A"])
    memory = tfa.seq2seq.tile_batch(tf.constant(inputs["memory"]), inputs["W"])
    memory_lengths = tfa.seq2seq.tile_batch(tf.constant(inputs["memory_lengths"]), inputs["W"])
    mech = tfa.seq2seq.LuongAttention(inputs["H"], memory, memory_lengths)
    wrapper = tfa.seq2seq.AttentionWrapper(cell, mech, attention_layer_size=inputs["A"], alignment_history=True)
    n = inputs["B"] * inputs["W"]
    wrapper(tf.zeros([n, inputs["D"]]), wrapper.get_initial_state(batch_size=n, dtype=tf.float32))
    cell.set_weights(inputs["att_cell_weights"])
    mech.memory_layer.kernel.assign(inputs["memory_kernel"])
    wrapper._attention_layers[0].kernel.assign(inputs["attention_kernel"])
    mech.setup_memory(memory, memory_lengths)
    dec = tfa.seq2seq.BeamSearchDecoder(wrapper, inputs["W"], output_layer=out, length_penalty_weight=0.6,
                                        coverage_penalty_weight=0.4, reorder_tensor_arrays=reorder,
                                        maximum_iterations=6)
    o, s, l = dec(emb, start_tokens=tf.fill([inputs["B"]], inputs["START"]), end_token=inputs["END"],
                  initial_state=wrapper.get_initial_state(batch_size=n, dtype=tf.float32))
    outputs[f"history{reorder}"] = s.cell_state.alignment_history if reorder else s.cell_state.alignment_history.stack()
save("out", o); outputs["log_probs"] = s.log_probs; outputs["lengths"] = l
outputs["accumulated"] = s.accumulated_attention_probs
""",
    "train_attention": SETUP
    + """
for history in (False, True):  # impute_finished=True without a history; rows ending early with one
    cell, out = parts(inputs["att_cell_weights"], inputs["att_out_weights"], inputs["D"] + inputs["A"])
    memory, memory_lengths = tf.constant(inputs["memory"]), tf.constant(inputs["memory_lengths"])
    mech = tfa.seq2seq.LuongAttention(inputs["H"], memory, memory_lengths)
    wrapper = tfa.seq2seq.AttentionWrapper(cell, mech, attention_layer_size=inputs["A"], alignment_history=history)
    n = inputs["B"]
    wrapper(tf.zeros([n, inputs["D"]]), wrapper.get_initial_state(batch_size=n, dtype=tf.float32))
    cell.set_weights(inputs["att_cell_weights"])
    mech.memory_layer.kernel.assign(inputs["memory_kernel"])
    wrapper._attention_layers[0].kernel.assign(inputs["attention_kernel"])
    with tf.GradientTape() as tape:
        tape.watch([x, memory])
        mech.setup_memory(memory, memory_lengths)
        dec = tfa.seq2seq.BasicDecoder(wrapper, tfa.seq2seq.TrainingSampler(), out, impute_finished=not history)
        o, s, l = dec(x, initial_state=wrapper.get_initial_state(batch_size=n, dtype=tf.float32),
                      sequence_length=tf.constant(inputs["lengths"]))
        flat_state = [t.stack() if isinstance(t, tf.TensorArray) else t for t in tf.nest.flatten(s)]
        loss = tf.reduce_sum(tf.sin(o.rnn_output)) + sum(tf.reduce_sum(tf.cos(t * (i + 1)))
                                                         for i, t in enumerate(flat_state))
    weights = [x, memory, *cell.trainable_weights, mech.memory_layer.kernel, wrapper._attention_layers[0].kernel,
               *out.trainable_weights]
    save(f"att{history}_out", o); save(f"att{history}_state", s); outputs[f"att{history}_lengths"] = l
    save(f"att{history}_grad", tape.gradient(loss, weights))
""",
    "gather_tree": """
outputs["ids"] = tfa.seq2seq.gather_tree(inputs["step_ids"], inputs["parent_ids"], inputs["max_lengths"], 3)
""",
    "sequence_loss": """
args = (tf.constant(inputs["logits"]), tf.constant(inputs["targets"]), tf.constant(inputs["weights"]))
for i, flags in enumerate(inputs["loss_flags"]):
    outputs[f"loss{i}"] = tfa.seq2seq.sequence_loss(*args, **flags)
""",
}

LOSS_FLAGS = [
    {},
    dict(average_across_timesteps=False, average_across_batch=False, sum_over_timesteps=True, sum_over_batch=True),
    dict(average_across_timesteps=False),
    dict(average_across_batch=False),
    dict(average_across_timesteps=False, average_across_batch=False, sum_over_timesteps=True),
    dict(average_across_timesteps=False, average_across_batch=False),
]


@pytest.fixture(scope="module")
def tfa():
    inputs = dict(DATA, B=B, D=D, H=H, V=V, W=W, A=A, START=START, END=END, loss_flags=LOSS_FLAGS)
    return run_tfa_many([(name, source, inputs) for name, source in CASES.items()])


def parts(cell_weights, out_weights, depth):
    cell, out = keras.layers.LSTMCell(H), keras.layers.Dense(V)
    cell(tf.zeros([1, depth]), [tf.zeros([1, H])] * 2)
    out(tf.zeros([1, out_weights[0].shape[0]]))
    cell.set_weights(cell_weights)
    out.set_weights(out_weights)
    return cell, out


def flat(prefix, structure):
    return {
        f"{prefix}{i}": t.stack() if isinstance(t, tf.TensorArray) else t
        for i, t in enumerate(tf.nest.flatten(structure))
    }


def assert_matches(ours, theirs):
    assert set(ours) <= set(theirs), describe(theirs)
    for key, value in ours.items():
        value = np.asarray(value)
        assert value.shape == theirs[key].shape, (key, value.shape, theirs[key].shape)
        if value.dtype.kind in "iub":
            np.testing.assert_array_equal(value, theirs[key], err_msg=key)
        else:
            np.testing.assert_allclose(value, theirs[key], atol=ATOL, rtol=0, err_msg=key)


INIT = [tf.constant(DATA["h0"]), tf.constant(DATA["c0"])]


def test_basic_decoder_training_matches_tfa(tfa):
    cell, out = parts(DATA["cell_weights"], DATA["out_weights"], D)
    dec = s2s.BasicDecoder(cell, s2s.TrainingSampler(), out, impute_finished=True)
    o, s, lengths = dec(tf.constant(DATA["x"]), initial_state=INIT, sequence_length=DATA["lengths"])
    assert_matches({**flat("out", o), **flat("state", s), "lengths": lengths}, tfa["train"])


def test_basic_decoder_greedy_matches_tfa(tfa):
    cell, out = parts(DATA["cell_weights"], DATA["out_weights"], D)
    dec = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingSampler(), out, maximum_iterations=6)
    o, s, lengths = dec(DATA["embedding"], start_tokens=[START] * B, end_token=END, initial_state=INIT)
    assert min(lengths) < 6, "some rows should end early"
    assert_matches({**flat("out", o), **flat("state", s), "lengths": lengths}, tfa["greedy"])


def test_beam_search_with_length_penalty_matches_tfa(tfa):
    cell, out = parts(DATA["cell_weights"], DATA["out_weights"], D)
    dec = s2s.BeamSearchDecoder(cell, W, output_layer=out, length_penalty_weight=0.8, maximum_iterations=7)
    o, s, lengths = dec(DATA["embedding"], start_tokens=[START] * B, end_token=END,
                        initial_state=s2s.tile_batch(INIT, W))
    assert s.finished.numpy().any(), "finished (frozen) beams should be exercised"
    assert_matches({**flat("out", o), "log_probs": s.log_probs, "state_lengths": s.lengths, "lengths": lengths},
                   tfa["beam"])


def test_beam_search_output_all_scores_matches_tfa(tfa):
    cell, out = parts(DATA["cell_weights"], DATA["out_weights"], D)
    dec = s2s.BeamSearchDecoder(cell, W, output_layer=out, length_penalty_weight=0.8, maximum_iterations=7,
                                output_all_scores=True)
    o, _, _ = dec(DATA["embedding"], start_tokens=[START] * B, end_token=END, initial_state=s2s.tile_batch(INIT, W))
    scores = o.beam_search_decoder_output.scores
    assert scores.shape[0] == B and scores.shape[2:] == (W, V)  # [batch, time, beam, vocab]
    assert_matches({"all_scores": scores, "all_scores_ids": o.predicted_ids}, tfa["beam"])


def test_beam_search_over_attention_with_coverage_penalty_matches_tfa(tfa):
    cell, out = parts(DATA["att_cell_weights"], DATA["att_out_weights"], D + A)
    memory = s2s.tile_batch(tf.constant(DATA["memory"]), W)
    memory_lengths = s2s.tile_batch(tf.constant(DATA["memory_lengths"]), W)
    mech = s2s.LuongAttention(H, memory, memory_lengths)
    wrapper = s2s.AttentionWrapper(cell, mech, attention_layer_size=A, alignment_history=True)
    n = B * W
    wrapper(tf.zeros([n, D]), wrapper.get_initial_state(batch_size=n, dtype=tf.float32))  # build
    cell.set_weights(DATA["att_cell_weights"])
    mech.memory_kernel.assign(DATA["memory_kernel"])
    wrapper._attention_kernels[0].assign(DATA["attention_kernel"])
    mech.setup_memory(memory, memory_lengths)
    dec = s2s.BeamSearchDecoder(
        wrapper,
        W,
        output_layer=out,
        length_penalty_weight=0.6,
        coverage_penalty_weight=0.4,
        reorder_tensor_arrays=False,
        maximum_iterations=6,
    )
    o, s, lengths = dec(
        DATA["embedding"],
        start_tokens=[START] * B,
        end_token=END,
        initial_state=wrapper.get_initial_state(batch_size=n, dtype=tf.float32),
    )
    raw = s.cell_state.alignment_history.stack()  # [T, B * W, S], in the order the cell ran
    assert_matches(
        {
            **flat("out", o),
            "log_probs": s.log_probs,
            "lengths": lengths,
            "accumulated": s.accumulated_attention_probs,
            "historyFalse": raw,
        },
        tfa["beam_attention"],
    )
    # TFA's reordering of the history == our gather_tree_from_array (the decoder itself uses reorder_history)
    parent_ids = tf.transpose(o.beam_search_decoder_output.parent_ids, [1, 0, 2])
    assert_matches(
        {"historyTrue": beam_search_ops.gather_tree_from_array(raw, parent_ids, s.lengths)}, tfa["beam_attention"]
    )


@pytest.mark.parametrize("history", [False, True])
def test_attention_teacher_forcing_matches_tfa(tfa, history):
    """A Luong ``AttentionWrapper`` over a Keras ``LSTMCell`` in ``BasicDecoder(TrainingSampler())``
    with rows ending early, which tfseq runs as its hoisted loop: ``impute_finished=True`` (a
    finished row's outputs zeros, its state carried), or an alignment history. Outputs, final
    state, lengths and the gradients of the inputs, the memory and every weight, against TF Addons."""
    cell, out = parts(DATA["att_cell_weights"], DATA["att_out_weights"], D + A)
    memory, memory_lengths = tf.constant(DATA["memory"]), tf.constant(DATA["memory_lengths"])
    x = tf.constant(DATA["x"])
    mech = s2s.LuongAttention(H, memory, memory_lengths)
    wrapper = s2s.AttentionWrapper(cell, mech, attention_layer_size=A, alignment_history=history)
    wrapper(tf.zeros([B, D]), wrapper.get_initial_state(batch_size=B, dtype=tf.float32))  # build
    cell.set_weights(DATA["att_cell_weights"])
    mech.memory_kernel.assign(DATA["memory_kernel"])
    wrapper._attention_kernels[0].assign(DATA["attention_kernel"])
    with paths(hoisted=True) as taken, tf.GradientTape() as tape:
        tape.watch([x, memory])
        mech.setup_memory(memory, memory_lengths)
        dec = s2s.BasicDecoder(wrapper, s2s.TrainingSampler(), out, impute_finished=not history)
        o, state, lengths = dec(x, initial_state=wrapper.get_initial_state(batch_size=B, dtype=tf.float32),
                                sequence_length=DATA["lengths"])
        flat_state = [t.stack() if isinstance(t, tf.TensorArray) else t for t in tf.nest.flatten(state)]
        loss = tf.reduce_sum(tf.sin(o.rnn_output)) + sum(tf.reduce_sum(tf.cos(t * (i + 1)))
                                                         for i, t in enumerate(flat_state))
    assert taken == [1]
    weights = [x, memory, *cell.trainable_weights, mech.memory_kernel, wrapper._attention_kernels[0],
               *out.trainable_weights]
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, weights)]  # a bias reordered by a gather: slices
    prefix = f"att{history}_"
    assert_matches({**flat(prefix + "out", o), **flat(prefix + "state", state), prefix + "lengths": lengths,
                    **flat(prefix + "grad", grads)}, tfa["train_attention"])
    assert len(flat(prefix + "state", state)) == len([k for k in tfa["train_attention"] if k.startswith(prefix + "state")])


def test_gather_tree_and_sequence_loss_match_tfa(tfa):
    ids = s2s.gather_tree(DATA["step_ids"], DATA["parent_ids"], DATA["max_lengths"], 3)
    assert_matches({"ids": ids}, tfa["gather_tree"])
    args = (DATA["logits"], DATA["targets"], DATA["weights"])
    assert_matches(
        {f"loss{i}": s2s.sequence_loss(*args, **flags) for i, flags in enumerate(LOSS_FLAGS)}, tfa["sequence_loss"]
    )
