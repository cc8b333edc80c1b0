"""Benchmark gptme-trio's fetch against plain asyncio Playwright; writes bench/RESULTS.md.

Run from the repo root (talks only to 127.0.0.1; takes about 2 minutes):

    .venv/bin/python bench/fetch_bench.py            # optional: --runs N (default 9)

Against tests/support/pages.py, each part in subprocesses (see `--help` for the other counts):
1. wall time of `python -m gptme_trio fetch URL` vs bench/bare_playwright.py (alternating);
2. cancellation: a Trio deadline around goto(/never), and the next fetch after it;
3. Python CPU per page: the library on trio-asyncio vs plain asyncio Playwright.
At the end it checks that nothing it started (site server, drivers, Chromium) is still running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import trio  # importing trio is harmless for plain asyncio; importing trio_asyncio is not (see below)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bare_playwright import CHROMIUM_ARGS  # noqa: E402 - checked against the library's in main()

CHROMIUM = "/usr/bin/chromium"
CLI_MODULES, BARE_MODULES = "gptme_trio.cli, gptme_trio.fetch.plan", "asyncio, playwright.async_api"
PASS = {True: "PASS", False: "**MISS**"}
CONTEXT = {"viewport": {"width": 1280, "height": 800}, "accept_downloads": False}  # as the library's


# Workers: each runs in its own subprocess (`--worker NAME URL COUNT`) and prints JSON.
async def _measure(one, count: int, warmup: int) -> dict:
    """Await one() `warmup` times, then `count` times under CPU and wall clocks."""
    for _ in range(warmup):
        await one()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await one()
    return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


async def _trio_worker(name: str, base: str, count: int) -> dict:
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
        late, before, after = [], [], []
        for _ in range(count):  # a normal fetch, a cancelled goto(/never), the next normal fetch
            before.append(await normal())
            async with service.page(PageOptions()) as page:
                with trio.move_on_after(0.5) as scope:
                    await page.goto(base + "/never", wait_until="load")
                late.append(trio.current_time() - scope.deadline)  # control is back here
                assert scope.cancelled_caught, "goto(/never) returned without the deadline"
            after.append(await normal())
        return {"late": late, "before": before, "after": after}


async def _asyncio_pages(base: str, count: int) -> dict:
    """Plain asyncio Playwright, same flags, same steps. Must not import gptme_trio: importing
    trio_asyncio installs its loop policy, and asyncio.run would then run on a trio-asyncio loop."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True, handle_sigint=False
        )
        closing: list[asyncio.Task] = []

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


# The harness: starts the site server and the subprocesses, and writes the report.
class Bench:
    def __init__(self, tmp: str) -> None:
        run_id = uuid.uuid4().hex
        self.tag = f"FETCH_BENCH_RUN={run_id}".encode()  # in /proc/PID/environ of everything we start
        self.env = dict(os.environ, TMPDIR=tmp, FETCH_BENCH_RUN=run_id)  # TMPDIR: Chromium profiles go there
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True, "env": self.env}
        self.site = subprocess.Popen([sys.executable, "-m", "tests.support.pages"], cwd=ROOT, **pipes)
        line = self.site.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise SystemExit(f"test site did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def close(self) -> None:
        self.site.stdin.close()  # pages.py exits when its stdin closes
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.site.wait(timeout=5)
        self.site.kill()  # only if it is still running

    def run(self, cmd: list[str], expect: str, timeout: float = 120) -> tuple[float, str]:
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0 or expect not in proc.stdout:
            tail = proc.stdout[-500:] + proc.stderr[-2000:]
            raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}\n{tail}")
        return elapsed, proc.stdout

    def worker(self, name: str, url: str, count: int) -> dict:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, url, str(count)]
        return json.loads(self.run(cmd, "{")[1].strip().splitlines()[-1])


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:  # the process is gone
        return b""


def _stat(pid: str) -> list[bytes]:
    """Fields of /proc/PID/stat after the name: [1] ppid, [11] utime, [12] stime, [19] start time."""
    stat = _read(f"/proc/{pid}/stat").rsplit(b")", 1)[-1].split()
    return stat if len(stat) > 19 else []


class Procs(threading.Thread):
    """Samples /proc every 0.25 s for the CPU-s used by processes this run did not start. Ours: the run's
    tag in the environment, its TMPDIR on the command line (Chromium's zygote drops the environment),
    or a parent that is ours."""

    def __init__(self, tag: bytes, tmp: str) -> None:
        super().__init__(daemon=True)
        self.tag, self.tmp, self.cache, self.total, self.stop = tag, tmp.encode(), {}, 0.0, threading.Event()
        self.seen: dict[tuple[str, bytes], float | None] = {}
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start_ticks = float(Path("/proc/uptime").read_text().split()[0]) * self.tick

    def ours(self, pid: str, stat: list[bytes]) -> bool:
        key = (pid, stat[19])
        if key not in self.cache:
            self.cache[key] = int(pid) == os.getpid()
            if not self.cache[key]:
                own = self.tag in _read(f"/proc/{pid}/environ") or self.tmp in _read(f"/proc/{pid}/cmdline")
                parent = stat[1].decode()
                pstat = _stat(parent) if parent not in ("0", "1") else []
                self.cache[key] = own or bool(pstat and self.ours(parent, pstat))
        return self.cache[key]

    def alive_ours(self) -> list[str]:
        procs = ((pid, _stat(pid)) for pid in os.listdir("/proc") if pid.isdigit())
        mine = [pid for pid, st in procs if st and st[0] != b"Z" and self.ours(pid, st) and int(pid) != os.getpid()]
        return [f"{pid} {_read(f'/proc/{pid}/cmdline')[:80]!r}" for pid in mine]

    def run(self) -> None:
        while not self.stop.wait(0.25):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                stat = _stat(pid)
                if not stat:
                    continue
                key, cpu = (pid, stat[19]), (int(stat[11]) + int(stat[12])) / self.tick
                if key not in self.seen:  # new: count all its CPU if it started during the run
                    before = int(stat[19]) < self.start_ticks
                    self.seen[key] = None if self.ours(pid, stat) else (cpu if before else 0.0)
                if self.seen[key] is not None:
                    self.total, self.seen[key] = self.total + cpu - self.seen[key], cpu


def med(values: list[float], scale: float = 1000, fmt: str = "{:.0f}") -> str:
    """'median (min–max)' of values * scale."""
    m, lo, hi = (fmt.format(v * scale) for v in (statistics.median(values), min(values), max(values)))
    return f"{m} ({lo}–{hi})"


def import_profile(b: Bench) -> str:
    """The CLI's biggest imports by package (cumulative, so nested ones overlap), from -X importtime."""
    cmd = [sys.executable, "-X", "importtime", "-c", f"import {CLI_MODULES}"]
    best: dict[str, int] = {}
    for line in subprocess.run(cmd, cwd=ROOT, env=b.env, capture_output=True, text=True).stderr.splitlines()[1:]:
        root = line.split("|")[2].strip().split(".")[0]
        best[root] = max(best.get(root, 0), int(line.split("|")[1]))
    top = sorted(best.items(), key=lambda item: -item[1])[1:9]  # [0] is gptme_trio itself
    return ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in top)


def bench_wall(b: Bench, args: argparse.Namespace) -> str:
    url, py = b.base + "/normal", sys.executable
    fetch = [py, "-m", "gptme_trio", "fetch"]
    variants = {  # row label -> (command, text its stdout must contain)
        "A: `python -m gptme_trio fetch URL`": ([*fetch, url], "Normal page"),
        "B: `python bench/bare_playwright.py URL`": ([py, "bench/bare_playwright.py", url, CHROMIUM], ""),
        "C: `python -m gptme_trio fetch --engine http URL`": ([*fetch, "--engine", "http", url], "Normal page"),
        f"D: `python -c 'import {CLI_MODULES}'`": ([py, "-c", f"import {CLI_MODULES}"], ""),
        f"E: `python -c 'import {BARE_MODULES}'`": ([py, "-c", f"import {BARE_MODULES}"], ""),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(args.runs + 1):  # round 0 is the warm-up; the variants alternate within each round
        for name, (cmd, expect) in variants.items():
            elapsed = b.run(cmd, expect, timeout=60)[0]
            if i:
                times[name].append(elapsed)
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


def bench_cancel(b: Bench, args: argparse.Namespace) -> str:
    r = b.worker("cancel", b.base, args.trials)
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
| normal fetch, no cancel before it: ms median (min–max) | {med(r["before"])} | — | info |
| normal fetch right after a cancel: ms median (min–max) | {med(r["after"])} | — | info |
| **after-cancel / no-cancel, ratio of medians** | **{ratio:.2f}×** | ≤ 1.2× | {PASS[ratio <= 1.2]} |
"""


def bench_cpu(b: Bench, args: argparse.Namespace) -> str:
    runs, pages = args.cpu_runs, args.pages
    res: dict[str, list[dict]] = {"trio-cpu": [], "asyncio-cpu": []}
    for _ in range(runs):
        for name in res:  # alternate: trio, asyncio, trio, asyncio, ...
            res[name].append(b.worker(name, b.base, pages))
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


def header(command: str) -> str:
    def out(*cmd: str) -> str:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()

    dirty = [line.split()[-1] for line in out("git", "status", "--porcelain", "--", "gptme_trio").splitlines()]
    code = out("git", "rev-parse", "--short", "HEAD") + (f" + uncommitted: {', '.join(dirty)}" if dirty else "")
    return f"""# gptme-trio fetch benchmark

Date: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}<br>
Command: `{command}`

| Machine | |
|---|---|
| CPUs | {os.cpu_count()} |
| Python | {sys.version.split()[0]} ({sys.executable}) |
| trio / trio-asyncio | {version("trio")} / {version("trio-asyncio")} |
| playwright | {version("playwright")} |
| Chromium | {out(CHROMIUM, "--version")} ({CHROMIUM}) |
| gptme_trio code measured | {code} |
| load average at start (1/5/15 min) | {" / ".join(f"{x:.2f}" for x in os.getloadavg())} |
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command in part 1 (>= 7)")
    parser.add_argument("--trials", type=int, default=12, help="cancellation trials (>= 10)")
    parser.add_argument("--pages", type=int, default=40, help="pages per CPU run (>= 30)")
    parser.add_argument("--cpu-runs", type=int, default=3, help="CPU runs per variant (>= 3)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    from gptme_trio.core import browser  # this process runs no asyncio, so importing trio_asyncio here is harmless

    if browser.CHROMIUM_ARGS != CHROMIUM_ARGS:
        raise SystemExit("bench/bare_playwright.py CHROMIUM_ARGS differ from gptme_trio.core.browser.CHROMIUM_ARGS")
    started = time.perf_counter()
    sections = [header(f"cd {Path.cwd()} && {shlex.join([os.path.relpath(sys.executable), *sys.argv])}")]
    with tempfile.TemporaryDirectory(prefix="fetch-bench-") as tmp:
        bench = Bench(tmp)
        noise = Procs(bench.tag, tmp)
        noise.start()
        try:
            for part in (bench_wall, bench_cancel, bench_cpu):
                wall, cpu, text = time.perf_counter(), noise.total, part(bench, args)
                wall, cpu = time.perf_counter() - wall, noise.total - cpu
                sections.append(
                    f"{text}\nNoise: other processes (not started by this run) used {cpu:.1f} CPU-s "
                    f"during this part, {cpu / wall / (os.cpu_count() or 1):.0%} of all cores over {wall:.0f} s.\n"
                )
                print(sections[-1], flush=True)
        finally:
            noise.stop.set()
            bench.close()
        for _ in range(20):  # Chromium exits when its pipe closes; give it up to 5 s
            if not (left := noise.alive_ours()):
                break
            time.sleep(0.25)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    alive = "".join(f"\n  - {p}" for p in left) or " (site server, CLIs, drivers and Chromium all gone)"
    sections.append(f"""## Housekeeping

- Total benchmark time: {time.perf_counter() - started:.0f} s; load average at end: {load}.
- Processes started by this run still running at the end (zombies not counted): {len(left)}{alive}.
""")
    Path(args.out).write_text("\n".join(sections))
    print(sections[-1] + f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
