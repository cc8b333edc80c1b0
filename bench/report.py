"""Write bench/RESULTS.md: an index of bench/results/*.md (each written by its own script), never a copy.

    python -m bench.report      # from the repository root; `nox -s bench` runs it last

RESULTS.md holds the headline figures (one key number per target, with PASS / MISS, read from the results
files), a link to every results file, and the table of how long each part of the last `nox -s bench` took.
The results themselves (commands, machine, every row) stay in bench/results/, once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PARTS = [  # (file, what it covers)
    ("fetch.md", "fetch: whole process vs bare Playwright, cancellation, CPU per page"),
    ("oneshot_peers.md", "figure 1: one-shot fetch, whole process, vs shot-scraper and bare Playwright"),
    ("settle.md", "settling after load: one-shot fetch of a static page, default settle vs --settle 0"),
    ("overlays.md", "overlay removal on wcxb-dev pages in Chromium: word-F1 with and without it"),
    ("metadata.md", "metadata and links on wcxb-dev: ms/page on top of extraction, accuracy against the ground truth"),
    ("throughput.md", "figure 2: 100 pages at -j 1/4/8: pages/s and peak memory, vs crawl4ai and gptme"),
    ("gptme_cancel.md", "figure 3: cancellation, ours next to gptme's browser thread"),
    ("shell.md", "shell tool: `sleep 100` interrupted, vs gptme's shell; per-call overhead vs subprocess.run"),
    ("chat.md", "figure 5: chat start-up, and the delay from a streamed token on the wire to the terminal"),
    ("render.md", "issue 16: replies rendered as Markdown: tokens/s and CPU per token; chat start-up vs main"),
    ("eof.md", "issue 14: Ctrl-D -> chat ended, at the prompt, while the model thinks, while a reply streams"),
    ("mcp.md", "issue 17: gptme-trio mcp vs @playwright/mcp: reads/s, cancel -> tab free, RSS, hung pages"),
    ("mcp_phases.md", "issue 17: gptme-trio mcp, where a read's time goes: the first read and a warm one, by phase"),
    ("mcp_cpu.md", "issue 17: the CPU of a warm MCP read, by process, ours and @playwright/mcp"),
    ("nav_cost.md", "issue 17: what the URL policy costs a warm goto: request filter, policy proxy, both, neither"),
    ("resume.md", "issue 16: chat --list and the -r picker with 0/100/1,000 saved conversations (CPU)"),
    (
        "mcp_client.md",
        "issue 17: chat as an MCP client: closing a stdio server vs the SDK's stdio_client (what is left), "
        "cancel latency, chat start and exit with servers",
    ),
    ("extraction.md", "figure 6: extraction quality on 181 pages vs trafilatura and readability-lxml"),
    ("http_batch.md", "issue 13: a whole `fetch --engine http -f json -i LIST` run over 181 local pages, ms/page"),
    (
        "extraction_wcxb.md",
        "issue 13: 4: main content on 7 page types (wcxb-dev, cross-validated) vs trafilatura "
        "and rs-trafilatura (run apart from nox -s bench: ~40 min; command inside)",
    ),
    ("train_blocks.md", "the block classifier's training run (model.json) and its cross-validated scores"),
    ("extraction_speed.md", "the block classifier's ms/page (wall and CPU), before and after a change, one run"),
    (
        "extraction_auto.md",
        "issue 13: --extractor auto (the default) vs trafilatura and blocks alone: wcxb-dev per type "
        "(cross-validated) and ScrapingHub, ms/page (run apart from nox -s bench: ~5 min)",
    ),
    ("policy.md", "URL policy: every bypass attempt and its outcome"),
    ("policy_browser.md", "URL policy in a real Chromium: request guard alone vs guard + policy proxy, and its cost"),
    ("soak.md", "soak: 1,000 fetches and 300 chat tool calls, memory/fds/processes every 50"),
    ("soak_long.md", "soak, long: 5,000 fetches in one process (run apart from nox -s bench: 5 min; command inside)"),
    ("faults.md", "fault matrix: signals, crashes and server faults injected at random moments"),
    (
        "hostile.md",
        "hostile-input replay: all 28 classes of issue 14, varied at random: fetch's 21 (and chat's closed stdin) as "
        "processes, chat's 22-28 in a pseudo-terminal against the scripted model",
    ),
]
VERDICT = r"(?P<verdict>PASS|\*\*MISS\*\*|MISS|\*\*FAIL\*\*|FAIL|\*\*PASS\*\*)"


@dataclass(frozen=True)
class Headline:
    """One key number of a results file: the first line matching `pattern` (groups `value` and `verdict`)."""

    figure: str
    measure: str
    file: str
    pattern: str
    target: str


HEADLINES = [
    Headline("1", "one-shot fetch, ours / shot-scraper (ratio of medians)", "oneshot_peers.md",
             r"ratio of medians A / S\*\*.*?\*\*(?P<value>[\d.]+×)\*\*.*?" + VERDICT, "≤ 0.8×"),
    Headline("1", "one-shot fetch, ours / bare Playwright", "oneshot_peers.md",
             r"ratio of medians A / B .*?\| (?P<value>[\d.]+×) \|.*?" + VERDICT, "≤ 1.3×"),
    Headline("", "one-shot fetch of a static page, default settle / --settle 0", "settle.md",
             r"ratio of medians A / Z\*\*.*?\*\*(?P<value>[\d.]+×)\*\*.*?" + VERDICT, "≤ 1.10×"),
    Headline("2", "throughput -j 4, ours / crawl4ai (pages/s)", "throughput.md",
             r"^\| crawl4ai .*?\*\*(?P<value>[\d.]+×)\*\*.*?" + VERDICT, "≥ 2×"),
    Headline("2", "throughput -j 4, ours / gptme (pages/s)", "throughput.md",
             r"^\| gptme .*?\*\*(?P<value>[\d.]+×)\*\*.*?" + VERDICT, "≥ 5×"),
    Headline("3", "cancellation: deadline → control back, median (ours)", "gptme_cancel.md",
             r"control back, median \| (?P<value>[\d.]+ ms) " + VERDICT, "≤ 50 ms"),
    Headline("3", "next call after a cancel / normal call (ours)", "gptme_cancel.md",
             r"next / normal, ratio of medians\*\* \| \*\*(?P<value>[\d.]+×)\*\* " + VERDICT, "≤ 1.2×"),
    Headline("", "MCP: reads/s on 20 pages, first call included, ours / @playwright/mcp", "mcp.md",
             r"^\| reads/s, 20 pages.*?\*\*(?P<value>[\d.]+×)\*\* \| ≥ 1.5× \| " + VERDICT, "≥ 1.5×"),
    Headline("", "MCP: cancel → the server's tab back for reuse, median ms (ours; @playwright/mcp: never)", "mcp.md",
             r"^\| cancel → the server's tab back for reuse, ms \(\d+ cancels\) \| (?P<value>\d+) .*?" + VERDICT,
             "≤ 50 ms"),
    Headline("", "shell: Ctrl-C → control back, max of 5 (ours)", "shell.md",
             r"control back, max ms \| (?P<value>\d+) " + VERDICT, "≤ 100 ms"),
    Headline("", "shell: processes left after `sleep 100` interrupted (ours)", "shell.md",
             r"orphans alive after the worker exited \(all trials\) \| (?P<value>\d+) " + VERDICT, "0"),
    Headline("", "shell: overhead per call vs bare subprocess.run (ours)", "shell.md",
             r"^\| gptme-trio `shell` .*?\| (?P<value>[+-][\d.]+ ms) " + VERDICT, "≤ 10 ms"),
    Headline("5", "chat start → prompt ready, median ms", "chat.md",
             r"start → prompt ready \| (?P<value>\d+) .*?" + VERDICT, "≤ 500 ms"),
    Headline("5", "streamed token → terminal, median ms (ours)", "chat.md",
             r"^\| `gptme-trio chat` \(ours\) \| (?P<value>[\d.]+) .*?" + VERDICT, "≤ 10 ms"),
    Headline("", "rendered reply, code-heavy: tokens/s through the renderer", "render.md",
             r"Keeps up with 200 tokens/s: (?P<value>[\d,]+) tokens/s rendered.*?" + VERDICT, "≥ 200 tokens/s"),
    Headline("", "rendered reply: share of one core at 200 tokens/s", "render.md",
             r"tokens/s rendered .*?, (?P<value>[\d.]+ %) of one core.*?" + VERDICT, "< 50 %"),
    Headline("5", "chat start → prompt, CPU, this branch / main (render.md's start-up section)", "render.md",
             r"CPU to the prompt, this branch / \S+: (?P<value>[\d.]+×).*?" + VERDICT, "≤ 1.10×"),
    Headline("6", "extraction F1, `fetch --engine http -f text` of local files (auto routes by the address a page declares)", "extraction.md",
             r"^\| \*\*ours: `gptme-trio fetch.*?\| (?P<value>[\d.]+) \|.*?" + VERDICT, "≥ 0.955"),
    Headline("", "extraction F1 on the same 181 articles, --extractor blocks (held out for its model)", "extraction.md",
             r"^\| ours, --extractor blocks .*?\| (?P<value>[\d.]+) \|.*?" + VERDICT, "≥ 0.955"),
    Headline("", "ScrapingHub F1, the default (--extractor auto; its route's constants chosen with it in view)", "extraction_auto.md",
             r"^\| ScrapingHub F1 ≥ 0.955 \(auto\) \| (?P<value>[\d.]+) \| " + VERDICT, "≥ 0.955"),
    Headline("", "wcxb-dev word-F1, 7 page types, cross-validated, the default (--extractor auto)", "extraction_wcxb.md",
             r"^\| word-F1 ≥ 0.87 overall \(auto, the default; cross-validated\) \| (?P<value>[\d.]+) \| " + VERDICT,
             "≥ 0.87"),
    Headline("", "wcxb-dev extraction, ms/page median, the default (--extractor auto)", "extraction_wcxb.md",
             r"^\| extraction ≤ 20 ms/page median \(auto\) \| (?P<value>[\d.]+) \| " + VERDICT, "≤ 20 ms"),
    Headline("", "whole `fetch --engine http -f json -i LIST` run, 181 local pages, ms/page median", "http_batch.md",
             r"^\| ours: `-f json` \(default extraction\) \| (?P<value>[\d.]+) .*?" + VERDICT, "≤ 30 ms"),
    Headline("", "fetch: whole process, ours / bare Playwright", "fetch.md",
             r"ratio of medians A / B\*\* \| \*\*(?P<value>[\d.]+×)\*\*.*?" + VERDICT, "≤ 1.3×"),
    Headline("", "fetch: Python CPU per page, trio-asyncio / asyncio", "fetch.md",
             r"CPU ratio trio-asyncio / asyncio\*\* \| \*\*(?P<value>[\d.]+×)\*\*.*?" + VERDICT, "≤ 2×"),
    Headline("", "URL policy: attempts not as expected", "policy.md",
             r"\*\*(?P<value>\d+) not as expected\*\*", "0"),
    Headline("", "URL policy in Chromium, guard + proxy", "policy_browser.md",
             r"Processes left running: (?P<value>\d+) .*Verdict: " + VERDICT, "nothing reached, 0 left"),
    Headline("", "soak: tree totals flat, every operation succeeds", "soak.md",
             r"Criterion .*?: " + VERDICT + r"(?P<value>)", "flat"),
    Headline("", "soak, long (5,000 fetches)", "soak_long.md",
             r"Criterion .*?: " + VERDICT + r"(?P<value>)", "flat"),
    Headline("", "fault matrix: trials recovered, orphans, corrupt logs", "faults.md",
             r"^\| \*\*total\*\* \| \d+ \| (?P<value>\d+ \([\d.]+ %\) \| \d+ \| \d+) \|", "100 % / 0 / 0"),
    Headline("", "hostile inputs: tried / documented / internal / tracebacks / orphans / damaged", "hostile.md",
             r"^\| \*\*total\*\* \| (?P<value>\d+ \| \d+ \| \d+ \| \d+ \| \d+ \| \d+) \|", "N / N / 0 / 0 / 0 / 0"),
]  # fmt: skip


def headline(h: Headline) -> str:
    path = RESULTS / h.file
    found = re.search(h.pattern, path.read_text(), re.M) if path.exists() else None
    if found is None:
        return f"| {h.figure} | {h.measure} | (not found) | {h.target} | — | [{h.file}](results/{h.file}) |"
    groups = found.groupdict()
    value = groups["value"].replace(" | ", " / ")
    if "verdict" in groups:
        verdict = groups["verdict"].strip("*")
    elif h.file == "hostile.md":
        tried, documented, *bad = value.split(" / ")
        verdict = "PASS" if tried == documented and set(bad) == {"0"} else "FAIL"
    elif h.file == "faults.md":
        verdict = "PASS" if value.endswith("(100 %) / 0 / 0") else "FAIL"
    else:
        verdict = "PASS" if value == h.target else "FAIL"
    verdict = verdict if verdict == "PASS" else f"**{verdict}**"
    return f"| {h.figure} | {h.measure} | {value or '—'} | {h.target} | {verdict} | [{h.file}](results/{h.file}) |"


def durations() -> list[str]:
    """The table of how long each part of the last `nox -s bench` took (noxfile.py writes durations.json)."""
    path = RESULTS / "durations.json"
    if not path.exists():
        return ["(No part durations: `nox -s bench` has not run here.)"]
    data = json.loads(path.read_text())
    rows = [f"| {p['part']} | `{p.get('command', '')}` | {p['seconds']:.0f} |" for p in data["parts"][:-1]]
    total = data["parts"][-1]
    return [
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
        "An index, written by `python -m bench.report`: the results live in `bench/results/`, one file per script,",
        "each with the command that produced it (from the repository root), when, on what machine and at which",
        "commit. `nox -s bench` runs every script and then this. Comparisons are ratios measured in the same run,",
        "the compared commands alternating round by round (bench/harness.py).",
        "",
        "## Headline figures",
        "",
        "| figure | measure | result | target | verdict | details |",
        "|---|---|---|---|---|---|",
        *(headline(h) for h in HEADLINES),
        "",
        "## Results files",
        "",
        *(f"- [results/{name}](results/{name}): {what}" for name, what in PARTS),
        "",
        "## Durations",
        "",
        *durations(),
    ]
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote bench/RESULTS.md ({len(HEADLINES)} headline figures, {len(PARTS)} results files)")


if __name__ == "__main__":
    main()
