"""The Playwright driver's start: the one place that touches Playwright's internals.

Playwright spawns its node driver in `playwright._impl._transport.PipeTransport.connect`, with
`env=get_driver_env()` and `stderr=_get_stderr_fileno()`, and no option to change either. We need
three things it has no public way to give: the driver's stderr on a log file (chat), the moment the
driver process exists (fetch overlaps its own imports with the driver's boot), and node's compile
cache (V8's code for Playwright's ~10 MB of JavaScript, kept on disk: the driver boots ~25% faster
from the second start on). `driver_start` hooks those two lookups. `tests/test_driver.py` pins them:
it fails when a Playwright upgrade moves or renames one.

`spawn_driver` starts the driver as a process of ours instead, before any event loop runs, and
`adopt` hands it to Playwright later: `gptme-trio fetch` spawns it before it imports its pipeline
and makes its plan (~0.1 s), so that node boots on the other core meanwhile (one-shot fetch
0.80 -> 0.75 s). Playwright has no public way to take a driver it did not spawn; `adopt` does what
`async_playwright().start()` does, with a PipeTransport whose pipes are the spawned process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
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
    cache = _cache_folder(cache)
    with contextlib.ExitStack() as stack:
        fd = None if stderr is None else _log_file(stack, stderr)
        token = _START.set(_Start(fd, spawned, cache))
        try:
            yield
        finally:
            _START.reset(token)


def _log_file(stack: contextlib.ExitStack, path: Path) -> int:
    """The driver's log, opened for the driver to append to (closed on our side with `stack`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")).fileno()


def _cache_folder(cache: Path | None) -> Path | None:
    """`cache`, made if it is not there; None if it cannot be (no compile cache then)."""
    if cache is not None:
        try:
            cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            _log.debug("no compile cache for the driver (%s)", exc)
            return None
    return cache


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
    return _with_cache(playwrights(), start.cache)


def _with_cache(env: dict[str, str], cache: Path | None) -> dict[str, str]:
    """The driver's environment with node's compile cache in `cache` (a user's own setting wins)."""
    if cache is not None:
        env.setdefault("NODE_COMPILE_CACHE", str(cache))
    return env


class SpawnedDriver:
    """Playwright's node driver, started by `spawn_driver` before anything adopts it. Whoever spawned
    it calls `close()` once the service that adopted it has stopped (or it was never adopted)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.adopted = False

    def close(self) -> None:
        """Kill the driver if it still runs, and reap it. After Playwright's stop it has exited (its
        stdin closed); never adopted, it has no browser yet: either way there is nothing to wait for."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


def spawn_driver(stderr: Path | None, cache: Path | None) -> SpawnedDriver:
    """Start Playwright's driver as Playwright would (same program, arguments and environment, its
    stderr on `stderr` or ours, node's compile cache in `cache`), to be adopted by a browser service."""
    from playwright._impl import _transport
    from playwright._impl._driver import compute_driver_executable, get_driver_env

    executable, entrypoint = compute_driver_executable()
    env = _with_cache(get_driver_env(), _cache_folder(cache))
    with contextlib.ExitStack() as stack:
        fd = _transport._get_stderr_fileno() if stderr is None else _log_file(stack, stderr)
        process = subprocess.Popen(
            [executable, entrypoint, "run-driver"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fd, env=env
        )
    return SpawnedDriver(process)


async def adopt(driver: SpawnedDriver) -> Any:
    """Playwright (the async API's object) talking to `driver`: what `async_playwright().start()`
    does, over the spawned process's pipes. Runs on the asyncio loop."""
    from playwright._impl._connection import Connection
    from playwright._impl._object_factory import create_remote_object
    from playwright._impl._transport import PipeTransport
    from playwright.async_api._generated import Playwright

    class Adopted(PipeTransport):
        async def connect(self) -> None:
            self._stopped_future = asyncio.Future()
            self._proc = await _Pipes.open(driver)  # type: ignore[assignment]  # what PipeTransport uses of one
            self._output = self._proc.stdin

    driver.adopted = True
    loop = asyncio.get_running_loop()
    connection = Connection(None, create_remote_object, Adopted(loop), loop)
    loop.create_task(connection.run())
    ready = connection.playwright_future
    done, _ = await asyncio.wait({connection._transport.on_error_future, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
    playwright = Playwright(next(iter(done)).result())
    playwright.stop = connection.stop_async  # type: ignore[method-assign]
    return playwright


class _Pipes:
    """What PipeTransport uses of its asyncio subprocess: stdin, stdout, communicate()."""

    def __init__(self, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader) -> None:
        self.stdin, self.stdout = stdin, stdout

    @classmethod
    async def open(cls, driver: SpawnedDriver) -> _Pipes:
        loop = asyncio.get_running_loop()
        assert driver.process.stdin is not None and driver.process.stdout is not None
        reader = asyncio.StreamReader(limit=32768, loop=loop)  # Playwright's limit
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), driver.process.stdout)
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), driver.process.stdin
        )
        return cls(asyncio.StreamWriter(transport, protocol, None, loop), reader)

    async def communicate(self) -> None:
        """Called when the driver's stdout ended: it is exiting. SpawnedDriver.close reaps it."""
