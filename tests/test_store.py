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
    with pytest.raises(UsageError, match="use letters"):
        conv.rename("../escape")
    with pytest.raises(UsageError, match="no conversation named"):
        Conversation.open(tmp_path, "missing")
    assert Conversation.create(tmp_path, "other").name == "other-2"
