"""What chat shows on a terminal (issue 16, items 1, 2 and 5), in a pseudo-terminal against the scripted LLM
server: the reply rendered as Markdown (plain under NO_COLOR / --no-color), the status line with the elapsed
time and the deadline while the model or a tool is waited for, retries, tool lines with /show, the banner."""

from __future__ import annotations

import re
import shlex

import pexpect
import pytest

from .conftest import cli_command, cli_env, descendants
from .test_chat_tty import PROMPT, ctrl_d_exits_cleanly, spawn_chat, typing_keys

REPLY = """Here is the code:

```python
def add(a, b):
    return a + b  # the sum
```

| name | value |
|------|-------|
| a    | 1     |
| b    | 2     |

That is **all**."""
SGR = re.compile(r"\x1b\[[0-9;]*m")


def chat(server, tmp_path, *args: str, **env: str) -> pexpect.spawn:
    child = spawn_chat(
        "-m", "local/test-model", *args, GPTME_TRIO_HOME=str(tmp_path / "home"), **server.env("local"), **env
    )
    child.expect(PROMPT)
    return child


def reply_of(child: pexpect.spawn, question: str, last_words: str) -> str:
    """What the terminal got from sending `question` until `last_words` and the next prompt; it starts
    with the prompt as the question was echoed there (`> show me`, with the escape codes around)."""
    child.sendline(question)
    child.expect(question)
    echoed = child.before.decode()
    echoed = echoed[echoed.rindex(">") :] + question
    child.expect(re.escape(last_words))
    shown = echoed + child.before.decode() + last_words
    child.expect(PROMPT)
    return shown + child.before.decode()


def test_a_reply_is_rendered_with_colour_and_the_banner_says_it_all(llm, tmp_path):
    server = llm([{"text": REPLY, "piece": 7}])
    child = spawn_chat("-m", "local/test-model", GPTME_TRIO_HOME=str(tmp_path / "home"), **server.env("local"))
    child.expect(PROMPT)
    banner = child.before.decode()
    assert re.search(
        r"gptme-trio: test-model via local · \d+ tools \(read_url, .*\) · conversation \S+, saved in ", banner
    )
    assert str(tmp_path / "home" / "conversations") in banner
    shown = reply_of(child, "show me", "all")
    text = SGR.sub("", shown)
    assert re.match(r">(\x1b\[[0-9;]*m)* ?\x1b\[0;32mshow me", shown), shown[:40]  # the user's words in green
    assert SGR.findall(shown[: shown.index("Here is the code:")])[-1] == "\x1b[0m"  # the reply: default colour
    assert re.search(r"\x1b\[[0-9;]*m(def|return)\x1b\[0m", shown)  # the code in colour
    assert "\x1b[1mall\x1b[0m" in shown  # **all** in bold, its stars gone
    assert "    return a + b  # the sum" in text
    assert "|------|" not in text and "─" in text  # the table is drawn, not its source
    assert "**all**" not in text
    ctrl_d_exits_cleanly(child, [])


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_without_colour_the_reply_is_its_plain_text(llm, tmp_path, how):
    server = llm([{"text": REPLY, "piece": 7}])
    child = chat(
        server, tmp_path, *(["--no-color"] if how == "--no-color" else []), **({how: "1"} if how == "NO_COLOR" else {})
    )
    shown = reply_of(child, "show me", "That is **all**.")
    assert "32m" not in shown[: shown.index("show me")]  # the user's words are not green either
    reply = shown[shown.index("Here is the code") : shown.index("That is **all**.") + len("That is **all**.")]
    assert reply.replace("\r\n", "\n") == REPLY  # exactly what the model sent, nothing added
    ctrl_d_exits_cleanly(child, [])


def test_the_status_line_shows_elapsed_and_deadline_for_a_slow_tool_and_show_prints_the_result(llm, site, tmp_path):
    url = site.url("/slow?ms=3000")
    server = llm([{"tool_calls": [{"name": "read_url", "arguments": {"url": url}}]}, {"text": "Read it."}])
    child = chat(server, tmp_path, "-y", "--allow-hosts", "127.0.0.1", "--tool-timeout", "30")
    child.sendline("read the slow page")
    child.expect(r"read_url 127\.0\.0\.1:\d+/slow\?ms=3000 · (\d+\.\d) s / 30 s".encode())
    first = float(child.match.group(1))
    child.expect(r"read_url 127\.0\.0\.1:\d+/slow\?ms=3000 · (\d+\.\d) s / 30 s".encode())
    assert float(child.match.group(1)) > first  # it counts
    tool_line = r"✓\S* \S*\[1\]\S* \S*read_url 127\.0\.0\.1:\d+/slow\?ms=3000\S* · \d+\.\d s · \d+ lines?, [\d,]+ chars"
    child.expect(tool_line.encode())
    child.expect("│ # Slow page".encode())  # the result's first lines
    child.expect("Read it.")
    child.expect(PROMPT)
    child.sendline("/show 1")
    child.expect("Structured concurrency means every task has an owner")  # the whole result
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])


def test_the_wait_for_the_model_and_a_retry_after_429_are_shown(llm, tmp_path):
    server = llm(
        [{"text": "First.", "delay_ms": 1500}, {"fault": "429", "retry_after": "2"}, {"text": "After the wait."}]
    )
    child = chat(server, tmp_path)
    child.sendline("hello")
    child.expect(r"waiting for local/test-model · \d\.\d s / 120 s".encode())
    child.expect("First.")
    child.expect(PROMPT)
    child.sendline("again")
    child.expect(r"rate limited \(429\), retrying in [12] s · attempt 2/5".encode())
    child.expect("After the wait.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert len(server.requests()) == 3


def test_with_n_a_retry_is_a_line_on_stderr(llm, run_cli, tmp_path):
    server = llm([{"fault": "429", "retry_after": "1"}, {"text": "Fine."}])
    ran = run_cli(
        "chat", "-n", "-m", "local/test-model", "hi", GPTME_TRIO_HOME=str(tmp_path / "home"), **server.env("local")
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == b"Fine.\n"
    assert "gptme-trio: rate limited (429), retrying in 1 s · attempt 2/5" in ran.stderr.decode()


def test_without_colour_tool_lines_carry_the_number_show_takes(llm, tmp_path):
    """Plain output (NO_COLOR) numbers each finished call as the rendered line does: `[2]` is `/show 2`."""
    calls = [
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "pyproject.toml"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "no-such-file.txt"}}]},
        {"text": "Both done."},
    ]
    server = llm(calls)
    child = chat(server, tmp_path, "-y", NO_COLOR="1")
    child.sendline("read two files")
    child.expect(rb"-> read_file\(pyproject\.toml[^)]*\)\r\n   \[1\] read_file: ok\r\n")
    child.expect(rb"-> read_file\(no-such-file\.txt[^)]*\)\r\n   \[2\] read_file: \S[^\r]*no-such-file")
    child.expect("Both done.")
    child.expect(PROMPT)
    child.sendline("/show 1")
    child.expect(rb"read_file\(pyproject\.toml[^)]*\)\r\n")
    child.expect("gptme-trio")  # the file's text, in full
    child.expect(PROMPT)
    child.sendline("/show 2")
    child.expect(rb"read_file\(no-such-file\.txt[^)]*\)\r\n\S[^\r]*no-such-file")
    child.expect(PROMPT)
    assert b"\x1b[3" not in child.before  # no colour
    child.sendline("/model")  # no argument: shows the model in use (switching: tests/test_resume.py)
    child.expect("model: local/test-model\r\n")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])


def test_a_slow_slash_command_shows_the_status_line(site, tmp_path):
    """Issue 16, item 2 for the slash commands that do I/O (/fetch, /search, /screenshot, /compact)."""
    child = spawn_chat(GPTME_TRIO_HOME=str(tmp_path / "home"))  # no model: slash commands still work
    child.expect(PROMPT)
    child.sendline("/fetch " + site.url("/slow?ms=3000"))
    status = r"/fetch http://127\.0\.0\.1:\d+/slow\?ms=3000 · (\d+\.\d) s".encode()
    child.expect(status)
    first = float(child.match.group(1))
    child.expect(status)
    assert float(child.match.group(1)) > first  # it counts
    child.expect("# Slow page")
    child.expect(PROMPT)
    assert b"/fetch http" not in child.before.split(b"# Slow page")[-1]  # gone once the page is read
    ctrl_d_exits_cleanly(child, descendants(child.pid))


def test_ctrl_d_typed_during_a_slow_slash_command_ends_chat(site, tmp_path):
    """As during a turn (tests/test_chat_prompt_tty.py): a Ctrl-D typed on an empty line while /fetch waits
    for a page that never comes ends the command and chat, with the browser."""
    child = spawn_chat(GPTME_TRIO_HOME=str(tmp_path / "home"))
    child.expect(PROMPT)
    child.sendline("/fetch " + site.url("/never"))
    child.expect(r"/fetch http://127\.0\.0\.1:\d+/never · \d+\.\d s".encode())  # the browser is up, the page loading
    ctrl_d_exits_cleanly(child, descendants(child.pid))  # Ctrl-D during the command: exit 0, the browser gone


def test_a_provider_error_during_a_turn_is_one_line_and_the_prompt_comes_back(llm, tmp_path):
    server = llm([{"fault": "status", "status": 401, "message": "bad key"}, {"text": "Fine now."}])
    child = chat(server, tmp_path)
    child.sendline("hello")
    child.expect("gptme-trio: local API error 401: bad key")
    child.expect(PROMPT)
    assert b"Traceback" not in child.before
    child.sendline("again")
    child.expect("Fine now.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])


def test_a_stdout_that_is_no_terminal_gets_the_plain_reply(llm, tmp_path):
    """`gptme-trio chat > reply.md` at a terminal: the prompt and the status line stay on the terminal
    (prompt_toolkit drew the prompt into the file before), the file gets the reply as the model sent it."""
    server = llm([{"text": REPLY, "piece": 7}])
    out = tmp_path / "reply.md"
    chat = " ".join(shlex.quote(a) for a in cli_command("chat", "-m", "local/test-model"))
    env = cli_env(PROMPT_TOOLKIT_NO_CPR="1", GPTME_TRIO_HOME=str(tmp_path / "home"), **server.env("local"))
    child = typing_keys(pexpect.spawn("/bin/sh", ["-c", f"{chat} > {shlex.quote(str(out))}"], env=env, timeout=20))
    child.expect(PROMPT)
    child.sendline("show me")
    child.expect(rb"\r\x1b\[K(\x1b\[[0-9;?]*[A-Za-z])*>")  # the status line erased, the prompt in its row
    ctrl_d_exits_cleanly(child, [])
    assert b"Here is the code" not in child.before
    assert out.read_text() == REPLY + "\n"  # exactly what the model sent: no prompt, no colour, no redraws


def test_ctrl_c_while_a_retry_waits_cancels_at_once(llm, tmp_path):
    server = llm([{"fault": "429", "retry_after": "30"}, {"text": "The next turn works."}])
    child = chat(server, tmp_path)
    child.sendline("hello")
    child.expect(r"rate limited \(429\), retrying in \d+ s · attempt 2/5".encode())
    child.sendintr()
    child.expect(r"\[interrupted\]", timeout=5)  # not after the 30 s wait
    child.expect(PROMPT)
    child.sendline("again")
    child.expect("The next turn works.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert len(server.requests()) == 2
