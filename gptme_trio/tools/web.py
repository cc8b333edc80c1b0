"""Web tools for the model, on the shared browser service.

Navigation failures come back as errors with their reason ("connection refused:
http://…"), never as Chrome's error page. Every URL the model chooses passes the
URL policy first, and again after redirects.
"""

from __future__ import annotations

import math
import secrets
import time
from pathlib import Path

from ..browser import BrowserService, PageOptions
from ..engines import RenderOptions
from ..engines.browser import BrowserEngine
from ..fetch import FetchOptions, fetch_one
from ..policy import UrlPolicy
from ..targets import Target
from . import Tool, ToolError, tool

READ_BUDGET = 20_000  # characters of page text handed to the model per call


class WebTools:
    def __init__(self, browser: BrowserService, policy: UrlPolicy, save_dir: Path, budget: int = READ_BUDGET) -> None:
        self._browser = browser
        self._policy = policy
        self._budget = budget
        self.save_dir = save_dir  # screenshots go here (the conversation's directory)
        self._engine = BrowserEngine(browser, PageOptions(block_media=True), RenderOptions())
        self._camera = BrowserEngine(browser, PageOptions(), RenderOptions(capture="png"))

    def tools(self) -> list[Tool]:
        return [tool(self.read_url), tool(self.screenshot)]

    async def read_url(self, url: str) -> str:
        """Read a web page and return its main content as Markdown.

        Args:
        url: the http(s) URL of the page
        """
        return await self.read(Target(url, url), check_policy=True)

    async def screenshot(self, url: str) -> str:
        """Take a PNG screenshot of a web page; returns the file's path.

        Args:
        url: the http(s) URL of the page
        """
        return await self.capture(Target(url, url), check_policy=True)

    async def capture(self, target: Target, *, check_policy: bool) -> str:
        if check_policy:
            await self._policy.check(target.url)
        options = FetchOptions(format="png", seconds_per_url=math.inf)
        record = await fetch_one(target, self._camera, options)
        if record.error:
            raise ToolError(f"{record.error}: {target.url}")
        if check_policy and record.final_url and record.final_url != target.url:
            await self._policy.check(record.final_url)
        self.save_dir.mkdir(parents=True, exist_ok=True)
        path = self.save_dir / f"screenshot-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.png"
        path.write_bytes(record.payload)
        return f"saved a {len(record.payload):,}-byte PNG of {record.final_url or target.url} to {path}"

    async def read(self, target: Target, *, check_policy: bool) -> str:
        """Main content of `target`; URLs the user typed skip the policy (check_policy=False)."""
        url = target.url
        if check_policy:
            await self._policy.check(url)
        # The caller's deadline (the tool timeout) bounds the whole call.
        record = await fetch_one(target, self._engine, FetchOptions(seconds_per_url=math.inf))
        if record.error:
            raise ToolError(f"{record.error}: {url}")
        if check_policy and record.final_url and record.final_url != url:
            await self._policy.check(record.final_url)
        content = record.content or ""
        header = f"# {record.title}\n(from {record.final_url or url})\n\n" if record.title else ""
        if len(content) > self._budget:
            cut = content[: self._budget]
            note = f"\n\n[truncated: showing {len(cut):,} of {len(content):,} characters]"
            return header + cut + note
        return header + content
