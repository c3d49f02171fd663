"""Linear regression by gradient descent, the lecture's first TensorBoard example.

The model is ``y = W x + b`` for ``x`` with ``F`` features::

    y_hat = x @ W + b                        # x [N, F], W [F], b [], y_hat [N]
    loss  = mean((y_hat - y) ** 2)           # mean squared error over the batch

:class:`RegressionTask` trains it with full-batch gradient descent through the shared
``tfseq.train.Trainer`` and tells the Trainer, through its reporters, what to log to
TensorBoard: each weight and the bias as scalars at every log window,
with the lecture's ``variable_summaries`` of ``W`` (``W/mean``, ``W/stddev``, ``W/min``,
``W/max``), and a plot of the data against the fitted line each epoch. The answer gradient
descent should reach is known in closed form (:func:`least_squares`, NumPy), so a run can
print how far it got.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfseq.train.figures import figure_to_image, new_figure
from tfseq.train.reporting import EpochImages, EpochTexts, WindowScalars


@keras.saving.register_keras_serializable(package="tfseq")
class LinearRegression(keras.Model):
    """``y_hat = x @ W + b``: a linear model of ``num_features`` inputs and one output.

    Args:
        num_features: ``F``, the number of input features (a positive integer).
        **kwargs: passed to ``keras.Model`` (``name``, ``dtype``).

    Call arguments:
        x: ``[N, F]`` features.

    Returns:
        ``[N]`` predictions.

    Raises:
        ValueError: ``num_features`` is not a positive integer.

    Example:
        >>> model = LinearRegression(2)
        >>> model(np.ones((3, 2), "float32")).shape
        TensorShape([3])
    """

    def __init__(self, num_features, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"LinearRegression: num_features must be a positive integer, got {num_features!r}")
        self.num_features = num_features
        self.weight = self.add_weight(shape=(num_features,), initializer="zeros", name="W")  # [F]
        self.bias = self.add_weight(shape=(), initializer="zeros", name="b")  # []

    def call(self, x):
        # [N, F] @ [F] + [] -> [N]; under mixed precision computed in bfloat16, returned as float32 for the loss
        return tf.cast(tf.linalg.matvec(x, self.weight) + self.bias, tf.float32)

    def get_config(self):
        return {**super().get_config(), "num_features": self.num_features}


def least_squares(features, targets):
    """The closed-form least-squares fit ``(W [F], b)`` in float64 (``numpy.linalg.lstsq`` on ``[x, 1]``)."""
    x = np.asarray(features, np.float64)
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)  # [N, F + 1]
    solution, *_ = np.linalg.lstsq(design, np.asarray(targets, np.float64), rcond=None)
    return solution[:-1], float(solution[-1])


def synthetic_data(num_examples, num_features=1, noise=0.1, seed=0):
    """``y = x @ W + b + noise``, with ``W``, ``b`` and ``x`` drawn from ``seed``.

    ``W`` and ``b`` are uniform in ``[-2, 2]``, ``x`` uniform in ``[-1, 1]``, the noise
    normal with standard deviation ``noise``.

    Returns:
        ``(features [N, F], targets [N], true_weights [F], true_bias)`` as float64.

    Raises:
        ValueError: ``num_examples`` < 2, ``num_features`` not a positive integer, or
            ``noise`` negative or not finite.
    """
    for name, value, low in (("num_examples", num_examples, 2), ("num_features", num_features, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"synthetic_data: {name} must be an integer >= {low}, got {value!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"synthetic_data: noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    true_weights = rng.uniform(-2, 2, num_features)  # [F]
    true_bias = float(rng.uniform(-2, 2))
    features = rng.uniform(-1, 1, (num_examples, num_features))  # [N, F]
    targets = features @ true_weights + true_bias + rng.normal(0, noise, num_examples)  # [N]
    return features, targets, true_weights, true_bias


def train_validation_split(features, targets, valid_fraction=0.2, seed=0):
    """Shuffles the rows with ``seed`` and holds out the last ``valid_fraction`` of them.

    Returns ``(train_x, train_y, valid_x, valid_y)``; the validation part is empty when
    ``valid_fraction`` is 0.

    Raises:
        ValueError: ``valid_fraction`` outside ``[0, 1)``, or fewer than 2 training rows left.
    """
    if isinstance(valid_fraction, bool) or not isinstance(valid_fraction, (int, float)) \
            or not 0 <= valid_fraction < 1:
        raise ValueError(f"valid_fraction must be a number in [0, 1), got {valid_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(targets))
    num_valid = int(round(len(targets) * valid_fraction))
    train, valid = order[: len(order) - num_valid], order[len(order) - num_valid:]
    if len(train) < 2:
        raise ValueError(f"only {len(train)} training rows of {len(targets)} (valid_fraction {valid_fraction})")
    return features[train], targets[train], features[valid], targets[valid]


class RegressionTask:
    """Full-batch gradient descent on the mean squared error, as a ``tfseq.train.Trainer`` task.

    Every step sees the whole training set; an "epoch" is ``steps_per_epoch`` such steps
    (a name for the unit between evaluations, plots and histograms).

    Args:
        model: a :class:`LinearRegression`.
        features: ``[N, F]`` training features; ``targets``: ``[N]``.
        steps_per_epoch: gradient-descent steps per epoch (a positive integer).
        valid_features, valid_targets: held-out rows for "Validation Loss" and "R2", or ``None``.
        feature_names: names of the ``F`` features (scalar tags ``W/<name>``); default ``x0, x1, ...``.

    Attributes:
        reporters: :meth:`window_scalars` at every log window, :meth:`epoch_images` (the fit)
            and :meth:`epoch_texts` (the parameters against least squares) at each epoch's end.

    Raises:
        ValueError: shapes that do not match the model, or a bad ``steps_per_epoch``.
    """

    throughput_name = "examples_per_second"
    objective_reduction = "mean"
    xla_compile = "always"

    def __init__(self, model, features, targets, steps_per_epoch=50, valid_features=None, valid_targets=None,
                 feature_names=None):
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(f"RegressionTask: steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
        self.model = model
        self.x, self.y = _check_xy(model, features, targets, "features", "targets")
        self.valid = None
        if valid_features is not None and len(valid_targets):
            self.valid = _check_xy(model, valid_features, valid_targets, "valid_features", "valid_targets")
        self.feature_names = tuple(feature_names or (f"x{i}" for i in range(model.num_features)))
        if len(self.feature_names) != model.num_features:
            raise ValueError(f"RegressionTask: feature_names must name {model.num_features} features, "
                             f"got {list(self.feature_names)!r}")
        self._steps = steps_per_epoch
        self.solution = least_squares(self.x, self.y)  # (W [F], b): where gradient descent should end
        self._batch = (tf.constant(self.x, tf.float32), tf.constant(self.y, tf.float32))
        self.reporters = (WindowScalars(self.window_scalars), EpochImages(self.epoch_images),
                          EpochTexts(self.epoch_texts))

    # -- what the Trainer needs ---------------------------------------------------------------
    def steps_per_epoch(self):
        return self._steps

    def train_batches(self, start):
        return (self._batch for _ in range(start, self._steps))

    def loss(self, batch, training):
        x, y = batch
        squared_errors = tf.square(self.model(x, training=training) - y)  # [N]
        return tf.reduce_mean(squared_errors), {"loss_sum": tf.reduce_sum(squared_errors),
                                                "count": tf.size(y)}

    def evaluate(self, split):
        """``{"loss": mean squared error, "R2": coefficient of determination}`` on the held-out rows."""
        if split != "validation" or self.valid is None:
            return None
        x, y = self.valid
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged fit gives inf/nan, reported as such
            errors = self.predict(x) - y
            total = np.sum((y - y.mean()) ** 2)
            loss = np.mean(errors ** 2)
            r2 = 1 - np.sum(errors ** 2) / total if total > 0 else math.nan
        # float32 like the model: a loss beyond float32's range is inf (which a summary can hold)
        return {"loss": float(np.float32(loss)), "R2": float(np.float32(r2))}

    def window_scalars(self):
        """Each weight (``W/<feature>``), the bias ``b`` and ``W``'s mean/stddev/min/max."""
        weights, bias = self.parameters()
        values = {f"W/{name}": float(w) for name, w in zip(self.feature_names, weights)}
        values.update({"W/mean": float(weights.mean()), "W/stddev": float(weights.std()),
                       "W/min": float(weights.min()), "W/max": float(weights.max()), "b": bias})
        return values

    def epoch_images(self, epoch):
        """``{"fit": the plot of the data against the fitted line}``."""
        return {"fit": self.plot(title=f"epoch {epoch + 1}")}

    def epoch_texts(self, epoch):
        """The parameters beside the least-squares solution, as a Markdown table."""
        rows = ["| parameter | gradient descent | least squares | difference |", "|---|---|---|---|"]
        rows += [f"| {name} | {ours:.6g} | {best:.6g} | {diff:.3g} |" for name, ours, best, diff in self.comparison()]
        return {"parameters": "\n".join(rows)}

    def comparison(self):
        """``[(name, gradient descent, least squares, difference)]`` for each weight, then the bias."""
        weights, bias = self.parameters()
        best_weights, best_bias = self.solution
        names = [f"W[{name}]" for name in self.feature_names] + ["b"]
        ours = [*weights.tolist(), bias]
        best = [*best_weights.tolist(), best_bias]
        return [(n, o, b, o - b) for n, o, b in zip(names, ours, best)]

    # -- helpers ------------------------------------------------------------------------------
    def parameters(self):
        """The current ``(W [F] float64, b float)``."""
        return self.model.weight.numpy().astype(np.float64), float(self.model.bias.numpy())

    def predict(self, features):
        weights, bias = self.parameters()
        return np.asarray(features, np.float64) @ weights + bias

    def plot(self, title="", max_points=500):
        """The training data against the fitted line (and the least-squares line, dashed) as a
        ``uint8`` image ``[H, W, 4]``. With several features the x axis is the prediction."""
        x, y = self.x[:max_points], self.y[:max_points]
        weights, bias = self.solution
        figure = new_figure()
        axes = figure.add_subplot()
        if self.model.num_features == 1:
            grid = np.linspace(x.min(), x.max(), 2)[:, None]  # [2, 1]
            axes.scatter(x[:, 0], y, s=6, alpha=0.5, label="data")
            axes.plot(grid[:, 0], self.predict(grid), "r-", label="fitted")
            axes.plot(grid[:, 0], grid @ weights + bias, "k--", lw=1, label="least squares")
            axes.set_xlabel(self.feature_names[0])
        else:
            fitted = self.predict(x)
            axes.scatter(fitted, y, s=6, alpha=0.5, label="data")
            grid = np.linspace(fitted.min(), fitted.max(), 2)
            axes.plot(grid, grid, "r-", label="y = fitted")
            axes.set_xlabel("fitted Wx + b")
        axes.set_ylabel("y")
        axes.set_title(title)
        axes.legend(loc="best", fontsize="small")
        figure.tight_layout()
        return figure_to_image(figure)


def _check_xy(model, features, targets, x_name, y_name):
    x = np.asarray(features, np.float64)
    y = np.asarray(targets, np.float64)
    if x.ndim != 2 or x.shape[1] != model.num_features:
        raise ValueError(f"RegressionTask: {x_name} must have shape [N, {model.num_features}], got {list(x.shape)}")
    if y.shape != (len(x),):
        raise ValueError(f"RegressionTask: {y_name} must have shape [{len(x)}], got {list(y.shape)}")
    return x, y
