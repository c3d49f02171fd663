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
# # Sentiment classification (many-to-one) with bidirectional RNN cells
#
# "Sequence of words → sentiment": a sentence goes through embeddings and a stack of tfseq
# cells, the per-word outputs are pooled into one vector, and a softmax layer says
# negative or positive. We train on the slice of Pang & Lee's movie-review snippets (MR)
# shipped with tfseq, look at the confusion matrix and the mistakes, and measure what a
# bidirectional encoder buys over a unidirectional one. Offline, a few minutes on a CPU.

# %% [markdown]
# ## Setup

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from tfseq.data.sentiment import SentimentCorpus, load_sentiment
from tfseq.data.vocab import Vocabulary
from tfseq.demos.classify import presets as classify_presets
from tfseq.demos.classify.model import SentenceClassifier, classifier_from_config
from tfseq.demos.classify.task import ClassificationTask, misclassified_table
from tfseq.train import Progress, RunWriters, Trainer, default_run_name, repository_logdir

QUICK = os.environ.get("TFSEQ_NOTEBOOK_QUICK") == "1"  # the test suite's shortened run
LOGDIR = repository_logdir() / "notebooks" / "classify-mr"
RUN_DIR = LOGDIR / default_run_name("tiny")
print("this run writes to", RUN_DIR)

# %% [markdown]
# ## Configuration
#
# tfseq's `tiny` preset: 64-dim word embeddings, one bidirectional layer of 64 LSTM units
# per direction, max pooling over time, dropout 0.5, Adam, 4 epochs. (The test suite
# shrinks it further.)

# %%
config = classify_presets.get("tiny")
if QUICK:
    config = config.with_overrides(embedding_dim=16, num_units=16, epochs=1, batch_size=64)
print(config)

# %% [markdown]
# ## Data
#
# 6,000 snippets, half positive, split 80/10/10 with a fixed seed (MR has no official
# split). Words are lower-cased and punctuation is split off; the vocabulary holds the
# training words seen at least `min_count` times, `<pad>` is id 0 and every other word is
# `<unk>`.

# %%
corpus = load_sentiment("builtin:mr", seed=0)
if QUICK:
    corpus = SentimentCorpus(corpus.name, corpus.train[:600], corpus.valid[:200], corpus.test[:200], corpus.split)
print(corpus.summary())
for tokens, label in corpus.train[:3]:
    print(label, " ".join(tokens))
vocabulary = Vocabulary.build((w for tokens, _ in corpus.train for w in tokens), specials=("<pad>", "<unk>"),
                              min_count=config.min_count)
print("vocabulary:", vocabulary.size, "words")

# %% [markdown]
# ## Model
#
# Each direction reads the sentence with the TF1 cell maths; the backward one reads each
# sentence reversed *within its own length*, so padding never enters it. Max pooling
# keeps, for every feature, its largest value over the real words:
#
# $$h_t = [\overrightarrow{h}_t; \overleftarrow{h}_t] \qquad
#   z_j = \max_{t < n} h_{t,j} \qquad p(y \mid x) = \operatorname{softmax}(W z + b)$$
#
# Attention pooling (`pooling="attention"`) instead weighs the words,
# $a_t = \operatorname{softmax}_t\, v^\top \tanh(W_a h_t + b_a)$, $z = \sum_t a_t h_t$.

# %%
keras.utils.set_random_seed(0)
model = classifier_from_config(config, vocabulary.size, seed=0)
task = ClassificationTask(model, vocabulary, corpus, config, seed=0)
print(f"{model.count_params():,} weights, {task.steps_per_epoch()} steps per epoch")

# %% [markdown]
# ## Train
#
# Mean cross-entropy per sentence, Adam; after each epoch the validation loss, accuracy
# and macro F1, the confusion matrix (an image) and misclassified sentences (text) go to
# TensorBoard.

# %%
writers = RunWriters(RUN_DIR)
writers.hparams(config.to_dict())
trainer = Trainer(task, keras.optimizers.Adam(config.learning_rate), config.epochs,
                  max_grad_norm=config.max_grad_norm, writers=writers,
                  checkpoint_dir=os.path.join(RUN_DIR, "checkpoints"), progress=Progress(enabled=False),
                  jit_compile=False if QUICK else None)
history = trainer.fit()
writers.flush()
test = task.score(corpus.test)
print(f"test accuracy {test['Accuracy']:.3f}, macro F1 {test['Macro F1']:.3f} on {test['sentences']} sentences")

# %% [markdown]
# ### The confusion matrix and the mistakes

# %%
matrix = test["confusion"]
figure, axes = plt.subplots(figsize=(3.2, 2.8))
axes.imshow(matrix, cmap="Blues")
for (i, j), count in np.ndenumerate(matrix):
    axes.text(j, i, int(count), ha="center", va="center")
axes.set_xticks([0, 1], task.labels)
axes.set_yticks([0, 1], task.labels)
axes.set_xlabel("predicted")
axes.set_ylabel("true")
print(misclassified_table(corpus.test, test["probabilities"], task.labels, 5))
for sentence, (label, p) in zip(["a gorgeous, witty film", "a dull, lifeless mess"],
                                task.predict(["a gorgeous, witty film", "a dull, lifeless mess"])):
    print(f"{label} ({p:.2f}): {sentence}")

# %% [markdown]
# ### Why bidirectional? The same data read one way and both ways
#
# With the last state as the sentence vector, a left-to-right reader must carry the start
# of a sentence through every later word; the backward direction ends on the first word.
# Both models below have the same size per direction and see the same batches.

# %%
def accuracy_of(bidirectional, pooling, data, epochs):
    keras.utils.set_random_seed(0)
    cfg = config.with_overrides(bidirectional=bidirectional, pooling=pooling, epochs=epochs)
    net = classifier_from_config(cfg, vocabulary.size, seed=0)
    job = ClassificationTask(net, vocabulary, data, cfg, seed=0)
    Trainer(job, keras.optimizers.Adam(cfg.learning_rate), cfg.epochs, max_grad_norm=cfg.max_grad_norm,
            jit_compile=False if QUICK else None).fit()
    return job.score(data.valid)["Accuracy"]


epochs = 1 if QUICK else 3
uni, bi = accuracy_of(False, "last", corpus, epochs), accuracy_of(True, "last", corpus, epochs)
print(f"MR validation accuracy, last-state pooling: uni {uni:.3f}, bi {bi:.3f}")

# %% [markdown]
# A task where the label depends on what comes *later* for a left-to-right reader makes
# the point sharply: the label is the class of the first of 16 random tokens. A vanilla
# RNN read left to right has to carry it through 15 distractors (its gradient vanishes on
# the way); the backward direction reads it last.

# %%
rng = np.random.default_rng(0)


def first_word_data(n):
    ids = rng.integers(1, 20, (n, 16)).astype(np.int32)
    return ids, (ids[:, 0] >= 10).astype(np.int32)


def first_word_accuracy(bidirectional, steps=60 if QUICK else 200):
    keras.utils.set_random_seed(0)
    net = SentenceClassifier(20, 2, embedding_dim=8, num_units=8, cell="rnn", bidirectional=bidirectional,
                             pooling="last", seed=0)
    net.build()
    optimizer = keras.optimizers.Adam(0.01)

    @tf.function
    def step(ids, labels):
        with tf.GradientTape() as tape:
            logits = net({"ids": ids, "length": tf.fill([tf.shape(ids)[0]], 16)}, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))

    for _ in range(steps):
        step(*first_word_data(32))
    ids, labels = first_word_data(1000)
    logits = net({"ids": ids, "length": np.full(1000, 16, np.int32)}, training=False)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


print(f"first-word task accuracy: uni {first_word_accuracy(False):.3f}, bi {first_word_accuracy(True):.3f}")

# %% [markdown]
# The command line trains, scores and predicts the same way (and writes the PR curve and
# the Projector's word embeddings too):
#
# ```
# tfseq classify train
# tfseq classify eval --run logdir/classify-mr/RUN --split test
# tfseq classify predict --run logdir/classify-mr/RUN "a gorgeous, witty film"
# ```

# %% [markdown]
# ## Inspect in TensorBoard
#
# `tensorboard --logdir logdir` from the repository root (or `%load_ext tensorboard` and
# `%tensorboard --logdir ../logdir` here): training loss, learning rate and sentences per
# second, validation loss, accuracy and macro F1 (Scalars), misclassified sentences
# (Text), the confusion matrix per epoch (Images), weight histograms and the
# hyper-parameters.

# %%
for split in ("train", "validation"):
    print(split, sorted(path.name for path in (RUN_DIR / split).iterdir()))
