"""Benchmark shapes (the TF PTB tutorial's presets) and FLOP counts of the matmuls.

FLOPs count only the matmuls: the recurrent matmul of every layer at every step and
the softmax projection. Elementwise gate math, the embedding gather and the loss are
left out, so "fraction of the matmul ceiling" is a lower bound of the useful work.
A backward pass costs two matmuls per forward matmul (input and weight gradients),
so forward + backward is 3x the forward count.
"""

import dataclasses

FAMILIES = ("lstm", "gru", "rnn")
BENCHES = ("fwd_bwd", "train", "generate")
# Frameworks tfseq is compared with; "floor" is the workload's matmuls alone (benchmarks.floor).
PEERS = ("keras", "tf1", "torch", "floor")

# Matmul width of one step, in units of num_units: [x, h] @ kernel[D + H, k * H].
GATE_BLOCKS = {"lstm": 4, "gru": 3, "rnn": 1}


@dataclasses.dataclass(frozen=True)
class Shape:
    """One benchmark configuration.

    Args:
        name: preset name (``small``, ``medium``, ``tiny``).
        vocab: softmax / embedding size.
        hidden: ``num_units`` of every layer (the embedding has the same width).
        layers: number of stacked recurrent layers.
        batch: sequences per training step.
        num_steps: unrolled time steps per training step.
        gen_tokens: tokens generated per timed generation sample (batch 1).
    """

    name: str
    vocab: int
    hidden: int
    layers: int
    batch: int
    num_steps: int
    gen_tokens: int = 20

    def with_steps(self, num_steps):
        return dataclasses.replace(self, num_steps=num_steps)

    def describe(self):
        return (
            f"{self.name}: vocab {self.vocab}, {self.layers}x{self.hidden}, "
            f"batch {self.batch}, {self.num_steps} steps"
        )

    def words(self, bench):
        """Words (tokens) processed by one timed iteration of ``bench``."""
        if bench == "generate":
            return self.gen_tokens
        return self.batch * self.num_steps


# The TF PTB tutorial's presets (expected test perplexity: small 114.5-116, medium ~82).
PRESETS = {
    "small": Shape("small", vocab=10000, hidden=200, layers=2, batch=20, num_steps=20),
    "medium": Shape("medium", vocab=10000, hidden=650, layers=2, batch=20, num_steps=35),
    # Smoke tests only: seconds, not figures.
    "tiny": Shape("tiny", vocab=50, hidden=8, layers=2, batch=2, num_steps=3, gen_tokens=3),
}


def recurrent_flops(family, shape, batch, steps):
    """Forward FLOPs of the recurrent matmuls of all layers over ``steps`` steps."""
    blocks = GATE_BLOCKS[family]
    depth = shape.hidden + shape.hidden  # [x, h], x is the embedding or the layer below
    return 2 * batch * steps * shape.layers * depth * blocks * shape.hidden


def softmax_flops(shape, batch, steps):
    """Forward FLOPs of the ``[hidden, vocab]`` softmax projection."""
    return 2 * batch * steps * shape.hidden * shape.vocab


def bench_flops(bench, family, shape):
    """Matmul FLOPs of one timed iteration of ``bench``."""
    if bench == "fwd_bwd":  # forward + backward through the recurrent layers only
        return 3 * recurrent_flops(family, shape, shape.batch, shape.num_steps)
    if bench == "train":
        fwd = recurrent_flops(family, shape, shape.batch, shape.num_steps)
        fwd += softmax_flops(shape, shape.batch, shape.num_steps)
        return 3 * fwd
    if bench == "generate":  # batch 1, forward only, gen_tokens steps
        return recurrent_flops(family, shape, 1, shape.gen_tokens) + softmax_flops(shape, 1, shape.gen_tokens)
    raise ValueError(f"bench must be one of {BENCHES}, got {bench!r}")
