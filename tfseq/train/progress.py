"""A tqdm progress bar with live metrics (loss, perplexity, words per second)."""

import sys

from tqdm.auto import tqdm


class Progress:
    """One bar per epoch; :meth:`update` advances it and shows metrics; :meth:`write`
    prints a line (an epoch summary) without breaking the bar.

    Args:
        enabled: draw the bar.
        stream: where to draw the bar (default ``sys.stderr``).
        lines: where :meth:`write` prints (default ``sys.stdout``); ``False``: nowhere.
    """

    def __init__(self, enabled=True, stream=None, lines=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.lines = sys.stdout if lines is None else lines
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
        if self.lines is False:
            return
        if self._bar is not None:
            self._bar.write(line, file=self.lines)
        else:
            print(line, file=self.lines, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return value
