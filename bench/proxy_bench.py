"""The URL policy in a real Chromium: request guard alone vs guard + policy proxy; writes bench/results/policy_browser.md.

    python -m bench.proxy_bench [--rounds N (15)] [--out PATH]

Talks only to 127.0.0.1 (tests/support/pages.py in a subprocess). Two parts:
1. Attempts that only a connection-level check sees, each run with chat's WebTools built twice: the request
   guard alone (what chat had before the proxy) and the guard + the policy proxy (what chat runs now).
   "reached" means the server on 127.0.0.1 logged the request the policy should have refused; each attempt
   has a control row with the host allowed, which must reach it (so "not reached" is not a broken probe).
   DNS rebinding is simulated with two views of one attacker's DNS: the answer our checks get (public) and
   the answer the connecting side gets (127.0.0.1). For the guard alone the connecting side is Chromium's own
   resolver, given that answer by a wrapper that adds `--host-resolver-rules=MAP rebind.test 127.0.0.1`;
   for the proxy it is the proxy's lookup. The public answer is only ever checked, never connected to.
2. What the proxy costs: read_url (the article) and open_page (a page with CSS and two images), guard alone
   vs guard + proxy, alternating, --rounds measured rounds after one warm-up: median ms per call and ratio.
Exits 1 if an attempt is reached through the proxy or a control row is not reached.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import trio

from bench.harness import CHROMIUM, Site, default_out, header, rounds, write
from gptme_trio.core.browser import BrowserService, BrowserSpec, open_browser
from gptme_trio.core.errors import GptmeTrioError
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.tools.web import WebTools
from tests.support.policy_cases import FakeDNS

PUBLIC = "93.184.215.14"  # the rebinding name's answer to our checks: checked, never connected to


def hits(site: Site, path: str) -> int:
    """How many requests tests/support/pages.py has served for `path`."""
    with urllib.request.urlopen(site.base + "/hits") as response:
        return json.load(response).get(path, 0)


def attempts(site: Site) -> list[tuple[str, str, str, str]]:
    """(attempt, tool, URL the model opens, path whose hits mean "reached")."""
    rows, port = [], site.base.rsplit(":", 1)[1]
    target = f"/lure-target-{uuid.uuid4().hex}"
    hop = f"{site.base}/redirect-to?url=" + quote(f"http://localhost:{port}{target}", safe="")
    rows.append(
        (
            "an image and a fetch() whose first URL is allowed, redirecting to localhost",
            "read_url",
            f"{site.base}/lure?to=" + quote(hop),
            target,
        )
    )
    socket_url = f"ws://localhost:{port}/hostile/ws"
    rows.append(
        (
            "a WebSocket to ws://localhost (a page on an allowed host opens it)",
            "open_page",
            f"{site.base}/hostile/ws-page?to=" + quote(socket_url, safe=""),
            "/hostile/ws",
        )
    )
    target = f"/lure-target-{uuid.uuid4().hex}"
    rows.append(
        (
            "DNS rebinding: an image on rebind.test, public when checked, 127.0.0.1 when connected",
            "read_url",
            f"{site.base}/lure?to=" + quote(f"http://rebind.test:{port}{target}"),
            target,
        )
    )
    return rows


async def attempt(
    browser: BrowserService, site: Site, tool: str, url: str, path: str, *, proxied: bool, allow: bool
) -> bool:
    """Whether the request reached the server."""
    extra = ["localhost", "rebind.test"] if allow else []
    check_policy = UrlPolicy(["127.0.0.1", *extra], FakeDNS({"rebind.test": [PUBLIC]}))
    connect_policy = UrlPolicy(["127.0.0.1", *extra], FakeDNS({"rebind.test": ["127.0.0.1"]}))
    before = hits(site, path)
    async with open_policy_proxy(connect_policy) as proxy:
        with tempfile.TemporaryDirectory() as tmp:
            web = WebTools(browser, check_policy, Path(tmp), proxy=proxy if proxied else None)
            with contextlib.suppress(GptmeTrioError):  # a refusal of the page itself is fine: the hits decide
                await (web.read_url(url) if tool == "read_url" else web.page.open_page(url))
            await trio.sleep(1.0)  # images, fetch() and the socket go out after the load
            await web.page.close_page()
    return hits(site, path) > before


async def cost(browser: BrowserService, site: Site, runs: int) -> list[tuple[str, float, float]]:
    """(call, median ms guard alone, median ms guard + proxy)."""
    policy = UrlPolicy(["127.0.0.1"])
    calls = [
        ("read_url: the article", "read_url", "/normal"),
        ("open_page: CSS and two images", "open_page", "/images"),
    ]
    times: dict[tuple[str, bool], list[float]] = {}
    async with open_policy_proxy(policy) as proxy:
        with tempfile.TemporaryDirectory() as tmp:
            tools = {
                False: WebTools(browser, policy, Path(tmp)),
                True: WebTools(browser, policy, Path(tmp), proxy=proxy),
            }
            for round_, order in rounds(["proxy", "alone"], runs, reverse=True):
                for proxied in (name == "proxy" for name in order):
                    web = tools[proxied]
                    for name, tool, path in calls:
                        started = time.perf_counter()
                        if tool == "read_url":
                            await web.read_url(site.base + path)
                        else:
                            await web.page.open_page(site.base + path)
                        if round_:  # round 0 warms up both
                            times.setdefault((name, proxied), []).append((time.perf_counter() - started) * 1000)
            for web in tools.values():
                await web.page.close_page()
    return [(name, statistics.median(times[name, False]), statistics.median(times[name, True])) for name, *_ in calls]


async def run(args: argparse.Namespace, site: Site, executable: str) -> tuple[list[str], bool]:
    lines, ok = [], True
    async with open_browser(BrowserSpec(executable=executable)) as browser:
        lines += [
            "## Attempts only a connection-level check sees",
            "",
            "| attempt | tool | guard alone | guard + proxy | control (host allowed), guard + proxy |",
            "|---|---|---|---|---|",
        ]
        for what, tool, url, path in attempts(site):
            alone = await attempt(browser, site, tool, url, path, proxied=False, allow=False)
            proxied = await attempt(browser, site, tool, url, path, proxied=True, allow=False)
            control = await attempt(browser, site, tool, url, path, proxied=True, allow=True)
            ok = ok and not proxied and control
            word = {True: "**reached**", False: "refused"}
            lines.append(
                f"| {what} | {tool} | {word[alone]} | {word[proxied]} | {'reached' if control else '**NOT reached**'} |"
            )
        lines += [
            "",
            f"## What the proxy costs ({args.rounds} rounds, alternating, after one warm-up)",
            "",
            "| call | guard alone, median ms | guard + proxy, median ms | ratio |",
            "|---|---|---|---|",
        ]
        for name, alone_ms, proxied_ms in await cost(browser, site, args.rounds):
            lines.append(f"| {name} | {alone_ms:.1f} | {proxied_ms:.1f} | {proxied_ms / alone_ms:.2f}x |")
    return lines, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=default_out("policy_browser.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="proxy-bench-") as tmp:
        site = Site(tmp)
        wrapper = Path(tmp) / "chromium"  # the attacker's second DNS answer, for Chromium's own lookups
        wrapper.write_text(f'#!/bin/sh\nexec {CHROMIUM} "--host-resolver-rules=MAP rebind.test 127.0.0.1" "$@"\n')
        wrapper.chmod(0o755)
        try:
            lines, ok = trio.run(run, args, site, str(wrapper))
        finally:
            site.close()
        left = site.wait_gone()
    text = header("URL policy in the browser: request guard alone vs guard + policy proxy", {})
    text += "\n" + (__doc__ or "").split("\n\n", 2)[2].strip() + "\n\n" + "\n".join(lines)
    ok = ok and not left
    text += f"\n\nTotal: {time.perf_counter() - started:.0f} s. Processes left running: {len(left)} {left}."
    text += f" Verdict: **{'PASS' if ok else 'FAIL'}**\n"
    write(args.out, [text])
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
