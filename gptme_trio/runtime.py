"""The one place where `trio.run` starts and signals become cancellation.

SIGINT and SIGTERM are received with `trio.open_signal_receiver` and turned
into a cancellation of the main task: no KeyboardInterrupt is ever raised
inside asyncio code (that can deadlock trio-asyncio), and every cleanup path
(closing pages, stopping the browser) runs normally. A second signal while
cleanup runs exits at once; child processes then exit when their pipes close.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Awaitable, Callable

import trio

from .errors import EXIT_SIGINT, EXIT_SIGTERM

_SIGNAL_EXIT = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


def run(main: Callable[[], Awaitable[int]]) -> int:
    """Run ``main()`` under Trio; return its exit code, or 130/143 on a signal."""
    return trio.run(_root, main)


async def _root(main: Callable[[], Awaitable[int]]) -> int:
    received: list[int] = []
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(*_SIGNAL_EXIT) as signals:
            main_scope = trio.CancelScope()
            nursery.start_soon(_watch_signals, signals, main_scope, received)
            code = 0
            with main_scope:
                code = await main()
            nursery.cancel_scope.cancel()
    if received:
        return _SIGNAL_EXIT[received[0]]
    return code


async def _watch_signals(signals, main_scope: trio.CancelScope, received: list[int]) -> None:
    async for signum in signals:
        if received:
            # Second signal: cleanup is taking too long for the user. Leave now;
            # Chromium and the driver exit when their pipes close.
            sys.stderr.write("gptme-trio: interrupted again, exiting now\n")
            sys.stderr.flush()
            os._exit(_SIGNAL_EXIT[received[0]])
        received.append(signum)
        main_scope.cancel()
