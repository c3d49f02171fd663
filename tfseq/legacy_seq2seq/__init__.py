"""TF1's ``tf.contrib.legacy_seq2seq``: sequence-to-sequence models, decoders and losses over lists of steps.

``from tfseq import legacy_seq2seq`` replaces ``tf.contrib.legacy_seq2seq`` (the TF1 translate
tutorial, chatbots, char-rnn): same functions, arguments, defaults, math and TF1 variable names as
TF 1.15. Sequences are Python lists of per-step tensors (``[batch, ...]``), one entry per time step.
For new code prefer ``tfseq.seq2seq`` (``BasicDecoder``, ``AttentionWrapper``) over ``[batch, time, ...]``
tensors.

* Models: :func:`basic_rnn_seq2seq`, :func:`tied_rnn_seq2seq`, :func:`embedding_rnn_seq2seq`,
  :func:`embedding_tied_rnn_seq2seq`, :func:`embedding_attention_seq2seq`, :func:`one2many_rnn_seq2seq`,
  and :func:`model_with_buckets` to share one model across buckets of lengths.
* Decoders: :func:`rnn_decoder`, :func:`embedding_rnn_decoder`, :func:`attention_decoder`,
  :func:`embedding_attention_decoder`.
* Losses: :func:`sequence_loss_by_example`, :func:`sequence_loss`.

**Variables.** TF1 created a model's variables once per graph and found them again by name. A TF2
port calls these functions at every step (eagerly or in a ``tf.function``), so the variables they
create (embeddings, attention weights, the encoder's copy of the cell, output projection wrappers)
live in a :class:`VariableStore` that belongs to the cell passed in: created at the first call, found
again by TF1 name at every later call, and shared by every bucket of :func:`model_with_buckets`.
``variable_store(cell).trainable_weights`` is what ``tf.trainable_variables()`` gave (plus variables
the program made itself, such as an ``output_projection``); :func:`tf1_variables` names them as a TF1
checkpoint does (``embedding_attention_seq2seq/embedding_attention_decoder/attention_decoder/AttnW_0``, ...).

Every function also takes ``training`` (as :func:`tfseq.nn.dynamic_rnn`: ``DropoutWrapper`` drops when
it is not given, as in TF1).
"""

from tfseq.legacy_seq2seq.decoders import (
    attention_decoder,
    embedding_attention_decoder,
    embedding_rnn_decoder,
    rnn_decoder,
)
from tfseq.legacy_seq2seq.losses import sequence_loss, sequence_loss_by_example
from tfseq.legacy_seq2seq.models import (
    basic_rnn_seq2seq,
    embedding_attention_seq2seq,
    embedding_rnn_seq2seq,
    embedding_tied_rnn_seq2seq,
    model_with_buckets,
    one2many_rnn_seq2seq,
    tied_rnn_seq2seq,
)
from tfseq.legacy_seq2seq.variables import VariableStore, tf1_variables, variable_store

__all__ = [
    "basic_rnn_seq2seq",
    "tied_rnn_seq2seq",
    "embedding_rnn_seq2seq",
    "embedding_tied_rnn_seq2seq",
    "embedding_attention_seq2seq",
    "one2many_rnn_seq2seq",
    "model_with_buckets",
    "rnn_decoder",
    "embedding_rnn_decoder",
    "attention_decoder",
    "embedding_attention_decoder",
    "sequence_loss_by_example",
    "sequence_loss",
    "VariableStore",
    "variable_store",
    "tf1_variables",
]
