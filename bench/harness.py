"""The one harness every benchmark uses: timing, statistics, result headers, the local site, process trees.

- Timing: `rounds()` / `alternate()` run the compared commands one after another in every round (a warm-up
  round first), so slow drift on the machine falls on all of them alike; `Noise` measures the CPU other
  processes used meanwhile.
- Statistics: `med()` is "median (min–max)"; `PASS` turns a target check into a table cell.
- Results: `header()` is the Markdown head of every bench/results/*.md (title, date, the command as run
  from the repository root, the machine, Python, the git commit measured); `housekeeping()` is its tail.
- The local site: `serve(NAME)` runs tests/support/NAME.py in a subprocess (its port); `Site` is
  tests/support/pages.py with a tagged environment (`Tagged`: TMPDIR and BENCH_RUN), so that a run can
  find every process it started, even those that dropped the environment (Chromium's zygotes keep the
  TMPDIR in their command line).
- Process trees, with psutil only: `tree()`, `kill_tree()`, `tagged()`, `wait_gone()`.

Run every script as `python -m bench.NAME` from the repository root.
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
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from gptme_trio.core.browser.locate import find_browser
from tests.support import ROOT, server_command

__all__ = ["ROOT", "CHROMIUM", "PASS", "TAG_VAR", "Noise", "Site", "Tagged", "alternate", "command", "header"]

# The browser every side of every bench runs: the one gptme-trio launches by default (the headless shell where
# installed, core/browser/locate.py); $GPTME_TRIO_BROWSER chooses another, for ours and the peers alike.
CHROMIUM = find_browser()
PASS = {True: "PASS", False: "**MISS**"}
TAG_VAR = "BENCH_RUN"  # in the environment of every process a run starts
RESULTS = ROOT / "bench" / "results"


# Paths and the command, as written into the results: relative to the repository root, never absolute.
def shown(path: str | os.PathLike[str]) -> str:
    """`path` relative to the repository root when it is in the root or beside it (../shared/...), else as given."""
    text = os.fspath(path)
    if os.path.isabs(text) and Path(text).is_relative_to(ROOT.parent):
        return os.path.relpath(text, ROOT)
    return text


def shared_data(name: str) -> Path:
    """shared/data/NAME beside the repository (../shared), or beside the worktrees' folder (../../shared)."""
    places = [base / "shared" / "data" / name for base in (ROOT.parent, ROOT.parent.parent)]
    return next((p for p in places if p.is_dir()), places[0])


def command() -> str:
    """The running script's command line as run from the repository root: `python -m bench.NAME ARGS`."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    prog = ["python", "-m", spec.name] if spec is not None else ["python", shown(sys.argv[0])]
    args = []
    for arg in sys.argv[1:]:
        flag, eq, value = arg.partition("=")
        args.append(f"{flag}={shown(value)}" if eq and flag.startswith("--") else shown(arg))
    return shlex.join([*prog, *args])


def default_out(name: str) -> str:
    """The default --out of a script: bench/results/NAME, relative to the repository root."""
    return shown(RESULTS / name)


# Timing and statistics.
def rounds(names: Sequence[str], runs: int, warmup: int = 1, reverse: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(round, names in this round's order) for warm-up + runs rounds; round < warmup is a warm-up.
    reverse: every other round runs the names backwards (A B, B A, A B, ...)."""
    for i in range(warmup + runs):
        yield i, list(reversed(names)) if reverse and i % 2 else list(names)


def alternate(
    names: Sequence[str], runs: int, one: Callable[[str], float], warmup: int = 1, reverse: bool = False
) -> dict[str, list[float]]:
    """Seconds of `one(name)` per name over `runs` measured rounds, the names alternating in every round."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, order in rounds(names, runs, warmup, reverse):
        took = {name: one(name) for name in order}
        for name, seconds in took.items():
            times[name] += [seconds] if i >= warmup else []
        label = "warm-up" if i < warmup else f"round {i - warmup + 1}"
        print(f"{label}: " + ", ".join(f"{n.split(':')[0]} {t:.3f} s" for n, t in took.items()), flush=True)
    return times


def med(values: Sequence[float], scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    """'median (min–max)' of values × scale."""
    m, lo, hi = (fmt.format(v * scale) for v in (statistics.median(values), min(values), max(values)))
    return f"{m} ({lo}–{hi})"


def cpu_busy() -> float:
    """CPU-s the whole machine has spent not idle (all cores)."""
    t = psutil.cpu_times()
    busy: float = t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
    return busy


def children_cpu() -> float:
    """CPU-s of all reaped descendants (a process's reaped children roll up into it when it is reaped)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Noise:
    """CPU-s that other processes (not this one, not its reaped children) used while measured blocks ran."""

    def __init__(self) -> None:
        self.cpu = self.wall = self.tree = 0.0  # tree: CPU-s of the children reaped in the last block

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        busy, kids, own, start = cpu_busy(), children_cpu(), time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.tree = children_cpu() - kids
            self.wall += time.perf_counter() - start
            self.cpu += cpu_busy() - busy - self.tree - (time.process_time() - own)

    def line(self, since: tuple[float, float] = (0.0, 0.0)) -> str:
        """The report's noise sentence, over the blocks measured since `since` (an earlier `mark()`)."""
        cpu, wall = self.cpu - since[0], self.wall - since[1]
        return (
            f"Noise: other processes (not this script or its children) used {cpu:.1f} CPU-s while the commands "
            f"ran, {cpu / max(wall, 1e-9) / (os.cpu_count() or 1):.0%} of all cores over {wall:.0f} s."
        )

    def mark(self) -> tuple[float, float]:
        return self.cpu, self.wall


# Result files.
def _out(*cmd: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    return "?"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "-"


def commit() -> str:
    """The git commit measured, and the gptme_trio files changed since, if any."""
    dirty = [line.split()[-1] for line in _out("git", "status", "--porcelain", "--", "gptme_trio").splitlines()]
    return _out("git", "rev-parse", "--short", "HEAD") + (f" + uncommitted: {', '.join(dirty)}" if dirty else "")


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def header(title: str, rows: dict[str, str] | None = None) -> str:
    """The head of a results file: title, date, command, and a table of the machine and the code measured."""
    machine = {
        "CPUs": str(os.cpu_count()),
        "Memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "Python": sys.version.split()[0],
        "trio / trio-asyncio / playwright": " / ".join(_version(d) for d in ("trio", "trio-asyncio", "playwright")),
        "Chromium": f"{_out(CHROMIUM, '--version')} ({CHROMIUM})",
        **(rows or {}),
        "gptme_trio code measured (git commit)": commit(),
        "load average at start (1/5/15 min)": load_average(),
    }
    table = "\n".join(f"| {k} | {v} |" for k, v in machine.items())
    return f"""# {title}

Date: {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}<br>
Command (from the repository root): `{command()}`

| Machine | |
|---|---|
{table}
"""


def housekeeping(started: float, left: Sequence[str], notes: Sequence[str] = ()) -> str:
    alive = "".join(f"\n  - {p}" for p in left) or " (servers, CLIs, drivers and Chromium all gone)"
    extra = "".join(f"\n- {n}" for n in notes)
    return f"""## Housekeeping

- Total benchmark time: {time.perf_counter() - started:.0f} s; load average at end (1/5/15 min): {load_average()}.{extra}
- Processes started by this run still running at the end (zombies not counted): {len(left)}{alive}.
"""


def write(out: str | os.PathLike[str], sections: Sequence[str]) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sections))
    print(sections[-1] + f"\nwrote {shown(path)}", flush=True)


# Process trees (psutil only).
def tree(root: psutil.Process | int) -> list[psutil.Process]:
    """root and all its descendants ([] if root is gone)."""
    with contextlib.suppress(psutil.Error):
        proc = root if isinstance(root, psutil.Process) else psutil.Process(root)
        return [proc, *proc.children(recursive=True)]
    return []


def role(p: psutil.Process, root_pid: int = 0) -> str:
    """python (the process root_pid), driver (Playwright's node), browser (Chromium's main process), renderer,
    webui (a --top-chrome-webui renderer), gpu, network (the network service), other (zygotes, other
    utilities), or gone (a zombie, or a process that has exited)."""
    with contextlib.suppress(psutil.Error):
        if p.status() == psutil.STATUS_ZOMBIE:
            return "gone"
        if p.pid == root_pid:
            return "python"
        cmd, name = p.cmdline(), p.name()
        if "run-driver" in cmd or name == "node" or (cmd and cmd[0].endswith("/node")):
            return "driver"
        kind = next((a.split("=", 1)[1] for a in cmd if a.startswith("--type=")), None)
        if kind is None:
            return "browser" if "chrom" in name or (cmd and "chrom" in cmd[0]) else "other"
        if kind == "renderer":
            return "webui" if "--top-chrome-webui" in cmd else "renderer"
        if kind == "utility" and any("NetworkService" in a for a in cmd):
            return "network"
        return {"gpu-process": "gpu"}.get(kind, "other")
    return "gone"


def kill_tree(root: psutil.Process | int, timeout: float = 5) -> None:
    """SIGKILL root and all its descendants, then wait until they are gone."""
    procs = tree(root)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout)


def tagged(tag: str, tmp: str, var: str = TAG_VAR) -> list[psutil.Process]:
    """Live processes (not zombies, not this one) with var=tag in their environment or tmp in their command line."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.pid == os.getpid() or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(psutil.Error):
            if tmp in " ".join(p.info["cmdline"] or []) or p.environ().get(var) == tag:
                found.append(p)
    return found


def describe(p: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{p.pid} {' '.join(p.cmdline())[:80]!r}"
    return f"{p.pid} (gone)"


def wait_gone(find: Callable[[], list[psutil.Process]], timeout: float = 5) -> list[psutil.Process]:
    """Wait up to `timeout` s for the processes find() returns to exit (Chromium exits when its pipe closes);
    those still alive then, found again (a process may have started meanwhile)."""
    psutil.wait_procs(find(), timeout)
    return find()


class Tagged:
    """An environment that tags every process a run starts: TMPDIR=tmp (Chromium's profiles go there) and
    BENCH_RUN=a fresh tag; leftovers() finds those still running."""

    def __init__(self, tmp: str) -> None:
        self.tmp, self.tag = tmp, uuid.uuid4().hex
        self.env = dict(os.environ, TMPDIR=tmp, **{TAG_VAR: self.tag})
        self.noise = Noise()

    def leftovers(self) -> list[str]:
        return [describe(p) for p in tagged(self.tag, self.tmp)]

    def wait_gone(self, timeout: float = 5) -> list[str]:
        return [describe(p) for p in wait_gone(lambda: tagged(self.tag, self.tmp), timeout)]


@contextlib.contextmanager
def serve(name: str, *args: str, env: dict[str, str] | None = None, quiet: bool = False) -> Iterator[int]:
    """tests/support/NAME.py as a server process (from the repository root); its port. It exits when its
    stdin closes. quiet: its stderr is dropped (clients that leave on purpose make it talk)."""
    err = subprocess.DEVNULL if quiet else None
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": err, "text": True, "env": env}
    proc = subprocess.Popen(server_command(name, *args), cwd=ROOT, **pipes)  # type: ignore[call-overload]
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise SystemExit(f"tests/support/{name}.py did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()


class Site(Tagged):
    """tests/support/pages.py on 127.0.0.1 in a subprocess; run() runs commands in the tagged environment."""

    def __init__(self, tmp: str) -> None:
        super().__init__(tmp)
        self._stack = contextlib.ExitStack()
        self.base = f"http://127.0.0.1:{self._stack.enter_context(serve('pages', env=self.env))}"

    def close(self) -> None:
        self._stack.close()

    def run(
        self, cmd: list[str], expect: str = "", env: dict[str, str] | None = None, timeout: float = 120
    ) -> tuple[float, str]:
        """Wall time and stdout of cmd (from the repository root); exits on failure or if expect is not in stdout."""
        with self.noise.measure():
            start = time.perf_counter()
            proc = subprocess.run(
                cmd, cwd=ROOT, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout
            )
            elapsed = time.perf_counter() - start
        if proc.returncode != 0 or expect not in proc.stdout:
            tail = proc.stdout[-500:] + proc.stderr[-2000:]
            raise SystemExit(f"failed ({proc.returncode}): {shlex.join(cmd)}\n{tail}")
        return elapsed, proc.stdout
