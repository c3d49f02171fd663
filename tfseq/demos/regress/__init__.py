"""The linear-regression demo: a one-layer model, its task and the least-squares check.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

import importlib

_EXPORTS = {
    "LinearRegression": "tfseq.demos.regress.model",
    "RegressionTask": "tfseq.demos.regress.model",
    "least_squares": "tfseq.demos.regress.model",
    "synthetic_data": "tfseq.demos.regress.model",
    "train_validation_split": "tfseq.demos.regress.model",
}

__all__ = ["LinearRegression", "RegressionTask", "least_squares", "synthetic_data", "train_validation_split"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if module.__name__.endswith("." + name) else getattr(module, name)
