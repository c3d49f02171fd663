"""PyTorch peers: ``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` (eager, default threads; on the GPU
when ``torch.cuda.is_available()``, else the CPU). On a CPU with more than one thread each
also runs as ``<name> 1 thread`` (PyTorch set to one intra-op thread while it is timed):
on this project's 2-core machine one thread was the faster setting for ``nn.LSTM``, and the
summary compares with the fastest entry. ``torch.compile`` is not among the settings: its
Dynamo leaves ``nn.LSTM`` eager, and with its experimental ``allow_rnn`` the compiled LSTM was
slower than eager here (``benchmarks/RESULTS.md``).

Optional: :func:`available` is False when ``torch`` is not installed and the runner
skips these peers with a note. The workloads mirror :mod:`benchmarks.tf_harness`
(same shapes, loss scaling, clipping and SGD step; ``nn.Embedding`` with dense
gradients, PyTorch's default).

``OMP_WAIT_POLICY=PASSIVE`` is set (unless already set) before torch loads: with the
default spinning barriers, libgomp threads on an oversubscribed machine (more runnable
threads than cores) made ``nn.LSTM`` 4-7x slower here; passive waiting is PyTorch's
best case on a shared machine and costs little on an idle one.
"""

import importlib.util
import os

import numpy as np

from benchmarks import timing
from benchmarks.tf_harness import INIT_SCALE, LEARNING_RATE, MAX_GRAD_NORM

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_MODULES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def available():
    return importlib.util.find_spec("torch") is not None


def version():
    import torch

    return torch.__version__


def device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def settings():
    import torch

    return {
        "device": device(),
        "threads": torch.get_num_threads(),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
    }


def set_threads(threads):
    import torch

    torch.set_num_threads(threads)


def _tensor(array):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array)).to(device())


def _timed(fn):
    import torch

    def wait(_):
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    return timing.timed(fn, wait)


class _Model:
    def __init__(self, family, shape, data):
        import torch

        torch.manual_seed(0)
        rnn_cls = getattr(torch.nn, _MODULES[family])
        self.rnn = rnn_cls(shape.hidden, shape.hidden, num_layers=shape.layers, batch_first=True)
        for param in self.rnn.parameters():
            torch.nn.init.uniform_(param, -INIT_SCALE, INIT_SCALE)
        self.embedding = torch.nn.Embedding(shape.vocab, shape.hidden)
        self.softmax = torch.nn.Linear(shape.hidden, shape.vocab)
        with torch.no_grad():
            self.embedding.weight.copy_(torch.from_numpy(data["embedding"]))
            self.softmax.weight.copy_(torch.from_numpy(np.ascontiguousarray(data["softmax_w"].T)))
            self.softmax.bias.copy_(torch.from_numpy(data["softmax_b"]))
        for module in (self.rnn, self.embedding, self.softmax):
            module.to(device())
        self.parameters = (
            list(self.embedding.parameters()) + list(self.rnn.parameters()) + list(self.softmax.parameters())
        )


def make_fwd_bwd(family, shape, data):
    model = _Model(family, shape, data)
    x = _tensor(data["x"]).requires_grad_(True)
    dy = _tensor(data["dy"])

    def fwd_bwd():
        model.rnn.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = model.rnn(x)  # [batch, time, hidden]
        (y * dy).sum().backward()

    return _timed(fwd_bwd)


def make_train(family, shape, data):
    import torch

    model = _Model(family, shape, data)
    ids = _tensor(data["ids"]).long()
    targets = _tensor(data["targets"]).long().reshape(-1)
    optimizer = torch.optim.SGD(model.parameters, lr=LEARNING_RATE)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        outputs, _ = model.rnn(model.embedding(ids))  # [batch, time, hidden]
        logits = model.softmax(outputs.reshape(-1, shape.hidden))  # [batch*time, vocab]
        loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum") / shape.batch
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters, MAX_GRAD_NORM)
        optimizer.step()

    return _timed(train_step)


def make_generate(family, shape, data):
    import torch

    model = _Model(family, shape, data)

    def generate():
        with torch.inference_mode():
            token = torch.zeros([1, 1], dtype=torch.long, device=device())
            state = None
            for _ in range(shape.gen_tokens):
                y, state = model.rnn(model.embedding(token), state)  # [1, 1, hidden]
                probs = torch.softmax(model.softmax(y[:, 0]), dim=-1)  # [1, vocab]
                token = torch.multinomial(probs, 1)  # [1, 1]

    return _timed(generate)


WORKLOADS = {"fwd_bwd": make_fwd_bwd, "train": make_train, "generate": make_generate}


def implementations(family):
    """``[(name, make_run(bench, shape, data))]``: PyTorch's built-in module of ``family``."""

    import torch

    def make_run(bench, shape, data):
        return WORKLOADS[bench](family, shape, data)

    name = f"torch.nn.{_MODULES[family]}"
    impls = [(name, make_run)]
    if device() == "cpu" and torch.get_num_threads() > 1:
        impls.append((f"{name} 1 thread", with_threads(make_run, 1)))
    return impls


def with_threads(make_run, threads):
    """``make_run`` whose timed runs use ``threads`` PyTorch intra-op threads (restored after)."""

    def make(bench, shape, data):
        import torch

        run = make_run(bench, shape, data)

        def run_with_threads(reps):
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                return run(reps)
            finally:
                torch.set_num_threads(before)

        return run_with_threads

    return make


def matmul_ceiling(size):
    import torch

    gen = torch.Generator().manual_seed(1)
    a = torch.randn(size, size, generator=gen).to(device())
    b = torch.randn(size, size, generator=gen).to(device())
    return _timed(lambda: torch.mm(a, b))
