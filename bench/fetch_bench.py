"""Benchmark gptme-trio's fetch against plain asyncio Playwright; writes bench/RESULTS.md.

Run from the repo root (only 127.0.0.1 is used; takes about 2 minutes):

    .venv/bin/python bench/fetch_bench.py            # optional: --runs N (default 9)

Three measurements, each against tests/site.py on 127.0.0.1:
1. Whole-process wall time: `python -m gptme_trio fetch URL` vs bench/bare_playwright.py
   (same Chromium, same flags), plus `--engine http`; runs alternate, one warm-up each.
2. Cancellation: a Trio deadline around page.goto(/never) in the library; time from the
   deadline to control returning, and the next /normal fetch vs one with no cancel before it.
3. Python CPU per page (time.process_time of the Python process only, so node and Chromium
   are excluded): the library on trio-asyncio vs plain asyncio Playwright, one browser,
   new context+page per fetch, each variant in its own subprocess, alternating.

The measurements run in subprocesses (`--worker NAME`); this process only starts them,
owns the site server, and checks at the end that nothing it started is still running.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CONTEXT = {"viewport": {"width": 1280, "height": 800}, "accept_downloads": False}  # as the library's


# ---------------------------------------------------------------- workers (subprocesses)


async def _trio_pages(url: str, count: int, warmup: int) -> dict:
    """Library on trio-asyncio: `count` sequential fetches after `warmup`."""
    from gptme_trio.browser import BrowserSpec, PageOptions, open_browser

    async with open_browser(BrowserSpec(executable=CHROMIUM)) as service:

        async def one() -> None:
            async with service.page(PageOptions()) as page:
                await page.goto(url, wait_until="load")
                assert "<article>" in await page.content()

        for _ in range(warmup):
            await one()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await one()
        return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


async def _asyncio_pages(url: str, count: int, warmup: int) -> dict:
    """Plain asyncio Playwright, same flags, same steps (context closed before the next page)."""
    from playwright.async_api import async_playwright

    from gptme_trio.browser import CHROMIUM_ARGS

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True, handle_sigint=False
        )

        async def one() -> None:
            context = await browser.new_context(**CONTEXT)
            page = await context.new_page()
            await page.goto(url, wait_until="load")
            assert "<article>" in await page.content()
            await context.close()

        for _ in range(warmup):
            await one()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await one()
        result = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}
        await browser.close()
    return result


async def _cancel_trials(base: str, trials: int, deadline: float) -> dict:
    """Per trial: a normal fetch, a cancelled goto(/never), then the next normal fetch."""
    import trio

    from gptme_trio.browser import BrowserSpec, PageOptions, open_browser

    async with open_browser(BrowserSpec(executable=CHROMIUM)) as service:

        async def normal() -> float:
            start = time.perf_counter()
            async with service.page(PageOptions()) as page:
                await page.goto(base + "/normal", wait_until="load")
                assert "<article>" in await page.content()
            return time.perf_counter() - start

        for _ in range(3):
            await normal()
        late, before, after = [], [], []
        for _ in range(trials):
            before.append(await normal())
            async with service.page(PageOptions()) as page:
                with trio.move_on_after(deadline) as scope:
                    await page.goto(base + "/never", wait_until="load")
                late.append(trio.current_time() - scope.deadline)  # control is back here
                assert scope.cancelled_caught, "goto(/never) returned without the deadline"
            after.append(await normal())
        return {"late": late, "before": before, "after": after}


def worker(args: argparse.Namespace) -> None:
    if args.worker == "cancel":
        import trio

        result = trio.run(_cancel_trials, args.url, args.count, 0.5)
    elif args.worker == "trio-cpu":
        import trio

        result = trio.run(_trio_pages, args.url, args.count, 5)
    else:
        import asyncio

        result = asyncio.run(_asyncio_pages(args.url, args.count, 5))
    print(json.dumps(result))


# ---------------------------------------------------------------- harness


class Bench:
    def __init__(self, tmp: str) -> None:
        self.tag = f"FETCH_BENCH_RUN={uuid.uuid4().hex}"
        home = Path(tmp, "home")
        home.mkdir()
        # TMPDIR: Chromium's profile goes under tmp; the tag finds every process we started.
        self.env = dict(os.environ, TMPDIR=tmp, GPTME_TRIO_HOME=str(home), FETCH_BENCH_RUN=self.tag.split("=")[1])
        self.site = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "site.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env,
        )
        line = self.site.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise SystemExit(f"test site did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def close(self) -> None:
        self.site.stdin.close()  # site.py exits when its stdin closes
        try:
            self.site.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.site.kill()
            self.site.wait()

    def run(self, cmd: list[str], expect: str, timeout: float = 120) -> tuple[float, str]:
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0 or expect not in proc.stdout:
            raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stdout[-500:]}{proc.stderr[-2000:]}")
        return elapsed, proc.stdout

    def worker(self, name: str, url: str, count: int) -> dict:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--url", url, "--count", str(count)]
        return json.loads(self.run(cmd, "{")[1].strip().splitlines()[-1])

    def leftovers(self) -> list[str]:
        """Processes (other than us) whose environment carries our tag."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if self.tag.encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    found.append(f"{pid} {Path(f'/proc/{pid}/cmdline').read_bytes()[:80]!r}")
            except OSError:
                continue
        return found


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**MISS**"


def spread(values: list[float], scale: float = 1.0, fmt: str = "{:.3f}") -> tuple[str, str]:
    med = fmt.format(statistics.median(values) * scale)
    return med, f"{fmt.format(min(values) * scale)}–{fmt.format(max(values) * scale)}"


def bench_wall(b: Bench, runs: int, out: list[str]) -> None:
    url = b.base + "/normal"
    py = sys.executable
    variants = {  # name -> (command, text its stdout must contain)
        "A: `python -m gptme_trio fetch URL`": ([py, "-m", "gptme_trio", "fetch", url], "Normal page"),
        "B: `python bench/bare_playwright.py URL`": ([py, "bench/bare_playwright.py", url, CHROMIUM], ""),
        "C: `python -m gptme_trio fetch --engine http URL`": (
            [py, "-m", "gptme_trio", "fetch", "--engine", "http", url], "Normal page"),
        "info: `python -c 'import gptme_trio.cli, gptme_trio.plan'`": (
            [py, "-c", "import gptme_trio.cli, gptme_trio.plan"], ""),
        "info: `python -c 'import asyncio, playwright.async_api'`": (
            [py, "-c", "import asyncio, playwright.async_api"], ""),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(runs + 1):  # round 0 is the warm-up; variants alternate within each round
        for name, (cmd, expect) in variants.items():
            elapsed, _ = b.run(cmd, expect, timeout=60)
            if i:
                times[name].append(elapsed)
    out += ["## 1. Whole-process wall time (one URL: /normal)", "",
            f"1 warm-up + {runs} runs each, alternating A, B, C, … per round.", "",
            "| Command | median s | min–max s | target | result |", "|---|---|---|---|---|"]
    for name, values in times.items():
        out.append(f"| {name} | {spread(values)[0]} | {spread(values)[1]} | — | info |")
    names = list(variants)
    ratio = statistics.median(times[names[0]]) / statistics.median(times[names[1]])
    out.append(f"| **ratio of medians A / B** | **{ratio:.2f}×** | | ≤ 1.3× | {verdict(ratio <= 1.3)} |")
    imports = statistics.median(times[names[3]]) - statistics.median(times[names[4]])
    gap = statistics.median(times[names[0]]) - statistics.median(times[names[1]])
    out += ["", f"Gap A − B: {gap * 1000:.0f} ms of median wall time; the two import-only rows "
            f"differ by {imports * 1000:.0f} ms (Python start + imports of the CLI's modules — trafilatura, "
            "html-to-markdown, trio, trio-asyncio, click, rich — vs asyncio + Playwright).", ""]


def bench_cancel(b: Bench, trials: int, out: list[str]) -> None:
    r = b.worker("cancel", b.base, trials)
    late_med, late_max = statistics.median(r["late"]) * 1000, max(r["late"]) * 1000
    before, after = statistics.median(r["before"]), statistics.median(r["after"])
    ratio = after / before
    out += ["## 2. Cancellation (in-process, library)", "",
            f"{trials} trials, each: normal fetch of /normal → `trio.move_on_after(0.5)` around "
            "`page.goto(/never)` → the next normal fetch of /normal. A normal fetch is new context+page, "
            "goto(load), content(), leave the page block (its context closes in the background). "
            "Lateness = `trio.current_time() - scope.deadline` right after the `with` block.", "",
            "| Measure | value | target | result |", "|---|---|---|---|",
            f"| deadline → control returns, median | {late_med:.1f} ms | ≤ 50 ms | {verdict(late_med <= 50)} |",
            f"| deadline → control returns, max | {late_max:.1f} ms | ≤ 50 ms | {verdict(late_max <= 50)} |",
            f"| normal fetch, no cancel before it, median (min–max) | {before * 1000:.0f} ms "
            f"({min(r['before']) * 1000:.0f}–{max(r['before']) * 1000:.0f}) | — | info |",
            f"| normal fetch right after a cancel, median (min–max) | {after * 1000:.0f} ms "
            f"({min(r['after']) * 1000:.0f}–{max(r['after']) * 1000:.0f}) | — | info |",
            f"| **after-cancel / no-cancel, ratio of medians** | **{ratio:.2f}×** | ≤ 1.2× | {verdict(ratio <= 1.2)} |",
            ""]


def bench_cpu(b: Bench, runs: int, pages: int, out: list[str]) -> None:
    url = b.base + "/normal"
    res: dict[str, list[dict]] = {"trio-cpu": [], "asyncio-cpu": []}
    for _ in range(runs):
        for name in res:  # alternate: trio, asyncio, trio, asyncio, ...
            res[name].append(b.worker(name, url, pages))
    cpu = {n: [r["cpu"] / pages for r in rs] for n, rs in res.items()}
    wall = {n: [r["wall"] / pages for r in rs] for n, rs in res.items()}
    ratio = statistics.median(cpu["trio-cpu"]) / statistics.median(cpu["asyncio-cpu"])
    wall_ratio = statistics.median(wall["trio-cpu"]) / statistics.median(wall["asyncio-cpu"])
    labels = {"trio-cpu": "gptme-trio library on trio-asyncio", "asyncio-cpu": "plain asyncio Playwright"}
    out += ["## 3. Python CPU per page", "",
            f"{runs} runs per variant, alternating, each in its own subprocess: one browser, 5 warm-up "
            f"pages, then {pages} sequential fetches of /normal (new context+page, goto(load), content(), "
            "close). CPU = `time.process_time()` delta of the Python process only (node driver and "
            "Chromium excluded). Values are the median over runs (min–max in brackets).", "",
            "| Variant | CPU ms/page | wall ms/page | target | result |", "|---|---|---|---|---|"]
    for n in res:
        c, w = spread(cpu[n], 1000, "{:.1f}"), spread(wall[n], 1000, "{:.1f}")
        out.append(f"| {labels[n]} | {c[0]} ({c[1]}) | {w[0]} ({w[1]}) | — | info |")
    out += [f"| **CPU ratio trio-asyncio / asyncio** | **{ratio:.2f}×** | | ≤ 2× | {verdict(ratio <= 2)} |",
            f"| wall ratio trio-asyncio / asyncio | {wall_ratio:.2f}× | | — | info |", "",
            "The library closes each context in its own nursery (in the background, overlapping the next "
            "fetch); the plain script awaits `context.close()` before the next page. Both pay its CPU.", ""]


def machine_info() -> list[str]:
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        "| | |", "|---|---|",
        f"| CPUs | {os.cpu_count()} |",
        f"| Python | {sys.version.split()[0]} ({sys.executable}) |",
        f"| trio | {version('trio')} |", f"| trio-asyncio | {version('trio-asyncio')} |",
        f"| playwright | {version('playwright')} |", f"| Chromium | {chromium} ({CHROMIUM}) |",
        f"| load average at start (1/5/15 min) | {load} |",
    ]


def check_flags() -> None:
    """bare_playwright.py must launch with exactly the library's flags."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bare_playwright

    from gptme_trio.browser import CHROMIUM_ARGS

    if tuple(bare_playwright.CHROMIUM_ARGS) != tuple(CHROMIUM_ARGS):
        raise SystemExit(f"bench/bare_playwright.py flags {bare_playwright.CHROMIUM_ARGS} != {CHROMIUM_ARGS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command in part 1 (>= 7)")
    parser.add_argument("--trials", type=int, default=12, help="cancellation trials (>= 10)")
    parser.add_argument("--pages", type=int, default=40, help="pages per CPU run (>= 30)")
    parser.add_argument("--cpu-runs", type=int, default=3, help="CPU runs per variant (>= 3)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--worker", choices=["cancel", "trio-cpu", "asyncio-cpu"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    check_flags()
    command = f"cd {Path.cwd()} && {shlex.join([os.path.relpath(sys.executable), *sys.argv])}"
    started = time.perf_counter()
    out = ["# gptme-trio fetch benchmark", "",
           f"Date: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}  ", f"Command: `{command}`", "",
           *machine_info(), ""]
    with tempfile.TemporaryDirectory(prefix="fetch-bench-") as tmp:
        bench = Bench(tmp)
        try:
            bench_wall(bench, args.runs, out)
            bench_cancel(bench, args.trials, out)
            bench_cpu(bench, args.cpu_runs, args.pages, out)
        finally:
            bench.close()
        time.sleep(0.5)  # Chromium exits when its pipe closes; give it a moment
        left = bench.leftovers()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    out += ["## Housekeeping", "",
            f"- Total benchmark time: {time.perf_counter() - started:.0f} s; load average at end: {load}.",
            f"- Processes started by this run still alive at the end: {len(left)}"
            + ("".join(f"\n  - {p}" for p in left) if left else " (site server, CLIs, drivers, Chromium all gone)."),
            ""]
    text = "\n".join(out)
    print(text)
    Path(args.out).write_text(text)
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
