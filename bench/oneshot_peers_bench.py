"""Figure 1, one URL: `gptme-trio fetch URL` vs shot-scraper `html` and the bare Playwright script, whole process.

Run from the repo root (talks only to 127.0.0.1; about a minute, plus building the peer venv once):

    .venv/bin/python bench/oneshot_peers_bench.py     # optional: --runs N (default 9, >= 5)
        [--shot-scraper-python PY] [--peers-dir .nox/peers]

Against /normal on tests/pages.py: 1 warm-up round, then --runs rounds; in every round the commands run
one after another (A, B, S), each a fresh process, timed from start to exit. shot-scraper runs from its
own bench-only virtualenv (bench/peers.py) on the same /usr/bin/chromium with the same flags; it has no
executable-path option, so PLAYWRIGHT_BROWSERS_PATH points Playwright at symlinks to it (see peers.py).
Writes bench/results/oneshot_peers.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402 - bench/ is not a package
from bare_playwright import CHROMIUM_ARGS  # noqa: E402
from peer_common import CHROMIUM, PASS, Site, header, housekeeping, med  # noqa: E402


def bench(site: Site, args: argparse.Namespace, shot: str) -> str:
    url, py = site.base + "/normal", sys.executable
    shot_cmd = [str(Path(shot).parent / "shot-scraper"), "html", url, "-o", "-"]
    shot_cmd += [f"--browser-arg={arg}" for arg in CHROMIUM_ARGS]
    variants = {  # label -> (command, text its stdout must contain, extra env)
        "A: `python -m gptme_trio fetch URL`": ([py, "-m", "gptme_trio", "fetch", url], "Normal page", {}),
        "B: `python bench/bare_playwright.py URL`": ([py, "bench/bare_playwright.py", url, CHROMIUM], "", {}),
        "S: `shot-scraper html URL -o - --browser-arg=...`": (shot_cmd, "Normal page", peers.env("shot-scraper", shot)),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(args.runs + 1):  # round 0 is the warm-up; the variants alternate within each round
        took = {name: site.run(cmd, expect, env, timeout=60)[0] for name, (cmd, expect, env) in variants.items()}
        for name, elapsed in took.items():
            times[name] += [elapsed] if i else []
        print(f"round {i}: " + ", ".join(f"{n[:1]} {t:.3f} s" for n, t in took.items()), flush=True)
    a, b, s = (statistics.median(v) for v in times.values())
    rows = "\n".join(f"| {name} | {med(v, 1, '{:.3f}')} | — | info |" for name, v in times.items())
    sv, pv, flags = peers.version(shot, "shot-scraper"), peers.version(shot, "playwright"), " ".join(CHROMIUM_ARGS)
    quick = " (fewer than 5: a quick try, not a result)" if args.runs < 5 else ""
    return f"""## Figure 1: one-shot fetch, whole process (one URL: /normal)

1 warm-up + {args.runs} runs{quick} of each command, alternating A, B, S in every round;
wall time from start to exit of each process. A is ours. B is bench/bare_playwright.py (plain asyncio
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
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command (>= 5)")
    parser.add_argument("--shot-scraper-python", help="python of a venv with shot-scraper (default: bench/peers.py)")
    parser.add_argument("--peers-dir", default=str(peers.DEFAULT_DIR), help="where bench/peers.py keeps the venvs")
    parser.add_argument("--out", default=str(peers.ROOT / "bench" / "results" / "oneshot_peers.md"))
    args = parser.parse_args()
    if args.runs < 5:
        print(f"note: --runs {args.runs} < 5 is a quick try, not a result", file=sys.stderr)
    started = time.perf_counter()
    shot, reason = peers.resolve("shot-scraper", args.shot_scraper_python, args.peers_dir)
    sections = [header("One-shot fetch vs shot-scraper", {"shot-scraper venv": str(shot or "-")})]
    with tempfile.TemporaryDirectory(prefix="oneshot-peers-") as tmp:
        site = Site(tmp)
        try:
            if shot is None:
                sections.append(f"## Figure 1: one-shot fetch vs shot-scraper\n\nNot run: {reason}\n")
            else:
                sections.append(bench(site, args, shot) + "\n" + site.noise_line() + "\n")
            print(sections[-1], flush=True)
        finally:
            site.close()
        left = site.wait_gone()
    sections.append(housekeeping(started, left))
    Path(args.out).write_text("\n".join(sections))
    print(sections[-1] + f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
