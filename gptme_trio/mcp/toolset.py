"""The tools an MCP server offers: chat's own Tool objects, on services opened for the server's life.

    async with open_tools(plan) as tools:   # {name: Tool}, the names plan.tools chose
        ...

Everything is opened as chat opens it (chat/session.py): the URL policy and its proxy, the
browser (Chromium started on the first call that needs it, shared by every call; Playwright's
driver at once when a tool needs the browser), an HTTP client for search. Read results are not
cut by the tools (the server pages them); screenshots are saved in a temporary directory that
lives as long as the server.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from gptme_trio.core.browser import open_browser
from gptme_trio.core.network import api_client
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.fetch import extract
from gptme_trio.mcp.plan import McpPlan
from gptme_trio.tools import Tool
from gptme_trio.tools.background import open_background
from gptme_trio.tools.files import FileTools
from gptme_trio.tools.paths import Workspace
from gptme_trio.tools.search import WebSearch
from gptme_trio.tools.shell import Shell, ShellSettings
from gptme_trio.tools.web import WebTools

UNCUT = sys.maxsize  # the tools' own budget: the server returns results in pages instead


@asynccontextmanager
async def open_tools(plan: McpPlan) -> AsyncIterator[dict[str, Tool]]:
    policy = UrlPolicy(plan.allow_hosts)
    remote = plan.browser.ws_endpoint or plan.browser.cdp_endpoint
    with tempfile.TemporaryDirectory(prefix="gptme-trio-mcp-") as shots:
        async with (
            api_client() as client,
            open_background() as background,  # `shell` with background: true; every job ends with the server
            open_policy_proxy(policy) as proxy_url,  # outlives the browser: its pages connect through it
            open_browser(plan.browser) as browser,
        ):
            web = WebTools(browser, policy, Path(shots), budget=UNCUT, proxy=None if remote else proxy_url)
            every = [*web.tools(), *web.fetch_tools(), *WebSearch(client, plan.search_engine, plan.search_url).tools()]
            if any(name in plan.tools for name in ("shell", "read_file", "save_file", "append_file", "patch_file")):
                workspace = Workspace(plan.workdir, plan.allow_paths)
                every += Shell(workspace.root, os.environ, background, ShellSettings()).tools()
                every += FileTools(workspace).tools()
            by_name = {t.name: t for t in every}
            tools = {name: by_name[name] for name in plan.tools}
            if any(t.prepare is not None for t in tools.values()):  # a tool that needs the browser
                await browser.start_driver()  # it boots in its own process while this goes on
            if "read_url" in tools or "fetch" in tools:
                # The extraction libraries and the classifier's model (~0.25 s of CPU, the loop blocked),
                # while the driver boots: before the client is met, not inside the first read.
                extract.load_libraries(model=True)
            yield tools
