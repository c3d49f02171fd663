"""Moved: the language-model task lives next to its model, in :mod:`tfseq.models.lm_task`.

Kept so that ``from tfseq.train.language_model import LanguageModelTask, perplexity``
(and ``from tfseq.train import ...``) keep working.
"""

from tfseq.models.lm_task import LanguageModelTask, perplexity

__all__ = ["LanguageModelTask", "perplexity"]
