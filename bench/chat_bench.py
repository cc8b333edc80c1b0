"""Chat on a terminal: start-up (run → prompt drawn) and streaming delay (token on the wire → on screen).

Run from the repo root: `python -m bench.chat_bench [--runs N] [--stream-runs N] [--before DIR]`; writes
bench/results/chat.md. --before DIR: a checkout of earlier code (`git worktree add DIR COMMIT`) whose start-up
is timed in the same rounds.

Start-up: each run spawns the CLI in a pseudo-terminal (pexpect) with a fresh GPTME_TRIO_HOME
and measures until the prompt appears, then sends Ctrl-D; `python -c pass` is timed the same
way, alternating, as the floor of any Python program here.

Streaming: a scripted OpenAI-compatible server runs in a thread of this process
(bench/token_server.py) and streams distinct tokens `--gap-ms` apart, stamping each one as it
leaves for the socket; a reader thread stamps every read of the terminal's output. Delay = the
read in which a token is first complete on the terminal − its send, on one clock. One
`gptme-trio chat -m local/bench` process answers every turn; a plain Python program that
streams the same SSE with httpx and prints each delta (FLOOR) takes turns with it in its own
pseudo-terminal, as the floor.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import psutil
import ptyprocess

from bench.harness import ROOT, default_out, header, load_average, med, rounds, write
from bench.token_server import TokenServer

PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")
TARGET = 0.5
STREAM_TARGET_MS = 10.0
FLOOR = r"""
import json, sys, httpx
from httpx_sse import connect_sse
with httpx.Client(timeout=None) as client:
    while True:
        sys.stdout.write("> "); sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        body = {"model": "floor", "messages": [{"role": "user", "content": line}], "stream": True}
        with connect_sse(client, "POST", sys.argv[1] + "/chat/completions", json=body) as source:
            for sse in source.iter_sse():
                if sse.data == "[DONE]":
                    break
                for choice in json.loads(sse.data)["choices"]:
                    if choice["delta"].get("content"):
                        sys.stdout.write(choice["delta"]["content"]); sys.stdout.flush()
        sys.stdout.write("\n")
"""


def time_chat(root: Path) -> tuple[float, float]:
    """(wall, CPU) s of `gptme-trio chat` from `root`'s package: spawned until its prompt is drawn (the
    CPU: the process's user + system time, its exit after Ctrl-D included)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GPTME_TRIO_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1", "GPTME_TRIO_MODEL": ""}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "gptme_trio", "chat"], env=env, timeout=30, cwd=str(root))
        child.expect(PROMPT)
        elapsed = time.perf_counter() - started
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return elapsed, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def time_python() -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - started, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def compile_bytecode(root: Path) -> None:
    """As `pip install` leaves a package: its modules compiled. An editable checkout compiles them on first
    import, unless PYTHONDONTWRITEBYTECODE is set (it is on some machines): then every start compiles ~90
    modules from source (~100 ms of CPU), which no installed copy does."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "gptme_trio")], check=True)


def startup_section(runs: int, before: Path | None) -> str:
    variants: dict[str, Callable[[], tuple[float, float]]] = {"chat": lambda: time_chat(ROOT)}
    if before is not None:
        variants["chat, before"] = lambda: time_chat(before)
    variants["python -c pass"] = time_python
    for root in [ROOT, *([before] if before is not None else [])]:
        compile_bytecode(root)
    times: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for i, order in rounds(list(variants), runs, 1, True):  # 1 warm-up round: file caches
        for name in order:
            wall, used = variants[name]()
            times[name] += [wall] if i >= 1 else []
            cpu[name] += [used] if i >= 1 else []
        print(f"round {i}: " + ", ".join(f"{n} {times[n][-1] if times[n] else 0:.3f} s" for n in order), flush=True)
    chat = times["chat"]
    verdict = "PASS" if statistics.median(chat) <= TARGET else "MISS"
    rows = [
        f"| `gptme-trio chat` start → prompt ready | {med(chat, 1000, '{:.0f}')} | {med(cpu['chat'], 1000, '{:.0f}')} | ≤ {TARGET * 1000:.0f} | {verdict} |"
    ]
    if before is not None:
        rows.append(
            f"| the same, from the checkout in --before ({before.name}) | {med(times['chat, before'], 1000, '{:.0f}')} "
            f"| {med(cpu['chat, before'], 1000, '{:.0f}')} | — | ratio {statistics.median(chat) / statistics.median(times['chat, before']):.2f}× wall, "
            f"{statistics.median(cpu['chat']) / statistics.median(cpu['chat, before']):.2f}× CPU |"
        )
    rows.append(
        f"| `python -c pass` (the floor of any Python program) | {med(times['python -c pass'], 1000, '{:.0f}')} "
        f"| {med(cpu['python -c pass'], 1000, '{:.0f}')} | — | info |"
    )
    table = "\n".join(rows)
    return f"""## Chat start-up

1 warm-up, then {runs} runs of each, alternating. Start = the process is spawned in a
pseudo-terminal; end = the prompt is drawn. No model configured (the prompt must not wait
for one); the browser starts lazily, so it is not part of start-up. The package's modules are
compiled to bytecode first, as an install leaves them. CPU = the process's user + system time
(its exit after Ctrl-D included): less sensitive to the machine's load than the wall time.
Load average at the end: {load_average()}.

| measure | ms, median (min–max) | CPU ms, median (min–max) | target | result |
|---|---|---|---|---|
{table}
"""


class Tty:
    """A program in a pseudo-terminal; a thread reads its output as it comes and stamps every read."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = ptyprocess.PtyProcess.spawn(argv, env=env, cwd=str(ROOT), dimensions=(50, 200))
        self.data = bytearray()
        self.reads: list[tuple[int, float]] = []  # (end offset in data, perf_counter right after the read)
        self.eof = False
        self._cond = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        while True:
            try:
                piece = os.read(self.proc.fd, 65536)
            except OSError:  # EIO: the child side is closed
                piece = b""
            now = time.perf_counter()
            with self._cond:
                self.data += piece
                self.reads.append((len(self.data), now))
                self.eof = not piece
                self._cond.notify_all()
            if not piece:
                return

    def wait_for(self, pattern: re.Pattern[bytes], start: int, timeout: float = 30) -> int:
        """The end offset of the first match of `pattern` at or after `start`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (match := pattern.search(self.data, start)):
                if self.eof or not self._cond.wait(deadline - time.monotonic()):
                    tail = bytes(self.data[start:][-300:])
                    raise TimeoutError(f"{pattern.pattern!r} not seen on the terminal; it ends with {tail!r}")
            return match.end()

    def turn(self, server: TokenServer, tokens: list[str]) -> list[float]:
        """Type a line; once every token and the next prompt are on screen, each token's delay in ms."""
        server.tokens = tokens
        with self._cond:
            start = len(self.data)
        os.write(self.proc.fd, b"go\r")
        self.wait_for(PROMPT, self.wait_for(re.compile(re.escape(tokens[-1].encode())), start))
        delays = []
        with self._cond:
            for token in tokens:
                end = self.data.index(token.encode(), start) + len(token)
                shown = next(stamp for offset, stamp in self.reads if offset >= end)
                delays.append((shown - server.sent[token]) * 1000)
        return delays

    def close(self) -> None:
        os.write(self.proc.fd, b"\x04")  # Ctrl-D at the prompt
        with self._cond:
            self._cond.wait_for(lambda: self.eof, timeout=10)
        self.proc.wait()


def cpu_seconds(tty: Tty) -> float:
    times = psutil.Process(tty.proc.pid).cpu_times()
    return times.user + times.system


def stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), statistics.quantiles(values, n=10)[-1], max(values)


def stream_section(runs: int, count: int, gap_ms: float, spy: str | None) -> str:
    sys.setswitchinterval(0.0001)  # a thread of ours waiting for the GIL would skew a stamp by up to 5 ms
    server = TokenServer(gap=gap_ms / 1000).start()
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env |= {"PROMPT_TOOLKIT_NO_CPR": "1", "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "bench"}
    with tempfile.TemporaryDirectory() as home:
        # Plain output (NO_COLOR): each token is written as it comes. Rendered Markdown shows finished blocks
        # and redraws the live one every 50 ms: its cost is bench/render_bench.py's.
        chat_env = {**env, "GPTME_TRIO_HOME": home, "NO_COLOR": "1"}
        chat = Tty([sys.executable, "-m", "gptme_trio", "chat", "-m", "local/bench"], chat_env)
        floor = Tty([sys.executable, "-c", FLOOR, server.base_url], env)
        chat.wait_for(PROMPT, 0)
        floor.wait_for(PROMPT, 0)
        words = [f"r{run:02d}t{i:03d} " for run in range(runs + 1) for i in range(count)]
        turns = [words[i : i + count] for i in range(0, len(words), count)]
        chat.turn(server, [f"c{t}" for t in turns[0]]), floor.turn(server, [f"f{t}" for t in turns[0]])  # warm-up
        profiler = None
        if spy:
            spy_cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-o", spy, "-r", "1000", "--nonblocking"]
            spy_cmd += ["--format", "flamegraph" if spy.endswith(".svg") else "raw"]
            profiler = subprocess.Popen([*spy_cmd, "--pid", str(chat.proc.pid)], stdout=subprocess.DEVNULL)
            time.sleep(1)
        ours: list[list[float]] = []
        base: list[list[float]] = []
        cpu_before = [cpu_seconds(chat), cpu_seconds(floor)]
        for turn in turns[1:]:
            ours.append(chat.turn(server, [f"c{t}" for t in turn]))
            base.append(floor.turn(server, [f"f{t}" for t in turn]))
        cpu = [(cpu_seconds(p) - b) * 1000 / (runs * count) for p, b in zip([chat, floor], cpu_before, strict=True)]
        if profiler:
            profiler.send_signal(2)  # SIGINT: py-spy writes its flame graph
            profiler.wait()
        chat.close()
        floor.close()
        assert server.requests == 2 * (runs + 1), f"{server.requests} requests for {runs + 1} turns of each"
    server.stop()
    flat_ours, flat_base = [d for run in ours for d in run], [d for run in base for d in run]
    (om, op, ox), (fm, fp, fx) = stats(flat_ours), stats(flat_base)
    per_run = [statistics.median(a) - statistics.median(b) for a, b in zip(ours, base, strict=True)]
    verdict_ours = "PASS" if om <= STREAM_TARGET_MS else "MISS"
    verdict_added = "PASS" if om - fm <= STREAM_TARGET_MS else "MISS"
    note = "Profiled with py-spy (`--py-spy`) during the measured turns, so perturbed. " if spy else ""
    return f"""## Chat streaming: token on the wire → on the terminal

A scripted OpenAI-compatible server in a thread of the benchmark (`bench/token_server.py`,
127.0.0.1, HTTP/1.1 chunked, Nagle off) streams {count} distinct tokens per turn, {gap_ms:g} ms
apart, and stamps each just before writing it to the socket; a reader thread stamps each read of
the terminal's output (one clock, `time.perf_counter`). Delay = the first read in which the whole
token is on the terminal − its send. One `gptme-trio chat -m local/bench` process
(PROMPT_TOOLKIT_NO_CPR=1, fresh GPTME_TRIO_HOME) answers all turns; the floor is a plain Python
program in its own pseudo-terminal that streams the same SSE with sync httpx + httpx-sse and
writes each delta to stdout (`FLOOR` in `bench/chat_bench.py`). 1 warm-up turn each, then
{runs} turns each, alternating: {runs * count} tokens per program.

| ms per token | median | p90 | max | target | result |
|---|---|---|---|---|---|
| `gptme-trio chat` (ours) | {om:.2f} | {op:.2f} | {ox:.2f} | ≤ {STREAM_TARGET_MS:g} median | {verdict_ours} |
| floor: httpx + print | {fm:.2f} | {fp:.2f} | {fx:.2f} | — | info |
| ours − floor | {om - fm:.2f} | {op - fp:.2f} | {ox - fx:.2f} | ≤ {STREAM_TARGET_MS:g} median | {verdict_added} |

The last row is the difference of the two above it. {note}Per turn, median ours − median floor:
{min(per_run):.2f} to {max(per_run):.2f} ms. CPU time (user + system) over the measured turns, per token: ours
{cpu[0]:.2f} ms, floor {cpu[1]:.2f} ms (it includes reading the typed line and drawing the prompt again, once
per turn). Load average at the end: {load_average()}.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="start-up runs")
    parser.add_argument("--stream-runs", type=int, default=10, help="streamed turns of each program")
    parser.add_argument("--tokens", type=int, default=50, help="tokens per turn")
    parser.add_argument("--gap-ms", type=float, default=20, help="between tokens")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the chat's streamed turns (.svg, else raw stacks)")
    parser.add_argument("--before", type=Path, metavar="DIR", help="also time chat's start-up from this checkout")
    parser.add_argument("--out", default=default_out("chat.md"))
    args = parser.parse_args()
    sections = [header("Chat: start-up and streaming delay")]
    sections.append(startup_section(args.runs, args.before))
    print(sections[-1], flush=True)
    sections.append(stream_section(args.stream_runs, args.tokens, args.gap_ms, args.py_spy))
    write(args.out, sections)


if __name__ == "__main__":
    main()
