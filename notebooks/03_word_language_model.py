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
# # A word-level language model (Zaremba et al. 2014, the TF PTB tutorial)
#
# The TF PTB tutorial's model and training, on tfseq cells: embedding → two LSTM layers →
# softmax over the vocabulary, truncated backpropagation through time with the state
# carried from batch to batch, SGD with gradient clipping, perplexity. Here it runs on a
# tiny configuration and the 100 KB Shakespeare excerpt shipped with tfseq (offline, under
# a minute); the end says how to run the tutorial's `small` configuration on PTB for real.

# %% [markdown]
# ## Setup

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

from tfseq import data
from tfseq.demos.lm import generate_text, language_model_from_config, presets
from tfseq.demos.lm import LanguageModelTask
from tfseq.train import default_run_name, Progress, repository_logdir, RunWriters, Trainer

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
RUN_DIR = repository_logdir() / "notebooks" / "shakespeare-words" / default_run_name("small-tiny")
print("this run writes to", RUN_DIR)

# %% [markdown]
# ## Configuration
#
# The tutorial's `small` preset (2×200 LSTM, 20 steps, batch 20, SGD at 1.0 halved after
# epoch 4, clipping at 5) shrunk to 2×64 units and 8 epochs. The published numbers sit
# next to each preset.

# %%
print(presets.get("small"))
corpus = data.load_corpus("builtin:shakespeare", level="word")
config = presets.get("small").with_overrides(
    hidden_size=64, max_max_epoch=1 if QUICK else 8, vocab_size=corpus.vocab.size)
config

# %% [markdown]
# ## Data
#
# Word level, PTB style: words split on whitespace, `<eos>` after every line, a
# vocabulary from the training split only (unknown validation/test words become `<unk>`).
# The stream is cut into `batch_size` rows read `num_steps` words at a time, so row `b` of
# one batch continues row `b` of the previous one.

# %%
print(corpus.summary())
x, y = next(iter(data.lm_batches(corpus.train, config.batch_size, config.num_steps)))
print("x:", " ".join(corpus.vocab.decode(x[0].numpy())))
print("y:", " ".join(corpus.vocab.decode(y[0].numpy())))

# %% [markdown]
# ## Model

# %%
model = language_model_from_config(config, seed=0)
model.summary()

# %% [markdown]
# ## Train
#
# The tutorial's cost is the sum over time of the batch-mean cross-entropy (which is why
# SGD at learning rate 1.0 works); perplexity is `exp(mean cross-entropy per word)`. A
# 60-word sample goes to TensorBoard after each epoch.

# %%
def sample(epoch):
    return {"samples": generate_text(model, corpus.vocab, "word", length=60, temperature=0.8, seed=epoch)}


task = LanguageModelTask(model, corpus.train, config.batch_size, config.num_steps,
                         valid_ids=corpus.valid, test_ids=corpus.test, texts=sample)
writers = RunWriters(RUN_DIR)
writers.hparams(config.to_dict())
trainer = Trainer(task, keras.optimizers.SGD(config.learning_rate), config.max_max_epoch,
                  config.learning_rate_at, config.max_grad_norm, writers=writers,
                  checkpoint_dir=os.path.join(RUN_DIR, "checkpoints"), progress=Progress(enabled=False))
history = trainer.fit()
test = task.evaluate("test")
print(f"test perplexity {test['perplexity']:.1f} over {test['tokens']} words")
writers.close()

# %% [markdown]
# 17k words are far too few for a word model (a sixth of the test words are not even in
# the vocabulary), so the perplexity stays high and the text is only locally plausible:

# %%
print(generate_text(model, corpus.vocab, "word", prime="the king", length=40, temperature=0.8, seed=3))

# %% [markdown]
# ## Running PTB `small` for real
#
# With the three PTB files (`ptb.train.txt`, `ptb.valid.txt`, `ptb.test.txt` from Mikolov's
# `simple-examples.tgz`) in a folder:
#
# ```
# tfseq lm train --config small --data-dir path/to/ptb --level word --logdir logdir/ptb --run small-lstm
# tfseq lm train --data ptb --config small      # downloads simple-examples.tgz once (network needed)
# ```
#
# or here, `corpus = data.load_corpus("path/to/ptb", level="word")` and
# `config = presets.get("small").with_overrides(vocab_size=corpus.vocab.size)` with the
# cells above unchanged. On a 2-core CPU it took about 33–46 minutes for 13 epochs and
# reached test perplexity 113.8–114.4 (the tutorial reports 115.91, Zaremba et al. 114.5);
# `small_reg` (variational dropout, tied embeddings) reached 97.2. See the README.

# %% [markdown]
# ## Inspect in TensorBoard
#
# `tensorboard --logdir logdir` from the repository root (or `%load_ext tensorboard` and
# `%tensorboard --logdir ../logdir` here): "Training Loss", "Perplexity", "Learning Rate",
# "Gradient Norm", "words_per_second", "Validation Loss", weight histograms, the samples
# (Text tab) and the hyper-parameters (HParams tab).

# %%
for split in ("train", "validation"):
    print(split, sorted(path.name for path in (RUN_DIR / split).iterdir()))
