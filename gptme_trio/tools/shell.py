"""The `shell` tool: bash commands that can always be stopped, and whose output cannot flood us.

    shell = Shell(root, env, background, ShellSettings())
    tools = shell.tools()            # shell, shell_output, shell_kill

Each call is a fresh `bash -c` in a session of its own (tools/processes.py), stdin from /dev/null,
pagers off (PAGER=cat, GIT_PAGER=cat, TERM=dumb): a command that waits for input or opens a pager
ends at once. The working directory persists between calls: bash writes `pwd` to a pipe of ours
when it exits, and the next call starts there. Variables do not persist.

Deadline: the call's `timeout` (default 120 s, at most `max_timeout`), and `inactivity` s without
output. When it passes, or on Ctrl-C, the command's whole session ends (SIGTERM, SIGKILL 2 s later)
and the output so far is the result, marked. The output is stdout and stderr as one stream, in
order, bounded (tools/output.py); it streams to the user while the command runs.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from gptme_trio.core.errors import ToolError
from gptme_trio.tools import Report, Tool, tool
from gptme_trio.tools.background import Background
from gptme_trio.tools.output import BoundedOutput
from gptme_trio.tools.processes import collect, open_session

QUIET_ENV = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "SYSTEMD_PAGER": "cat",
    "TERM": "dumb",
    "GIT_TERMINAL_PROMPT": "0",  # git asks no password: it fails instead
    "PYTHONUNBUFFERED": "1",  # Python's progress reaches us as it happens (and the inactivity timer)
}
STREAM_LIMIT = 1 << 20  # bytes of one call's output shown on the terminal as it runs
NO_INPUT_HINT = (
    "[stdin is /dev/null and there is no terminal: pass input with a pipe or a here-doc, "
    "or use the program's non-interactive options]"
)
_WANTS_INPUT = re.compile(r"EOF|not a (terminal|tty)|terminal is required|no tty", re.IGNORECASE)


@dataclass(frozen=True)
class ShellSettings:
    timeout: float = 120.0  # a call's deadline when it names none
    max_timeout: float = 600.0  # the most a call may ask for (config: shell_max_timeout)
    inactivity: float = 60.0  # a command that prints nothing for this long is stopped


class Shell:
    def __init__(self, cwd: Path, env: Mapping[str, str], background: Background, settings: ShellSettings) -> None:
        self.home = cwd
        self.cwd = cwd  # where the next command starts; a `cd` moves it
        self._env = {**env, **QUIET_ENV}
        self._background = background
        self.settings = settings

    def tools(self) -> list[Tool]:
        return [
            tool(self.shell, own_deadline=True, preview=self._preview),
            tool(self.shell_output),
            tool(self.shell_kill),
        ]

    def _preview(self, arguments: dict[str, Any]) -> str:
        where = f"  (in {self.cwd}" + (", in the background)" if arguments.get("background") else ")")
        return f"$ {arguments['command']}\n{where}"

    async def shell(self, command: str, timeout: float = 0, background: bool = False, *, report: Report) -> str:
        """Run a bash command; returns its output (stdout and stderr together) and exit status.

        stdin is /dev/null, so commands that wait for input end at once; pagers are off. `cd` persists
        between calls, variables do not. Output beyond the first and last 20 KB is cut.

        Args:
        command: the bash command (pipes, &&, here-docs are fine)
        timeout: seconds before it is stopped (default 120); it is also stopped after 60 s without output
        background: true for servers and watchers: returns a job id at once; then use shell_output and shell_kill
        """
        if background:
            job = await self._background.start(
                self._argv(command, None), cwd=self._start_dir(), env=self._env, command=command
            )
            intro = f"started background job {job.id} (pid {job.pid}); shell_output({job.id}) reads its output"
            return f"{intro}, shell_kill({job.id}) stops it\n{self._background.take(job.id)}"
        if timeout < 0:
            raise ToolError(f"shell: timeout must be 0 (the default) or more seconds, got {timeout:g}")
        limits = self.settings
        seconds = min(timeout or limits.timeout, limits.max_timeout)
        return await self._run(command, seconds, report)

    async def shell_output(self, job: int) -> str:
        """The new output of a background job since the last look, and whether it still runs.

        Args:
        job: the id `shell` returned
        """
        return self._background.take(job)

    async def shell_kill(self, job: int) -> str:
        """Stop a background job and everything it started; returns its last output.

        Args:
        job: the id `shell` returned
        """
        return await self._background.kill(job)

    def _start_dir(self) -> Path:
        if not self.cwd.is_dir():  # removed since the last call
            self.cwd = self.home
        return self.cwd

    def _argv(self, command: str, pwd_fd: int | None) -> list[str]:
        if pwd_fd is None:
            return ["bash", "-c", command]
        return ["bash", "-c", f"trap 'builtin pwd >&{pwd_fd}' EXIT; {command}"]

    async def _run(self, command: str, seconds: float, report: Report) -> str:
        out, show = BoundedOutput(), _Shown(report.show)
        report.partial = lambda: _result(out, "[interrupted]")
        inactivity = self.settings.inactivity
        hard = trio.current_time() + seconds
        read_end, write_end = os.pipe()
        try:
            with trio.CancelScope(deadline=min(hard, trio.current_time() + inactivity)) as limit:

                def take(chunk: bytes) -> None:
                    out.add(chunk)
                    show(chunk)
                    limit.deadline = min(hard, trio.current_time() + inactivity)

                argv = self._argv(command, write_end)
                async with open_session(argv, cwd=self._start_dir(), env=self._env, pass_fds=(write_end,)) as proc:
                    os.close(write_end)
                    write_end = -1
                    status = await collect(proc, take)
            if limit.cancelled_caught:
                over = trio.current_time() >= hard
                return _result(
                    out, f"[timed out after {seconds:g} s]" if over else f"[stopped: no output for {inactivity:g} s]"
                )
            moved = self._moved(read_end)
            return _result(out, f"[exit status {status}]" + (f"\n[now in {moved}]" if moved else ""))
        finally:
            for fd in (read_end, write_end):
                if fd >= 0:
                    os.close(fd)

    def _moved(self, read_end: int) -> Path | None:
        """Where the command left bash (written by its EXIT trap), if that is a new place."""
        os.set_blocking(read_end, False)
        data = b""
        with contextlib.suppress(BlockingIOError):
            data = os.read(read_end, 65536)
        lines = data.decode("utf-8", "surrogateescape").splitlines()
        if not lines or not lines[-1].startswith("/"):
            return None
        where = Path(lines[-1])
        if where == self.cwd:
            return None
        self.cwd = where
        return where


class _Shown:
    """Output for the terminal as it arrives, decoded across chunk boundaries, up to STREAM_LIMIT."""

    def __init__(self, show: Callable[[str], None]) -> None:
        self._show = show
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._left = STREAM_LIMIT

    def __call__(self, chunk: bytes) -> None:
        if self._left <= 0:
            return
        self._left -= len(chunk)
        text = self._decoder.decode(chunk[: len(chunk) + min(0, self._left)])
        if self._left <= 0:
            text += f"\n[more output than {STREAM_LIMIT >> 20} MB: not shown; the model gets its end]\n"
        if text:
            self._show(text)


def _result(out: BoundedOutput, marker: str) -> str:
    text = out.text().rstrip("\n")
    if _WANTS_INPUT.search(text):
        marker = f"{marker}\n{NO_INPUT_HINT}"
    return f"{text}\n{marker}" if text else marker
