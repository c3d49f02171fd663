"""What a ``tfseq translate`` run directory holds beyond the shared
:class:`~tfseq.train.run_dir.RunDir` (``config.json``, ``checkpoints/``, event files,
``model.keras``): its two tokenizers, ``src.tokenizer.json`` and ``tgt.tokenizer.json``
(trained once, on the training split, when the run starts), and the ``"kind"`` key of its
settings. Loading a trained run for ``eval``/``decode`` lives here too.
"""

import os
from collections.abc import Callable
from typing import Any

from tfseq._checks import UsageError
from tfseq.demos import frame

KIND = "tfseq translate"
TOKENIZER_FILES = {"src": "src.tokenizer.json", "tgt": "tgt.tokenizer.json"}


def train_tokenizers(config: Any, pairs: list[tuple[str, str]]) -> tuple[Any, Any]:
    """``(src, tgt)`` tokenizers trained on each side of ``pairs`` as ``config`` says."""
    from tfseq.data.subwords import train_tokenizer

    return (train_tokenizer(config.tokenizer, [s for s, _ in pairs], config.src_vocab_size),
            train_tokenizer(config.tokenizer, [t for _, t in pairs], config.tgt_vocab_size))


def tokenizer_files(config: Any, pairs: list[tuple[str, str]]) -> dict[str, Callable[[str], None]]:
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


def load_tokenizers(run_dir: str) -> tuple[Any, Any]:
    """``(src, tgt)`` tokenizers of a run (``UsageError`` naming the run when unreadable)."""
    from tfseq.data.subwords import load_tokenizer

    try:
        return tuple(load_tokenizer(os.path.join(run_dir, TOKENIZER_FILES[side])) for side in ("src", "tgt"))
    except (OSError, ValueError, KeyError) as err:
        raise UsageError(f"{run_dir}: cannot read its tokenizers ({err})") from None


def open_run(logdir: str, run: str) -> frame.TrainedRun:
    """The trained run ``<logdir>/<run>`` (:func:`tfseq.demos.frame.open_run`): its model with
    the weights of its latest checkpoint, and ``parts`` = ``(config, src tokenizer, tgt tokenizer)``."""
    def load(run_dir, settings):
        from tfseq.demos.translate import presets as translation_presets
        from tfseq.demos.translate.model import translation_model_from_config

        config = translation_presets.TranslationConfig(**settings["config"])
        src_tok, tgt_tok = load_tokenizers(run_dir)
        model = translation_model_from_config(config, src_tok.size, tgt_tok.size, seed=settings.get("seed", 0))
        return model, (config, src_tok, tgt_tok)

    return frame.open_run(logdir, run, load, name=KIND, kind=KIND)


def check_pair(settings: dict, src: str | None, tgt: str | None, run_dir: str) -> None:
    """Refuses languages other than the run's own (``None`` means "the run's")."""
    for side, given in (("src", src), ("tgt", tgt)):
        if given is not None and given != settings[side]:
            raise UsageError(f"{run_dir} translates {settings['src']}->{settings['tgt']}, "
                             f"not {src or settings['src']}->{tgt or settings['tgt']}")
