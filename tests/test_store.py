"""Conversations on disk: append-only JSONL, torn lines, undo, rename, file modes."""

import json

import pytest

from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import UsageError
from gptme_trio.llm import Message, ToolCall


def conversation_with_two_turns(home):
    conv = Conversation.create(home, "talk")
    conv.append(Message("system", "be brief"))
    conv.append(Message("user", "one"))
    conv.append(Message("assistant", "", [ToolCall("c1", "read_url", {"url": "https://a.example"})]))
    conv.append(Message("tool", "page text", call_id="c1", name="read_url"), {"tool_ms": 12})
    conv.append(Message("assistant", "answer one"), {"usage": {"output_tokens": 3}})
    conv.append(Message("user", "two"))
    conv.append(Message("assistant", "answer two"))
    return conv


def test_round_trip_and_modes(tmp_path):
    conv = conversation_with_two_turns(tmp_path)
    again = Conversation.open(tmp_path, "talk")
    assert again.messages == conv.messages and again.skipped_lines == 0
    assert conv.path.stat().st_mode & 0o777 == 0o600
    assert conv.directory.stat().st_mode & 0o777 == 0o700
    lines = [json.loads(line) for line in conv.path.read_text().splitlines()]
    assert lines[3]["metadata"] == {"tool_ms": 12} and "timestamp" in lines[0]


def test_torn_and_garbage_lines_are_skipped_not_fatal(tmp_path):
    conv = conversation_with_two_turns(tmp_path)
    with open(conv.path, "a") as fh:
        fh.write('garbage\n{"role": "user"}\n{"role": "assistant", "content": "half')  # killed mid-write
    again = Conversation.open(tmp_path)  # the latest conversation
    assert again.messages == conv.messages and again.skipped_lines == 3


def test_undo_drops_whole_turns_and_rewrites_the_file(tmp_path):
    conv = conversation_with_two_turns(tmp_path)
    assert conv.undo(1) == 2
    assert [m.content for m in conv.messages][-1] == "answer one"
    assert Conversation.open(tmp_path, "talk").messages == conv.messages
    assert conv.undo(5) == 4  # more than there are: back to the system prompt
    assert [m.role for m in Conversation.open(tmp_path, "talk").messages] == ["system"]
    assert conv.undo(1) == 0
    assert conv.path.stat().st_mode & 0o777 == 0o600


def test_rename_and_names(tmp_path):
    conv = conversation_with_two_turns(tmp_path)
    conv.rename("renamed")
    assert Conversation.open(tmp_path, "renamed").messages == conv.messages
    Conversation.create(tmp_path, "other")
    with pytest.raises(UsageError, match="exists already"):
        conv.rename("other")
    for bad in ("../escape", ".hidden", "-flag", "a b", "a/b", "x" * 101, "", "é", "nul\x00"):
        with pytest.raises(UsageError, match="use letters"):
            conv.rename(bad)
    with pytest.raises(UsageError, match="no conversation named"):
        Conversation.open(tmp_path, "missing")
    assert Conversation.create(tmp_path, "other").name == "other-2"


def test_nothing_is_written_until_something_is_said(tmp_path):
    conv = Conversation.new(tmp_path, model="local/m")
    conv.append(Message("system", "be brief"))
    assert not (tmp_path / "conversations").exists() and not conv.written
    conv.rename("early")  # before the first message: only the name it will have changes
    assert conv.name == "early" and not (tmp_path / "conversations").exists()
    with pytest.raises(UsageError, match="no conversation to resume"):
        Conversation.open(tmp_path)
    conv.append(Message("user", "hello"))
    assert conv.path == tmp_path / "conversations" / "early" / "conversation.jsonl"
    assert [json.loads(line)["role"] for line in conv.path.read_text().splitlines()] == ["system", "user"]
    assert json.loads((conv.directory / "meta.json").read_text())["model"] == "local/m"
    assert (conv.directory / "meta.json").stat().st_mode & 0o777 == 0o600
    assert Conversation.open(tmp_path).model == "local/m"


def test_a_name_taken_meanwhile_gets_the_next_free_one(tmp_path):
    mine = Conversation.new(tmp_path, "talk")
    mine.append(Message("system", "s"))
    other = Conversation.new(tmp_path, "talk")  # another process, the same name, writes first
    other.append(Message("user", "theirs"))
    mine.append(Message("user", "mine"))
    assert (other.name, mine.name) == ("talk", "talk-2")
    assert [m.content for m in Conversation.open(tmp_path, "talk-2").messages] == ["s", "mine"]


def test_the_model_is_kept_in_meta_and_old_logs_still_load(tmp_path):
    conv = conversation_with_two_turns(tmp_path)
    assert Conversation.open(tmp_path, "talk").model is None  # none was set
    conv.set_model("anthropic/claude-x")
    assert Conversation.open(tmp_path, "talk").model == "anthropic/claude-x"
    (conv.directory / "meta.json").unlink()  # a log from before meta.json: its last reply says the model
    with open(conv.path, "a") as fh:
        fh.write(json.dumps({"role": "assistant", "content": "x", "metadata": {"model": "openai/gpt-old"}}) + "\n")
    old = Conversation.open(tmp_path, "talk")
    assert old.model == "openai/gpt-old" and len(old.messages) == len(conv.messages) + 1
    (conv.directory / "meta.json").write_text("{not json")  # a damaged meta.json is not fatal either
    assert Conversation.open(tmp_path, "talk").model == "openai/gpt-old"


def test_the_latest_skips_logs_where_nothing_was_said(tmp_path):
    conversation_with_two_turns(tmp_path)
    empty = tmp_path / "conversations" / "empty"  # what an older version left on an empty launch
    empty.mkdir()
    (empty / "conversation.jsonl").write_text(json.dumps({"role": "system", "content": "s"}) + "\n")
    assert Conversation.open(tmp_path).name == "talk"
