"""Reporters: what the :class:`~tfseq.train.Trainer` writes besides the loss, as small objects.

A reporter is asked at two moments, and every question has an empty default answer
(:class:`Reporter`), so a reporter overrides only what it reports:

* at every log window (``log_every`` steps) and at each epoch's end:
  :meth:`Reporter.derived_metrics` of a mean loss, e.g. ``{"Perplexity": exp(loss)}``. They
  are written next to "Training Loss" (``train/``) and "Validation Loss" (``validation/``),
  shown in the progress bar and, at the epoch's end, printed in place of the losses;
* at every log window: :meth:`Reporter.window_scalars`, numbers written under ``train/``;
* at each epoch's end: :meth:`Reporter.epoch_texts` (Markdown) and
  :meth:`Reporter.epoch_images` (``uint8`` pixels), written under ``train/``.

The Trainer gathers the reporters of the task (``task.reporters``) and its own
(``Trainer(reporters=...)``) and merges their answers in that order. The evaluation loops of
the demos share :func:`average_loss`, and every perplexity is :func:`perplexity`.
"""

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

# exp(x) overflows float64 a little above x = 709: a diverged loss reports a huge finite
# perplexity (exp(700) ~ 1e304), not an OverflowError.
PERPLEXITY_LOSS_LIMIT = 700.0


def perplexity(mean_loss: float) -> float:
    """Perplexity of a mean cross-entropy per token (nats): ``exp(min(mean_loss, 700))``.

    The clamp keeps a diverged loss printable (``exp(700) ~ 1.0e304``); NaN stays NaN.
    """
    return math.exp(min(float(mean_loss), PERPLEXITY_LOSS_LIMIT))


def average_loss(sums: Iterable[tuple[Any, Any]]) -> tuple[float, float]:
    """``(sum(loss_sum) / sum(count), sum(count))`` over ``(loss_sum, count)`` pairs.

    The evaluation loop of a task: each pair is one batch's summed per-item loss and its
    number of items (tensors or numbers); the sums are taken in float64 on the host.

    Raises:
        ValueError: the pairs count no item at all (an empty split).
    """
    total, count = 0.0, 0.0
    for loss_sum, items in sums:
        total += float(loss_sum)
        count += float(items)
    if not count > 0:
        raise ValueError(f"count must be > 0, got {count:g}")
    return total / count, count


class Reporter:
    """Base reporter: every hook reports nothing. Subclass it and override what you report
    (any object with these four methods will do)."""

    def derived_metrics(self, mean_loss: float) -> dict[str, float]:
        """Numbers derived from a mean loss (a window's, an epoch's, a validation split's)."""
        return {}

    def window_scalars(self) -> dict[str, float]:
        """``{tag: number}`` written under ``train/`` at every log window."""
        return {}

    def epoch_texts(self, epoch: int) -> dict[str, str]:
        """``{tag: Markdown}`` written under ``train/`` at the end of 0-based ``epoch``."""
        return {}

    def epoch_images(self, epoch: int) -> dict[str, Any]:
        """``{tag: uint8 image [H, W, C] or [N, H, W, C]}`` written at the end of ``epoch``."""
        return {}


class Perplexity(Reporter):
    """``{"Perplexity": perplexity(mean_loss)}`` for a loss that is a cross-entropy per token."""

    def derived_metrics(self, mean_loss: float) -> dict[str, float]:
        return {"Perplexity": perplexity(mean_loss)}


class EpochTexts(Reporter):
    """Texts from ``texts(epoch) -> {tag: Markdown}`` at each epoch's end (samples, tables)."""

    def __init__(self, texts: Callable[[int], Mapping[str, str]]):
        if not callable(texts):
            raise ValueError(f"EpochTexts: texts must be a function of the epoch, got {texts!r}")
        self.texts = texts

    def epoch_texts(self, epoch: int) -> dict[str, str]:
        return dict(self.texts(epoch))


class EpochImages(Reporter):
    """Images from ``images(epoch) -> {tag: uint8 pixels}`` at each epoch's end (plots, heatmaps;
    :func:`tfseq.train.figures.figure_to_image` turns a matplotlib figure into pixels)."""

    def __init__(self, images: Callable[[int], Mapping[str, np.ndarray]]):
        if not callable(images):
            raise ValueError(f"EpochImages: images must be a function of the epoch, got {images!r}")
        self.images = images

    def epoch_images(self, epoch: int) -> dict[str, Any]:
        return dict(self.images(epoch))


class WindowScalars(Reporter):
    """Scalars from ``scalars() -> {tag: number}`` at every log window (weights, statistics)."""

    def __init__(self, scalars: Callable[[], Mapping[str, float]]):
        if not callable(scalars):
            raise ValueError(f"WindowScalars: scalars must be a function, got {scalars!r}")
        self.scalars = scalars

    def window_scalars(self) -> dict[str, float]:
        return dict(self.scalars())


class TaskHooks(Reporter):
    """A task without ``reporters`` that defines any of the four reporter methods itself
    (``derived_metrics``, ``window_scalars``, ``epoch_texts``, ``epoch_images``) is reported
    through them: this reporter calls those the task has."""

    NAMES = ("derived_metrics", "window_scalars", "epoch_texts", "epoch_images")

    def __init__(self, task: Any):
        self.task = task

    @classmethod
    def of(cls, task: Any) -> "TaskHooks | None":
        """The reporter of ``task``'s own methods, or ``None`` when it has none of them."""
        return cls(task) if any(callable(getattr(task, n, None)) for n in cls.NAMES) else None

    def _call(self, name: str, *args: Any) -> dict:
        method = getattr(self.task, name, None)
        return dict(method(*args)) if callable(method) else {}

    def derived_metrics(self, mean_loss: float) -> dict[str, float]:
        return self._call("derived_metrics", mean_loss)

    def window_scalars(self) -> dict[str, float]:
        return self._call("window_scalars")

    def epoch_texts(self, epoch: int) -> dict[str, str]:
        return self._call("epoch_texts", epoch)

    def epoch_images(self, epoch: int) -> dict[str, Any]:
        return self._call("epoch_images", epoch)


class Reporters(Reporter):
    """Several reporters as one: each answer is the merge of theirs, in order."""

    def __init__(self, reporters: Iterable[Any]):
        self.reporters = list(reporters)

    def derived_metrics(self, mean_loss: float) -> dict[str, float]:
        return _merge(r.derived_metrics(mean_loss) for r in self.reporters)

    def window_scalars(self) -> dict[str, float]:
        return _merge(r.window_scalars() for r in self.reporters)

    def epoch_texts(self, epoch: int) -> dict[str, str]:
        return _merge(r.epoch_texts(epoch) for r in self.reporters)

    def epoch_images(self, epoch: int) -> dict[str, Any]:
        return _merge(r.epoch_images(epoch) for r in self.reporters)


def _merge(answers: Iterable[Mapping]) -> dict:
    merged = {}
    for answer in answers:
        merged.update(answer)
    return merged
