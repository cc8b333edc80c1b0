"""Figure 1, one URL: `gptme-trio fetch URL` vs shot-scraper `html` and the bare Playwright script, whole process.

Run from the repo root (talks only to 127.0.0.1; about a minute, plus building the peer venv once):

    python -m bench.oneshot_peers_bench     # optional: --runs N (default 9, >= 5)
        [--shot-scraper-python PY] [--peers-dir .nox/peers]

Against /normal on tests/support/pages.py: 1 warm-up round, then --runs rounds; in every round the commands run
one after another (A, B, S), each a fresh process, timed from start to exit. Then --probe-runs rounds of the
same commands under bench.phase_probe: a phase table (imports, driver start, launch, tab, goto, content,
extraction, shutdown) and the paragraph on where the time goes, from this run's numbers (timelines of the
last round saved in bench/profiles/). shot-scraper runs from its
own bench-only virtualenv (bench.peers) on the same Chromium (bench.harness.CHROMIUM) with the same flags; it has no
executable-path option, so PLAYWRIGHT_BROWSERS_PATH points Playwright at symlinks to it (see peers.py).
Writes bench/results/oneshot_peers.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import peers, phase_probe
from bench.bare_playwright import CHROMIUM_ARGS
from bench.harness import CHROMIUM, PASS, Site, alternate, default_out, header, housekeeping, med, shown, write

PROFILES = Path(__file__).resolve().parent / "profiles"


def bench(site: Site, args: argparse.Namespace, shot: str) -> str:
    url, py = site.base + "/normal", sys.executable
    shot_cmd = [str(Path(shot).parent / "shot-scraper"), "html", url, "-o", "-"]
    shot_cmd += [f"--browser-arg={arg}" for arg in CHROMIUM_ARGS]
    variants = {  # label -> (command, text its stdout must contain, extra env)
        "A: `python -m gptme_trio fetch URL`": ([py, "-m", "gptme_trio", "fetch", url], "Normal page", {}),
        "B: `python -m bench.bare_playwright URL`": ([py, "-m", "bench.bare_playwright", url, CHROMIUM], "", {}),
        "S: `shot-scraper html URL -o - --browser-arg=...`": (shot_cmd, "Normal page", peers.env("shot-scraper", shot)),
    }
    times = alternate(list(variants), args.runs, lambda name: site.run(*variants[name], timeout=60)[0])
    a, b, s = (statistics.median(v) for v in times.values())
    profile = probe(site, args, variants) if args.probe_runs else None
    rows = "\n".join(f"| {name} | {med(v, 1, '{:.3f}')} | — | info |" for name, v in times.items())
    sv, pv, flags = peers.version(shot, "shot-scraper"), peers.version(shot, "playwright"), " ".join(CHROMIUM_ARGS)
    quick = " (fewer than 5: a quick try, not a result)" if args.runs < 5 else ""
    return f"""## Figure 1: one-shot fetch, whole process (one URL: /normal)

1 warm-up + {args.runs} runs{quick} of each command, alternating A, B, S in every round;
wall time from start to exit of each process. A is ours. B is `python -m bench.bare_playwright` (plain asyncio
Playwright: launch, one page, goto(load), content(), close). S is shot-scraper {sv} (Playwright {pv}, sync
API: launch, new context and page, goto(load), content(), write to stdout), given our launch flags
({flags}) as `--browser-arg`, so both launch the same browser with the same flags. Playwright runs
shot-scraper's headless Chromium as its "chromium-headless-shell", here a symlink to {CHROMIUM}
(that launch lacks only `--hide-scrollbars --mute-audio` of ours).

| Command | median s (min–max) | target | result |
|---|---|---|---|
{rows}
| **ratio of medians A / S** (ours / shot-scraper) | **{a / s:.3f}×** | ≤ 0.8× | {PASS[a / s <= 0.8]} |
| ratio of medians A / B (ours / bare Playwright; also in results/fetch.md) | {a / b:.3f}× | ≤ 1.3× | {PASS[a / b <= 1.3]} |
| ratio of medians S / B (shot-scraper / bare Playwright) | {s / b:.3f}× | — | info |
{explain(profile, a, b, s) + profile["table"] if profile else ""}"""


def probe(site: Site, args: argparse.Namespace, variants: dict) -> dict:
    """--probe-runs more rounds of A, B, S under bench.phase_probe: median seconds per phase, per command."""
    phases: dict[str, list[dict]] = {name[:1]: [] for name in variants}
    PROFILES.mkdir(exist_ok=True)
    for i in range(args.probe_runs):
        for name, (cmd, expect, env) in variants.items():
            out = os.path.join(site.tmp, f"probe-{name[:1]}-{i}.jsonl")
            python, rest = cmd[0], cmd[1:]  # A: -m gptme_trio fetch URL; B: -m bench.bare_playwright URL
            if name[:1] == "S":  # the shot-scraper script's python, its console entry point
                python, rest = str(Path(cmd[0]).parent / "python"), ["--entry", "shot_scraper.cli:cli", *rest]
            spawn = time.time()
            site.run([python, "-m", "bench.phase_probe", out, *rest], expect, env, timeout=60)
            phases[name[:1]].append(phase_probe.summarize(phase_probe.load(out), spawn, time.time()))
            if i == args.probe_runs - 1:  # the last round's timelines, a few KB each
                shutil.copy(out, PROFILES / f"oneshot-{name[:1]}.jsonl")
    med = {k: {p: statistics.median(r[p] for r in runs) for p in runs[0]} for k, runs in phases.items()}
    rows = "\n".join(
        f"| {p} | {med['A'][p] * 1000:.0f} | {med['B'][p] * 1000:.0f} | {med['S'][p] * 1000:.0f} | "
        f"{(med['A'][p] - med['S'][p]) * 1000:+.0f} |"
        for p in med["A"]
    )
    table = f"""
Phases (`python -m bench.phase_probe`: {args.probe_runs} more rounds of A, B, S, each under a probe that timestamps every
Playwright call and, in ours, the extraction; ms, median per phase; the probe adds microseconds per call):

| phase | A (ours) | B (bare) | S (shot-scraper) | A − S |
|---|---|---|---|---|
{rows}
"""
    return {"table": table, "med": med}


def explain(profile: dict, a: float, b: float, s: float) -> str:
    """Figure 1's paragraph, from this run's numbers."""
    med, ms = profile["med"], lambda x: f"{x * 1000:.0f} ms"  # noqa: E731
    keys = list(phase_probe.PHASES)

    def than(d: float) -> str:
        return f"{ms(d)} more than" if d >= 0 else f"{ms(-d)} less than"

    diff = {k: med["A"][k] - med["S"][k] for k in keys}
    worse = ", ".join(
        f"{k.split(' (')[0].split(':')[0]} {ms(v)}" for k, v in sorted(diff.items(), key=lambda kv: -kv[1]) if v > 0.01
    )
    return f"""
**Where the time goes (figure 1).** Ours takes {than(a - s)} shot-scraper and {than(a - b)} the bare
script (medians of the timed rounds). By phase (table below), ours is slower than shot-scraper in: {worse or "none"}.
The target, 0.8 × S = {0.8 * s:.3f} s, is {than(0.8 * s - b)} the bare script (B = {b:.3f} s). Ours spawns
Playwright's driver before it imports the rest of the CLI (core/browser/driver.py), so the driver's start (node
start + handshake: {ms(med["A"][keys[1]])}) runs beside those imports. Before the spawn, ours spends
{ms(med["A"][keys[0]])} (Python start-up and the CLI's imports; the bare script {ms(med["B"][keys[0]])}). Its shutdown,
{ms(med["A"][keys[7]])} (bare {ms(med["B"][keys[7]])}), closes Chromium and the driver before it exits: exiting first
would leave them running after the CLI, which our rule (every child process gone when we return, tested) forbids.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command (>= 5)")
    parser.add_argument("--probe-runs", type=int, default=3, help="more rounds under bench.phase_probe (0: none)")
    parser.add_argument(
        "--shot-scraper-python", help="python of a venv with shot-scraper (default: bench.peers makes one)"
    )
    parser.add_argument("--peers-dir", default=peers.DEFAULT_DIR, help="where bench.peers keeps the venvs")
    parser.add_argument("--out", default=default_out("oneshot_peers.md"))
    args = parser.parse_args()
    if args.runs < 5:
        print(f"note: --runs {args.runs} < 5 is a quick try, not a result", file=sys.stderr)
    started = time.perf_counter()
    shot, reason = peers.resolve("shot-scraper", args.shot_scraper_python, args.peers_dir)
    sections = [header("One-shot fetch vs shot-scraper", {"shot-scraper venv": shown(shot) if shot else "-"})]
    with tempfile.TemporaryDirectory(prefix="oneshot-peers-") as tmp:
        site = Site(tmp)
        try:
            if shot is None:
                sections.append(f"## Figure 1: one-shot fetch vs shot-scraper\n\nNot run: {reason}\n")
            else:
                sections.append(bench(site, args, shot) + "\n" + site.noise.line() + "\n")
            print(sections[-1], flush=True)
        finally:
            site.close()
        left = site.wait_gone()
    sections.append(housekeeping(started, left))
    write(args.out, sections)


if __name__ == "__main__":
    main()
