"""The Playwright driver's start: the one place that touches Playwright's internals.

Playwright spawns its node driver in `playwright._impl._transport.PipeTransport.connect`, with
`stderr=_get_stderr_fileno()` and no option to change either. We need two things it has no public
way to give: the driver's stderr on a log file (chat), and the moment the driver process exists
(fetch overlaps its own imports with the driver's boot). `driver_start` hooks that one lookup.
`tests/test_driver.py` pins it: it fails when a Playwright upgrade moves or renames the lookup.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Start:
    stderr: int | None  # the file descriptor the driver gets as stderr; None: Playwright's choice
    spawned: Callable[[], None]


# The start-up in progress in this task (asyncio tasks created from it inherit it): per start-up,
# so two services starting at once each get their own log, and nothing outside a start is touched.
_START: ContextVar[_Start | None] = ContextVar("gptme_trio_driver_start", default=None)


@contextlib.contextmanager
def driver_start(stderr: Path | None, spawned: Callable[[], None]) -> Iterator[None]:
    """Start Playwright's driver inside this block: its stderr goes to `stderr` (None: Playwright's
    default, the terminal), and `spawned()` is called as the driver process is created.

    Why: the node driver restores the terminal modes it saw at start when it exits, which breaks a
    prompt in raw mode; on a file it has no terminal to touch. And a caller that knows when the
    driver exists can do its own CPU work while the driver boots on the other core.

    How: Playwright calls `playwright._impl._transport._get_stderr_fileno()` right before it spawns
    the driver (in the same asyncio step: the process exists once that step ends). That function is
    replaced, once per process, by one that answers for the start-up in this context (a ContextVar)
    and asks the original otherwise. If a Playwright upgrade removed it, the driver still starts:
    its stderr stays on the terminal and `spawned` is not called (tests/test_driver.py fails).
    """
    from playwright._impl import _transport

    original: Callable[[], int | None] | None = getattr(_transport, "_get_stderr_fileno", None)
    if original is None:
        _log.warning("playwright._impl._transport._get_stderr_fileno is gone: driver stderr not redirected")
    elif original.__module__ != __name__:
        playwrights = original

        def _get_stderr_fileno() -> int | None:
            start = _START.get()
            if start is None:
                return playwrights()
            start.spawned()
            return playwrights() if start.stderr is None else start.stderr

        _transport._get_stderr_fileno = _get_stderr_fileno
    with contextlib.ExitStack() as stack:
        fd = None
        if stderr is not None:
            stderr.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(open(os.open(stderr, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab"))
            fd = log.fileno()
        token = _START.set(_Start(fd, spawned))
        try:
            yield
        finally:
            _START.reset(token)
