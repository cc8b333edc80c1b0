"""Resume (issue 16, item 4): nothing written for an empty launch, the `-r` picker, --resume NAME, the
model kept with the conversation, `chat --list [--json]`, and names that are unique and safe. The picker
and the empty launch run in a pseudo-terminal (pexpect); the rest through the CLI in process; the model
is tests/support/llm_server.py over real HTTP (each request says which model it asked for)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pexpect

from .conftest import Ran, invoke_cli
from .test_chat_tty import PROMPT, spawn_chat

PICKER = r"Resume which\? \[1-(\d+), Enter: 1\]"


def say(home: Path, server, *args: str, **env: str) -> Ran:
    """`gptme-trio chat -n ARGS` in process against the scripted server."""
    return invoke_cli("chat", "-n", *args, GPTME_TRIO_HOME=str(home), **server.env("local"), **env)


def make(home: Path, server, name: str, model: str, question: str, age: float) -> None:
    """A conversation `name` with one exchange, last written `age` seconds ago."""
    result = say(home, server, "-m", model, "--name", name, question)
    assert result.returncode == 0, result.stderr
    log = home / "conversations" / name / "conversation.jsonl"
    os.utime(log, (time.time() - age, time.time() - age))


def models_asked(server) -> list[str]:
    return [r["body"]["model"] for r in server.requests()]


def empty_launch(home: Path, server, *args: str) -> None:
    """Chat started on a terminal and left with Ctrl-D before anything was said."""
    child = spawn_chat("-m", "local/model-a", *args, GPTME_TRIO_HOME=str(home), **server.env("local"))
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_an_empty_launch_leaves_nothing_and_r_never_offers_it(llm, tmp_path):
    server = llm([{"text": "Answer one."}, {"text": "Answer two."}])
    home = tmp_path / "home"
    empty_launch(home, server)
    empty_launch(home, server, "--name", "named")  # named, still nothing said
    assert not (home / "conversations").exists()
    child = spawn_chat("-r", GPTME_TRIO_HOME=str(home), **server.env("local"))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2 and b"no conversation to resume" in child.before
    make(home, server, "alpha", "local/model-a", "the only question", age=60)
    empty_launch(home, server)  # the newest launch, but empty
    child = spawn_chat("-r", GPTME_TRIO_HOME=str(home), **server.env("local"))
    child.expect(PICKER)
    assert child.match.group(1) == b"1"  # alpha alone is offered
    listed = child.before.decode()
    assert re.search(r"1  alpha\s.*local/model-a\s+2 msgs\s.*the only question", listed), listed
    child.sendline("")  # Enter: the newest
    child.expect(r"you:(\x1b\[0m)? the only question")
    child.expect(r"assistant:(\x1b\[0m)? Answer one.")
    child.expect(PROMPT)
    child.sendline("a second question")
    child.expect("Answer two.")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    assert [p.name for p in (home / "conversations").iterdir()] == ["alpha"]
    assert models_asked(server) == ["model-a", "model-a"]


def test_rename_before_the_first_message_names_what_is_written(llm, tmp_path):
    server = llm([{"text": "Noted."}])
    home = tmp_path / "home"
    child = spawn_chat("-m", "local/model-a", GPTME_TRIO_HOME=str(home), **server.env("local"))
    child.expect(PROMPT)
    child.sendline("/rename early-name")
    child.expect("renamed to early-name")
    child.expect(PROMPT)
    assert not (home / "conversations").exists()
    child.sendline("hello")
    child.expect("Noted.")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    log = home / "conversations" / "early-name" / "conversation.jsonl"
    assert [json.loads(line)["role"] for line in log.read_text().splitlines()] == ["system", "user", "assistant"]


def test_the_picker_lists_newest_first_and_resume_restores_the_model(llm, tmp_path):
    server = llm([{"text": f"Answer {n}."} for n in range(1, 7)])
    home = tmp_path / "home"
    make(home, server, "oldest", "local/model-a", "question one", age=300)
    make(home, server, "middle", "local/model-b", "question two", age=200)
    make(home, server, "newest", "local/model-c", "question three", age=100)
    # GPTME_TRIO_MODEL is a default for new conversations: a resumed one keeps its own model
    child = spawn_chat("-r", GPTME_TRIO_HOME=str(home), GPTME_TRIO_MODEL="local/model-env", **server.env("local"))
    child.expect(PICKER)
    listed = child.before.decode()
    rows = [line.split()[:2] for line in listed.splitlines() if re.match(r"\s+\d+  ", line)]
    assert rows == [["1", "newest"], ["2", "middle"], ["3", "oldest"]], listed
    child.sendline("9")  # not offered: asked again
    child.expect("type a number from 1 to 3")
    child.expect(PICKER)
    child.sendline("2")
    child.expect(r"resumed middle \(2 messages, model local/model-b\)")
    child.expect(re.escape("\x1b[32myou:\x1b[0m question two"))  # each role's label in its colour, as in chat
    child.expect(re.escape("\x1b[1massistant:\x1b[0m Answer 2."))
    child.expect(PROMPT)
    child.sendline("and then?")
    child.expect("Answer 4.")
    child.expect(PROMPT)
    child.sendline("/model local/model-z")  # switched mid-conversation: kept for the next resume
    child.expect("model: local/model-z")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    history = [line[1:] for line in (home / "history").read_text().splitlines() if line.startswith("+")]
    assert history == ["and then?", "/model local/model-z"]  # the picker's answers ("9", "2") are not lines
    assert models_asked(server) == ["model-a", "model-b", "model-c", "model-b"]
    assert json.loads((home / "conversations" / "middle" / "meta.json").read_text())["model"] == "local/model-z"
    assert say(home, server, "--resume", "middle", "once more").stdout == b"Answer 5.\n"
    assert say(home, server, "--resume", "middle", "-m", "local/model-m", "last").stdout == b"Answer 6.\n"  # -m wins
    assert models_asked(server)[-2:] == ["model-z", "model-m"]
    messages = server.requests()[-1]["body"]["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["question two", "and then?", "once more", "last"]


def test_ctrl_c_and_ctrl_d_in_the_picker_leave_cleanly(llm, tmp_path):
    server = llm([{"text": "Answer."}])
    home = tmp_path / "home"
    make(home, server, "talk", "local/model-a", "question", age=10)
    before = (home / "conversations" / "talk" / "conversation.jsonl").read_bytes()
    for typed, key in (("1", "c"), ("", "d")):  # Ctrl-C clears what was typed; Ctrl-D leaves an empty line
        child = spawn_chat("-r", GPTME_TRIO_HOME=str(home), **server.env("local"))
        child.expect(PICKER)
        child.send(typed)
        child.sendcontrol(key)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, key
        assert b"nothing resumed" in child.before and b"Traceback" not in child.before
    assert (home / "conversations" / "talk" / "conversation.jsonl").read_bytes() == before
    assert len(server.requests()) == 1


def test_list_and_list_json(llm, tmp_path):
    server = llm([{"text": "Answer one."}, {"text": "Answer two."}])
    home = tmp_path / "home"
    empty = invoke_cli("chat", "--list", GPTME_TRIO_HOME=str(home))
    assert empty.returncode == 0 and empty.stdout == b"" and b"no conversations in" in empty.stderr
    assert invoke_cli("chat", "--list", "--json", GPTME_TRIO_HOME=str(home)).stdout == b"[]\n"
    make(home, server, "older", "local/model-a", "what is   structured\nconcurrency?", age=100)
    make(home, server, "newer", "local/model-b", "x" * 200, age=10)
    listed = invoke_cli("chat", "--list", GPTME_TRIO_HOME=str(home))
    assert listed.returncode == 0 and listed.stderr == b""
    lines = listed.stdout.decode().splitlines()
    assert [line.split()[0] for line in lines] == ["newer", "older"]
    assert re.fullmatch(
        r"older  \d{4}-\d\d-\d\d \d\d:\d\d  local/model-a  +2 msgs +\d+ B  what is structured concurrency\?", lines[1]
    )
    as_json = invoke_cli("chat", "--list", "--json", GPTME_TRIO_HOME=str(home))
    rows = json.loads(as_json.stdout)
    assert [(r["name"], r["model"], r["messages"]) for r in rows] == [
        ("newer", "local/model-b", 2),
        ("older", "local/model-a", 2),
    ]
    log = home / "conversations" / "older" / "conversation.jsonl"
    assert rows[1]["bytes"] >= log.stat().st_size and rows[1]["path"] == str(log.parent)
    assert rows[0]["first_words"] == "x" * 59 + "…" and rows[1]["modified"].startswith(time.strftime("%Y-"))


def test_an_old_conversation_without_metadata_lists_and_resumes_with_its_model(llm, tmp_path):
    server = llm([{"text": "Still works."}])
    home = tmp_path / "home"
    directory = home / "conversations" / "20240101-120000"  # as an older version wrote it
    directory.mkdir(parents=True)
    lines = [
        {"role": "system", "content": "s", "timestamp": "2024-01-01T12:00:00+0000"},
        {"role": "user", "content": "old question", "timestamp": "2024-01-01T12:00:01+0000"},
        {"role": "assistant", "content": "old answer", "metadata": {"model": "local/model-old"}},
    ]
    (directory / "conversation.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    [row] = json.loads(invoke_cli("chat", "--list", "--json", GPTME_TRIO_HOME=str(home)).stdout)
    assert (row["name"], row["model"], row["messages"], row["first_words"]) == (
        "20240101-120000",
        "local/model-old",
        2,
        "old question",
    )
    result = invoke_cli("chat", "-n", "-r", "go on", GPTME_TRIO_HOME=str(home), **server.env("local"))
    assert result.returncode == 0 and result.stdout == b"Still works.\n", result.stderr
    assert models_asked(server) == ["model-old"]


def one_line_usage_error(result: Ran) -> str:
    assert result.returncode == 2 and result.stdout == b"", result
    err = result.stderr.decode()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_bad_and_taken_names_are_one_line_usage_errors(llm, tmp_path):
    server = llm([{"text": "Answer."}])
    home = tmp_path / "home"
    make(home, server, "talk", "local/model-a", "question", age=10)
    cases = {
        ("--name", "../escape"): "--name '../escape': use letters",
        ("--name", ".hidden"): "--name '.hidden': use letters",
        ("--name", "a" * 101): "at most 100",
        ("--name", "talk"): "a conversation named 'talk' exists already: --resume talk",
        ("--resume", "no/such"): "--resume 'no/such': use letters",
        ("--resume", "missing"): "no conversation named 'missing'",
        ("-r", "--name", "missing"): "no conversation named 'missing'",
        ("--resume", "--name", "talk"): "--resume takes a conversation's name",
        ("--resume", "talk", "--name", "other"): "name one conversation",
        ("--json",): "--json goes with --list",
    }
    for args, words in cases.items():
        err = one_line_usage_error(say(home, server, "-m", "local/model-a", *args, "hi"))
        assert words in err, (args, err)
    assert one_line_usage_error(invoke_cli("chat", "--list", "hi", GPTME_TRIO_HOME=str(home)))
    assert [p.name for p in (home / "conversations").iterdir()] == ["talk"]
    assert len(server.requests()) == 1


def test_the_picker_offers_the_newest_20_and_takes_an_older_name(llm, tmp_path):
    from gptme_trio.chat.store import Conversation
    from gptme_trio.llm import Message

    server = llm([{"text": "From the archive."}])
    home = tmp_path / "home"
    for n in range(25):  # talk-00 is the newest
        conversation = Conversation.new(home, f"talk-{n:02d}", f"local/model-{n}")
        conversation.append(Message("system", "s"))
        conversation.append(Message("user", f"question {n}"))
        os.utime(conversation.path, (time.time() - 10 * n, time.time() - 10 * n))
    child = spawn_chat("-r", GPTME_TRIO_HOME=str(home), **server.env("local"))
    child.expect(PICKER)
    assert child.match.group(1) == b"20"
    listed = child.before.decode()
    assert [line.split()[1] for line in listed.splitlines() if re.match(r"\s+\d+  ", line)] == [
        f"talk-{n:02d}" for n in range(20)
    ]
    assert "and older ones" in listed
    child.sendline("talk-23")  # not offered, but named
    child.expect(r"resumed talk-23 \(1 message, model local/model-23\)")
    child.expect(PROMPT)
    child.sendline("what was it?")
    child.expect("From the archive.")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    assert models_asked(server) == ["model-23"]
