"""The sentiment classification demo: a (bi)directional stack of tfseq cells, pooled, then a softmax.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

from tfseq.demos.frame import lazy_exports

_EXPORTS = {
    "presets": "tfseq.demos.classify.presets",
    "ClassifyConfig": "tfseq.demos.classify.presets",
    "SentenceClassifier": "tfseq.demos.classify.model",
    "classifier_from_config": "tfseq.demos.classify.model",
    "ClassificationTask": "tfseq.demos.classify.task",
    "confusion_matrix": "tfseq.demos.classify.task",
    "macro_f1": "tfseq.demos.classify.task",
}

__all__ = [
    "ClassificationTask",
    "ClassifyConfig",
    "SentenceClassifier",
    "classifier_from_config",
    "confusion_matrix",
    "macro_f1",
    "presets",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
