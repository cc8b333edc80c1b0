"""What the URL policy costs a warm read's navigation: the request filter and the policy proxy, each alone,
both (what the page tools run), the proxy with the filter judging goto() alone (what reads run: read_url,
fetch, in chat and `gptme-trio mcp`), and neither (Playwright's goto of the same page), in one run.

Run from the repository root (127.0.0.1 only; ~1 minute):

    python -m bench.nav_cost [--rounds 30]

One browser, one reused tab per variant (tabs.py, as read_url uses them; "before": the request guard fetching
goto()'s document itself, route.fetch + route.fulfill, as it did before it went on unfetched behind the proxy); each round reads /normal?page=N
(the article: one document, no subresources) in every variant, the order reversed every other round: goto,
settle, document, timed apart. Medians (min–max) and the ratio to the bare goto.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import trio

from bench.harness import CHROMIUM, Site, default_out, header, housekeeping, med, rounds, write
from gptme_trio.core.browser import BrowserSpec, PageOptions, open_browser
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.tools.web import WebTools

PHASES = ("goto", "settle", "document", "read")


async def bench(base: str, tmp: str, n: int) -> dict[str, dict[str, list[float]]]:
    policy = UrlPolicy(["127.0.0.1"])
    async with open_policy_proxy(policy) as proxy, open_browser(BrowserSpec(executable=CHROMIUM)) as browser:
        web = WebTools(browser, policy, Path(tmp), proxy=proxy)
        checked = web.checked_options(block_media=True)
        variants = {
            "bare goto, no media blocking": PageOptions(local_network=True),
            "bare goto (no filter, no proxy)": PageOptions(block_media=True, local_network=True),
            "policy proxy alone": PageOptions(block_media=True, local_network=True, proxy=proxy),
            "request filter alone": PageOptions(
                block_media=True, local_network=True, request_filter=web.request_filter
            ),
            "filter + proxy, the filter fetching the document (before)": checked,
            "filter + proxy (the page tools)": checked,
            "proxy, the filter judging goto() only (reads)": web.checked_options(
                block_media=True, report_refusals=False
            ),
        }
        before = next(name for name in variants if name.endswith("(before)"))
        tabs = {name: browser.tabs(options) for name, options in variants.items()}
        found: dict[str, dict[str, list[float]]] = {name: {p: [] for p in PHASES} for name in variants}
        for i, order in rounds(list(variants), n, warmup=2, reverse=True):
            for name in order:
                async with tabs[name].page() as page:
                    if name == before and page._nav.guard is not None:
                        page._nav.guard._proxied = False  # as before: every document fetched by the filter
                    t0 = time.perf_counter()
                    await page.goto(f"{base}/normal?page={i}-{len(name)}")
                    t1 = time.perf_counter()
                    await page.settle(2.0)
                    t2 = time.perf_counter()
                    html = await page.document()
                    t3 = time.perf_counter()
                assert "Normal page" in html, html[:200]
                if i >= 2:
                    for phase, value in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                        found[name][phase].append(value)
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", default=default_out("nav_cost.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    head = header("What the URL policy costs a warm navigation", {"rounds": str(args.rounds)})
    with tempfile.TemporaryDirectory(prefix="nav-cost-") as tmp:
        site = Site(tmp)
        try:
            found = trio.run(bench, site.base, tmp, args.rounds)
        finally:
            site.close()
        left = site.wait_gone()
    bare = statistics.median(next(iter(found.values()))["goto"])
    lines = [
        "| variant | goto, ms | goto / bare | settle, ms | document, ms | goto + settle + document, ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, phases in found.items():
        ratio = statistics.median(phases["goto"]) / bare
        cells = [med(phases[p], 1000, "{:.1f}") for p in PHASES]
        lines.append(f"| {name} | {cells[0]} | {ratio:.2f}× | {cells[1]} | {cells[2]} | {cells[3]} |")
    section = f"""## Warm reads, one tab per variant

{args.rounds} rounds after 2 warm-up rounds, the variants alternating (reversed every other round). Medians (min–max).

{chr(10).join(lines)}
"""
    write(args.out, [head, section, housekeeping(started, left)])


if __name__ == "__main__":
    main()
