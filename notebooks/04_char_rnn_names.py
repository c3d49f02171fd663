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
# # A character-level RNN that invents first names
#
# The lecture example: an LSTM reads 32,033 US first names one character at a time and
# learns to write new ones. We train it, then sample at several temperatures to see the
# trade-off between safe, common-looking names and wild ones. Everything runs offline
# (the corpus ships with tfseq) in about a minute on a laptop CPU.

# %% [markdown]
# ## Setup

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

from tfseq import data
from tfseq.demos.lm import generate_lines, language_model_from_config, novelty, presets
from tfseq.demos.lm import LanguageModelTask
from tfseq.train import default_run_name, Progress, repository_logdir, RunWriters, Trainer

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
RUN_DIR = repository_logdir() / "notebooks" / "names" / default_run_name("tiny-lstm")
print("this run writes to", RUN_DIR)

# %% [markdown]
# ## Configuration
#
# `tiny` is tfseq's quick char-level preset: one LSTM layer of 128 units, 16-character
# windows, SGD at learning rate 1.0 halved each epoch after the 4th (the PTB tutorial's
# schedule). Any field can be overridden.

# %%
corpus = data.load_corpus("builtin:names", level="char")
config = presets.get("tiny").with_overrides(vocab_size=corpus.vocab.size)
if QUICK:
    config = config.with_overrides(max_max_epoch=1)
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
# summaries (with a few sampled names each epoch) in the run directory. Running the cell
# again resumes from the last checkpoint (or says the run is complete).

# %%
known = set(corpus.lines())


def sampled_names(epoch):
    names = generate_lines(model, corpus.vocab, "char", num_lines=10, temperature=0.8, seed=epoch)
    return {"samples": "\n".join(f"* `{name}`" for name in names)}


task = LanguageModelTask(model, corpus.train, config.batch_size, config.num_steps,
                         valid_ids=corpus.valid, test_ids=corpus.test, texts=sampled_names)
writers = RunWriters(RUN_DIR)
writers.hparams(config.to_dict())
trainer = Trainer(task, keras.optimizers.SGD(config.learning_rate), config.max_max_epoch,
                  config.learning_rate_at, config.max_grad_norm, writers=writers,
                  checkpoint_dir=os.path.join(RUN_DIR, "checkpoints"), progress=Progress(enabled=False))
history = trainer.fit()
writers.flush()

# %% [markdown]
# ## Inventing names: temperature
#
# Each character is drawn from `softmax(logits / T)`. A low temperature sharpens the
# distribution (safe, common names, often ones already in the corpus); `T = 1` samples
# the model as trained; a high temperature flattens it (novel but stranger). Greedy
# decoding (`T → 0`) always picks the most likely character, so it says the same name
# every time. `novelty` is the fraction of 200 samples not in the corpus.

# %%
greedy = generate_lines(model, corpus.vocab, "char", num_lines=3, greedy=True)
print(f"greedy: {greedy}")
for temperature in (0.5, 0.8, 1.0, 1.5):
    names = generate_lines(model, corpus.vocab, "char", num_lines=200, temperature=temperature, seed=1)
    print(f"T={temperature}: novel: {novelty(names, known):.0%}  ", ", ".join(names[:8]))

# %% [markdown]
# Names that start with a prefix you choose:

# %%
print(generate_lines(model, corpus.vocab, "char", num_lines=8, temperature=0.8, prime="ma", seed=2))

# %% [markdown]
# The command line trains this model with `--config tiny` (six epochs, test 1.9954 nats per
# character), and by default a larger one, the `char` preset: two layers of 256 units with
# variational dropout, eight epochs, test 1.9298 nats per character in about 3 CPU-minutes:
#
# ```
# tfseq lm train
# tfseq lm sample --logdir logdir/names --run RUN --num 20 --temperature 0.8 --prime ma
# ```

# %% [markdown]
# ## Inspect in TensorBoard
#
# ```
# tensorboard --logdir logdir
# ```
#
# (or `%load_ext tensorboard` and `%tensorboard --logdir ../logdir` here) shows "Training
# Loss", "Learning Rate", "Validation Loss", perplexity, gradient norm, words/s, weight
# histograms, the names sampled after each epoch (Text tab) and the hyper-parameters
# (HParams tab).

# %%
for split in ("train", "validation"):
    print(split, sorted(path.name for path in (RUN_DIR / split).iterdir()))
