"""``tfseq translate train|eval|decode``: attentive RNN translation from the command line.

    tfseq translate train                   # shipped Tatoeba es->en pairs, tiny config (a few minutes)
    tfseq translate train --data path/to/multi30k --src en --tgt de --config multi30k
    tfseq translate train --data spa.txt --src es --tgt en attention=bahdanau num_units=256
    tfseq translate eval --logdir logdir/translate-spa-eng --run RUN --beam-width 5
    tfseq translate decode --logdir logdir/translate-spa-eng --run RUN "¿Dónde está el baño?"
    tfseq translate train --strategy mirrored --devices 2   # two replicas (logical CPUs without a GPU)

A run lives in ``<logdir>/<run>/`` (a :class:`~tfseq.train.run_dir.RunDir`): ``train/`` and
``validation/`` event files, ``config.json``, the two tokenizers (see
:mod:`tfseq.demos.translate.run`), ``checkpoints/`` and, once finished, ``model.keras``.
Training an existing run resumes it from its latest checkpoint; a finished run trains
further when ``epochs`` is raised.
"""

import argparse
import os
import sys

from tfseq._checks import UsageError
from tfseq.demos.frame import (
    RunPlan,
    Training,
    add_run_arguments,
    add_train_arguments,
    begin_training,
    check_positive_options,
    parse_overrides,
    replicas_note,
    train,
)
from tfseq.demos.translate import run as translate_run

_DEFAULT_DATA = "builtin:spa-eng"
_LOGDIR = os.path.join("logdir", "translate-spa-eng")  # eval/decode default


def register(subparsers: argparse._SubParsersAction) -> None:
    translate = subparsers.add_parser("translate", help="train, evaluate and run attentive RNN translation models",
                                      description=__doc__.splitlines()[0].replace("``", ""))
    sub = translate.add_subparsers(dest="translate_command", required=True)

    train = sub.add_parser("train", help="train a translation model (resumes an existing run)")
    train.add_argument("--data", default=_DEFAULT_DATA,
                       help="builtin:spa-eng (default), a tab-separated file, a directory of train.<lang> files, "
                            "or tfds:NAME")
    train.add_argument("--src", default=None, help="source language code (default for builtin:spa-eng: es)")
    train.add_argument("--tgt", default=None, help="target language code (default for builtin:spa-eng: en)")
    train.add_argument("--data-dir", default=None, help="the TFDS data directory for tfds: sources")
    train.add_argument("--config", default="tiny", help="preset: tiny|multi30k|iwslt")
    train.add_argument("--eval-sentences", type=int, default=None,
                       help="score BLEU each epoch on at most this many validation pairs (default: all)")
    add_train_arguments(
        train, logdir_help="experiment directory (default: logdir/translate-<corpus>)",
        run_help="run name (default: <corpus>-<config>-<time>); an existing run is resumed")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. num_units=256")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="BLEU of a trained run on a split or on a file pair")
    add_run_arguments(evaluate, _LOGDIR)
    evaluate.add_argument("--split", choices=("valid", "test"), default="test")
    evaluate.add_argument("--source-file", default=None, help="source sentences, one per line (.gz too)")
    evaluate.add_argument("--reference-file", default=None, help="reference translations, line-aligned")
    evaluate.add_argument("--src", default=None, help="language of --source-file (checked against the run)")
    evaluate.add_argument("--tgt", default=None, help="language of --reference-file (checked against the run)")
    _decoding_args(evaluate)
    evaluate.set_defaults(func=cmd_eval)

    decode = sub.add_parser("decode", help="translate sentences given as arguments or on stdin")
    add_run_arguments(decode, _LOGDIR)
    decode.add_argument("sentences", nargs="*", help="sentences to translate (default: one per line from stdin)")
    decode.add_argument("--show-attention", action="store_true",
                        help="after each translation, the source piece each target piece attends to most (greedy)")
    _decoding_args(decode)
    decode.set_defaults(func=cmd_decode)


def _decoding_args(parser):
    parser.add_argument("--beam-width", type=int, default=None, help="1 = greedy (default: the run's config)")
    parser.add_argument("--length-penalty", type=float, default=None, help="GNMT length penalty weight alpha")


def _decoding(args, config):
    beam = config.beam_width if args.beam_width is None else args.beam_width
    penalty = config.length_penalty if args.length_penalty is None else args.length_penalty
    if beam < 1:
        raise UsageError(f"--beam-width must be a positive integer, got {beam}")
    if penalty < 0:
        raise UsageError(f"--length-penalty must be >= 0, got {penalty}")
    return beam, penalty


# -- train -----------------------------------------------------------------------------------------
def _config(args):
    from tfseq.demos.translate import presets as translation_presets

    try:
        config = translation_presets.get(args.config)
    except ValueError as err:
        raise UsageError(str(err)) from None
    config = parse_overrides(config, args.overrides)
    check_positive_options(args, ("eval_sentences",))
    return config


def _corpus(source, src, tgt, data_dir, seed):
    from tfseq.data.parallel import load_parallel

    try:
        return load_parallel(source, src, tgt, data_dir=data_dir, seed=seed)
    except ValueError as err:  # DataSourceError
        raise UsageError(str(err).splitlines()[0]) from None


def _optimizer(config, total_steps):
    import keras

    from tfseq.demos.translate.task import NMTLearningRate

    schedule = NMTLearningRate(config.learning_rate, total_steps, config.warmup_steps, config.decay_scheme)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(schedule)
    return keras.optimizers.Adam(schedule)


def cmd_train(args: argparse.Namespace) -> int:
    from tfseq.train import default_run_name

    strategy = begin_training(args)
    config = _config(args)
    corpus = _corpus(args.data, args.src, args.tgt, args.data_dir, args.seed)
    logdir = args.logdir or os.path.join("logdir", f"translate-{corpus.name}")
    run = args.run or default_run_name(corpus.name, f"{corpus.src}{corpus.tgt}", config.name)
    settings = {"kind": translate_run.KIND, "config": config.to_dict(), "data": args.data, "src": corpus.src,
                "tgt": corpus.tgt, "data_dir": args.data_dir, "seed": args.seed, "xla": not args.no_xla}
    plan = RunPlan(logdir, run, settings, "config.epochs", files=translate_run.tokenizer_files(config, corpus.train),
                   then=f"to evaluate or decode with it: tfseq translate eval|decode --logdir {logdir} --run {run}")
    return train(args, strategy, plan, lambda: _build(args, config, corpus, plan.path, strategy))


def _tokenizers(run_dir, config, corpus):
    """The run's tokenizers; a worker that starts before the chief wrote them trains its own
    (the same ones: the same pairs and settings)."""
    from tfseq.train.run_dir import RunDir

    if RunDir(run_dir).exists():  # config.json is written after the tokenizers
        return translate_run.load_tokenizers(run_dir)
    return translate_run.train_tokenizers(config, corpus.train)


def _build(args, config, corpus, run_dir, strategy):
    """The model, its task and the optimizer (under the strategy's scope)."""
    from tfseq.demos.translate.model import translation_model_from_config
    from tfseq.demos.translate.task import TranslationTask

    src_tok, tgt_tok = _tokenizers(run_dir, config, corpus)
    model = translation_model_from_config(config, src_tok.size, tgt_tok.size, seed=args.seed)
    task = TranslationTask(model, src_tok, tgt_tok, corpus, config, seed=args.seed,
                           eval_sentences=args.eval_sentences)
    steps = task.steps_per_epoch()
    if steps == 0:
        raise UsageError(f"{args.data}: no training pair has at most max_length={config.max_length} tokens")

    def finish(trainer):
        if not corpus.test:
            return None
        result = task.score(corpus.test)
        print(f"Test BLEU {result['BLEU']:.2f} ({_decoder_name(config.beam_width, config.length_penalty)}, "
              f"{result['sentences']} sentences), perplexity {result['Perplexity']:.2f}; {task.bleu_signature}",
              flush=True)
        for (src, ref), hyp in list(zip(corpus.test, result["hypotheses"]))[:5]:
            print(f"  {src}\n    = {ref}\n    > {hyp}")
        return {"BLEU": result["BLEU"], "Test Loss": result["loss"], "Perplexity": result["Perplexity"]}

    where = replicas_note(strategy, args.strategy)
    return Training(
        model, task, _optimizer(config, config.epochs * steps), epochs=config.epochs,
        summary=f"{corpus.summary()}; {config.tokenizer} vocab {src_tok.size}/{tgt_tok.size}; config {config.name} "
                f"({config.num_layers}x{config.num_units} {config.cell}, {config.encoder_type} encoder, "
                f"{config.attention} attention, {steps} steps/epoch, {config.epochs} epochs{where})",
        hparams={**config.to_dict(), "data": args.data, "src": corpus.src, "tgt": corpus.tgt, "seed": args.seed,
                 "src_vocab": src_tok.size, "tgt_vocab": tgt_tok.size},
        max_grad_norm=config.max_grad_norm, finish=finish,
    )


def _decoder_name(beam, penalty):
    return "greedy" if beam == 1 else f"beam {beam}, length penalty {penalty:g}"


# -- eval / decode ------------------------------------------------------------------------------------
def _open(args):
    """``(run, config, task(corpus))`` of ``--logdir``/``--run``: the trained run, its config
    and a function making its task on a corpus."""
    from tfseq.demos.translate.task import TranslationTask

    run = translate_run.open_run(args.logdir, args.run)
    config, src_tok, tgt_tok = run.parts
    return run, config, lambda corpus: TranslationTask(run.model, src_tok, tgt_tok, corpus, config)


def cmd_eval(args: argparse.Namespace) -> int:
    from tfseq.data.parallel import ParallelCorpus, read_aligned_pairs

    run, config, make_task = _open(args)
    settings = run.settings
    beam, penalty = _decoding(args, config)
    translate_run.check_pair(settings, args.src, args.tgt, run.path)
    if (args.source_file is None) != (args.reference_file is None):
        raise UsageError("give both --source-file and --reference-file, or neither")
    if args.source_file:
        try:
            pairs = read_aligned_pairs(args.source_file, args.reference_file)
        except ValueError as err:
            raise UsageError(str(err).splitlines()[0]) from None
        if not pairs:
            raise UsageError(f"{args.source_file}: no sentence pairs")
        name = os.path.basename(args.source_file)
        corpus = ParallelCorpus(name, settings["src"], settings["tgt"], pairs, [], [])
    else:
        corpus = _corpus(settings["data"], settings["src"], settings["tgt"], settings.get("data_dir"),
                         settings["seed"])
        pairs, name = corpus.split(args.split), args.split
        if not pairs:
            raise UsageError(f"{settings['data']} has no {args.split} split")
    task = make_task(corpus)
    result = task.score(pairs, beam, penalty)
    print(f"{name}: BLEU {result['BLEU']:.2f} ({_decoder_name(beam, penalty)}, {result['sentences']} sentences), "
          f"perplexity {result['Perplexity']:.3f}, mean xent {result['loss']:.4f} nats/token")
    print(task.bleu_signature)
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from tfseq.data.parallel import ParallelCorpus, normalize
    from tfseq.demos.translate.task import attention_text

    run, config, make_task = _open(args)
    beam, penalty = _decoding(args, config)
    if args.show_attention and beam != 1:
        raise UsageError("--show-attention needs greedy decoding (--beam-width 1)")
    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin]
    sentences = [normalize(s) for s in sentences]
    if not any(sentences):
        raise UsageError("no sentences to translate (give them as arguments or on stdin)")
    task = make_task(ParallelCorpus("decode", run.settings["src"], run.settings["tgt"], [], [], []))
    for sentence, translation in zip(sentences, task.translate(sentences, beam, penalty)):
        print(translation, flush=True)
        if args.show_attention and sentence:
            print(attention_text(*task.attention(sentence)), flush=True)
    return 0
