"""TF1 contrib's frequency LSTMs: ``TimeFreqLSTMCell``, ``GridLSTMCell`` and ``BidirectionalGridLSTMCell``.

TF 2 has no contrib, so the references are a NumPy transcription of their math
(``contrib_grid_ref.py``) and the numbers TF1 contrib's own tests pinned for these cells (constant
0.5 weights from the variable scope's initializer). Checked: outputs and states over ragged sequences
in ``nn.dynamic_rnn`` (1e-5) for many option combinations, the gradients of the inputs, the initial
state and every weight against float64 central differences of the NumPy reference, contrib's variable
names and shapes, the state namedtuple, initializers, argument and build errors, and the Keras
baseline (``keras.layers.RNN``, config and ``.keras`` round trips).
"""

import warnings

import contrib_grid_ref as ref
import keras
import numpy as np
import pytest
import tensorflow as tf
from cell_harness import check_cell, check_gradients_by_finite_differences
from numpy_ref import dynamic_rnn as np_dynamic_rnn

from tfseq import nn, rnn_cell
from tfseq.nn import fused

B, T, D, N = 3, 5, 5, 3
RAGGED = np.array([5, 2, 0], np.int32)


def _names(scope, shapes):
    return {f"{scope}/{k}": v for k, v in shapes.items()}


def _grid_names(b, gates=4, shared=False, peepholes=False, coupled=False, fs=2, prefix=""):
    """contrib's names and shapes of block ``b``'s weights."""
    shapes = {f"W_f_{b}_0": (fs + 2 * N, gates * N), f"B_f_{b}": (gates * N,)}
    if not shared:
        shapes.update({f"W_t_{b}_0": (fs + 2 * N, gates * N), f"B_t_{b}": (gates * N,)})
    if peepholes:
        shapes.update({f"W_{g}_diag_{axis}{side}_{b}": (N,) for axis in (("freq",) if shared else ("freq", "time"))
                       for g in ("IO" if coupled else "FIO") for side in "ft"})
    return {prefix + k: v for k, v in shapes.items()}


def _quiet(make):
    """A constructor whose contrib-parity warning (concatenated state over several blocks) is expected."""
    def made(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return make(**kw)
    return made


Grid, Bidi, TimeFreq = rnn_cell.GridLSTMCell, rnn_cell.BidirectionalGridLSTMCell, rnn_cell.TimeFreqLSTMCell
grid = ref.grid_step
TWO_BLOCKS = {"start_freqindex_list": [0, 2], "end_freqindex_list": [3, 5], "num_frequency_blocks": [2, 2]}

# name -> (make_cell(**keras_kwargs), NumPy step(x, state, w), {TF1 name: shape} or None)
CASES = {
    "time_freq": (
        lambda **kw: TimeFreq(N, feature_size=2, frequency_skip=2, **kw),  # 2 windows; column 4 unread
        lambda x, s, w: ref.time_freq_step(x, s, w, 2, 2),
        _names("time_freq_lstm_cell", {"W_0": (2 + 2 * N, 4 * N), "B": (4 * N,)})),
    "time_freq_peepholes_clip": (
        lambda **kw: TimeFreq(N, use_peepholes=True, cell_clip=0.8, forget_bias=0.3, feature_size=3, **kw),
        lambda x, s, w: ref.time_freq_step(x, s, w, 3, 1, forget_bias=0.3, cell_clip=0.8),
        _names("time_freq_lstm_cell", {"W_0": (3 + 2 * N, 4 * N), "B": (4 * N,), "W_F_diag": (N,),
                                       "W_I_diag": (N,), "W_O_diag": (N,)})),
    "grid": (
        lambda **kw: Grid(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4], **kw),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 4)]),
        _names("grid_lstm_cell", _grid_names(0))),
    "grid_peepholes_clip": (
        lambda **kw: Grid(N, use_peepholes=True, cell_clip=0.9, forget_bias=0.5, feature_size=3, frequency_skip=2,
                          num_frequency_blocks=[2], **kw),
        lambda x, s, w: grid(x, s, w, 3, 2, [(0, 2)], forget_bias=0.5, cell_clip=0.9),
        _names("grid_lstm_cell", _grid_names(0, peepholes=True, fs=3))),
    "grid_shared_coupled_peepholes": (
        lambda **kw: Grid(N, use_peepholes=True, share_time_frequency_weights=True, couple_input_forget_gates=True,
                          feature_size=2, frequency_skip=1, num_frequency_blocks=[4], **kw),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 4)]),
        _names("grid_lstm_cell", _grid_names(0, gates=3, shared=True, peepholes=True, coupled=True))),
    "grid_blocks_coupled_peepholes": (
        lambda **kw: Grid(N, use_peepholes=True, couple_input_forget_gates=True, feature_size=2, frequency_skip=1,
                          forget_bias=0.2, **TWO_BLOCKS, **kw),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 2), (2, 2)], forget_bias=0.2),
        _names("grid_lstm_cell", {**_grid_names(0, 3, peepholes=True, coupled=True),
                                  **_grid_names(1, 3, peepholes=True, coupled=True)})),
    "grid_concat_state": (
        lambda **kw: Grid(N, use_peepholes=True, state_is_tuple=False, feature_size=2, frequency_skip=1,
                          num_frequency_blocks=[4], **kw),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 4)]), None),
    "grid_concat_state_blocks": (  # contrib's reading: both blocks take their previous state at columns 0..4N
        _quiet(lambda **kw: Grid(N, state_is_tuple=False, feature_size=2, frequency_skip=1, **TWO_BLOCKS, **kw)),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 2), (2, 2)]), None),
    "bidi": (
        lambda **kw: Bidi(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4], **kw),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 4)], backward_slice_offset=0),
        _names("bidirectional_grid_lstm_cell", {**_grid_names(0, prefix="fwd/"), **_grid_names(0, prefix="bwd/")})),
    "bidi_shared_peepholes_negative_offset_clip": (
        lambda **kw: Bidi(N, use_peepholes=True, share_time_frequency_weights=True, cell_clip=0.7, feature_size=3,
                          frequency_skip=1, num_frequency_blocks=[3], backward_slice_offset=-1, **kw),
        lambda x, s, w: grid(x, s, w, 3, 1, [(0, 3)], cell_clip=0.7, backward_slice_offset=-1), None),
    "bidi_blocks_coupled_offset": (
        lambda **kw: Bidi(N, couple_input_forget_gates=True, feature_size=2, frequency_skip=1,
                          backward_slice_offset=2, **TWO_BLOCKS, **kw),
        lambda x, s, w: grid(x, s, w, 2, 1, [(0, 2), (2, 2)], backward_slice_offset=2),
        _names("bidirectional_grid_lstm_cell", {k: v for b in (0, 1) for p in ("fwd/", "bwd/")
                                                for k, v in _grid_names(b, 3, coupled=True, prefix=p).items()})),
}


def _built(name, dtype):
    cell = CASES[name][0](dtype=dtype)
    cell.build((None, D))
    rng = np.random.default_rng(sorted(CASES).index(name))
    for v in cell.trainable_weights:
        v.assign(rng.uniform(-0.8, 0.8, v.shape).astype(dtype))
    weights = {k.split("/", 1)[1]: v.numpy() for k, v in cell.tf1_variables().items()}
    state = tf.nest.map_structure(lambda n: rng.standard_normal((B, n)).astype(dtype), cell.state_size)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    return cell, weights, state, x


def _np_state(state):
    """A NumPy reference state: a plain tuple for a state namedtuple."""
    return tuple(state) if isinstance(state, tuple) else state


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy_reference(name):
    cell, w, state, x = _built(name, "float32")
    step = CASES[name][1]
    want_y, want_state = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), x, _np_state(state), RAGGED)
    y, final = nn.dynamic_rnn(cell, tf.constant(x), sequence_length=RAGGED, initial_state=state)
    np.testing.assert_allclose(y.numpy(), want_y, atol=1e-5, rtol=1e-5)
    assert type(final) is type(state) or not isinstance(state, tuple)
    tf.nest.assert_same_structure(final, cell.state_size)
    for got, want in zip(tf.nest.flatten(final), tf.nest.flatten(want_state)):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=1e-5)
    assert fused.plan(cell).path == fused.PER_STEP  # no fused kernel: per step
    # keras.layers.RNN runs the same cell to the same numbers (full lengths)
    keras_y = keras.layers.RNN(cell, return_sequences=True)(x, initial_state=tf.nest.flatten(state))
    full_y, _ = np_dynamic_rnn(lambda x_t, s: step(x_t, s, w), x, _np_state(state))
    np.testing.assert_allclose(keras_y.numpy(), full_y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy_finite_differences(name):
    """float64: d(loss)/d(inputs, initial state, every weight) from the tape equals central
    differences of the NumPy reference's loss, along a random direction per source."""
    cell, w, state, x = _built(name, "float64")
    check_gradients_by_finite_differences(cell, CASES[name][1], x, state, w,
                                          weight_key=lambda n: n.split("/", 1)[1], np_state=_np_state)


@pytest.mark.parametrize("name", sorted(k for k, v in CASES.items() if v[2] is not None))
def test_tf1_variable_names_and_shapes(name):
    cell = CASES[name][0]()
    if isinstance(cell, TimeFreq):
        cell.build((None, D))  # its state size needs the input depth first (test_time_freq_sizes)
    nn.dynamic_rnn(cell, np.zeros((B, T, D), np.float32))
    assert {k: tuple(v.shape) for k, v in cell.tf1_variables().items()} == CASES[name][2]
    assert len(cell.trainable_weights) == len(CASES[name][2])


# TF 1.15 contrib's rnn_cell_test: constant 0.5 weights from the variable scope, zero biases, every
# state 0.1; outputs and concatenated states of row 0 .. 2.
TF1_GRID_COUPLED = (
    [[0.416383, 0.416383, 0.403238, 0.403238, 0.524020, 0.524020, 0.565425, 0.565425, 0.557865, 0.557865,
      0.609699, 0.609699],
     [0.627331, 0.627331, 0.622393, 0.622393, 0.688342, 0.688342, 0.708078, 0.708078, 0.694245, 0.694245,
      0.715171, 0.715171],
     [0.711050, 0.711050, 0.709197, 0.709197, 0.736533, 0.736533, 0.744264, 0.744264, 0.737390, 0.737390,
      0.745250, 0.745250]],
    [[0.625556, 0.625556, 0.416383, 0.416383, 0.759134, 0.759134, 0.524020, 0.524020, 0.798795, 0.798795,
      0.557865, 0.557865],
     [0.875488, 0.875488, 0.627331, 0.627331, 0.936432, 0.936432, 0.688342, 0.688342, 0.941961, 0.941961,
      0.694245, 0.694245],
     [0.957327, 0.957327, 0.711050, 0.711050, 0.979522, 0.979522, 0.736533, 0.736533, 0.980245, 0.980245,
      0.737390, 0.737390]])
TF1_BIDI_FWD = (  # the forward half, the same with and without backward_slice_offset
    [[0.464130, 0.464130, 0.419165, 0.419165, 0.593283, 0.593283, 0.738350, 0.738350, 0.661638, 0.661638,
      0.866774, 0.866774],
     [0.669636, 0.669636, 0.628966, 0.628966, 0.736057, 0.736057, 0.895927, 0.895927, 0.755559, 0.755559,
      0.954359, 0.954359],
     [0.751109, 0.751109, 0.711716, 0.711716, 0.778357, 0.778357, 0.940779, 0.940779, 0.784530, 0.784530,
      0.980604, 0.980604]],
    [[0.710660, 0.710660, 0.464130, 0.464130, 0.877293, 0.877293, 0.593283, 0.593283, 0.958505, 0.958505,
      0.661638, 0.661638],
     [0.967579, 0.967579, 0.669636, 0.669636, 1.038811, 1.038811, 0.736057, 0.736057, 1.058201, 1.058201,
      0.755559, 0.755559],
     [1.053842, 1.053842, 0.751109, 0.751109, 1.079919, 1.079919, 0.778357, 0.778357, 1.085620, 1.085620,
      0.784530, 0.784530]])
TF1_BIDI_BWD = {
    0: ([[0.520789, 0.520789, 0.476968, 0.476968, 0.604341, 0.604341, 0.760207, 0.760207, 0.635773, 0.635773,
          0.850218, 0.850218],
         [0.692621, 0.692621, 0.652363, 0.652363, 0.737517, 0.737517, 0.899558, 0.899558, 0.745984, 0.745984,
          0.946840, 0.946840],
         [0.759940, 0.759940, 0.720652, 0.720652, 0.778552, 0.778552, 0.941606, 0.941606, 0.781035, 0.781035,
          0.977731, 0.977731]],
        [[0.785405, 0.785405, 0.520789, 0.520789, 0.890836, 0.890836, 0.604341, 0.604341, 0.928512, 0.928512,
          0.635773, 0.635773],
         [0.993088, 0.993088, 0.692621, 0.692621, 1.040288, 1.040288, 0.737517, 0.737517, 1.048773, 1.048773,
          0.745984, 0.745984],
         [1.062455, 1.062455, 0.759940, 0.759940, 1.080101, 1.080101, 0.778552, 0.778552, 1.082402, 1.082402,
          0.781035, 0.781035]]),
    1: ([[0.322645, 0.322645, 0.276068, 0.276068, 0.584654, 0.584654, 0.690292, 0.690292, 0.640446, 0.640446,
          0.840071, 0.840071],
         [0.493625, 0.493625, 0.449236, 0.449236, 0.730828, 0.730828, 0.865996, 0.865996, 0.749429, 0.749429,
          0.944958, 0.944958],
         [0.608587, 0.608587, 0.566683, 0.566683, 0.777345, 0.777345, 0.925820, 0.925820, 0.782597, 0.782597,
          0.976858, 0.976858]],
        [[0.516575, 0.516575, 0.322645, 0.322645, 0.866628, 0.866628, 0.584654, 0.584654, 0.934002, 0.934002,
          0.640446, 0.640446],
         [0.749836, 0.749836, 0.493625, 0.493625, 1.033488, 1.033488, 0.730828, 0.730828, 1.052186, 1.052186,
          0.749429, 0.749429],
         [0.895999, 0.895999, 0.608587, 0.608587, 1.078978, 1.078978, 0.777345, 0.777345, 1.083843, 1.083843,
          0.782597, 0.782597]]),
}


def _tf1_golden_step(make, x):
    with tf.compat.v1.variable_scope("root", initializer=tf.compat.v1.constant_initializer(0.5)):
        cell = make()
    state = tf.nest.map_structure(lambda n: tf.fill([3, n], 0.1), cell.state_size)
    output, new_state = cell(tf.constant(x, tf.float32), state)
    return cell, output.numpy(), np.concatenate([s.numpy() for s in tf.nest.flatten(new_state)], 1)


@pytest.mark.parametrize("state_is_tuple", [False, True])
def test_tf1_golden_grid_coupled_gates(state_is_tuple):
    x = np.repeat([[1.0], [2.0], [3.0]], 4, axis=1)
    cell, y, state = _tf1_golden_step(lambda: Grid(2, feature_size=2, frequency_skip=1, forget_bias=1.0,
                                                   num_frequency_blocks=[3], couple_input_forget_gates=True,
                                                   state_is_tuple=state_is_tuple), x)
    np.testing.assert_allclose(y, TF1_GRID_COUPLED[0], atol=1e-6)
    np.testing.assert_allclose(state, TF1_GRID_COUPLED[1], atol=1e-6)


@pytest.mark.parametrize("offset", [0, 1])
def test_tf1_golden_bidirectional_grid(offset):
    x = np.array([[1.0, 1.1, 1.2, 1.3], [2.0, 2.1, 2.2, 2.3], [3.0, 3.1, 3.2, 3.3]])
    cell, y, state = _tf1_golden_step(lambda: Bidi(2, feature_size=2, share_time_frequency_weights=True,
                                                   frequency_skip=1, forget_bias=1.0, num_frequency_blocks=[3],
                                                   backward_slice_offset=offset), x)
    np.testing.assert_allclose(y, np.concatenate([TF1_BIDI_FWD[0], TF1_BIDI_BWD[offset][0]], 1), atol=1e-6)
    np.testing.assert_allclose(state, np.concatenate([TF1_BIDI_FWD[1], TF1_BIDI_BWD[offset][1]], 1), atol=1e-6)


def test_state_is_contribs_namedtuple_through_dynamic_rnn():
    """An unbuilt cell in nn.dynamic_rnn: zero state, final state of contrib's namedtuple type and fields."""
    cell = Grid(N, feature_size=2, frequency_skip=1, **TWO_BLOCKS)
    assert cell.state_tuple_type.__name__ == "GridLSTMStateTuple"
    assert cell.state_tuple_type._fields[:4] == ("state_f00_b00_c", "state_f00_b00_m", "state_f01_b00_c",
                                                 "state_f01_b00_m")
    assert cell.state_tuple_type._fields[-1] == "state_f01_b01_m" and len(cell.state_size) == 8
    outputs, final = nn.dynamic_rnn(cell, np.ones((B, T, D), np.float32), sequence_length=RAGGED)
    assert type(final) is cell.state_tuple_type and final.state_f01_b01_c.shape == (B, N)
    assert outputs.shape == (B, T, 2 * N * 4) == (B, T, cell.output_size)
    np.testing.assert_array_equal(final.state_f00_b00_m[2].numpy(), 0.0)  # length 0: the zero state
    bidi = Bidi(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4])
    assert bidi.state_tuple_type._fields[0] == "fwd_state_f00_b00_c" and len(bidi.state_size) == 16
    assert bidi.state_tuple_type._fields[8] == "bwd_state_f00_b00_c" and bidi.output_size == 4 * N * 4
    assert Grid(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4], state_is_tuple=False).state_size == 24
    same = [Grid(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4]).state_tuple_type for _ in range(2)]
    assert same[0] is same[1]  # equal cells, one state type


def test_bidirectional_forward_half_is_a_grid():
    """The forward half of BidirectionalGridLSTMCell is GridLSTMCell with the fwd/ weights."""
    bidi, w, state, x = _built("bidi", "float32")
    cell = Grid(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4])
    cell.build((None, D))
    for name, v in cell.tf1_variables().items():
        v.assign(w["fwd/" + name.split("/", 1)[1]])
    half = len(state) // 2
    y, final = nn.dynamic_rnn(bidi, x, initial_state=state)
    y_grid, final_grid = nn.dynamic_rnn(cell, x, initial_state=cell.state_tuple_type(*state[:half]))
    np.testing.assert_allclose(y[:, :, : cell.output_size].numpy(), y_grid.numpy(), atol=1e-6)
    np.testing.assert_allclose(np.stack(final[:half]), np.stack(final_grid), atol=1e-6)


def test_time_freq_sizes_need_the_input_depth():
    """contrib said state_size 2 * num_units whatever the windows; here they count, from input_size or build."""
    cell = TimeFreq(N, feature_size=2, frequency_skip=2)
    with pytest.raises(ValueError, match="depend on the input depth .* pass input_size=depth"):
        cell.state_size  # noqa: B018
    cell.build((None, 7))  # windows at 0, 2, 4: F = 3
    assert (cell.state_size, cell.output_size, cell.input_size) == (6 * N, 3 * N, 7)
    sized = TimeFreq(N, feature_size=2, frequency_skip=2, input_size=7)
    assert sized.state_size == 6 * N and not sized.built
    outputs, state = nn.dynamic_rnn(sized, np.ones((B, T, 7), np.float32))  # unbuilt, sized: zero state works
    assert outputs.shape == (B, T, 3 * N) and state.shape == (B, 6 * N)
    # a TF1 program passes neither: the drivers build the cell before making its zero state
    outputs, state = nn.dynamic_rnn(TimeFreq(N, feature_size=2, frequency_skip=2), np.ones((B, T, 7), np.float32))
    assert outputs.shape == (B, T, 3 * N) and state.shape == (B, 6 * N)
    steps, state = nn.static_rnn(TimeFreq(N, feature_size=2, frequency_skip=2), [np.ones((B, 7), np.float32)] * T)
    assert len(steps) == T and steps[0].shape == (B, 3 * N) and state.shape == (B, 6 * N)
    with pytest.raises(ValueError, match="input depth 6 differs from input_size=7"):
        TimeFreq(N, feature_size=2, input_size=7).build((None, 6))
    with pytest.raises(ValueError, match="input depth=1 is narrower than feature_size=2"):
        TimeFreq(N, feature_size=2).build((None, 1))


def test_time_freq_in_keras_rnn_needs_input_size():
    """Keras 3's RNN reads the cell's state_size when it is constructed, before it builds the cell, so
    an unsized TimeFreqLSTMCell cannot tell it: the error says so and names input_size; with input_size
    (or a built cell) Keras' RNN runs the cell as the TF1 driver does."""
    for layer in (keras.layers.RNN, nn.RNN):
        with pytest.raises(ValueError, match=r"keras\.layers\.RNN\(cell\) asks for them when it is constructed, "
                                             r"before it builds the cell: pass input_size=depth"):
            layer(TimeFreq(N, feature_size=2, frequency_skip=2))
    x = np.random.default_rng(2).standard_normal((B, T, 7)).astype(np.float32)
    cell = TimeFreq(N, feature_size=2, frequency_skip=2, input_size=7)
    y, state = keras.layers.RNN(cell, return_sequences=True, return_state=True)(x)
    want_y, want_state = nn.dynamic_rnn(cell, x)
    assert tuple(y.shape) == (B, T, 3 * N) and tuple(state.shape) == (B, 6 * N)
    np.testing.assert_allclose(y.numpy(), want_y.numpy(), atol=1e-6)
    np.testing.assert_allclose(state.numpy(), want_state.numpy(), atol=1e-6)


def test_grid_build_errors():
    with pytest.raises(ValueError, match=r"input depth 6 holds 5 window\(s\) of feature_size=2 every "
                                         r"frequency_skip=1, but num_frequency_blocks=\[4\]"):
        Grid(N, feature_size=2, frequency_skip=1, num_frequency_blocks=[4]).build((None, 6))
    with pytest.raises(ValueError, match="input depth 4 ends before the last window, which needs 5 columns"):
        Grid(N, feature_size=2, frequency_skip=1, **TWO_BLOCKS).build((None, 4))


def test_concatenated_state_over_blocks_warns():
    with pytest.warns(UserWarning, match="every block reads its previous state from the first block's columns"):
        Grid(N, feature_size=2, frequency_skip=1, state_is_tuple=False, **TWO_BLOCKS)


def test_initializers():
    """Kernels and peepholes: the cell's initializer, else the TF1 variable scope's, each weight drawn
    anew (no two equal); biases zeros."""
    with tf.compat.v1.variable_scope("model", initializer=tf.compat.v1.constant_initializer(0.25)):
        scoped = Grid(4, use_peepholes=True, feature_size=2, frequency_skip=1, num_frequency_blocks=[2])
        time_freq = TimeFreq(4, use_peepholes=True, feature_size=2,
                             initializer=keras.initializers.RandomUniform(-0.1, 0.1))
    scoped.build((None, 3))
    time_freq.build((None, 3))
    for name, v in scoped.tf1_variables().items():
        np.testing.assert_array_equal(v.numpy(), 0.0 if "/B_" in name else 0.25)
    drawn = {name: v.numpy() for name, v in time_freq.tf1_variables().items() if not name.endswith("/B")}
    assert all(np.abs(v).max() <= 0.1 for v in drawn.values())
    peepholes = [v for name, v in drawn.items() if "diag" in name]
    assert len(peepholes) == 3 and not np.allclose(peepholes[0], peepholes[1])
    plain = Bidi(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2])
    plain.build((None, 3))
    kernels = plain.tf1_variables()
    assert not np.allclose(kernels["bidirectional_grid_lstm_cell/fwd/W_f_0_0"].numpy(),
                           kernels["bidirectional_grid_lstm_cell/fwd/W_t_0_0"].numpy())


@pytest.mark.parametrize("make_bad, match", [
    (lambda: Grid(4, feature_size=2, frequency_skip=1), "GridLSTMCell: num_frequency_blocks must be a non-empty "
                                                        "list of positive integers, got None"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2, 0]),
     r"num_frequency_blocks must be a list of integers >= 1, got \[2, 0\]"),
    (lambda: Grid(4, frequency_skip=1, num_frequency_blocks=[2]), "feature_size must be a positive integer, got None"),
    (lambda: Grid(4, feature_size=2, num_frequency_blocks=[2]), "frequency_skip must be a positive integer, got None"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[1, 1]),
     r"num_frequency_blocks=\[1, 1\] must have one entry without start_freqindex_list"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], end_freqindex_list=[3]),
     r"end_freqindex_list=\[3\] needs start_freqindex_list"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2, 2], start_freqindex_list=[0, 2],
                  end_freqindex_list=[3]), "must have the same length"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2, 3], start_freqindex_list=[0, 2],
                  end_freqindex_list=[3, 5]),
     r"num_frequency_blocks\[1\]=3, but \[2, 5\) holds 2 window\(s\) of feature_size=2 every frequency_skip=1"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], start_freqindex_list=[-1],
                  end_freqindex_list=[2]), r"start_freqindex_list must be a list of integers >= 0, got \[-1\]"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], cell_clip=-1.0),
     "cell_clip must be a number >= 0 or None, got -1.0"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], num_unit_shards=2),
     "num_unit_shards=2 has no meaning"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], state_is_tuple=0),
     "state_is_tuple must be True or False, got 0"),
    (lambda: Grid(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], reuse=True),
     "GridLSTMCell: reuse=True has no meaning"),
    (lambda: Bidi(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], backward_slice_offset=1.5),
     "BidirectionalGridLSTMCell: backward_slice_offset must be an integer, got 1.5"),
    (lambda: Bidi(4, feature_size=2, frequency_skip=1, num_frequency_blocks=[2], share_time_frequency_weights="y"),
     "share_time_frequency_weights must be True or False, got 'y'"),
    (lambda: TimeFreq(4), "TimeFreqLSTMCell: feature_size must be a positive integer, got None"),
    (lambda: TimeFreq(4, feature_size=2, frequency_skip=0), "frequency_skip must be a positive integer, got 0"),
    (lambda: TimeFreq(4, feature_size=3, input_size=2), "input_size=2 is narrower than feature_size=3"),
    (lambda: TimeFreq(4, feature_size=3, forget_bias=None), "forget_bias must be a number, got None"),
    (lambda: TimeFreq(0, feature_size=3), "TimeFreqLSTMCell: num_units must be a positive integer, got 0"),
])
def test_bad_arguments(make_bad, match):
    with pytest.raises(ValueError, match=match):
        make_bad()


BASELINE = {
    "TimeFreqLSTMCell": (lambda: TimeFreq(4, use_peepholes=True, feature_size=2, input_size=3), 3),
    "GridLSTMCell": (lambda: Grid(3, use_peepholes=True, feature_size=2, frequency_skip=1, num_frequency_blocks=[2]),
                     3),
    "GridLSTMCell_concat": (lambda: Grid(3, state_is_tuple=False, couple_input_forget_gates=True, feature_size=2,
                                         frequency_skip=1, num_frequency_blocks=[2]), 3),
    "BidirectionalGridLSTMCell": (lambda: Bidi(2, feature_size=2, frequency_skip=1, num_frequency_blocks=[1, 1],
                                               start_freqindex_list=[0, 1], end_freqindex_list=[2, 3],
                                               backward_slice_offset=1), 3),
}


@pytest.mark.parametrize("name", sorted(BASELINE))
def test_keras_baseline(name, tmp_path):
    """One step, config round trip, keras.layers.RNN == a loop, tf.function, .keras save/load, training."""
    make, depth = BASELINE[name]
    check_cell(make, tmp_path, depth=depth)


def test_contrib_namespace_exports():
    from tfseq.compat import contrib_rnn

    for name in ("GridLSTMCell", "BidirectionalGridLSTMCell", "TimeFreqLSTMCell"):
        assert getattr(contrib_rnn, name) is getattr(rnn_cell, name) and name in contrib_rnn.__all__
