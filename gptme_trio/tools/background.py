"""Long-running commands (dev servers, watchers) that outlive one tool call but never the chat.

    async with open_background() as jobs:          # a service: chat/session.py opens it
        job = await jobs.start(argv, cwd=cwd, env=env, command="npm run dev")
        jobs.take(job.id)                          # the output since the last take, bounded
        await jobs.kill(job.id)
    # every job and everything it started is gone here, on every exit path

Each job is a task in the service's nursery running `processes.open_session`: leaving the
service (the chat ends, Ctrl-C at the prompt, an error) cancels them all, and each session ends
in its shielded clean-up (SIGTERM, SIGKILL 2 s later).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trio

from gptme_trio.core.errors import ToolError
from gptme_trio.tools.output import BoundedOutput
from gptme_trio.tools.processes import collect, open_session

EARLY = 1.0  # seconds start() waits for a job that fails at once (a typo, a port in use)


@dataclass
class Job:
    id: int
    command: str
    pid: int = 0
    status: int | None = None  # exit status once it has exited
    killed: bool = False
    output: BoundedOutput = field(default_factory=BoundedOutput)  # not yet taken
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)

    def state(self) -> str:
        if self.killed:
            return "[stopped by shell_kill]"
        if self.status is None:
            return f"[job {self.id} still running, pid {self.pid}]"
        return f"[job {self.id} exited with status {self.status}]"


class Background:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    async def start(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], command: str) -> Job:
        """Start a job; return it once it runs, after up to EARLY s in case it ends at once."""
        job = Job(next(self._ids), command)
        await self._nursery.start(self._run, job, argv, cwd, env)
        self._jobs[job.id] = job
        with trio.move_on_after(EARLY):
            await job.done.wait()
        return job

    async def _run(
        self,
        job: Job,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            with job.scope:
                async with open_session(argv, cwd=cwd, env=env) as proc:
                    job.pid = proc.pid
                    task_status.started()
                    job.status = await collect(proc, lambda chunk: job.output.add(chunk))
        finally:
            job.done.set()

    def get(self, job_id: int) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            known = ", ".join(str(j) for j in self._jobs) or "none"
            raise ToolError(f"no background job {job_id} (jobs: {known})")
        return job

    def take(self, job_id: int) -> str:
        """The job's output since the last take, and its state."""
        job = self.get(job_id)
        text, job.output = job.output.text(), BoundedOutput()
        return f"{text.rstrip(chr(10))}\n{job.state()}" if text else f"[no new output]\n{job.state()}"

    async def kill(self, job_id: int) -> str:
        job = self.get(job_id)
        if job.status is None and not job.done.is_set():
            job.killed = True
            job.scope.cancel()
            await job.done.wait()
        return self.take(job_id)


@contextlib.asynccontextmanager
async def open_background() -> AsyncIterator[Background]:
    async with trio.open_nursery() as nursery:
        try:
            yield Background(nursery)
        finally:
            nursery.cancel_scope.cancel()
