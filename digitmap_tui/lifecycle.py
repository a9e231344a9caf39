"""Ending well on a hang-up or a signal: jobs cancelled, the terminal given back, no waiting.

A dropped SSH connection sends SIGHUP; ``kill`` and service managers send SIGTERM; ``kill
-INT`` sends SIGINT (in the explorer Ctrl+C is a key, not a signal). Without handlers each
kills the process where it stands: a running embedding lived on for its whole run, and the
terminal stayed in the alternate screen with mouse reporting on and the cursor hidden.

:func:`install_signal_handlers` makes each of them, at once, cancel every live embedding job
(:func:`digitmap_tui.jobs.cancel_all`: the children are killed, nothing is cached), then call
the caller's ``on_signal(signum)``, which should ask the UI to exit from its own loop (see
:func:`call_soon_in_loop`). If the process has not ended ``grace`` seconds later (a terminal
that is gone can block a UI's last writes), or a second signal comes, the terminal modes are
reset where a terminal is still there (:func:`restore_terminal`) and the process exits with
status 128 + the signal number. No Textual here: the app is driven only through the callback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = [
    "RESET_SEQUENCE",
    "SIGNALS",
    "call_soon_in_loop",
    "exit_now",
    "install_signal_handlers",
    "restore_terminal",
]

#: Alternate screen off, mouse reporting (click, drag, any motion, SGR) off, cursor on.
RESET_SEQUENCE = "\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?25h"

#: The signals handled: hang-up, terminate, interrupt (those that exist on this platform).
SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGHUP", "SIGTERM", "SIGINT") if hasattr(signal, name)
)

#: Seconds the UI gets to exit by itself after a signal before the process is ended.
GRACE_SECONDS = 3.0


def restore_terminal(fd: int | None = None) -> bool:
    """Write :data:`RESET_SEQUENCE` to the terminal if one is still there; whether it was.

    ``fd`` defaults to the original stderr (where Textual draws on Linux) when it is a TTY,
    else ``/dev/tty``. A terminal that hung up (EIO), or none at all, is not an error.
    """
    opened = None
    try:
        if fd is None:
            stderr = sys.__stderr__
            try:
                if stderr is not None and os.isatty(stderr.fileno()):
                    fd = stderr.fileno()
            except (OSError, ValueError):
                fd = None
            if fd is None:
                flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
                opened = fd = os.open("/dev/tty", flags)
        if not os.isatty(fd):
            return False
        os.write(fd, RESET_SEQUENCE.encode("ascii"))
        return True
    except OSError:  # EIO after a hang-up, ENXIO without a terminal, EAGAIN when it is full
        return False
    finally:
        if opened is not None:
            try:
                os.close(opened)
            except OSError:
                pass


def exit_now(signum: int) -> None:
    """Cancel every job, reset the terminal, and end the process now with 128 + ``signum``."""
    _cancel_jobs()
    restore_terminal()
    os._exit(128 + signum)


def call_soon_in_loop(callback: Callable[[], Any]) -> bool:
    """Run ``callback`` in the asyncio loop running in this thread; False if none runs.

    Meant for a signal handler: Python runs handlers in the main thread between two steps of
    whatever it was doing, which may be the middle of the event loop's own work, so the
    callback is queued through the loop's thread-safe wake-up rather than called here. A
    Textual app's ``exit`` must run that way (``call_from_thread`` refuses the app's own
    thread).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # the loop is closing
        return False
    return True


def _cancel_jobs() -> None:
    try:
        from digitmap_tui.jobs import cancel_all
    except ImportError:  # pragma: no cover - numpy missing: there are no jobs either
        return
    cancel_all()


def install_signal_handlers(
    on_signal: Callable[[int], object], *, grace: float = GRACE_SECONDS
) -> Callable[[], None]:
    """Handle SIGHUP, SIGTERM and SIGINT as described above; returns a function that uninstalls.

    Python only lets the main thread install handlers: called from another thread this does
    nothing (and the returned function too). ``on_signal`` runs in the main thread; if it
    raises, the process ends at once (as with a second signal). The deadline armed by a signal
    stays armed after uninstalling: the process is on its way out.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    state: dict[str, Any] = {"signalled": None}

    def handle(signum: int, frame: object) -> None:
        _cancel_jobs()
        if state["signalled"] is not None:
            exit_now(signum)  # a second signal: the user means it
        state["signalled"] = signum
        deadline = threading.Timer(grace, exit_now, (signum,))
        deadline.daemon = True
        deadline.start()
        try:
            on_signal(signum)
        except BaseException:  # whatever went wrong, the process must end
            exit_now(signum)

    previous = {signum: signal.signal(signum, handle) for signum in SIGNALS}

    def uninstall() -> None:
        for signum, handler in previous.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, TypeError, OSError):
                pass

    return uninstall
