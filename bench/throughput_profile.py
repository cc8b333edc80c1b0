"""Figure 2's profile for bench/throughput_bench.py: where the wall time of a `fetch -j 4` run goes.

One extra run of the same command under bench.phase_probe (each Playwright call and each extraction
timed in the CLI process) while the harness samples the CPU time of every process of the tree by role.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from bench import harness
from bench import phase_probe as pp

if TYPE_CHECKING:
    from bench.throughput_bench import Bench

BENCH = Path(__file__).resolve().parent
CALLS = {  # row -> call names (prefixes) in the probe's timeline
    "goto(load): request, 50 ms server delay, CSS, parse, load event": ("Page.goto",),
    "settle, then the document script (evaluate: the DOM serialised, overlays out, shadow roots in)": (
        "Page.evaluate",
        "CDPSession.send",
    ),
    "tab reuse reset: clear_cookies() round trip": ("BrowserContext.cookies", "BrowserContext.clear_cookies"),
    "new context / new tab (first use of a tab; a new one per 50 uses)": (
        "Browser.new_context",
        "BrowserContext.new_page",
    ),
    "media blocking set-up (CDP session, once per tab)": ("BrowserContext.new_cdp_session",),
    "extraction: to_text (trafilatura), on the Trio thread": ("extract.",),
}
ROLES = ("python", "driver", "browser", "renderer", "network", "gpu", "other")


def role(proc: psutil.Process, root_pid: int) -> str:
    """python (the CLI), driver (node), browser (Chromium's main process), renderer, network, gpu, other."""
    found = {"webui": "renderer"}.get(found := harness.role(proc, root_pid), found)
    return found if found in ROLES else "other"


def in_window(events: list[dict], names: tuple[str, ...], start: float, end: float) -> float:
    """Seconds of the calls named, clipped to [start, end] (calls made before the first page are start-up)."""
    return sum(max(0.0, min(e["t1"], end) - max(e["t0"], start)) for e in events if e["name"].startswith(names))


def profile(b: Bench, pages: int, jobs: int = 4) -> tuple[str, dict[str, Any]]:
    """The section's Markdown and its numbers."""
    fd, out = tempfile.mkstemp(suffix=".jsonl", dir=b.tmp)
    os.close(fd)
    cmd = [sys.executable, "-m", "bench.phase_probe", out, "-m", "gptme_trio", "fetch", "-f", "text", "-q"]
    cmd += ["-i", str(b.url_file), "-j", str(jobs)]
    roles: dict[int, list[Any]] = {}
    noise = b.noise_cpu
    r = b.run(cmd, pages, roles=roles, role_of=role)
    noise = b.noise_cpu - noise  # CPU-s of other processes (not ours) during this run
    events = pp.load(out)
    (BENCH / "profiles").mkdir(exist_ok=True)
    if os.path.getsize(out) < 200_000:  # ~80 KB: 7 timed calls a page
        shutil.copy(out, BENCH / "profiles" / f"throughput-j{jobs}.jsonl")
    wall = r["wall"]
    entry = min(e["t0"] for e in events)  # the probe's entry: Python's own start-up is before the timeline
    first = min(e["t0"] for e in events if e["name"] == "Page.goto")
    read1 = max(e["t1"] for e in events if e["name"] in pp.READS)
    fetching, calls = read1 - first, pp.pages(events)
    rows, shares = [], {}
    for label, names in CALLS.items():
        d = [x for n, v in calls.items() if n.startswith(names) for x in v]
        shares[label] = in_window(events, names, first, read1) / (jobs * fetching)
        mean = sum(d) / max(len(d), 1) * 1000
        rows.append(f"| {label} | {len(d)} | {pp.median_or_zero(d) * 1000:.1f} | {mean:.1f} | {shares[label]:.0%} |")
    cpu = dict.fromkeys(ROLES, 0.0)
    for kind, seconds in roles.values():
        cpu[kind] += seconds
    cores = os.cpu_count() or 1
    n = {
        "wall": wall,
        "start": first - entry,
        "fetching": fetching,
        "end": wall - (read1 - entry),
        "shares": shares,
        "between": 1 - sum(shares.values()),
        "cpu": cpu,
        "busy": sum(cpu.values()) / (wall * cores),
        "others": max(0.0, noise) / (wall * cores),
        "goto": pp.median_or_zero(calls.get("Page.goto", [])),
        "content": pp.median_or_zero(calls.get("Page.content", [])),
        "title": pp.median_or_zero(calls.get("Page.title", [])),
        "extract": pp.median_or_zero([x for k, v in calls.items() if k.startswith("extract.") for x in v]),
        "jobs": jobs,
        "pages": pages,
        "cdp": pp.median_or_zero(calls.get("BrowserContext.new_cdp_session", [])),
        "tab": pp.median_or_zero(calls.get("Browser.new_context", []))
        + pp.median_or_zero(calls.get("BrowserContext.new_page", [])),
    }
    cpu_rows = "\n".join(f"| {k} | {v:.2f} | {v / wall:.0%} |" for k, v in cpu.items())
    text = f"""### Profile of one -j {jobs} run (figure 2: where the time goes)

One more run of the -j {jobs} command, under `python -m bench.phase_probe` (it times every Playwright call and every
extraction inside the CLI process; the wrappers cost microseconds per call), while the harness samples the
CPU time of each process of the tree by role every 50 ms. This run: {pages / wall:.2f} pages/s, {wall:.2f} s:
{n["start"]:.2f} s from the CLI's first line of Python to the first goto (imports, driver and Chromium start, first
tabs; the timeline: `bench/profiles/throughput-j{jobs}.jsonl`), {fetching:.2f} s from the first goto to the last page read, {n["end"]:.2f} s for the rest (shutdown and
Python's own start-up, which is before the timeline).

| call, per page | calls | median ms | mean ms | share of the {jobs} slots over the {fetching:.2f} s of fetching |
|---|---|---|---|---|
{chr(10).join(rows)}
| none of those: Python between calls (trio ↔ asyncio hops, records, output), a slot waiting for a tab | | | | {n["between"]:.0%} |

| process (role) | CPU-s over the run | share of one core |
|---|---|---|
{cpu_rows}
| **whole tree** | **{sum(cpu.values()):.2f}** | **{n["busy"]:.0%} of all {cores} cores** |
| other processes on the machine (not ours) | {max(0.0, noise):.2f} | {n["others"]:.0%} of all {cores} cores |
"""
    return text, n


def explain(n: dict, rate: dict[str, list[float]], ratio: float | None) -> str:
    """Figure 2's paragraph: where a -j 4 run's time goes (the profile above) and what would close a miss."""
    j4 = statistics.median(rate["-j 4"])
    j8 = statistics.median(rate["-j 8"])
    top = sorted(n["shares"].items(), key=lambda kv: -kv[1])[:3]
    cpu = n["cpu"]
    busiest = max(cpu, key=cpu.get)
    if ratio is None:
        verdict = "could not be compared with crawl4ai"
    else:
        verdict = f"{'meets' if ratio >= 2 else 'misses'} its crawl4ai target ({ratio:.2f}× of ≥ 2×)"
    if n["busy"] + n["others"] >= 0.85:
        bound = (
            f"the 2 cores were saturated (ours {n['busy']:.0%}, other processes {n['others']:.0%}), so this run was "
            "CPU-bound and its absolute times are inflated; the shares of the slots still say where a page waits"
        )
    else:
        bound = (
            "so the run is not bound by total CPU but by latency in series: each page waits on single-threaded "
            "hops (the Python thread, the driver's event loop, Chromium's browser process)"
        )
    fixed = n["start"] + n["end"]
    return f"""### Figure 2: where the time goes, and what would close it

Figure 2 {verdict} in this run (our -j 4: {j4:.2f} pages/s median; -j 8: {j8:.2f}). The profiled -j 4 run spent
{fixed:.2f} s of its {n["wall"]:.2f} s ({fixed / n["wall"]:.0%}) with no page loading (start-up before the first goto,
shutdown after the last read), paid once per process. While pages load, the {n["jobs"]} slots spend
{", ".join(f"{k.split(':')[0]} {v:.0%}" for k, v in top)} of their time; a goto takes {n["goto"] * 1000:.0f} ms median,
of which 50 ms is the server's delay, the rest Chromium's request, parse, CSS and load event and the round
trips Python → trio-asyncio → node driver → Chromium; content() takes {n["content"] * 1000:.0f} ms and title()
{n["title"] * 1000:.0f} ms for a 1 KB page, i.e. mostly waiting in the same queues; extraction {n["extract"] * 1000:.1f} ms (on the
Trio thread, which also carries the Playwright messages). CPU: the tree used {sum(cpu.values()):.2f} CPU-s, {n["busy"]:.0%}
of the 2 cores over the run; busiest: the {busiest} ({cpu[busiest] / n["wall"]:.0%} of one core); {bound}. What would
close it (product changes, not made here; the rows above are their budgets): (1) the fixed {fixed:.2f} s, which
includes, before any page loads, a new context + tab ({n["tab"] * 1000:.0f} ms median) and then the media-blocking CDP
session ({n["cdp"] * 1000:.0f} ms median) per tab, all {n["jobs"]} at once: set media blocking up once per browser (a launch
flag or one route) instead of a CDP session per tab, open the other tabs while the first page loads, spawn the driver before the rest of the CLI
is imported, and exit once the output is flushed (the driver closes Chromium when its pipe closes); halving
the fixed part would give {n["pages"] / (n["wall"] - fixed / 2):.2f} pages/s in this run ({(n["wall"]) / (n["wall"] - fixed / 2):.2f}×); (2) one round trip instead of two for content() + title()
(`page.evaluate` returning both), and no clear_cookies() round trip when the page set no cookie; (3) fewer
hops per call: Playwright's calls go Trio → trio-asyncio → asyncio → node → Chromium, so each waits on two
event loops; -j 8 does not help on 2 cores ({j8 / j4:.2f}× of -j 4).
"""
