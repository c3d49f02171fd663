"""The language-model demo: the PTB-tutorial model, its presets, its training task and sampling.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

from tfseq.demos.frame import lazy_exports

_EXPORTS = {
    "presets": "tfseq.demos.lm.presets",
    "LanguageModel": "tfseq.demos.lm.model",
    "language_model_from_config": "tfseq.demos.lm.model",
    "tutorial_cost": "tfseq.demos.lm.model",
    "LMConfig": "tfseq.demos.lm.presets",
    "generate": "tfseq.demos.lm.sampling",
    "generate_lines": "tfseq.demos.lm.sampling",
    "generate_text": "tfseq.demos.lm.sampling",
    "novelty": "tfseq.demos.lm.sampling",
    "LanguageModelTask": "tfseq.demos.lm.task",
}

__all__ = [
    "LanguageModel",
    "LMConfig",
    "LanguageModelTask",
    "presets",
    "language_model_from_config",
    "tutorial_cost",
    "generate",
    "generate_lines",
    "generate_text",
    "novelty",
]

__getattr__ = lazy_exports(__name__, _EXPORTS)
