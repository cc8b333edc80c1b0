"""Where a read's time goes in `gptme-trio mcp`: the first read (it starts the browser) and a warm one, by phase.

Run from the repository root (127.0.0.1 only; ~1 minute with 5 runs, ~2 with --before):

    python -m bench.mcp_phases [--runs 5] [--before DIR]

Each run: a fresh server, `python bench/mcp_phases.py --serve EVENTS mcp --tools read_url ...`: `gptme-trio mcp`
(from the repository root, or from DIR: `--before`, older code) with timing wrappers on Playwright's calls and
ours, each call one JSON line in EVENTS (time.time(): the client's clock). The SDK's client spawns it, sends
`initialize`, then reads /normal?page=N 20 times (bench/mcp_bench.py's reads). Phases are the wrapped calls'
own durations inside a read, from the client's send to its answer; "the rest" is what no phase covers (the MCP
round trip, the tool's own code, the gaps between calls). Medians over the runs, sides alternating.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import time

# The calls timed in the server: (module, attribute path). Those missing in a version are skipped.
TIMED = (
    ("playwright._impl._transport", "PipeTransport.connect"),
    ("playwright._impl._browser_type", "BrowserType.launch"),
    ("playwright._impl._browser", "Browser.new_context"),
    ("playwright._impl._browser_context", "BrowserContext.grant_permissions"),
    ("playwright._impl._browser_context", "BrowserContext.new_page"),
    ("gptme_trio.fetch.extract", "load_libraries"),
    ("gptme_trio.core.browser.service", "BrowserService._start_once"),
    ("gptme_trio.core.browser.page", "Page.setup"),
    ("gptme_trio.core.browser.page", "Page.prepare_reuse"),
    ("gptme_trio.core.browser.page", "Page.goto"),
    ("gptme_trio.core.browser.page", "Page.settle"),
    ("gptme_trio.core.browser.page", "Page.document"),
    ("gptme_trio.fetch.batch", "_fill"),
)
# Phase -> the calls it sums (their durations inside the read).
PHASES = {
    "browser start: driver (node) and Chromium": ("BrowserService._start_once",),
    "  of which Chromium's launch": ("BrowserType.launch",),
    "extraction libraries loaded (beside the start)": ("extract.load_libraries",),
    "new context (+ its permission)": ("Browser.new_context", "BrowserContext.grant_permissions"),
    "new tab (Chromium starts its renderer)": ("BrowserContext.new_page",),
    "tab set-up (settle tracker, media blocking; the request filter where it routes)": ("Page.setup",),
    "reused tab made ready (cookies cleared)": ("Page.prepare_reuse",),
    "navigation (load, through the policy proxy; the request filter judging it)": ("Page.goto",),
    # One phase: since the read settles inside Page.document (one script), Page.settle alone is not called.
    "settle, then the document read (overlays removed, shadow roots in place)": ("Page.settle", "Page.document"),
    "extraction, Markdown, metadata, links": ("batch._fill",),
}
NOT_SUMMED = ("  of which Chromium's launch", "extraction libraries loaded (beside the start)")  # inside/beside others


def serve(events: str, argv: list[str]) -> None:
    """The server side: gptme_trio (from the working directory) with every TIMED call written to `events`."""
    import importlib
    import runpy

    sys.path[0] = os.getcwd()  # gptme_trio from here (the root or --before's DIR), not this script's folder
    out = open(events, "a", buffering=1)  # noqa: SIM115 - open for the whole run, a line per call

    def wrap(module: str, path: str) -> None:
        owner_name, _, name = path.rpartition(".")
        mod = importlib.import_module(module)
        owner = getattr(mod, owner_name) if owner_name else mod
        fn, label = getattr(owner, name, None), f"{owner_name or module.rsplit('.', 1)[-1]}.{name}"
        if fn is None:
            return

        def note(t0: float) -> None:
            out.write(json.dumps({"name": label, "t0": t0, "t1": time.time()}) + "\n")

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                t0 = time.time()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    note(t0)
        else:

            @functools.wraps(fn)
            def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                t0 = time.time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    note(t0)

        setattr(owner, name, timed)

    for module, path in TIMED:
        wrap(module, path)
    sys.argv = ["gptme_trio", *argv]
    runpy.run_module("gptme_trio", run_name="__main__", alter_sys=True)


def main() -> None:
    import argparse
    import statistics
    import tempfile
    from pathlib import Path

    import trio
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from bench.harness import CHROMIUM, ROOT, Site, default_out, header, housekeeping, rounds, write

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="DIR", help="also time the server from this checkout (older code)")
    parser.add_argument("--out", default=default_out("mcp_phases.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    head = header("gptme-trio mcp: where a read's time goes", {"runs": str(args.runs)})  # the load at start
    roots = {"ours": ROOT, **({"before": Path(args.before).resolve()} if args.before else {})}
    found: dict[str, list[dict[str, float]]] = {f"{side} {read}": [] for side in roots for read in ("first", "warm")}
    spawned: dict[str, list[float]] = {side: [] for side in roots}

    async def run(side: str, site: Site, tmp: str, n: int) -> None:
        events = Path(tmp) / f"{side}-{n}.jsonl"
        argv = ["mcp", "--tools", "read_url", "--allow-hosts", "127.0.0.1", "--browser-path", CHROMIUM]
        params = StdioServerParameters(
            command=sys.executable, args=[__file__, "--serve", str(events), *argv], cwd=str(roots[side]), env=site.env
        )
        with (Path(tmp) / "stderr.txt").open("a") as errlog:
            t0 = time.time()
            async with stdio_client(params, errlog=errlog) as (r, w), ClientSession(r, w) as session:
                await session.initialize()
                spawned[side].append(time.time() - t0)
                reads = []
                for i in range(20):
                    t = time.time()
                    result = await session.call_tool("read_url", {"url": f"{site.base}/normal?page={n * 100 + i}"})
                    assert not result.is_error, result
                    reads.append((t, time.time()))
        calls = [json.loads(line) for line in events.read_text().splitlines()]
        for read, (a, b) in (("first", reads[0]), ("warm", reads[-1])):
            inside = [c for c in calls if a <= c["t0"] and c["t1"] <= b]
            phases = {p: sum(c["t1"] - c["t0"] for c in inside if c["name"] in names) for p, names in PHASES.items()}
            phases["the rest: MCP round trip, the tool's code, gaps"] = (b - a) - sum(
                v for p, v in phases.items() if p not in NOT_SUMMED
            )
            phases["the whole read"] = b - a
            found[f"{side} {read}"].append(phases)

    with tempfile.TemporaryDirectory(prefix="mcp-phases-") as tmp:
        site = Site(tmp)
        try:

            async def all_runs() -> None:
                for i, order in rounds(list(roots), args.runs, warmup=1, reverse=True):
                    for side in order:
                        await run(side, site, tmp, i)
                        if i < 1:  # the warm-up round is not counted
                            found[f"{side} first"].pop(), found[f"{side} warm"].pop(), spawned[side].pop()

            trio.run(all_runs)
        finally:
            site.close()
        left = site.wait_gone()

    cols = [f"{side} {read}" for read in ("first", "warm") for side in roots]
    heads = {"ours first": "first read, ours", "before first": "first read, before", "ours warm": "20th read, ours"}
    heads["before warm"] = "20th read, before"

    def cell(key: str, phase: str) -> str:
        values = [run[phase] * 1000 for run in found[key]]
        return f"{statistics.median(values):.0f}" if any(values) else "—"

    lines = [
        f"| phase, ms (medians of {args.runs} runs) | " + " | ".join(heads[c] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
        *(f"| {p} | " + " | ".join(cell(c, p) for c in cols) + " |" for p in found[cols[0]][0]),
    ]
    init = ", ".join(f"{side} {statistics.median(v):.2f} s" for side, v in spawned.items())
    section = f"""## Phases

A fresh server per run (the sides alternating{", --before: " + args.before if args.before else ""}); the first
read starts the browser, the 20th is a warm one. Server spawned → `initialize` answered (not in any read):
{init}.

{chr(10).join(lines)}
"""
    write(args.out, [head, section, housekeeping(started, left)])


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3:])
    else:
        main()
