"""The slot-filling demo: a joint bidirectional slot tagger and intent classifier, its presets and its task.

The names below load on first use, so the command line can import TensorFlow quietly first.
"""

from tfseq.demos.frame import lazy_exports

_EXPORTS = {
    "presets": "tfseq.demos.tag.presets",
    "SlotIntentModel": "tfseq.demos.tag.model",
    "TaggerEnsemble": "tfseq.demos.tag.model",
    "joint_loss": "tfseq.demos.tag.model",
    "tag_model_from_config": "tfseq.demos.tag.model",
    "TagConfig": "tfseq.demos.tag.presets",
    "TagTask": "tfseq.demos.tag.task",
    "score": "tfseq.demos.tag.task",
}

__all__ = ["SlotIntentModel", "TagConfig", "TagTask", "TaggerEnsemble", "joint_loss", "presets", "score",
           "tag_model_from_config"]

__getattr__ = lazy_exports(__name__, _EXPORTS)
