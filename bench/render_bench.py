"""Issue 16: what rendering replies costs. Run from the repo root: `python -m bench.render_bench [--runs N]`;
writes bench/results/render.md.

Throughput: a synthetic code-heavy reply of 10,000 tokens (~4 characters each: prose, Python, shell, JSON,
tables, lists) goes through chat/display.py's `Display` in process, on a pretend terminal (a StringIO that
says it is a TTY, 120 × 40), token by token, as fast as it will go: rendered (Markdown) and plain,
alternating. Reported: characters and tokens per second, CPU per token, and the slowest single token
(the moment a finished table or paragraph is rendered: what could make the screen fall behind).

Paced: the same reply at 200 tokens/s on Trio's MockClock (virtual time, so the live block is throttled
exactly as in a real stream at that rate, while the CPU measured is real): CPU per token and the share
of one core it takes to keep up. It keeps up when that share is well under 100 %.

Start-up (`--startup-only` measures just this and rewrites just its section): `gptme-trio chat` spawned in a
pseudo-terminal until the prompt is drawn (this branch, with and without --no-color, and --base's code), beside
`python -c pass` and `python -c 'import gptme_trio.cli'` as baselines, alternating; reported as wall and CPU
medians and their ratios, with the load average. rich and Pygments are imported with the first reply only.
"""

from __future__ import annotations

import argparse
import io
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
import psutil
import trio
import trio.testing

from bench.harness import PASS, ROOT, alternate, children_cpu, command, default_out, header, med, write
from bench.harness import commit as bench_commit

TOKENS = 10_000
RATE = 200  # tokens/s the renderer must keep up with
START_TARGET = 0.5
RATIO_TARGET = 1.10  # CPU to the prompt, this branch / the base: no start-up regression
IMPORT_CLI = "import gptme_trio.cli"
IMPORT_CHAT = "import gptme_trio.chat.session, gptme_trio.chat.interactive, gptme_trio.core.network, gptme_trio.core.browser.service, gptme_trio.tools.web, gptme_trio.llm.registry"
STARTUP_HEAD = "## Chat start → prompt"
PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")

PROSE = (
    "The function below reads the file in **chunks** and yields each `record` as soon as it is complete, "
    "so memory stays flat however large the input is; see [the docs](https://docs.python.org/3/) for more.\n\n"
)
PYTHON = '''```python
async def read_records(path: Path, size: int = 65_536) -> AsyncIterator[Record]:
    """Yield every record of `path`, one at a time."""
    buffer = b""
    async with await trio.open_file(path, "rb") as f:
        while chunk := await f.read(size):
            buffer += chunk
            *complete, buffer = buffer.split(b"\\n")
            for line in complete:
                if line.strip():  # blank lines separate nothing
                    yield Record.parse(line.decode("utf-8"))
    if buffer:
        yield Record.parse(buffer.decode("utf-8"))
```

'''
SHELL = """```bash
for f in logs/*.jsonl; do
  jq -c 'select(.level == "error")' "$f" | head -n 20 >> errors.jsonl
done
```

"""
TABLE = """| option | default | meaning |
|--------|---------|---------|
| `size` | 65536 | bytes read at a time |
| `path` | — | the file to read |
| `strict` | false | fail on a malformed line |

"""
LIST = "1. open the file\n2. read a chunk\n   - split it at newlines\n   - keep the unfinished tail\n3. repeat\n\n"
JSON = '```json\n{"name": "example", "values": [1, 2, 3], "nested": {"ok": true, "note": null}}\n```\n\n'


def reply(tokens: int) -> list[str]:
    """A code-heavy reply cut into `tokens` pieces of ~4 characters (whitespace kept with the next word)."""
    one = "".join([PROSE, PYTHON, TABLE, SHELL, PROSE, LIST, JSON, PYTHON])
    pieces = re.findall(r"\s*\S{1,4}|\s+", one)
    return (pieces * (tokens // len(pieces) + 1))[:tokens]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def feed(tokens: list[str], color: bool, rate: float | None) -> dict[str, float]:
    """Run the tokens through a Display; `rate`: tokens/s on a MockClock (None: as fast as it goes)."""
    from gptme_trio.chat.display import Display

    os.environ["COLUMNS"], os.environ["LINES"] = "120", "40"
    slowest = 0.0

    async def main() -> None:
        nonlocal slowest
        display = Display(color=color, out=FakeTTY(), err=FakeTTY())
        async with display.turn("bench/model"):
            display.model_wait(120)
            for token in tokens:
                started = time.perf_counter()
                display.text(token)
                slowest = max(slowest, time.perf_counter() - started)
                if rate:
                    await trio.sleep(1 / rate)
            display.model_wait(None)

    wall, cpu = time.perf_counter(), time.process_time()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0) if rate else None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": wall, "cpu": cpu, "slowest": slowest}


def throughput_section(runs: int) -> tuple[str, float, float]:
    tokens = reply(TOKENS)
    chars = sum(map(len, tokens))
    code = sum(len(block) for block in re.findall(r"```.*?```", "".join(tokens), re.S))
    found: dict[str, list[dict[str, float]]] = {"rendered": [], "plain": []}
    paced: dict[str, list[dict[str, float]]] = {"rendered": [], "plain": []}
    for i in range(runs + 1):  # the first round warms up (imports, caches)
        for name in ("rendered", "plain") if i % 2 else ("plain", "rendered"):
            fast = feed(tokens, name == "rendered", None)
            slow = feed(tokens, name == "rendered", RATE)
            print(f"round {i}: {name} {fast['wall']:.2f} s fast, {slow['cpu']:.2f} s CPU paced", flush=True)
            if i:
                found[name].append(fast)
                paced[name].append(slow)
    rows = []
    for name in ("rendered", "plain"):
        wall = [r["wall"] for r in found[name]]
        cpu_fast = [r["cpu"] / TOKENS * 1e6 for r in found[name]]
        cpu_paced = [r["cpu"] / TOKENS * 1e6 for r in paced[name]]
        share = [r["cpu"] / (TOKENS / RATE) * 100 for r in paced[name]]
        slowest = [r["slowest"] * 1000 for r in found[name]]
        rows.append(
            f"| {name} | {med([chars / w for w in wall], 1, '{:,.0f}')} | {med([TOKENS / w for w in wall], 1, '{:,.0f}')} "
            f"| {med(cpu_fast, 1, '{:.0f}')} | {med(cpu_paced, 1, '{:.0f}')} | {med(share, 1, '{:.1f}')} "
            f"| {med(slowest, 1, '{:.1f}')} |"
        )
    rendered_rate = statistics.median(TOKENS / r["wall"] for r in found["rendered"])
    rendered_share = statistics.median(r["cpu"] / (TOKENS / RATE) * 100 for r in paced["rendered"])
    keeps_up = rendered_rate >= RATE and rendered_share < 50
    verdict = "PASS" if keeps_up else "**MISS**"
    text = f"""## Rendering a streamed reply

{TOKENS:,} tokens, {chars:,} characters, {code / chars:.0%} of them in code blocks (Python, bash, JSON), with
tables, lists, links and emphasis. 1 warm-up round, then {runs} rounds, rendered and plain alternating.
"As fast as it goes": tokens fed back to back. "Paced": {RATE} tokens/s on a MockClock (the live block is
redrawn at most every 50 ms, as in a real stream); CPU is real. Values: median (min–max).

| output | chars/s, as fast as it goes | tokens/s | CPU µs/token | CPU µs/token at {RATE} tok/s | share of one core at {RATE} tok/s, % | slowest token, ms |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

**Keeps up with {RATE} tokens/s: {rendered_rate:,.0f} tokens/s rendered ({rendered_rate / RATE:.0f}× the need), {rendered_share:.1f} % of one core at {RATE} tokens/s: {verdict}**
"""
    return text, rendered_rate, rendered_share


def time_chat(extra: list[str], cpu: list[float], root: Path = ROOT) -> float:
    """Seconds from spawn to the prompt; appends the process's CPU seconds by then to `cpu`. `root`: the
    source tree run (with -m, the working directory leads sys.path: its gptme_trio is imported)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GPTME_TRIO_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "GPTME_TRIO_MODEL": ""}
        started = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "gptme_trio", "chat", *extra], env=env, timeout=30, cwd=root)
        child.expect(PROMPT)
        elapsed = time.perf_counter() - started
        times = psutil.Process(child.pid).cpu_times()
        cpu.append(times.user + times.system)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        return elapsed


def time_python(code: str, cpu: list[float], root: Path = ROOT) -> float:
    """Seconds of `python -c CODE` run in `root` (its gptme_trio imported); appends its CPU seconds to `cpu`."""
    before = children_cpu()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
    elapsed = time.perf_counter() - started
    cpu.append(children_cpu() - before)
    return elapsed


def base_tree(rev: str, into: Path) -> str:
    """gptme_trio as it was at `rev`, unpacked into `into` (git archive); returns the short commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True)
    archive = subprocess.run(["git", "archive", rev, "gptme_trio"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return commit.stdout.strip()


def loaded_at_prompt(modules: list[str]) -> dict[str, bool]:
    """Which of `modules` are imported when the prompt is drawn (python -X importtime, in the pseudo-terminal).
    A module whose import was stopped (httpx._main: None in sys.modules) is listed by -X importtime too, so
    each is judged by a module only its real import loads (given as `module>submodule`)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GPTME_TRIO_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "GPTME_TRIO_MODEL": ""}
        child = pexpect.spawn(
            sys.executable, ["-X", "importtime", "-m", "gptme_trio", "chat"], env=env, timeout=30, cwd=ROOT
        )
        child.expect(PROMPT)
        names = set(re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", child.before.decode()))
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
    return {module.split(">")[0]: module.split(">")[-1] in names for module in modules}


def startup_section(runs: int, base: str) -> str:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tree:
        commit = base_tree(base, Path(tree))
        before = Path(tree)
        # each row: one run, its wall seconds returned and its CPU seconds appended to the list given
        variants: dict[str, Callable[[list[float]], float]] = {
            "`python -c pass`": lambda cpu: time_python("pass", cpu),
            "`python -c 'import gptme_trio.cli'`, this branch": lambda cpu: time_python(IMPORT_CLI, cpu),
            f"`python -c 'import gptme_trio.cli'`, {base}": lambda cpu: time_python(IMPORT_CLI, cpu, before),
            "`python -c 'import (the chat side)'`, this branch": lambda cpu: time_python(IMPORT_CHAT, cpu),
            f"`python -c 'import (the chat side)'`, {base}": lambda cpu: time_python(IMPORT_CHAT, cpu, before),
            "chat → prompt, this branch": lambda cpu: time_chat([], cpu),
            "chat → prompt, this branch, --no-color": lambda cpu: time_chat(["--no-color"], cpu),
            f"chat → prompt, {base} ({commit})": lambda cpu: time_chat([], cpu, before),
        }
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        times = alternate(list(variants), runs, lambda name: variants[name](cpu[name]))
    names = list(variants)
    for name in names:
        del cpu[name][0]  # the warm-up round's
    lazy = loaded_at_prompt(
        ["httpx._main>rich.progress", "rich>rich.console", "pygments>pygments.lexer", "rich.markdown", "markdown_it"]
    )
    listed = ", ".join(f"`{m}` {'loaded' if yes else 'not loaded'}" for m, yes in lazy.items())
    load_after = os.getloadavg()
    busy = max(load_before[0], load_after[0]) > (os.cpu_count() or 1)
    cli, their_cli, chat_side, their_chat_side, ours, theirs = (names[i] for i in (1, 2, 3, 4, 5, 7))
    wall = statistics.median(times[ours])
    wall_verdict = "not judged: busy (see the ratios)" if busy else PASS[wall <= START_TARGET]
    cpu_ratio = statistics.median(cpu[ours]) / statistics.median(cpu[theirs])

    def ratio(a: str, b: str, of: dict[str, list[float]]) -> str:
        return f"{statistics.median(of[a]) / statistics.median(of[b]):.2f}×"

    rows = "\n".join(
        f"| {name} | {med(times[name], 1000, '{:.0f}')} | {med(cpu[name], 1000, '{:.0f}')} |" for name in names
    )
    note = (
        f"\n\n**The machine was busy** (load {max(load_before[0], load_after[0]):.1f} on {os.cpu_count()} CPUs): "
        "wall times are inflated and not judged against the target; the ratios (measured alternating, so the "
        "load falls on every row alike) and the CPU times are the comparable figures."
        if busy
        else ""
    )
    return f"""## Chat start → prompt: this branch, {base}'s code, and Python's own start as the baseline

Command (from the repository root): `{command()}` (`--startup-only` rewrites this section alone).
Measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, code {bench_commit()}; load average
(1/5/15 min) {" / ".join(f"{x:.2f}" for x in load_before)} at the start, {" / ".join(f"{x:.2f}" for x in load_after)}
at the end, on {os.cpu_count()} CPUs.

1 warm-up, then {runs} rounds, every row once per round, alternating; no model configured (as
bench/chat_bench.py). "{base}": `git archive {base}` ({commit}) unpacked in a temporary directory and run
from there. Chat: spawned in a pseudo-terminal until the prompt is drawn; CPU is the chat process's user +
system seconds then (psutil). `python -c`: the whole run, CPU from the reaped child's rusage. At the prompt
(`-X importtime`): {listed}.{note}

| what | wall, ms, median (min–max) | CPU, ms |
|---|---|---|
{rows}

| ratio (medians) | wall | CPU |
|---|---|---|
| chat → prompt / `import gptme_trio.cli`, this branch | {ratio(ours, cli, times)} | {ratio(ours, cli, cpu)} |
| chat → prompt / `import gptme_trio.cli`, {base} | {ratio(theirs, their_cli, times)} | {ratio(theirs, their_cli, cpu)} |
| chat → prompt, this branch / {base} | {ratio(ours, theirs, times)} | {ratio(ours, theirs, cpu)} |
| importing the chat side (httpx, Playwright, the tools, the providers), this branch / {base} | {ratio(chat_side, their_chat_side, times)} | {ratio(chat_side, their_chat_side, cpu)} |

**Start → prompt ≤ {START_TARGET * 1000:.0f} ms: wall {wall * 1000:.0f} ms median: {wall_verdict}**

**CPU to the prompt, this branch / {base}: {cpu_ratio:.2f}× (target ≤ {RATIO_TARGET:.2f}×): {PASS[cpu_ratio <= RATIO_TARGET]}**
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--start-runs", type=int, default=10)
    parser.add_argument("--base", default="main", help="the code to compare start-up with (a git revision)")
    parser.add_argument("--out", default=default_out("render.md"))
    parser.add_argument(
        "--startup-only", action="store_true", help="measure start-up only; rewrite just that section of --out"
    )
    args = parser.parse_args()
    if args.startup_only:
        kept = Path(args.out).read_text()
        kept = kept[: kept.index(STARTUP_HEAD)] if STARTUP_HEAD in kept else kept + "\n"
        Path(args.out).write_text(kept + startup_section(args.start_runs, args.base))
        print(f"wrote {args.out}")
        return
    rendering, _, _ = throughput_section(args.runs)
    startup = startup_section(args.start_runs, args.base)
    write(args.out, [header("Rendering replies (issue 16)"), rendering, startup])


if __name__ == "__main__":
    main()
