"""The prompt and the confirmation in a pseudo-terminal, keys typed as a person would (issue 14, items
22-25): typeahead never answers a confirmation, answers stay out of the history, a Ctrl-D typed while
the model answers ends chat within 1 s, Ctrl-C at a confirmation cancels the turn."""

from __future__ import annotations

import json
import shlex
import time

import pexpect
import pytest

from .conftest import cli_command, cli_env, descendants
from .test_chat_tty import PROMPT, ctrl_d_exits_cleanly, spawn_chat, typing_keys

QUESTION = r"Run read_url\(http://127\.0\.0\.1:\d+/normal\)\? \[Y/n\]"


def read_normal(site, **extra) -> dict:
    return {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/normal")}}], **extra}


def chat_with(server, home, *args: str) -> pexpect.spawn:
    child = spawn_chat(
        "-m", "local/test-model", "--allow-hosts", "127.0.0.1", *args, GPTME_TRIO_HOME=str(home), **server.env("local")
    )
    child.expect(PROMPT)
    return child


def last_user(request: dict) -> str:
    return next(m["content"] for m in reversed(request["body"]["messages"]) if m["role"] == "user")


def tool_results(request: dict) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


def test_typeahead_goes_to_the_next_prompt_never_to_a_confirmation(llm, site, tmp_path):
    server = llm([read_normal(site, delay_ms=1500), {"text": "Not read."}, {"text": "Replying to y."}])
    child = chat_with(server, tmp_path / "home")
    child.sendline("read the page")
    time.sleep(0.5)  # the model is answering: no prompt is up
    child.send("y\r")  # typed ahead, before any question was asked
    child.expect(QUESTION)
    time.sleep(0.5)  # the question waits for a key pressed after it appeared
    child.send("n\r")
    child.expect("Not read.")
    child.expect("Replying to y.")  # the typeahead was the next prompt's line
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    requests = server.requests()
    assert tool_results(requests[1]) == ["the user declined this tool call"]
    assert last_user(requests[2]) == "y"


def test_partial_typeahead_waits_at_the_next_prompt(llm, site, tmp_path):
    server = llm([read_normal(site, delay_ms=1500), {"text": "Read it."}, {"text": "More."}])
    child = chat_with(server, tmp_path / "home")
    child.sendline("read the page")
    time.sleep(0.5)
    child.send("and then")  # no Enter: it waits in the next ordinary prompt, editable
    child.expect(QUESTION)
    child.send("\r")  # Enter at the question: yes
    child.expect("Read it.")
    child.expect(PROMPT)
    child.send(" more\r")
    child.expect("More.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    requests = server.requests()
    assert "Structured concurrency" in tool_results(requests[1])[0]
    assert last_user(requests[2]) == "and then more"


def test_confirmation_answers_stay_out_of_the_history(llm, site, tmp_path):
    home = tmp_path / "home"
    server = llm([read_normal(site), {"text": "Read it."}, {"text": "Again."}])
    child = chat_with(server, home)
    child.sendline("read the page")
    child.expect(QUESTION)
    child.send("y\r")
    child.expect("Read it.")
    child.expect(PROMPT)
    child.send("\x1b[A")  # up-arrow: the last line typed at the prompt, not the answer "y"
    child.expect("read the page")
    child.send("\r")
    child.expect("Again.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert last_user(server.requests()[2]) == "read the page"
    entries = [line[1:] for line in (home / "history").read_text().splitlines() if line.startswith("+")]
    assert entries == ["read the page"]  # (prompt_toolkit does not repeat an entry equal to the last)


@pytest.mark.serial  # a latency bound: nox runs it after the parallel part, alone
def test_ctrl_d_typed_while_the_model_answers_ends_chat_within_a_second(llm, tmp_path):
    """Issue 14, item 24: EOF at any moment ends chat within 1 s. Typed while the reply streams (the
    prompt is not up), Ctrl-D on an empty line cancels the turn, which is recorded, and chat ends."""
    home = tmp_path / "home"
    server = llm([{"fault": "stall", "text": "This reply never ends because", "after": 8}])
    child = chat_with(server, home)
    child.sendline("tell me a long story")
    child.expect("This reply")  # streaming: no prompt is up
    sent = time.monotonic()
    child.sendcontrol("d")
    child.expect(pexpect.EOF, timeout=5)
    waited = time.monotonic() - sent
    child.close()
    assert child.exitstatus == 0
    assert waited < 1.0, waited
    [log] = (home / "conversations").glob("*/conversation.jsonl")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["role"] for e in entries] == ["system", "user", "assistant"]  # the partial reply, kept
    assert entries[-1]["content"].startswith("This reply")


@pytest.mark.serial  # a latency bound
def test_ctrl_d_typed_before_the_first_token_ends_chat_within_a_second(llm, tmp_path):
    server = llm([{"text": "Here is my answer.", "delay_ms": 4000}])
    child = chat_with(server, tmp_path / "home")
    child.sendline("hello")
    time.sleep(0.5)  # the model is thinking: no prompt is up
    sent = time.monotonic()
    child.sendcontrol("d")
    child.expect(pexpect.EOF, timeout=5)
    waited = time.monotonic() - sent
    child.close()
    assert child.exitstatus == 0
    assert waited < 1.0, waited
    assert b"Here is my answer." not in child.before


def test_a_ctrl_d_after_a_typed_line_waits_for_that_line(llm, tmp_path):
    """A Ctrl-D behind a line typed ahead is not at an empty prompt: the line is sent and answered first,
    then chat ends."""
    server = llm([{"text": "First.", "delay_ms": 1500}, {"text": "Second.", "delay_ms": 1000}, {"text": "Third."}])
    child = chat_with(server, tmp_path / "home")
    child.sendline("one")
    time.sleep(0.5)
    child.send("two\r")
    child.sendcontrol("d")  # behind "two": ends chat after the second turn
    child.expect("First.")
    child.expect("Second.")
    child.expect(pexpect.EOF, timeout=5)
    child.close()
    assert child.exitstatus == 0
    assert [last_user(r) for r in server.requests()] == ["one", "two"]


def test_a_ctrl_d_on_a_line_typed_ahead_edits_it(llm, tmp_path):
    """A Ctrl-D on a non-empty line edits it (deletes nothing at its end), as at a drawn prompt."""
    server = llm([{"text": "First.", "delay_ms": 1500}, {"text": "Second."}])
    child = chat_with(server, tmp_path / "home")
    child.sendline("one")
    time.sleep(0.5)
    child.send("tw")
    child.sendcontrol("d")  # on a non-empty line: not an end
    child.send("o")
    child.expect("First.")
    child.expect(r">\s*(\x1b\[[0-9;]*m)*two")  # (after a bell: Ctrl-D at the end of a line deletes nothing; in colour)
    child.send("\r")
    child.expect("Second.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert [last_user(r) for r in server.requests()] == ["one", "two"]


@pytest.mark.serial  # a latency bound (Ctrl-C -> prompt < 1 s): 1.15 s once under the parallel phase's load
def test_ctrl_c_at_a_confirmation_cancels_the_turn(llm, site, tmp_path):
    home = tmp_path / "home"
    server = llm([read_normal(site), {"text": "The next turn works."}])
    child = chat_with(server, home)
    child.sendline("read the page")
    child.expect(QUESTION)
    sent = time.monotonic()
    child.sendcontrol("c")  # a key at the question (raw mode), not a SIGINT
    child.expect(r"\[interrupted\]")
    child.expect(PROMPT)
    assert time.monotonic() - sent < 1.0
    child.sendline("go on")
    child.expect("The next turn works.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    requests = server.requests()
    assert len(requests) == 2  # the model was not called again within the cancelled turn
    assert tool_results(requests[1]) == ["interrupted by user"]
    [log] = (home / "conversations").glob("*/conversation.jsonl")
    roles = [json.loads(line)["role"] for line in log.read_text().splitlines()]
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant"]


def test_the_terminal_mode_is_restored_on_exit(llm, tmp_path):
    """Between prompts chat holds the terminal non-canonical: the shell gets its mode back after, however
    chat ends (Ctrl-D at the prompt, Ctrl-D typed during a reply, SIGTERM)."""
    server = llm([{"text": "Answer one.", "delay_ms": 800}])
    chat = " ".join(shlex.quote(a) for a in cli_command("chat", "-m", "local/test-model"))
    script = f"stty -g; echo MODE-BEFORE; {chat}; stty -g; echo MODE-AFTER"
    env = cli_env(PROMPT_TOOLKIT_NO_CPR="1", GPTME_TRIO_HOME=str(tmp_path / "home"), **server.env("local"))
    for end in ("ctrl-d", "ctrl-d typed ahead", "sigterm"):
        shell = typing_keys(pexpect.spawn("/bin/sh", ["-c", script], env=env, timeout=20))
        shell.expect(r"([0-9a-f:]+)\r\nMODE-BEFORE")
        before = shell.match.group(1)
        shell.expect(PROMPT)
        if end == "ctrl-d typed ahead":
            shell.sendline("hello")
            shell.sendcontrol("d")  # ends the turn and chat
        elif end == "sigterm":
            [chat_process] = [p for p in descendants(shell.pid) if "gptme_trio" in p.cmdline()]
            chat_process.terminate()
        else:
            shell.sendcontrol("d")
        shell.expect(r"([0-9a-f:]+)\r\nMODE-AFTER")
        assert shell.match.group(1) == before, end
        shell.expect(pexpect.EOF)
