"""MCP servers: the CPU a warm read costs, by process, ours next to @playwright/mcp (issue 17).

    python -m bench.mcp_cpu                 # --runs N (default 3) --reads N (default 40) --out FILE

The reads/s of bench/results/mcp.md are bounded by CPU on a 2-core machine: this says whose. Per run, a
fresh server per side (the sides alternating, reversed every other run; the same commands and reads as
bench.mcp_bench: ours `read_url`, theirs `browser_navigate` + `browser_snapshot`), 5 warm-up reads, then
--reads reads of tests/support/pages.py's /normal?page=N. The CPU time (user + system) of every process in
the server's tree is sampled every 100 ms and when the reads end; a process that exits meanwhile counts
up to its last sample. Roles as bench.harness.role; "server" is the process the client started (ours:
Python; theirs: node, which is also its Playwright driver).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import psutil
import trio
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client

from bench.harness import Site, default_out, header, housekeeping, role, rounds, write
from bench.mcp_peers import Side, ensure_peer, peer_versions

ROLES = ("server", "driver", "browser", "renderer", "gpu", "network", "other")


def sample(server: psutil.Process, seen: dict[int, tuple[str, float]]) -> None:
    """The CPU seconds so far of every live process in the server's tree, by pid, with its role."""
    procs = [server, *server.children(recursive=True)] if server.is_running() else []
    for p in procs:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        name = "server" if p.pid == server.pid else role(p)
        if name != "gone":
            seen[p.pid] = (name if name in ROLES else "other", times.user + times.system)


def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per role between the two samples (a process started meanwhile counts from zero)."""
    out = dict.fromkeys(ROLES, 0.0)
    for pid, (name, cpu) in after.items():
        out[name] += cpu - before.get(pid, (name, 0.0))[1]
    return out


async def one(side: Side, site: Site, n: int, reads: int) -> tuple[float, dict[str, float]]:
    """Wall seconds per read and CPU seconds per read by role, for one fresh server."""
    me = psutil.Process()
    others = {p.pid for p in me.children()}
    async with stdio_client(side.params()) as (r, w), ClientSession(r, w) as session:
        await session.initialize()
        (server,) = [p for p in me.children() if p.pid not in others]
        for i in range(5):
            await side.read(session, f"{site.base}/normal?page={n}-warm-{i}")
        before: dict[int, tuple[str, float]] = {}
        sample(server, before)
        now = dict(before)

        async def sampler() -> None:
            while True:
                await trio.sleep(0.1)
                sample(server, now)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sampler)
            started = time.perf_counter()
            for i in range(reads):
                await side.read(session, f"{site.base}/normal?page={n}-{i}")
            wall = time.perf_counter() - started
            nursery.cancel_scope.cancel()
        sample(server, now)
    return wall / reads, {k: v / reads for k, v in spent(before, now).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh servers per side")
    parser.add_argument("--reads", type=int, default=40, help="timed reads per server (after 5 warm-up reads)")
    parser.add_argument("--peers-dir", default=".nox/peers", help="where the peer is installed, from the root")
    parser.add_argument("--out", default=default_out("mcp_cpu.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    cli = ensure_peer(args.peers_dir)
    head = header(
        "MCP servers: the CPU of a warm read, by process",
        {"@playwright/mcp (npm, pinned)": peer_versions(cli), "runs / reads": f"{args.runs} / {args.reads}"},
    )
    with tempfile.TemporaryDirectory(prefix="mcp-cpu-") as tmp:
        site = Site(tmp)
        sides = {"ours": Side("ours", site.env, tmp), "playwright-mcp": Side("playwright-mcp", site.env, tmp, cli)}
        found: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name in sides}
        try:

            async def all_runs() -> None:
                for i, order in rounds(list(sides), args.runs, warmup=0, reverse=True):
                    for name in order:
                        found[name].append(await one(sides[name], site, i, args.reads))
                        print(f"run {i} {name}: {found[name][-1][0] * 1000:.1f} ms/read", flush=True)

            trio.run(all_runs)
        finally:
            site.close()
        left = site.wait_gone()

    def med(name: str, key: str | None) -> float:
        values = [
            wall if key is None else (sum(cpu.values()) if key == "all" else cpu[key]) for wall, cpu in found[name]
        ]
        return statistics.median(values) * 1000

    rows = [f"| {r} | {med('ours', r):.1f} | {med('playwright-mcp', r):.1f} |" for r in ROLES]
    ours_all, theirs_all = med("ours", "all"), med("playwright-mcp", "all")
    ours_wall, theirs_wall = med("ours", None), med("playwright-mcp", None)
    section = f"""## CPU per warm read, ms (medians of {args.runs} servers per side)

| process | gptme-trio mcp (ours) | @playwright/mcp |
|---|---:|---:|
{chr(10).join(rows)}
| **all** | **{ours_all:.1f}** | **{theirs_all:.1f}** |
| wall time per read | {ours_wall:.1f} | {theirs_wall:.1f} |
| cores busy (all / wall) | {ours_all / ours_wall:.2f} | {theirs_all / theirs_wall:.2f} |

CPU per read, ours / @playwright/mcp: {ours_all / theirs_all:.2f}×; wall per read: {ours_wall / theirs_wall:.2f}×. The
bench's own client and page server are not counted (the same for both sides).
"""
    write(args.out, [head, section, housekeeping(started, left)])


if __name__ == "__main__":
    main()
