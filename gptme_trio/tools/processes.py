"""A command in a session of its own, ended whole: every process it started goes with it.

    async with open_session(["bash", "-c", "make"], cwd=cwd, env=env) as proc:
        ...                           # read proc.stdout (stdout and stderr, merged, in order)
    # here the command and everything it started are gone, on every exit path

The command starts in a new session (start_new_session: it is its own process group and session
leader, without a controlling terminal), stdin from /dev/null. Leaving the block ends the session
in a shielded, bounded clean-up: SIGTERM to every process of the session, SIGKILL to those still
there `GRACE` seconds later. Members are found by their session id in /proc, so jobs that moved to
a process group of their own (`set -m; job &`) and children already orphaned by their parent go
too. A process that calls setsid() itself has left the session and is out of reach.

Waiting uses pidfds (readable when a process exits): no polling. The caller owns the deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path

import trio

from gptme_trio.core.errors import ToolError, os_reason

GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN = 0.5  # seconds to read the rest of the output once the session has ended
PIPE_SIZE = 1 << 20  # a larger pipe: fewer wake-ups for commands that print a lot


@contextlib.asynccontextmanager
async def open_session(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], pass_fds: Sequence[int] = ()
) -> AsyncIterator[trio.Process]:
    """Start `argv` in its own session; end the session (shielded) when the block is left."""
    try:
        proc = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            env=dict(env),
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        raise ToolError(f"cannot start {argv[0]}: {os_reason(exc)}") from exc
    assert isinstance(proc.stdout, trio.lowlevel.FdStream)
    with contextlib.suppress(OSError):  # not every kernel lets us grow it: a smaller pipe still works
        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    try:
        yield proc
    finally:
        with trio.CancelScope(shield=True):
            await end_session(proc.pid, proc)
            await proc.stdout.aclose()


async def end_session(sid: int, leader: trio.Process | None = None) -> None:
    """SIGTERM every process of session `sid`, SIGKILL the rest after GRACE s; reap `leader`."""
    members = _members(sid)
    if leader is not None and leader.returncode is None and leader.pid not in members:
        members.append(leader.pid)  # /proc unreadable (hidepid): the leader at least, by its pid
    if members:
        _signal_all(members, signal.SIGTERM)
        with trio.move_on_after(GRACE):
            await wait_gone(members)
        for _ in range(3):  # a member may have forked between a scan and its signal
            left = _members(sid)
            if not left:
                break
            _signal_all(left, signal.SIGKILL)
            with trio.move_on_after(GRACE):  # SIGKILL cannot be caught: quick, unless stuck in the kernel
                await wait_gone(left)
    if leader is not None:
        if leader.poll() is None:
            leader.kill()
        await leader.wait()


def _members(sid: int) -> list[int]:
    """The live (not zombie) processes whose session is `sid`: getsid() on every pid (one cheap call
    each), then /proc/PID/stat for the few in the session, to leave out zombies."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.getsid(int(name)) != sid:
                continue
            with open(f"/proc/{name}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]  # after "(comm)": the state
        except (OSError, IndexError):
            continue  # gone meanwhile
        if state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


async def wait_gone(pids: list[int]) -> None:
    """Return when every process in `pids` has exited (pidfds: they need not be our children)."""
    fds = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            fds.append(os.pidfd_open(pid))
    try:
        async with trio.open_nursery() as nursery:
            for fd in fds:
                nursery.start_soon(trio.lowlevel.wait_readable, fd)
    finally:
        for fd in fds:
            os.close(fd)


async def collect(proc: trio.Process, take: Callable[[bytes], None]) -> int:
    """Hand `proc`'s output to `take` until it exits; end what it left running in its session (`cmd &`);
    return its exit status. The output that follows comes in up to DRAIN s: a process that left the
    session (setsid) may hold the pipe open for ever."""
    assert proc.stdout is not None
    stdout, eof = proc.stdout, trio.Event()

    async def read() -> None:
        while chunk := await stdout.receive_some():
            take(bytes(chunk))
        eof.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        status = await proc.wait()
        await end_session(proc.pid)
        with trio.move_on_after(DRAIN):
            await eof.wait()
        nursery.cancel_scope.cancel()
    return status
