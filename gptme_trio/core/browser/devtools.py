"""A tab's own DevTools (CDP) session, for what Playwright's page API does slower or not at all.

    cdp = await open_session(context, raw_page)
    html = await evaluate(cdp, scripts.DOCUMENT, options)     # by value; raises Playwright's Error
    await block_urls(cdp, patterns)                          # media blocking, in the browser
    stopped, answered, value = await stop_and_ping(cdp)      # a cancelled use's reset

Asyncio-flavoured: Page (page.py) runs these on the loop through its `_call`, which maps failures.

`evaluate` runs our scripts by `Runtime.evaluate` in the page's main world and returns their value as
JSON. Playwright's `Page.evaluate` first installs its utility script (for its argument and result
serialisation) in every new document: its first call after each navigation costs ~5 ms more. A read
settles the page and serialises it (scripts.SETTLE, scripts.DOCUMENT; now one script, SETTLED_DOCUMENT):
in `gptme-trio mcp`, settle + document took 27 -> 15 ms in a first read and 12 -> 10 ms in a warm one
(as two scripts; bench/results/mcp_phases.md, with SETTLE's no-frame wait for a static page).
A script's exception and CDP's refusals are raised as Playwright's Error, with Playwright's words
where it has some, so they meet the same mapping as a Page.evaluate failure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from playwright._impl._errors import Error as PlaywrightError  # playwright.async_api.Error, without its import


async def open_session(context: Any, raw: Any) -> Any:
    """A new CDP session attached to the tab `raw` (Playwright's CDPSession)."""
    return await context.new_cdp_session(raw)


async def evaluate(cdp: Any, script: str, arg: Any) -> Any:
    """`script` (a function's source) called with `arg` (JSON), its promise awaited: its value."""
    reply = await cdp.send(
        "Runtime.evaluate",
        {"expression": f"({script})({json.dumps(arg)})", "awaitPromise": True, "returnByValue": True},
    )
    if (details := reply.get("exceptionDetails")) is not None:
        raise PlaywrightError(_thrown(details))
    return reply.get("result", {}).get("value")


def _thrown(details: dict[str, Any]) -> str:
    """What a script threw, as Page.evaluate words it: its description's first line (an Error), its
    value (anything else), or CDP's text."""
    exception = details.get("exception") or {}
    if description := exception.get("description"):
        return str(description).splitlines()[0]
    if "value" in exception:
        return f"{details.get('text') or 'Uncaught'} {json.dumps(exception['value'])}"
    return str(details.get("text") or "the script failed")


async def block_urls(cdp: Any, patterns: Sequence[str]) -> None:
    """Chromium refuses requests for URLs matching `patterns` (wildcards), with no round trip each."""
    await cdp.send("Network.enable")
    await cdp.send("Network.setBlockedURLs", {"urls": list(patterns)})


async def stop_and_ping(cdp: Any) -> tuple[float, float, Any]:
    """Stop what the tab loads and have its renderer answer a script, in one round trip (run in order):
    the seconds until stopped and until answered, and the answer (1)."""
    started = time.perf_counter()

    async def stop() -> float:
        await cdp.send("Page.stopLoading")
        return time.perf_counter() - started

    ping = cdp.send("Runtime.evaluate", {"expression": "1", "returnByValue": True})
    stopped, answer = await asyncio.gather(stop(), ping)  # both sent at once
    return stopped, time.perf_counter() - started, answer.get("result", {}).get("value")
