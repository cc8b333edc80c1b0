"""The browser service: Playwright on a trio-asyncio loop, seen from Trio.

This is the only asyncio-flavoured module. Every Playwright await crosses
into Trio here (`aio_as_trio`), and every Playwright exception is mapped
into `gptme_trio.errors` here. Callers set deadlines with Trio cancel
scopes; a cancelled call returns as soon as the driver is told to abort.

    async with open_browser(BrowserSpec(executable=...)) as browser:
        async with browser.page(PageOptions()) as page:
            nav = await page.goto(url, wait_until="load")
            html = await page.content()

Chromium (or the connection to a remote one) starts on first use and is
reused. Each `page()` gets its own browser context, closed in the service's
own nursery when the caller is done, so a cancelled caller never waits for
it. If Chromium or the driver dies, that call fails with BrowserCrashed and
the next one starts a fresh browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio_asyncio
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from .errors import BrowserCrashed, NavigationError, PageError

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
)
# Blocked without a Python round trip per request (CDP Network.setBlockedURLs).
_BLOCKED_EXTENSIONS = "png jpg jpeg gif webp avif svg ico bmp woff woff2 ttf otf eot mp4 webm mp3 ogg wav m4a"
BLOCKED_URL_PATTERNS = tuple(f"*.{ext}{tail}" for ext in _BLOCKED_EXTENSIONS.split() for tail in ("", "?*"))  # noqa: SIM905
_SHUTDOWN_SECONDS = 10
_CLOSE_PAGE_SECONDS = 5
_OPEN_PAGE_SECONDS = 10


@dataclass
class _Launch:
    """One browser start-up attempt, awaited by every caller that needs the browser."""

    done: trio.Event = field(default_factory=trio.Event)
    error: BrowserCrashed | None = None


@dataclass(frozen=True)
class BrowserSpec:
    """Where the browser comes from: a local executable or a remote endpoint."""

    executable: str | None = None
    ws_endpoint: str | None = None  # a Playwright server: `playwright launch-server`
    cdp_endpoint: str | None = None  # a Chromium with --remote-debugging-port
    driver_log: Path | None = None  # the driver's stderr goes here instead of the terminal


@dataclass(frozen=True)
class PageOptions:
    headers: dict[str, str] = field(default_factory=dict)
    user_agent: str | None = None
    storage_state: str | None = None
    block_media: bool = False
    viewport: tuple[int, int] = (1280, 800)


@dataclass(frozen=True)
class Navigation:
    status: int | None
    final_url: str
    content_type: str


@asynccontextmanager
async def open_browser(spec: BrowserSpec) -> AsyncIterator[BrowserService]:
    """Run the browser service for the duration of the block."""
    async with trio_asyncio.open_loop() as loop:
        service = None
        try:
            async with trio.open_nursery() as nursery:
                service = BrowserService(spec, loop, nursery)
                yield service
                nursery.cancel_scope.cancel()  # page closers and a start-up in flight clean up after themselves
        finally:
            if service is not None:
                with trio.CancelScope(shield=True), trio.move_on_after(_SHUTDOWN_SECONDS):
                    await service._stop_playwright()


class BrowserService:
    """Hands out pages; owns Playwright, Chromium and the page closers."""

    def __init__(self, spec: BrowserSpec, loop: Any, nursery: trio.Nursery) -> None:
        self._spec = spec
        self._loop = loop
        self._nursery = nursery
        self._playwright: Any = None
        self._browser: Any = None
        self._crashed = False  # set when a call saw the browser or driver die
        self._launch: _Launch | None = None  # the start-up in progress, if any

    async def _aio(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await trio_asyncio.aio_as_trio(fn, loop=self._loop)(*args, **kwargs)

    @asynccontextmanager
    async def page(self, options: PageOptions) -> AsyncIterator[Page]:
        """A fresh page in its own context; closed when the block exits.

        A browser found dead while opening the page (it died between calls) is
        replaced once, transparently: nothing was in flight, so nothing is lost.
        """
        context = None
        try:
            for attempt in (1, 2):
                browser = await self._ensure_browser()
                try:
                    context, raw = await self._open_context(browser, options)
                    break
                except Exception as exc:
                    if attempt == 2 or not (_is_driver_gone(exc) or not browser.is_connected()):
                        raise
                    self._crashed = True
            page = Page(self, raw, context)
            if options.block_media:
                await page._block_media()
            yield page
        except Exception as exc:
            if isinstance(exc, PlaywrightError) or _is_driver_gone(exc):
                raise self._map(exc, "") from exc
            raise
        finally:
            if context is not None:
                self._nursery.start_soon(self._close_context, context)

    async def _open_context(self, browser: Any, options: PageOptions) -> tuple[Any, Any]:
        # Creating a context and a page takes a few ms; cancelled halfway, it would leave
        # a context in the browser that nobody can close. So it is shielded, and bounded.
        context = raw = None
        with trio.CancelScope(shield=True), trio.move_on_after(_OPEN_PAGE_SECONDS):
            context = await self._aio(browser.new_context, **_context_kwargs(options))
            context.set_default_timeout(0)  # deadlines belong to the caller
            context.set_default_navigation_timeout(0)
            raw = await self._aio(context.new_page)
        if raw is None:
            self._crashed = True
            if context is not None:
                self._nursery.start_soon(self._close_context, context)
            raise BrowserCrashed(f"the browser did not open a page within {_OPEN_PAGE_SECONDS} s")
        return context, raw

    async def start(self) -> None:
        """Start the browser now instead of on first use (the caller sets the deadline)."""
        await self._ensure_browser()

    async def _ensure_browser(self) -> Any:
        """The running browser; starts one (in the service's nursery) when there is none.

        Start-up runs as the service's own task, so a caller cancelled while waiting for
        it never tears a half-started driver or browser apart: the next caller gets it.
        """
        while not (self._browser is not None and self._browser.is_connected() and not self._crashed):
            if self._launch is None:
                self._launch = _Launch()
                self._nursery.start_soon(self._start_browser, self._launch)
            launch = self._launch
            await launch.done.wait()
            if launch.error is not None:
                raise launch.error
        return self._browser

    async def _start_browser(self, launch: _Launch) -> None:
        try:
            if self._browser is not None or self._playwright is not None:  # it died: start over
                await self._stop_playwright()
            self._crashed = False
            # Cancelled halfway, start() would leave a driver process we hold no handle to
            # (and open_loop() would wait for it forever). It is local and quick: shield it.
            with trio.CancelScope(shield=True), _driver_stderr(self._spec.driver_log):
                self._playwright = await self._aio(async_playwright().start)
            self._browser = await self._connect(self._playwright.chromium)
        except BaseException as exc:  # cancellation too: never leave a half-started browser
            with trio.CancelScope(shield=True), trio.move_on_after(_SHUTDOWN_SECONDS):
                await self._stop_playwright()
            # Playwright raises a bare Exception when the driver dies.
            if not isinstance(exc, PlaywrightError) and not _is_driver_gone(exc):
                raise
            where = self._spec.ws_endpoint or self._spec.cdp_endpoint or self._spec.executable
            exited = re.search(r"process did exit: exitCode=(\d+)", str(exc))
            reason = f"it exited with code {exited.group(1)}" if exited else _first_line(exc)
            launch.error = BrowserCrashed(f"could not start the browser ({where}): {reason}")
            launch.error.__cause__ = exc
        finally:
            self._launch = None
            launch.done.set()

    async def _connect(self, chromium: Any) -> Any:
        spec = self._spec
        if spec.ws_endpoint:
            return await self._aio(chromium.connect, spec.ws_endpoint)
        if spec.cdp_endpoint:
            return await self._aio(chromium.connect_over_cdp, spec.cdp_endpoint)
        return await self._aio(
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
            await self._aio(context.close)  # failing means the browser is gone: nothing to close

    async def _stop_playwright(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        for step in (browser and browser.close, playwright and playwright.stop):
            if step is None:
                continue
            with contextlib.suppress(Exception):
                await self._aio(step)  # failing here means already dead: what we want

    def _map(self, exc: Exception, url: str) -> Exception:
        """Our error for a Playwright failure. Anything else is a bug: re-raised as it is."""
        dead = self._browser is None or not self._browser.is_connected()
        if dead or _is_driver_gone(exc):
            self._crashed = True
            return BrowserCrashed(f"the browser died: {_first_line(exc)}", url=url)
        if isinstance(exc, PlaywrightError):
            return map_playwright_error(exc, url)
        raise exc


class Page:
    """One browser tab, with Trio-flavoured methods and mapped errors."""

    def __init__(self, service: BrowserService, raw: Any, context: Any) -> None:
        self._service = service
        self._raw = raw
        self._context = context
        self.console: list[dict[str, str]] = []
        raw.on("console", lambda m: self.console.append({"type": m.type, "text": m.text}))
        raw.on("pageerror", lambda e: self.console.append({"type": "pageerror", "text": str(e)}))
        raw.on("crash", lambda _: self.console.append({"type": "crash", "text": "page crashed"}))

    async def _call(self, fn: Callable[..., Any], *args: Any, url: str = "", **kwargs: Any) -> Any:
        try:
            return await self._service._aio(fn, *args, **kwargs)
        except Exception as exc:
            raise self._service._map(exc, url or self._raw.url) from exc
        except asyncio.CancelledError as exc:  # asyncio side gone without a Trio cancel
            raise BrowserCrashed("the browser connection was cancelled", url=url) from exc

    @property
    def url(self) -> str:
        return self._raw.url

    async def goto(self, url: str, wait_until: str = "load") -> Navigation:
        response = await self._call(self._raw.goto, url, url=url, wait_until=wait_until)
        if response is None:
            return Navigation(None, self._raw.url, "")
        content_type = response.headers.get("content-type", "")
        return Navigation(response.status, self._raw.url, content_type)

    async def wait_for_load_state(self, state: str) -> None:
        await self._call(self._raw.wait_for_load_state, state)

    async def wait_for_selector(self, selector: str) -> None:
        await self._call(self._raw.wait_for_selector, selector)

    async def evaluate(self, script: str) -> Any:
        return await self._call(self._raw.evaluate, script)

    async def content(self) -> str:
        return await self._call(self._raw.content)

    async def title(self) -> str:
        return await self._call(self._raw.title)

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

    async def _block_media(self) -> None:
        async def block() -> None:
            cdp = await self._context.new_cdp_session(self._raw)
            await cdp.send("Network.enable")
            await cdp.send("Network.setBlockedURLs", {"urls": list(BLOCKED_URL_PATTERNS)})

        await self._call(block)


@contextlib.contextmanager
def _driver_stderr(path: Path | None) -> Iterator[None]:
    """Start the driver with its stderr on `path`.

    The node driver restores the terminal modes it saw at start when it exits, which
    breaks a prompt in raw mode; on a file it has no terminal to touch. Playwright has
    no option for this: its transport asks `_get_stderr_fileno()` when it spawns the
    driver, so that lookup is swapped for the duration of the (shielded) start.
    """
    if path is None:
        yield
        return
    from playwright._impl import _transport

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:
        original = _transport._get_stderr_fileno
        _transport._get_stderr_fileno = log.fileno
        try:
            yield
        finally:
            _transport._get_stderr_fileno = original


def _context_kwargs(options: PageOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "viewport": {"width": options.viewport[0], "height": options.viewport[1]},
        "accept_downloads": False,
    }
    if options.headers:
        kwargs["extra_http_headers"] = options.headers
    if options.user_agent:
        kwargs["user_agent"] = options.user_agent
    if options.storage_state:
        kwargs["storage_state"] = options.storage_state
    return kwargs


_NET_ERRORS = {
    "ERR_NAME_NOT_RESOLVED": "DNS lookup failed",
    "ERR_NAME_RESOLUTION_FAILED": "DNS lookup failed",
    "ERR_CONNECTION_REFUSED": "connection refused",
    "ERR_CONNECTION_RESET": "connection reset",
    "ERR_CONNECTION_CLOSED": "connection closed by the server",
    "ERR_EMPTY_RESPONSE": "empty response from the server",
    "ERR_CONNECTION_TIMED_OUT": "connection timed out",
    "ERR_ADDRESS_UNREACHABLE": "address unreachable",
    "ERR_INTERNET_DISCONNECTED": "no network",
    "ERR_TOO_MANY_REDIRECTS": "too many redirects",
    "ERR_INVALID_RESPONSE": "invalid HTTP response",
    "ERR_INCOMPLETE_CHUNKED_ENCODING": "response body cut off",
    "ERR_CONTENT_LENGTH_MISMATCH": "response body cut off",
    "ERR_UNSAFE_PORT": "port refused by the browser as unsafe",
    "ERR_FILE_NOT_FOUND": "file not found",
}


def map_playwright_error(exc: PlaywrightError, url: str) -> Exception:
    """Turn a Playwright error into our error tree (the browser is still alive)."""
    message = _first_line(exc)
    if "net::ERR_" in message:
        code = message.split("net::", 1)[1].split()[0]
        name = code.removeprefix("ERR_")
        if "CERT" in name or "SSL" in name:
            return NavigationError(f"TLS error ({code})", url=url)
        return NavigationError(_NET_ERRORS.get(code, f"navigation failed ({code})"), url=url)
    if "Target crashed" in message or "Page crashed" in message:
        return PageError("the page crashed", url=url)
    if "has been closed" in message:
        return PageError("the page was closed", url=url)
    return PageError(message, url=url)


def _is_driver_gone(exc: BaseException) -> bool:
    """Playwright reports a dead driver with a bare Exception, not its Error."""
    return "Connection closed" in str(exc) or "Target page, context or browser has been closed" in str(exc)


def _first_line(exc: BaseException) -> str:
    """The first line of a Playwright message, without its 'Page.goto: ' prefix."""
    text = (getattr(exc, "message", None) or str(exc)).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"^\w+\.\w+: ", "", line)
