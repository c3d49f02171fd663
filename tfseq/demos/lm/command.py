"""``tfseq lm train|eval|sample``: RNN language models from the command line.

    tfseq lm train                      # built-in names corpus, char level, tiny config (~1 min)
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

import dataclasses
import math
import os
import typing

from tfseq._checks import UsageError
from tfseq.demos.frame import fit_run, prepare_run, replicas_note
from tfseq.demos.strategy_args import add_strategy_arguments

_LINE_COUNT = 12  # names printed after training
_NOVELTY_SAMPLES = 200  # names generated to estimate the novel fraction


def register(subparsers):
    lm = subparsers.add_parser("lm", help="train, evaluate and sample RNN language models",
                               description=__doc__.splitlines()[0].replace("``", ""))
    sub = lm.add_subparsers(dest="lm_command", required=True)

    train = sub.add_parser("train", help="train a language model (resumes an existing run)")
    train.add_argument("--config", default="tiny", help="preset: test|tiny|small|medium|large|small_reg")
    train.add_argument("--data", default=None,
                       help="builtin:names (default), builtin:shakespeare, ptb, tfds:NAME, a file or a PTB directory")
    train.add_argument("--data-dir", default=None,
                       help="a PTB-layout directory (when --data is not given), the TFDS data dir, or the ptb cache")
    train.add_argument("--level", choices=("char", "word"), default=None,
                       help="tokenization (default: the source's own, char for builtin corpora)")
    train.add_argument("--cell", choices=("lstm", "peephole", "gru", "rnn"), default=None,
                       help="recurrent cell: lstm (BasicLSTMCell), peephole (LSTMCell with peepholes), gru, "
                            "rnn (BasicRNNCell); default: the preset's")
    _add_run_args(train, run_required=False)
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the initial weights, dropout masks and samples (default 0)")
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (resume later)")
    train.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    train.add_argument("--samples", type=int, default=_LINE_COUNT, help="lines/names to print at the end")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-xla", action="store_true",
                       help="do not compile the training step with XLA (default: XLA where the step compiles)")
    add_strategy_arguments(train)
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. hidden_size=256")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="perplexity of a trained run on its valid/test splits")
    _add_run_args(evaluate, run_required=True)
    evaluate.set_defaults(func=cmd_eval)

    sample = sub.add_parser("sample", help="generate text or names from a trained run")
    _add_run_args(sample, run_required=True)
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


def _add_run_args(parser, run_required):
    if run_required:
        parser.add_argument("--logdir", default="logdir/names", help="experiment directory, logdir/<experiment>")
        parser.add_argument("--run", required=True, help="run name (a directory under --logdir)")
    else:
        parser.add_argument("--logdir", default=None,
                            help="experiment directory, logdir/<experiment> (default: logdir/<corpus name>)")
        parser.add_argument("--run", default=None,
                            help="run name (default: <corpus>-<config>-<cell>-<time>); an existing run is resumed")


# -- config ------------------------------------------------------------------------------------
def parse_overrides(config, items):
    """Apply ``key=value`` strings to an ``LMConfig``; values are parsed by the field's type."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    values = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"override must look like key=value, got {item!r}")
        if key not in fields:
            raise UsageError(f"unknown config key {key!r}; known keys: {', '.join(sorted(fields))}")
        values[key] = _parse_value(key, text, hints[key])
    try:
        return config.with_overrides(**values)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _parse_value(key, text, hint):
    args = typing.get_args(hint)
    if type(None) in args:
        if text.lower() in ("none", "null", ""):
            return None
        hint = next(a for a in args if a is not type(None))
    try:
        if hint is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        raise UsageError(f"{key}={text!r}: expected a {hint.__name__}") from None
    return text


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
def _read_run(run_dir):
    from tfseq.data import Vocabulary
    from tfseq.demos.lm import LMConfig
    from tfseq.train.run_dir import RunDir

    run = RunDir(run_dir)
    if not run.exists():
        raise UsageError(f"{run_dir}: not a tfseq lm run (no config.json)")
    saved = run.read()
    config = LMConfig(**saved["config"])
    vocab = Vocabulary.load(os.path.join(run_dir, "vocab.json"))
    return saved, config, vocab


def _restore_model(run_dir, model):
    from tfseq.train import CheckpointKeeper

    keeper = CheckpointKeeper(os.path.join(run_dir, "checkpoints"), {"model_variables": list(model.variables)})
    prefix = keeper.latest()
    if prefix is None:
        raise UsageError(f"{run_dir}: no checkpoint yet")
    keeper.checkpoint.read(prefix).expect_partial()  # the model only: no optimizer, counters
    return prefix


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


def _tensorboard_root(logdir):
    parent = os.path.dirname(os.path.normpath(logdir))
    return parent or logdir


# -- commands ----------------------------------------------------------------------------------------
def cmd_train(args):
    from tfseq.demos.lm import presets
    from tfseq.demos.strategy_args import strategy_from_args

    strategy = strategy_from_args(args)  # first: logical devices and the cluster precede any TF op
    try:
        config = presets.get(args.config)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.cell:
        config = config.with_overrides(cell=args.cell)
    config = parse_overrides(config, args.overrides)
    for name in ("max_steps", "checkpoint_every"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if args.samples < 0:
        raise UsageError(f"--samples must be an integer >= 0, got {args.samples}")
    source = _source(args)
    corpus = _load_corpus(source, args.level, args.data_dir)
    config = config.with_overrides(vocab_size=corpus.vocab.size)

    if args.logdir is None:
        args.logdir = os.path.join("logdir", corpus.name.replace("/", "_"))
    run = args.run or _default_run(config, corpus)
    run_dir = os.path.join(args.logdir, run)
    settings = {"config": config.to_dict(), "data": source, "data_dir": args.data_dir,
                "level": corpus.level, "seed": args.seed}
    if args.no_xla:  # XLA draws other dropout masks: a run resumes with the setting it started with
        settings["xla"] = False
    if not _prepare_run(run_dir, settings, corpus.vocab, strategy, args):
        return 0
    return _train(args, config, corpus, run_dir, settings, strategy)


def _default_run(config, corpus):
    from tfseq.train import default_run_name

    return default_run_name(corpus.name.replace("/", "_"), config.name, config.cell)


def _prepare_run(run_dir, settings, vocab, strategy, args):
    """Write or check the run's settings; ``False`` when the run is already complete."""
    then = f"to evaluate or sample it: tfseq lm eval|sample --logdir {args.logdir} --run {os.path.basename(run_dir)}"
    return prepare_run(run_dir, settings, {"vocab.json": vocab.save}, "config.max_max_epoch", strategy, then)


def _train(args, config, corpus, run_dir, settings, strategy):
    import contextlib

    import keras

    from tfseq.demos.lm import language_model_from_config
    from tfseq.train import Progress, RunWriters, Trainer
    from tfseq.train.distribute import is_chief

    chief = is_chief(strategy)
    keras.utils.set_random_seed(args.seed)
    known = set(corpus.lines()) if corpus.level == "char" else set()
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = language_model_from_config(config, seed=args.seed)  # config.vocab_size is the corpus'

            def texts(epoch):
                return {"samples": _samples_markdown(model, corpus, known, seed=epoch)[2]}

            task = _task(model, corpus, config, texts)
            optimizer = keras.optimizers.SGD(config.learning_rate)
        steps = task.steps_per_epoch()
    except ValueError as err:
        raise UsageError(str(err)) from None
    if steps == 0:
        raise UsageError(
            f"{settings['data']}: too little training text for batch_size={config.batch_size} "
            f"and num_steps={config.num_steps}"
        )
    writers = None
    if chief:  # other workers of a multi-worker job write no event files
        writers = RunWriters(run_dir)
        writers.hparams({**config.to_dict(), "data": settings["data"], "level": corpus.level, "seed": args.seed,
                         "strategy": args.strategy, "replicas": strategy.num_replicas_in_sync if strategy else 1})
    trainer = Trainer(
        task, optimizer, epochs=config.max_max_epoch,
        learning_rate_at=config.learning_rate_at, max_grad_norm=config.max_grad_norm,
        writers=writers, checkpoint_dir=os.path.join(run_dir, "checkpoints"),
        checkpoint_every=args.checkpoint_every, progress=Progress(enabled=not args.no_progress),
        jit_compile=False if args.no_xla else None, strategy=strategy,
    )
    where = replicas_note(strategy, args.strategy)
    print(f"run {run_dir}: {corpus.summary()}; config {config.name} ({config.num_layers}x"
          f"{config.hidden_size} {config.cell}, {steps} steps/epoch, {config.max_max_epoch} epochs{where})",
          flush=True)
    code = fit_run(trainer, "lm", strategy, args.max_steps)
    if code is not None:
        return code
    if trainer.complete:
        model.save(os.path.join(run_dir, "model.keras"))  # keras.saving.load_model() reads it back
        test = task.evaluate("test")
        if test is not None:
            print(f"Test perplexity: {test['perplexity']:.3f} (mean xent {test['loss']:.4f} nats/token, "
                  f"{test['tokens']} tokens)", flush=True)
            writers.scalars("test", {"Test Loss": test["loss"], "Perplexity": test["perplexity"]},
                            int(trainer.global_step.numpy()))
        lines, frac, _ = _samples_markdown(model, corpus, known, seed=args.seed, count=args.samples)
        if frac is None:
            print("Sample:", lines[0])
        else:
            print(f"Samples ({frac:.0%} of {max(args.samples, _NOVELTY_SAMPLES)} generated lines are novel, "
                  "not in the corpus):")
            for line in lines:
                print(f"  {line}")
    if writers is not None:
        writers.close()
        print(f"tensorboard --logdir {_tensorboard_root(args.logdir)}", flush=True)
    return 0


def _load_run(args):
    from tfseq.demos.lm import language_model_from_config

    run_dir = os.path.join(args.logdir, args.run)
    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir}: no such run")
    saved, config, vocab = _read_run(run_dir)
    model = language_model_from_config(config, seed=saved.get("seed", 0))  # config.vocab_size == vocab.size
    _restore_model(run_dir, model)
    return run_dir, saved, config, vocab, model


def cmd_eval(args):
    _, saved, config, vocab, model = _load_run(args)
    corpus = _load_corpus(saved["data"], saved["level"], saved.get("data_dir"), vocab=vocab)
    task = _task(model, corpus, config)
    for split in ("validation", "test"):
        result = task.evaluate(split)
        if result is not None:
            print(f"{split}: perplexity {result['perplexity']:.3f}, mean xent {result['loss']:.4f} "
                  f"nats/token ({result['tokens']} tokens)")
    return 0


def cmd_sample(args):
    from tfseq.demos.lm import generate_lines, generate_text

    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise UsageError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if args.num <= 0 or (args.length is not None and args.length <= 0):
        raise UsageError("--num and --length must be positive")
    _, saved, _, vocab, model = _load_run(args)
    level = saved["level"]
    if args.text:
        print(generate_text(model, vocab, level, prime=args.prime, length=args.length or 300,
                            temperature=args.temperature, greedy=args.greedy, seed=args.seed))
        return 0
    for line in generate_lines(model, vocab, level, num_lines=args.num, max_length=args.length or 40,
                               temperature=args.temperature, prime=args.prime, greedy=args.greedy,
                               seed=args.seed):
        print(line)
    return 0
