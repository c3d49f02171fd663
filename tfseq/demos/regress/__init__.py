"""The linear-regression demo: a one-layer model, its task and the least-squares check.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

from tfseq.demos.frame import lazy_exports

_EXPORTS = {
    "LinearRegression": "tfseq.demos.regress.model",
    "RegressionTask": "tfseq.demos.regress.model",
    "least_squares": "tfseq.demos.regress.model",
    "synthetic_data": "tfseq.demos.regress.model",
    "train_validation_split": "tfseq.demos.regress.model",
}

__all__ = ["LinearRegression", "RegressionTask", "least_squares", "synthetic_data", "train_validation_split"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
