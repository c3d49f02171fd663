"""A tqdm progress bar with live metrics (loss, perplexity, words per second), and the
epoch line and validation numbers the Trainer reports."""

import sys
from collections.abc import Mapping
from typing import IO, Any

from tqdm.auto import tqdm


class Progress:
    """One bar per epoch; :meth:`update` advances it and shows metrics; :meth:`write`
    prints a line (an epoch summary) without breaking the bar.

    Args:
        enabled: draw the bar.
        stream: where to draw the bar (default ``sys.stderr``).
        lines: where :meth:`write` prints (default ``sys.stdout``); ``False``: nowhere.
    """

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None, lines: IO[str] | bool | None = None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.lines = sys.stdout if lines is None else lines
        self._bar = None

    def start(self, total: int, initial: int = 0, desc: str = "") -> None:
        self.close()
        if self.enabled:
            self._bar = tqdm(total=total, initial=initial, desc=desc, file=self.stream,
                             dynamic_ncols=True, mininterval=0.5, leave=True, unit="step")

    def update(self, steps: int, **metrics: Any) -> None:
        if self._bar is not None:
            self._bar.update(steps)
            if metrics:
                self._bar.set_postfix({k: _fmt(v) for k, v in metrics.items()}, refresh=False)

    def write(self, line: str) -> None:
        """Print a line without breaking the bar."""
        if self.lines is False:
            return
        if self._bar is not None:
            self._bar.write(line, file=self.lines)
        else:
            print(line, file=self.lines, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return value


def validation_scalars(evaluation: Mapping[str, Any], derived: Mapping[str, float]) -> dict[str, float]:
    """TensorBoard scalars of one evaluation: "Validation Loss", the derived metrics, and
    every other float the task returned under its own key (ints are counts: not logged)."""
    values = {"Validation Loss": evaluation["loss"], **derived}
    known = {key.lower() for key in values}
    for key, value in evaluation.items():
        if key != "loss" and key.lower() not in known and isinstance(value, float):
            values[key] = value
    return values


def format_epoch(record: Mapping[str, Any]) -> str:
    """One line per epoch: ``Epoch 2, lr 0.5, train perplexity 9.1, validation perplexity 8.7,
    validation bleu 21.3 (40,000 words/s)``. A task's derived metrics (perplexity) stand
    in for its losses; a task without them shows the losses."""
    parts = [f"Epoch {record['epoch']}", f"lr {record['learning_rate']:.4g}"]
    skip = {"epoch", "learning_rate", "train_seconds", "seconds"}
    has_derived = any(k.startswith("train_") and k not in ("train_loss", "train_seconds") for k in record)
    for key, value in record.items():
        if key in skip or key.endswith("_per_second") or not key.startswith(("train_", "validation_")):
            continue
        if has_derived and key in ("train_loss", "validation_loss"):
            continue
        parts.append(f"{key.replace('_', ' ')} {value:.4f}" if key.endswith("_loss")
                     else f"{key.replace('_', ' ')} {value:.3f}")
    speeds = [f"{v:,.0f} {k.split('_')[0]}/s" for k, v in record.items() if k.endswith("_per_second")]
    return ", ".join(parts) + (f" ({speeds[0]})" if speeds else "")
