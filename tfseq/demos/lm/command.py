"""``tfseq lm train|eval|sample``: RNN language models from the command line.

    tfseq lm train                      # built-in names corpus, char level, char config (3 CPU-minutes)
    tfseq lm train --config tiny        # the same, a smaller model (well under a minute)
    tfseq lm train --config small --data-dir data/ptb --logdir logdir/ptb-small
    tfseq lm train --data tfds:tiny_shakespeare --level char --cell gru hidden_size=256
    tfseq lm eval --logdir logdir/names --run RUN
    tfseq lm sample --logdir logdir/names --run RUN --temperature 0.8 --num 20
    tfseq lm train --strategy mirrored --devices 2     # two replicas (logical CPUs without a GPU)
    TF_CONFIG='{"cluster": {"worker": ["h1:2222", "h2:2222"]}, "task": {"type": "worker", "index": 0}}' \
        tfseq lm train --strategy multi-worker ...     # on each host, its own task index

A run lives in ``<logdir>/<run>/`` (a :class:`~tfseq.train.run_dir.RunDir`): ``train/`` and
``validation/`` event files, ``config.json``, ``vocab.json``, ``checkpoints/`` and, once
finished, ``model.keras``. Training an existing run resumes it from its latest checkpoint; a
finished run trains further when ``max_max_epoch`` is raised.
"""

import argparse
import math
import os

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

_LINE_COUNT = 12  # names printed after training
_NOVELTY_SAMPLES = 200  # names generated to estimate the novel fraction
_LOGDIR = os.path.join("logdir", "names")  # eval/sample default


def register(subparsers: argparse._SubParsersAction) -> None:
    lm = subparsers.add_parser("lm", help="train, evaluate and sample RNN language models",
                               description=__doc__.splitlines()[0].replace("``", ""))
    sub = lm.add_subparsers(dest="lm_command", required=True)

    train = sub.add_parser("train", help="train a language model (resumes an existing run)")
    train.add_argument("--config", default="char",
                       help="preset: char (default)|tiny|test|small|medium|large|small_reg")
    train.add_argument("--data", default=None,
                       help="builtin:names (default), builtin:shakespeare, ptb, tfds:NAME, a file or a PTB directory")
    train.add_argument("--data-dir", default=None,
                       help="a PTB-layout directory (when --data is not given), the TFDS data dir, or the ptb cache")
    train.add_argument("--level", choices=("char", "word"), default=None,
                       help="tokenization (default: the source's own, char for builtin corpora)")
    train.add_argument("--cell", choices=("lstm", "peephole", "gru", "rnn"), default=None,
                       help="recurrent cell: lstm (BasicLSTMCell), peephole (LSTMCell with peepholes), gru, "
                            "rnn (BasicRNNCell); default: the preset's")
    train.add_argument("--samples", type=int, default=_LINE_COUNT, help="lines/names to print at the end")
    add_train_arguments(
        train, logdir_help="experiment directory, logdir/<experiment> (default: logdir/<corpus name>)",
        run_help="run name (default: <corpus>-<config>-<cell>-<time>); an existing run is resumed",
        seed_help="seed of the initial weights, dropout masks and samples (default 0)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. hidden_size=256")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="perplexity of a trained run on its valid/test splits")
    add_run_arguments(evaluate, _LOGDIR)
    evaluate.set_defaults(func=cmd_eval)

    sample = sub.add_parser("sample", help="generate text or names from a trained run")
    add_run_arguments(sample, _LOGDIR)
    sample.add_argument("--prime", default="", help="text to start from")
    sample.add_argument("--length", type=int, default=None, help="tokens per sample (default 40 per line, 300 text)")
    sample.add_argument("--temperature", type=float, default=1.0,
                        help="divides the logits before sampling: below 1 more likely tokens, above 1 more "
                             "varied, 0 the most likely (as --greedy); a finite number >= 0 (default 1)")
    sample.add_argument("--greedy", action="store_true", help="always the most likely token")
    sample.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    sample.add_argument("--num", type=int, default=10, help="number of lines (names)")
    sample.add_argument("--text", action="store_true", help="one running text instead of lines")
    sample.set_defaults(func=cmd_sample)


# -- data ----------------------------------------------------------------------------------------
def _source(args):
    if args.data:
        return args.data
    return args.data_dir or "builtin:names"


def _load_corpus(source, level, data_dir, vocab=None):
    from tfseq import data

    kwargs = {}
    if source.startswith("tfds:"):
        kwargs["data_dir"] = data_dir
    elif source == "ptb":
        kwargs["cache_dir"] = data_dir
    try:
        return data.load_corpus(source, level, vocab=vocab, **kwargs)
    except ValueError as err:  # DataSourceError: missing/empty/non-UTF-8 files, empty train split
        raise UsageError(str(err).splitlines()[0]) from None


# -- run directory ---------------------------------------------------------------------------------
def _task(model, corpus, config, texts=None):
    """The LM task on ``corpus``'s splits (an empty valid/test split is left out)."""
    from tfseq.demos.lm.task import LanguageModelTask

    return LanguageModelTask(
        model, corpus.train, config.batch_size, config.num_steps,
        valid_ids=corpus.valid if len(corpus.valid) else None,
        test_ids=corpus.test if len(corpus.test) else None, texts=texts,
    )


def _samples_markdown(model, corpus, known, seed, count=_LINE_COUNT):
    """``(lines, novel fraction or None, markdown)``; the fraction is measured on
    ``_NOVELTY_SAMPLES`` generated lines, the first ``count`` of which are returned."""
    from tfseq.demos.lm import generate_lines, generate_text, novelty

    if corpus.level == "char":
        lines = generate_lines(model, corpus.vocab, "char", num_lines=max(count, _NOVELTY_SAMPLES), seed=seed)
        frac = novelty(lines, known)
        lines = lines[:count]
        markdown = "\n".join(f"* `{line}`" for line in lines)
        return lines, frac, markdown + f"\n\nnovel (not in the corpus): {frac:.0%} of {_NOVELTY_SAMPLES}"
    text = generate_text(model, corpus.vocab, "word", length=60, seed=seed)
    return [text], None, text


# -- commands ----------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from tfseq.demos.lm import presets
    from tfseq.train import default_run_name

    strategy = begin_training(args)
    try:
        config = presets.get(args.config)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.cell:
        config = config.with_overrides(cell=args.cell)
    config = parse_overrides(config, args.overrides)
    if args.samples < 0:
        raise UsageError(f"--samples must be an integer >= 0, got {args.samples}")
    source = _source(args)
    corpus = _load_corpus(source, args.level, args.data_dir)
    config = config.with_overrides(vocab_size=corpus.vocab.size)

    corpus_name = corpus.name.replace("/", "_")
    logdir = args.logdir or os.path.join("logdir", corpus_name)
    run = args.run or default_run_name(corpus_name, config.name, config.cell)
    settings = {"config": config.to_dict(), "data": source, "data_dir": args.data_dir,
                "level": corpus.level, "seed": args.seed}
    if args.no_xla:  # XLA draws other dropout masks: a run resumes with the setting it started with
        settings["xla"] = False
    plan = RunPlan(logdir, run, settings, "config.max_max_epoch", files={"vocab.json": corpus.vocab.save},
                   then=f"to evaluate or sample it: tfseq lm eval|sample --logdir {logdir} --run {run}")
    return train(args, strategy, plan, lambda: _build(args, config, corpus, strategy))


def _build(args, config, corpus, strategy):
    """The model, its task and the optimizer (under the strategy's scope)."""
    import keras

    from tfseq.demos.lm import language_model_from_config

    known = set(corpus.lines()) if corpus.level == "char" else set()
    try:
        model = language_model_from_config(config, seed=args.seed)  # config.vocab_size is the corpus'

        def texts(epoch):
            return {"samples": _samples_markdown(model, corpus, known, seed=epoch)[2]}

        task = _task(model, corpus, config, texts)
        optimizer = (keras.optimizers.Adam if config.optimizer == "adam" else keras.optimizers.SGD)(
            config.learning_rate)
        steps = task.steps_per_epoch()
    except ValueError as err:
        raise UsageError(str(err)) from None
    if steps == 0:
        raise UsageError(f"{_source(args)}: too little training text for batch_size={config.batch_size} "
                         f"and num_steps={config.num_steps}")

    def finish(trainer):
        test = task.evaluate("test")
        if test is not None:
            print(f"Test perplexity: {test['perplexity']:.3f} (mean xent {test['loss']:.4f} nats/token, "
                  f"{test['tokens']} tokens)", flush=True)
        lines, frac, _ = _samples_markdown(model, corpus, known, seed=args.seed, count=args.samples)
        if frac is None:
            print("Sample:", lines[0])
        else:
            print(f"Samples ({frac:.0%} of {max(args.samples, _NOVELTY_SAMPLES)} generated lines are novel, "
                  "not in the corpus):")
            for line in lines:
                print(f"  {line}")
        return None if test is None else {"Test Loss": test["loss"], "Perplexity": test["perplexity"]}

    where = replicas_note(strategy, args.strategy)
    return Training(
        model, task, optimizer, epochs=config.max_max_epoch,
        summary=f"{corpus.summary()}; config {config.name} ({config.num_layers}x{config.hidden_size} "
                f"{config.cell}, {steps} steps/epoch, {config.max_max_epoch} epochs{where})",
        hparams={**config.to_dict(), "data": _source(args), "level": corpus.level, "seed": args.seed},
        learning_rate_at=config.learning_rate_at, max_grad_norm=config.max_grad_norm, finish=finish,
    )


def _open(args):
    """``(TrainedRun, config, vocab)`` of ``--logdir``/``--run``."""
    def load(run_dir, settings):
        from tfseq.data import Vocabulary
        from tfseq.demos.lm import LMConfig, language_model_from_config

        config = LMConfig(**settings["config"])
        vocab = Vocabulary.load(os.path.join(run_dir, "vocab.json"))
        return language_model_from_config(config, seed=settings.get("seed", 0)), (config, vocab)

    run = open_run(args.logdir, args.run, load, name="tfseq lm")
    return run, *run.parts


def cmd_eval(args: argparse.Namespace) -> int:
    run, config, vocab = _open(args)
    saved = run.settings
    corpus = _load_corpus(saved["data"], saved["level"], saved.get("data_dir"), vocab=vocab)
    task = _task(run.model, corpus, config)
    for split in ("validation", "test"):
        result = task.evaluate(split)
        if result is not None:
            print(f"{split}: perplexity {result['perplexity']:.3f}, mean xent {result['loss']:.4f} "
                  f"nats/token ({result['tokens']} tokens)")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from tfseq.demos.lm import generate_lines, generate_text

    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise UsageError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if args.num <= 0 or (args.length is not None and args.length <= 0):
        raise UsageError("--num and --length must be positive")
    run, _, vocab = _open(args)
    model, level = run.model, run.settings["level"]
    if args.text:
        print(generate_text(model, vocab, level, prime=args.prime, length=args.length or 300,
                            temperature=args.temperature, greedy=args.greedy, seed=args.seed))
        return 0
    for line in generate_lines(model, vocab, level, num_lines=args.num, max_length=args.length or 40,
                               temperature=args.temperature, prime=args.prime, greedy=args.greedy,
                               seed=args.seed):
        print(line)
    return 0
