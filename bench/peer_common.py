"""Shared harness for the peer benchmarks (oneshot_peers_bench.py, gptme_cancel_bench.py): stdlib only.

Site: tests/support/pages.py on 127.0.0.1 in a subprocess, plus an environment that tags every process a run
starts (TMPDIR and a variable), so the run can count other processes' CPU and find its own leftovers.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PASS = {True: "PASS", False: "**MISS**"}


def cpu_busy() -> float:
    """CPU-s the whole machine has spent not idle (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # reaped descendants roll up into their parents
    return r.ru_utime + r.ru_stime


class Site:
    """tests/support/pages.py in a subprocess; run() runs commands in the tagged environment."""

    def __init__(self, tmp: str) -> None:
        self.tmp, self.tag = tmp, uuid.uuid4().hex
        self.env = dict(os.environ, TMPDIR=tmp, PEER_BENCH_RUN=self.tag)  # Chromium profiles go to tmp
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True, "env": self.env}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.pages"], cwd=ROOT, **pipes)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise SystemExit(f"test site did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"
        self.noise = self.wall = 0.0

    def close(self) -> None:
        self.proc.stdin.close()  # pages.py exits when its stdin closes
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.proc.kill()  # only if it is still running

    def run(self, cmd: list[str], expect: str = "", env: dict | None = None, timeout: float = 120) -> tuple[float, str]:
        """Wall time and stdout of cmd (from the repo root); exits on failure or if expect is not in stdout."""
        busy, kids, own = cpu_busy(), children_cpu(), time.process_time()
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout
        )
        elapsed = time.perf_counter() - start
        self.wall += elapsed
        self.noise += cpu_busy() - busy - (children_cpu() - kids) - (time.process_time() - own)
        if proc.returncode != 0 or expect not in proc.stdout:
            tail = proc.stdout[-500:] + proc.stderr[-2000:]
            raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}\n{tail}")
        return elapsed, proc.stdout

    def noise_line(self) -> str:
        cores = os.cpu_count() or 1
        return (
            f"Noise: other processes (not this script or its children) used {self.noise:.1f} CPU-s while the "
            f"commands ran, {self.noise / max(self.wall, 1e-9) / cores:.0%} of all cores over {self.wall:.0f} s."
        )

    def leftovers(self) -> list[str]:
        """Processes this run started that still run: its tag in their environment or tmp on their command line."""
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if int(pid) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[-1].split()[0] == b"Z":
                    continue
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{pid}/environ").read_bytes()
                if self.tmp.encode() in cmdline or f"PEER_BENCH_RUN={self.tag}".encode() in environ:
                    left.append(f"{pid} {cmdline[:80]!r}")
        return left

    def wait_gone(self) -> list[str]:
        for _ in range(20):  # Chromium exits when its pipe closes; give it up to 5 s
            if not (left := self.leftovers()):
                break
            time.sleep(0.25)
        return left


def med(values: list[float], scale: float = 1000, fmt: str = "{:.0f}") -> str:
    """'median (min–max)' of values * scale."""
    m, lo, hi = (fmt.format(v * scale) for v in (statistics.median(values), min(values), max(values)))
    return f"{m} ({lo}–{hi})"


def header(title: str, rows: dict[str, str]) -> str:
    def out(*cmd: str) -> str:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()

    dirty = [line.split()[-1] for line in out("git", "status", "--porcelain", "--", "gptme_trio").splitlines()]
    code = out("git", "rev-parse", "--short", "HEAD") + (f" + uncommitted: {', '.join(dirty)}" if dirty else "")
    command = f"cd {Path.cwd()} && {shlex.join([os.path.relpath(sys.executable), *sys.argv])}"
    machine = {
        "CPUs": str(os.cpu_count()),
        "Python": f"{sys.version.split()[0]} ({sys.executable})",
        "Chromium": f"{out(CHROMIUM, '--version')} ({CHROMIUM})",
        **rows,
        "gptme_trio code measured": code,
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    table = "\n".join(f"| {k} | {v} |" for k, v in machine.items())
    return f"""# {title}

Date: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}<br>
Command: `{command}`

| Machine | |
|---|---|
{table}
"""


def housekeeping(started: float, left: list[str]) -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    alive = "".join(f"\n  - {p}" for p in left) or " (site server, tools, drivers and Chromium all gone)"
    return f"""## Housekeeping

- Total benchmark time: {time.perf_counter() - started:.0f} s; load average at end: {load}.
- Processes started by this run still running at the end (zombies not counted): {len(left)}{alive}.
"""
