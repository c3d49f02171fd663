"""Sequence models built on tfseq cells: ``from tfseq import models``."""

from tfseq.models import presets
from tfseq.models.lm import LanguageModel, language_model_from_config, make_cell, tutorial_cost
from tfseq.models.presets import LMConfig
from tfseq.models.regression import LinearRegression, RegressionTask, least_squares, synthetic_data
from tfseq.models.sampling import generate, generate_lines, generate_text, novelty
from tfseq.models import translation_presets
from tfseq.models.translation import TranslationModel, masked_xent, translation_model_from_config
from tfseq.models.translation_presets import TranslationConfig
from tfseq.models.translation_task import NMTLearningRate, TranslationTask, corpus_bleu

__all__ = [
    "LanguageModel",
    "LMConfig",
    "presets",
    "language_model_from_config",
    "make_cell",
    "tutorial_cost",
    "generate",
    "generate_lines",
    "generate_text",
    "novelty",
    "LinearRegression",
    "RegressionTask",
    "least_squares",
    "synthetic_data",
    "translation_presets",
    "TranslationConfig",
    "TranslationModel",
    "TranslationTask",
    "NMTLearningRate",
    "translation_model_from_config",
    "masked_xent",
    "corpus_bleu",
]
