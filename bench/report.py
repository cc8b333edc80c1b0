"""Assemble bench/RESULTS.md from the parts in bench/results/ (each written by its own script).

Run from the repo root: `python bench/report.py` (`nox -s bench` runs every benchmark, then this).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PARTS = [  # (file, what it covers)
    ("fetch.md", "fetch: whole process vs bare Playwright, cancellation, CPU per page"),
    ("oneshot_peers.md", "figure 1: one-shot fetch, whole process, vs shot-scraper and bare Playwright"),
    ("gptme_cancel.md", "figure 3: cancellation, ours next to gptme's browser thread"),
    ("extraction.md", "extraction quality on 181 pages vs trafilatura and readability-lxml"),
    ("chat.md", "chat start-up, and the delay from a streamed token on the wire to the terminal"),
    ("throughput.md", "100 pages at -j 1/4/8: pages/s and peak memory, vs crawl4ai and gptme"),
    ("policy.md", "URL policy: every bypass attempt and its outcome"),
    ("policy_browser.md", "URL policy in a real Chromium: request guard alone vs guard + policy proxy, and its cost"),
    ("soak.md", "soak: 1,000 fetches and 300 chat tool calls, memory/fds/processes every 50"),
    ("soak_long.md", "soak, long: 5,000 fetches in one process (run apart from nox -s bench: 5 min; command inside)"),
    ("faults.md", "fault matrix: signals, crashes and server faults injected at random moments"),
]


def durations() -> list[str]:
    """The table of how long each part of the last `nox -s bench` took (noxfile.py writes durations.json)."""
    path = BENCH / "results" / "durations.json"
    if not path.exists():
        return ["", "(No part durations: this file was not built by `nox -s bench`.)"]
    data = json.loads(path.read_text())
    rows = [f"| {p['part']} | `{p.get('command', '')}` | {p['seconds']:.0f} |" for p in data["parts"][:-1]]
    total = data["parts"][-1]
    return [
        "",
        f"Run time of each part of the last `{data['command']}` (wall seconds, in the order they ran; the report",
        "itself, under a second, is not in it). Budget: under 30 minutes in all, 25 planned.",
        "",
        "| part | command | s |",
        "|---|---|---|",
        *rows,
        f"| **{total['part']}** | | **{total['seconds']:.0f} ({total['seconds'] / 60:.1f} min)** |",
    ]


def main() -> None:
    lines = [
        "# Benchmarks",
        "",
        "`nox -s bench` runs every script below on this machine and rebuilds this file. Each part",
        "says the command that produced it, when, and on what; comparisons are ratios measured in the same run (alternating runs).",
        "",
    ]
    lines += [f"- `results/{name}`: {what}" for name, what in PARTS]
    lines += durations()
    for name, _ in PARTS:
        path = BENCH / "results" / name
        text = path.read_text() if path.exists() else f"# {name}\n\n(not run yet)\n"
        lines += ["", "---", "", re.sub(r"(?m)^(#+) ", r"#\1 ", text).strip()]  # one level down
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
