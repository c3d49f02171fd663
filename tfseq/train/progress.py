"""A tqdm progress bar with live metrics (loss, perplexity, words per second)."""

import sys

from tqdm.auto import tqdm


class Progress:
    """One bar per epoch; :meth:`update` advances it and shows metrics.

    Args:
        enabled: ``False`` writes nothing (tests, logs).
        stream: where to draw (default ``sys.stderr``).
    """

    def __init__(self, enabled=True, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._bar = None

    def start(self, total, initial=0, desc=""):
        self.close()
        if self.enabled:
            self._bar = tqdm(total=total, initial=initial, desc=desc, file=self.stream,
                             dynamic_ncols=True, mininterval=0.5, leave=True, unit="step")

    def update(self, steps, **metrics):
        if self._bar is not None:
            self._bar.update(steps)
            if metrics:
                self._bar.set_postfix({k: _fmt(v) for k, v in metrics.items()}, refresh=False)

    def write(self, line):
        """Print a line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        elif self.enabled:
            print(line, file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return value
