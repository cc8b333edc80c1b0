"""Slash commands of the interactive chat, driven in process through chat_loop with a scripted
prompter (the terminal itself is tests/test_chat_tty.py's). Issue 14, item 27: invalid arguments get
a usage line and change nothing; /rename speaks of /rename. Issue 15, items 5 and 7: /tokens, /compact,
and /fetch putting the page into the conversation."""

from __future__ import annotations

from typing import Any, cast

import pytest
import trio

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.context import SUMMARY_PROMPT, ContextKeeper
from gptme_trio.chat.interactive import chat_loop
from gptme_trio.chat.prompt import PromptEOF
from gptme_trio.chat.store import Conversation
from gptme_trio.core.runtime import Interrupts
from gptme_trio.llm import Message
from tests.support.scripted import ScriptedProvider
from tests.support.ui import QuietTerminal


class Lines(QuietTerminal):
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


class Page:
    """The web tools' stand-in: /fetch reads this page."""

    save_dir = None

    def __init__(self, text: str) -> None:
        self.text = text
        self.policy_checked: list[bool] = []

    async def read(self, target: Any, *, check_policy: bool) -> str:
        self.policy_checked.append(check_policy)
        return self.text


async def run_with_model(conversation: Conversation, model: ScriptedProvider, web: Any, *lines: str) -> None:
    keeper = ContextKeeper({"test-model": {"context": 2000}})

    def make_agent(name: str) -> Agent:
        return Agent(model, {}, ChatSettings(confirm_tools=False), context=keeper)

    with trio.CancelScope() as scope:
        await chat_loop(
            cast(Any, Lines(*lines)),
            conversation,
            web,
            cast(Any, None),
            Interrupts(scope),
            make_agent,
            "scripted/test-model",
            "no model",
            keeper=keeper,
        )


async def test_fetch_puts_the_page_into_the_conversation_for_the_next_question(tmp_path, capsys):
    """Issue 15, item 7: the page is context, marked as such, and the next question can use it."""
    model = ScriptedProvider().enqueue("It is about kittens.")
    conversation = conversation_with_two_turns(tmp_path)
    web = Page("# Kittens\nSmall cats that sleep a lot.")
    await run_with_model(conversation, model, web, "/fetch https://example.com/k", "what is that page about?")
    sent = model.requests[0].messages
    assert sent[-2].role == "user" and sent[-2].content == "[content of https://example.com/k]\n" + web.text
    assert sent[-1].content == "what is that page about?"
    out = capsys.readouterr().out
    assert "Small cats" in out and "added to the conversation as context" in out
    assert web.policy_checked == [False]  # the user typed the URL: as /fetch always was, not the model's policy
    assert Conversation.open(tmp_path, "talk").messages[5].content.startswith("[content of https://example.com/k]")


async def test_fetch_of_a_page_larger_than_a_quarter_of_the_window_is_shortened(tmp_path, capsys):
    model = ScriptedProvider()
    conversation = conversation_with_two_turns(tmp_path)
    web = Page("START " + "word " * 20_000 + " END")
    await run_with_model(conversation, model, web, "/fetch https://example.com/big")
    added = conversation.messages[-1].content
    assert added.startswith("[content of https://example.com/big]\nSTART") and added.endswith("END")
    assert len(added) < 2000 * 4 // 4 + 200  # a quarter of the 2,000-token window, in characters
    assert "shortened from 100,010 characters" in capsys.readouterr().out


async def test_tokens_shows_usage_and_cost_and_compact_summarises_by_hand(tmp_path, capsys):
    model = ScriptedProvider().enqueue("three", usage=(120, 7)).enqueue("the user counted to three")
    conversation = conversation_with_two_turns(tmp_path)
    await run_with_model(conversation, model, Page(""), "count", "/tokens", "/compact", "/tokens")
    out = capsys.readouterr().out
    assert "scripted/test-model: 1 request(s), 120 input + 7 output tokens, cost unknown" in out
    assert "of 2,000 tokens" in out and "compacted on request (/compact): summarised 4 earlier message(s)" in out
    assert "scripted/test-model: 2 request(s)" in out and "compacted 1 time(s)" in out
    assert [m.role for m in conversation.messages] == ["system", "user", "user", "assistant"]
    assert model.requests[1].messages[0].content == SUMMARY_PROMPT and model.requests[1].tools == []
