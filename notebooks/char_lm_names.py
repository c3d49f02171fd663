# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A character-level RNN that invents first names
#
# The lecture example: an LSTM reads 32,033 US first names one character at a time and
# learns to write new ones. Everything here runs offline in about a minute on a laptop
# CPU (the corpus ships with tfseq). This file is a Jupyter notebook in text form:
# open it with `jupytext --to notebook char_lm_names.py`, or run it as a script.

# %% [markdown]
# ## Setup

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras

from tfseq import data
from tfseq.models import generate_lines, language_model_from_config, novelty, presets
from tfseq.train import LanguageModelTask, Progress, RunWriters, Trainer

LOGDIR = os.environ.get("TFSEQ_NOTEBOOK_LOGDIR", "../logdir/notebooks/char_lm_names")
EPOCHS = int(os.environ.get("TFSEQ_NOTEBOOK_EPOCHS", "3"))

# %% [markdown]
# ## Config
#
# `tiny` is tfseq's quick char-level preset: one LSTM layer of 128 units, 16-character
# windows, SGD at learning rate 1.0 with the PTB tutorial's decay. Any field can be
# overridden.

# %%
corpus = data.load_corpus("builtin:names", level="char")
config = presets.get("tiny").with_overrides(vocab_size=corpus.vocab.size, max_max_epoch=EPOCHS)
config

# %% [markdown]
# ## Data
#
# The vocabulary is built from the training names only. A name ends with `"\n"`, so the
# model learns where names stop. Batches are the PTB tutorial's consecutive windows: row
# `b` of one batch continues row `b` of the previous one, so the state carries over.

# %%
print(corpus.summary())
print(corpus.vocab.tokens)
x, y = next(iter(data.lm_batches(corpus.train, config.batch_size, config.num_steps)))
print("x:", repr("".join(corpus.vocab.decode(x[0].numpy()))))
print("y:", repr("".join(corpus.vocab.decode(y[0].numpy()))))

# %% [markdown]
# ## Model
#
# Embedding → `MultiRNNCell` of TF1-exact `BasicLSTMCell`s → softmax, with the state
# passed in and out explicitly.

# %%
model = language_model_from_config(config, seed=0)
model.summary()

# %% [markdown]
# ## Train
#
# Truncated backpropagation through time, clipped SGD, checkpoints and TensorBoard
# summaries under `LOGDIR`. Running the cell again resumes from the last checkpoint.

# %%
task = LanguageModelTask(model, corpus.train, config.batch_size, config.num_steps,
                         valid_ids=corpus.valid, test_ids=corpus.test)
trainer = Trainer(task, keras.optimizers.SGD(config.learning_rate), config.max_max_epoch,
                  config.learning_rate_at, config.max_grad_norm, writers=RunWriters(LOGDIR),
                  checkpoint_dir=os.path.join(LOGDIR, "checkpoints"), progress=Progress(enabled=False))
history = trainer.fit()
for epoch in history:
    print(epoch)

# %% [markdown]
# ## Sample new names
#
# Lower temperatures give safer, more common-looking names; `novelty` is the fraction
# that are not in the corpus.

# %%
names = generate_lines(model, corpus.vocab, "char", num_lines=20, temperature=0.8, seed=1)
print(names)
print(f"novel: {novelty(names, corpus.lines()):.0%}")

# %% [markdown]
# ## Inspect in TensorBoard
#
# ```
# tensorboard --logdir logdir
# ```
# shows "Training Loss", "Learning Rate", "Validation Loss", perplexity, gradient norm,
# words/s, weight histograms, the generated samples (Text tab) and the run's
# hyper-parameters (HParams tab).
