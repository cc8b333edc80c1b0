"""Benchmark gptme-trio's fetch against plain asyncio Playwright; writes bench/results/fetch.md.

Run from the repo root (talks only to 127.0.0.1; takes about 2 minutes):

    python -m bench.fetch_bench --out bench/results/fetch.md     # optional: --runs N (default 9)

Against tests/support/pages.py, each part in subprocesses (see `--help` for the other counts):
1. wall time of `python -m gptme_trio fetch URL` vs `python -m bench.bare_playwright` (alternating);
2. cancellation: a Trio deadline around goto(/never), and the next fetch after it;
3. Python CPU per page: the library on trio-asyncio vs plain asyncio Playwright.
At the end it checks that nothing it started (site server, drivers, Chromium) is still running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypedDict

import trio  # importing trio is harmless for plain asyncio; importing trio_asyncio is not (see below)

from bench.bare_playwright import CHROMIUM_ARGS  # checked against the library's in main()
from bench.harness import CHROMIUM, PASS, ROOT, Site, alternate, default_out, header, housekeeping, med, write

if TYPE_CHECKING:  # at run time playwright is imported only by the worker that drives it (_asyncio_pages)
    from playwright.async_api import ViewportSize

CLI_MODULES, BARE_MODULES = "gptme_trio.cli, gptme_trio.fetch.plan", "asyncio, playwright.async_api"


class ContextOptions(TypedDict):
    """The keyword arguments given to Browser.new_context."""

    viewport: ViewportSize
    accept_downloads: bool


CONTEXT: ContextOptions = {"viewport": {"width": 1280, "height": 800}, "accept_downloads": False}  # as the library's


# Workers: each runs in its own subprocess (`--worker NAME URL COUNT`) and prints JSON.
async def _measure(one: Callable[[], Awaitable[object]], count: int, warmup: int) -> dict[str, Any]:
    """Await one() `warmup` times, then `count` times under CPU and wall clocks."""
    for _ in range(warmup):
        await one()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await one()
    return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


async def _trio_worker(name: str, base: str, count: int) -> dict[str, Any]:
    """The library on trio-asyncio: "trio-cpu" (CPU per page) or "cancel" (cancellation trials)."""
    from gptme_trio.core.browser import BrowserSpec, PageOptions, open_browser

    async with open_browser(BrowserSpec(executable=CHROMIUM)) as service:

        async def normal() -> float:
            start = time.perf_counter()
            async with service.page(PageOptions()) as page:  # its context closes in the background
                await page.goto(base + "/normal", wait_until="load")
                assert "<article>" in await page.content()
            return time.perf_counter() - start

        if name == "trio-cpu":
            return await _measure(normal, count, 5)
        for _ in range(3):
            await normal()
        late: list[float] = []
        before: list[float] = []
        after: list[float] = []
        for _ in range(count):  # a normal fetch, a cancelled goto(/never), the next normal fetch
            before.append(await normal())
            async with service.page(PageOptions()) as page:
                with trio.move_on_after(0.5) as scope:
                    await page.goto(base + "/never", wait_until="load")
                late.append(trio.current_time() - scope.deadline)  # control is back here
                assert scope.cancelled_caught, "goto(/never) returned without the deadline"
            after.append(await normal())
        return {"late": late, "before": before, "after": after}


async def _asyncio_pages(base: str, count: int) -> dict[str, Any]:
    """Plain asyncio Playwright, same flags, same steps. Must not import gptme_trio: importing
    trio_asyncio installs its loop policy, and asyncio.run would then run on a trio-asyncio loop."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True, handle_sigint=False
        )
        closing: list[asyncio.Task[None]] = []

        async def one() -> None:
            context = await browser.new_context(**CONTEXT)
            page = await context.new_page()
            await page.goto(base + "/normal", wait_until="load")
            assert "<article>" in await page.content()
            closing.append(asyncio.create_task(context.close()))  # in the background, like the library

        result = await _measure(one, count, 5)
        result["loop"] = type(asyncio.get_running_loop()).__name__
        await asyncio.gather(*closing)
        await browser.close()
    return result


def worker(name: str, base: str, count: str) -> None:
    if name == "asyncio-cpu":
        result = asyncio.run(_asyncio_pages(base, int(count)))
    else:
        result = trio.run(_trio_worker, name, base, int(count))
    print(json.dumps(result))


def run_worker(site: Site, name: str, url: str, count: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.fetch_bench", "--worker", name, url, str(count)]
    result: dict[str, Any] = json.loads(site.run(cmd, "{")[1].strip().splitlines()[-1])
    return result


def import_profile(b: Site) -> str:
    """The CLI's biggest imports by package (cumulative, so nested ones overlap), from -X importtime."""
    cmd = [sys.executable, "-X", "importtime", "-c", f"import {CLI_MODULES}"]
    best: dict[str, int] = {}
    for line in subprocess.run(cmd, cwd=ROOT, env=b.env, capture_output=True, text=True).stderr.splitlines()[1:]:
        root = line.split("|")[2].strip().split(".")[0]
        best[root] = max(best.get(root, 0), int(line.split("|")[1]))
    top = sorted(best.items(), key=lambda item: -item[1])[1:9]  # [0] is gptme_trio itself
    return ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in top)


def bench_wall(b: Site, args: argparse.Namespace) -> str:
    url, py = b.base + "/normal", sys.executable
    fetch = [py, "-m", "gptme_trio", "fetch"]
    variants = {  # row label -> (command, text its stdout must contain)
        "A: `python -m gptme_trio fetch URL`": ([*fetch, url], "Normal page"),
        "B: `python -m bench.bare_playwright URL`": ([py, "-m", "bench.bare_playwright", url, CHROMIUM], ""),
        "C: `python -m gptme_trio fetch --engine http URL`": ([*fetch, "--engine", "http", url], "Normal page"),
        f"D: `python -c 'import {CLI_MODULES}'`": ([py, "-c", f"import {CLI_MODULES}"], ""),
        f"E: `python -c 'import {BARE_MODULES}'`": ([py, "-c", f"import {BARE_MODULES}"], ""),
    }
    times = alternate(list(variants), args.runs, lambda name: b.run(*variants[name], timeout=60)[0])
    a, b_, _, d, e = (statistics.median(v) for v in times.values())
    rows = "\n".join(f"| {name} | {med(v, 1, '{:.3f}')} | — | info |" for name, v in times.items())
    return f"""## 1. Whole-process wall time (one URL: /normal)

1 warm-up + {args.runs} runs of each command, alternating A, B, C, D, E in every round. D and E only
start Python and import (D: what the CLI imports; E: what the bare script imports).

| Command | median s (min–max) | target | result |
|---|---|---|---|
{rows}
| **ratio of medians A / B** | **{a / b_:.2f}×** | ≤ 1.3× | {PASS[a / b_ <= 1.3]} |

A − B = {(a - b_) * 1000:.0f} ms of median wall time, and D − E = {(d - e) * 1000:.0f} ms of it is Python imports.
Where D's import time goes (`python -X importtime`, one run): {import_profile(b)}.
"""


def bench_cancel(b: Site, args: argparse.Namespace) -> str:
    r = run_worker(b, "cancel", b.base, args.trials)
    late_med, late_max = statistics.median(r["late"]) * 1000, max(r["late"]) * 1000
    ratio = statistics.median(r["after"]) / statistics.median(r["before"])
    return f"""## 2. Cancellation (in-process, library)

{args.trials} trials, each: a normal fetch of /normal, then `trio.move_on_after(0.5)` around
`page.goto(/never)`, then the next normal fetch of /normal. A normal fetch = new context+page,
goto(load), content(), leave the page block (the library closes its context in the background).
Lateness = `trio.current_time() - scope.deadline`, read right after the `with` block.

| Measure | value | target | result |
|---|---|---|---|
| deadline → control returns, median | {late_med:.1f} ms | ≤ 50 ms | {PASS[late_med <= 50]} |
| deadline → control returns, max | {late_max:.1f} ms | ≤ 50 ms | {PASS[late_max <= 50]} |
| normal fetch, no cancel before it: ms median (min–max) | {med(r["before"], 1000, "{:.0f}")} | — | info |
| normal fetch right after a cancel: ms median (min–max) | {med(r["after"], 1000, "{:.0f}")} | — | info |
| **after-cancel / no-cancel, ratio of medians** | **{ratio:.2f}×** | ≤ 1.2× | {PASS[ratio <= 1.2]} |
"""


def bench_cpu(b: Site, args: argparse.Namespace) -> str:
    runs, pages = args.cpu_runs, args.pages
    res: dict[str, list[dict[str, Any]]] = {"trio-cpu": [], "asyncio-cpu": []}

    def one(name: str) -> float:  # alternate: trio, asyncio, trio, asyncio, ...
        res[name].append(run_worker(b, name, b.base, pages))
        return float(res[name][-1]["wall"])

    alternate(list(res), runs, one, warmup=0)
    cpu, wall = ({n: [r[k] / pages for r in rs] for n, rs in res.items()} for k in ("cpu", "wall"))
    ratio, wall_ratio = (statistics.median(x["trio-cpu"]) / statistics.median(x["asyncio-cpu"]) for x in (cpu, wall))
    loops = "/".join(sorted({r["loop"] for r in res["asyncio-cpu"]}))
    labels = {"trio-cpu": "gptme-trio library on trio-asyncio", "asyncio-cpu": f"plain asyncio Playwright ({loops})"}
    rows = "\n".join(
        f"| {labels[n]} | {med(cpu[n], 1000, '{:.1f}')} | {med(wall[n], 1000, '{:.1f}')} | — | info |" for n in res
    )
    return f"""## 3. Python CPU per page

{runs} runs per variant, alternating, each in its own subprocess: one browser, 5 warm-up pages, then
{pages} sequential fetches of /normal (new context+page, goto(load), content(), close in the background:
the library in its nursery, the plain script with `asyncio.create_task`). CPU = `time.process_time()`
delta of the Python process only (the node driver and Chromium are excluded).

| Variant | CPU ms/page, median (min–max) | wall ms/page, median (min–max) | target | result |
|---|---|---|---|---|
{rows}
| **CPU ratio trio-asyncio / asyncio** | **{ratio:.2f}×** | | ≤ 2× | {PASS[ratio <= 2]} |
| wall ratio trio-asyncio / asyncio | | {wall_ratio:.2f}× | — | info |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command in part 1 (>= 7)")
    parser.add_argument("--trials", type=int, default=12, help="cancellation trials (>= 10)")
    parser.add_argument("--pages", type=int, default=40, help="pages per CPU run (>= 30)")
    parser.add_argument("--cpu-runs", type=int, default=3, help="CPU runs per variant (>= 3)")
    parser.add_argument("--out", default=default_out("fetch.md"))
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    from gptme_trio.core import browser  # this process runs no asyncio, so importing trio_asyncio here is harmless

    if browser.CHROMIUM_ARGS != CHROMIUM_ARGS:
        raise SystemExit("bench.bare_playwright.CHROMIUM_ARGS differ from gptme_trio.core.browser.CHROMIUM_ARGS")
    started = time.perf_counter()
    sections = [header("gptme-trio fetch benchmark")]
    with tempfile.TemporaryDirectory(prefix="fetch-bench-") as tmp:
        bench = Site(tmp)
        try:
            for part in (bench_wall, bench_cancel, bench_cpu):
                since = bench.noise.mark()
                sections.append(f"{part(bench, args)}\n{bench.noise.line(since)}\n")
                print(sections[-1], flush=True)
        finally:
            bench.close()
        left = bench.wait_gone()
    sections.append(housekeeping(started, left))
    write(args.out, sections)


if __name__ == "__main__":
    main()
