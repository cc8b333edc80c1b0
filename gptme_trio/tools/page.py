"""One interactive page for the model: open_page, click, fill, press, page_text, close_page.

The page stays open between tool calls (the browser service owns it and closes it at the
end of the session at the latest). These tools are `sequential`: several of them in one
model reply run one after another in call order, since each acts on what the last left.
Every request the page makes goes through the URL policy (`PageOptions.request_filter` and `.proxy`).
"""

from __future__ import annotations

from collections.abc import Callable

from gptme_trio.core.browser import BrowserService, Page, PageOptions
from gptme_trio.core.errors import ToolError
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.tools import Tool, tool

SELECTOR_HELP = 'a CSS selector, or Playwright\'s text=Sign in / role=button[name="Sign in"]'


class InteractivePage:
    def __init__(
        self,
        browser: BrowserService,
        policy: UrlPolicy,
        options: PageOptions,
        truncate: Callable[[str], str],
    ) -> None:
        self._browser = browser
        self._policy = policy
        self._options = options  # with the URL policy's request filter and proxy
        self._truncate = truncate
        self._page: Page | None = None
        self._refusals_shown = 0

    @property
    def page(self) -> Page | None:
        """The page open_page opened, if any (read-only)."""
        return self._page

    def tools(self) -> list[Tool]:
        start, starts = self._browser.start, lambda: self._browser.starts
        tools = [tool(self.open_page, start, starts, check=self._policy.check)]
        tools += [tool(fn, starts=starts) for fn in (self.click, self.fill, self.press, self.page_text)]
        tools += [tool(self.close_page)]
        return [t.as_sequential() for t in tools]

    async def open_page(self, url: str) -> str:
        """Open a web page to interact with (click, fill, press); returns its accessibility tree.

        Args:
        url: the http(s) URL of the page
        """
        await self._policy.check(url)
        await self.close_page()
        self._page = page = await self._browser.new_page(self._options)
        self._refusals_shown = 0
        await page.goto(url)
        return await self._describe(page, tree=True)

    async def click(self, selector: str) -> str:
        """Click an element of the open page; returns where the page is afterwards.

        Args:
        selector: the element: {help}
        """
        page = self._current()
        await page.click(selector)
        await page.wait_for_load_state("load")  # the page it led to, if it led somewhere
        return await self._describe(page, f"clicked {selector}")

    async def fill(self, selector: str, value: str) -> str:
        """Type a value into a field of the open page (replacing what it held).

        Args:
        selector: the field: {help}
        value: the text to put in the field
        """
        page = self._current()
        await page.fill(selector, value)
        return f"filled {selector} with {value!r}"

    async def press(self, key: str) -> str:
        """Press a key in the open page (on the focused element), e.g. Enter, Tab, ArrowDown, Control+A.

        Args:
        key: the key, as Playwright names it
        """
        page = self._current()
        await page.press(key)
        await page.wait_for_load_state("load")
        return await self._describe(page, f"pressed {key}")

    async def page_text(self) -> str:
        """Return the visible text of the open page."""
        page = self._current()
        return await self._describe(page, tree=False, text=True)

    async def close_page(self) -> str:
        """Close the open page."""
        page, self._page = self._page, None
        if page is None:
            return "no page was open"
        page.close()
        return "closed the page"

    def _current(self) -> Page:
        if self._page is None or self._page.closed:
            raise ToolError("no page is open: call open_page(url) first")
        return self._page

    async def _describe(self, page: Page, done: str = "", *, tree: bool = False, text: bool = False) -> str:
        """What the model sees after an action: where the page is, and what the policy refused."""
        if page.url not in ("", "about:blank"):
            await self._policy.check(page.url)  # the page may have navigated by itself
        lines = [done] if done else []
        lines.append(f"page: {await page.title()!r} at {page.url}")
        new = page.refused[self._refusals_shown :]
        self._refusals_shown = len(page.refused)
        if new:
            more = f" (and {len(new) - 5} more)" if len(new) > 5 else ""
            lines.append("the URL policy refused requests of the page: " + "; ".join(new[:5]) + more)
        body = ""
        if tree:
            body = await page.aria_snapshot()
        elif text:
            body = await page.inner_text()
        return "\n".join(lines) + ("\n\n" + self._truncate(body) if body else "")


for _method in (InteractivePage.click, InteractivePage.fill):
    _method.__doc__ = (_method.__doc__ or "").replace("{help}", SELECTOR_HELP)
