"""Data for sequence models: tokenization, vocabularies, corpora and ``tf.data`` batching.

General pieces (reused by seq2seq): :func:`tokenize`, :class:`Vocabulary`, :func:`read_text`,
:func:`holdout_split`, :mod:`~tfseq.data.download`, :mod:`~tfseq.data.tfds_source`.
Language-model pieces: :func:`load_corpus` -> :class:`Corpus`, :func:`lm_batches`.

Example:
    >>> from tfseq import data
    >>> corpus = data.load_corpus("builtin:names", level="char")
    >>> ds = data.lm_batches(corpus.train, batch_size=32, num_steps=20)
"""

from tfseq.data.batching import lm_batches, lm_epoch_size, lm_windows
from tfseq.data.csv_source import CsvTable, read_csv_table
from tfseq.data.download import cache_dir, fetch_ptb
from tfseq.data.parallel import BucketedBatches, ParallelCorpus, bucket_boundaries, encode_pairs, load_parallel
from tfseq.data.sources import (
    BUILTIN_CORPORA,
    Corpus,
    builtin_corpus_path,
    holdout_split,
    load_corpus,
)
from tfseq.data.subwords import SubwordTokenizer, WordTokenizer, load_tokenizer, save_tokenizer, train_tokenizer
from tfseq.data.text import EOL, EOS, LEVELS, DataSourceError, detokenize, read_text, split_lines, tokenize
from tfseq.data.vocab import UNK, Vocabulary

__all__ = [
    "BucketedBatches",
    "ParallelCorpus",
    "SubwordTokenizer",
    "WordTokenizer",
    "bucket_boundaries",
    "encode_pairs",
    "load_parallel",
    "load_tokenizer",
    "save_tokenizer",
    "train_tokenizer",
    "BUILTIN_CORPORA",
    "Corpus",
    "CsvTable",
    "DataSourceError",
    "EOL",
    "EOS",
    "LEVELS",
    "UNK",
    "Vocabulary",
    "builtin_corpus_path",
    "cache_dir",
    "detokenize",
    "fetch_ptb",
    "holdout_split",
    "lm_batches",
    "lm_epoch_size",
    "lm_windows",
    "load_corpus",
    "read_csv_table",
    "read_text",
    "split_lines",
    "tokenize",
]
