"""Page: one browser tab, with Trio-flavoured methods and Playwright's errors mapped to ours."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio

import gptme_trio.core.browser.scripts as scripts
from gptme_trio.core.browser import devtools, jsvalue
from gptme_trio.core.browser.frames import inline_frames
from gptme_trio.core.browser.navigation import NAVIGATED, Navigator
from gptme_trio.core.browser.options import BLOCKED_URL_PATTERNS, Navigation, PageOptions
from gptme_trio.core.browser.routing import RequestGuard
from gptme_trio.core.errors import BrowserCrashed, NavigationError, PageError

if TYPE_CHECKING:  # playwright.async_api costs ~60 ms to import: loaded when the browser starts (service.py)
    from playwright.async_api import BrowserContext
    from playwright.async_api import Page as PlaywrightPage

T = TypeVar("T")
_CRASH_PROBE_SECONDS = 1  # a navigation aborted for no reason we know: is the renderer still there?


class PageHost(Protocol):
    """What a page needs from the service that opened it (service.BrowserService)."""

    async def run_aio(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the asyncio loop, awaited from Trio."""
        ...

    def trio_as_aio(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """A Trio-flavoured async function, made callable from the asyncio loop."""
        ...

    def map_error(self, exc: Exception, url: str) -> Exception:
        """Our error for a Playwright failure (re-raises anything else)."""
        ...

    def discard(self, page: Page) -> None:
        """Close `page` in the background."""
        ...


class Page:
    """One tab in its own browser context. `console` and `refused` describe the current use.

    Made by the service (`BrowserService.page`, `new_page`, `tabs`), not by callers."""

    def __init__(self, host: PageHost, raw: PlaywrightPage, context: BrowserContext, generation: int) -> None:
        self._host = host
        self._raw = raw
        self._context = context
        self.generation = generation  # which browser start-up it belongs to
        self.uses = 0
        self.console: list[dict[str, str]] = []
        self.refused: list[str] = []  # requests the page made that the request filter refused
        self._nav = Navigator(raw, self._call, self._has_crashed)
        self._stale = False  # reused, and still showing the last use's document: its events are not ours
        self._crashed = False  # its renderer process died: the tab is of no more use
        self._calls: set[trio.CancelScope] = set()  # calls in flight: a crash ends them
        self._cdp: Any = None  # the tab's CDP session (Playwright's CDPSession), made on first need
        self._cdp_refused = False  # the browser refused it (a remote one may): Playwright's API instead
        raw.on("console", lambda m: self._note(m.type, m.text))
        raw.on("pageerror", lambda e: self._note("pageerror", str(e)))
        raw.on("crash", self._on_crash)
        raw.on("framenavigated", self._on_navigated)
        raw.on("requestfailed", self._on_request_failed)

    def _note(self, kind: str, text: str) -> None:
        if not self._stale:
            self.console.append({"type": kind, "text": text})

    def _on_crash(self, _: Any) -> None:
        self._crashed = True
        self._note("crash", "page crashed")
        for scope in self._calls:  # a call to a crashed page may never answer (a CDP session's send)
            scope.cancel()

    def _on_request_failed(self, request: Any) -> None:
        self._nav.document_failed(request, request.failure or "")

    def _on_navigated(self, frame: Any) -> None:
        if frame is self._raw.main_frame:
            self._stale = False
            self._nav.committed()

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any, url: str = "", **kwargs: Any) -> T:
        """`fn` on the loop, its failures mapped; a crash of the page's renderer ends it at once."""
        if self._crashed:
            raise PageError("the page crashed", url=url or self._raw.url)
        with trio.CancelScope() as scope:
            self._calls.add(scope)
            try:
                return await self._host.run_aio(fn, *args, **kwargs)
            except Exception as exc:
                raise self._host.map_error(exc, url or self._raw.url) from exc
            except asyncio.CancelledError as exc:  # asyncio side gone without a Trio cancel
                raise BrowserCrashed("the browser connection was cancelled", url=url) from exc
            finally:
                self._calls.discard(scope)
        raise PageError("the page crashed", url=url or self._raw.url)  # only _on_crash cancels that scope

    @property
    def url(self) -> str:
        return self._raw.url

    @property
    def closed(self) -> bool:
        return self._raw.is_closed()

    @property
    def context(self) -> BrowserContext:
        """Playwright's BrowserContext of this tab (asyncio-flavoured: for the service, and tests)."""
        return self._context

    def close(self) -> None:
        """Close the tab (in the service's nursery: this never waits)."""
        self._host.discard(self)

    def stop_routing(self) -> None:
        """Cancel request checks in flight (a document fetch that never answers would outlive the tab)."""
        if self._nav.guard is not None:
            self._nav.guard.stop()

    # What the request guard reports (routing.GuardedPage).

    def note_refused(self, url: str, reason: str) -> None:
        if not self._stale:
            self.refused.append(f"{url} ({reason})")

    def note_refused_navigation(self, shown_at: str, why: str) -> None:
        self._nav.refused_navigation(shown_at, why)

    @property
    def in_goto(self) -> bool:
        return self._nav.in_goto

    def redirect_goto(self, hop: str) -> None:
        self._nav.redirect_goto(hop)

    async def goto(self, url: str, wait_until: str = "load") -> Navigation:
        return await self._nav.goto(url, wait_until, reused=self.uses > 1)

    async def _has_crashed(self) -> bool:
        """Whether the renderer died (its crash event comes after the navigation's abort)."""
        with trio.move_on_after(_CRASH_PROBE_SECONDS):
            with contextlib.suppress(PageError, NavigationError):  # "the page crashed" sets the flag
                await self._call(self._raw.evaluate, "0")
        return self._crashed

    async def wait_for_load_state(self, state: str) -> None:
        await self._call(self._raw.wait_for_load_state, state)

    async def wait_for_selector(self, selector: str) -> None:
        await self._call(self._raw.wait_for_selector, selector)

    async def evaluate(self, script: str) -> Any:
        return await self._call(self._raw.evaluate, script)

    async def evaluate_json(self, script: str, max_bytes: int) -> Any:
        """`script`'s result (a function called, a Promise awaited) as JSON (jsvalue.py), or PageError."""
        reply = await self._call(self._raw.evaluate, jsvalue.TO_JSON, [script, max_bytes])
        try:
            return jsvalue.decode(reply, max_bytes)
        except ValueError as exc:
            raise PageError(f"script: {exc}", url=self._raw.url) from None

    async def content(self) -> str:
        """The DOM as HTML (as the browser serialises it)."""
        return await self._nav.reading(lambda: self._call(self._raw.content))

    async def document(self, *, frames: bool = False, overlays: bool = True, settle: float = 0) -> str:
        """The DOM as HTML for extraction (scripts.DOCUMENT): open shadow roots rendered in place,
        same-origin frames inlined and marked; with `frames`, cross-origin frames too; with
        `overlays`, consent banners, modals and viewport-covering overlays removed from the page first.
        `settle`: settle(settle) first, in the same script (a round trip less). If the page goes elsewhere
        meanwhile, its next document is read as settle() then document() would: unsettled, once loaded."""
        options = {"frames": frames, "overlays": overlays, "part": "document"}
        settling = [settle * 1000, scripts.QUIET_MS, options] if settle > 0 else None

        async def read() -> str:
            nonlocal settling
            if settling is None:
                return str(await self._script(scripts.DOCUMENT, options))
            arg, settling = settling, None  # the first attempt only
            return str(await self._script(scripts.SETTLED_DOCUMENT, arg))

        html = await self._nav.reading(read)
        if frames and scripts.FRAME_MARK in html:
            html = await inline_frames(self._call, self._raw.main_frame, html, {**options, "part": "frame"})
        return html

    async def settle(self, cap: float) -> str:
        """Wait until the page is quiet (scripts.SETTLE: nothing pending, the DOM unchanged for
        scripts.QUIET_MS), at most `cap` seconds, in the page. What ended it: quiet, cap, untracked
        (a document without the tracker), navigated (the page left meanwhile), off (cap <= 0)."""
        if cap <= 0:
            return "off"
        try:
            ended = await self._script(scripts.SETTLE, [cap * 1000, scripts.QUIET_MS])
        except PageError as exc:
            if any(words in str(exc) for words in NAVIGATED):
                return "navigated"  # the read that follows waits for the next document
            raise
        return str(ended)

    async def _script(self, script: str, arg: Any) -> Any:
        """One of our scripts, through the tab's CDP session (devtools.py: faster than Page.evaluate);
        through Page.evaluate where there is none."""
        if (cdp := await self._session()) is None:
            return await self._call(self._raw.evaluate, script, arg)
        return await self._call(devtools.evaluate, cdp, script, arg)

    async def _session(self) -> Any:
        """The tab's CDP session, made on first need; None where the browser refuses one (a remote one may)."""
        if self._cdp is None and not self._cdp_refused:
            try:
                self._cdp = await self._call(devtools.open_session, self._context, self._raw)
            except PageError:
                self._cdp_refused = True
        return self._cdp

    async def title(self) -> str:
        return await self._call(self._raw.title)

    async def inner_text(self, selector: str = "body") -> str:
        return await self._call(self._raw.inner_text, selector)

    async def click(self, selector: str) -> None:
        await self._call(self._raw.click, selector)

    async def fill(self, selector: str, value: str) -> None:
        await self._call(self._raw.fill, selector, value)

    async def press(self, key: str) -> None:
        """Press `key` on the focused element (else the page); waits for a navigation it starts to commit."""
        focused = await self._call(
            self._raw.evaluate, "document.activeElement && document.activeElement !== document.body"
        )
        await self._call(self._raw.press, "*:focus" if focused else "body", key)

    async def screenshot(self, *, full_page: bool = False) -> bytes:
        return await self._call(self._raw.screenshot, full_page=full_page, type="png")

    async def aria_snapshot(self) -> str:
        """The page's accessibility tree as YAML (roles, names, text)."""
        return await self._call(self._raw.locator("body").aria_snapshot)

    async def pdf(self) -> bytes:
        return await self._call(self._raw.pdf, print_background=True)

    async def download(self, url: str) -> tuple[int, str, bytes]:
        """GET `url` with this page's cookies and headers, without rendering it."""

        async def get() -> tuple[int, str, bytes]:
            response = await self._context.request.get(url, max_redirects=20)
            return response.status, response.headers.get("content-type", ""), await response.body()

        return await self._call(get, url=url)

    async def setup(self, options: PageOptions) -> None:
        """Once per tab: the settle tracker in every document, media blocking in the browser, the request
        filter (on every request, unless the proxy is left the refusals: PageOptions.report_refusals).
        Independent steps, sent at once."""

        async def block() -> None:
            self._cdp = await devtools.open_session(self._context, self._raw)
            await devtools.block_urls(self._cdp, BLOCKED_URL_PATTERNS)

        async def steps() -> None:  # every step ends before the first failure is raised
            done = await asyncio.gather(*(step() for step in parts), return_exceptions=True)
            if failed := next((r for r in done if isinstance(r, BaseException)), None):
                raise failed

        parts: list[Callable[[], Awaitable[Any]]] = [lambda: self._context.add_init_script(scripts.QUIET_TRACKER)]
        if options.block_media:
            parts.append(block)
        if options.request_filter is not None:
            proxied = options.proxy is not None
            self._nav.guard = guard = RequestGuard(self, options.request_filter, self._host.trio_as_aio, proxied)
            if options.report_refusals or not proxied:  # without the proxy, the filter is the policy
                parts.append(lambda: guard.install(self._context))
        await self._call(steps)

    async def reset(self) -> tuple[float, float]:
        """After a cancelled use: stop what the tab loads (Chromium goes on with a cancelled goto) and have
        the renderer answer a script (one wedged by JavaScript never does: the caller bounds this), in one
        round trip on the tab's CDP session (Page.stopLoading, Runtime.evaluate; run in order). The tab
        keeps its last document; that use's request checks are dropped. Where CDP is refused (a remote
        browser may), or where it fails: about:blank, then a script. Returns the seconds until stopped and
        until answered."""
        cdp = await self._session()
        try:
            if cdp is not None:
                stopped, answered, value = await self._call(devtools.stop_and_ping, cdp)
        except PageError:
            cdp = None
        if cdp is None:
            started = time.perf_counter()
            await self._call(self._raw.goto, "about:blank")
            stopped = time.perf_counter() - started
            value = await self._call(self._raw.evaluate, "1")
            answered = time.perf_counter() - started
        self.stop_routing()
        if value != 1:
            raise PageError("the page did not answer after a reset", url=self._raw.url)
        return stopped, answered

    async def prepare_reuse(self, clear_cookies: bool) -> None:
        """Before a reused tab's next use: a clean record, no popups, no cookies from before."""
        self.uses += 1
        self.console, self.refused = [], []
        if self.uses == 1:
            return
        self._stale = True  # until our own navigation commits
        for other in self._context.pages:
            if other is not self._raw:
                await self._call(other.close)
        if clear_cookies:
            await self._call(self._context.clear_cookies)
        else:
            await self._call(self._context.cookies)  # a round trip all the same: is the driver alive?
