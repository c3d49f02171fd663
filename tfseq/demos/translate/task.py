"""The translation task for :class:`tfseq.train.Trainer` (a :class:`tfseq.train.Task`).

* Training batches: the training pairs encoded once, bucketed by length into
  ``config.num_buckets`` padded shapes (:class:`~tfseq.data.parallel.BucketedBatches`),
  shuffled per epoch with ``default_rng([seed, epoch])``; the epoch number lives in a
  checkpointed variable, so a resumed run sees the batches an uninterrupted one would.
* Objective: the mean cross-entropy per target token (padding masked out); throughput is
  target tokens per second.
* ``evaluate(split)``: teacher-forced loss over the split, and corpus BLEU (sacrebleu, its
  default ``13a`` tokenisation) of greedy or beam-search translations, detokenised,
  against the untouched reference sentences. ``bleu_signature`` records sacrebleu's signature.
* Reporters: perplexity, and each epoch sample translations as a Markdown table and an
  attention heatmap.

The learning-rate schedule is :class:`NMTLearningRate` (nmt's warm-up and decay schemes).
"""

import keras
import numpy as np
import tensorflow as tf

from tfseq.data.parallel import BucketedBatches, bucket_boundaries, encode_pairs
from tfseq.demos.translate.model import masked_xent
from tfseq.train.reporting import EpochImages, EpochTexts, Perplexity, average_loss, perplexity
from tfseq.train.task import EpochCounter


@keras.saving.register_keras_serializable(package="tfseq")
class NMTLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """tensorflow/nmt's learning rate at step ``t``, evaluated per step by the optimizer::

        warm-up (t < W):   lr * 0.01 ** ((W - t) / W)
        then:              lr * 0.5 ** min(floor((t - start) / every), n)   for t >= start
        luong234: start = 2/3 of total, n = 4, every = (total - start) / 4
        luong5 / luong10: start = 1/2 of total, n = 5 / 10, every = (total - start) / n

    (nmt's ``tf.train.exponential_decay(..., staircase=True)`` from ``start``, capped at ``n``
    halvings.)

    Args:
        learning_rate: float > 0.
        total_steps: int > 0, the training length (epochs x steps per epoch).
        warmup_steps: int >= 0.
        decay_scheme: ``"none"``, ``"luong234"``, ``"luong5"`` or ``"luong10"``.
    """

    SCHEMES = {"none": None, "luong234": (2 / 3, 4), "luong5": (1 / 2, 5), "luong10": (1 / 2, 10)}

    def __init__(self, learning_rate, total_steps, warmup_steps=0, decay_scheme="none"):
        if decay_scheme not in self.SCHEMES:
            raise ValueError(f"NMTLearningRate: decay_scheme must be one of {tuple(self.SCHEMES)}, "
                             f"got {decay_scheme!r}")
        if not learning_rate > 0 or not total_steps > 0 or warmup_steps < 0:
            raise ValueError(f"NMTLearningRate: need learning_rate > 0, total_steps > 0, warmup_steps >= 0, got "
                             f"{learning_rate!r}, {total_steps!r}, {warmup_steps!r}")
        self.learning_rate, self.total_steps = float(learning_rate), int(total_steps)
        self.warmup_steps, self.decay_scheme = int(warmup_steps), decay_scheme

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.learning_rate, tf.float32)
        if self.warmup_steps:
            warm = self.learning_rate * 0.01 ** ((self.warmup_steps - step) / self.warmup_steps)
            lr = tf.where(step < self.warmup_steps, warm, lr)
        scheme = self.SCHEMES[self.decay_scheme]
        if scheme is not None:
            start, times = int(scheme[0] * self.total_steps), scheme[1]
            every = max(1, (self.total_steps - start) // times)
            decays = tf.clip_by_value(tf.math.floor((step - start) / every), 0.0, float(times))
            lr = tf.where(step < start, lr, lr * 0.5 ** decays)
        return lr

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "decay_scheme": self.decay_scheme}


def corpus_bleu(hypotheses, references):
    """``(score, signature)``: sacrebleu's corpus BLEU (``13a`` tokeniser) of detokenised text.

    ``force=True`` only silences sacrebleu's "forgot to detokenize?" heuristic, which fires on
    an untrained model's ``" ."`` endings; the score is the same.
    """
    import sacrebleu

    bleu = sacrebleu.BLEU(force=True)
    return bleu.corpus_score(list(hypotheses), [list(references)]).score, str(bleu.get_signature())


class TranslationTask:
    """Trains and evaluates a :class:`~tfseq.demos.translate.model.TranslationModel`.

    Args:
        model: a built ``TranslationModel``.
        src_tokenizer, tgt_tokenizer: :mod:`tfseq.data.subwords` tokenizers.
        corpus: a :class:`~tfseq.data.parallel.ParallelCorpus` (raw sentence pairs).
        config: a ``TranslationConfig`` (batching, lengths, decoding settings).
        seed: shuffle seed.
        samples: translations shown in TensorBoard each epoch.
        eval_sentences: score BLEU on at most this many sentences of a split (``None``: all).

    Attributes:
        reporters: :class:`~tfseq.train.Perplexity`, :meth:`sample_texts` and
            :meth:`attention_images`.
    """

    throughput_name = "tokens_per_second"
    objective_reduction = "mean"  # per target token
    xla_compile = "always"

    def __init__(self, model, src_tokenizer, tgt_tokenizer, corpus, config, seed=0, samples=4, eval_sentences=None):
        self.model, self.config = model, config
        self.src_tokenizer, self.tgt_tokenizer = src_tokenizer, tgt_tokenizer
        self.corpus = corpus
        self.samples, self.eval_sentences = samples, eval_sentences
        self.beam_width, self.length_penalty = config.beam_width, config.length_penalty
        examples, _ = encode_pairs(corpus.train, src_tokenizer, tgt_tokenizer, config.max_length,
                                   config.reverse_source)
        self.train_data = None  # no training pair within max_length: steps_per_epoch() is 0
        if examples:
            self.train_data = BucketedBatches(examples, config.batch_size,
                                              bucket_boundaries(config.max_length + 1, config.num_buckets), seed)
        self._epochs = EpochCounter()
        ids = tf.TensorSpec([None, None], tf.int32)  # any batch and length: evaluation is traced once
        self._loss_fn = tf.function(self._eval_loss, autograph=False, input_signature=[{
            "source": ids, "source_length": tf.TensorSpec([None], tf.int32), "target_in": ids, "target_out": ids,
            "target_weight": tf.TensorSpec([None, None], tf.float32)}])
        self._translate_fn = {}
        self._encoded = {}  # split -> _batches() of its evaluation pairs
        self.bleu_signature = None
        self.reporters = (Perplexity(), EpochTexts(self.sample_texts), EpochImages(self.attention_images))

    # -- training ------------------------------------------------------------------------------
    def steps_per_epoch(self):
        return 0 if self.train_data is None else len(self.train_data)

    def reset_state(self):
        self._epochs.start()

    def train_batches(self, start):
        epoch = self._epochs.epoch
        for batch in self.train_data.epoch(epoch, start):
            yield {k: tf.constant(v) for k, v in batch.items() if k != "index"}

    def loss(self, batch, training):
        logits = self.model(batch, training=training)  # [batch, T, V]
        loss_sum, count = masked_xent(logits, batch["target_out"], batch["target_weight"])
        return loss_sum / tf.maximum(count, 1.0), {"loss_sum": loss_sum, "count": count}

    def trackables(self):
        return {"epochs_started": self._epochs.variable}

    # -- evaluation ------------------------------------------------------------------------------
    def _eval_loss(self, batch):
        return masked_xent(self.model(batch, training=False), batch["target_out"], batch["target_weight"])

    def _translator(self, beam_width, length_penalty, alignments=False):
        key = (beam_width, float(length_penalty), alignments)
        if key not in self._translate_fn:
            def run(source, source_length):
                return self.model.translate(source, source_length, beam_width=beam_width, length_penalty=length_penalty,
                                            max_length_ratio=self.config.max_length_ratio, alignments=alignments)
            self._translate_fn[key] = tf.function(run, autograph=False, input_signature=[
                tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)])
        return self._translate_fn[key]

    def _batches(self, pairs):
        """Evaluation batches of all ``pairs`` (no length filter), bucketed up to the longest."""
        examples, kept = encode_pairs(pairs, self.src_tokenizer, self.tgt_tokenizer, None, self.config.reverse_source)
        if not examples:
            return None, kept
        longest = max(max(len(s), len(t) - 1) for s, t in examples)
        bounds = bucket_boundaries(longest, self.config.num_buckets)
        return BucketedBatches(examples, self.config.batch_size, bounds), kept

    def translate(self, sentences, beam_width=None, length_penalty=None):
        """Detokenised translations of source ``sentences`` (in order)."""
        beam_width = self.beam_width if beam_width is None else beam_width
        length_penalty = self.length_penalty if length_penalty is None else length_penalty
        return self._decode(*self._batches([(s, "") for s in sentences]), len(sentences), beam_width, length_penalty)

    def _decode(self, data, kept, count, beam_width, length_penalty):
        """Translations of the ``count`` sentences encoded in ``data`` (``_batches`` output)."""
        out = [""] * count
        if data is None:
            return out
        run = self._translator(beam_width, length_penalty)
        for batch in data.in_order():
            result = run(tf.constant(batch["source"]), tf.constant(batch["source_length"]))
            ids, lengths = result["ids"].numpy(), result["lengths"].numpy()
            for row, index in enumerate(batch["index"]):
                out[kept[index]] = self.tgt_tokenizer.decode(ids[row, :lengths[row]])
        return out

    def score(self, pairs, beam_width=None, length_penalty=None):
        """``{"loss", "Perplexity", "BLEU", "sentences"}`` on sentence ``pairs``, plus ``hypotheses``."""
        return self._score(pairs, self._batches(pairs), beam_width, length_penalty)

    def _score(self, pairs, encoded, beam_width=None, length_penalty=None):
        """:meth:`score` of ``pairs`` already encoded by ``_batches`` (loss and decoding share them)."""
        beam_width = self.beam_width if beam_width is None else beam_width
        length_penalty = self.length_penalty if length_penalty is None else length_penalty
        data, kept = encoded
        loss, _ = average_loss(self._loss_fn({k: tf.constant(v) for k, v in batch.items() if k != "index"})
                               for batch in data.in_order())
        hypotheses = self._decode(data, kept, len(pairs), beam_width, length_penalty)
        bleu, self.bleu_signature = corpus_bleu(hypotheses, [t for _, t in pairs])
        return {"loss": loss, "Perplexity": perplexity(loss), "BLEU": bleu,
                "sentences": len(pairs), "hypotheses": hypotheses}

    def _split_pairs(self, split):
        pairs = self.corpus.split({"validation": "valid"}.get(split, split))
        return pairs[: self.eval_sentences] if self.eval_sentences else pairs

    def evaluate(self, split):
        """``{"loss": mean xent per target token, "BLEU": corpus BLEU}`` or ``None`` (no such split)."""
        pairs = self._split_pairs(split)
        if not pairs:
            return None
        if split not in self._encoded:  # encode and bucket each split once, not every epoch
            self._encoded[split] = self._batches(pairs)
        result = self._score(pairs, self._encoded[split])
        return {"loss": result["loss"], "BLEU": result["BLEU"]}

    # -- TensorBoard -----------------------------------------------------------------------------
    def _sample_pairs(self):
        return (self.corpus.valid or self.corpus.train)[: self.samples]

    def sample_texts(self, epoch):
        """``{"translations": Markdown table, "bleu_signature": ...}`` of the sample pairs."""
        pairs = self._sample_pairs()
        hyps = self.translate([s for s, _ in pairs])
        rows = ["| source | reference | hypothesis |", "|---|---|---|"]
        rows += [f"| {_cell(s)} | {_cell(t)} | {_cell(h)} |" for (s, t), h in zip(pairs, hyps)]
        texts = {"translations": "\n".join(rows)}
        if self.bleu_signature:
            texts["bleu_signature"] = f"`{self.bleu_signature}`"
        return texts

    def attention(self, sentence):
        """``(source pieces, target pieces, alignments [target, source])`` of a greedy translation."""
        src_ids = self.src_tokenizer.encode(sentence)
        if self.config.reverse_source:
            src_ids = src_ids[::-1]
        run = self._translator(1, 0.0, alignments=True)
        result = run(tf.constant([src_ids], tf.int32), tf.constant([len(src_ids)], tf.int32))
        length = int(result["lengths"][0])
        ids = result["ids"][0, : length + 1].numpy()  # with the end token, if any
        weights = result["alignments"][0, : len(ids), : len(src_ids)].numpy()
        return self.src_tokenizer.pieces(src_ids), self.tgt_tokenizer.pieces(ids), weights

    def attention_images(self, epoch):
        """``{"attention": heatmap pixels}`` of the first sample's greedy translation."""
        from tfseq.train.figures import figure_to_image, new_figure

        pairs = self._sample_pairs()
        if not pairs:
            return {}
        src, tgt, weights = self.attention(pairs[0][0])
        figure = new_figure(width=1.5 + 0.35 * len(src), height=1.2 + 0.3 * len(tgt))
        axes = figure.add_subplot(1, 1, 1)
        axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(src)), src, rotation=90, fontsize=7)
        axes.set_yticks(range(len(tgt)), tgt, fontsize=7)
        axes.set_xlabel("source")
        axes.set_ylabel("translation")
        figure.tight_layout()
        return {"attention": figure_to_image(figure)}


def _cell(text):
    return text.replace("|", "\\|") or " "


def attention_text(src, tgt, weights):
    """The alignment as text: one row per target piece with the source piece it attends to most."""
    lines = []
    for piece, row in zip(tgt, np.asarray(weights)):
        best = int(np.argmax(row))
        lines.append(f"{piece}\t<- {src[best]} ({row[best]:.2f})")
    return "\n".join(lines)
