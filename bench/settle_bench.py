"""Settling (issue 13: 1): one-shot `fetch` of a static page with the default settle vs `--settle 0`, whole process.

Run from the repo root (talks only to 127.0.0.1; about a minute):

    python -m bench.settle_bench     # optional: --runs N (default 9, >= 5)

As bench.oneshot_peers_bench (figure 1): 1 warm-up round, then --runs rounds; in every round the commands run one
after another, alternating their order, each a fresh process timed from start to exit. A and Z fetch the static
article /normal; T fetches /reading/timer (text written 450 ms after load), to show what settling costs when a
page does work after load (info). Writes bench/results/settle.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import trio

from bench.harness import CHROMIUM, PASS, Site, alternate, default_out, header, housekeeping, med, write
from gptme_trio.core.browser import BrowserSpec, PageOptions, open_browser

TARGET = 1.10  # the default settle costs at most 10% more than --settle 0 on a static page


def bench(site: Site, runs: int) -> str:
    py, normal, timer = sys.executable, site.base + "/normal", site.base + "/reading/timer"
    fetch = [py, "-m", "gptme_trio", "fetch", "-f", "json"]
    variants = {  # label -> (command, text its stdout must contain)
        "A: `fetch URL` (default settle, cap 3 s)": ([*fetch, normal], "Normal page"),
        "Z: `fetch --settle 0 URL`": ([*fetch, "--settle", "0", normal], "Normal page"),
        "T: `fetch URL` on /reading/timer (info)": ([*fetch, timer], "four hundred"),
    }
    inside: dict[str, list[float]] = {name: [] for name in variants}  # the record's elapsed_ms, seconds

    def one(name: str) -> float:
        wall, out = site.run(*variants[name], timeout=60)
        inside[name].append(json.loads(out)["elapsed_ms"] / 1000)
        return wall

    times = alternate(list(variants), runs, one, reverse=True)
    inside = {name: values[-runs:] for name, values in inside.items()}  # without the warm-up
    a, z, t = (statistics.median(v) for v in times.values())
    ua, uz, ut = (statistics.median(v) for v in inside.values())
    rows = "\n".join(
        f"| {name} | {med(v, 1, '{:.3f}')} | {med(inside[name], 1000, '{:.0f}')} | — | info |"
        for name, v in times.items()
    )
    quick = " (fewer than 5: a quick try, not a result)" if runs < 5 else ""
    return f"""## Settle: one-shot fetch of a static page, default settle vs `--settle 0`

1 warm-up + {runs} runs{quick} of each command, their order alternating between rounds; wall time from start
to exit of each process (`python -m gptme_trio fetch -f json`), and the URL's own time inside it (the record's
`elapsed_ms`: tab, goto, settle, HTML, extraction; less noisy than the whole process). A and Z fetch /normal of
tests/support/pages.py, a static article: nothing is pending after load and its DOM has not changed since
DOMContentLoaded, so settling ends after one frame. T is a page whose script writes text 450 ms after load:
what settling costs when there is something to wait for (its text is then 100 ms quiet after the change).

| Command | whole process, median s (min–max) | URL inside it, median ms (min–max) | target | result |
|---|---|---|---|---|
{rows}
| **ratio of medians A / Z** (default settle / `--settle 0`, whole process) | **{a / z:.3f}×** | {ua / uz:.3f}× | ≤ {TARGET:.2f}× | {PASS[a / z <= TARGET]} |
| T − Z (a page with text 450 ms after load) | {t - z:+.3f} s | {(ut - uz) * 1000:+.0f} ms | — | info |
"""


async def in_process(base: str, rounds: int) -> dict[str, list[float]]:
    """Seconds of goto + document, without and with settle(3), alternating, in one reused tab."""
    times: dict[str, list[float]] = {"without": [], "with": [], "settle": []}
    async with open_browser(BrowserSpec(executable=CHROMIUM)) as browser:
        tabs = browser.tabs(PageOptions(block_media=True))
        for i in range(rounds + 2):  # 2 warm-up rounds
            for settle in (False, True) if i % 2 else (True, False):
                async with tabs.page() as page:
                    started = time.perf_counter()
                    await page.goto(base + "/normal")
                    settled = time.perf_counter()
                    if settle:
                        await page.settle(3.0)
                    middle = time.perf_counter()
                    await page.document()
                    took = time.perf_counter() - started
                if i >= 2:
                    times["with" if settle else "without"].append(took)
                    if settle:
                        times["settle"].append(middle - settled)
    return times


def in_process_section(times: dict[str, list[float]]) -> str:
    w, wo = statistics.median(times["with"]), statistics.median(times["without"])
    return f"""## The same in one process: goto + settle + document vs goto + document

{len(times["with"])} rounds (after 2 warm-up), alternating, in one reused tab of one browser (`Page.goto`,
`Page.settle(3)`, `Page.document()` on /normal): the part of a URL that settling adds to, without process
start-up or extraction, so less exposed to other load on the machine.

| | median ms (min–max) |
|---|---|
| goto + document | {med(times["without"], 1000, "{:.1f}")} |
| goto + settle + document | {med(times["with"], 1000, "{:.1f}")} |
| settle alone (one frame, then quiet at once) | {med(times["settle"], 1000, "{:.1f}")} |
| ratio of medians with / without | {w / wo:.3f}× (+{(w - wo) * 1000:.1f} ms) |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command (>= 5)")
    parser.add_argument("--out", default=default_out("settle.md"))
    args = parser.parse_args()
    if args.runs < 5:
        print(f"note: --runs {args.runs} < 5 is a quick try, not a result", file=sys.stderr)
    started = time.perf_counter()
    sections = [header("Settle: default vs --settle 0")]
    with tempfile.TemporaryDirectory(prefix="settle-bench-") as tmp:
        site = Site(tmp)
        try:
            sections.append(bench(site, args.runs) + "\n" + site.noise.line() + "\n")
            print(sections[-1], flush=True)
            mark = site.noise.mark()
            with site.noise.measure():
                times = trio.run(in_process, site.base, 3 * args.runs)
            sections.append(in_process_section(times) + "\n" + site.noise.line(mark) + "\n")
            print(sections[-1], flush=True)
        finally:
            site.close()
        left = site.wait_gone()
    sections.append(housekeeping(started, left))
    write(args.out, sections)


if __name__ == "__main__":
    main()
