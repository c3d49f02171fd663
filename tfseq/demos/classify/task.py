"""The sentence classification task for :class:`tfseq.train.Trainer` (duck-typed: no import of ``tfseq.train``).

* Training batches: every split encoded once with the run's vocabulary, bucketed by length
  into ``config.num_buckets`` padded shapes (:class:`~tfseq.data.sentiment.SentenceBatches`),
  shuffled per epoch with ``default_rng([seed, epoch])``; the epoch number lives in a
  checkpointed variable, so a resumed run sees the batches an uninterrupted one would;
  ``word_dropout`` replaces words by ``<unk>`` with ``default_rng([seed, epoch, batch])``.
* Objective: the mean cross-entropy per sentence (filler rows weigh 0); throughput is
  sentences per second.
* ``evaluate(split)``: loss, accuracy and macro F1 (from the confusion matrix, see
  :func:`macro_f1`); each epoch the validation confusion matrix as an image and the
  misclassified validation sentences as a Markdown table.
* ``config.select_best``: after each validation the task keeps a copy of the model's weights
  if its validation accuracy is the best so far (:class:`~tfseq.train.task.BestWeights`,
  checkpointed with the run); :meth:`use_best` puts them back once training is done.

Metrics, from the confusion matrix ``C[i, j]`` = sentences of true class ``i`` predicted ``j``::

    accuracy = sum_i C[i, i] / sum C
    P_i = C[i, i] / sum_r C[r, i]      R_i = C[i, i] / sum_c C[i, c]      F1_i = 2 P_i R_i / (P_i + R_i)
    macro F1 = mean_i F1_i             (a class never predicted nor present counts F1 = 0)
"""

import numpy as np
import tensorflow as tf

from tfseq.data.sentiment import LABELS, SentenceBatches
from tfseq.data.vocab import drop_words
from tfseq.train.reporting import EpochImages, EpochTexts
from tfseq.train.task import BestWeights, EpochCounter, SelectsBest


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """``C [num_classes, num_classes]`` int: ``C[i, j]`` = items of class ``i`` predicted ``j``."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return matrix


def macro_f1(matrix) -> float:
    """The unweighted mean over classes of F1 = 2PR / (P + R) (0 where P + R = 0)."""
    matrix = np.asarray(matrix, np.float64)
    hits = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return float(f1.mean())


def bucket_bounds(max_length: int, num_buckets: int) -> list[int]:
    """``num_buckets`` increasing padded lengths ending at ``max_length`` (multiples of 4)."""
    bounds = sorted({max(4, int(np.ceil(max_length * (i + 1) / num_buckets / 4.0) * 4)) for i in range(num_buckets)})
    bounds[-1] = max(bounds[-1], max_length)
    return bounds


class ClassificationTask(SelectsBest):
    """Trains and evaluates a :class:`~tfseq.demos.classify.model.SentenceClassifier`.

    Args:
        model: a built ``SentenceClassifier``.
        vocabulary: the run's :class:`~tfseq.data.vocab.Vocabulary` (``<pad>`` is id 0).
        corpus: a :class:`~tfseq.data.sentiment.SentimentCorpus`.
        config: a ``ClassifyConfig``.
        seed: shuffle seed.
        samples: misclassified sentences shown in TensorBoard each epoch.
    """

    throughput_name = "sentences_per_second"

    def __init__(self, model, vocabulary, corpus, config, seed=0, samples=10):
        self.model, self.vocabulary, self.corpus, self.config = model, vocabulary, corpus, config
        self.samples, self.seed = samples, seed
        self.labels = LABELS
        self.bounds = bucket_bounds(config.max_length, config.num_buckets)
        self.train_data = None
        if corpus.train:
            self.train_data = SentenceBatches(self.encode(corpus.train), config.batch_size, self.bounds, seed)
        self._epochs = EpochCounter()
        self._best = BestWeights(model) if config.select_best else None
        self.reporters = (EpochTexts(self.epoch_texts), EpochImages(self.epoch_images))
        self._predict_fn = tf.function(self._probabilities, autograph=False, input_signature=[{
            "ids": tf.TensorSpec([None, None], tf.int32), "length": tf.TensorSpec([None], tf.int32)}])
        self._encoded = {}
        self.last = {}  # split -> evaluation details of its last evaluate()

    def encode(self, examples):
        """``[(ids, label)]`` of ``[(tokens, label)]`` (unknown words -> ``<unk>``)."""
        return [(self.vocabulary.encode(tokens), label) for tokens, label in examples]

    # -- training ------------------------------------------------------------------------------
    def steps_per_epoch(self):
        return 0 if self.train_data is None else len(self.train_data)

    def reset_state(self):
        self._epochs.start()

    def train_batches(self, start):
        epoch = self._epochs.epoch
        unk, rate = self.vocabulary.unk_id, self.config.word_dropout
        for number, batch in enumerate(self.train_data.epoch(epoch, start), start=start):
            batch["ids"] = drop_words(batch["ids"], rate, unk, (self.seed, epoch, number))
            yield {k: tf.constant(v) for k, v in batch.items() if k != "index"}

    def loss(self, batch, training):
        logits = self.model(batch, training=training)  # [batch, classes]
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["label"], logits=logits)  # [batch]
        loss_sum, count = tf.reduce_sum(xent * batch["weight"]), tf.reduce_sum(batch["weight"])
        return loss_sum / tf.maximum(count, 1.0), {"loss_sum": loss_sum, "count": count}

    def trackables(self):
        return {"epochs_started": self._epochs.variable, **self.best_trackables()}

    # -- prediction and evaluation -------------------------------------------------------------
    def _probabilities(self, batch):
        return tf.nn.softmax(self.model(batch, training=False), axis=-1)

    def probabilities(self, examples):
        """``[N, classes]`` class probabilities of ``[(tokens, label)]`` examples, in order."""
        return self._encoded_probabilities(SentenceBatches(self.encode(examples), self.config.batch_size,
                                                           self.bounds), len(examples))

    def _encoded_probabilities(self, data, count):
        out = np.zeros((count, len(self.labels)), np.float32)
        for batch in data.in_order():
            probs = self._predict_fn({"ids": tf.constant(batch["ids"]), "length": tf.constant(batch["length"])})
            real = batch["weight"] > 0
            out[batch["index"][real]] = probs.numpy()[real]
        return out

    def predict(self, sentences):
        """``[(label name, probability)]`` of raw sentences (tokenised as the corpora are)."""
        from tfseq.data.sentiment import tokenize

        probs = self.probabilities([(tokenize(s) or ["<unk>"], 0) for s in sentences])
        return [(self.labels[int(p.argmax())], float(p.max())) for p in probs]

    def score(self, examples, key=None):
        """``{"loss", "Accuracy", "Macro F1", "sentences"}`` of ``[(tokens, label)]``, plus
        ``probabilities`` and ``confusion``."""
        if key is not None and key in self._encoded:
            data = self._encoded[key]
        else:
            data = SentenceBatches(self.encode(examples), self.config.batch_size, self.bounds)
            if key is not None:
                self._encoded[key] = data
        probs = self._encoded_probabilities(data, len(examples))
        labels = np.asarray([label for _, label in examples], np.int64)
        picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
        matrix = confusion_matrix(labels, probs.argmax(axis=1), len(self.labels))
        return {"loss": float(-np.log(picked).mean()), "Accuracy": float(np.trace(matrix) / max(1, matrix.sum())),
                "Macro F1": macro_f1(matrix), "sentences": len(examples), "probabilities": probs,
                "confusion": matrix}

    def evaluate(self, split):
        """``{"loss": mean xent per sentence, "Accuracy", "Macro F1"}`` or ``None`` (no such split)."""
        examples = self.corpus.part(split)
        if not examples:
            return None
        result = self.score(examples, key=split)
        self.last[split] = result
        self.offer_best(split, result["Accuracy"], self._epochs.epoch)
        return {"loss": result["loss"], "Accuracy": result["Accuracy"], "Macro F1": result["Macro F1"]}

    # -- TensorBoard -----------------------------------------------------------------------------
    def epoch_texts(self, epoch):
        result = self.last.get("validation")
        if result is None:
            return {}
        return {"misclassified": misclassified_table(self.corpus.valid, result["probabilities"], self.labels,
                                                     self.samples)}

    def epoch_images(self, epoch):
        result = self.last.get("validation")
        if result is None:
            return {}
        return {"confusion_matrix": confusion_image(result["confusion"], self.labels)}


def misclassified_table(examples: list, probabilities, labels, limit: int) -> str:
    """A Markdown table of the first ``limit`` wrongly classified ``[(tokens, label)]``."""
    rows = ["| sentence | true | predicted (p) |", "|---|---|---|"]
    for (tokens, label), probs in zip(examples, probabilities):
        guess = int(np.argmax(probs))
        if guess != label:
            text = " ".join(tokens).replace("|", "\\|")
            rows.append(f"| {text} | {labels[label]} | {labels[guess]} ({probs[guess]:.2f}) |")
            if len(rows) - 2 >= limit:
                break
    if len(rows) == 2:
        rows.append("| (none) | | |")
    return "\n".join(rows)


def confusion_image(matrix, labels) -> np.ndarray:
    """The confusion matrix as an RGBA image: counts in each cell, rows = true class."""
    from tfseq.train.figures import figure_to_image, new_figure

    matrix = np.asarray(matrix)
    figure = new_figure(width=1.6 + 1.0 * len(labels), height=1.2 + 0.9 * len(labels))
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(matrix, cmap="Blues", vmin=0)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            axes.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=color)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    figure.tight_layout()
    return figure_to_image(figure)
