"""``tfseq classify train|eval|predict``: recurrent sentence classification (sentiment) from the command line.

    tfseq classify train                       # shipped MR slice, tiny config (a few CPU minutes)
    tfseq classify train --data ../shared/data/sentiment/sst2 --config sst2
    tfseq classify train --data rt-polaritydata --config mr pooling=attention bidirectional=false
    tfseq classify train --data sst2 vectors=glove.6B.300d.txt freeze_embeddings=true
    tfseq classify eval --run logdir/classify-mr/RUN --split test
    tfseq classify predict --run logdir/classify-mr/RUN "a gorgeous, witty film"

A run lives in ``<logdir>/<run>/`` (a :class:`~tfseq.train.run_dir.RunDir`): ``train/``,
``validation/`` and ``test/`` event files, ``config.json`` (with the data source and how it
was split), ``vocab.json``, ``checkpoints/`` and, once finished, ``model.keras``; ``train/``
also holds the learned word embeddings for TensorBoard's Projector
(``projector_config.pbtxt``, ``metadata.tsv``, ``embedding.ckpt-N``). Training an existing
run resumes it from its latest checkpoint; a finished run trains further when ``epochs`` is
raised. ``--run`` of ``eval``/``predict`` is a run directory, or a run name in ``--logdir``.
"""

import os
import sys

from tfseq._checks import UsageError
from tfseq.demos.frame import (
    RunPlan,
    Training,
    add_run_arguments,
    add_train_arguments,
    begin_training,
    open_run,
    parse_overrides,
    replicas_note,
    train,
)

KIND = "tfseq classify"
VOCAB_FILE = "vocab.json"
_DEFAULT_DATA = "builtin:mr"
_DEFAULT_LOGDIR = "logdir/classify-mr"  # where eval/predict look for a run given by name


def register(subparsers):
    classify = subparsers.add_parser("classify", help="train, evaluate and run recurrent sentence classifiers",
                                     description=__doc__.splitlines()[0])
    sub = classify.add_subparsers(dest="classify_command", required=True)

    train = sub.add_parser("train", help="train a sentiment classifier (resumes an existing run)")
    train.add_argument("--data", default=_DEFAULT_DATA,
                       help="builtin:mr (default), a directory of SST-2 (stsa.binary.* or sentiment-*) or MR "
                            "(rt-polarity.pos/.neg) files, a file of '<label> <sentence>' lines, or tfds:glue/sst2")
    train.add_argument("--data-dir", default=None, help="the TFDS data directory for tfds: sources")
    train.add_argument("--config", default="tiny", help="preset: tiny|sst2|mr")
    add_train_arguments(train, logdir_help="experiment directory (default: logdir/classify-<corpus>)",
                        run_help="run name (default: <corpus>-<config>-<time>); an existing run is resumed",
                        seed_help="initialisation, dropout and shuffling seed")
    train.add_argument("--split-seed", type=int, default=0,
                       help="seed of the held-out split of corpora without one (MR, a single file)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. pooling=attention")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="accuracy and macro F1 of a trained run on a split")
    add_run_arguments(evaluate, _DEFAULT_LOGDIR)
    evaluate.add_argument("--split", choices=("valid", "test"), default="test")
    evaluate.set_defaults(func=cmd_eval)

    predict = sub.add_parser("predict", help="the label and its probability for sentences given as arguments or "
                                             "on stdin")
    add_run_arguments(predict, _DEFAULT_LOGDIR)
    predict.add_argument("sentences", nargs="*", help="sentences (default: one per line from stdin)")
    predict.set_defaults(func=cmd_predict)


# -- train -----------------------------------------------------------------------------------------
def _config(args):
    from tfseq.demos.classify import presets

    try:
        config = presets.get(args.config)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return parse_overrides(config, args.overrides)


def load_corpus(source, split_seed, data_dir=None):
    """The :class:`~tfseq.data.sentiment.SentimentCorpus` of ``source`` (``UsageError`` on bad data)."""
    from tfseq.data.sentiment import load_sentiment

    try:
        corpus = load_sentiment(source, seed=split_seed, data_dir=data_dir)
    except ValueError as err:  # DataSourceError
        raise UsageError(str(err).splitlines()[0]) from None
    if not corpus.train:
        raise UsageError(f"{source}: no training sentences")
    return corpus


def build_vocabulary(config, corpus):
    """``<pad>``, ``<unk>``, then the training words seen at least ``min_count`` times."""
    from tfseq.data.sentiment import PAD, UNK
    from tfseq.data.vocab import Vocabulary

    tokens = (t for words, _ in corpus.train for t in words)
    return Vocabulary.build(tokens, specials=(PAD, UNK), min_count=config.min_count, max_size=config.max_vocab,
                            unk_token=UNK)


def _vectors(config, vocabulary, seed):
    """``(matrix, found)`` of ``config.vectors`` for ``vocabulary``, or ``(None, 0)``."""
    from tfseq.data.sentiment import load_word_vectors

    if config.vectors is None:
        return None, 0
    try:
        return load_word_vectors(config.vectors, vocabulary, config.embedding_dim, seed=seed)
    except ValueError as err:
        raise UsageError(f"vectors={str(err).splitlines()[0]}") from None


def cmd_train(args):
    from tfseq.train import default_run_name

    strategy = begin_training(args)
    config = _config(args)
    corpus = load_corpus(args.data, args.split_seed, args.data_dir)
    vocabulary = build_vocabulary(config, corpus)
    vectors = _vectors(config, vocabulary, args.seed)  # before anything is written: a bad file writes nothing
    logdir = args.logdir or os.path.join("logdir", f"classify-{corpus.name}")
    run = args.run or default_run_name(corpus.name, config.name)
    settings = {"kind": KIND, "config": config.to_dict(), "data": args.data, "data_dir": args.data_dir,
                "corpus": corpus.name, "split": corpus.split, "split_seed": args.split_seed, "seed": args.seed,
                "xla": not args.no_xla}
    then = f"to evaluate or predict with it: tfseq classify eval|predict --run {os.path.join(logdir, run)}"
    plan = RunPlan(logdir, run, settings, "config.epochs", files={VOCAB_FILE: vocabulary.save}, then=then)
    return train(args, strategy, plan, lambda: _build(args, config, corpus, plan.path, strategy, vocabulary, vectors))


def _build(args, config, corpus, run_dir, strategy, built, vectors):
    """The model, its task and the optimizer (under the strategy's scope), with the run's own
    vocabulary (also when resumed) and the pretrained vectors of that vocabulary."""
    import keras

    from tfseq.data.vocab import Vocabulary
    from tfseq.demos.classify.model import classifier_from_config
    from tfseq.demos.classify.task import ClassificationTask

    vocabulary = Vocabulary.load(os.path.join(run_dir, VOCAB_FILE))
    matrix, found = vectors if vocabulary == built else _vectors(config, vocabulary, args.seed)
    model = classifier_from_config(config, vocabulary.size, seed=args.seed)
    if matrix is not None:
        model.set_embeddings(matrix)
    task = ClassificationTask(model, vocabulary, corpus, config, seed=args.seed)
    optimizer = keras.optimizers.Adam(config.learning_rate)

    def finish(trainer):
        """The Projector's files, then the test split's scores (the validation split's when
        the corpus has no labelled test split) and its PR curve."""
        write_projector(os.path.join(run_dir, "train"), model, vocabulary)
        step = int(trainer.global_step.numpy())
        for split in ("test", "validation"):
            examples = corpus.part(split)
            if examples:
                result = task.score(examples)
                print(f"{split}: accuracy {result['Accuracy']:.2%}, macro F1 {result['Macro F1']:.4f}, "
                      f"loss {result['loss']:.4f} ({result['sentences']} sentences)", flush=True)
                write_pr_curve(trainer.writers, "test", f"pr_curve_{split}", examples, result["probabilities"],
                               step)
                return {f"{split.capitalize()} Accuracy": result["Accuracy"],
                        f"{split.capitalize()} Macro F1": result["Macro F1"]}
        return None

    direction = "bidirectional" if config.bidirectional else "unidirectional"
    pretrained = f", {found} of {vocabulary.size} words from {config.vectors}" if config.vectors else ""
    return Training(
        model, task, optimizer, epochs=config.epochs,
        summary=f"{corpus.summary()}; vocab {vocabulary.size}{pretrained}; config {config.name} "
                f"({config.num_layers}x{config.num_units} {direction} {config.cell}, {config.pooling} pooling, "
                f"{task.steps_per_epoch()} steps/epoch, {config.epochs} epochs"
                f"{replicas_note(strategy, args.strategy)})",
        hparams={**config.to_dict(), "data": args.data, "corpus": corpus.name, "split": corpus.split,
                 "seed": args.seed, "vocab": vocabulary.size},
        max_grad_norm=config.max_grad_norm, best_by="best validation accuracy", finish=finish,
        weight_average=config.weight_average,
    )


def write_pr_curve(writers, split, tag, examples, probabilities, step):
    """TensorBoard's PR curve (``pr_curves`` plugin) of the positive class."""
    import numpy as np
    import tensorflow as tf
    from tensorboard.plugins.pr_curve import summary as pr_summary

    labels = np.asarray([label for _, label in examples]) == 1
    proto = pr_summary.pb(tag, labels=labels, predictions=probabilities[:, 1].astype(np.float32),
                          num_thresholds=101, display_name=tag, description="positive class")
    with writers.writer(split).as_default():
        tf.summary.experimental.write_raw_pb(proto.SerializeToString(), step=step)


def write_projector(directory, model, vocabulary):
    """The learned word embeddings for TensorBoard's Projector: ``embedding.ckpt-N`` (one
    variable) with its ``checkpoint`` state file, ``metadata.tsv`` (one word per row) and
    ``projector_config.pbtxt``. The config names no checkpoint path: the Projector opens the
    directory's latest checkpoint, so the run directory can be moved (a relative
    ``model_checkpoint_path`` is resolved against TensorBoard's working directory and not found)."""
    import tensorflow as tf
    from tensorboard.plugins import projector

    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "metadata.tsv"), "w", encoding="utf-8") as f:
        f.writelines(token.replace("\t", " ") + "\n" for token in vocabulary.tokens)
    table = tf.Variable(model.embedding.embeddings.numpy(), name="word_embedding")
    tf.train.CheckpointManager(tf.train.Checkpoint(word_embedding=table), directory, max_to_keep=1,
                               checkpoint_name="embedding.ckpt").save()
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "word_embedding/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(directory, config)


# -- eval / predict ------------------------------------------------------------------------------
def _open(logdir, run):
    """``(TrainedRun, config, vocabulary)`` of a trained run, with the model's weights from its
    latest checkpoint; ``run`` is a run directory or a run name in ``logdir``."""
    if os.path.isfile(os.path.join(run, "config.json")):
        logdir, run = os.path.split(os.path.normpath(run))

    def load(run_dir, settings):
        from tfseq.data.vocab import Vocabulary
        from tfseq.demos.classify.model import classifier_from_config
        from tfseq.demos.classify.presets import ClassifyConfig

        config = ClassifyConfig(**settings["config"])
        try:
            vocabulary = Vocabulary.load(os.path.join(run_dir, VOCAB_FILE))
        except (OSError, ValueError) as err:
            raise UsageError(f"{run_dir}: cannot read its vocabulary ({err})") from None
        return classifier_from_config(config, vocabulary.size, seed=settings.get("seed", 0)), (config, vocabulary)

    trained = open_run(logdir, run, load, name=KIND, kind=KIND)
    return trained, *trained.parts


def cmd_eval(args):
    from tfseq.demos.classify.task import ClassificationTask

    run, config, vocabulary = _open(args.logdir, args.run)
    settings, model = run.settings, run.model
    corpus = load_corpus(settings["data"], settings.get("split_seed", 0), settings.get("data_dir"))
    examples = corpus.part(args.split)
    if not examples:
        raise UsageError(f"{settings['data']} has no {args.split} split")
    task = ClassificationTask(model, vocabulary, corpus, config)
    result = task.score(examples)
    matrix = result["confusion"]
    print(f"{corpus.name} {args.split}: accuracy {result['Accuracy']:.2%}, macro F1 {result['Macro F1']:.4f}, "
          f"loss {result['loss']:.4f} ({result['sentences']} sentences; {corpus.split})")
    print("confusion (rows true, columns predicted): " + "; ".join(
        f"{name} {list(map(int, row))}" for name, row in zip(task.labels, matrix)))
    return 0


def cmd_predict(args):
    from tfseq.demos.classify.task import ClassificationTask

    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin]
    for sentence in sentences:
        if not sentence.strip():
            raise UsageError(f"predict: empty text {sentence!r}; give sentences as arguments or one per line on stdin")
    if not sentences:
        raise UsageError("predict: no text to classify (give sentences as arguments or on stdin)")
    run, config, vocabulary = _open(args.logdir, args.run)
    task = ClassificationTask(run.model, vocabulary, _NoCorpus(), config)
    for sentence, (label, probability) in zip(sentences, task.predict(sentences)):
        print(f"{label}\t{probability:.3f}\t{sentence}", flush=True)
    return 0


class _NoCorpus:
    """The corpus of a task that only predicts."""

    train, valid, test = [], [], []
