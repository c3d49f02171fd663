# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Linear regression with TensorBoard
#
# The lecture's first TensorFlow program: fit `y = W x + b` by gradient descent and watch
# it learn in TensorBoard — the loss, each weight and the bias, the `mean`/`stddev`/`min`/`max`
# summaries of `W` (the lecture's `variable_summaries`), weight histograms, and a plot of the
# data against the fitted line. Because the best answer is known in closed form (least
# squares), we can check how close gradient descent gets. Runs offline in seconds.

# %% [markdown]
# ## Setup
#
# Runs write under the repository's `logdir/` (found by walking up from this folder to the
# one holding `setup.cfg`), so `tensorboard --logdir logdir` in the clone shows them.

# %%
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import matplotlib.pyplot as plt
import numpy as np

from tfseq.data import read_csv_table
from tfseq.demos.regress import least_squares, LinearRegression, RegressionTask, synthetic_data
from tfseq.demos.regress.model import train_validation_split
from tfseq.train import default_run_name, Progress, repository_logdir, RunWriters, Trainer

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
RUN_DIR = repository_logdir() / "notebooks" / "regression" / default_run_name("notebook")
print("this run writes to", RUN_DIR)

# %% [markdown]
# ## Configuration

# %%
NUM_EXAMPLES = 200
NUM_FEATURES = 1
NOISE = 0.15  # standard deviation of the Gaussian noise added to y
SEED = 0
LEARNING_RATE = 0.1
EPOCHS = 3 if QUICK else 10
STEPS_PER_EPOCH = 20  # full-batch gradient steps between evaluations and plots

# %% [markdown]
# ## Data
#
# Synthetic: `W`, `b` and `x` are drawn from the seed, then `y = x W + b + noise`. A fifth
# of the rows is held out for validation.

# %%
x, y, true_w, true_b = synthetic_data(NUM_EXAMPLES, NUM_FEATURES, NOISE, seed=SEED)
print(f"true W = {true_w}, b = {true_b:.4f}, noise stddev {NOISE}")
train_x, train_y, valid_x, valid_y = train_validation_split(x, y, valid_fraction=0.2, seed=SEED)
print(f"{len(train_y)} training rows, {len(valid_y)} validation rows")

# %% [markdown]
# Your own data comes from a CSV file with a header row: `read_csv_table(path, target=...)`
# (or `tfseq regress --csv FILE --target COLUMN`). A bad file is a `ValueError` naming the
# file, the line and the column:

# %%
csv_path = pathlib.Path(tempfile.mkdtemp()) / "example.csv"
csv_path.write_text("size,price\n1.0,3.1\n2.0,5.0\n3.0,n/a\n")
try:
    read_csv_table(csv_path, target="price")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Model
#
# In TF1 the lecture wrote the graph by hand:
#
# ```python
# W = tf.Variable(tf.zeros([1]), name="W")
# b = tf.Variable(tf.zeros([1]), name="b")
# y_hat = W * x + b
# loss = tf.reduce_mean(tf.square(y_hat - y))
# train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
# tf.summary.scalar("loss", loss)
# ```
#
# Here the model is a Keras layer with the same two variables, and the loss and its
# summaries come from `RegressionTask`, which the shared `tfseq.train.Trainer` runs.

# %%
keras.utils.set_random_seed(SEED)
model = LinearRegression(NUM_FEATURES)
task = RegressionTask(model, train_x, train_y, STEPS_PER_EPOCH, valid_x, valid_y)
print("W", model.weight.numpy(), "b", model.bias.numpy())

# %% [markdown]
# ## Train
#
# Full-batch gradient descent with SGD. Every 5 steps the Trainer writes "Training Loss",
# `W/x0`, `b` and `W/mean|stddev|min|max`; every epoch the validation loss and R², the
# weight histograms, a plot of the fit and a parameter table.

# %%
writers = RunWriters(RUN_DIR)
writers.hparams({"learning_rate": LEARNING_RATE, "noise": NOISE, "examples": NUM_EXAMPLES, "seed": SEED})
trainer = Trainer(task, keras.optimizers.SGD(LEARNING_RATE), EPOCHS, writers=writers, log_every=5,
                  progress=Progress(enabled=False), jit_compile=False)
history = trainer.fit()
writers.close()

# %% [markdown]
# Gradient descent against the closed-form least-squares solution (NumPy's `lstsq` on the
# same training rows):

# %%
best_w, best_b = least_squares(train_x, train_y)  # np.linalg.lstsq on [x, 1]
learned_w, learned_b = task.parameters()
print(f"{'parameter':10} {'gradient descent':>17} {'least squares':>14} {'difference':>11}")
names = [f"W[x{i}]" for i in range(NUM_FEATURES)] + ["b"]
for name, ours, best in zip(names, [*learned_w, learned_b], [*best_w, best_b]):
    print(f"{name:10} {ours:17.6f} {best:14.6f} {ours - best:11.2g}")
print("largest difference:", np.abs(np.append(learned_w - best_w, learned_b - best_b)).max())
print("validation:", task.evaluate("validation"))

# %%
plt.figure(figsize=(6, 4.5))
plt.imshow(task.plot(title="after training"))
plt.axis("off");

# %% [markdown]
# The same from the command line (prints the same kind of table, writes
# `logdir/regression/<run>/`):
#
# ```
# tfseq regress --features 1 --noise 0.3
# tfseq regress --csv data.csv --target price
# ```

# %% [markdown]
# ## Inspect in TensorBoard
#
# From the repository root:
#
# ```
# tensorboard --logdir logdir
# ```
#
# or inside Jupyter: `%load_ext tensorboard` then `%tensorboard --logdir ../logdir`.
# *Scalars* shows the loss falling and `W/x0`, `b` settling on the least-squares values;
# *Histograms* the weights by epoch; *Images* the fitted line by epoch; *Text* the parameter
# table. Here are the tags this run wrote, read back from its event files:

# %%
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

for split in ("train", "validation"):
    events = EventAccumulator(str(RUN_DIR / split))
    events.Reload()
    by_kind = {}
    for tag in events.Tags()["tensors"]:
        by_kind.setdefault(events.SummaryMetadata(tag).plugin_data.plugin_name, []).append(tag)
    print(split, by_kind)
