"""benchmarks.seq2seq: the structure of its results on a tiny shape (one round, graph mode), that its
TF Addons peer computes the same losses and ids as tfseq where TF Addons imports, and that every
derived figure comes from the measured medians. No timing is asserted."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import seq2seq as bench
from benchmarks import seq2seq_models as m


@pytest.fixture(scope="module")
def report():
    return bench.run(m.QUICK, ["train_inside", "greedy"], rounds=1, xla=False, min_time=0.01, log=lambda msg: None)


def test_groups_rows_and_derived_figures(report):
    assert set(report["groups"]) == {"train_inside", "greedy"}
    for group, g in report["groups"].items():
        rows = g["rows"]
        assert "tfseq BasicDecoder" in rows and any(r["framework"] == "ceiling" for r in rows.values())
        assert g["flops_per_iteration"] == m.flops(m.QUICK, group)
        assert sum(g["flops_shares"].values()) == pytest.approx(1.0)
        units = m.QUICK.batch * m.QUICK.target_length if group == "train_inside" else m.QUICK.decode_batch
        ceiling = next(r["gflops"] for r in rows.values() if r["framework"] == "ceiling")
        for name, row in rows.items():
            assert "error" not in row, (name, row)
            assert row["min_s"] <= row["median_s"] <= row["max_s"] and row["rounds"] == 1
            if row["framework"] == "ceiling":
                continue
            if row["framework"] == "floor":  # the matmuls alone: faster than any implementation's best
                assert row["floor_over_best"] == pytest.approx(
                    {f: row["per_second"] / best for f, best in g["best"].items() if f != "floor"})
                continue
            assert row["per_second"] == pytest.approx(units / row["median_s"])
            assert row["gflops"] == pytest.approx(g["flops_per_iteration"] / row["median_s"] / 1e9)
            assert row["fraction_of_ceiling"] == pytest.approx(row["gflops"] / ceiling)
            assert row["first_call_s"] > 0
            # the decoder runs in a while loop: training has a forward and a backward body
            assert row["ops"] > sum(row["loop_body_ops"]) > 0
            assert len(row["loop_body_ops"]) >= (2 if group == "train_inside" else 1), (name, row)
            if row["framework"] != "tfseq":
                assert row["tfseq_best_over_this"] == pytest.approx(g["best"]["tfseq"] / row["per_second"])


def test_tf_addons_agrees_with_tfseq_or_is_left_out_with_a_note(report):
    if not bench.tfa_available():
        assert any("TF Addons left out" in note for note in report["notes"])
        return
    assert report["versions"]["tensorflow_addons"].startswith("0.23")
    assert report["checks"]["train_inside"]["TF Addons BasicDecoder"]["max_loss_difference"] <= 1e-5
    assert report["checks"]["greedy"]["TF Addons BasicDecoder"]["rows_identical"] == 1.0
    assert report["groups"]["greedy"]["rows"]["TF Addons BasicDecoder"]["framework"] == "tfa"
    # the worker's own program, run on tfseq with the import renamed: the same losses, its speed over TF Addons'
    assert report["checks"]["train_inside"][bench.PROGRAM]["max_loss_difference"] <= 1e-5
    g = report["groups"]["train_inside"]
    assert g["program_over_tfa"] == pytest.approx(g["best"]["tfseq-tfa-program"] / g["best"]["tfa"])
    assert "TF Addons' program on tfseq / on TF Addons" in bench.format_table(report)


@pytest.mark.parametrize("workload", ["greedy", "beam", "train_after"])
def test_matmul_floor_does_the_flops_of_the_model(workload):
    """Its matrix products (counted in the traced graph: 2 x every index's size) are the FLOPs that
    every row's speed is divided by (training: forward and backward)."""
    graph = tf.function(m.matmul_floor(m.QUICK, workload)).get_concrete_function().graph
    total = 0
    for op in graph.get_operations():
        if op.type == "MatMul":
            (rows, inner), (_, cols) = (t.shape.as_list() for t in op.inputs)
            total += 2 * rows * inner * cols
        elif op.type == "Einsum":
            sizes = {}
            for spec, tensor in zip(op.get_attr("equation").decode().split("->")[0].split(","), op.inputs):
                sizes.update(zip(spec, tensor.shape.as_list()))
            total += 2 * int(np.prod(list(sizes.values())))
    assert total == m.flops(m.QUICK, workload)


def test_table_lists_every_row(report):
    table = bench.format_table(report)
    for g in report["groups"].values():
        for name in g["rows"]:
            assert f"| {name}" in table


def test_compare_counts_rows_up_to_the_first_end_token():
    end = 2
    records = {"tfseq A": {"check": [[5, 2, 7], [5, 6, 7]]}, "peer": {"check": [[5, 2, 9], [5, 6, 8]]}}
    assert bench.compare("greedy", records, end)["peer"]["rows_identical"] == 0.5
    records = {"tfseq A": {"check": [1.0, 2.0]}, "peer": {"check": [1.0, 2.5]}}
    assert bench.compare("train_after", records, end)["peer"]["max_loss_difference"] == 0.5


def test_weights_export_in_tf1_layout_and_convert_for_keras_lstm_cells():
    weights = m.export_weights(m.make_model(m.QUICK))
    u = m.QUICK.units
    assert weights["dec0_kernel"].shape == (3 * u, 4 * u)  # [embedding, attention, h] -> gates
    assert weights["memory_kernel"].shape == (2 * u, u) and weights["attention_kernel"].shape == (3 * u, u)
    from benchmarks.tfa_worker import keras_lstm_weights

    kernel = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)  # D=4, H=2, gates i j f o
    k, rk, b = keras_lstm_weights(kernel, np.arange(8, dtype=np.float32), 4, 1.0)
    np.testing.assert_array_equal(k[:, 2:4], kernel[:4, 4:6])  # Keras' f block is TF1's f block
    np.testing.assert_array_equal(rk[:, 4:6], kernel[4:, 2:4])  # Keras' c block is TF1's j block
    np.testing.assert_array_equal(b, [0, 1, 5, 6, 2, 3, 6, 7])  # forget bias folded in


def test_flops_of_the_output_projection():
    """The softmax layer's share, counted by hand: 2 * units * vocab per target token, x 3 in training."""
    shape = m.Seq2seqShape()
    parts = m.flops_parts(shape, "train_after")
    assert parts["output projection"] == 3 * 2 * 256 * 8000 * 64 * 22
    beam = m.flops_parts(shape, "beam")
    assert beam["output projection"] == 2 * 256 * 8000 * 32 * 5 * 40


def test_main_rejects_bad_rounds(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--rounds", "0"])
    assert exc.value.code == 2 and "--rounds must be a positive integer, got 0" in capsys.readouterr().err


def test_the_parts_of_the_step_add_up_to_its_flops_and_learn():
    """``train_parts``: each part is a real forward + backward + update (its loss moves), and the
    parts' FLOPs are exactly the whole step's."""
    shape = m.QUICK
    assert sum(m.part_flops(shape, part) for part in m.PARTS) == m.flops(shape, "train_parts")
    reference, batch = m.make_model(shape), m.make_batch(shape)
    for part in m.PARTS:
        step = tf.function(m.tfseq_train_part(m.make_model(shape, reference), shape, batch, part))
        first, second = float(step()), float(step())
        assert np.isfinite(first) and first != second, part
    with pytest.raises(ValueError, match="part must be one of"):
        m.tfseq_train_part(m.make_model(shape, reference), shape, batch, "softmax")


def test_parts_report_their_share_of_the_step():
    report = bench.run(m.QUICK, ["train_parts"], rounds=1, xla=False, min_time=0.01, log=lambda msg: None)
    g = report["groups"]["train_parts"]
    step = g["rows"]["tfseq fused_attention, whole step"]
    for part in m.PARTS:
        row = g["rows"][f"part: {part}"]
        assert row["gflops"] == pytest.approx(m.part_flops(m.QUICK, part) / row["median_s"] / 1e9)
        assert row["share_of_step"] == pytest.approx(row["median_s"] / step["median_s"], rel=1e-6)
        assert "tfseq_best_over_this" not in row
    assert set(report["checks"]["train_parts"]) == set()  # parts compute other losses: never compared
    assert "of the best whole step's time" in bench.format_table(report)
