"""Shell cancellation and per-call overhead: gptme-trio's shell tool next to gptme's, and bare subprocess.run.

Run from the repo root (about a minute, plus building gptme's venv once with bench.peers):

    python -m bench.shell_bench    # optional: --trials N (default 5), --calls N (default 20)
        [--gptme-python PY] [--peers-dir .nox/peers]

Part 1, cancellation: per trial a fresh worker process runs `sleep 100` through the tool and is
interrupted 1 s later the way its CLI's Ctrl-C works: ours, a signal received by Trio cancels the call's
scope (core/runtime.py does that for SIGINT); gptme, a timer fires gptme's own SIGINT handler
(gptme.util.interrupt.handle_keyboard_interrupt, interruptible set) while `execute_shell_impl` runs. The
worker reports when the caller held control again (minus the 1 s), how many `sleep` processes were still
alive below it then, and whether the next command (`echo ok`) worked. This process is a child subreaper
while the workers run, so processes they orphan are re-parented here: after each worker exits, the ones
still alive are counted as orphans (and killed). Rounds alternate ours and gptme's.

Part 2, overhead: a worker runs `true` --calls times through each tool (ours: Shell.shell in one
trio.run; gptme: execute_shell_impl on its persistent bash), and bare subprocess.run(["bash", "-c",
"true"]) as many times, alternating; per-call medians. Writes bench/results/shell.md.
The workers run as `python -m bench.shell_bench --worker KIND`; the gptme ones in gptme's venv, so this
module imports only the standard library at its top.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

INTERRUPT_AT = 1.0
WHERE = "SHELL_BENCH_DIR"  # the directory the workers' shells start in
COMMAND = "sleep 100"


def _sleeping_below(pid: int) -> int:
    """Live `sleep` processes below `pid` (a /proc walk: gptme's venv may lack psutil)."""
    children: dict[int, list[int]] = {}
    names: dict[int, tuple[str, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    head, _, rest = stat.read().rpartition(")")
                fields = rest.split()
                children.setdefault(int(fields[1]), []).append(int(entry))
                names[int(entry)] = (head.partition("(")[2], fields[0])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = 0, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            name, state = names.get(child, ("", "Z"))
            found += name == "sleep" and state not in "ZX"
            todo.append(child)
    return found


def _timer(handler: Callable[[int, object], None]) -> float:
    """Fire `handler` once, INTERRUPT_AT s from now (SIGALRM); return that moment (perf_counter)."""
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, INTERRUPT_AT)
    return time.perf_counter() + INTERRUPT_AT


def worker_gptme_cancel() -> None:
    from gptme.tools.shell import execute_shell_impl
    from gptme.util.interrupt import handle_keyboard_interrupt, set_interruptible

    list(execute_shell_impl("true", None))  # warm: its persistent bash starts
    set_interruptible()
    deadline = _timer(handle_keyboard_interrupt)  # what gptme installs for SIGINT
    messages = []
    try:
        for message in execute_shell_impl(COMMAND, None):
            messages.append(message.content)
    except KeyboardInterrupt:
        pass
    back = time.perf_counter() - deadline
    left = _sleeping_below(os.getpid())
    started = time.perf_counter()
    try:
        nxt = "".join(m.content for m in execute_shell_impl("echo ok", None))
    except Exception as exc:  # noqa: BLE001 - the outcome is the measurement
        nxt = f"{type(exc).__name__}: {exc}"
    out = {"back": back, "left": left, "next_ok": "ok" in nxt, "next_s": time.perf_counter() - started}
    print(json.dumps(out), flush=True)


def worker_ours_cancel() -> None:
    from pathlib import Path

    import trio

    from gptme_trio.tools import Report
    from gptme_trio.tools.background import open_background
    from gptme_trio.tools.shell import Shell, ShellSettings

    async def main() -> dict[str, object]:
        async with open_background() as background:
            shell = Shell(Path.cwd(), os.environ, background, ShellSettings())
            await shell.shell("true", report=Report())  # warm, as gptme's
            with trio.open_signal_receiver(signal.SIGALRM) as signals, trio.CancelScope() as scope:
                signal.setitimer(signal.ITIMER_REAL, INTERRUPT_AT)  # Trio's receiver gets it
                deadline = time.perf_counter() + INTERRUPT_AT
                async with trio.open_nursery() as nursery:

                    async def cancel_on_signal() -> None:
                        async for _ in signals:
                            scope.cancel()  # what core/runtime.Interrupts does with SIGINT

                    nursery.start_soon(cancel_on_signal)
                    await shell.shell(COMMAND, report=Report())
            back = time.perf_counter() - deadline
            left = _sleeping_below(os.getpid())
            started = time.perf_counter()
            nxt = await shell.shell("echo ok", report=Report())
            return {
                "back": back,
                "left": left,
                "next_ok": nxt.startswith("ok"),
                "next_s": time.perf_counter() - started,
            }

    print(json.dumps(trio.run(main)), flush=True)


def _bare(calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        subprocess.run(["bash", "-c", "true"], check=True)
        times.append(time.perf_counter() - started)
    return times


def worker_overhead(kind: str, calls: int) -> None:
    """`true` `calls` times through the tool, and through bare subprocess.run, alternating per call."""
    tool: list[float] = []
    bare: list[float] = []
    if kind == "gptme":
        from gptme.tools.shell import execute_shell_impl

        list(execute_shell_impl("true", None))
        for _ in range(calls):
            started = time.perf_counter()
            list(execute_shell_impl("true", None))
            tool.append(time.perf_counter() - started)
            bare += _bare(1)
    else:
        from pathlib import Path

        import trio

        from gptme_trio.tools import Report
        from gptme_trio.tools.background import open_background
        from gptme_trio.tools.shell import Shell, ShellSettings

        async def main() -> None:
            async with open_background() as background:
                shell = Shell(Path.cwd(), os.environ, background, ShellSettings())
                await shell.shell("true", report=Report())
                for _ in range(calls):
                    started = time.perf_counter()
                    await shell.shell("true", report=Report())
                    tool.append(time.perf_counter() - started)
                    bare.extend(_bare(1))

        trio.run(main)
    print(json.dumps({"tool": tool, "bare": bare}), flush=True)


def _orphans_come_here() -> None:
    import ctypes

    assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


def _run_worker(python: str, kind: str, env: dict[str, str], *extra: str) -> tuple[dict, int]:
    """(the worker's JSON, how many processes it orphaned that were still alive 0.5 s after it exited)."""
    import psutil

    before = set(psutil.Process().children())
    from bench.harness import ROOT

    proc = subprocess.run(
        [python, "-m", "bench.shell_bench", "--worker", kind, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, WHERE: os.getcwd()},
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {kind} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-1500:]}")
    time.sleep(0.5)
    orphans = [p for p in psutil.Process().children(recursive=True) if p not in before]
    alive = [p for p in orphans if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:  # kill what still runs; wait_procs reaps what was re-parented here
        p.kill()
    psutil.wait_procs(orphans, 5)
    return json.loads(lines[-1]), len(alive)


def bench(args: argparse.Namespace, gptme: str | None, reason: str) -> str:
    from bench import peers
    from bench.harness import PASS, med

    _orphans_come_here()
    ours_env = dict(os.environ)
    results: dict[str, list[dict]] = {"ours": [], "gptme": []}
    for i in range(args.trials):
        for name in ("ours", "gptme") if i % 2 == 0 else ("gptme", "ours"):
            if name == "gptme" and gptme is None:
                continue
            python, env = (sys.executable, ours_env) if name == "ours" else (gptme, peers.env("gptme", gptme or ""))
            data, orphans = _run_worker(python or "", f"{name}-cancel", env)
            results[name].append({**data, "orphans": orphans})
            print(f"round {i + 1} {name}: {results[name][-1]}", flush=True)
    overhead = {"ours": _run_worker(sys.executable, "ours-overhead", ours_env, str(args.calls))[0]}
    if gptme is not None:
        overhead["gptme"] = _run_worker(gptme, "gptme-overhead", peers.env("gptme", gptme), str(args.calls))[0]

    def col(name: str, key: str, fn: Callable[[list[float]], float], scale: float = 1000) -> str:
        values = [r[key] for r in results[name]]
        return f"{fn(values) * scale:.0f}" if values else "-"

    def count(name: str, key: str) -> str:
        return str(sum(r[key] for r in results[name])) if results[name] else "-"

    ours_back = max(r["back"] for r in results["ours"])
    ours_orphans = sum(r["orphans"] + r["left"] for r in results["ours"])
    g_ver = peers.version(gptme, "gptme") if gptme else "(not run: " + reason + ")"
    o, b = statistics.median(overhead["ours"]["tool"]), statistics.median(overhead["ours"]["bare"])
    rows = [
        f"| gptme-trio `shell` | {med(overhead['ours']['tool'], 1000)} | {med(overhead['ours']['bare'], 1000)} "
        f"| {(o - b) * 1000:+.1f} ms {PASS[o - b <= 0.01]} |"
    ]
    if "gptme" in overhead:
        g, gb = statistics.median(overhead["gptme"]["tool"]), statistics.median(overhead["gptme"]["bare"])
        rows.append(
            f"| gptme {g_ver} shell | {med(overhead['gptme']['tool'], 1000)} | {med(overhead['gptme']['bare'], 1000)} "
            f"| {(g - gb) * 1000:+.1f} ms |"
        )
    table = "\n".join(rows)
    return f"""## Shell: `sleep 100` interrupted at 1 s

{args.trials} trials each, alternating, each in a fresh worker process. Control back = when the caller holds
control again, minus the moment of the interrupt. Left = `sleep` processes alive below the worker right then;
orphans = processes the worker left behind that still ran 0.5 s after it exited (this process was their
subreaper, so none could slip away to init).

| Measure | gptme-trio | gptme {g_ver} | goal (ours) |
|---|---|---|---|
| interrupt → control back, median ms | {col("ours", "back", statistics.median)} | {col("gptme", "back", statistics.median)} | ≤ 100 ms |
| interrupt → control back, max ms | {col("ours", "back", max)} {PASS[ours_back <= 0.1]} | {col("gptme", "back", max)} | ≤ 100 ms |
| `sleep` left running when control came back (all trials) | {count("ours", "left")} | {count("gptme", "left")} | 0 |
| orphans alive after the worker exited (all trials) | {count("ours", "orphans")} {PASS[ours_orphans == 0]} | {count("gptme", "orphans")} | 0 |
| next command (`echo ok`) worked | {count("ours", "next_ok")} of {len(results["ours"])} | {count("gptme", "next_ok")} of {len(results["gptme"])} | all |
| next command, median ms | {col("ours", "next_s", statistics.median)} | {col("gptme", "next_s", statistics.median)} | — |

## Shell: per-call overhead, {args.calls} calls of `true`

Each call through the tool, alternating with a bare `subprocess.run(["bash", "-c", "true"])` in the same
process; ms per call, median (min–max). Ours starts a fresh `bash` per call in its own session (and scans
/proc for the session's leftovers when it ends); gptme writes to one persistent bash.

| Tool | tool call, ms | bare subprocess.run, ms | overhead per call (medians; goal for ours ≤ 10 ms) |
|---|---|---|---|
{table}
"""


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        os.chdir(os.environ[WHERE])
        kind = sys.argv[2]
        if kind.endswith("-overhead"):
            return worker_overhead(kind.split("-")[0], int(sys.argv[3]))
        return {"gptme-cancel": worker_gptme_cancel, "ours-cancel": worker_ours_cancel}[kind]()
    import tempfile

    from bench import peers
    from bench.harness import default_out, header, housekeeping, shown, write

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="cancellation trials per tool")
    parser.add_argument("--calls", type=int, default=20, help="calls in the overhead session")
    parser.add_argument("--gptme-python", help="python of a venv with gptme (default: bench.peers makes one)")
    parser.add_argument("--peers-dir", default=peers.DEFAULT_DIR, help="where bench.peers keeps the venvs")
    parser.add_argument("--out", default=default_out("shell.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    gptme, reason = peers.resolve("gptme", args.gptme_python, args.peers_dir)
    sections = [header("Shell tool: cancellation and overhead", {"gptme venv": shown(gptme) if gptme else "-"})]
    with tempfile.TemporaryDirectory(prefix="shell-bench-") as tmp:
        here = os.getcwd()
        os.chdir(tmp)  # the workers' shells start here
        try:
            sections.append(bench(args, gptme, reason))
        finally:
            os.chdir(here)
    sections.append(housekeeping(started, []))
    write(args.out, sections)


if __name__ == "__main__":
    main()
