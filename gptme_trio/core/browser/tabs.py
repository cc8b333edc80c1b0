"""Tabs: tabs kept open and handed to one caller at a time, reset after a cancelled use.

A new tab costs Chromium new renderer processes: ~0.3-0.4 s and about three quarters of the CPU
of a simple page. So tabs are reused, and a tab whose use was cancelled is reset (its navigation
stopped and its renderer pinged, in one round trip: ~20-45 ms) rather than closed, unless it is
wedged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import trio

from gptme_trio.core.browser.options import PageOptions
from gptme_trio.core.browser.page import Page
from gptme_trio.core.errors import BrowserCrashed, GptmeTrioError

_log = logging.getLogger(__name__)

TAB_USES = 50  # a reused tab is replaced after this many uses, so its memory cannot creep up
RESET_SECONDS = 1.0  # a tab whose use was cancelled must be reset within this, or it is closed
RESET_WAIT = 0.5  # a caller waits this long for a tab being reset before it opens a new one (a wedged: never)
RELEASE_WAIT = 0.1  # every tab busy: a caller waits this long for one to come back (a cancelled use unwinds: ~2-25 ms)


class TabHost(Protocol):
    """What reused tabs need from the browser service (service.BrowserService)."""

    async def open_tab(self, options: PageOptions) -> Page: ...

    def usable(self, page: Page) -> bool: ...

    def discard(self, page: Page) -> None: ...

    def background(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None: ...

    def mapped(self) -> AbstractAsyncContextManager[None]: ...


class Tabs:
    """Tabs with the same options, reused one caller at a time (a new one when all are busy).

    A tab whose use was cancelled (a deadline, Ctrl-C, an MCP client's cancel) is reset in the
    service's nursery, bounded by RESET_SECONDS: its navigation is stopped (Chromium goes on with a
    cancelled goto) and the renderer must answer a script, in one round trip (Page.reset).
    It goes back for reuse the moment it answered; the next use's own navigation replaces the
    document it kept. A tab that does not answer (wedged by JavaScript) is closed, never reused.
    A reset takes ~20-45 ms on a loaded 2-core machine (-v logs each; bench/results/mcp.md), a new
    tab ~0.3-0.4 s more than a reused one.
    So a caller finding no idle tab waits up to RESET_WAIT for a reset in flight, or, with every
    tab busy, up to RELEASE_WAIT for one to come back (the cancelled caller of an MCP client that
    calls again at once is still unwinding), before it opens a new tab. After an error the tab may
    be in any state, so it is closed. Cookies do not carry over from one use to the next unless the
    options load a storage state (a logged-in session is the point). Each tab is replaced after
    TAB_USES uses. Idle tabs live until the service ends.
    """

    def __init__(self, service: TabHost, options: PageOptions) -> None:
        self._service = service
        self._options = options
        self._idle: list[Page] = []
        self._busy = 0  # tabs in use
        self._resetting = 0  # tabs being reset after a cancelled use
        self._changed = trio.Event()  # set (and replaced) when a use ends or a reset ends

    @property
    def idle(self) -> tuple[Page, ...]:
        """The tabs waiting for their next use."""
        return tuple(self._idle)

    @property
    def resetting(self) -> int:
        """How many tabs are being reset after a cancelled use."""
        return self._resetting

    def _pop_usable(self) -> Page | None:
        while self._idle:
            candidate = self._idle.pop()
            if self._service.usable(candidate):
                return candidate
            self._service.discard(candidate)
        return None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait_idle(self) -> Page | None:
        """An idle tab: now, or one that comes back soon (see the class); None: open a new one."""
        asked = trio.current_time()
        while (page := self._pop_usable()) is None and (self._resetting or self._busy):
            with trio.move_on_at(asked + (RESET_WAIT if self._resetting else RELEASE_WAIT)) as waited:
                await self._changed.wait()
            if waited.cancelled_caught:
                break
        return page

    async def _reset(self, page: Page, cancelled_at: float) -> None:
        """Runs in the service's nursery: the cancelled caller has gone on."""
        reset, stopped, answered = False, 0.0, 0.0
        try:
            with trio.move_on_after(RESET_SECONDS):
                with contextlib.suppress(GptmeTrioError):
                    stopped, answered = await page.reset()
                    reset = True
        finally:
            self._resetting -= 1
            done = trio.current_time()
            if reset and self._service.usable(page):
                self._idle.append(page)
                _log.info(
                    "tab reset %.1f ms after its use was cancelled (navigation stopped in %.1f ms, "
                    "the renderer answered %.1f ms later)",
                    (done - cancelled_at) * 1000,
                    stopped * 1000,
                    (answered - stopped) * 1000,
                )
            else:
                _log.info("tab closed: not reset within %.0f ms of its cancelled use", (done - cancelled_at) * 1000)
                self._service.discard(page)
            self._notify()

    @asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        service = self._service
        page = None
        async with service.mapped():
            page = await self._wait_idle()
            ended, cancelled_at = "error", 0.0
            self._busy += 1
            try:
                if page is not None:
                    try:
                        await page.prepare_reuse(clear_cookies=not self._options.storage_state)
                    except BrowserCrashed:  # it died between uses: nothing was in flight, so start over
                        service.discard(page)
                        page = None
                if page is None:
                    page = await service.open_tab(self._options)
                    await page.prepare_reuse(clear_cookies=False)
                try:
                    yield page
                except trio.Cancelled:
                    ended, cancelled_at = "cancelled", trio.current_time()
                    raise
                ended = "done"
            finally:
                self._busy -= 1
                if page is not None:
                    if page.uses >= TAB_USES or not service.usable(page) or ended == "error":
                        service.discard(page)
                    elif ended == "cancelled":
                        self._resetting += 1
                        service.background(self._reset, page, cancelled_at)
                    else:
                        self._idle.append(page)
                self._notify()
