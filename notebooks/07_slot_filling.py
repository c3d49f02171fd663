# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Slot filling and intent detection (many-to-many with bidirectional cells)
#
# "add the album to my flow español playlist": one label per word — `B-music_item` on
# *album*, `B-playlist_owner` on *my*, `B-playlist I-playlist` on *flow español* — and one
# intent for the sentence, `AddToPlaylist`. A word's label often depends on the words after
# it (*flow* is a playlist name because *playlist* follows), so the encoder reads the
# sentence in both directions. We train a joint tagger and intent classifier on the
# SNIPS slice shipped with tfseq, score it the way the papers do (conlleval's chunk F1),
# and measure what the backward direction brings. Offline, a few CPU minutes.

# %% [markdown]
# ## Setup

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

from tfseq.data.slots import SlotCorpus, SlotVocabularies, load_slots
from tfseq.demos.tag import presets as tag_presets
from tfseq.demos.tag.model import tag_model_from_config
from tfseq.demos.tag.task import SCORING, TagTask, score, tagged_text
from tfseq.train import Progress, RunWriters, Trainer, default_run_name, repository_logdir

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
RUN_DIR = repository_logdir() / "notebooks" / "tag-snips" / default_run_name("tiny")
print("this run writes to", RUN_DIR)

# %% [markdown]
# ## Configuration
#
# tfseq's `tiny` preset: word embeddings of 64, one bidirectional LSTM layer of 64 units per
# direction, dropout 0.2, 5 % of training words replaced by `<unk>` (so the model learns what
# to do with words it has never seen), Adam, 10 epochs. (The test suite shrinks it further.)

# %%
config = tag_presets.get("tiny")
if QUICK:
    config = config.with_overrides(num_units=16, embedding_size=16, epochs=1)
config

# %% [markdown]
# ## Data
#
# `seq.in` (words), `seq.out` (one BIO tag per word) and `label` (the intent), line by line.
# The vocabularies come from the training split only; a tag or intent never seen in
# training can never be predicted and always counts as an error.

# %%
corpus = load_slots("builtin:snips")
if QUICK:
    corpus = SlotCorpus(corpus.name, corpus.train[:300], corpus.valid[:100], corpus.test[:100])
print(corpus.summary())
for utterance in corpus.train[:3]:
    print(f"{tagged_text(utterance.words, utterance.tags)}  ->  {utterance.intent}")
vocab = SlotVocabularies.build(corpus.train)
print(f"vocabularies: {vocab.words.size} words, {vocab.tags.size} tags, {vocab.intents.size} intents "
      "(with <pad>/<unk>)")

# %% [markdown]
# ### How slots are scored
#
# Slot F1 is conlleval's chunk-level F1: a predicted slot counts only when its type and both
# of its boundaries are exact. Here one of two gold chunks is found, and one of two
# predicted chunks is right (`flow` alone is the wrong span), so precision, recall and F1
# are all 50 %:

# %%
gold = [["O", "O", "B-music_item", "O", "B-playlist", "I-playlist"]]
predicted = [["O", "O", "B-music_item", "O", "B-playlist", "O"]]
example = score(gold, predicted, ["AddToPlaylist"], ["AddToPlaylist"])
print(f"chunk F1 of the hand-made example: {example['Slot F1']:.1f}")
print(SCORING)

# %% [markdown]
# ## Model
#
# $$h_i = [\overrightarrow{h}_i; \overleftarrow{h}_i] \qquad
#   P(\text{slot}_i) = \operatorname{softmax}(W_S h_i) \qquad
#   P(\text{intent}) = \operatorname{softmax}(W_I [\overrightarrow{h}_T; \overleftarrow{h}_1])$$
#
# The joint loss is the mean slot cross-entropy per word plus the intent cross-entropy per
# sentence; padded positions count for nothing. (`variant="slot_gated"` adds Goo et al.
# 2018's attention contexts and slot gate.)

# %%
def train(config, name):
    keras.utils.set_random_seed(0)
    model = tag_model_from_config(config, vocab, seed=0)
    task = TagTask(model, vocab, corpus, config, seed=0)
    writers = RunWriters(RUN_DIR.parent / f"{RUN_DIR.name}-{name}")
    writers.hparams({**config.to_dict(), "run": name})
    trainer = Trainer(task, keras.optimizers.Adam(config.learning_rate), config.epochs,
                      max_grad_norm=config.max_grad_norm, writers=writers, progress=Progress(enabled=False),
                      jit_compile=False if QUICK else None)
    history = trainer.fit()
    writers.close()
    return task, history


# %% [markdown]
# ## Train
#
# The bidirectional model first; after each epoch the validation slot F1, intent accuracy
# and sentence accuracy (every tag and the intent right), the per-slot-type F1 table and
# tagged examples go to TensorBoard.

# %%
bi_task, bi_history = train(config, "bi")
result = bi_task.score_utterances(corpus.test)
print(f"test: slot F1 {result['Slot F1']:.2f}, intent accuracy {result['Intent Accuracy']:.2f} %, "
      f"sentence accuracy {result['Sentence Accuracy']:.2f} %")
for words, tags, intent in bi_task.predict(["play some jazz from the sixties", "book a table for two in paris"]):
    print(f"{tagged_text(words, tags)}  ->  {intent}")

# %% [markdown]
# ### Why bidirectional: the same model reading left to right only
#
# The unidirectional encoder has the same cell and size, but each word's tag is decided
# before the words after it are read.

# %%
uni_task, uni_history = train(config.with_overrides(encoder_type="uni"), "uni")
uni = uni_task.score_utterances(corpus.test)
print(f"bidirectional slot F1 {result['Slot F1']:.2f} vs unidirectional {uni['Slot F1']:.2f} "
      f"(intent accuracy {result['Intent Accuracy']:.2f} vs {uni['Intent Accuracy']:.2f} %)")
bi_f1 = {name: scores[2] for name, scores in result["by_type"].items()}
worst = sorted(uni["by_type"].items(), key=lambda item: item[1][2] - bi_f1.get(item[0], 0.0))[:5]
for name, (_, _, f1, support) in worst:
    print(f"  {name:28s} uni F1 {f1:5.1f}   bi F1 {bi_f1.get(name, 0.0):5.1f}   ({support} chunks)")

# %% [markdown]
# The command line trains, scores and tags the same way:
#
# ```
# tfseq tag train
# tfseq tag train --data ATIS_DIR --config atis
# tfseq tag eval --logdir logdir/tag-snips --run RUN --split test
# tfseq tag predict --logdir logdir/tag-atis --run RUN "i would like to fly from boston to denver on november 24th"
# ```

# %% [markdown]
# ## Inspect in TensorBoard
#
# `tensorboard --logdir logdir` from the repository root (or `%load_ext tensorboard` and
# `%tensorboard --logdir ../logdir` here): training loss, words per second, validation slot
# F1 and accuracies for both runs side by side (Scalars), the per-slot-type F1 table and
# tagged examples (Text), weight histograms and the hyper-parameters (HParams).

# %%
for name in ("bi", "uni"):
    run = RUN_DIR.parent / f"{RUN_DIR.name}-{name}"
    print(name, {split: sorted(path.name for path in (run / split).iterdir()) for split in ("train", "validation")})
