"""The translation demo: tensorflow/nmt's attention encoder-decoder, its presets and its task.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

from tfseq.demos.frame import lazy_exports

_EXPORTS = {
    "presets": "tfseq.demos.translate.presets",
    "TranslationModel": "tfseq.demos.translate.model",
    "masked_xent": "tfseq.demos.translate.model",
    "translation_model_from_config": "tfseq.demos.translate.model",
    "TranslationConfig": "tfseq.demos.translate.presets",
    "NMTLearningRate": "tfseq.demos.translate.task",
    "TranslationTask": "tfseq.demos.translate.task",
    "corpus_bleu": "tfseq.demos.translate.task",
}

__all__ = [
    "TranslationModel",
    "TranslationConfig",
    "TranslationTask",
    "NMTLearningRate",
    "presets",
    "translation_model_from_config",
    "masked_xent",
    "corpus_bleu",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
