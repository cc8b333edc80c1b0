"""Web tools for the model, on the shared browser service.

Navigation failures come back as errors with their reason ("connection refused:
http://…"), never as Chrome's error page. Every URL the model chooses passes the
URL policy first, and again after redirects; every request its pages make (redirect
hops, subresources, navigations by script) passes it too, in the browser; and every
connection they open passes it in the policy proxy (gptme_trio.core.proxy). URLs the
user types (/fetch, /screenshot) are not checked.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import trio

from gptme_trio.core.browser import BrowserService, PageOptions
from gptme_trio.core.errors import Refused, ToolError
from gptme_trio.core.images import MAX_IMAGE, Attached, Image
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.fetch.options import WAIT_UNTIL, Capture, FetchOptions, Format, RenderOptions
from gptme_trio.fetch.targets import Target
from gptme_trio.tools import Report, Tool, tool
from gptme_trio.tools.page import InteractivePage

if TYPE_CHECKING:  # imported by the first read, not at chat's start-up (lxml and the fetch pipeline: ~20 ms)
    from gptme_trio.fetch.batch import Record
    from gptme_trio.fetch.engines.browser import BrowserEngine

READ_BUDGET = 20_000  # characters of page text handed to the model per call
READ_LINKS = 50  # read_url: at most this many links of the main content listed after its text
READ_LINK_TEXT = 80  # each link's text cut to this many characters
FETCH_FORMATS = ("markdown", "text", "html", "json")  # fetch's text formats (png: the screenshot tool)


class WebTools:
    def __init__(
        self,
        browser: BrowserService,
        policy: UrlPolicy,
        save_dir: Path,
        budget: int = READ_BUDGET,
        proxy: str | None = None,
    ) -> None:
        self._browser = browser
        self._policy = policy
        self._proxy = proxy  # the policy proxy model-opened pages connect through (gptme_trio.core.proxy)
        self._budget = budget
        self.save_dir = save_dir  # screenshots go here (the conversation's directory)
        self._engines: dict[tuple[Capture, bool], BrowserEngine] = {}
        self._last_console: tuple[str, list[dict[str, str]]] | None = None
        self.page = InteractivePage(browser, policy, self.checked_options(), self._truncate)

    def tools(self) -> list[Tool]:
        start, starts, check = self._browser.start, lambda: self._browser.starts, self.check_url
        return [
            tool(self.read_url, self._start_reading, starts, check=check),
            tool(self.screenshot, start, starts, check=check),
            tool(self.snapshot, start, starts, check=check),
            tool(self.read_logs),
            *self.page.tools(),
        ]

    def fetch_tools(self) -> list[Tool]:
        """`fetch`: one URL with `gptme-trio fetch`'s options (served by `gptme-trio mcp`; chat has read_url)."""
        return [tool(self.fetch, self._start_reading, lambda: self._browser.starts)]

    async def _start_reading(self) -> None:
        """Start the browser (outside the call's deadline) and, while its driver boots in other
        processes, load the extraction libraries and the classifier's model that the first read
        would otherwise load inside its deadline (~0.25 s), as `gptme-trio fetch` does (fetch/plan.py)."""
        from gptme_trio.fetch import extract

        async with trio.open_nursery() as nursery:
            await nursery.start(self._browser.start)
            extract.load_libraries(model=True)

    async def check_url(self, url: str) -> None:
        """Refused unless the model may open `url`: asked before the user confirms a call."""
        await self._policy.check(url)

    async def request_filter(self, url: str) -> str | None:
        """For the browser: None lets a request of a model-opened page through, else why not."""
        scheme = url.partition(":")[0].lower()
        if scheme in ("data", "blob", "about"):
            return None  # nothing leaves the browser
        if scheme in ("ws", "wss"):
            url = "http" + url[2:]
        try:
            await self._policy.check(url)
        except Refused as exc:
            return exc.refusal.reason
        return None

    def checked_options(self, block_media: bool = False, *, report_refusals: bool = True) -> PageOptions:
        """A model-opened page: every connection through the proxy; every request through the filter too,
        unless the page is only read (`report_refusals`: see PageOptions)."""
        return PageOptions(
            block_media=block_media,
            request_filter=self.request_filter,
            local_network=bool(self._policy.allow_hosts),  # see PageOptions
            proxy=self._proxy,
            report_refusals=report_refusals,
        )

    def _engine(self, capture: Capture, *, checked: bool) -> BrowserEngine:
        """One engine (with its reused tabs) per capture kind and policy."""
        key = (capture, checked)
        if key not in self._engines:
            block = capture != "png"
            # Read, not used: nobody is told what its requests were refused.
            options = self.checked_options(block, report_refusals=False) if checked else PageOptions(block_media=block)
            from gptme_trio.fetch.engines.browser import BrowserEngine

            self._engines[key] = BrowserEngine(self._browser, options, RenderOptions(capture=capture))
        return self._engines[key]

    async def snapshot(self, url: str) -> str:
        """Open a web page and return its accessibility tree (roles, names, text) as YAML.

        Args:
        url: the http(s) URL of the page
        """
        record = await self._open(Target(url, url), self._engine("aria", checked=True), "markdown", check_policy=True)
        return self._truncate(record.payload.decode() if isinstance(record.payload, bytes) else "")

    async def read_logs(self) -> str:
        """Return the console messages and page errors of the last page opened by a tool."""
        if self._last_console is None:
            return "no page has been opened yet"
        url, messages = self._last_console
        if not messages:
            return f"no console messages or page errors on {url}"
        return f"console of {url}:\n" + "\n".join(f"[{m['type']}] {m['text']}" for m in messages)

    async def _open(
        self,
        target: Target,
        engine: BrowserEngine,
        fmt: Format,
        *,
        check_policy: bool,
        options: FetchOptions | None = None,
    ) -> Record:
        """Fetch `target` through the policy (before and after redirects); remember its console."""
        from gptme_trio.fetch.batch import fetch_one

        if check_policy:
            await self._policy.check(target.url)
        options = options or FetchOptions(format=fmt)
        record = await fetch_one(target, engine, replace(options, seconds_per_url=math.inf))  # the caller's deadline
        self._last_console = (target.url, record.console)
        if record.error:
            raise ToolError(f"{record.error}: {target.url}")
        if check_policy and record.final_url and record.final_url != target.url:
            await self._policy.check(record.final_url)
        return record

    def _truncate(self, content: str) -> str:
        if len(content) <= self._budget:
            return content
        cut = content[: self._budget]
        return cut + f"\n\n[truncated: showing {len(cut):,} of {len(content):,} characters]"

    async def read_url(self, url: str) -> str:
        """Read a web page and return its main content as Markdown.

        Args:
        url: the http(s) URL of the page
        """
        return await self.read(Target(url, url), check_policy=True)

    async def screenshot(self, url: str, report: Report) -> str:
        """Take a PNG screenshot of a web page; returns the file's path, and the image when you can see images.

        Args:
        url: the http(s) URL of the page
        """
        return await self.capture(Target(url, url), check_policy=True, report=report)

    async def capture(self, target: Target, *, check_policy: bool, report: Report | None = None) -> str:
        """A PNG of `target` saved in `save_dir` (and attached to `report`); URLs the user typed skip the policy."""
        record = await self._open(target, self._engine("png", checked=check_policy), "png", check_policy=check_policy)
        png = record.payload
        if not isinstance(png, bytes):  # a PNG capture is bytes: anything else is a bug, told as one line
            raise ToolError(f"no PNG came back for {target.url}")
        self.save_dir.mkdir(parents=True, exist_ok=True)
        path = self.save_dir / f"screenshot-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.png"
        path.write_bytes(png)
        if report is not None:
            report.attach("image/png", png)
        text = f"saved a {len(png):,}-byte PNG of {record.final_url or target.url} to {path}"
        if len(png) > MAX_IMAGE:
            return f"{text} (too large to show the model: at most {MAX_IMAGE // 1024 // 1024} MB)"
        return Attached(text, (Image(path, "image/png"),))

    async def read(self, target: Target, *, check_policy: bool) -> str:
        """Main content of `target`; URLs the user typed skip the policy (check_policy=False)."""
        engine = self._engine("html", checked=check_policy)
        options = FetchOptions(format="markdown", links=True)
        record = await self._open(target, engine, "markdown", check_policy=check_policy, options=options)
        title = (record.meta.title if record.meta else None) or record.title
        from gptme_trio.fetch.metadata import with_title

        content = with_title(record.content or "", title)  # the page's own heading, or the title once
        return f"(from {record.final_url or target.url})\n\n" + self._truncate(content) + _link_list(record)

    async def fetch(
        self,
        url: str,
        format: str = "markdown",
        selector: str = "",
        wait_for: str = "",
        wait_until: str = "load",
        js: str = "",
        full: bool = False,
    ) -> str:
        """Fetch a web page as `gptme-trio fetch` does, with its options; by default its main content as Markdown.

        Args:
        url: the http(s) URL of the page
        format: markdown (the default), text, html (the rendered DOM) or json (the record `fetch -f json` writes)
        selector: a CSS selector: only the first element matching it
        wait_for: a CSS selector to wait for after the page loads
        wait_until: commit, domcontentloaded, load (the default) or networkidle
        js: JavaScript run after load; its result is in the json format's js field, or after the content
        full: the whole page, navigation included, not just the main content
        """
        if format not in FETCH_FORMATS:
            raise ToolError(f"fetch: format must be one of {', '.join(FETCH_FORMATS)}, not {format!r}")
        if wait_until not in WAIT_UNTIL:
            raise ToolError(f"fetch: wait_until must be one of {', '.join(WAIT_UNTIL)}, not {wait_until!r}")
        render = RenderOptions(wait_until=wait_until, wait_for=wait_for or None, js=js or None)
        engine = self._engine("html", checked=True).rendering(render)
        fmt = cast(Format, format)
        options = FetchOptions(format=fmt, main_content=not full, selector=selector or None)
        record = await self._open(Target(url, url), engine, fmt, check_policy=True, options=options)
        if fmt == "json":
            return json.dumps(record.as_json(), ensure_ascii=False)
        text = record.payload if isinstance(record.payload, str) else record.content or ""
        return text + (f"\n\n[js result: {json.dumps(record.js, ensure_ascii=False)}]" if js else "")


def _link_list(record: Record) -> str:
    """The http(s) links in the main content, numbered, at most READ_LINKS: what the model can open next."""
    found = [link for link in record.links or () if link.main and link.url.startswith(("http://", "https://"))]
    if not found:
        return ""
    lines = []
    for n, link in enumerate(found[:READ_LINKS], 1):
        text = link.text if len(link.text) <= READ_LINK_TEXT else link.text[: READ_LINK_TEXT - 1] + "…"
        lines.append(f"{n}. {text or '(no text)'}: {link.url}")
    more = f"\n(and {len(found) - READ_LINKS} more)" if len(found) > READ_LINKS else ""
    return "\n\nLinks in the main content:\n" + "\n".join(lines) + more + "\n"
