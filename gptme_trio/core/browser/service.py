"""open_browser and BrowserService: Playwright and Chromium started on demand, owned by a nursery.

Chromium (or the connection to a remote one) starts on first use and is reused.
`page()` gives a fresh tab in its own browser context, closed in the service's own
nursery when the caller is done, so a cancelled caller never waits for it. `tabs()`
gives tabs that are kept and reused one caller at a time (tabs.py). If
Chromium or the driver dies, that call fails with BrowserCrashed and the next one
starts a fresh browser.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio
import trio_asyncio
from playwright._impl._errors import Error as PlaywrightError  # playwright.async_api.Error, without its ~60 ms import

from gptme_trio.core.browser.driver import SpawnedDriver, adopt, driver_start
from gptme_trio.core.browser.errors import first_line, is_driver_gone, map_playwright_error, start_hint
from gptme_trio.core.browser.options import CHROMIUM_ARGS, BrowserSpec, PageOptions, context_kwargs
from gptme_trio.core.browser.page import Page
from gptme_trio.core.browser.tabs import Tabs
from gptme_trio.core.errors import BrowserCrashed, GptmeTrioError

T = TypeVar("T")
_log = logging.getLogger(__name__)
_SHUTDOWN_SECONDS = 10
_CLOSE_PAGE_SECONDS = 5
_OPEN_PAGE_SECONDS = 10


@dataclass
class _Launch:
    """One browser start-up attempt, awaited by every caller that needs the browser."""

    spawned: trio.Event = field(default_factory=trio.Event)  # the driver process exists (or start-up ended)
    done: trio.Event = field(default_factory=trio.Event)
    error: BrowserCrashed | None = None


@asynccontextmanager
async def open_browser(spec: BrowserSpec, driver: SpawnedDriver | None = None) -> AsyncIterator[BrowserService]:
    """Run the browser service for the duration of the block. `driver`: a driver process already
    started (driver.spawn_driver), used by the first start-up instead of a new one; its spawner
    closes it after this block."""
    async with trio_asyncio.open_loop() as loop:
        loop.set_exception_handler(_log_stray_asyncio_error)
        service = None
        try:
            async with trio.open_nursery() as nursery:
                service = BrowserService(spec, loop, nursery, driver)
                yield service
                nursery.cancel_scope.cancel()  # page closers and a start-up in flight clean up after themselves
        finally:
            if service is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(_SHUTDOWN_SECONDS):
                    await service._stop_playwright()


def _log_stray_asyncio_error(loop: Any, context: dict[str, Any]) -> None:
    """Errors of asyncio tasks nobody awaits: Playwright's own (a route answered after its page or
    driver died, "Task was destroyed" for one that never will be). Every Playwright call of ours is
    awaited, so these concern nothing in flight; trio-asyncio's default handler would raise them into
    the loop's nursery and end the whole service (and a chat session) over them. Logged instead."""
    _log.debug("asyncio: %s", context.get("message"), exc_info=context.get("exception"))


class BrowserService:
    """Hands out pages; owns Playwright, Chromium and the page closers."""

    def __init__(
        self, spec: BrowserSpec, loop: Any, nursery: trio.Nursery, driver: SpawnedDriver | None = None
    ) -> None:
        self._spec = spec
        self._spawned = driver  # a driver started before the service, for its first start-up
        self._loop = loop
        self._nursery = nursery
        self._playwright: Any = None
        self._browser: Any = None
        self._generation = 0  # counts browser start-ups: tabs of an older one are dead
        self._crashed = False  # set when a call saw the browser or driver die
        self._launch: _Launch | None = None  # the start-up in progress, if any
        self._early: _Launch | None = None  # the driver's early start (start_driver) in progress, if any

    # What its pages need (page.PageHost): the loop, the error mapping, closing in the background.

    async def run_aio(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the service's asyncio loop, awaited from Trio."""
        result: T = await trio_asyncio.aio_as_trio(fn, loop=self._loop)(*args, **kwargs)
        return result

    def trio_as_aio(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """A Trio-flavoured async function, callable from the service's asyncio loop."""
        wrapped: Callable[..., Any] = trio_asyncio.trio_as_aio(fn, loop=self._loop)
        return wrapped

    def discard(self, page: Page) -> None:
        """Close `page` and its context in the service's nursery (this never waits)."""
        page.stop_routing()
        self._nursery.start_soon(self._close_context, page.context)

    def map_error(self, exc: Exception, url: str) -> Exception:
        """Our error for a Playwright failure. Anything else is a bug: re-raised as it is."""
        dead = self._browser is None or not self._browser.is_connected()
        if dead or is_driver_gone(exc):
            self._crashed = True
            return BrowserCrashed(f"the browser died: {first_line(exc)}", url=url)
        if isinstance(exc, PlaywrightError):
            return map_playwright_error(exc, url)
        raise exc

    @asynccontextmanager
    async def page(self, options: PageOptions) -> AsyncIterator[Page]:
        """A fresh page in its own context; closed when the block exits."""
        page = None
        async with self._mapped():
            try:
                page = await self._new_page(options)
                await page.prepare_reuse(clear_cookies=False)
                yield page
            finally:
                if page is not None:
                    self.discard(page)

    async def new_page(self, options: PageOptions) -> Page:
        """A page that stays open until `page.close()` or the end of the service."""
        async with self._mapped():
            page = await self._new_page(options)
            await page.prepare_reuse(clear_cookies=False)
            return page

    def tabs(self, options: PageOptions) -> Tabs:
        """Tabs with `options`, kept open and handed to one caller at a time."""
        return Tabs(self, options)

    # What reused tabs need (tabs.TabHost): opening one, telling a live one, work in the background.

    async def open_tab(self, options: PageOptions) -> Page:
        """A new tab, set up (not yet prepared for a use); errors are Playwright's until `mapped()`."""
        return await self._new_page(options)

    def usable(self, page: Page) -> bool:
        """Whether `page` belongs to the running browser and is still open."""
        return self._usable(page)

    def background(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run `fn(*args)` in the service's nursery: it outlives a cancelled caller, not the service."""
        self._nursery.start_soon(fn, *args)

    def mapped(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Playwright errors escaping the block become ours."""
        return self._mapped()

    @asynccontextmanager
    async def _mapped(self) -> AsyncIterator[None]:
        """Playwright errors escaping a page block become ours."""
        try:
            yield
        except GptmeTrioError:
            raise
        except Exception as exc:
            if isinstance(exc, PlaywrightError) or is_driver_gone(exc):
                raise self.map_error(exc, "") from exc
            raise

    async def _new_page(self, options: PageOptions) -> Page:
        """A new tab in its own context, set up. A browser found dead while opening it (it died
        between calls) is replaced once, transparently: nothing was in flight, so nothing is lost.
        """
        for attempt in (1, 2):
            browser = await self._ensure_browser()
            try:
                context, raw = await self._open_context(browser, options)
                break
            except Exception as exc:
                if attempt == 2 or not (is_driver_gone(exc) or not browser.is_connected()):
                    raise
                self._crashed = True
        page = Page(self, raw, context, self._generation)
        try:
            await page.setup(options)
        except BaseException:
            self.discard(page)
            raise
        return page

    def _usable(self, page: Page) -> bool:
        alive = self._browser is not None and self._browser.is_connected() and not self._crashed
        return alive and page.generation == self._generation and not page.closed

    async def _open_context(self, browser: Any, options: PageOptions) -> tuple[Any, Any]:
        # Creating a context and a page takes a few ms; cancelled halfway, it would leave
        # a context in the browser that nobody can close. So it is shielded, and bounded.
        # If Chromium dies meanwhile, new_page() may never settle: its 'disconnected' event ends the wait.
        context = raw = None
        with trio.CancelScope(shield=True) as scope, trio.move_on_after(_OPEN_PAGE_SECONDS):
            gone = lambda *_: scope.cancel()  # noqa: E731 - runs on the loop, in this thread
            browser.on("disconnected", gone)
            try:
                context = await self.run_aio(browser.new_context, **context_kwargs(options))
                context.set_default_timeout(0)  # deadlines belong to the caller
                context.set_default_navigation_timeout(0)
                raw = await self.run_aio(context.new_page)
            finally:
                browser.remove_listener("disconnected", gone)
        if raw is None:
            self._crashed = True
            if context is not None:
                self._nursery.start_soon(self._close_context, context)
            if scope.cancelled_caught:
                raise BrowserCrashed("the browser died while it opened a tab")
            raise BrowserCrashed(f"the browser did not open a page within {_OPEN_PAGE_SECONDS} s")
        return context, raw

    @property
    def starts(self) -> int:
        """How many browsers this service has started (a restart after a crash adds one)."""
        return self._generation

    @property
    def open_contexts(self) -> int:
        """How many browser contexts (one per open tab) the running browser holds."""
        return len(self._browser.contexts) if self._browser is not None else 0

    async def start(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the browser now instead of on first use (the caller sets the deadline).

        Under `nursery.start`, it reports started as soon as the driver process exists (or at once
        when the browser runs): the rest of start-up happens in other processes, so the caller can
        use this one's CPU meanwhile.
        """
        launch = self._launching()
        if launch is not None:
            await launch.spawned.wait()
        task_status.started()
        await self._ensure_browser(launch)

    async def start_driver(self) -> None:
        """Start Playwright's driver now, not Chromium, and return once its process exists (the one
        given to open_browser, if any: Playwright then connects to it).

        Chromium still starts on first use; that use then finds the driver running (booting node takes
        ~0.25-0.6 s, in another process, while the caller goes on). A driver that fails to start here
        is started again by it.
        """
        if self._playwright is None and self._launch is None and self._early is None:
            self._early = _Launch()
            self._nursery.start_soon(self._start_driver_early, self._early)
        if self._early is not None:
            await self._early.spawned.wait()

    async def _start_driver_early(self, early: _Launch) -> None:
        try:
            await self._spawn_driver(early.spawned.set)
        except Exception as exc:  # the first use starts it again, and reports what fails then
            _log.info("the browser driver did not start (%s): the first use starts it again", first_line(exc))
            with trio.CancelScope(shield=True), trio.move_on_after(_SHUTDOWN_SECONDS):
                await self._stop_playwright()
        finally:
            self._early = None
            early.spawned.set()
            early.done.set()

    def _launching(self) -> _Launch | None:
        """The start-up in progress, begun (in the service's nursery) if the browser is not running;
        None when it runs."""
        if self._browser is not None and self._browser.is_connected() and not self._crashed:
            return None
        if self._launch is None:
            self._launch = _Launch()
            self._nursery.start_soon(self._start_browser, self._launch)
        return self._launch

    async def _ensure_browser(self, launch: _Launch | None = None) -> Any:
        """The running browser; starts one when there is none (`launch`: the start-up begun already).

        Start-up runs as the service's own task, so a caller cancelled while waiting for
        it never tears a half-started driver or browser apart: the next caller gets it.
        """
        launch = launch or self._launching()
        while launch is not None:
            await launch.done.wait()
            if launch.error is not None:
                raise launch.error
            launch = self._launching()
        return self._browser

    async def _start_browser(self, launch: _Launch) -> None:
        try:
            for attempt in (1, 2):
                try:
                    await self._start_once(launch)
                    return
                except BaseException as exc:  # cancellation too: never leave a half-started browser
                    with trio.CancelScope(shield=True), trio.move_on_after(_SHUTDOWN_SECONDS):
                        await self._stop_playwright()
                    # Playwright raises a bare Exception when the driver dies.
                    if not isinstance(exc, PlaywrightError) and not is_driver_gone(exc):
                        raise
                    exited = re.search(r"process did exit: exitCode=(\d+)", str(exc))
                    # Killed while starting (not a browser that cannot run, not a remote one that is not there):
                    if attempt == 1 and not exited and not self._spec.ws_endpoint and not self._spec.cdp_endpoint:
                        _log.info("the browser died while it started (%s): starting it again", first_line(exc))
                        continue
                    where = self._spec.ws_endpoint or self._spec.cdp_endpoint or self._spec.executable
                    reason = f"it exited with code {exited.group(1)}" if exited else first_line(exc)
                    if not self._spec.ws_endpoint and not self._spec.cdp_endpoint:
                        reason += start_hint()
                    launch.error = BrowserCrashed(f"could not start the browser ({where}): {reason}")
                    launch.error.__cause__ = exc
                    return
        finally:
            self._launch = None
            launch.spawned.set()
            launch.done.set()

    async def _start_once(self, launch: _Launch) -> None:
        if (early := self._early) is not None:  # start_driver's start in flight: its driver is ours to use
            launch.spawned.set()  # its process exists: start()'s caller may use this one's CPU while it boots
            await early.done.wait()
        if self._browser is not None:  # it died: start over
            await self._stop_playwright()
        self._crashed = False
        self._generation += 1
        if self._playwright is None:
            await self._spawn_driver(launch.spawned.set)
        else:  # started by start_driver (if it died since, launching fails and start-up begins again)
            launch.spawned.set()
        self._browser = await self._connect(self._playwright.chromium)

    async def _spawn_driver(self, spawned: Callable[[], None]) -> None:
        # Cancelled halfway, start() would leave a driver process we hold no handle to
        # (and open_loop() would wait for it forever). It is local and quick: shield it.
        from playwright.async_api import async_playwright  # here, not at chat's start-up (~60 ms)

        if (driver := self._spawned) is not None and not driver.adopted:  # booting (or booted) already
            spawned()
            with trio.CancelScope(shield=True):
                self._playwright = await self.run_aio(adopt, driver)
            return
        with trio.CancelScope(shield=True), driver_start(self._spec.driver_log, spawned, self._spec.driver_cache):
            self._playwright = await self.run_aio(async_playwright().start)

    async def _connect(self, chromium: Any) -> Any:
        spec = self._spec
        if spec.ws_endpoint:
            return await self.run_aio(chromium.connect, spec.ws_endpoint)
        if spec.cdp_endpoint:
            return await self.run_aio(chromium.connect_over_cdp, spec.cdp_endpoint)
        return await self.run_aio(
            chromium.launch,
            executable_path=spec.executable,
            args=list(CHROMIUM_ARGS),
            headless=True,
            handle_sigint=False,
            handle_sigterm=False,
            handle_sighup=False,
        )

    async def _close_context(self, context: Any) -> None:
        # Runs in the service's nursery: the caller may be cancelled already.
        # A page wedged by JavaScript takes ~0.5 s to close; the browser itself
        # closes every context at shutdown, so a bound here loses nothing.
        with contextlib.suppress(Exception), trio.move_on_after(_CLOSE_PAGE_SECONDS):
            await self.run_aio(context.close)  # failing means the browser is gone: nothing to close

    async def _stop_playwright(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        for step in (browser and browser.close, playwright and playwright.stop):
            if step is None:
                continue
            with contextlib.suppress(Exception):
                await self.run_aio(step)  # failing here means already dead: what we want
