"""The one place where `trio.run` starts and signals become cancellation.

SIGINT and SIGTERM are received with `trio.open_signal_receiver` and turned
into cancellation: no KeyboardInterrupt is ever raised inside asyncio code
(that can deadlock trio-asyncio), and every cleanup path (closing pages,
stopping the browser) runs normally.

SIGINT cancels the innermost scope registered with `Interrupts.redirect`
(the chat's current turn), else the whole program. A SIGINT while that scope
is already cancelling, SIGTERM, or SIGHUP (the terminal closed), SIGQUIT,
SIGUSR1, SIGUSR2 or SIGALRM cancel the program: it cleans up and exits with
128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
One more signal while the program cleans up exits at once, and child
processes then exit when their pipes close.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import trio

from gptme_trio.core.errors import EXIT_SIGINT, EXIT_SIGTERM

# Every signal whose default action would end the process without clean-up (SIGPIPE is Python's:
# it surfaces as BrokenPipeError). SIGKILL and SIGSTOP cannot be caught.
_ENDING = (signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)
_SIGNAL_EXIT: dict[int, int] = {
    signal.SIGINT: EXIT_SIGINT,
    signal.SIGTERM: EXIT_SIGTERM,
    **{signum: 128 + signum for signum in _ENDING},
}


class Interrupts:
    """Where the next SIGINT goes."""

    def __init__(self, main_scope: trio.CancelScope) -> None:
        self._main = main_scope
        self._targets: list[trio.CancelScope] = []
        self.received: list[int] = []  # signals that cancelled the program

    @contextmanager
    def redirect(self, scope: trio.CancelScope) -> Iterator[None]:
        """While the block runs, SIGINT cancels `scope` instead of the program."""
        self._targets.append(scope)
        try:
            yield
        finally:
            self._targets.remove(scope)

    def deliver(self, signum: int) -> None:
        if signum == signal.SIGINT and self._targets and not self._targets[-1].cancel_called:
            self._targets[-1].cancel()
            return
        if self.received:
            # Cleanup is taking too long for the user. Leave now; Chromium and the
            # driver exit when their pipes close.
            sys.stderr.write("gptme-trio: interrupted again, exiting now\n")
            sys.stderr.flush()
            os._exit(_SIGNAL_EXIT[self.received[0]])
        self.received.append(signum)
        self._main.cancel()


def run(main: Callable[[Interrupts], Awaitable[int]]) -> int:
    """Run ``main(interrupts)`` under Trio; return its exit code, or 130/143 on a signal."""
    return trio.run(_root, main)


async def _root(main: Callable[[Interrupts], Awaitable[int]]) -> int:
    code, failure = 0, None
    main_scope = trio.CancelScope()
    interrupts = Interrupts(main_scope)
    with trio.open_signal_receiver(*_SIGNAL_EXIT) as signals:
        async with trio.open_nursery() as nursery:  # ends (watcher included) before the receiver
            nursery.start_soon(_watch_signals, signals, interrupts)
            try:
                with main_scope:
                    code = await main(interrupts)
            except Exception as exc:  # handed out as it is, not wrapped in the nursery's group
                failure = exc
            finally:
                nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if interrupts.received:
        return _SIGNAL_EXIT[interrupts.received[0]]
    return code


async def _watch_signals(signals: AsyncIterator[int], interrupts: Interrupts) -> None:
    async for signum in signals:
        interrupts.deliver(signum)


@asynccontextmanager
async def alongside(*tasks: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    """Run `tasks` while the body runs; they are cancelled when it ends. What the body raises comes out
    as it came (a ProviderError, Cancelled), not wrapped in the nursery's ExceptionGroup, so callers'
    `except` clauses still see it."""
    failure: BaseException | None = None
    async with trio.open_nursery() as nursery:
        for task in tasks:
            nursery.start_soon(task)
        try:
            yield
        except BaseException as exc:  # noqa: BLE001 - raised below as it came
            failure = exc
        finally:
            nursery.cancel_scope.cancel()
    if failure is not None:
        raise failure
