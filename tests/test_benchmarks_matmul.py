"""benchmarks.matmul: its rows come from the measured medians, its table says bfloat16 over float32
from those rows, and a bad shape is one clear line. No timing is asserted."""

import pytest

from benchmarks import matmul


def test_rows_and_table_from_the_measured_medians():
    shapes = [(8, 16, 32), (4, 4, 4)]
    rows = matmul.run(shapes, rounds=2, min_time=0.001, xla=True)
    assert [(r["shape"], r["dtype"], r["xla"]) for r in rows] == [
        (s, d, x) for s in shapes for d in ("float32", "bfloat16") for x in (False, True)]
    for row in rows:
        assert "error" not in row, row
        m, k, n = row["shape"]
        assert row["gflops"] == pytest.approx(2 * m * k * n / row["seconds"] / 1e9)
    table = matmul.format_table(rows).splitlines()
    assert len(table) == 2 + 2 * len(shapes)  # header, rule, plain and XLA per shape
    first = {(r["dtype"], r["xla"]): r["gflops"] for r in rows if r["shape"] == shapes[0]}
    cells = [c.strip() for c in table[2].strip("|").split("|")]
    assert cells[:2] == ["8x16x32", "plain graph"]
    assert cells[2:] == [f"{first['float32', False]:.0f}", f"{first['bfloat16', False]:.0f}",
                         f"{first['bfloat16', False] / first['float32', False]:.2f}x"]
    assert [c.strip() for c in table[3].strip("|").split("|")][1] == "XLA"


def test_no_xla_leaves_out_the_compiled_rows():
    rows = matmul.run([(4, 4, 4)], rounds=1, min_time=0.001, xla=False)
    assert [(r["dtype"], r["xla"]) for r in rows] == [("float32", False), ("bfloat16", False)]


@pytest.mark.parametrize("text", ["64x512", "64x0x3", "axbxc", "1x2x3x4"])
def test_a_bad_shape_is_refused_naming_it(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        matmul.main(["--shapes", text])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--shapes: expected MxKxN" in err and repr(text) in err
