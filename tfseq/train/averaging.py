"""An exponential moving average of the trained weights, kept by the Trainer beside the model.

After every training step each average moves towards its weight::

    decay_t = min(decay, (1 + t) / (10 + t))        t: the updates made before this one
    average = decay_t * average + (1 - decay_t) * weight

the rule of TF1's ``tf.train.ExponentialMovingAverage(decay, num_updates=t)``: the short early
horizon lets the average forget the random initial weights quickly. The averages are
variables of their own (checkpointed with the run, so a resumed run continues the same
average); the model keeps training its own weights. :meth:`WeightAverage.applied` puts the
averages into the model for a block (an evaluation) and the trained weights back after it,
:meth:`WeightAverage.assign_to_model` for good (a finished run's model).

Averaging the weights of the last few hundred steps smooths the noise of the last updates
(Polyak averaging); the demos that use it say what it measured.
"""

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import tensorflow as tf

from tfseq.train.stopping import interrupts_deferred

__all__ = ["WeightAverage"]


def check_decay(what: str, decay: Any) -> float | None:
    """``decay`` as a float in (0, 1), or ``None`` (no averaging); otherwise ``ValueError``
    naming the setting (``what``, e.g. ``"Trainer: weight_average"``) and the value."""
    if decay is None:
        return None
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
        raise ValueError(f"{what} must be a number in (0, 1) (e.g. 0.999) or None, got {decay!r}")
    return float(decay)


class WeightAverage:
    """Exponential moving averages of ``variables`` (a model's trainable weights).

    Args:
        variables: the weights to average; the averages start as copies of them.
        decay: in (0, 1): the horizon is about ``1 / (1 - decay)`` steps (0.999: the last
            thousand steps).

    Raises:
        ValueError: a ``decay`` outside (0, 1).
    """

    def __init__(self, variables: Sequence[tf.Variable], decay: float) -> None:
        self.decay = check_decay("WeightAverage: decay", decay)
        if self.decay is None:
            raise ValueError("WeightAverage: decay must be a number in (0, 1), got None")
        self.variables = list(variables)
        self.averages = [tf.Variable(v, trainable=False, name="average_" + _name(v)) for v in self.variables]
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="average_updates")

    def update(self) -> None:
        """Move every average one step towards its weight (called once per training step, inside it)."""
        t = tf.cast(self.updates, tf.float32)
        rate = 1.0 - tf.minimum(tf.constant(self.decay, tf.float32), (1.0 + t) / (10.0 + t))
        for average, variable in zip(self.averages, self.variables):  # each started as its variable's copy: same dtype
            average.assign_sub(tf.cast(rate, average.dtype) * (average - variable))
        self.updates.assign_add(1)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the model's weights are the averages; after it (also when the block
        raises, e.g. on Ctrl-C) its trained weights are back, each switch done as a whole."""
        held = [tf.identity(variable) for variable in self.variables]  # snapshots: an assign never changes them
        try:
            self.assign_to_model()  # inside: a Ctrl-C held back until it ends lands here, and is undone
            yield
        finally:
            with interrupts_deferred():
                for variable, value in zip(self.variables, held):
                    variable.assign(value)

    def assign_to_model(self) -> None:
        """Put the averages into the model for good (its trained weights are overwritten)."""
        with interrupts_deferred():
            for variable, average in zip(self.variables, self.averages):
                variable.assign(average)

    def trackables(self) -> dict[str, Any]:
        """The variables to checkpoint with the run."""
        return {"weight_averages": self.averages, "weight_average_updates": self.updates}


def _name(variable: tf.Variable) -> str:
    return getattr(variable, "path", variable.name).replace("/", "_").replace(":", "_")
