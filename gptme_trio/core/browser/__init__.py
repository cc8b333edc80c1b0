"""The browser service: Playwright on a trio-asyncio loop, seen from Trio.

This package is the only asyncio-flavoured code in the project. Every Playwright
await crosses into Trio here (`aio_as_trio`), and every Playwright exception is
mapped into `gptme_trio.core.errors` here. Callers set deadlines with Trio cancel
scopes; a cancelled call returns as soon as the driver is told to abort.

    async with open_browser(BrowserSpec(executable=...)) as browser:
        async with browser.page(PageOptions()) as page:       # a fresh tab, closed after
            nav = await page.goto(url, wait_until="load")
            html = await page.content()
        tabs = browser.tabs(PageOptions())                      # tabs reused between callers
        async with tabs.page() as page:
            ...

Modules, each importing only those below it:

    service.py   open_browser, BrowserService (start-up, crash recovery)
    tabs.py      Tabs: tabs reused one caller at a time, reset after a cancelled use
    page.py      Page: one tab's calls, errors mapped; PageHost, what it needs from the service
    routing.py   RequestGuard: a tab's request filter; GuardedPage, what it needs from the tab
    frames.py    cross-origin frames' documents inlined into their parent's (--frames)
    locate.py    find_browser, browser_spec: which Chromium to launch
    driver.py    driver_start, spawn_driver, adopt: the one touch of Playwright's internals (the driver)
    options.py   BrowserSpec, PageOptions, Chromium flags
    scripts.py   the JavaScript run in pages: settle tracker, document serialiser, overlay removal
    errors.py    Playwright's errors -> ours
"""

from typing import TYPE_CHECKING, Any

from gptme_trio.core.browser.options import BLOCKED_URL_PATTERNS as BLOCKED_URL_PATTERNS
from gptme_trio.core.browser.options import CHROMIUM_ARGS as CHROMIUM_ARGS
from gptme_trio.core.browser.options import BrowserSpec as BrowserSpec
from gptme_trio.core.browser.options import Navigation as Navigation
from gptme_trio.core.browser.options import PageOptions as PageOptions

if TYPE_CHECKING:
    from gptme_trio.core.browser.page import Page as Page
    from gptme_trio.core.browser.service import BrowserService as BrowserService
    from gptme_trio.core.browser.service import open_browser as open_browser
    from gptme_trio.core.browser.tabs import Tabs as Tabs

# The service, its tabs and pages import trio-asyncio, asyncio's event loop and Playwright (~25 ms): they
# load when first named, so that a caller that needs only the options (chat drawing its prompt) does not
# pay for them.
_LAZY = {
    "Page": "gptme_trio.core.browser.page",
    "BrowserService": "gptme_trio.core.browser.service",
    "open_browser": "gptme_trio.core.browser.service",
    "Tabs": "gptme_trio.core.browser.tabs",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
