"""The prompt's editing keys in a pseudo-terminal, against the scripted LLM server (issue 16, item 3):
multi-line messages (Ctrl-J, Esc-Enter, bracketed paste), the editor (/edit, Ctrl-X Ctrl-E), history
search with Ctrl-R over multi-line entries, Tab completion, and typeahead during a reply."""

from __future__ import annotations

import re
import shlex
import time

import pexpect
import psutil
import pytest

from .conftest import alive, cli_command, cli_env, descendants, names
from .test_chat_prompt_tty import last_user
from .test_chat_tty import PROMPT, ctrl_d_exits_cleanly, spawn_chat, typing_keys

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"  # what a terminal wraps a paste in (bracketed paste)


def chat_with(server, home, **env: str) -> pexpect.spawn:
    child = spawn_chat("-m", "local/test-model", GPTME_TRIO_HOME=str(home), **env, **server.env("local"))
    child.expect(PROMPT)
    return child


def user_lines(server) -> list[str]:
    return [last_user(r) for r in server.requests()]


def test_ctrl_j_esc_enter_and_a_paste_make_one_message_with_its_newlines(llm, tmp_path):
    server = llm([{"text": "Got three lines."}, {"text": "Got the paste."}])
    child = chat_with(server, tmp_path / "home")
    child.send("first line")
    child.sendcontrol("j")  # a new line, not Enter
    child.send("second line\x1b\r")  # Esc-Enter: a new line too
    child.send("third line")
    child.expect("third line")
    time.sleep(0.3)
    assert server.requests() == []  # nothing sent before Enter
    child.send("\r")
    child.expect("Got three lines.")
    child.expect(PROMPT)
    child.send(f"{PASTE_START}pasted one\r\npasted two\rpasted three{PASTE_END}")
    child.expect("pasted three")
    child.send("\r")
    child.expect("Got the paste.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert user_lines(server) == [
        "first line\nsecond line\nthird line",
        "pasted one\npasted two\npasted three",  # a paste's line ends are newlines, never Enter
    ]


def test_ctrl_r_finds_a_multiline_entry_from_an_earlier_chat(llm, tmp_path):
    home = tmp_path / "home"
    server = llm([{"text": "One."}, {"text": "Two."}, {"text": "Again."}])
    child = chat_with(server, home)
    child.send("an older question\r")
    child.expect("One.")
    child.expect(PROMPT)
    child.send("the zebra question")
    child.sendcontrol("j")
    child.send("over two lines\r")
    child.expect("Two.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    child = chat_with(server, home)  # a new chat: the history comes from the file
    child.sendcontrol("r")
    child.send("zebra")
    child.expect("zebra")
    child.send("\r")  # ends the search, the entry in the line
    child.send("\r")  # sends it
    child.expect("Again.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert user_lines(server)[-1] == "the zebra question\nover two lines"


def write_editor(path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_edit_sends_what_the_editor_saved(llm, tmp_path):
    editor = write_editor(tmp_path / "editor.sh", "printf 'written in the editor\\nsecond line\\n' > \"$1\"\n")
    failing = write_editor(tmp_path / "failing.sh", "exit 3\n")
    server = llm([{"text": "Edited message received."}])
    child = chat_with(server, tmp_path / "home", VISUAL=editor, EDITOR=failing)  # VISUAL comes first
    child.sendline("/edit a draft")
    child.expect("Edited message received.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert user_lines(server) == ["written in the editor\nsecond line"]


def test_a_failing_editor_gives_one_line_and_sends_nothing(llm, tmp_path):
    failing = write_editor(tmp_path / "failing.sh", "exit 3\n")
    server = llm([{"text": "Never."}])
    child = chat_with(server, tmp_path / "home", VISUAL="", EDITOR=failing)
    child.sendline("/edit a draft")
    child.expect(r"gptme-trio: editor \S+failing\.sh failed \(exit 3\); the text is unchanged\r\n")
    child.expect(PROMPT)
    child.sendline("/edit")
    child.expect("failed")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert b"Traceback" not in child.before
    assert server.requests() == []
    child = chat_with(server, tmp_path / "home", VISUAL="/nonexistent/editor")
    child.sendline("/edit")
    child.expect(r"gptme-trio: cannot start editor /nonexistent/editor: No such file or directory\r\n")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])


def test_ctrl_x_ctrl_e_puts_the_edited_text_back_in_the_line(llm, tmp_path):
    body = 'printf "%s, edited\\nand extended\\n" "$(cat "$1")" > "$1"\n'
    editor = write_editor(tmp_path / "editor.sh", body)
    server = llm([{"text": "Done."}])
    child = chat_with(server, tmp_path / "home", EDITOR=editor, VISUAL="")
    child.send("my draft")
    child.sendcontrol("x")
    child.sendcontrol("e")
    child.expect("and extended")  # back in the line, not sent: the user reads it first
    time.sleep(0.3)
    assert server.requests() == []
    child.send(" more\r")
    child.expect("Done.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert user_lines(server) == ["my draft, edited\nand extended more"]


def test_tab_completes_commands_and_paths(llm, tmp_path):
    (tmp_path / "notes-for-completion.txt").write_text("x")
    server = llm([{"text": "Read the path."}])
    child = chat_with(server, tmp_path / "home")
    child.send("/hel")
    child.expect(" /help ")  # the menu, offered while typing
    child.send("\t\r")  # Tab takes its entry
    child.expect("forget the last N turns")  # /help ran
    child.expect(PROMPT)
    child.send(f"summarise {tmp_path}/notes-for\t")
    child.expect("completion.txt")
    child.send("\r")
    child.expect("Read the path.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert user_lines(server) == [f"summarise {tmp_path}/notes-for-completion.txt"]


def test_typeahead_during_a_reply_is_not_echoed_and_waits_at_the_next_prompt(llm, tmp_path):
    reply = "The answer streams in many small pieces, " * 5
    server = llm([{"text": reply, "delay_ms": 1200, "piece": 2}, {"text": "Next one."}])
    child = chat_with(server, tmp_path / "home", NO_COLOR="1")  # plain: the reply is not re-wrapped by rich
    child.sendline("question")
    time.sleep(0.4)  # the model is thinking
    child.send("typed-ahead words")
    child.expect(re.escape(reply.strip()))
    child.expect(PROMPT)
    assert b"typed-ahead" not in child.before  # nothing echoed into the reply
    child.expect("typed-ahead words")  # the next prompt shows it, editable
    child.send(" and more\r")
    child.expect("Next one.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])
    assert user_lines(server) == ["question", "typed-ahead words and more"]


def wait_for_editor(pid: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 10
    while not (editors := [p for p in descendants(pid) if names([p]) == ["sleep"]]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert editors
    return editors


def test_ctrl_c_while_the_editor_is_open_cancels_that_turn(llm, tmp_path):
    editor = write_editor(tmp_path / "editor.sh", "exec sleep 60\n")
    server = llm([{"text": "Still here."}])
    child = chat_with(server, tmp_path / "home", VISUAL=editor)
    child.sendline("/edit")
    editors = wait_for_editor(child.pid)
    child.sendintr()  # the terminal is cooked for the editor: Ctrl-C is SIGINT to both
    child.expect(r"\[interrupted\]")
    child.expect(PROMPT)
    assert not alive(editors)
    child.sendline("hello")
    child.expect("Still here.")
    child.expect(PROMPT)
    ctrl_d_exits_cleanly(child, [])


@pytest.mark.parametrize("opened_by", ["/edit", "Ctrl-X Ctrl-E"])
def test_an_open_editor_ends_with_chat(llm, tmp_path, opened_by):
    """SIGTERM to chat while the editor is open (by /edit or at the prompt): the editor goes too. Chat runs
    under a shell, as in a terminal, so that its exit does not hang up the terminal (which would end the
    editor anyway)."""
    editor = write_editor(tmp_path / "editor.sh", "exec sleep 60\n")
    server = llm([])
    chat = " ".join(shlex.quote(a) for a in cli_command("chat", "-m", "local/test-model"))
    env = cli_env(
        PROMPT_TOOLKIT_NO_CPR="1", GPTME_TRIO_HOME=str(tmp_path / "home"), VISUAL=editor, **server.env("local")
    )
    shell = typing_keys(pexpect.spawn("/bin/sh", ["-c", f"{chat}; echo CHAT-ENDED $?; sleep 5"], env=env, timeout=20))
    shell.expect(PROMPT)
    if opened_by == "/edit":
        shell.sendline("/edit")
    else:
        shell.send("draft")
        shell.sendcontrol("x")
        shell.sendcontrol("e")
    editors = wait_for_editor(shell.pid)
    [chat_process] = [p for p in descendants(shell.pid) if "gptme_trio" in p.cmdline()]
    chat_process.terminate()
    shell.expect("CHAT-ENDED 143")
    deadline = time.monotonic() + 3
    while alive(editors) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(editors)
    shell.terminate(force=True)
