"""Chat's MCP client: closing a stdio server (ours vs the SDK's stdio_client), cancel latency, chat start and exit.

Run from the repo root: `python -m bench.mcp_client_bench [--runs N] [--before DIR]`; writes
bench/results/mcp_client.md. --before DIR: a checkout of earlier code (`git worktree add DIR COMMIT`)
whose chat is timed with two servers too, in the same rounds.

1. Closing a server that leaves a child behind (tests/support/mcp_hang_server.py starts `sleep 1000` and
   never ends it), side by side: the SDK's `stdio_client` (mcp 2.3: stdin closed, SIGTERM/SIGKILL to the
   process group only if the server outlives its stdin by 2 s) and ours (gptme_trio/mcp/child.py: stdin
   closed, 1 s, then every process of the server's session). Time = leaving the block; left = processes
   of the server's tree still running 0.5 s later.
2. Cancel latency: a `hang` call's Trio scope cancelled → the server has run its handler's clean-up
   (it appends to a file; polled every 5 ms).
3. `gptme-trio chat` in a pseudo-terminal, alternating: no server configured vs two (the hang server and
   `gptme-trio mcp --tools read_url`): time to the first prompt, to `/mcp` (typed at once) listing
   both servers running, and Ctrl-D → exit with every descendant gone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pexpect
import psutil
import trio

from bench.chat_bench import compile_bytecode
from bench.harness import ROOT, alternate, default_out, header, load_average, med, write

PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")
HANG = [sys.executable, "-m", "tests.support.mcp_hang_server"]
OURS = [sys.executable, "-m", "gptme_trio", "mcp", "--tools", "read_url"]


def _pids(record: Path) -> list[int]:
    return [int(p) for line in record.read_text().splitlines() if line.startswith("pids ") for p in line.split()[1:]]


def _left(pids: list[int]) -> int:
    n = 0
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                n += 1
                psutil.Process(pid).kill()  # do not leave it to the next round
        except psutil.NoSuchProcess:
            pass
    return n


async def _close_sdk(record: Path) -> float:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=HANG[0], args=[*HANG[1:], str(record)], env=dict(os.environ), cwd=ROOT)
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            started = time.perf_counter()
    return time.perf_counter() - started


async def _close_ours(record: Path) -> float:
    from gptme_trio.mcp.client import open_servers
    from gptme_trio.mcp.servers import ServerSpec

    spec = ServerSpec("hang", command=HANG[0], args=(*HANG[1:], str(record)))
    with tempfile.TemporaryDirectory() as logs:
        async with open_servers((spec,), logs=Path(logs), env=os.environ, cwd=ROOT, notice=print):
            started = time.perf_counter()
    return time.perf_counter() - started


def close_once(how: str, left: dict[str, list[int]]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "record"
        close: Callable[[Path], Awaitable[float]] = _close_sdk if how.startswith("SDK") else _close_ours
        took = trio.run(close, record)
        time.sleep(0.5)
        left[how].append(_left(_pids(record)))
        return took


async def _cancel_latency(record: Path, rounds: int) -> list[float]:
    from gptme_trio.mcp.client import open_servers
    from gptme_trio.mcp.servers import ServerSpec

    spec = ServerSpec("hang", command=HANG[0], args=(*HANG[1:], str(record)))
    times = []
    with tempfile.TemporaryDirectory() as logs:
        async with open_servers((spec,), logs=Path(logs), env=os.environ, cwd=ROOT, notice=print) as servers:
            hang = servers.tools()["hang__hang"]
            for i in range(rounds + 1):
                with trio.move_on_after(0.3) as scope:
                    await hang.run()
                cancelled = scope.deadline
                while record.read_text().count("cancelled") <= i:
                    await trio.sleep(0.005)
                if i:  # the first is a warm-up
                    times.append(trio.current_time() - cancelled)
    return times


def _stdio(name: str, argv: list[str]) -> str:
    return f"[mcp.servers.{name}]\ncommand = {json.dumps(argv[0])}\nargs = {json.dumps(argv[1:])}\n"


def chat_once(config: str, root: Path, times: dict[str, dict[str, list[float]]]) -> float:
    """One chat from `root`'s package: (first prompt, both servers running per /mcp) s into `times`; returns
    Ctrl-D -> every descendant gone, s."""
    with tempfile.TemporaryDirectory() as home:
        record = Path(home) / "record"
        servers = _stdio("hang", [*HANG, str(record)]) + _stdio("ours", OURS) if "two" in config else ""
        (Path(home) / "config.toml").write_text(servers)
        env = {**os.environ, "GPTME_TRIO_HOME": home, "PROMPT_TOOLKIT_NO_CPR": "1"}
        started = time.perf_counter()
        child = pexpect.spawn(sys.executable, ["-m", "gptme_trio", "chat"], env=env, timeout=60, cwd=root)
        child.expect(PROMPT)
        times["prompt"].setdefault(config, []).append(time.perf_counter() - started)
        if servers:
            child.send(
                "/mcp\r"
            )  # Enter (CR; a bare LF is a new line); answered once chat's services are open: every server running or failed
            for name in ("hang", "ours"):
                child.expect(f"{name}: running".encode())
            times["running"].setdefault(config, []).append(time.perf_counter() - started)
            child.expect(PROMPT)
        descendants = psutil.Process(child.pid).children(recursive=True)
        sent = time.perf_counter()
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        _, alive = psutil.wait_procs(descendants, timeout=10)
        took = time.perf_counter() - sent
        if alive or child.exitstatus != 0:
            raise SystemExit(f"{config}: exit {child.exitstatus}, left {[p.pid for p in alive]}")
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=default_out("mcp_client.md"))
    parser.add_argument("--before", type=Path, metavar="DIR", help="also time chat with two servers from this checkout")
    args = parser.parse_args()
    head = header("Chat as an MCP client: closing servers, cancel latency, start and exit")  # the load at start
    left: dict[str, list[int]] = {"SDK stdio_client": [], "ours (child.py)": []}
    closing = alternate(list(left), args.runs, lambda how: close_once(how, left))
    with tempfile.TemporaryDirectory() as tmp:
        cancels = trio.run(_cancel_latency, Path(tmp) / "record", args.runs * 4)
    roots = {"no server": ROOT, "two servers": ROOT}
    if args.before is not None:
        roots[f"two servers, --before ({args.before.name})"] = args.before
    for root in set(roots.values()):
        compile_bytecode(root)  # as pip leaves a package, on both sides
    times: dict[str, dict[str, list[float]]] = {"prompt": {}, "running": {}}
    exits = alternate(list(roots), args.runs, lambda config: chat_once(config, roots[config], times))
    for kind in times.values():
        for values in kind.values():
            del values[0]  # the warm-up round's
    close_rows = "\n".join(
        f"| {how} | {med(closing[how], 1000, '{:.0f}')} | {sum(left[how][1:])} in {args.runs} runs |" for how in left
    )
    chat_rows = "\n".join(
        f"| {config} | {med(times['prompt'][config], 1, '{:.2f}')} | "
        f"{med(times['running'][config], 1, '{:.2f}') if config in times['running'] else '—'} | "
        f"{med(exits[config], 1, '{:.2f}')} |"
        for config in roots
    )
    section = f"""## Closing a stdio server that started a child

1 warm-up, then {args.runs} runs of each, alternating.

| client | close, ms median (min–max) | processes left 0.5 s after (server's tree) |
|---|---|---|
{close_rows}

## Cancel latency

A `hang` call cancelled by its Trio scope (the agent's deadline or Ctrl-C does the same) → the server's
handler has run its clean-up: {med(cancels, 1000, "{:.1f}")} ms over {len(cancels)} calls, one connection.

## gptme-trio chat with MCP servers

1 warm-up, then {args.runs} runs of each, alternating; a fresh chat each run (bytecode compiled, as
installed). Times from the spawn: the first prompt drawn; `/mcp`, typed at once, listing both servers
running (chat answers it once its services and servers are open); then exit = Ctrl-D → every
descendant gone (the servers, `gptme-trio mcp`, the test server's grandchild).

| config.toml (code) | first prompt, s median (min–max) | both servers running, s | Ctrl-D → all gone, s |
|---|---|---|---|
{chat_rows}

Load average at the end: {load_average()}.
"""
    write(args.out, [head, section])


if __name__ == "__main__":
    main()
