"""Chat start-up: from `gptme-trio chat` being run to its prompt being drawn on a terminal.

Run from the repo root: `python bench/chat_bench.py [--runs N]`; writes bench/results/chat.md.
Each run spawns the CLI in a pseudo-terminal (pexpect) with a fresh GPTME_TRIO_HOME and
measures until the prompt appears, then sends Ctrl-D; `python -c pass` is timed the same
way, alternating, as the floor of any Python program here.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")
TARGET = 0.5


def time_chat() -> float:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GPTME_TRIO_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "GPTME_TRIO_MODEL": ""}
        started = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "gptme_trio", "chat"], env=env, timeout=30, cwd=ROOT)
        child.expect(PROMPT)
        elapsed = time.perf_counter() - started
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        return elapsed


def time_python() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def summary(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chat.md"))
    args = parser.parse_args()
    time_chat(), time_python()  # warm-up: file caches
    chat, floor = [], []
    for _ in range(args.runs):
        chat.append(time_chat())
        floor.append(time_python())
    median = statistics.median(chat)
    verdict = "PASS" if median <= TARGET else "MISS"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"""# Chat start-up

Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}<br>
Command: `python bench/chat_bench.py --runs {args.runs}` (Python {platform.python_version()}, {os.cpu_count()} CPUs)

1 warm-up, then {args.runs} runs of each, alternating. Start = the process is spawned in a
pseudo-terminal; end = the prompt is drawn. No model configured (the prompt must not wait
for one); the browser starts lazily, so it is not part of start-up.

| measure | ms, median (min–max) | target | result |
|---|---|---|---|
| `gptme-trio chat` start → prompt ready | {summary(chat)} | ≤ {TARGET * 1000:.0f} | {verdict} |
| `python -c pass` (the floor of any Python program) | {summary(floor)} | — | info |
"""
    )
    print(out.read_text())


if __name__ == "__main__":
    main()
