"""The slot-filling demo: a joint bidirectional slot tagger and intent classifier, its presets and its task.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

import importlib

_EXPORTS = {
    "presets": "tfseq.demos.tag.presets",
    "SlotIntentModel": "tfseq.demos.tag.model",
    "joint_loss": "tfseq.demos.tag.model",
    "tag_model_from_config": "tfseq.demos.tag.model",
    "TagConfig": "tfseq.demos.tag.presets",
    "TagTask": "tfseq.demos.tag.task",
    "score": "tfseq.demos.tag.task",
}

__all__ = ["SlotIntentModel", "TagConfig", "TagTask", "joint_loss", "presets", "score", "tag_model_from_config"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if module.__name__.endswith("." + name) else getattr(module, name)
