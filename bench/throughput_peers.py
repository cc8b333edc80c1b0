"""Figure 2's peers for bench.throughput_bench: the scripts each peer runs, and the section they fill.

crawl4ai: `arun_many` over all the URLs; gptme: `read_url` one URL after another, over the first
--gptme-pages of them (it reads about one page a second: all 100 in each of 6 runs would take 10 minutes).
Each prints one marker line per page it got, then a JSON line with its wall time after start-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from bench.harness import CHROMIUM, PASS, med

C4AI = """
import asyncio, json, sys, time
from crawl4ai import AsyncWebCrawler, BrowserConfig, CrawlerRunConfig, CacheMode
from playwright.async_api import BrowserType
launch = BrowserType.launch  # crawl4ai has no executable-path setting: inject the bench's Chromium here
async def launch_chromium(self, **kw):
    return await launch(self, **{**kw, "executable_path": CHROMIUM_PATH})
BrowserType.launch = launch_chromium
urls = open(sys.argv[1]).read().split()
async def main():
    cfg = BrowserConfig(headless=True, verbose=False, extra_args=["--no-sandbox"])
    async with AsyncWebCrawler(config=cfg) as crawler:
        run = CrawlerRunConfig(cache_mode=CacheMode.BYPASS, verbose=False)
        start = time.perf_counter()
        results = await crawler.arun_many(urls, config=run)
        wall = time.perf_counter() - start
    ok = [r for r in results if r.success and "-done" in (r.markdown or "")]
    print("\\n".join(f"page-{r.url.rsplit('=', 1)[1]}-done" for r in ok))
    print(json.dumps({"inner_wall": wall, "ok": len(ok)}))
asyncio.run(main())
"""
GPTME = """
import json, sys, time
from gptme.tools.browser import read_url
urls = open(sys.argv[1]).read().split()
start, ok = time.perf_counter(), 0
for url in urls:
    text = read_url(url)
    if "-done" in text:
        ok += 1
        print(f"page-{url.rsplit('=', 1)[1]}-done")
print(json.dumps({"inner_wall": time.perf_counter() - start, "ok": ok}))
"""
C4AI = C4AI.replace("CHROMIUM_PATH", repr(CHROMIUM))
PEERS = {  # name -> (label, script, target ratio ours / theirs)
    "crawl4ai": ("crawl4ai `arun_many`", C4AI, 2.0),
    "gptme": ("gptme `read_url`, one after another", GPTME, 5.0),
}


def inner_wall(out: str) -> float:
    return json.loads(out.strip().splitlines()[-1])["inner_wall"]


def section(
    res: dict[str, list[dict[str, Any]]],
    j4: list[float],
    versions: dict[str, str],
    notes: list[str],
    args: argparse.Namespace,
) -> tuple[str, dict[str, float]]:
    """res: peer -> its measured runs (wall, peak, cpu, hits, out, pages, round); j4: our -j 4 pages/s per round.
    The section and the ratio of medians ours / peer for each peer that ran."""
    rows, ratios = [], {}
    for peer, (label, _, target) in PEERS.items():
        runs = res.get(peer) or []
        if not runs:
            rows.append(f"| {label} | not run, see below | | | | | ≥ {target:.0f}× | info |")
            continue
        n = runs[0]["pages"]
        rate = [n / r["wall"] for r in runs]
        inner = [n / inner_wall(r["out"]) for r in runs]
        ours = [j4[r["round"]] for r in runs]  # our -j 4 run of the same round
        ratio = ratios[peer] = statistics.median(ours) / statistics.median(rate)
        per_round = [a / b for a, b in zip(ours, rate, strict=True)]
        conservative = statistics.median(ours) / statistics.median(inner)
        rows.append(
            f"| {label} {versions.get(peer, '')} | {n} | {med(rate)} ({len(runs)} runs; {statistics.median(inner):.2f}"
            f" without start-up) | {med([r['peak'] / 2**20 for r in runs], fmt='{:.0f}')} | "
            f"{statistics.median(r['cpu'] / n * 1000 for r in runs):.0f} | "
            f"{runs[0]['hits'].get('/style.css', 0)} / {runs[0]['hits'].get('/image.png', 0)} | ≥ {target:.0f}× | "
            f"**{ratio:.2f}×** ({min(per_round):.2f}–{max(per_round):.2f}) {PASS[ratio >= target]}; "
            f"vs its rate without start-up {conservative:.2f}× |"
        )
    return (
        f"""## 2. Peers, in the same rounds as ours

Each round runs, one after another: ours -j 4, crawl4ai, ours -j 1, gptme, ours -j 8, ours -j 4 --no-block
(A/B/A/B: every peer run sits between two of ours). 1 warm-up run of each tool (on 10 URLs; gptme on 3), then
{args.runs} measured rounds. Each peer runs in its own bench-only virtualenv (bench.peers: pinned versions
from PyPI) as one subprocess (whole process tree measured as above; pages/s includes Python and browser
start-up, like ours), with that venv's bin/ first on PATH, both on the same Chromium (bench.harness.CHROMIUM). crawl4ai:
`AsyncWebCrawler(BrowserConfig(headless=True, extra_args=["--no-sandbox"]))`, `arun_many(urls,
CrawlerRunConfig(cache_mode=BYPASS))` (its default dispatcher) over all {args.pages} URLs; it has no executable-path
setting, so the script wraps Playwright's `BrowserType.launch` to add `executable_path`. gptme:
`gptme.tools.browser.read_url(url)` per URL with GPTME_BROWSER_EXECUTABLE_PATH=CHROMIUM, over a fixed
subset: **the first {args.gptme_pages} URLs** (/page?n=1..{args.gptme_pages}) in every run, because it reads about one
page a second (all {args.pages} in 6 runs would take 10 minutes); pages/s compares rates, and the start-up it pays
once is spread over fewer pages, so the last column also divides by its rate without start-up (the harder
comparison for us). `pip install gptme` alone fails here ("No browser backend available": playwright is not
a dependency; then "Pandoc is not installed"), so its venv also needs `pip install playwright pypandoc-binary`
and pypandoc's `pandoc` linked into its bin/. Ratio = median of our -j 4 pages/s over the rounds the peer ran
in / the peer's median pages/s (ratio of medians), with the min–max of the per-round ratios.

| Peer | URLs per run | pages/s median (min–max) | peak MiB median (min–max) | tree CPU ms/page | requests CSS / images | target (ours / peer) | ratio of medians (min–max per round), result |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{chr(10).join(notes)}
""",
        ratios,
    )
