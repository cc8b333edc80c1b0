"""`gptme-trio chat` in a pseudo-terminal, typed at as a person would."""

from __future__ import annotations

import json
import os
import re
import time

import pexpect
import pytest

from .conftest import alive, cli_command, cli_env, descendants, names

PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")


def spawn_chat(*args: str, **env: str) -> pexpect.spawn:
    cmd = cli_command("chat", *args)
    return typing_keys(pexpect.spawn(cmd[0], cmd[1:], env=cli_env(PROMPT_TOOLKIT_NO_CPR="1", **env), timeout=20))


def typing_keys(child: pexpect.spawn) -> pexpect.spawn:
    """`sendline` ends a line with Enter as a terminal sends it (CR); a bare LF is Ctrl-J, a new line."""
    child.linesep = b"\r"
    return child


def ctrl_d_exits_cleanly(child: pexpect.spawn, tree: list) -> None:
    """Ctrl-D at the prompt: exit code 0, and every process in `tree` gone within 3 s."""
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    deadline = time.monotonic() + 3
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(tree)


def test_without_a_model_slash_commands_work_and_ctrl_d_exits_clean(site):
    child = spawn_chat()
    started = time.monotonic()
    child.expect(PROMPT)
    assert time.monotonic() - started < 5
    assert b"no model configured" in child.before
    child.sendline("/fetch " + site.url("/normal"))  # typed by the user: loopback is fine here
    child.expect("Structured concurrency means")
    child.expect(PROMPT)
    tree = descendants(child.pid)
    assert any("chrom" in name for name in names(tree))  # the browser started lazily, for /fetch
    child.sendline("what is on that page?")
    child.expect("no model configured")
    child.expect(PROMPT)
    child.send("half a line")
    child.sendcontrol("c")  # clears the line; the program goes on
    child.expect(PROMPT)
    child.sendline("/nonsense")
    child.expect("unknown command /nonsense")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, tree)


@pytest.mark.serial  # a latency bound: failed under the parallel phase's load
def test_ctrl_c_during_a_slow_fetch_returns_to_the_prompt(site):
    child = spawn_chat()
    child.expect(PROMPT)
    child.sendline("/fetch " + site.url("/never"))
    time.sleep(1.5)  # the browser is up and the page is loading
    sent = time.monotonic()
    child.sendintr()  # what the terminal does on Ctrl-C: SIGINT to the foreground group
    child.expect(r"\[interrupted\]")
    child.expect(PROMPT)
    assert time.monotonic() - sent < 1.0
    child.sendline("/fetch " + site.url("/normal"))  # the browser survived the group's SIGINT
    child.expect("Structured concurrency means", timeout=10)
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, descendants(child.pid))


@pytest.mark.serial  # a latency bound (Ctrl-C -> prompt < 1 s): 1.15 s once under the parallel phase's load
def test_ctrl_c_during_a_model_tool_call_then_the_next_turn_works(llm, site, tmp_path):
    server = llm(
        [
            {"text": "Reading it. ", "tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/never")}}]},
            {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/normal")}}]},
            {"text": "It is about structured concurrency."},
        ]
    )
    home = tmp_path / "home"
    child = spawn_chat(
        "-m", "local/test-model", "-y", "--allow-hosts", "127.0.0.1", GPTME_TRIO_HOME=str(home), **server.env("local")
    )
    child.expect(PROMPT)
    child.sendline("read the slow page")
    child.expect("read_url")
    time.sleep(1.5)  # the browser is up and the page hangs
    tree = descendants(child.pid)
    sent = time.monotonic()
    child.sendintr()
    child.expect(r"\[interrupted\]")
    child.expect(PROMPT)
    assert time.monotonic() - sent < 1.0
    child.sendline("now the normal one")
    child.expect("It is about structured concurrency.", timeout=15)
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, tree)
    requests = server.requests()
    assert len(requests) == 3
    second_turn = json.dumps(requests[1]["body"]["messages"])
    assert "interrupted by user" in second_turn  # the cancelled call was recorded and told
    [log] = (home / "conversations").glob("*/conversation.jsonl")
    roles = [json.loads(line)["role"] for line in log.read_text().splitlines()]
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant", "tool", "assistant"]


def test_a_malformed_stream_is_one_line_and_chat_goes_on(llm, tmp_path):
    """A broken stream in a turn (with the spinner and the typeahead watch running around it) is one line,
    and the next prompt comes: it must not leave the turn's task group as a group and end chat (a 401:
    test_chat_render_tty)."""
    server = llm([{"fault": "malformed", "data": "{not json"}, {"text": "Working again."}])
    child = spawn_chat("-m", "local/test-model", GPTME_TRIO_HOME=str(tmp_path / "home"), **server.env("local"))
    child.expect(PROMPT)
    child.sendline("hello")
    child.expect("gptme-trio: ")
    child.expect(PROMPT)
    child.sendline("again")
    child.expect("Working again.")
    child.expect(PROMPT)
    assert b"Traceback" not in child.before
    ctrl_d_exits_cleanly(child, [])


@pytest.mark.serial  # a latency bound (Ctrl-C -> prompt < 1 s): 1.15 s once under the parallel phase's load
def test_confirmation_slash_commands_and_ctrl_c_while_streaming(llm, site, tmp_path):
    server = llm(
        [
            {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/normal")}}]},
            {"text": "Fine, I will not read it."},
            {"fault": "stall", "text": "This reply never ends because", "after": 8},
            {"text": "Back again."},
        ]
    )
    home = tmp_path / "home"
    child = spawn_chat("--allow-hosts", "127.0.0.1", GPTME_TRIO_HOME=str(home), **server.env("local"))
    child.expect(PROMPT)
    child.sendline("/model local/test-model")
    child.expect("model: local/test-model")
    child.expect(PROMPT)
    child.sendline("read the page")
    child.expect(r"Run read_url\(http://127\.0\.0\.1:\d+/normal\)\? \[Y/n\]")
    child.sendline("n")
    child.expect("Fine, I will not read it.")
    child.expect(PROMPT)
    child.sendline("tell me a long story")
    child.expect("This reply")  # streamed to the terminal as it arrives
    sent = time.monotonic()
    child.sendintr()
    child.expect(r"\[interrupted\]")
    child.expect(PROMPT)
    assert time.monotonic() - sent < 1.0
    child.sendline("/rename story-time")
    child.expect("renamed to story-time")
    child.expect(PROMPT)
    child.sendline("/screenshot " + site.url("/images"))
    child.expect(r"saved a [\d,]+-byte PNG")
    child.expect(PROMPT)
    child.sendline("/undo")
    child.expect(r"forgot 2 message\(s\)")  # the interrupted turn: the question and the partial reply
    child.expect(PROMPT)
    child.sendline("again")
    child.expect("Back again.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, descendants(child.pid))
    directory = home / "conversations" / "story-time"
    assert list(directory.glob("screenshot-*.png"))
    log = [json.loads(line) for line in (directory / "conversation.jsonl").read_text().splitlines()]
    declined = [m for m in log if m["role"] == "tool"]
    assert declined[0]["content"] == "the user declined this tool call"
    assert [m["content"] for m in log if m["role"] == "user"] == ["read the page", "again"]
    assert "tell me a long story" in json.dumps(server.requests()[2]["body"])
    assert "tell me a long story" not in json.dumps(server.requests()[3]["body"])  # undone


def test_the_driver_never_gets_the_terminal(site, tmp_path):
    """The driver restores the terminal modes it saw when it exits: it must not hold the tty."""
    home = tmp_path / "home"
    child = spawn_chat(GPTME_TRIO_HOME=str(home))
    child.expect(PROMPT)
    child.sendline("/fetch " + site.url("/normal"))
    child.expect("Structured concurrency means")
    child.expect(PROMPT)
    tree = descendants(child.pid)
    [driver] = [p for p in tree if (parent := p.parent()) is not None and parent.pid == child.pid]
    assert os.readlink(f"/proc/{driver.pid}/fd/2") == str(home / "logs" / "driver.log")
    driver.terminate()  # a driver dying while the prompt is up leaves the prompt usable
    child.sendline("/help")
    child.expect("forget the last N turns")
    child.expect(PROMPT)
    child.sendline("/fetch " + site.url("/js-title"))  # and a fresh browser serves the next call
    child.expect("Title from JavaScript")  # rendered by a real browser again
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, descendants(child.pid))


@pytest.mark.parametrize(
    ("model", "env", "said"),
    [
        ("bogus/x", {}, "unknown provider 'bogus'"),
        ("anthropic/claude-x", {"ANTHROPIC_API_KEY": ""}, "ANTHROPIC_API_KEY is not set"),
    ],
)
def test_a_model_that_cannot_be_used_is_said_before_any_prompt(tmp_path, model, env, said):
    """The prompt comes before the providers load (chat/session.py); the model's checks do not wait for them."""
    child = spawn_chat("-m", model, GPTME_TRIO_HOME=str(tmp_path), **env)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert said in child.before.decode()
    assert not PROMPT.search(child.before), child.before
