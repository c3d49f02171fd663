"""Figures for TensorBoard image summaries: a matplotlib figure as a uint8 image array.

Models draw their own plots (attention heatmaps, data against a fitted line) with
matplotlib's non-interactive Agg canvas and hand the pixels to
``RunWriters.image``; nothing here opens a window or needs a display.
"""

from typing import Any

import numpy as np


def new_figure(width: float = 4.0, height: float = 3.0, dpi: int = 100) -> Any:
    """A matplotlib ``Figure`` on an Agg canvas (no display, no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def figure_to_image(figure: Any) -> np.ndarray:
    """The rendered pixels of ``figure``: a ``uint8`` array ``[height, width, 4]`` (RGBA)."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba(), dtype=np.uint8).copy()
