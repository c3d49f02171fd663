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
# # Translation with attention (seq2seq, tensorflow/nmt style)
#
# A small Spanish → English translator: a bidirectional LSTM encoder, an LSTM decoder with
# (scaled) Luong attention, trained on the 50,973 short Tatoeba sentence pairs shipped with tfseq.
# We look at where it attends (a heatmap) and compare greedy decoding with beam search.
# Offline, a couple of minutes on a laptop CPU; the model is tiny, so expect rough
# translations of short sentences.

# %% [markdown]
# ## Setup

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import matplotlib.pyplot as plt

from tfseq.data.parallel import ParallelCorpus, load_parallel
from tfseq.data.subwords import train_tokenizer
from tfseq.demos.translate import presets as translation_presets
from tfseq.demos.translate.model import translation_model_from_config
from tfseq.demos.translate.task import NMTLearningRate, TranslationTask, attention_text
from tfseq.train import default_run_name, Progress, repository_logdir, RunWriters, Trainer

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
RUN_DIR = repository_logdir() / "notebooks" / "translate-spa-eng" / default_run_name("tiny")
print("this run writes to", RUN_DIR)

# %% [markdown]
# ## Configuration
#
# tfseq's `tiny` preset: sentencepiece vocabularies of up to 1,000 pieces, 2 layers of 128
# LSTM units (the encoder's first layer bidirectional), scaled Luong attention, Adam, 8
# epochs. (The test suite shrinks it further.)

# %%
config = translation_presets.get("tiny")
if QUICK:
    config = config.with_overrides(num_units=32, epochs=1)
EVAL_SENTENCES = 20 if QUICK else 200  # BLEU on this many validation pairs after each epoch
config

# %% [markdown]
# ## Data
#
# Sentence pairs, split 80/10/10; the tokenizers are trained on the training side only.

# %%
corpus = load_parallel("builtin:spa-eng")
if QUICK:
    corpus = ParallelCorpus(corpus.name, corpus.src, corpus.tgt, corpus.train[:600], corpus.valid, corpus.test)
print(corpus.summary())
for source, target in corpus.train[:3]:
    print(f"{source}  ->  {target}")
src_tok = train_tokenizer(config.tokenizer, [s for s, _ in corpus.train], config.src_vocab_size)
tgt_tok = train_tokenizer(config.tokenizer, [t for _, t in corpus.train], config.tgt_vocab_size)
print("vocabularies:", src_tok.size, tgt_tok.size)
print(src_tok.pieces(src_tok.encode(corpus.train[0][0])))

# %% [markdown]
# ## Model
#
# The encoder reads the source into states $\bar h_s$. At each target step the decoder
# cell's output $h_t$ scores every source state, the scores become weights, and their
# weighted sum is the context (Luong et al. 2015):
#
# $$\text{score}(h_t, \bar h_s) = g\, h_t^\top W \bar h_s \qquad
#   a_{ts} = \operatorname{softmax}_s \text{score}(h_t, \bar h_s) \qquad
#   c_t = \sum_s a_{ts} \bar h_s \qquad \tilde h_t = W_c [h_t; c_t]$$
#
# ($g$ is the learnt scale of *scaled* Luong attention; $\tilde h_t$ feeds the softmax
# and the next step). The weights $a_{ts}$ are what the heatmap below shows.

# %%
keras.utils.set_random_seed(0)
model = translation_model_from_config(config, src_tok.size, tgt_tok.size, seed=0)
task = TranslationTask(model, src_tok, tgt_tok, corpus, config, seed=0, eval_sentences=EVAL_SENTENCES)
print(f"{task.steps_per_epoch()} steps per epoch")

# %% [markdown]
# ## Train
#
# Mean cross-entropy per target token, Adam with tensorflow/nmt's learning-rate schedule;
# after each epoch the validation loss and BLEU (sacrebleu), sample translations and an
# attention heatmap go to TensorBoard.

# %%
writers = RunWriters(RUN_DIR)
writers.hparams(config.to_dict())
total_steps = config.epochs * task.steps_per_epoch()
schedule = NMTLearningRate(config.learning_rate, total_steps, config.warmup_steps, config.decay_scheme)
trainer = Trainer(task, keras.optimizers.Adam(schedule), config.epochs, max_grad_norm=config.max_grad_norm,
                  writers=writers, checkpoint_dir=os.path.join(RUN_DIR, "checkpoints"),
                  progress=Progress(enabled=False), jit_compile=False if QUICK else None)
history = trainer.fit()
writers.flush()

# %% [markdown]
# ### Where the model looks: an attention heatmap
#
# One row per translated piece, one column per source piece; bright cells are the source
# pieces that piece attended to.

# %%
sentence = corpus.valid[0][0]
src_pieces, tgt_pieces, weights = task.attention(sentence)
print(sentence, "->", task.translate([sentence], beam_width=1)[0])
figure, axes = plt.subplots(figsize=(1.5 + 0.4 * len(src_pieces), 1.2 + 0.35 * len(tgt_pieces)))
axes.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
axes.set_xticks(range(len(src_pieces)), src_pieces, rotation=90)
axes.set_yticks(range(len(tgt_pieces)), tgt_pieces)
axes.set_xlabel("source")
axes.set_ylabel("translation")
print(f"attention rows sum to 1: {abs(weights.sum(axis=1) - 1).max() < 1e-4}")
print(attention_text(src_pieces, tgt_pieces, weights))

# %% [markdown]
# ### Greedy decoding vs beam search
#
# Greedy decoding keeps the single best piece at each step; beam search keeps the
# `beam_width` best partial translations, ranked by log-probability divided by the GNMT
# length penalty $((5 + |y|) / 6)^\alpha$.

# %%
pairs = corpus.test[: 20 if QUICK else 200]
greedy = task.score(pairs, beam_width=1)
beam = task.score(pairs, beam_width=5, length_penalty=1.0)
print(f"test BLEU on {len(pairs)} sentences: greedy {greedy['BLEU']:.2f}, beam 5 {beam['BLEU']:.2f}")
for (source, reference), g, b in list(zip(pairs, greedy["hypotheses"], beam["hypotheses"]))[:5]:
    print(f"{source}\n  reference: {reference}\n  greedy:    {g}\n  beam 5:    {b}")

# %% [markdown]
# The command line trains, scores and decodes the same way:
#
# ```
# tfseq translate train
# tfseq translate eval --logdir logdir/translate-spa-eng --run RUN --beam-width 5
# tfseq translate decode --logdir logdir/translate-spa-eng --run RUN --show-attention "¿Dónde está el baño?"
# ```

# %% [markdown]
# ## Inspect in TensorBoard
#
# `tensorboard --logdir logdir` from the repository root (or `%load_ext tensorboard` and
# `%tensorboard --logdir ../logdir` here): training loss, perplexity, learning rate,
# validation loss and BLEU (Scalars), sample translations (Text), the attention heatmap
# per epoch (Images), weight histograms and the hyper-parameters.

# %%
for split in ("train", "validation"):
    print(split, sorted(path.name for path in (RUN_DIR / split).iterdir()))
