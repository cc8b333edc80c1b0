"""Slash commands of the interactive chat, driven in process through chat_loop with a scripted
prompter (the terminal itself is tests/test_chat_tty.py's). Issue 14, item 27: invalid arguments get
a usage line and change nothing; /rename speaks of /rename."""

from __future__ import annotations

from typing import Any, cast

import pytest
import trio

from gptme_trio.chat.interactive import chat_loop
from gptme_trio.chat.prompt import PromptEOF
from gptme_trio.chat.store import Conversation
from gptme_trio.core.runtime import Interrupts
from gptme_trio.llm import Message


class Lines:
    """A Prompter that answers with `lines`, then Ctrl-D."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)

    async def ask(self, message: str = "> ") -> str:
        if not self.lines:
            raise PromptEOF
        return self.lines.pop(0)

    async def confirm(self, question: str) -> bool:
        return True


class Web:
    save_dir = None


def conversation_with_two_turns(tmp_path) -> Conversation:
    conversation = Conversation.create(tmp_path, "talk")
    for role, text in [("system", "s"), ("user", "one"), ("assistant", "1"), ("user", "two"), ("assistant", "2")]:
        conversation.append(Message(role, text))  # type: ignore[arg-type]
    return conversation


async def run(conversation: Conversation, *lines: str) -> None:
    with trio.CancelScope() as scope:
        await chat_loop(
            cast(Any, Lines(*lines)),
            conversation,
            cast(Any, Web()),
            cast(Any, None),
            Interrupts(scope),
            lambda name: cast(Any, None),
            None,
            "no model",
        )


@pytest.mark.parametrize("arg", ["0", "abc", "-1", "1.5", "²", "1 2"])
async def test_undo_with_an_invalid_count_changes_nothing(tmp_path, capsys, arg):
    conversation = conversation_with_two_turns(tmp_path)
    before = conversation.path.read_text()
    await run(conversation, f"/undo {arg}")
    assert "usage: /undo [N]" in capsys.readouterr().out
    assert conversation.path.read_text() == before and len(conversation.messages) == 5


@pytest.mark.parametrize(("line", "left"), [("/undo", 3), ("/undo 1", 3), ("/undo 2", 1), ("/undo 9", 1)])
async def test_undo_with_a_count_forgets_turns(tmp_path, line, left):
    conversation = conversation_with_two_turns(tmp_path)
    await run(conversation, line)
    assert len(conversation.messages) == left


async def test_rename_errors_name_the_command(tmp_path, capsys):
    conversation = conversation_with_two_turns(tmp_path)
    await run(conversation, "/rename bad/name", "/rename")
    captured = capsys.readouterr()
    assert "/rename 'bad/name': use letters" in captured.err and "--name" not in captured.err
    assert "usage: /rename NAME" in captured.out
    assert conversation.name == "talk"
    await run(conversation, "/rename better")
    assert conversation.name == "better" and conversation.path.exists()
