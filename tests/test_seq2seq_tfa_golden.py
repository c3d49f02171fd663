"""TF Addons' published ``AttentionWrapper`` golden numbers, reproduced with tfseq.

TF Addons 0.23 checks its attention mechanisms with one fixed experiment (``np.random``
seeded with 87654321; a Keras LSTM cell of 9 units with all-ones kernels; the mechanism's
``memory_layer``/``query_layer`` all-ones Dense layers given by the user; an attention
layer of 6 units whose kernel comes from TF's seeded v1 Glorot initializer, set through
``AttentionWrapper._attention_layers``; teacher forcing through ``BasicDecoder``) and
publishes the means of every output and state. tfseq runs the same experiment with its
own code; the attention kernel is the one value taken from the reference process (its v1
initializer under Keras 2). Tolerance as published: 1e-3 on the means.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tfa_reference import requires_tfa, run_tfa

from tfseq import seq2seq

pytestmark = requires_tfa

BATCH, ENC_TIME, DEC_TIME, IN_DEPTH, ENC_DEPTH, CELL = 5, 8, 4, 7, 10, 9
ENC_LENGTHS = [3, 2, 3, 1, 1]
DEC_LENGTHS = [2, 0, 1, 2, 3]
LAYER = 6

# name: (class, kwargs, mechanism depth, query layer, attention layer, alignment history,
#        published means: rnn_output, sample_id, cell h, cell c, attention, alignments (= attention_state),
#        alignment history (or None))
GOLDEN = {
    "bahdanau": (seq2seq.BahdanauAttention, {"kernel_initializer": "ones"}, 3, True, True, True,
                 (-0.003204414, 3.2, 0.40868404, 0.89017969, 0.041453815, 0.125, 0.125)),
    "bahdanau_normalized": (seq2seq.BahdanauAttention, {"kernel_initializer": "ones", "normalize": True}, 3, True,
                            True, False, (-0.008089137, 2.8, 0.49166861, 1.01068615, 0.042427111, 0.125, None)),
    "luong": (seq2seq.LuongAttention, {}, 9, False, True, False,
              (-0.06124732, 2.73333333, 0.52021580, 1.0964939, -0.0318060, 0.125, None)),
    "luong_scaled": (seq2seq.LuongAttention, {"scale": True}, 9, False, True, False,
                     (-0.06124732, 2.73333333, 0.52021580, 1.0964939, -0.0318060, 0.125, None)),
    "bahdanau_no_attention_layer": (seq2seq.BahdanauAttention, {"kernel_initializer": "ones"}, 3, True, False,
                                    False, (0.078317143, 4.2, 0.89382392, 1.722382, 0.026356646, 0.125, None)),
    "bahdanau_monotonic": (seq2seq.BahdanauMonotonicAttention, {"kernel_initializer": "ones"}, 3, True, True, True,
                           (-0.009921653, 3.13333333, 0.44612807, 0.95786464, 0.038682378, 0.09778417,
                            0.10261579603)),
    "bahdanau_monotonic_normalized": (seq2seq.BahdanauMonotonicAttention,
                                      {"kernel_initializer": "ones", "normalize": True}, 3, True, True, True,
                                      (0.007140680, 3.26666666, 0.47012400, 1.0249618, 0.068432882, 0.0615656,
                                       0.07909643)),
    "luong_monotonic": (seq2seq.LuongMonotonicAttention, {}, 9, False, True, True,
                        (0.003664831, 3.06666666, 0.54318606, 1.12592840, 0.059128221, 0.05112994, 0.06994973868)),
    "luong_monotonic_scaled": (seq2seq.LuongMonotonicAttention, {"scale": True}, 9, False, True, True,
                               (0.003664831, 3.06666666, 0.54318606, 1.12592840, 0.059128221, 0.05112994,
                                0.06994973868)),
}


@pytest.fixture(scope="module")
def attention_kernel():
    """The published runs' attention-layer kernel: TF's v1 Glorot initializer (seed 1337) after
    ``tf.random.set_seed(87654321)``, under Keras 2 (Keras 3's differs)."""
    return run_tfa(f"""
        tf.random.set_seed(87654321)
        outputs["kernel"] = tf.compat.v1.keras.initializers.glorot_uniform(seed=1337)(({CELL + ENC_DEPTH}, {LAYER}))
    """)["kernel"]


def _data():
    np.random.seed(87654321)
    # the published runs draw a larger unused data set first (same seed, same order)
    np.random.randn(64, 10, 256)
    np.random.randint(1, high=10, size=(64,))
    np.random.randn(64, 12, 128)
    np.random.randint(12, size=(64,))
    decoder_inputs = np.random.randn(BATCH, DEC_TIME, IN_DEPTH).astype(np.float32)
    encoder_outputs = np.random.randn(BATCH, ENC_TIME, ENC_DEPTH).astype(np.float32)
    return decoder_inputs, encoder_outputs


@pytest.mark.parametrize("name", list(GOLDEN))
def test_published_golden_means(name, attention_kernel):
    cls, kwargs, depth, query_layer, attention_layer, history, expected = GOLDEN[name]
    decoder_inputs, encoder_outputs = _data()
    ones = dict(kernel_initializer="ones", use_bias=False)
    kwargs = dict(kwargs, memory_layer=keras.layers.Dense(depth, **ones))
    if query_layer:
        kwargs["query_layer"] = keras.layers.Dense(depth, **ones)
    mechanism = cls(units=depth, memory=encoder_outputs, memory_sequence_length=ENC_LENGTHS, **kwargs)
    cell = keras.layers.LSTMCell(CELL, recurrent_activation="sigmoid", kernel_initializer="ones",
                                 recurrent_initializer="ones")
    wrapper = seq2seq.AttentionWrapper(cell, mechanism, attention_layer_size=LAYER if attention_layer else None,
                                       alignment_history=history)
    for layer in wrapper._attention_layers or []:
        layer.kernel_initializer = keras.initializers.Constant(attention_kernel)
    decoder = seq2seq.BasicDecoder(cell=wrapper, sampler=seq2seq.TrainingSampler())
    outputs, state, _ = decoder(decoder_inputs, initial_state=wrapper.get_initial_state(batch_size=BATCH,
                                                                                        dtype=tf.float32),
                                sequence_length=DEC_LENGTHS)
    attention_depth = LAYER if attention_layer else ENC_DEPTH
    assert outputs.rnn_output.shape == (BATCH, max(DEC_LENGTHS), attention_depth)
    means = [outputs.rnn_output, tf.cast(outputs.sample_id, tf.float64), state.cell_state[0], state.cell_state[1],
             state.attention, state.alignments]
    assert np.mean(state.attention_state) == pytest.approx(np.mean(state.alignments))
    if history:
        stacked = state.alignment_history.stack()
        assert stacked.shape == (max(DEC_LENGTHS), BATCH, ENC_TIME)
        means.append(stacked)
    got = [float(np.mean(x)) for x in means]
    want = [x for x in expected if x is not None]
    np.testing.assert_allclose(got, want, atol=1e-3, err_msg=name)
