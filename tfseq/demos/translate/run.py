"""What a ``tfseq translate`` run directory holds beyond the shared
:class:`~tfseq.train.run_dir.RunDir` (``config.json``, ``checkpoints/``, event files,
``model.keras``): its two tokenizers, ``src.tokenizer.json`` and ``tgt.tokenizer.json``
(trained once, on the training split, when the run starts), and the ``"kind"`` key of its
settings. Loading a trained run for ``eval``/``decode`` lives here too.
"""

import os

from tfseq._checks import UsageError

KIND = "tfseq translate"
TOKENIZER_FILES = {"src": "src.tokenizer.json", "tgt": "tgt.tokenizer.json"}


def train_tokenizers(config, pairs):
    """``(src, tgt)`` tokenizers trained on each side of ``pairs`` as ``config`` says."""
    from tfseq.data.subwords import train_tokenizer

    return (train_tokenizer(config.tokenizer, [s for s, _ in pairs], config.src_vocab_size),
            train_tokenizer(config.tokenizer, [t for _, t in pairs], config.tgt_vocab_size))


def tokenizer_files(config, pairs):
    """``{file name: write(path)}`` for :meth:`~tfseq.train.run_dir.RunDir.prepare`: the
    tokenizers are trained only when a new run is written (once for both files)."""
    from tfseq.data.subwords import save_tokenizer

    made = []

    def writer(index):
        def write(path):
            if not made:
                made.extend(train_tokenizers(config, pairs))
            save_tokenizer(made[index], path)
        return write

    return {TOKENIZER_FILES["src"]: writer(0), TOKENIZER_FILES["tgt"]: writer(1)}


def load_tokenizers(run_dir):
    """``(src, tgt)`` tokenizers of a run (``UsageError`` naming the run when unreadable)."""
    from tfseq.data.subwords import load_tokenizer

    try:
        return tuple(load_tokenizer(os.path.join(run_dir, TOKENIZER_FILES[side])) for side in ("src", "tgt"))
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"{run_dir}: cannot read its tokenizers ({err})") from None


def open_run(logdir, run):
    """``(run_dir, settings, config, (src, tgt) tokenizers, model)`` of a trained run, with
    the model's weights from its latest checkpoint."""
    from tfseq.demos.translate import presets as translation_presets
    from tfseq.demos.translate.model import translation_model_from_config
    from tfseq.train import CheckpointKeeper
    from tfseq.train.run_dir import RunDir

    run_files = RunDir(os.path.join(logdir, run))
    run_dir = run_files.path
    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir}: no such run")
    if not run_files.exists() or run_files.read().get("kind") != KIND:
        raise UsageError(f"{run_dir}: not a {KIND} run")
    settings = run_files.read()
    config = translation_presets.TranslationConfig(**settings["config"])
    src_tok, tgt_tok = load_tokenizers(run_dir)
    model = translation_model_from_config(config, src_tok.size, tgt_tok.size, seed=settings.get("seed", 0))
    keeper = CheckpointKeeper(run_files.checkpoint_dir, {"model_variables": list(model.variables)})
    prefix = keeper.latest()
    if prefix is None:
        raise UsageError(f"{run_dir}: no checkpoint yet")
    keeper.checkpoint.read(prefix).expect_partial()  # the model only
    return run_dir, settings, config, (src_tok, tgt_tok), model


def check_pair(settings, src, tgt, run_dir):
    """Refuses languages other than the run's own (``None`` means "the run's")."""
    for side, given in (("src", src), ("tgt", tgt)):
        if given is not None and given != settings[side]:
            raise UsageError(f"{run_dir} translates {settings['src']}->{settings['tgt']}, "
                             f"not {src or settings['src']}->{tgt or settings['tgt']}")
