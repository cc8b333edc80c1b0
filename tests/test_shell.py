"""The shell tool: every process a command starts is gone when the call returns, whatever ends it.

The agent runs in process with a ScriptedProvider; real bash. Leftovers are found by walking the
process tree below this process, which is made a child subreaper (PR_SET_CHILD_SUBREAPER) for each
test: a grandchild orphaned by its parent is then re-parented to us instead of init, so a survivor
shows up in the walk instead of escaping it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import trio

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.store import Conversation
from gptme_trio.llm import Message
from gptme_trio.tools import Report
from gptme_trio.tools.background import Background, open_background
from gptme_trio.tools.output import HEAD, TAIL
from gptme_trio.tools.shell import NO_INPUT_HINT, Shell, ShellSettings
from tests.support import ROOT
from tests.support.scripted import ScriptedProvider
from tests.support.ui import RecordingUI

from .conftest import alive, names


@pytest.fixture
def left_over(subreaper: None) -> Callable[[], list[psutil.Process]]:
    """The processes below this one that still run and were not there before the test (the shared servers
    were), with orphans re-parented to us (conftest.subreaper)."""
    before = set(psutil.Process().children(recursive=True))
    return lambda: alive([p for p in psutil.Process().children(recursive=True) if p not in before])


def make_shell(background: Background, cwd: Path, **settings: float) -> Shell:
    return Shell(cwd, os.environ, background, ShellSettings(**settings))


async def run(shell: Shell, command: str, **arguments: object) -> str:
    return await shell.shell(command, report=Report(), **arguments)  # type: ignore[arg-type]


@pytest.fixture
def conversation(tmp_path) -> Conversation:
    conv = Conversation.create(tmp_path, "shell")
    conv.append(Message("system", "be brief"))
    return conv


@pytest.mark.serial  # timing
async def test_ctrl_c_stops_the_command_at_once_keeps_its_output_and_the_next_turn_works(
    left_over, tmp_path, conversation
):
    model = ScriptedProvider()
    model.enqueue(tool_calls=[("shell", {"command": "echo started; sleep 100"})])
    model.enqueue(tool_calls=[("shell", {"command": "echo again"})])
    model.enqueue("done")
    ui = RecordingUI()
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        agent = Agent(model, {t.name: t for t in shell.tools()}, ChatSettings(confirm_tools=True))
        with trio.CancelScope() as turn:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(agent.turn, conversation, "sleep", ui)
                with trio.fail_after(10):
                    while "started" not in ui.shown:  # the output streams while the command runs
                        await trio.sleep(0.01)
                with trio.fail_after(10):
                    while not (sleeping := [p for p in left_over() if names([p]) == ["sleep"]]):
                        await trio.sleep(0.01)  # `echo` came first; `sleep` may not have started yet
                await trio.sleep(1)
                turn.cancel()  # what Ctrl-C does to the turn (core/runtime.Interrupts)
                cancelled_at = time.perf_counter()
        back_after = time.perf_counter() - cancelled_at
        assert back_after < 0.3, f"control came back after {back_after * 1000:.0f} ms"  # the goal: 100 ms
        assert not left_over()
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in sleeping)
        result = conversation.messages[-1]
        assert result.role == "tool" and result.content == "started\n[interrupted]"
        assert ui.previews == ["$ echo started; sleep 100\n  (in " + str(tmp_path) + ")"]
        assert await agent.turn(conversation, "again", ui) == "done"
        assert model.requests[-1].tool_results[-1] == "again\n[exit status 0]"


@pytest.mark.serial  # timing
async def test_a_timeout_ends_background_jobs_of_the_command_too(left_over, tmp_path):
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        started = time.perf_counter()
        result = await run(shell, "echo before; sh -c 'sleep 100 & sleep 100'", timeout=2)
        took = time.perf_counter() - started
    assert result == "before\n[timed out after 2 s]"
    assert 1.9 < took < 5
    assert not left_over()


async def test_jobs_left_running_by_a_finished_command_end_with_it(left_over, tmp_path):
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        # a job in a process group of its own (job control on) is still in the session
        result = await run(shell, "set -m; sleep 100 & sleep 100 & echo left two")
    assert result.startswith("left two\n") and result.endswith("[exit status 0]")  # bash may add job notices
    assert not left_over()


@pytest.mark.serial  # timing
async def test_a_command_that_prints_nothing_for_too_long_is_stopped(left_over, tmp_path):
    async with open_background() as background:
        shell = make_shell(background, tmp_path, inactivity=1)
        started = time.perf_counter()
        result = await run(shell, "echo a; sleep 0.5; echo b; sleep 100", timeout=30)
        took = time.perf_counter() - started
    assert result == "a\nb\n[stopped: no output for 1 s]"
    assert 1.4 < took < 5  # the clock restarted at "b"
    assert not left_over()


@pytest.mark.serial  # timing
async def test_a_gigabyte_of_output_keeps_memory_bounded_and_is_cut_in_the_middle(left_over, tmp_path):
    ui = RecordingUI()
    report = Report(lambda text: setattr(ui, "shown", ui.shown + text))
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        before = psutil.Process().memory_info().rss
        with trio.fail_after(120):
            command = "printf START; head -c 1073741824 /dev/zero | tr '\\0' x; printf END"
            result = await shell.shell(command, report=report)
        grown = psutil.Process().memory_info().rss - before
    assert grown < 100 << 20, f"memory grew by {grown >> 20} MB"
    total = 1073741824 + len("START") + len("END")
    omitted = total - HEAD - TAIL
    head, marker, tail = result.split("\n", 2)
    assert head == "START" + "x" * (HEAD - 5)
    assert marker == f"[... 1024.0 MB ({omitted} bytes) omitted ...]"
    assert tail == "x" * (TAIL - 3) + "END\n[exit status 0]"
    assert len(ui.shown) < 2 << 20 and "not shown" in ui.shown  # the terminal got the first MB, then a note


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("cat", "[exit status 0]"),  # reads stdin: /dev/null
        ("python3 -c 'input()'", NO_INPUT_HINT),
        ("echo $PAGER $GIT_PAGER $TERM", "cat cat dumb\n[exit status 0]"),
        (f"git -C {ROOT} log -1 --format=%H | wc -c", "41\n[exit status 0]"),
    ],
)
async def test_commands_that_would_wait_for_a_person_return_at_once(left_over, tmp_path, command, expected):
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        started = time.perf_counter()
        result = await run(shell, command)
        assert time.perf_counter() - started < 5
    assert result.endswith(expected)


async def test_cd_persists_between_calls_and_exit_keeps_it(left_over, tmp_path):
    (tmp_path / "sub").mkdir()
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        assert await run(shell, "cd sub && echo moved") == f"moved\n[exit status 0]\n[now in {tmp_path / 'sub'}]"
        assert await run(shell, "pwd; cd ..; exit 3") == f"{tmp_path / 'sub'}\n[exit status 3]\n[now in {tmp_path}]"
        assert await run(shell, "pwd") == f"{tmp_path}\n[exit status 0]"
        assert await run(shell, "export X=1; cd /") == "[exit status 0]\n[now in /]"
        assert await run(shell, "echo ${X:-unset}") == "unset\n[exit status 0]"  # variables do not persist


async def test_stdout_and_stderr_arrive_as_one_stream_in_order(left_over, tmp_path):
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        result = await run(shell, "for i in 1 2 3; do echo out$i; echo err$i >&2; done; false")
    assert result == "out1\nerr1\nout2\nerr2\nout3\nerr3\n[exit status 1]"


async def test_background_jobs_report_new_output_stop_on_kill_and_end_with_the_chat(left_over, tmp_path):
    async with open_background() as background:
        shell = make_shell(background, tmp_path)
        started = await run(shell, "echo ready; sleep 100", background=True)
        assert started.startswith("started background job 1 (pid ")
        assert "ready\n[job 1 still running" in started
        assert (await shell.shell_output(1)).startswith("[no new output]\n[job 1 still running")
        await run(shell, "sh -c 'while :; do echo tick; sleep 0.2; done'", background=True)
        await trio.sleep(0.5)
        assert "tick" in await shell.shell_output(2)
        assert (await shell.shell_kill(1)).endswith("[stopped by shell_kill]")
        assert "error" not in await run(shell, "exit 0", background=True)
        assert (await shell.shell_output(3)).endswith("[job 3 exited with status 0]")
        with pytest.raises(Exception, match="no background job 9 \\(jobs: 1, 2, 3\\)"):
            await shell.shell_output(9)
        assert left_over(), "job 2 should still run"
    assert not left_over()  # the service ended: job 2 and its sleep went with it


@pytest.mark.serial  # timing
async def test_a_command_that_ignores_sigterm_is_killed_2_s_later_and_the_cap_bounds_the_timeout(left_over, tmp_path):
    async with open_background() as background:
        shell = make_shell(background, tmp_path, max_timeout=1)
        started = time.perf_counter()
        result = await run(shell, "trap '' TERM; echo stubborn; sleep 100", timeout=100)  # sleep inherits the trap
        took = time.perf_counter() - started
    assert result == "stubborn\n[timed out after 1 s]"  # capped at max_timeout
    assert 2.9 < took < 6  # 1 s, then SIGTERM ignored for the 2 s grace, then SIGKILL
    assert not left_over()
