"""Navigator: the navigations of one tab (page.Page). goto(), with each redirect hop a navigation of
ours and the request guard's verdicts (routing.py); a document cut off after it committed; and reads
that wait for the document the page went to by itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urldefrag

import trio

from gptme_trio.core.browser.errors import net_error
from gptme_trio.core.browser.options import Navigation
from gptme_trio.core.browser.routing import RequestGuard
from gptme_trio.core.errors import NavigationError, PageError

if TYPE_CHECKING:
    from playwright.async_api import Page as PlaywrightPage

T = TypeVar("T")
Call = Callable[..., Awaitable[Any]]  # page.Page._call: a Playwright call on the loop, its failures mapped
_NAVIGATION_COMMIT_SECONDS = 2  # a read that a navigation interrupted waits this long for it to commit
_MAX_REDIRECTS = 20  # as Chromium
# Playwright's (and CDP's) words for a read that a navigation of the page interrupted.
NAVIGATED = ("is navigating", "Execution context was destroyed", "Inspected target navigated or closed")


class Navigator:
    """Where the tab's main frame is going, and who sent it there. The page forwards its events."""

    def __init__(self, raw: PlaywrightPage, call: Call, has_crashed: Callable[[], Awaitable[bool]]) -> None:
        self._raw = raw
        self._call = call
        self._has_crashed = has_crashed
        self.guard: RequestGuard | None = None  # the request filter, when there is one (Page.setup)
        self._committed = trio.Event()  # set when the main frame commits a navigation
        self._loaded_state = "load"  # what goto() waited for: a read waits for it in a document the page went to
        self._moved = False  # the page went to another document (or URL) by itself since goto() or the last read
        self._navigation: trio.CancelScope | None = None  # around goto(), while it runs
        self.in_goto = False  # a main-frame navigation now is goto()'s
        self._redirect_hop: str | None = None  # where the request filter found goto()'s document redirecting
        self._document_failure = ""  # why the document of the navigation in flight failed after it committed
        self._refused_navigation: tuple[str, str] | None = None  # (url, why): the filter's last refused navigation

    def committed(self) -> None:
        """The main frame committed a navigation (Playwright's framenavigated)."""
        self._committed.set()
        self._moved = not self.in_goto

    def document_failed(self, request: Any, failure: str) -> None:
        """A document cut off after its headers (Content-Length not reached, a broken chunked body) has
        committed: Chromium never fires its load event, and goto() would wait for its deadline. End it now."""
        if self.guard is not None and self.in_goto and request.is_navigation_request():
            self.guard.note_failed(request, failure)
        if self._navigation is None or "net::ERR_" not in failure or "ERR_ABORTED" in failure:
            return
        if request.is_navigation_request() and request.frame is self._raw.main_frame:
            self._document_failure = failure
            self._navigation.cancel()

    def refused_navigation(self, shown_at: str, why: str) -> None:
        self._refused_navigation = (shown_at, why)

    def redirect_goto(self, hop: str) -> None:
        self._redirect_hop = hop

    async def goto(self, url: str, wait_until: str, reused: bool) -> Navigation:
        if reused and "#" in url and urldefrag(url)[0] == urldefrag(self._raw.url)[0]:
            # Only the fragment differs from the tab's last page: that would not load anything.
            await self._call(self._raw.goto, "about:blank", url=url)
        target, hops, self._loaded_state = url, 0, wait_until
        while True:  # the request filter turns each redirect hop into a navigation of ours (routing.py)
            self._forget_navigation()
            with trio.CancelScope() as self._navigation:
                self.in_goto = True
                try:
                    response = await self._call(self._raw.goto, target, url=url, wait_until=wait_until)
                except NavigationError as exc:
                    if self._redirect_hop is None:
                        await self._judged(url)
                        # A renderer that dies mid-navigation shows first as an aborted navigation.
                        if "ERR_ABORTED" in str(exc) and await self._has_crashed():
                            raise PageError("the page crashed", url=url) from exc
                        raise
                finally:
                    self._navigation, self.in_goto = None, False
            if self._redirect_hop is None:
                break
            target, hops = self._redirect_hop, hops + 1
            if hops > _MAX_REDIRECTS:
                raise NavigationError("too many redirects", url=url)
        if self._document_failure:  # only our own cancel is caught by that scope
            await self._judged(url)
            raise net_error(self._document_failure, url)
        if self._refused_navigation and self._refused_navigation[0] == self._raw.url:
            raise NavigationError(f"refused by the URL policy: {self._refused_navigation[1]}", url=url)
        if response is None:
            return Navigation(None, self._raw.url, "")
        await self._judged(url, response)
        content_type = response.headers.get("content-type", "")
        return Navigation(response.status, self._raw.url, content_type)

    def _forget_navigation(self) -> None:
        """Before each navigation of goto(): what the guard and the events report is about the next."""
        self._refused_navigation, self._redirect_hop, self._document_failure = None, None, ""
        self._moved = False
        if self.guard is not None:
            self.guard.next_goto()

    async def _judged(self, url: str, response: Any = None) -> None:
        if self.guard is not None:  # behind the proxy: goto()'s document judged by its answer (routing.py)
            await self.guard.judge(url, response)

    async def reading(self, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`. A page that went to another document by itself (a script, a refresh) is read once
        that document is as loaded as goto() waited for (by default, its load event): a document that has
        just committed may have nothing in it yet. One that goes elsewhere while it is read is read again
        so (three reads at most: then the third is what it is, and a page that never stops navigating fails)."""
        for attempt in range(3):
            if self._moved and self._loaded_state != "commit":
                # At once when it is (as after a change of URL alone: the document stays).
                await self._call(self._raw.wait_for_load_state, self._loaded_state)
            self._committed, self._moved = (committed := trio.Event()), False
            try:
                result = await read()
            except PageError as exc:
                if attempt == 2 or not any(words in str(exc) for words in NAVIGATED):
                    raise
                with trio.move_on_after(_NAVIGATION_COMMIT_SECONDS):  # it may have committed already
                    await committed.wait()
                self._moved = True
                continue
            if not self._moved or attempt == 2:
                return result
        raise AssertionError("unreachable")
