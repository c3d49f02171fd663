"""Stopping a run cleanly: SIGTERM at the next safe point, and sections an interrupt must not split.

Ctrl-C raises ``KeyboardInterrupt`` wherever Python happens to be; the
:class:`~tfseq.train.Trainer` catches it, saves a checkpoint and re-raises, so the run resumes
where it stopped. A batch scheduler, ``kill``, ``docker stop`` or a preempted cloud machine
send SIGTERM instead, whose default action ends the process at once and loses everything since
the last checkpoint. While :meth:`Trainer.fit <tfseq.train.Trainer.fit>` runs,
:func:`sigterm_stops` turns SIGTERM into a request to stop: the loop calls
:func:`raise_if_terminated` between two steps and before each epoch, which raises
:class:`Terminated`, a ``KeyboardInterrupt``, so the same path saves the run (the CLI then exits
with status 143, 128 + SIGTERM, as the signal would have). Stopping there rather than in the
middle of TensorFlow's own Python code (building a ``tf.data`` iterator, say) leaves TensorFlow
in a state the checkpoint and the process's exit can rely on; a step is short, so the stop is
prompt. A long section that is safe to abandon (an epoch's evaluation, which a resumed run
repeats) runs inside :func:`terminated_at_once`: there SIGTERM raises at once, so a scheduler's
grace period is not spent waiting for it.

Some updates span several Python statements (the epoch counter and the step within it; a
copy of the best weights and its score): :func:`interrupts_deferred` holds SIGINT and SIGTERM
back until such a section is done, then delivers them.

Signal handlers belong to the main thread: in any other thread these functions do nothing,
and a signal whose handler is not Python's default (ignored, or the application's own) is
left alone.
"""

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "interrupts_deferred", "raise_if_terminated", "sigterm_stops", "terminated_at_once"]


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM while a run was training (raised like Ctrl-C's
    ``KeyboardInterrupt``, so that code which saves on Ctrl-C saves on SIGTERM too)."""

    exit_status = 128 + signal.SIGTERM


class _Request:
    """What SIGTERM asked for while :func:`sigterm_stops` is active (main thread only)."""

    pending = False  # a SIGTERM came and no Terminated was raised for it yet
    at_once = 0  # depth of terminated_at_once() blocks


def _terminated() -> Terminated:
    _Request.pending = False
    return Terminated(f"received signal {signal.SIGTERM.name}")


def _on_sigterm(signum, frame):
    _Request.pending = True
    if _Request.at_once:
        raise _terminated()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """Within the block, SIGTERM asks to stop (where its handler is the default):
    :func:`raise_if_terminated` then raises :class:`Terminated`, and so does the signal itself
    inside :func:`terminated_at_once`. A request not raised by the block's end is dropped."""
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    _Request.pending, _Request.at_once = False, 0
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _Request.pending, _Request.at_once = False, 0


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` if SIGTERM came since the last stopping point (a safe point to stop)."""
    if _Request.pending:  # only the main thread's handler sets it
        raise _terminated()


@contextlib.contextmanager
def terminated_at_once() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Terminated` at once (a request already pending
    raises on entry): for long sections that a resumed run repeats."""
    if not _main_thread():
        yield
        return
    raise_if_terminated()
    _Request.at_once += 1
    try:
        yield
    finally:
        _Request.at_once -= 1


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
