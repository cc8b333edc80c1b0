"""The Playwright driver's start: the one place that touches Playwright's internals.

Playwright spawns its node driver in `playwright._impl._transport.PipeTransport.connect`, with
`env=get_driver_env()` and `stderr=_get_stderr_fileno()`, and no option to change either. We need
three things it has no public way to give: the driver's stderr on a log file (chat), the moment the
driver process exists (fetch overlaps its own imports with the driver's boot), and node's compile
cache (V8's code for Playwright's ~10 MB of JavaScript, kept on disk: the driver boots ~25% faster
from the second start on). `driver_start` hooks those two lookups. `tests/test_driver.py` pins them:
it fails when a Playwright upgrade moves or renames one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Start:
    stderr: int | None  # the file descriptor the driver gets as stderr; None: Playwright's choice
    spawned: Callable[[], None]
    cache: Path | None  # node's compile cache for the driver; None: none


# The start-up in progress in this task (asyncio tasks created from it inherit it): per start-up,
# so two services starting at once each get their own log, and nothing outside a start is touched.
_START: ContextVar[_Start | None] = ContextVar("gptme_trio_driver_start", default=None)


@contextlib.contextmanager
def driver_start(stderr: Path | None, spawned: Callable[[], None], cache: Path | None = None) -> Iterator[None]:
    """Start Playwright's driver inside this block: its stderr goes to `stderr` (None: Playwright's
    default, the terminal), `spawned()` is called as the driver process is created, and node keeps
    its compile cache in `cache` (unless $NODE_COMPILE_CACHE says where; $NODE_DISABLE_COMPILE_CACHE
    turns it off; a folder that cannot be made: no cache).

    Why: the node driver restores the terminal modes it saw at start when it exits, which breaks a
    prompt in raw mode; on a file it has no terminal to touch. A caller that knows when the
    driver exists can do its own CPU work while the driver boots on the other core. And node
    compiles Playwright's JavaScript at every start unless it finds the code in its cache.

    How: Playwright calls `playwright._impl._transport.get_driver_env()` and then
    `_get_stderr_fileno()` right before it spawns the driver (in the same asyncio step: the process
    exists once that step ends). Both are replaced, once per process, by functions that answer for the
    start-up in this context (a ContextVar) and ask the originals otherwise. If a Playwright upgrade
    removed one, the driver still starts without what it gave (tests/test_driver.py fails).
    """
    from playwright._impl import _transport

    _hook(_transport, "get_driver_env", _env, "compile cache")
    _hook(_transport, "_get_stderr_fileno", _stderr, "stderr and start signal")
    if cache is not None:
        try:
            cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            _log.debug("no compile cache for the driver (%s)", exc)
            cache = None
    with contextlib.ExitStack() as stack:
        fd = None
        if stderr is not None:
            stderr.parent.mkdir(parents=True, exist_ok=True)
            log = stack.enter_context(open(os.open(stderr, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab"))
            fd = log.fileno()
        token = _START.set(_Start(fd, spawned, cache))
        try:
            yield
        finally:
            _START.reset(token)


def _hook(module: Any, name: str, ours: Callable[[Callable[[], Any], _Start], Any], what: str) -> None:
    """Replace `module.name` (a function of no arguments), once per process, by one that answers
    `ours(original, start)` during a start-up in this context and `original()` otherwise."""
    original: Callable[[], Any] | None = getattr(module, name, None)
    if original is None:
        _log.warning("%s.%s is gone: the driver starts without our %s", module.__name__, name, what)
    elif original.__module__ != __name__:
        playwrights = original

        def hooked() -> Any:
            start = _START.get()
            return playwrights() if start is None else ours(playwrights, start)

        setattr(module, name, hooked)


def _stderr(playwrights: Callable[[], int | None], start: _Start) -> int | None:
    start.spawned()
    return playwrights() if start.stderr is None else start.stderr


def _env(playwrights: Callable[[], dict[str, str]], start: _Start) -> dict[str, str]:
    env = playwrights()
    if start.cache is not None:
        env.setdefault("NODE_COMPILE_CACHE", str(start.cache))
    return env
