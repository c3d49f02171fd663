"""The language-model demo: the PTB-tutorial model, its presets, its training task and sampling.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

import importlib

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


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if module.__name__.endswith("." + name) else getattr(module, name)
