"""Resume: what listing saved conversations costs (`chat --list`, the `-r` picker) as a home fills up.

    python -m bench.resume_bench [--runs 5] [--out bench/results/resume.md]

Homes of 0, 100 and 1,000 conversations, each 20 exchanges (a 300-character question, a 4 KB tool
result, a 900-character answer: 81 messages, ~116 KB), written through the store. Measured, the
commands alternating in every round after a warm-up: `gptme-trio chat --list` as a whole process, and
in a pseudo-terminal (pexpect, PROMPT_TOOLKIT_NO_CPR=1) `gptme-trio chat -r` from spawn to the picker's
question, next to `gptme-trio chat` from spawn to its prompt (a new conversation lists nothing).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pexpect

from bench.harness import PASS, ROOT, alternate, children_cpu, default_out, header, housekeeping, med, write
from gptme_trio.chat.store import Conversation
from gptme_trio.llm import Message, ToolCall

SIZES = (0, 100, 1000)
EXCHANGES = 20
PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")
PICKER = re.compile(rb"Resume which\?")
TARGET_RATIO = 1.25  # CPU of the picker (100 or 1,000 saved) next to a plain start's


def fill(home: Path, count: int) -> None:
    for n in range(count):
        conversation = Conversation.new(home, f"talk-{n:04d}", "local/bench")
        conversation.append(Message("system", "You are a bench."))
        for i in range(EXCHANGES):
            call = ToolCall(f"c{i}", "read_url", {"url": f"https://example.com/{n}/{i}"})
            conversation.append(Message("user", f"question {i} " + "q" * 300))
            conversation.append(Message("assistant", "", [call]))
            conversation.append(Message("tool", "page " + "p" * 4000, call_id=call.id, name="read_url"))
            conversation.append(Message("assistant", "answer " + "a" * 900), {"model": "local/bench"})
        os.utime(conversation.path, (time.time() - n, time.time() - n))


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "GPTME_TRIO_HOME": str(home), "PROMPT_TOOLKIT_NO_CPR": "1", "GPTME_TRIO_MODEL": ""}


def time_list(home: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gptme_trio", "chat", "--list"], env=env_for(home), cwd=ROOT, capture_output=True
    )
    took = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    return took


def time_tty(home: Path, args: list[str], until: re.Pattern[bytes]) -> float:
    started = time.perf_counter()
    child = pexpect.spawn(sys.executable, ["-m", "gptme_trio", "chat", *args], env=env_for(home), timeout=60, cwd=ROOT)
    child.expect(until)
    took = time.perf_counter() - started
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=default_out("resume.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    cpu: dict[str, list[float]] = {}

    def one(name: str) -> float:
        """Wall seconds of the job `name`; its CPU-s (the process, reaped) go to `cpu`."""
        before = children_cpu()
        wall = jobs[name]()
        cpu.setdefault(name, []).append(children_cpu() - before)
        return wall

    with tempfile.TemporaryDirectory(prefix="resume-bench-") as tmp:
        homes = {size: Path(tmp) / f"home-{size}" for size in SIZES}
        for size, home in homes.items():
            fill(home, size)
        log_kb = sum(f.stat().st_size for f in (homes[100] / "conversations").rglob("*")) / 100 / 1024
        jobs: dict[str, Callable[[], float]] = {}
        for size, home in homes.items():
            jobs[f"list:{size}"] = functools.partial(time_list, home)
            if size:
                jobs[f"picker:{size}"] = functools.partial(time_tty, home, ["-r"], PICKER)
        jobs["new:1000"] = functools.partial(time_tty, homes[1000], [], PROMPT)
        wall = alternate(list(jobs), args.runs, one)
    cpu = {name: values[-args.runs :] for name, values in cpu.items()}  # the warm-up's left out
    rows = []
    for name, what in [
        *[(f"list:{size}", f"`chat --list`, {size:,} conversations") for size in SIZES],
        ("new:1000", "`chat` spawn → prompt (new conversation), 1,000 saved; then Ctrl-D"),
        *[(f"picker:{size}", f"`chat -r` spawn → picker shown, {size:,} saved; then Ctrl-D") for size in SIZES if size],
    ]:
        rows.append(f"| {what} | {med(cpu[name], 1000, '{:.0f}')} | {med(wall[name], 1000, '{:.0f}')} |")
    base = statistics.median(cpu["new:1000"])
    ratios = []
    for size in SIZES[1:]:
        ratio = statistics.median(cpu[f"picker:{size}"]) / base
        ratios.append(
            f"| CPU, picker ({size:,} saved) / plain start | {ratio:.2f}× | ≤ {TARGET_RATIO}× | "
            f"{PASS[ratio <= TARGET_RATIO]} |"
        )
    per_conversation = (statistics.median(cpu["list:1000"]) - statistics.median(cpu["list:0"])) / 1000
    section = f"""{header("Resume: listing saved conversations")}
Homes of {", ".join(f"{s:,}" for s in SIZES)} conversations, {EXCHANGES} exchanges each ({4 * EXCHANGES + 1} messages,
{log_kb:.0f} KB on disk each), written through the store. 1 warm-up, then {args.runs} runs of each, alternating.
`--list` is the whole process; the pseudo-terminal runs go from spawn to the picker's question or the
prompt, then Ctrl-D. CPU is the process's own (user + system, from its rusage once reaped): unlike the
wall times it barely moves with the machine's load. Every log is read through the store's own loader
(what is listed is what resumes); the picker reads only the newest 20 where something was said,
`--list` reads them all: {per_conversation * 1000:.2f} ms of CPU per conversation.

| measure | CPU ms, median (min–max) | wall ms, median (min–max) |
|---|---|---|
{chr(10).join(rows)}

Ratios of medians (the start-up target itself, ≤ 500 ms wall, is chat.md's, judged on a quiet machine):

| measure | ratio | target | result |
|---|---|---|---|
{chr(10).join(ratios)}
"""
    write(args.out, [section, housekeeping(started, [])])


if __name__ == "__main__":
    main()
