"""MCP servers side by side: `gptme-trio mcp` vs @playwright/mcp, both driven by the official Python `mcp` SDK.

Run from the repository root (127.0.0.1 only; ~6 minutes, ~9 with --before; the first run installs the peer
with npm into .nox/peers/playwright-mcp, see bench/mcp_peers.py for both command lines):

    python -m bench.mcp_bench [--runs 5] [--cancels 4] [--hung-runs 1] [--before DIR]

One "read" is what an agent does to read a page: ours `read_url` (one call: the page's main content as
Markdown with its metadata and links); theirs `browser_navigate` (returns the Playwright code it ran, the
URL, the title and a link to a snapshot *file*, not the content) then `browser_snapshot` (the page's ARIA
snapshot as YAML, inline). Pages: tests/support/pages.py (/normal?page=N: 20 distinct URLs a round) and a
hang server in this process that never answers /hang/ID and notes when each connection is closed.

Per round, a fresh server per side, the sides alternating (reversed every other round):
1. 20 reads, the first starting the browser: calls/s over all 20 (initialize not counted).
2. 3 normal reads (the reference), then --cancels times: a read of /hang/ID cancelled by the client after
   1 s (the SDK sends notifications/cancelled), then at once a normal read. From the cancel (the client's
   deadline): the next read answered; the hung connection closed (the hang server sees it); ours: the tab
   back for reuse (the server's -v log line `tab reset N ms after its use was cancelled`, 1 ms resolution).
3. Peak RSS of the server's whole process tree (RSS summed over its processes, alike for both), sampled
   every 100 ms by a Trio task with psutil.
Then --hung-runs times, all at once (they only wait): per side, a read of /hang/ID with no client timeout,
capped at HUNG_CAP s (when does an answer come, and what); and a read cancelled after 1 s with no next
call: how long the hung connection stays open (capped at IDLE_CAP s).
--before DIR adds `ours-before`: the same server from another checkout (older code), for the reset's
before/after; it has no reset log line, so only its reads and connection closes are compared.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil
import trio
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client

from bench.harness import Site, default_out, header, housekeeping, med, rounds, write
from bench.mcp_peers import HangServer, Side, ensure_peer, peer_versions

PAGES = 20
CANCEL_AFTER = 1.0
HUNG_CAP = 100.0
IDLE_CAP = 75.0
MiB = 2**20


@dataclass
class Record:
    rates: list[float] = field(default_factory=list)  # reads/s over 20 pages, first included
    spawned: list[float] = field(default_factory=list)  # s: server spawned -> initialize answered
    whole: list[float] = field(default_factory=list)  # reads/s over 20 pages, from the server's spawn
    first: list[float] = field(default_factory=list)  # s: the first read (browser start)
    later: list[float] = field(default_factory=list)  # s: reads 2-20
    normal: list[float] = field(default_factory=list)  # s: the reference reads before the cancels
    after: list[float] = field(default_factory=list)  # s: cancel -> the next read answered
    next_read: list[float] = field(default_factory=list)  # s: the next read's own duration
    conn_closed: list[float | None] = field(default_factory=list)  # s: cancel -> hung connection closed
    tab_free: list[float] = field(default_factory=list)  # s: cancel -> tab reset (ours, from the log)
    tab_reset: list[float] = field(default_factory=list)  # s: the server's own: scope cancelled -> tab back
    phases: list[tuple[float, ...]] = field(default_factory=list)  # s: (transport, stop, ping) per reset
    rss: list[float] = field(default_factory=list)  # bytes: peak RSS of the tree, per server
    chars: list[int] = field(default_factory=list)  # characters a read returned
    sample: str = ""


@contextlib.asynccontextmanager
async def served(
    side: Side, peaks: list[float] | None, spawned: list[float] | None = None
) -> AsyncIterator[ClientSession]:
    """A session with a fresh server; its tree's peak RSS is appended to `peaks` when it ends (None: not
    sampled, for servers started at the same time: their trees are told apart by start order), and the
    seconds from its spawn to the answer to `initialize` to `spawned`."""
    me = psutil.Process()
    before = {p.pid for p in me.children()}
    with (Path(side.tmp) / f"{side.name}-stderr.txt").open("a") as errlog:
        started = time.perf_counter()
        async with stdio_client(side.params(), errlog=errlog) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            if spawned is not None:
                spawned.append(time.perf_counter() - started)
            if peaks is None:
                yield session
                return
            roots, peak = [p for p in me.children() if p.pid not in before], [0.0]
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sample_rss, roots, peak)
                try:
                    yield session
                finally:
                    nursery.cancel_scope.cancel()
            peaks.append(peak[0])


async def sample_rss(roots: list[psutil.Process], peak: list[float]) -> None:
    while True:
        total = 0
        for root in roots:
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
        peak[0] = max(peak[0], total)
        await trio.sleep(0.1)


async def one_round(side: Side, rec: Record, base: str, hang: HangServer, n: int, cancels: int) -> None:
    async with served(side, rec.rss, rec.spawned) as session:
        started = time.perf_counter()
        for i in range(PAGES):
            t = time.perf_counter()
            text = await side.read(session, f"{base}/normal?page={n * 100 + i}")
            (rec.first if i == 0 else rec.later).append(time.perf_counter() - t)
        rec.rates.append(PAGES / (time.perf_counter() - started))
        rec.whole.append(PAGES / (time.perf_counter() - started + rec.spawned[-1]))
        rec.chars.append(len(text))
        rec.sample = rec.sample or text
        for i in range(3):
            t = time.perf_counter()
            await side.read(session, f"{base}/normal?ref={n * 100 + i}")
            rec.normal.append(time.perf_counter() - t)
        for i in range(cancels):
            key, logged = f"{side.name}-{n}-{i}", len(side.reset_lines())
            wall, deadline = time.time(), trio.current_time() + CANCEL_AFTER
            with trio.move_on_at(deadline) as scope:
                await side.read(session, hang.url(key))
            assert scope.cancelled_caught, f"{side.name}: the hung read returned"
            cancelled = wall + CANCEL_AFTER  # the client's deadline: the SDK sends notifications/cancelled
            t = time.perf_counter()
            await side.read(session, f"{base}/normal?next={key}")
            rec.next_read.append(time.perf_counter() - t)
            rec.after.append(time.time() - cancelled)
            await trio.sleep(0.2)  # the hang server notes a close that came with the next read
            closed = hang.closed.get(key)
            rec.conn_closed.append(None if closed is None else closed - cancelled)
            lines = side.reset_lines()
            rec.tab_free.append(lines[logged][0] - cancelled if len(lines) > logged else math.nan)
            if len(lines) > logged:
                at, total, stop, ping = lines[logged]
                rec.tab_reset.append(total)
                rec.phases.append((at - cancelled - total, stop, ping))


async def hung(side: Side, base: str, hang: HangServer, key: str, cancel: bool) -> tuple[float | None, str]:
    """No client timeout (cancel=False): (s until the answer, its first line); cancel=True: cancelled after
    1 s and nothing else: (s from the cancel until the hung connection closed, or None at IDLE_CAP)."""
    async with served(side, None) as session:
        await side.read(session, f"{base}/normal?warm={key}")
        if cancel:
            with trio.move_on_after(CANCEL_AFTER):
                await side.read(session, hang.url(key))
            cancelled = time.time()
            with trio.move_on_after(IDLE_CAP):
                while key not in hang.closed:
                    await trio.sleep(0.05)
            closed = hang.closed.get(key)
            return (None if closed is None else closed - cancelled), ""
        started = time.perf_counter()
        with trio.move_on_after(HUNG_CAP):
            try:
                await side.read(session, hang.url(key))
                return time.perf_counter() - started, "a result (no error)"
            except RuntimeError as exc:
                answer = str(exc).split(": ", 2)[-1].replace(f":{hang.port}/", ":PORT/")
                return time.perf_counter() - started, " ".join(answer.split())[:160]
        return None, f"no answer within {HUNG_CAP:.0f} s"


async def bench(args: argparse.Namespace, sides: dict[str, Side], base: str) -> tuple[dict[str, Record], dict]:
    records = {name: Record() for name in sides}
    hung_out: dict[str, list[Any]] = {f"{s} {k}": [] for s in sides for k in ("hung", "idle")}
    async with trio.open_nursery() as nursery:
        hang = HangServer()
        await nursery.start(hang.run)
        for i, order in rounds(list(sides), args.runs, warmup=1, reverse=True):
            for name in order:
                rec = records[name] if i >= 1 else Record()
                await one_round(sides[name], rec, base, hang, i, args.cancels if i >= 1 else 1)
                label = "warm-up" if i < 1 else f"round {i}"
                print(f"{label} {name}: {rec.rates[-1]:.2f} reads/s, next read after a cancel {rec.after[-1]:.3f} s")
        for r in range(args.hung_runs):

            async def one(name: str, cancel: bool, key: str) -> None:
                hung_out[f"{name} {'idle' if cancel else 'hung'}"].append(
                    await hung(sides[name], base, hang, key, cancel)
                )

            async with trio.open_nursery() as inner:
                for name in sides:
                    inner.start_soon(one, name, False, f"hung-{name}-{r}")
                    inner.start_soon(one, name, True, f"idle-{name}-{r}")
            print(f"hung pages, run {r + 1}: {hung_out}", flush=True)
        nursery.cancel_scope.cancel()
    return records, hung_out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return med(values, 1000, "{:.0f}")


def closed_cell(values: list[float | None]) -> str:
    shut = [v for v in values if v is not None]
    still = len(values) - len(shut)
    text = ms(shut) if shut else "never"
    return text + (f"; {still} of {len(values)} still open 0.2 s after the next answer" if still else "")


def excerpt(text: str, port: str) -> str:
    lines = [line[:110] for line in text.replace(port, "PORT").splitlines() if line.strip()][:14]
    return "\n".join(lines)


def report(args: argparse.Namespace, records: dict[str, Record], hung_out: dict, base: str, version: str) -> str:
    o, t = records["ours"], records["playwright-mcp"]
    names = list(records)
    heads = {
        "ours": "gptme-trio mcp (ours)",
        "ours-before": "ours, before (--before)",
        "playwright-mcp": f"@playwright/mcp {version}",
    }
    free = [v for v in o.tab_free if not math.isnan(v)]
    rate = statistics.median(o.rates) / statistics.median(t.rates)
    port = base.rsplit(":", 1)[1]

    def row(label: str, cell: Any, ratio: str = "", goal: str = "", result: str = "") -> str:
        return f"| {label} | " + " | ".join(cell(records[n]) for n in names) + f" | {ratio} | {goal} | {result} |"

    def ratio(attr: str) -> str:
        return f"{statistics.median(getattr(o, attr)) / statistics.median(getattr(t, attr)):.2f}×"

    def free_cell(r: Record) -> str:
        got = [v for v in r.tab_free if not math.isnan(v)]
        return ms(got) if got else "—"

    def hung_cell(name: str, kind: str) -> str:
        cells = []
        for seconds, what in hung_out.get(f"{name} {kind}", []):
            if kind == "idle":
                cells.append(
                    f"still open at {IDLE_CAP:.0f} s"
                    if seconds is None
                    else f"{seconds * 1000:.0f} ms"
                    if seconds < 1
                    else f"{seconds:.1f} s"
                )
            else:
                cells.append(what if seconds is None else f"{seconds:.1f} s: `{what}`")
        return "; ".join(cells) or "—"

    rows = [
        row(
            "reads/s, 20 pages, first (browser start) included",
            lambda r: med(r.rates),
            f"**{rate:.2f}×**",
            "≥ 1.5×",
            "PASS" if rate >= 1.5 else "**MISS**",
        ),
        row(
            "reads/s, 20 pages, counted from the server's spawn (its start-up and handshake included)",
            lambda r: med(r.whole),
            f"{statistics.median(o.whole) / statistics.median(t.whole):.2f}×",
        ),
        row(
            "server spawned → `initialize` answered, s (not in the first row)",
            lambda r: med(r.spawned),
            ratio("spawned"),
        ),
        row("first read (starts the browser), s", lambda r: med(r.first), ratio("first")),
        row("reads 2-20, ms", lambda r: ms(r.later), ratio("later")),
        row("peak RSS of the server's process tree, MiB", lambda r: med(r.rss, 1 / MiB, "{:.0f}"), ratio("rss")),
        row(
            f"cancel → the server's tab back for reuse, ms ({len(free)} cancels)",
            free_cell,
            "",
            "≤ 50 ms (median)",
            "PASS" if free and statistics.median(free) <= 0.050 else "**MISS**",
        ),
        row(
            "of which in the server: its scope cancelled → tab back (the log line's own figure), ms",
            lambda r: ms(r.tab_reset) if r.tab_reset else "—",
        ),
        row(
            "cancel → the hung request's connection closed (next read sent at once), ms",
            lambda r: closed_cell(r.conn_closed),
        ),
        row(
            f"cancel → the next read answered, ms ({len(o.after)} cancels each)", lambda r: ms(r.after), ratio("after")
        ),
        row("a normal read (3 per round, before the cancels), ms", lambda r: ms(r.normal), ratio("normal")),
        row(
            "**next read after a cancel / a normal read** (ratio of medians)",
            lambda r: f"**{statistics.median(r.next_read) / statistics.median(r.normal):.2f}×**",
        ),
        "| cancelled after 1 s, no next call: the hung connection closed after | "
        + " | ".join(hung_cell(n, "idle") for n in names)
        + " | | | |",
        "| hung page, no client timeout: the answer came after | "
        + " | ".join(hung_cell(n, "hung") for n in names)
        + " | | | |",
    ]
    dist = ""
    if free:
        dist = (
            f"Ours, cancel → tab back for reuse over {len(free)} cancels: median {statistics.median(free) * 1000:.0f} ms, "
            f"p90 {pct(free, 0.9) * 1000:.0f} ms, max {max(free) * 1000:.0f} ms; {sum(v <= 0.050 for v in free)} of "
            f"{len(free)} within 50 ms. All, ms: " + ", ".join(f"{v * 1000:.0f}" for v in sorted(free)) + ".\n\n"
            "Where it goes, medians (min–max), ms: client deadline → the server's scope cancelled (the SDK's "
            "notification, 1 ms log resolution) "
            + " → ".join(
                f"{what} {med([p[k] for p in o.phases], 1000, '{:.1f}')}"
                for k, what in enumerate(("", "navigation stopped", "renderer answered: tab back"))
            ).lstrip()
            + "."
        )
    return f"""## Side by side

1 warm-up round, then {args.runs} rounds; in each, a fresh server per side, the sides alternating (reversed every
other round); {args.cancels} cancels per side per round. Medians (min–max). Ratio: ours / @playwright/mcp.
Times from a cancel start at the client's deadline (the SDK then sends `notifications/cancelled`).

| measure | {" | ".join(heads[n] for n in names)} | ratio | goal | result |
|---|{"---|" * len(names)}---|---|---|
{chr(10).join(rows)}

{dist}

What happens on a cancel:
- Ours: the SDK cancels the call's Trio scope; in the background the tab's navigation is stopped (CDP
  `Page.stopLoading`) and its renderer pinged; the tab is back for reuse when it answered (the "tab back for
  reuse" row: the server's `-v` log line; a next read waits for it, at most 0.5 s, then opens a new tab).
- @playwright/mcp: the cancel is ignored and the hung `browser_navigate` runs on: with no next call, to its
  60 s navigation timeout (the "no next call" row). A next `browser_navigate` replaces the hung navigation (it
  does not queue), but a next `browser_snapshot` alone waits behind it and fails after 30 s
  ("TimeoutError: browserBackend.callTool: Timeout 30000ms exceeded"; seen while writing this bench, not
  timed here). Its tab is never free on a cancel: only another navigation or the timeout ends the hung one.

What one read returns (the first round's last page, the port replaced by PORT):
- ours, `read_url`: {statistics.median(o.chars):.0f} characters, the main content as Markdown with metadata and links:

```
{excerpt(o.sample, port)}
```

- @playwright/mcp, `browser_navigate` + `browser_snapshot`: {statistics.median(t.chars):.0f} characters (both
  answers); navigate gives the code it ran, the URL, the title and a link to a snapshot file; the content is
  the ARIA snapshot (YAML) from `browser_snapshot`:

```
{excerpt(t.sample, port)}
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (a fresh server per side each)")
    parser.add_argument("--cancels", type=int, default=4, help="cancelled reads per side per round")
    parser.add_argument("--hung-runs", type=int, default=1, help="runs of the hung-page cases (~75 s each)")
    parser.add_argument("--before", metavar="DIR", help="also run `ours` from this checkout (older code)")
    parser.add_argument("--peers-dir", default=".nox/peers", help="where the peer is installed, from the root")
    parser.add_argument("--out", default=default_out("mcp.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    cli = ensure_peer(args.peers_dir)
    rows = {
        "@playwright/mcp (npm, pinned)": f"{peer_versions(cli)}; in {args.peers_dir}/playwright-mcp",
        "mcp (Python SDK, the client of both)": version("mcp"),
    }
    if args.before:
        rows["ours, before (--before)"] = f"gptme_trio from {args.before}"
    head = header("MCP servers: gptme-trio mcp vs @playwright/mcp", rows)
    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as tmp:
        site = Site(tmp)
        try:
            sides = {"ours": Side("ours", site.env, tmp)}
            if args.before:
                sides["ours-before"] = Side("ours-before", site.env, tmp, root=Path(args.before).resolve())
            sides["playwright-mcp"] = Side("playwright-mcp", site.env, tmp, cli=cli)
            records, hung_out = trio.run(bench, args, sides, site.base)
        finally:
            site.close()
        left = site.wait_gone()
    section = report(args, records, hung_out, site.base, peer_versions(cli).split()[0])
    write(args.out, [head, section, housekeeping(started, left)])


if __name__ == "__main__":
    main()
