"""The language-model task for :class:`tfseq.train.Trainer` (a :class:`tfseq.train.Task`):
truncated BPTT, the PTB tutorial's loss scaling and evaluation.

* Batches are the tutorial's consecutive windows (:func:`tfseq.data.lm_batches`); the RNN
  state is carried from one batch to the next in non-trainable variables (so it is also
  checkpointed, and a resumed epoch continues with the right state) and zeroed each epoch.
* The objective is the tutorial's ``cost``: the sum over time of the batch-mean
  cross-entropy, for which SGD with learning rate 1.0 is right.
* Perplexity is ``exp(mean cross-entropy per token)`` over a whole split, with the state
  carried through the split (evaluation state is separate from the training state); the
  Trainer reports it through :class:`tfseq.train.Perplexity`.

Under a ``tf.distribute`` strategy (``Trainer(..., strategy=...)``) each global batch of
``batch_size`` rows is split into contiguous row blocks, block ``r`` going to replica ``r``
(``replica_id_in_sync_group``). The carried state keeps the single-device layout,
``[batch_size, hidden]`` per tensor, in mirrored variables: replica ``r`` starts from rows
``r*b .. (r+1)*b - 1`` (``b = batch_size / replicas``) and the replicas' final states are
all-gathered back into the full rows. So the state is per replica in effect, and a
checkpoint holds the same tensor with or without a strategy (either loads in the other).
The all-gather is a collective XLA cannot hold inside each replica's compiled pass, so the
task declares ``xla_compile = "single_device"``.
"""

import tensorflow as tf

from tfseq.data import lm_batches, lm_epoch_size
from tfseq.demos.lm.model import sequence_xent, tutorial_cost_from_xent
from tfseq.train.reporting import EpochTexts, Perplexity, average_loss, perplexity


class LanguageModelTask:
    """Trains a :class:`~tfseq.demos.lm.model.LanguageModel` on token-id streams.

    Create it (like the model and the optimizer) inside ``strategy.scope()`` when training
    under a strategy; ``batch_size`` is then the global batch and must divide evenly
    among the replicas.

    Args:
        model: a built ``LanguageModel``.
        train_ids: 1-D int array, the training stream.
        batch_size, num_steps: training batch shape (rows, truncated-BPTT length).
        valid_ids, test_ids: optional 1-D int arrays.
        eval_batch_size, eval_num_steps: validation batch shape (default: the training one).
        test_batch_size, test_num_steps: test batch shape (default: ``1`` row, as the
            tutorial, so the whole stream is read with the state carried; ``num_steps``).
        texts: optional ``epoch -> {tag: text}`` (e.g. samples) for TensorBoard.

    Attributes:
        reporters: :class:`~tfseq.train.Perplexity` (train and validation), and the
            ``texts`` at each epoch's end when given.
    """

    throughput_name = "words_per_second"
    objective_reduction = "mean"  # the tutorial's cost is a batch mean (times num_steps)
    xla_compile = "single_device"  # under a strategy the loss all-gathers the carried state

    def __init__(self, model, train_ids, batch_size, num_steps, valid_ids=None, test_ids=None,
                 eval_batch_size=None, eval_num_steps=None, test_batch_size=1,
                 test_num_steps=None, texts=None):
        self.model = model
        self.train_ids = train_ids
        self.batch_size = int(batch_size)
        self.num_steps = int(num_steps)
        self.splits = {"validation": valid_ids, "test": test_ids}
        self.eval_shapes = {
            "validation": (eval_batch_size or self.batch_size, eval_num_steps or self.num_steps),
            "test": (test_batch_size or self.batch_size, test_num_steps or self.num_steps),
        }
        self.texts = texts
        self.reporters = (Perplexity(),) + (() if texts is None else (EpochTexts(texts),))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if self.batch_size % replicas:
            raise ValueError(f"LanguageModelTask: batch_size must be a multiple of the {replicas} replicas "
                             f"(it is the global batch), got {self.batch_size}")
        state = model.get_initial_state(self.batch_size)
        self._state_structure = state
        # ONLY_FIRST_REPLICA: every replica assigns the same all-gathered rows (a no-op
        # setting without a strategy).
        self._state = [tf.Variable(t, trainable=False, name=f"carried_state_{i}",
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                       for i, t in enumerate(tf.nest.flatten(state))]
        self._eval_step = tf.function(self._eval_batch)

    # -- training -------------------------------------------------------------------------
    def steps_per_epoch(self):
        return lm_epoch_size(len(self.train_ids), self.batch_size, self.num_steps)

    def train_batches(self, start):
        return lm_batches(self.train_ids, self.batch_size, self.num_steps, start=start).prefetch(2)

    def reset_state(self):
        for var in self._state:
            var.assign(tf.zeros_like(var))

    def carried_state(self):
        """The state the next training batch starts from (nested like the model's), all rows."""
        return tf.nest.pack_sequence_as(self._state_structure, [v.value() for v in self._state])

    def loss(self, batch, training):
        x, y = batch  # [rows, num_steps] each; rows = batch_size / replicas under a strategy
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        flat = [v.value() for v in self._state]
        if replicas > 1:  # this replica's contiguous block of rows
            rows = self.batch_size // replicas
            first = tf.cast(context.replica_id_in_sync_group, tf.int32) * rows
            flat = [t[first:first + rows] for t in flat]
        state = tf.nest.pack_sequence_as(self._state_structure, flat)
        logits, state = self.model(x, initial_state=state, training=training)
        final = tf.nest.flatten(state)
        if replicas > 1:
            final = context.all_gather(final, axis=0)  # back to [batch_size, ...], replica order
        for var, value in zip(self._state, final):
            var.assign(value)
        xent = sequence_xent(logits, y)  # [rows, num_steps]
        metrics = {"loss_sum": tf.reduce_sum(xent), "count": tf.size(xent)}
        return tutorial_cost_from_xent(xent), metrics

    def trackables(self):
        return {"carried_state": list(self._state)}

    # -- evaluation -------------------------------------------------------------------------
    def _eval_batch(self, x, y, state):
        logits, state = self.model(x, initial_state=state, training=False)
        return tf.reduce_sum(sequence_xent(logits, y)), state

    def evaluate(self, split):
        """``{"loss": mean xent per token, "perplexity": exp(loss), "tokens": n}`` or ``None``."""
        ids = self.splits.get(split)
        if ids is None:
            return None
        batch_size, num_steps = self.eval_shapes[split]

        def batch_sums():  # the state carried from window to window through the split
            state = self.model.get_initial_state(batch_size)
            for x, y in lm_batches(ids, batch_size, num_steps).prefetch(2):
                loss_sum, state = self._eval_step(x, y, state)
                yield loss_sum, batch_size * num_steps

        loss, count = average_loss(batch_sums())
        return {"loss": loss, "perplexity": perplexity(loss), "tokens": int(count)}
