"""Stopping a run cleanly: SIGTERM like Ctrl-C, and sections an interrupt must not split.

Ctrl-C raises ``KeyboardInterrupt`` wherever Python happens to be; the
:class:`~tfseq.train.Trainer` catches it, saves a checkpoint and re-raises, so the run resumes
where it stopped. A batch scheduler, ``kill``, ``docker stop`` or a preempted cloud machine
send SIGTERM instead, whose default action ends the process at once and loses everything since
the last checkpoint. While :meth:`Trainer.fit <tfseq.train.Trainer.fit>` runs,
:func:`sigterm_raises` turns SIGTERM into :class:`Terminated`, a ``KeyboardInterrupt``, so the
same path saves the run (the CLI then exits with status 143, 128 + SIGTERM, as the signal
would have).

Some updates span several Python statements (the epoch counter and the step within it; a
copy of the best weights and its score): :func:`interrupts_deferred` holds SIGINT and SIGTERM
back until such a section is done, then delivers them.

Signal handlers belong to the main thread: in any other thread both functions do nothing,
and a signal whose handler is not Python's default (ignored, or the application's own) is
left alone.
"""

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "interrupts_deferred", "sigterm_raises"]


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM while a run was training (raised like Ctrl-C's
    ``KeyboardInterrupt``, so that code which saves on Ctrl-C saves on SIGTERM too)."""

    exit_status = 128 + signal.SIGTERM


def _raise_terminated(signum, frame):
    raise Terminated(f"received signal {signal.Signals(signum).name}")


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (where its handler is the default)."""
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


_DEFERRABLE = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs, then deliver them to the handlers
    that were in place (Ctrl-C twice during the block delivers it once)."""
    if not _main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    for signum in _DEFERRABLE:
        handler = signal.getsignal(signum)
        if callable(handler):  # Python's own or one set by the application; SIG_IGN/SIG_DFL stay
            previous[signum] = handler
            signal.signal(signum, lambda s, frame: pending.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)
