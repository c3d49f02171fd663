"""The slot-filling task for :class:`tfseq.train.Trainer` (duck-typed: no import of ``tfseq.train``).

* Training batches: the training utterances encoded once, bucketed by length into
  ``config.num_buckets`` padded shapes (:class:`~tfseq.data.slots.SlotBatches`), shuffled per
  epoch with ``default_rng([seed, epoch])``; ``word_dropout`` replaces words by ``<unk>`` with
  ``default_rng([seed, epoch, batch])``, so a resumed run sees the batches an uninterrupted one
  would (the epoch number lives in a checkpointed variable).
* Objective: :func:`~tfseq.demos.tag.model.joint_loss` (mean slot cross-entropy per word plus
  the mean intent cross-entropy per utterance; an ensemble trains the sum of its members'
  and logs their mean); the logged loss is that objective averaged over
  batches weighted by their words, and throughput is words per second.
* ``evaluate(split)``: the loss and :func:`score` of the model's predictions: slot F1
  (conlleval's chunk-level F1, computed by ``seqeval``), intent accuracy and sentence accuracy.
* Each epoch: the per-slot-type F1 table and tagged example utterances, as Markdown text.
* ``config.select_best``: after each validation the task keeps a copy of the model's weights
  if the validation score (slot F1 + intent accuracy) is the best so far, in variables that
  are checkpointed with the run (so a resumed run keeps the same best); :meth:`use_best`
  puts them back into the model once training is done. Only the validation split is used.

Scoring (the rules of Goo et al. 2018's code, stated with every number tfseq prints):
a slot chunk counts only when its type and both boundaries are exact; a gold tag or intent
never seen in training can never be predicted, so it always counts as an error; a
multi-intent label such as ``atis_flight#atis_airline`` is one label, right only when the
whole string is predicted.
"""

import tensorflow as tf

from tfseq.data.slots import SlotBatches, length_boundaries
from tfseq.data.vocab import drop_words
from tfseq.demos.tag.model import joint_loss
from tfseq.train.reporting import EpochTexts
from tfseq.train.task import BestWeights, EpochCounter, SelectsBest

SCORING = ("slot F1: conlleval chunk F1 (seqeval); intent: exact label string, a multi-intent label "
           "('a#b') is one label; tags and intents unseen in training always count as errors")


def score(gold_tags, predicted_tags, gold_intents, predicted_intents):
    """Slot F1 and intent/sentence accuracy, in percent, of predictions against gold labels.

    Args:
        gold_tags, predicted_tags: lists of tag-string lists (one per utterance, same lengths).
        gold_intents, predicted_intents: lists of intent strings.

    Returns:
        ``{"Slot F1", "Slot Precision", "Slot Recall", "Intent Accuracy", "Sentence Accuracy"}``
        and ``"by_type"``: ``{type: (precision, recall, f1, support)}`` (seqeval's report).
    """
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    if not (len(gold_tags) == len(predicted_tags) == len(gold_intents) == len(predicted_intents)):
        raise ValueError(f"score: got {len(gold_tags)}, {len(predicted_tags)}, {len(gold_intents)}, "
                         f"{len(predicted_intents)} gold tags, predicted tags, gold and predicted intents")
    gold_tags, predicted_tags = [list(t) for t in gold_tags], [list(t) for t in predicted_tags]
    for i, (gold, predicted) in enumerate(zip(gold_tags, predicted_tags)):
        if len(gold) != len(predicted):
            raise ValueError(f"score: utterance {i} has {len(gold)} gold tags but {len(predicted)} predicted")
    report = classification_report(gold_tags, predicted_tags, output_dict=True, zero_division=0)
    by_type = {name: (100 * r["precision"], 100 * r["recall"], 100 * r["f1-score"], int(r["support"]))
               for name, r in report.items() if not name.endswith(" avg")}
    intents_right = [g == p for g, p in zip(gold_intents, predicted_intents)]
    sentences_right = [i and g == p for i, g, p in zip(intents_right, gold_tags, predicted_tags)]
    count = max(len(gold_intents), 1)
    return {"Slot F1": 100 * f1_score(gold_tags, predicted_tags, zero_division=0),
            "Slot Precision": 100 * precision_score(gold_tags, predicted_tags, zero_division=0),
            "Slot Recall": 100 * recall_score(gold_tags, predicted_tags, zero_division=0),
            "Intent Accuracy": 100 * sum(intents_right) / count,
            "Sentence Accuracy": 100 * sum(sentences_right) / count, "by_type": by_type}


class TagTask(SelectsBest):
    """Trains and evaluates a :class:`~tfseq.demos.tag.model.SlotIntentModel`.

    Args:
        model: a built ``SlotIntentModel``.
        vocabularies: the run's :class:`~tfseq.data.slots.SlotVocabularies`.
        corpus: a :class:`~tfseq.data.slots.SlotCorpus`.
        config: a ``TagConfig`` (batching, word dropout, loss weights).
        seed: shuffle and word-dropout seed.
        samples: tagged validation utterances shown in TensorBoard each epoch.
    """

    throughput_name = "words_per_second"

    def __init__(self, model, vocabularies, corpus, config, seed=0, samples=5):
        self.model, self.vocabularies, self.corpus, self.config = model, vocabularies, corpus, config
        self.seed, self.samples = int(seed), samples
        self.train_data = None
        if corpus.train:
            self.train_data = self._batches(corpus.train, seed)
        self._epochs = EpochCounter()
        self.reporters = (EpochTexts(self.epoch_texts),)
        ids = tf.TensorSpec([None, None], tf.int32)
        signature = {"words": ids, "tags": ids, "length": tf.TensorSpec([None], tf.int32),
                     "intent": tf.TensorSpec([None], tf.int32), "weight": tf.TensorSpec([None], tf.float32)}
        if config.uses_chars:
            signature["chars"] = tf.TensorSpec([None, None, None], tf.int32)
        self._eval_fn = tf.function(self._eval_step, autograph=False, input_signature=[signature])
        self._encoded = {}  # split -> SlotBatches of its utterances
        self.last_scores = {}  # split -> the latest score() of it
        # select_best: the best validation epoch's weights, checkpointed with the run
        self._best = BestWeights(model) if config.select_best else None

    def _batches(self, utterances, seed=0):
        max_chars = self.config.max_chars if self.config.uses_chars else None
        examples = [self.vocabularies.encode(u, max_chars) for u in utterances]
        bounds = length_boundaries(max(len(u.words) for u in utterances), self.config.num_buckets)
        return SlotBatches(examples, self.config.batch_size, bounds, seed)

    # -- training ------------------------------------------------------------------------------
    def steps_per_epoch(self):
        return 0 if self.train_data is None else len(self.train_data)

    def reset_state(self):
        self._epochs.start()

    def train_batches(self, start):
        epoch = self._epochs.epoch
        unk, rate = self.vocabularies.words.unk_id, self.config.word_dropout
        for k, batch in enumerate(self.train_data.epoch(epoch, start), start=start):
            batch["words"] = drop_words(batch["words"], rate, unk, (self.seed, epoch, k))
            yield {key: tf.constant(value) for key, value in batch.items() if key != "index"}

    def loss(self, batch, training):
        objective, words, _ = self._objective(batch, training)
        mean = objective / len(self.model.members())
        return objective, {"loss_sum": mean * words, "count": words}

    def _objective(self, batch, training):
        """``(objective, words, outputs)``: the joint loss, with an ensemble the sum of its
        members' (each member's gradient is then its own loss's:
        :class:`~tfseq.demos.tag.model.TaggerEnsemble`), the batch's real words, and each
        member's ``(slot_logits, intent_logits)``."""
        objectives, outputs = [], []
        for member in self.model.members():
            slot_logits, intent_logits = member(batch, training=training)
            transitions = None if member.transitions is None else tf.convert_to_tensor(member.transitions)
            objective, parts = joint_loss(slot_logits, batch["tags"], batch["length"], intent_logits,
                                          batch["intent"], batch["weight"], self.config.intent_weight, transitions)
            objectives.append(objective)
            outputs.append((slot_logits, intent_logits))
        return tf.add_n(objectives), parts["words"], outputs

    def trackables(self):
        return {"epochs_started": self._epochs.variable, **self.best_trackables()}

    # -- prediction and evaluation ---------------------------------------------------------------
    def _eval_step(self, batch):
        objective, words, outputs = self._objective(batch, training=False)
        tag_ids, intent_ids = self.model.decode(outputs, batch["length"])  # decodes the forward pass the loss used
        return objective / len(outputs) * words, words, tag_ids, intent_ids

    def _run(self, data, count):
        """``(loss, [tag lists], [intents])`` of the ``count`` utterances in ``data``."""
        tags, intents = [None] * count, [None] * count
        total, words = 0.0, 0.0
        for batch in data.in_order():
            feed = {k: tf.constant(v) for k, v in batch.items() if k != "index"}
            loss_sum, n, tag_ids, intent_ids = self._eval_fn(feed)
            total, words = total + float(loss_sum), words + float(n)
            tag_ids, intent_ids = tag_ids.numpy(), intent_ids.numpy()
            for row, index in enumerate(batch["index"][: int(batch["weight"].sum())]):
                length = int(batch["length"][row])
                tags[index] = self.vocabularies.tags.decode(tag_ids[row, :length])
                intents[index] = self.vocabularies.intents.token(int(intent_ids[row]))
        return total / max(words, 1.0), tags, intents

    def predict(self, sentences):
        """``[(words, tags, intent)]`` for each sentence (a string, split on whitespace)."""
        from tfseq.data.slots import Utterance

        utterances = [Utterance(tuple(s.split()), ("O",) * len(s.split()), "<unk>") for s in sentences]
        _, tags, intents = self._run(self._batches(utterances), len(utterances))
        return [(list(u.words), t, i) for u, t, i in zip(utterances, tags, intents)]

    def score_utterances(self, utterances, split=None):
        """``score()`` of the model on ``utterances`` plus ``"loss"``, ``"tags"`` and ``"intents"``
        (the predictions); ``split`` caches the encoded batches under that name."""
        if split is not None and split in self._encoded:
            data = self._encoded[split]
        else:
            data = self._batches(utterances)
            if split is not None:
                self._encoded[split] = data
        loss, tags, intents = self._run(data, len(utterances))
        result = score([u.tags for u in utterances], tags, [u.intent for u in utterances], intents)
        return {"loss": loss, **result, "tags": tags, "intents": intents, "utterances": len(utterances)}

    def evaluate(self, split):
        """``{"loss", "Slot F1", "Intent Accuracy", "Sentence Accuracy"}`` or ``None`` (no such split)."""
        utterances = self.corpus.split(split)
        if not utterances:
            return None
        result = self.score_utterances(utterances, split)
        self.last_scores[split] = result
        self.offer_best(split, result["Slot F1"] + result["Intent Accuracy"], self._epochs.epoch)
        return {key: result[key] for key in ("loss", "Slot F1", "Intent Accuracy", "Sentence Accuracy")}

    # -- TensorBoard -----------------------------------------------------------------------------
    def epoch_texts(self, epoch):
        texts = {"scoring": SCORING}
        result = self.last_scores.get("validation")
        if result is not None:
            texts["slot_f1_by_type"] = type_table(result["by_type"])
        utterances = (self.corpus.valid or self.corpus.train)[: self.samples]
        if utterances:
            predicted = self.predict([" ".join(u.words) for u in utterances])
            texts["tagged_examples"] = examples_table(utterances, predicted)
        return texts


def type_table(by_type):
    """The per-slot-type scores as a Markdown table, worst F1 first."""
    rows = ["| slot type | precision | recall | F1 | gold chunks |", "|---|---|---|---|---|"]
    for name, (p, r, f, n) in sorted(by_type.items(), key=lambda item: (item[1][2], item[0])):
        rows.append(f"| {name} | {p:.1f} | {r:.1f} | {f:.1f} | {n} |")
    return "\n".join(rows)


def tagged_text(words, tags):
    """``"from boston[B-fromloc.city_name] to ..."``: each word, with its tag unless ``O``."""
    return " ".join(w if t == "O" else f"{w}[{t}]" for w, t in zip(words, tags))


def examples_table(utterances, predicted):
    """Gold and predicted tags and intents of utterances, as a Markdown table."""
    rows = ["| | tagged words | intent |", "|---|---|---|"]
    for utterance, (words, tags, intent) in zip(utterances, predicted):
        right = "✓" if list(utterance.tags) == list(tags) and utterance.intent == intent else "✗"
        rows.append(f"| gold | {tagged_text(utterance.words, utterance.tags)} | {utterance.intent} |")
        rows.append(f"| {right} predicted | {tagged_text(words, tags)} | {intent} |")
    return "\n".join(rows).replace("#", "\\#")
