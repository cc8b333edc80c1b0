"""Chat as an MCP client in a pseudo-terminal: /mcp, Ctrl-C cancelling a server's call (the server gets
notifications/cancelled, the prompt is back within a second), and every process of every server (and
the test server's grandchild) gone after Ctrl-D, /exit or SIGTERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pexpect
import psutil
import pytest

from .conftest import descendants
from .test_chat_tty import PROMPT, spawn_chat
from .test_mcp_client import HANG, OURS, configure, gone_within, recorded, stdio, wait_for


def start_interactive(record: Path, server, *args: str) -> pexpect.spawn:
    configure(
        stdio("hang", [*HANG, str(record)]),
        stdio("ours", OURS),
        stdio("broken", ["/nonexistent/gptme-trio-test-server"]),
        stdio("slow", ["sleep", "1000"], "start_timeout = 1"),  # never answers: given up after 1 s
        stdio("off", ["/nonexistent/off"], "enabled = false"),
    )
    child = spawn_chat("-m", "local/test-model", *args, **server.env("local"))
    child.expect("MCP server broken: cannot start", timeout=30)
    child.expect(r"MCP server slow: did not start within 1 s \(start_timeout\); chat goes on without its tools")
    child.expect(PROMPT, timeout=30)
    return child


def server_tree(child: pexpect.spawn, record: Path) -> list[psutil.Process]:
    """chat's descendants: both servers, and the test server's grandchild (they start while the prompt
    is up: the test server writes its pids once it runs)."""
    wait_for(lambda: recorded(record)[0], 15, "the test server never started")
    pids, _ = recorded(record)
    tree = descendants(child.pid)
    assert pids and set(pids) <= {p.pid for p in tree}
    assert any("gptme_trio" in " ".join(p.cmdline()) and "mcp" in p.cmdline() for p in tree)
    return tree


@pytest.mark.serial  # a latency bound
def test_interactive_mcp_list_ctrl_c_cancels_and_ctrl_d_leaves_nothing(llm, tmp_path, subreaper):
    record = tmp_path / "record"
    server = llm(
        [
            {"tool_calls": [{"name": "hang__hang", "arguments": {"tags": ["a"]}}]},
            {"tool_calls": [{"name": "hang__echo", "arguments": {"text": "still here"}}]},
            {"text": "Echoed."},
        ]
    )
    child = start_interactive(record, server)
    tree = server_tree(child, record)
    child.sendline("/mcp")
    for line in (
        r"hang: running · 6 tool\(s\)",
        "  hang__echo: Say the text back.",
        r"ours: running · 1 tool\(s\)",
        "  ours__read_url: Read a web page",
        "broken: failed: cannot start /nonexistent/gptme-trio-test-server: No such file or directory",
        r"slow: failed: did not start within 1 s",
        "off: disabled",
    ):
        child.expect(line.encode())
    child.expect(PROMPT)
    child.sendline("hang, please")
    child.expect(r"Run hang__hang\(\['a'\]\)\? \[Y/n\]")  # confirmed like ours
    child.sendline("y")
    wait_for(lambda: recorded(record)[1] == ["hang"], 10, "the call never reached the server")
    time.sleep(0.2)
    sent = time.monotonic()
    child.sendintr()
    child.expect(r"\[interrupted\]")
    child.expect(PROMPT)
    assert time.monotonic() - sent < 1.0
    wait_for(lambda: recorded(record)[1] == ["hang", "cancelled"], 3, "the server never got notifications/cancelled")
    child.sendline("echo it")
    child.expect(r"Run hang__echo\(still here\)\? \[Y/n\]")
    child.sendline("y")
    child.expect("Echoed.")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    gone_within(tree, 5)
    requests = server.requests()
    assert [m["content"] for m in requests[1]["body"]["messages"][-2:]] == ["interrupted by user", "echo it"]
    assert requests[2]["body"]["messages"][-1]["content"] == "echo: still here"


@pytest.mark.parametrize("how", ["SIGTERM", "exit"])
def test_every_server_process_ends_with_chat(llm, tmp_path, subreaper, how):
    record = tmp_path / "record"
    child = start_interactive(record, llm([]))
    tree = server_tree(child, record)
    if how == "SIGTERM":
        child.kill(signal.SIGTERM)
    else:
        child.sendline("/exit")
    child.expect(pexpect.EOF, timeout=15)
    child.close()
    assert child.exitstatus == (143 if how == "SIGTERM" else 0)
    gone_within(tree, 5)


def test_the_prompt_does_not_wait_for_servers_and_their_notices_show_above_it(llm, subreaper):
    """A server that never answers (given up after its start_timeout): the banner says it is starting,
    the prompt is drawn at once, the failure is said above the prompt later (which is drawn again with
    what was typed meanwhile), and the line typed meanwhile is then answered."""
    configure(stdio("slow", ["sleep", "1000"], "start_timeout = 6"))
    server = llm([{"text": "Hello back."}])
    started = time.monotonic()
    child = spawn_chat("-m", "local/test-model", **server.env("local"))
    child.expect(r"MCP server slow starting")
    child.expect(PROMPT)
    assert time.monotonic() - started < 6
    child.send("hi there")
    child.expect(r"MCP server slow: did not start within 6 s \(start_timeout\); chat goes on without its tools")
    assert time.monotonic() - started >= 6
    child.expect(PROMPT)
    child.expect("hi there")  # the prompt, drawn again below the notice, kept the line
    child.sendline("")
    child.expect("Hello back.")
    child.expect(PROMPT)
    tree = descendants(child.pid)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    gone_within(tree, 5)
    assert server.requests()[0]["body"]["messages"][-1]["content"] == "hi there"


@pytest.mark.parametrize("how", ["ctrl-d", "/exit"])
def test_leaving_at_the_first_prompt_does_not_wait_for_a_starting_server(llm, tmp_path, subreaper, how):
    """Ctrl-D or /exit at the first prompt while a server is still starting (it never answers; its
    start_timeout is 30 s): chat ends at once, and the server's process with it."""
    record = tmp_path / "record"
    configure(stdio("hang", [*HANG, str(record)]), stdio("slow", ["sleep", "1000"], "start_timeout = 30"))
    child = spawn_chat("-m", "local/test-model", **llm([]).env("local"))
    child.expect(r"MCP servers hang, slow starting")
    child.expect(PROMPT)
    wait_for(lambda: recorded(record)[0], 15, "the test server never started")
    tree = descendants(child.pid)
    assert any(p.cmdline()[:2] == ["sleep", "1000"] for p in tree)
    sent = time.monotonic()
    if how == "ctrl-d":
        child.sendcontrol("d")
    else:
        child.sendline("/exit")
    child.expect(pexpect.EOF, timeout=15)
    child.close()
    assert child.exitstatus == 0
    gone_within(tree, 5)
    assert time.monotonic() - sent < 5  # not the 30 s of the slow server's start_timeout
