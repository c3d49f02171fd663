"""The run directory of ``tfseq translate``: settings, tokenizers, checkpoints.

A run lives in ``<logdir>/<run>/``: ``config.json`` (the settings it was started with:
config, data source, languages, seed, XLA), ``src.tokenizer.json`` and
``tgt.tokenizer.json`` (trained once, on the training split, when the run starts),
``train/`` and ``validation/`` event files, ``checkpoints/`` and, once finished,
``model.keras``. Training an existing run with the same settings resumes it from its
latest checkpoint; other settings are refused. Kept apart from the command module so that
it can merge with ``tfseq lm``'s run handling.
"""

import json
import os

from tfseq.cli.main import UsageError

SETTINGS = "config.json"
TOKENIZER_FILES = {"src": "src.tokenizer.json", "tgt": "tgt.tokenizer.json"}
KIND = "tfseq translate"


def read_settings(run_dir):
    """The settings of an existing run, or ``None`` when ``run_dir`` has none yet."""
    path = os.path.join(run_dir, SETTINGS)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    if saved.get("kind") != KIND:
        raise UsageError(f"{run_dir}: not a {KIND} run")
    return saved


def write_or_check(run_dir, settings, make_tokenizers):
    """Starts a run (writes ``settings`` and the tokenizers ``make_tokenizers()`` returns) or
    checks that an existing one has the same settings; returns ``(src, tgt)`` tokenizers."""
    from tfseq.data.subwords import save_tokenizer

    settings = json.loads(json.dumps({"kind": KIND, **settings}))
    saved = read_settings(run_dir)
    if saved is not None:
        if saved != settings:
            changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
            raise UsageError(f"{run_dir} holds a run with other settings ({', '.join(changed)}); "
                             "choose another --run to start afresh")
        return load_tokenizers(run_dir)
    tokenizers = make_tokenizers()
    os.makedirs(run_dir, exist_ok=True)
    for side, tokenizer in zip(("src", "tgt"), tokenizers):
        save_tokenizer(tokenizer, os.path.join(run_dir, TOKENIZER_FILES[side]))
    path = os.path.join(run_dir, SETTINGS)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
    os.replace(path + ".tmp", path)
    return tokenizers


def load_tokenizers(run_dir):
    from tfseq.data.subwords import load_tokenizer

    try:
        return tuple(load_tokenizer(os.path.join(run_dir, TOKENIZER_FILES[side])) for side in ("src", "tgt"))
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"{run_dir}: cannot read its tokenizers ({err})") from None


def open_run(logdir, run):
    """``(run_dir, settings, config, (src, tgt) tokenizers, model)`` of a trained run, with
    the model's weights from its latest checkpoint."""
    from tfseq.models import translation_presets
    from tfseq.models.translation import translation_model_from_config
    from tfseq.train import CheckpointKeeper

    run_dir = os.path.join(logdir, run)
    if not os.path.isdir(run_dir):
        raise UsageError(f"{run_dir}: no such run")
    settings = read_settings(run_dir)
    if settings is None:
        raise UsageError(f"{run_dir}: not a {KIND} run (no {SETTINGS})")
    config = translation_presets.TranslationConfig(**settings["config"])
    src_tok, tgt_tok = load_tokenizers(run_dir)
    model = translation_model_from_config(config, src_tok.size, tgt_tok.size, seed=settings.get("seed", 0))
    keeper = CheckpointKeeper(os.path.join(run_dir, "checkpoints"), {"model_variables": list(model.variables)})
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
