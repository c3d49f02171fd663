"""``tfseq tag train|eval|predict``: joint slot filling and intent detection from the command line.

    tfseq tag train                                   # shipped SNIPS slice, tiny config (a few CPU minutes)
    tfseq tag train --data DIR --config atis          # DIR/{train,valid,test}/{seq.in,seq.out,label}
    tfseq tag train encoder_type=uni variant=joint    # config overrides
    tfseq tag eval --logdir logdir/tag-snips --run RUN --split test
    tfseq tag predict --logdir logdir/tag-atis --run RUN "i would like to fly from boston to denver on november 24th"

A run lives in ``<logdir>/<run>/`` (a :class:`~tfseq.train.run_dir.RunDir`): ``train/`` and
``validation/`` event files, ``config.json``, ``vocab.json`` (words, tags, intents of the
training split), ``checkpoints/`` and, once finished, ``model.keras``. Training an existing
run resumes it from its latest checkpoint; a finished run trains further when ``epochs`` is
raised. Scoring rules: :data:`tfseq.demos.tag.task.SCORING`.
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

KIND = "tfseq tag"
VOCAB_FILE = "vocab.json"
_DEFAULT_DATA = "builtin:snips"
_DEFAULT_LOGDIR = "logdir/tag-snips"  # where eval/predict look for a run given by name


def register(subparsers):
    tag = subparsers.add_parser("tag", help="train, evaluate and run joint slot-filling and intent models",
                                description=__doc__.splitlines()[0])
    sub = tag.add_subparsers(dest="tag_command", required=True)

    train = sub.add_parser("train", help="train a slot tagger and intent classifier (resumes an existing run)")
    train.add_argument("--data", default=_DEFAULT_DATA,
                       help="builtin:snips (default: the shipped slice) or a directory with train/, valid/, test/ "
                            "folders of seq.in, seq.out, label")
    train.add_argument("--config", default="tiny", help="preset: tiny|atis|snips")
    add_train_arguments(train, logdir_help="experiment directory (default: logdir/tag-<corpus>)",
                        run_help="run name (default: <corpus>-<config>-<time>); an existing run is resumed")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. num_units=128")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="slot F1, intent and sentence accuracy of a trained run")
    add_run_arguments(evaluate, _DEFAULT_LOGDIR)
    evaluate.add_argument("--split", choices=("valid", "test"), default="test")
    evaluate.add_argument("--data", default=None, help="another directory of the same layout (default: the run's)")
    evaluate.set_defaults(func=cmd_eval)

    predict = sub.add_parser("predict", help="tag sentences given as arguments or on stdin")
    add_run_arguments(predict, _DEFAULT_LOGDIR)
    predict.add_argument("sentences", nargs="*", help="sentences (default: one per line from stdin)")
    predict.set_defaults(func=cmd_predict)


# -- train -----------------------------------------------------------------------------------------
def _config(args):
    from tfseq.demos.tag import presets as tag_presets

    try:
        config = tag_presets.get(args.config)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return parse_overrides(config, args.overrides)


def _corpus(source):
    from tfseq.data.slots import load_slots

    try:
        return load_slots(source)
    except ValueError as err:  # DataSourceError
        raise UsageError(str(err).splitlines()[0]) from None


def cmd_train(args):
    from tfseq.data.slots import SlotVocabularies
    from tfseq.train import default_run_name

    strategy = begin_training(args)
    config = _config(args)
    corpus = _corpus(args.data)
    logdir = args.logdir or os.path.join("logdir", f"tag-{corpus.name}")
    run = args.run or default_run_name(corpus.name, config.name)
    data = args.data if args.data.startswith("builtin:") else os.path.abspath(args.data)
    settings = {"kind": KIND, "config": config.to_dict(), "data": data, "seed": args.seed, "xla": not args.no_xla}

    def write_vocab(path):
        SlotVocabularies.build(corpus.train, zero_digits=config.zero_digits).save(path)

    plan = RunPlan(logdir, run, settings, "config.epochs", files={VOCAB_FILE: write_vocab},
                   then=f"to evaluate or predict with it: tfseq tag eval|predict --logdir {logdir} --run {run}")
    return train(args, strategy, plan, lambda: _build(args, config, corpus, plan.path, strategy))


def _vocabularies(run_dir, config, corpus):
    """The run's vocabularies; a worker that starts before the chief wrote them builds its own
    (the same ones: the same training split)."""
    from tfseq.data.slots import SlotVocabularies
    from tfseq.train.run_dir import RunDir

    if RunDir(run_dir).exists():  # config.json is written after vocab.json
        return _load_vocab(run_dir)
    return SlotVocabularies.build(corpus.train, zero_digits=config.zero_digits)


def _load_vocab(run_dir):
    from tfseq.data.slots import SlotVocabularies

    try:
        return SlotVocabularies.load(os.path.join(run_dir, VOCAB_FILE))
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"{run_dir}: cannot read its {VOCAB_FILE} ({err})") from None


def _model(config, vocab, seed):
    from tfseq.demos.tag.model import tag_model_from_config

    try:
        return tag_model_from_config(config, vocab, seed=seed)
    except ValueError as err:  # character features with a vocabulary saved without characters
        raise UsageError(str(err)) from None


def _build(args, config, corpus, run_dir, strategy):
    """The model, its task and the optimizer (under the strategy's scope)."""
    import keras

    from tfseq.demos.tag.task import SCORING, TagTask, examples_table

    vocab = _vocabularies(run_dir, config, corpus)
    model = _model(config, vocab, args.seed)
    task = TagTask(model, vocab, corpus, config, seed=args.seed)
    optimizer = keras.optimizers.Adam(config.learning_rate)

    def finish(trainer):
        if not corpus.test:
            return None
        result = task.score_utterances(corpus.test)
        print(f"Test {_scores_line(result)}", flush=True)
        print(f"scoring: {SCORING}", flush=True)
        predicted = [(list(u.words), t, i) for u, t, i in zip(corpus.test, result["tags"], result["intents"])]
        trainer.writers.text("test", "tagged_examples", examples_table(corpus.test[:5], predicted[:5]),
                             int(trainer.global_step.numpy()))
        return {k: result[k] for k in ("Slot F1", "Intent Accuracy", "Sentence Accuracy")}

    encoder = f"{config.num_layers}x{config.num_units} {config.cell}, {config.encoder_type}directional"
    if config.uses_chars:
        encoder += f", character CNN {config.char_filters}x{config.char_kernel}"
    if config.members > 1:
        encoder += f", an ensemble of {config.members} trained together"
    return Training(
        model, task, optimizer, epochs=config.epochs,
        summary=f"{corpus.summary()}; vocab {vocab.words.size} words, {vocab.tags.size - 2} tags, "
                f"{vocab.intents.size - 1} intents; config {config.name} ({encoder}, {config.variant}, "
                f"{task.steps_per_epoch()} steps/epoch, {config.epochs} epochs"
                f"{replicas_note(strategy, args.strategy)})",
        hparams={**config.to_dict(), "data": args.data, "seed": args.seed, "vocab": vocab.words.size,
                 "tags": vocab.tags.size, "intents": vocab.intents.size},
        learning_rate_at=config.learning_rate_at if config.learning_rate_decay != 1.0 else None,
        max_grad_norm=config.max_grad_norm, best_by="best validation slot F1 + intent accuracy",
        finish=finish, weight_average=config.weight_average,
    )


def _scores_line(result):
    return (f"slot F1 {result['Slot F1']:.2f} (precision {result['Slot Precision']:.2f}, recall "
            f"{result['Slot Recall']:.2f}), intent accuracy {result['Intent Accuracy']:.2f} %, sentence accuracy "
            f"{result['Sentence Accuracy']:.2f} % ({result['utterances']} utterances)")


# -- eval / predict ----------------------------------------------------------------------------------
def _open(args):
    """``(run_dir, settings, config, vocabularies, model)`` of a trained run, with the model's
    weights from its latest checkpoint."""
    def load(run_dir, settings):
        from tfseq.demos.tag import presets as tag_presets

        config = tag_presets.TagConfig(**settings["config"])
        vocab = _load_vocab(run_dir)
        return _model(config, vocab, settings.get("seed", 0)), (config, vocab)

    run = open_run(args.logdir, args.run, load, name=KIND, kind=KIND)
    return run.path, run.settings, *run.parts, run.model


def cmd_eval(args):
    from tfseq.data.slots import SlotCorpus
    from tfseq.demos.tag.task import SCORING, TagTask

    _, settings, config, vocab, model = _open(args)
    corpus = _corpus(args.data or settings["data"])
    utterances = corpus.split(args.split)
    if not utterances:
        raise UsageError(f"{args.data or settings['data']} has no {args.split} split")
    task = TagTask(model, vocab, SlotCorpus(corpus.name, [], [], []), config)
    result = task.score_utterances(utterances)
    print(f"{args.split}: {_scores_line(result)}")
    print(f"scoring: {SCORING}")
    return 0


def cmd_predict(args):
    from tfseq.data.slots import SlotCorpus
    from tfseq.demos.tag.task import TagTask

    _, _, config, vocab, model = _open(args)
    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin]
    for number, sentence in enumerate(sentences, start=1):
        if not sentence.split():
            raise UsageError(f"sentence {number} is empty: {sentence!r} (give words to tag)")
    if not sentences:
        raise UsageError("no sentences to tag (give them as arguments or on stdin)")
    task = TagTask(model, vocab, SlotCorpus("predict", [], [], []), config)
    for index, (words, tags, intent) in enumerate(task.predict(sentences)):
        if index:
            print()
        width = max(len(w) for w in words)
        for word, tag in zip(words, tags):
            print(f"{word:<{width}}  {tag}")
        print(f"intent: {intent}", flush=True)
    return 0
