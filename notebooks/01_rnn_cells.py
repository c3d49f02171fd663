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
# # RNN cells: TF1's `tf.nn.rnn_cell` on Keras 3
#
# The cells and their equations, checked against NumPy; LSTM vs GRU; porting a TF1
# snippet line by line; loading a checkpoint written by TF1-style code; and a small
# LSTM-vs-GRU race logged to TensorBoard. Offline, about a minute on a laptop CPU.

# %% [markdown]
# ## Setup

# %%
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np
import tensorflow as tf

from tfseq import compat, nn, rnn_cell
from tfseq.train import default_run_name, repository_logdir

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
EXPERIMENT_DIR = repository_logdir() / "notebooks" / "rnn_cells"
print("runs go to", EXPERIMENT_DIR)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# %% [markdown]
# ## Configuration

# %%
BATCH, TIME, DEPTH, UNITS = 4, 6, 3, 5  # shapes for looking at the cells
SEED = 0
# the LSTM-vs-GRU race: remember the sign of the first of SEQ_LEN inputs
SEQ_LEN, HIDDEN = 20, 16
EXAMPLES, EPOCHS = (256, 1) if QUICK else (1024, 12)

# %% [markdown]
# ## Data
#
# A random batch `[batch, time, depth]` with per-row lengths, and the race's dataset:
# sequences of ±1, labelled by their first element — the network must carry one bit
# across `SEQ_LEN` steps.

# %%
rng = np.random.default_rng(SEED)
inputs = rng.normal(size=(BATCH, TIME, DEPTH)).astype("float32")
lengths = np.array([6, 4, 1, 5])

race_x = rng.choice([-1.0, 1.0], size=(EXAMPLES, SEQ_LEN, 1)).astype("float32")
race_y = (race_x[:, 0, 0] > 0).astype("float32")
print(inputs.shape, lengths, race_x.shape, race_y.mean())

# %% [markdown]
# ## Model
#
# ### The cells and their equations
#
# Every tfseq cell is a Keras 3 layer with TF1's names, arguments, gate order and
# variable names. With `[x, h]` the concatenation of input and previous output:
#
# **BasicRNNCell** (Elman): $h' = \tanh([x, h] W + b)$
#
# **BasicLSTMCell**: $[i, j, f, o] = [x, h] W + b$ (TF1's gate order), then
# $c' = \sigma(f + \text{forget\_bias}) \odot c + \sigma(i) \odot \tanh(j)$ and
# $h' = \sigma(o) \odot \tanh(c')$; the state is `LSTMStateTuple(c, h)`.
#
# **GRUCell** (reset before the candidate matmul):
# $[r, u] = \sigma([x, h] W_g + b_g)$, $\tilde h = \tanh([x, r \odot h] W_c + b_c)$,
# $h' = u \odot h + (1 - u) \odot \tilde h$.
#
# **LSTMCell** adds peepholes (`use_peepholes`), `cell_clip`, a projection `num_proj` and
# `proj_clip`. One step of the LSTM, by the cell and by the equations in NumPy:

# %%
lstm = rnn_cell.BasicLSTMCell(UNITS, forget_bias=1.0)
state = rnn_cell.LSTMStateTuple(c=rng.normal(size=(BATCH, UNITS)).astype("float32"),
                                h=rng.normal(size=(BATCH, UNITS)).astype("float32"))
output, new_state = lstm(inputs[:, 0], state)

kernel, bias = (v.numpy() for v in lstm.tf1_variables().values())
z = np.concatenate([inputs[:, 0], state.h], axis=1) @ kernel + bias  # [batch, 4 * units]
i, j, f, o = np.split(z, 4, axis=1)
c_new = sigmoid(f + 1.0) * state.c + sigmoid(i) * np.tanh(j)
h_new = sigmoid(o) * np.tanh(c_new)
print(list(lstm.tf1_variables()))
print("max |cell - NumPy|:", np.abs(output.numpy() - h_new).max(), np.abs(new_state.c.numpy() - c_new).max())

# %%
gru = rnn_cell.GRUCell(UNITS)
h = rng.normal(size=(BATCH, UNITS)).astype("float32")
output, _ = gru(inputs[:, 0], h)
weights = {name.split("/", 1)[1]: v.numpy() for name, v in gru.tf1_variables().items()}
r, u = np.split(sigmoid(np.concatenate([inputs[:, 0], h], 1) @ weights["gates/kernel"] + weights["gates/bias"]), 2, 1)
candidate = np.tanh(np.concatenate([inputs[:, 0], r * h], 1) @ weights["candidate/kernel"] + weights["candidate/bias"])
print(list(weights))
print("max |cell - NumPy|:", np.abs(output.numpy() - (u * h + (1 - u) * candidate)).max())

# %% [markdown]
# ### LSTM vs GRU
#
# The LSTM keeps two vectors (`c`, the memory, and `h`, the output) and four gate blocks;
# the GRU one vector and three blocks, so about 3/4 of the weights for the same width.

# %%
for cell in (rnn_cell.BasicLSTMCell(UNITS), rnn_cell.GRUCell(UNITS)):
    outputs, final = nn.dynamic_rnn(cell, inputs)
    shapes = {name: tuple(v.shape) for name, v in cell.tf1_variables().items()}
    print(f"{type(cell).__name__:14} state {cell.state_size}, {cell.count_params()} weights: {shapes}")

# %% [markdown]
# ### Porting a TF1 snippet line by line
#
# | TF1 | tfseq |
# |---|---|
# | `cells = [tf.nn.rnn_cell.BasicLSTMCell(5) for _ in range(2)]` | `cells = [rnn_cell.BasicLSTMCell(5) for _ in range(2)]` |
# | `cell = tf.nn.rnn_cell.MultiRNNCell(cells)` | `cell = rnn_cell.MultiRNNCell(cells)` |
# | `init = cell.zero_state(4, tf.float32)` | `init = cell.zero_state(4, tf.float32)` |
# | `outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, initial_state=init)` | `outputs, state = nn.dynamic_rnn(cell, x, sequence_length=lengths, initial_state=init)` |
# | `tf.train.Saver().restore(sess, path)` | `compat.load_tf1_checkpoint(path, cell)` |
#
# Only the imports change. As in TF1, outputs past a row's length are zeros and the state
# is the one at its last valid step:

# %%
cells = [rnn_cell.BasicLSTMCell(UNITS) for _ in range(2)]
cell = rnn_cell.MultiRNNCell(cells)
init = cell.zero_state(BATCH, tf.float32)
outputs, final_state = nn.dynamic_rnn(cell, inputs, sequence_length=lengths, initial_state=init)
print(outputs.shape, [len(layer) for layer in final_state])
print("row 2 (length 1): largest output after its first step:", float(np.abs(outputs[2, 1:]).max()))
print("final h of row 1 == its output at step 4:",
      np.allclose(final_state[1].h[1], outputs[1, lengths[1] - 1]))

# %% [markdown]
# ### Loading a TF1 checkpoint
#
# A TF1 program saved its variables by name with `tf.train.Saver`. We write such a
# checkpoint here with the same TF1 API (`tf.compat.v1.get_variable` under variable
# scopes, in a graph, then `Saver.save`), exactly the names `dynamic_rnn` over a two-layer
# `MultiRNNCell` of `BasicLSTMCell(5)` created.

# %%
tf1 = tf.compat.v1
checkpoint_dir = tempfile.mkdtemp()
with tf.Graph().as_default(), tf1.Session() as sess:
    for layer, depth in enumerate([DEPTH, UNITS]):
        with tf1.variable_scope(f"rnn/multi_rnn_cell/cell_{layer}/basic_lstm_cell"):
            tf1.get_variable("kernel", [depth + UNITS, 4 * UNITS])
            tf1.get_variable("bias", [4 * UNITS], initializer=tf1.random_normal_initializer(seed=layer))
    sess.run(tf1.global_variables_initializer())
    prefix = tf1.train.Saver().save(sess, os.path.join(checkpoint_dir, "model.ckpt"), global_step=1000)
print(prefix)

# %% [markdown]
# `tfseq inspect-checkpoint` lists what is inside and which tfseq cell each variable maps
# to; `compat.load_tf1_checkpoint` loads it, strictly (any missing, unexpected or
# wrongly shaped name is an error):

# %%
from tfseq.cli.main import main as tfseq_cli

exit_code = tfseq_cli(["inspect-checkpoint", checkpoint_dir])

# %%
cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(UNITS, forget_bias=1.0) for _ in range(2)])
cell.build((None, DEPTH))
compat.load_tf1_checkpoint(checkpoint_dir, cell)
print(compat.tf1_variable_names(cell))  # what the cell expects, under dynamic_rnn's scope "rnn"
reader = tf.train.load_checkpoint(prefix)
print("every weight equals the checkpoint's:", all(
    np.array_equal(reader.get_tensor("rnn/" + name), variable.numpy())
    for name, variable in cell.tf1_variables().items()))

# %% [markdown]
# The loaded cell computes what TF1's formulas give with the checkpoint's numbers:

# %%
outputs, _ = nn.dynamic_rnn(cell, inputs)
h_numpy = inputs
for layer in range(2):
    kernel = reader.get_tensor(f"rnn/multi_rnn_cell/cell_{layer}/basic_lstm_cell/kernel")
    bias = reader.get_tensor(f"rnn/multi_rnn_cell/cell_{layer}/basic_lstm_cell/bias")
    c, h, steps = np.zeros((BATCH, UNITS)), np.zeros((BATCH, UNITS)), []
    for t in range(TIME):
        i, j, f, o = np.split(np.concatenate([h_numpy[:, t], h], 1) @ kernel + bias, 4, 1)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        steps.append(h)
    h_numpy = np.stack(steps, 1)
print("max |tfseq - NumPy(TF1 formulas)|:", np.abs(outputs.numpy() - h_numpy).max())

# %% [markdown]
# ## Train
#
# The race: the same Keras model with an LSTM or a GRU of 16 units (through `tfseq.nn.RNN`,
# a drop-in for `keras.layers.RNN` that runs the fused fast path), trained with
# `model.fit` and Keras' TensorBoard callback. Both must carry the first input's sign for
# 20 steps.

# %%
histories = {}
for name, make_cell in [("lstm", lambda: rnn_cell.BasicLSTMCell(HIDDEN)), ("gru", lambda: rnn_cell.GRUCell(HIDDEN))]:
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([keras.Input((SEQ_LEN, 1)), nn.RNN(make_cell()), keras.layers.Dense(1, "sigmoid")])
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    run_dir = EXPERIMENT_DIR / default_run_name(name)  # a new run each time the notebook runs
    callback = keras.callbacks.TensorBoard(log_dir=str(run_dir), histogram_freq=1)
    history = model.fit(race_x, race_y, batch_size=32, epochs=EPOCHS, validation_split=0.25,
                        callbacks=[callback], verbose=0)
    histories[name] = history.history
    print(f"{name}: validation accuracy by epoch", np.round(history.history["val_accuracy"], 3))

# %% [markdown]
# ## Inspect in TensorBoard
#
# From the repository root: `tensorboard --logdir logdir`, or in Jupyter
# `%load_ext tensorboard` and `%tensorboard --logdir ../logdir`. The runs
# `notebooks/rnn_cells/lstm-<time>` and `.../gru-<time>` show `epoch_loss` and `epoch_accuracy` side by
# side (train and validation) and the weight histograms per epoch. The event files:

# %%
for path in sorted(EXPERIMENT_DIR.glob("*/*/events.out.tfevents.*")):
    print(path.relative_to(EXPERIMENT_DIR.parent))
