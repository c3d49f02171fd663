"""benchmarks: structure of the results, the table and the JSON, and that every derived
figure (words/s, GFLOP/s, fraction of the ceiling, ratios) comes from the measured
medians. Tiny shapes, one round; no timing is asserted."""

import json
import statistics
import subprocess
import sys

import pytest
import tensorflow as tf

from benchmarks import (
    BenchConfig,
    floor,
    format_report,
    options,
    peers_keras,
    peers_tfseq,
    peers_torch,
    quick_config,
    report,
    run_benchmark,
    shapes,
    tf_harness,
    timing,
    write_json,
)
from benchmarks import command as cli


def _run_ceiling(groups):
    """The run's ceiling recomputed: best matmul's median over groups of its GFLOP/s."""
    per_matmul = {}
    for group in groups:
        for e in group["results"]:
            if e["framework"] == "ceiling":
                assert e["gflops"] == pytest.approx(2 * 256**3 / e["median_s"] / 1e9)  # quick: 256
                per_matmul.setdefault(e["name"], []).append(e["gflops"])
    return max(statistics.median(v) for v in per_matmul.values())


def _check_derived(group, ceiling):
    """Recompute every derived figure of a group from its measured seconds."""
    words = group["words_per_iteration"]
    by_name = {e["name"]: e for e in group["results"]}
    for entry in group["results"]:
        assert "error" not in entry, entry
        assert entry["min_s"] <= entry["median_s"] <= entry["max_s"]
        if entry["framework"] == "ceiling":
            continue
        assert entry["words_per_s"] == pytest.approx(words / entry["median_s"])
        assert entry["words_per_s_min"] == pytest.approx(words / entry["max_s"])
        assert entry["gflops"] == pytest.approx(group["flops_per_iteration"] / entry["median_s"] / 1e9)
        assert entry["fraction_of_ceiling"] == pytest.approx(entry["gflops"] / ceiling)
    for tfseq_name, row in group["ratios"].items():
        assert by_name[tfseq_name]["framework"] == "tfseq"
        for peer_name, ratio in row.items():
            assert by_name[peer_name]["framework"] not in ("tfseq", "ceiling")
            assert ratio == pytest.approx(by_name[peer_name]["median_s"] / by_name[tfseq_name]["median_s"])
            per_round = [p / t for t, p in zip(by_name[tfseq_name]["samples_s"], by_name[peer_name]["samples_s"])]
            assert group["ratio_spread"][tfseq_name][peer_name] == pytest.approx([min(per_round), max(per_round)])


@pytest.mark.parametrize("family", ["lstm", "gru"])
@pytest.mark.parametrize("bench", ["fwd_bwd", "train"])
def test_matmul_floor_does_the_flops_every_implementation_is_measured_by(bench, family):
    """Its matrix products, counted in the traced graph (2 x rows x inner x columns each), are
    the workload's FLOPs."""
    shape = shapes.PRESETS["tiny"]
    graph = tf.function(floor._program(bench, family, shape)).get_concrete_function().graph
    total = 0
    for op in graph.get_operations():
        if op.type in ("MatMul", "BatchMatMulV2"):
            a, b = (t.shape.as_list() for t in op.inputs)
            rows = a[1] if op.get_attr("transpose_a") else a[0]
            inner = a[0] if op.get_attr("transpose_a") else a[1]
            columns = b[0] if op.get_attr("transpose_b") else b[1]
            total += 2 * rows * inner * columns
    assert total == shapes.bench_flops(bench, family, shape)
    with pytest.raises(ValueError, match="bench='generate'"):
        floor.make("generate", family, shape)


def test_quick_run_with_every_peer():
    config = quick_config(families=("gru",), benches=("fwd_bwd", "generate"), peers=("keras", "tf1", "torch", "floor"))
    results = run_benchmark(config, log=lambda msg: None)
    assert [(g["bench"], g["family"]) for g in results["groups"]] == [("fwd_bwd", "gru"), ("generate", "gru")]
    expected = {"tfseq.GRUCell", "keras.layers.GRU(reset_after=False)", "tf1.GRUCell", "ceiling: tf.matmul"}
    if peers_torch.available():
        expected |= {"torch.nn.GRU", "ceiling: torch.mm"}
        if peers_torch.device() == "cpu" and peers_torch.settings()["threads"] > 1:
            expected |= {"torch.nn.GRU 1 thread"}
    else:
        assert any("PyTorch is not installed" in n for n in results["meta"]["notes"])
    assert results["ceiling_gflops"] == pytest.approx(_run_ceiling(results["groups"]))
    for group in results["groups"]:
        assert expected <= {e["name"] for e in group["results"]}
        assert (floor.NAME in {e["name"] for e in group["results"]}) == (group["bench"] == "fwd_bwd")
        assert group["reference"] == "tfseq.GRUCell"
        assert all(e["rounds"] == 1 for e in group["results"])
        _check_derived(group, results["ceiling_gflops"])
    tiny = shapes.PRESETS["tiny"]
    fwd_group, gen_group = results["groups"]
    jit_names = {"tfseq.MultiRNNCell(GRUCell) jit_compile", "keras.layers.GRU(reset_after=False) jit_compile"}
    assert jit_names <= {e["name"] for e in fwd_group["results"]}
    assert not any("jit_compile" in e["name"] for e in gen_group["results"])
    assert fwd_group["references"] == ["tfseq.GRUCell", "tfseq.MultiRNNCell(GRUCell) jit_compile"]
    assert gen_group["references"] == ["tfseq.GRUCell", "tfseq.MultiRNNCell(GRUCell) in-graph loop"]
    # GRU: [x, h] @ [2H, 3H] per layer and step; fwd + bwd = 3x; generation adds the softmax.
    assert fwd_group["flops_per_iteration"] == 3 * 2 * tiny.batch * tiny.num_steps * 2 * (2 * 8) * 24
    assert gen_group["flops_per_iteration"] == 2 * tiny.gen_tokens * (2 * 16 * 24 + 8 * 50)
    assert gen_group["words_per_iteration"] == tiny.gen_tokens
    # the path dynamic_rnn took is recorded; generation calls the cells directly
    fwd_paths = {e["name"]: e.get("path") for e in fwd_group["results"]}
    assert fwd_paths["tfseq.GRUCell"] and fwd_paths["tfseq.GRUCell fast=False"] == "per_step"
    assert not any("path" in e for e in gen_group["results"])
    # one summary row per reference, against the fastest entry of each framework
    summary = {(r["bench"], r["reference"]): r for r in results["summary"]}
    assert list(summary) == [(g["bench"], ref) for g in (fwd_group, gen_group) for ref in g["references"]]
    for (bench, ref), row in summary.items():
        group = fwd_group if bench == "fwd_bwd" else gen_group
        for framework, name in row["vs_entry"].items():
            same = [e for e in group["results"] if e["framework"] == framework and "words_per_s" in e]
            assert name == max(same, key=lambda e: e["words_per_s"])["name"]
            assert row["vs"][framework] == group["ratios"][ref][name]
            assert row["vs_spread"][framework] == group["ratio_spread"][ref][name]
        assert set(row["vs_entry"]) == ({"keras", "tf1"} | ({"torch"} if peers_torch.available() else set())
                                        | ({"floor"} if bench == "fwd_bwd" else set()))
    table = format_report(results)
    assert "== fwd_bwd: recurrent layers only" in table and "== generate:" in table and "== summary" in table
    for name in expected:
        assert name in table


def test_cli_writes_table_and_json(tmp_path, capsys):
    path = tmp_path / "out" / "bench.json"
    markdown = tmp_path / "bench.md"
    argv = ["--quick", "--only", "rnn", "--bench", "train", "--peers", "keras", "--json", str(path)]
    code = cli.main(argv + ["--markdown", str(markdown)])
    assert code == 0
    lines = markdown.read_text().splitlines()
    assert lines[0].startswith("`python -m benchmarks --quick --only rnn --bench train --peers keras` (tfseq ")
    assert lines[2:4] == [
        "| workload | shape | family | tfseq | vs keras | vs tf1 | vs torch | vs floor | tfseq % of matmul ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    assert len(lines) == 6  # one row per reference: the first tfseq entry, the jit_compile one
    assert lines[4].startswith("| train | tiny (3 steps) | rnn | `BasicRNNCell` | ")
    assert lines[5].startswith("| train | tiny (3 steps) | rnn | `MultiRNNCell(BasicRNNCell) jit_compile` | ")
    assert all(line.count(" - |") == 3 for line in lines[4:])  # no tf1, no torch, no floor
    table = capsys.readouterr().out
    assert "tfseq.BasicRNNCell" in table and "keras.layers.SimpleRNN" in table
    assert "keras.layers.SimpleRNN jit_compile" in table and "tfseq.MultiRNNCell(BasicRNNCell) jit_compile" in table
    saved = json.loads(path.read_text())
    assert saved["meta"]["config"]["rounds"] == 1 and saved["meta"]["config"]["shapes"] == ["tiny"]
    (group,) = saved["groups"]
    assert (group["bench"], group["family"], group["shape"]["name"]) == ("train", "rnn", "tiny")
    assert {e["framework"] for e in group["results"]} == {"tfseq", "keras", "ceiling"}
    _check_derived(group, saved["ceiling_gflops"])
    # the JSON carries the references and, per summary row, the entry each ratio is against
    assert group["references"] == ["tfseq.BasicRNNCell", "tfseq.MultiRNNCell(BasicRNNCell) jit_compile"]
    assert [row["reference"] for row in saved["summary"]] == group["references"]
    for row in saved["summary"]:
        assert row["vs"]["keras"] == group["ratios"][row["reference"]][row["vs_entry"]["keras"]]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--only", "lstm,foo"], "--only must be a comma list of lstm, gru, rnn, got 'lstm,foo'"),
        (["--shapes", "huge"], "--shapes must be a comma list of small, medium, tiny, got 'huge'"),
        (["--peers", "jax"], "--peers must be a comma list of keras, tf1, torch, floor, got 'jax'"),
        (["--steps", "20,x"], "--steps must be a comma list of positive integers, got '20,x'"),
        (["--rounds", "0"], "--rounds must be >= 1, got 0"),
        (["--torch-threads", "0"], "--torch-threads must be >= 1, got 0"),
        (["--min-time", "-1"], "--min-time must be >= 0, got -1.0"),
    ],
)
def test_cli_bad_options_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"python -m benchmarks: error: {message}\n"


def test_make_group_derives_everything_from_medians():
    tiny = shapes.PRESETS["tiny"]
    cands = [
        timing.Candidate("tfseq.A", "tfseq", None),
        timing.Candidate("tfseq.B", "tfseq", None),
        timing.Candidate("keras.X", "keras", None),
        timing.Candidate("torch.Y", "torch", None),
        timing.Candidate("ceiling: one", "ceiling", None),
        timing.Candidate("ceiling: two", "ceiling", None),
    ]
    raw = {
        "tfseq.A": {"samples": [0.3, 0.1, 0.2], "reps": 4},
        "tfseq.B": {"error": "ValueError: no"},
        "keras.X": {"samples": [0.5, 0.4, 0.9], "reps": 2},
        "torch.Y": {"samples": [0.05, 0.1, 0.15], "reps": 8},
        "ceiling: one": {"samples": [1.0, 1.0, 1.0], "reps": 1},
        "ceiling: two": {"samples": [0.5, 0.5, 0.5], "reps": 1},
    }
    group = report.make_group("train", "lstm", tiny, cands, raw, ceiling_size=1000)
    words = tiny.batch * tiny.num_steps
    entries = {e["name"]: e for e in group["results"]}
    assert entries["tfseq.A"]["words_per_s"] == pytest.approx(words / 0.2)
    assert entries["tfseq.A"]["words_per_s_max"] == pytest.approx(words / 0.1)
    assert entries["tfseq.B"] == {"name": "tfseq.B", "framework": "tfseq", "error": "ValueError: no"}
    assert entries["ceiling: two"]["gflops"] == pytest.approx(2 * 1000**3 / 0.5 / 1e9)
    # run ceiling: per matmul, the median over groups; then the best matmul
    other, third = (
        report.make_group("train", "lstm", tiny, cands, {**raw, "ceiling: two": {"samples": [s], "reps": 1}}, 1000)
        for s in (0.25, 2.0)
    )
    assert report.add_run_ceiling([group, other, third]) == pytest.approx(4.0)  # median(4, 8, 1) GFLOP/s
    assert entries["tfseq.A"]["fraction_of_ceiling"] == pytest.approx(entries["tfseq.A"]["gflops"] / 4.0)
    assert group["ratios"] == {"tfseq.A": {"keras.X": pytest.approx(2.5), "torch.Y": pytest.approx(0.5)}}
    # per-round ratios: keras 0.5/0.3, 0.4/0.1, 0.9/0.2; torch 0.05/0.3, 0.1/0.1, 0.15/0.2
    assert group["ratio_spread"]["tfseq.A"]["keras.X"] == pytest.approx([0.5 / 0.3, 4.5])
    assert group["ratio_spread"]["tfseq.A"]["torch.Y"] == pytest.approx([0.05 / 0.3, 1.0])
    # LSTM: [x, h] @ [2H, 4H] per layer and step, plus the softmax; fwd + bwd = 3x
    assert group["flops_per_iteration"] == 3 * 2 * tiny.batch * tiny.num_steps * (2 * (2 * 8) * 32 + 8 * 50)
    (row,) = report.summary([group])
    assert row["vs"] == {"keras": pytest.approx(2.5), "torch": pytest.approx(0.5)}
    assert row["vs_entry"] == {"keras": "keras.X", "torch": "torch.Y"}
    assert "failed: ValueError: no" in report.format_group(group)


@pytest.mark.parametrize("keras_order", [("fast", "slow"), ("slow", "fast")])
def test_summary_compares_each_reference_with_the_fastest_entry_of_each_framework(keras_order):
    tiny = shapes.PRESETS["tiny"]
    keras_names = {"fast": "keras.K jit_compile", "slow": "keras.K"}
    cands = (
        [timing.Candidate(n, "tfseq", None) for n in ("tfseq.A", "tfseq.B", "tfseq.M jit_compile")]
        + [timing.Candidate(keras_names[k], "keras", None) for k in keras_order]
        + [timing.Candidate("keras.broken", "keras", None), timing.Candidate("torch.T", "torch", None)]
    )
    raw = {
        "tfseq.A": {"samples": [0.2, 0.2, 0.2], "reps": 1},
        "tfseq.B": {"samples": [0.01, 0.01, 0.01], "reps": 1},  # fastest tfseq entry, but not a reference
        "tfseq.M jit_compile": {"samples": [0.1, 0.12, 0.1], "reps": 1},
        "keras.K": {"samples": [0.4, 0.5, 0.6], "reps": 1},  # median 0.5
        "keras.K jit_compile": {"samples": [0.25, 0.3, 0.2], "reps": 1},  # median 0.25: keras' fastest
        "keras.broken": {"error": "RuntimeError: no"},
        "torch.T": {"samples": [0.1, 0.1, 0.1], "reps": 1},
    }
    group = report.make_group("fwd_bwd", "lstm", tiny, cands, raw, ceiling_size=100)
    assert group["reference"] == "tfseq.A"
    assert group["references"] == ["tfseq.A", "tfseq.M jit_compile"]
    rows = report.summary([group])
    assert [r["reference"] for r in rows] == ["tfseq.A", "tfseq.M jit_compile"]
    for row in rows:
        assert row["vs_entry"] == {"keras": "keras.K jit_compile", "torch": "torch.T"}
    # ratio = peer median / reference median; spread over rounds of peer / reference
    assert rows[0]["vs"] == {"keras": pytest.approx(0.25 / 0.2), "torch": pytest.approx(0.1 / 0.2)}
    assert rows[0]["vs_spread"]["keras"] == pytest.approx([0.2 / 0.2, 0.3 / 0.2])
    assert rows[1]["vs"] == {"keras": pytest.approx(0.25 / 0.1), "torch": pytest.approx(0.1 / 0.1)}
    assert rows[1]["vs_spread"]["keras"] == pytest.approx([0.2 / 0.1, 0.25 / 0.1])
    text = report.format_summary(rows).splitlines()  # title, header, rule, rows ("-": no ceiling set)
    assert "vs the fastest entry of each peer framework" in text[0]
    # columns: vs keras, tf1, torch, floor (the last two "-": no tf1 and no floor entries), % ceiling
    assert text[3].split() == ["fwd_bwd", "tiny", "3", "lstm", "A", "1.25x", "(1.00-1.50)", "-", "0.50x", "(0.50-0.50)",
                               "-", "-"]
    assert text[4].split() == ["M", "jit_compile", "2.50x", "(2.00-2.50)", "-", "1.00x", "(0.83-1.00)", "-", "-"]
    assert text[5].split() == ["(fastest", "entry)", "K", "jit_compile", "-", "T", "-"]
    meta = {"versions": {"tfseq": "0"}, "cpus": 2, "load_average_1min": {"start": 0.5}, "config": {"rounds": 3}}
    markdown = report.format_markdown({"meta": meta, "summary": rows}).splitlines()
    assert markdown[4:] == [
        "| fwd_bwd | tiny (3 steps) | lstm | `A` | 1.25x (1.00-1.50) `K jit_compile` | - | 0.50x (0.50-0.50) `T` | - "
        "| - |",
        "| fwd_bwd | tiny (3 steps) | lstm | `M jit_compile` | 2.50x (2.00-2.50) `K jit_compile` | - "
        "| 1.00x (0.83-1.00) `T` | - | - |",  # torch per round: 0.1 / 0.1, 0.1 / 0.12, 0.1 / 0.1
    ]
    # a failed reference keeps its row, without ratios
    raw["tfseq.M jit_compile"] = {"error": "E: x"}
    _, failed_row = report.summary([report.make_group("fwd_bwd", "lstm", tiny, cands, raw, ceiling_size=100)])
    assert (failed_row["reference"], failed_row["vs"], failed_row["vs_entry"]) == ("tfseq.M jit_compile", {}, {})


_JIT_ROWS = {  # family: (first tfseq entry, tfseq jit_compile entry, Keras jit_compile entry)
    "lstm": ("tfseq.BasicLSTMCell", "tfseq.MultiRNNCell(BasicLSTMCell) jit_compile", "keras.layers.LSTM jit_compile"),
    "gru": ("tfseq.GRUCell", "tfseq.MultiRNNCell(GRUCell) jit_compile",
            "keras.layers.GRU(reset_after=False) jit_compile"),
    "rnn": ("tfseq.BasicRNNCell", "tfseq.MultiRNNCell(BasicRNNCell) jit_compile", "keras.layers.SimpleRNN jit_compile"),
}


@pytest.mark.parametrize("family", shapes.FAMILIES)
@pytest.mark.parametrize("bench", shapes.BENCHES)
def test_jit_compile_rows_for_fwd_bwd_and_train_only(family, bench):
    tiny = shapes.PRESETS["tiny"]
    first, tfseq_jit, keras_jit = _JIT_ROWS[family]
    tfseq_impls = peers_tfseq.implementations(family, bench)
    keras_impls = peers_keras.implementations(family, bench)
    stacks = {name: make(tiny) for name, make in tfseq_impls + keras_impls}
    jit = {name for name, stack in stacks.items() if getattr(stack, "jit_compile", False)}
    assert tfseq_impls[0][0] == first  # the reference stays first
    if bench == "generate":
        assert jit == set() and not any("jit_compile" in name for name in stacks)
    else:
        assert jit == {tfseq_jit, keras_jit}
        assert isinstance(stacks[tfseq_jit], peers_tfseq.MultiCellStack)
        assert isinstance(stacks[keras_jit], peers_keras.KerasStack)


class _StringOpStack:
    """A one-weight "stack" whose steps run string ops, which XLA cannot compile: it fails
    exactly where the harness compiles with XLA. ``jit_compile=None`` leaves the attribute unset."""

    def __init__(self, jit_compile):
        if jit_compile is not None:
            self.jit_compile = jit_compile

    def build(self, depth):
        self.weight = tf.Variable(tf.ones([depth]))

    @property
    def variables(self):
        return [self.weight]

    def sequence(self, x):
        # weight -> text -> weight: no XLA kernel; reads the variable, so no constant folding
        weight_again = tf.strings.to_number(tf.strings.as_string(self.weight))
        return x * self.weight + weight_again

    def step(self, x, states):
        return self.sequence(x), states

    def initial_states(self, batch):
        return ()


@pytest.mark.parametrize("bench", ["fwd_bwd", "train"])
def test_harness_compiles_the_step_with_xla_when_the_stack_asks(bench):
    tiny = shapes.PRESETS["tiny"]
    data = tf_harness.make_data(tiny)
    for jit_compile in (None, False):
        tf_harness.WORKLOADS[bench](_StringOpStack(jit_compile), tiny, data)(1)  # runs
    with pytest.raises(tf.errors.InvalidArgumentError, match="AsString|StringToNumber"):
        tf_harness.WORKLOADS[bench](_StringOpStack(True), tiny, data)(1)
    # generation ignores jit_compile
    tf_harness.make_generate(_StringOpStack(True), tiny, data)(1)


def test_measure_interleaves_rounds_and_isolates_failures():
    calls = []

    def make(name, seconds):
        def run(reps):
            calls.append((name, reps))
            return seconds * reps

        return lambda: run

    def broken():
        raise RuntimeError("cannot build\nsecond line")

    cands = [
        timing.Candidate("a", "tfseq", make("a", 0.1)),
        timing.Candidate("bad", "keras", broken),
        timing.Candidate("b", "torch", make("b", 0.02)),
    ]
    results = timing.measure(cands, rounds=3, warmup=1, min_time=0.1)
    assert results["bad"] == {"error": "RuntimeError: second line"}
    assert results["a"] == {"samples": [pytest.approx(0.1)] * 3, "reps": 1}
    assert results["b"] == {"samples": [pytest.approx(0.02)] * 3, "reps": 5}
    # warm-up first (a: build + 1, b: build + 1), then rounds rotating their starting point
    assert [name for name, _ in calls[:4]] == ["a", "a", "b", "b"]
    assert calls[4:] == [("a", 1), ("b", 5), ("b", 5), ("a", 1), ("a", 1), ("b", 5)]


def test_steps_option_crosses_shapes():
    default = BenchConfig().shape_list()
    assert [(s.name, s.num_steps) for s in default] == [("small", 20), ("medium", 35)]
    crossed = BenchConfig(steps=(20, 35)).shape_list()
    assert [(s.name, s.num_steps) for s in crossed] == [("small", 20), ("small", 35), ("medium", 20), ("medium", 35)]


def test_json_is_written_atomically(tmp_path):
    path = tmp_path / "r.json"
    write_json({"meta": {}, "groups": []}, str(path))
    assert json.loads(path.read_text()) == {"meta": {}, "groups": []}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_python_m_entry_point_is_the_bench_command_and_rejects_bad_options():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--bench", "inference"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr == (
        "python -m benchmarks: error: --bench must be a comma list of fwd_bwd, train, generate, got 'inference'\n"
    )


class FakeTorchThreads:
    """Stands in for ``torch`` (an optional peer, not a test dependency): its thread setting."""

    def __init__(self, threads):
        self.threads = threads

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, threads):
        self.threads = threads


def test_torch_one_thread_row_times_with_one_thread_and_restores(monkeypatch):
    torch = FakeTorchThreads(2)
    monkeypatch.setitem(sys.modules, "torch", torch)
    seen = []

    def make_run(bench, shape, data):
        def run(reps):
            seen.append(torch.get_num_threads())
            return 0.1 * reps
        return run

    run = peers_torch.with_threads(make_run, 1)("fwd_bwd", None, None)
    assert run(3) == pytest.approx(0.3)
    assert seen == [1] and torch.get_num_threads() == 2


def test_bench_decode_runs_the_seq2seq_decoding_benchmark_with_this_commands_options(tmp_path, monkeypatch):
    """``python -m benchmarks --bench decode`` hands --quick/--rounds/--json to benchmarks.decode and
    runs no RNN workload; with other workloads listed, both run."""
    from benchmarks import decode

    calls = []
    monkeypatch.setattr(decode, "main", lambda argv: calls.append(("decode", argv)) or 0)
    monkeypatch.setattr(options, "run", lambda config, args: calls.append(("rnn", config.benches)))
    json_path = str(tmp_path / "b.json")
    assert cli.main(["--bench", "decode", "--quick", "--rounds", "2", "--json", json_path]) == 0
    assert calls == [("decode", ["--quick", "--rounds", "2", "--json", str(tmp_path / "b.decode.json")])]
    calls.clear()
    assert cli.main(["--bench", "train,decode"]) == 0
    assert calls == [("rnn", ("train",)), ("decode", [])]


def test_bench_decode_rejects_bad_rounds(capsys):
    assert cli.main(["--bench", "decode", "--rounds", "0"]) == 2
    assert capsys.readouterr().err == "python -m benchmarks: error: --rounds must be >= 1, got 0\n"


@pytest.mark.parametrize("bench", ["fwd_bwd", "train"])
def test_mixed_precision_rows_run_bfloat16_cells_with_float32_weights(bench):
    import keras

    tiny = shapes.PRESETS["tiny"]
    impls = dict(peers_tfseq.implementations("lstm", bench, ("float32", "mixed_bfloat16")))
    mixed = [name for name in impls if "[mixed_bfloat16]" in name]
    assert mixed == ["tfseq.MultiRNNCell(BasicLSTMCell) [mixed_bfloat16]",
                     "tfseq.MultiRNNCell(BasicLSTMCell) [mixed_bfloat16] jit_compile"]
    assert not any("[mixed_bfloat16]" in name for name, _ in peers_tfseq.implementations("lstm", bench))
    for name in mixed:
        stack = impls[name](tiny)
        assert keras.config.dtype_policy().name == "float32"  # the policy was set only around the cells
        assert {cell.dtype_policy.name for cell in stack.cells} == {"mixed_bfloat16"}
        tf_harness.WORKLOADS[bench](stack, tiny, tf_harness.make_data(tiny))(1)  # runs
        assert {v.dtype for v in stack.variables} == {"float32"}


def test_precision_option_is_checked():
    args = cli.build_parser().parse_args(["--precision", "float32,mixed_bfloat16"])
    assert options.config_from_args(args).precisions == ("float32", "mixed_bfloat16")
    with pytest.raises(ValueError, match="--precision must be a comma list of float32, mixed_bfloat16"):
        options.config_from_args(cli.build_parser().parse_args(["--precision", "bf16"]))


@pytest.mark.parametrize("model", [["--encoder", "bi"], ["--cell", "gru", "--attention", "bahdanau"]])
def test_translate_benchmark_times_the_hoisted_and_per_step_decoder(capsys, model):
    from benchmarks import translate

    assert translate.main(["--units", "8", "--vocab", "40", "--length", "4", "--batch", "2", "--rounds", "1",
                           "--min-time", "0.01", "--layers", "2", "--dropout", "0.3"] + model) == 0
    out = capsys.readouterr().out
    for row in ("tfseq ", "tfseq+xla", "tfseq per-step ", "tfseq per-step+xla"):
        assert f"  {row}" in out and "failed" not in out, out
    assert "tfseq / tfseq per-step (fastest setting of each):" in out
    assert "  keras" not in out  # the Keras model has one layer: only for --layers 1 --encoder uni
    with pytest.raises(SystemExit):
        translate.main(["--dropout", "1.0"])
    assert "--dropout must be in [0, 1), got 1.0" in capsys.readouterr().err
