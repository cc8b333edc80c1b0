"""Where a Playwright program's wall time goes: a timeline of its Playwright calls (stdlib only).

    python -m bench.phase_probe OUT.jsonl -m gptme_trio fetch URL           # ours
    python -m bench.phase_probe OUT.jsonl -m bench.bare_playwright URL      # a module
    python -m bench.phase_probe OUT.jsonl SCRIPT.py ARGS                    # a script
    PEER_PY -m bench.phase_probe OUT.jsonl --entry shot_scraper.cli:cli html URL -o -

From the repository root; stdlib only (it also runs in peers' virtualenvs).

Wraps Playwright's implementation classes (shared by its sync and async APIs, so the same probe times
ours, the bare script and shot-scraper), then runs the program. Each call made is one JSON line in OUT:
{"name", "obj", "t0", "t1"} (time.time(), so the parent's spawn and exit times share the clock). The
wrappers cost microseconds per call; the probe's own start-up (importing Playwright's implementation
before the program does) is part of the program's imports either way. summarize() and pages() turn a
timeline into phases; used by bench.oneshot_peers_bench (figure 1) and bench.throughput_bench (figure 2).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

T_ENTRY = time.time()
CALLS = {  # module -> class -> methods timed
    "_transport": {"PipeTransport": ["connect"]},
    "_connection": {"Connection": ["stop_async"]},
    "_browser_type": {"BrowserType": ["launch"]},
    "_browser": {"Browser": ["new_context", "new_page", "close"]},
    "_browser_context": {"BrowserContext": ["new_page", "close", "cookies", "clear_cookies", "new_cdp_session"]},
    "_page": {"Page": ["goto", "content", "title", "evaluate", "close"]},
    "_cdp_session": {"CDPSession": ["send"]},  # ours runs its page scripts through a CDP session (Runtime.evaluate)
}


def install(out_path: str, ours: bool) -> None:
    import functools
    import importlib

    out = open(out_path, "a", buffering=1)  # noqa: SIM115 - open for the whole run, a line per call
    out.write(json.dumps({"name": "entry", "obj": 0, "t0": T_ENTRY, "t1": time.time()}) + "\n")

    def wrap(cls: type, name: str) -> None:
        fn = getattr(cls, name)

        @functools.wraps(fn)
        async def timed(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            t0 = time.time()
            try:
                return await fn(self, *args, **kwargs)
            finally:
                line = {"name": f"{cls.__name__}.{name}", "obj": id(self), "t0": t0, "t1": time.time()}
                out.write(json.dumps(line) + "\n")

        setattr(cls, name, timed)

    for module, classes in CALLS.items():
        try:
            mod = importlib.import_module(f"playwright._impl.{module}")
        except ImportError:  # Playwright >= 1.65 dropped the underscore: _page -> page
            mod = importlib.import_module(f"playwright._impl.{module[1:]}")
        for cls_name, methods in classes.items():
            for method in methods:
                if hasattr(cls := getattr(mod, cls_name), method):
                    wrap(cls, method)
    if not ours:
        return
    from gptme_trio.fetch import extract  # ours: time the extraction too (to_text / to_markdown, once per page)

    for name in ("to_text", "to_markdown"):
        if (fn := getattr(extract, name, None)) is None:
            continue

        def timed_sync(*args, _fn=fn, _name=name, **kwargs):  # noqa: ANN002, ANN003, ANN202
            t0 = time.time()
            try:
                return _fn(*args, **kwargs)
            finally:
                out.write(json.dumps({"name": f"extract.{_name}", "obj": 0, "t0": t0, "t1": time.time()}) + "\n")

        setattr(extract, name, timed_sync)
    from gptme_trio.core.browser import driver  # ours: fetch spawns the driver itself, before its imports

    spawn = driver.spawn_driver

    def timed_spawn(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        t0 = time.time()
        try:
            return spawn(*args, **kwargs)
        finally:
            out.write(json.dumps({"name": "spawn_driver", "obj": 0, "t0": t0, "t1": time.time()}) + "\n")

    driver.spawn_driver = timed_spawn


def main() -> None:
    import runpy

    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit(print(__doc__))
    out, rest = sys.argv[1], sys.argv[2:]
    install(out, rest[:2] == ["-m", "gptme_trio"])
    if rest[0] == "-m":
        sys.argv = [rest[1], *rest[2:]]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    elif rest[0] == "--entry":
        module, func = rest[1].split(":")
        sys.argv = [module, *rest[2:]]
        sys.exit(getattr(__import__(module, fromlist=[func]), func)())
    else:
        sys.argv = rest
        runpy.run_path(rest[0], run_name="__main__")


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# Figure 1: one page, one process. Phase -> (from, to), as keys of the moments in summarize().
PHASES = {
    "Python start-up + imports + set-up (spawn → driver spawn)": ("spawn", "driver"),
    "Playwright driver: node start + handshake": ("driver", "launch0"),
    "Chromium launch": ("launch0", "launch1"),
    "new context + tab (+ ours: blocking, request filter)": ("launch1", "goto0"),
    "goto(load)": ("goto0", "goto1"),
    "content() (ours: settle, then the document script)": ("goto1", "read1"),
    "after content: extraction, output (→ first close)": ("read1", "close0"),
    "shutdown: close browser, driver, exit": ("close0", "exit"),
}


READS = ("Page.content", "Page.title", "Page.evaluate", "CDPSession.send")  # the calls that read the page


def summarize(events: list[dict], spawn: float, exit_: float) -> dict[str, float]:
    """Seconds per phase of one single-page run (keys of PHASES)."""

    def first(prefix: str | tuple[str, ...], key: str = "t0") -> float:
        return min(e[key] for e in events if e["name"].startswith(prefix))

    def last(prefix: str | tuple[str, ...], key: str = "t1") -> float:
        return max(e[key] for e in events if e["name"].startswith(prefix))

    read1 = last(READS)
    closes = [e["t0"] for e in events if e["name"].endswith((".close", "stop_async")) and e["t0"] >= read1]
    t = {
        "spawn": spawn,
        "driver": first(("spawn_driver", "PipeTransport.connect")),  # ours spawns it before Playwright connects
        "launch0": first("BrowserType.launch"),
        "launch1": last("BrowserType.launch"),
        "goto0": first("Page.goto"),
        "goto1": last("Page.goto"),
        "read1": read1,
        "close0": min(closes, default=exit_),
        "exit": exit_,
    }
    out = {phase: t[b] - t[a] for phase, (a, b) in PHASES.items()}
    out["extraction (inside the row above)"] = sum(
        e["t1"] - e["t0"] for e in events if e["name"].startswith("extract.")
    )
    return out


def pages(events: list[dict]) -> dict[str, list[float]]:
    """Figure 2: per-call durations (s) of each timed call over a many-page run, by call name."""
    calls: dict[str, list[float]] = {}
    for e in events:
        calls.setdefault(e["name"], []).append(e["t1"] - e["t0"])
    return calls


def busy_union(events: list[dict], names: tuple[str, ...]) -> float:
    """Seconds during which at least one call named in `names` was in flight."""
    spans = sorted((e["t0"], e["t1"]) for e in events if e["name"].startswith(names))
    total, end = 0.0, float("-inf")
    for t0, t1 in spans:
        if t1 > end:
            total += t1 - max(t0, end)
            end = t1
    return total


def median_or_zero(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


if __name__ == "__main__":
    main()
