"""``python -m benchmarks.matmul``: how fast this machine multiplies in float32 and bfloat16.

    python -m benchmarks.matmul                   # the shapes below, 3 interleaved rounds
    python -m benchmarks.matmul --shapes 2048x2048x2048 64x512x1024 --rounds 5

Whether ``precision=mixed_bfloat16`` pays is decided by the matmuls (bfloat16 arithmetic in
hardware: AVX512_BF16, AMX, GPU tensor cores) and by who runs them: TensorFlow's own kernels
(oneDNN on a CPU) or XLA (``jit_compile``). This times ``tf.matmul`` of each shape ``MxKxN``
(``[M, K] @ [K, N]``) in float32 and bfloat16, each as a plain ``tf.function`` and under XLA,
interleaved in rounds (:mod:`benchmarks.timing`), and prints GFLOP/s and bfloat16's speed over
float32's. The default shapes: a large square product (the machine's ceiling), tensorflow/nmt's
output projection in training (1,408 target tokens x 256 -> 8,000 words) and one recurrent step
of its decoder (batch 64, ``[input, h]`` of 768 -> 4 x 256 gates; batch 160 for beam search).
"""

import argparse
import os
import sys

DEFAULT_SHAPES = ("2048x2048x2048", "1408x256x8000", "64x768x1024", "160x512x1024")
DTYPES = ("float32", "bfloat16")


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"MxKxN"`` -> ``(M, K, N)``; ``ValueError`` naming the text otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"--shapes: expected MxKxN with positive integers (e.g. 64x512x1024), got {text!r}")
    m, k, n = (int(p) for p in parts)
    return m, k, n


def settings(shapes, xla=True):
    """``(shape, dtype, jit, name)`` of every timed product, in table order."""
    for shape in shapes:
        for dtype in DTYPES:
            for jit in (False, True) if xla else (False,):
                yield shape, dtype, jit, f"{'x'.join(map(str, shape))} {dtype}{' (XLA)' if jit else ''}"


def run(shapes, rounds=3, min_time=0.3, xla=True, log=lambda msg: None):
    """``[{"shape", "dtype", "xla", "gflops", "seconds"}]``, the median over rounds of each
    (``"error"`` instead where one failed)."""
    import statistics

    from benchmarks.tf_harness import matmul
    from benchmarks.timing import Candidate, measure

    chosen = list(settings(shapes, xla))
    cands = [Candidate(name, dtype, lambda s=shape, d=dtype, j=jit: matmul(*s, dtype=d, jit=j))
             for shape, dtype, jit, name in chosen]
    results = measure(cands, rounds=rounds, min_time=min_time, log=log)
    rows = []
    for shape, dtype, jit, name in chosen:
        row = {"shape": shape, "dtype": dtype, "xla": jit}
        if "error" in results[name]:
            rows.append({**row, "error": results[name]["error"]})
            continue
        seconds = statistics.median(results[name]["samples"])
        m, k, n = shape
        rows.append({**row, "seconds": seconds, "gflops": 2 * m * k * n / seconds / 1e9})
    return rows


def format_table(rows):
    """A Markdown table: GFLOP/s per shape and dtype, and bfloat16 over float32 in each setting."""
    lines = ["| shape (M x K x N) | setting | float32 GFLOP/s | bfloat16 GFLOP/s | bfloat16 / float32 |",
             "|---|---|---:|---:|---:|"]
    by_key = {(row["shape"], row["xla"], row["dtype"]): row for row in rows}
    for shape, jit in dict.fromkeys((row["shape"], row["xla"]) for row in rows):
        f32, bf16 = by_key.get((shape, jit, "float32")), by_key.get((shape, jit, "bfloat16"))
        cells = [f"{r['gflops']:.0f}" if r and "gflops" in r else f"failed: {r['error']}" if r else ""
                 for r in (f32, bf16)]
        ratio = (f"{bf16['gflops'] / f32['gflops']:.2f}x"
                 if f32 and bf16 and "gflops" in f32 and "gflops" in bf16 else "")
        lines.append(f"| {'x'.join(map(str, shape))} | {'XLA' if jit else 'plain graph'} | {cells[0]} | "
                     f"{cells[1]} | {ratio} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matmul", description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES), help="MxKxN products to time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timed sample (default 0.3)")
    parser.add_argument("--no-xla", action="store_true", help="leave out the XLA-compiled rows")
    args = parser.parse_args(argv)
    try:
        shapes = [parse_shape(text) for text in args.shapes]
    except ValueError as err:
        parser.error(str(err))
    if args.rounds < 1:
        parser.error(f"--rounds must be a positive integer, got {args.rounds}")
    if not args.min_time > 0:
        parser.error(f"--min-time must be > 0, got {args.min_time}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows = run(shapes, rounds=args.rounds, min_time=args.min_time, xla=not args.no_xla,
               log=lambda msg: print(msg, file=sys.stderr))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
