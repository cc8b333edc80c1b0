"""Confirmation of tool calls, in process (issue 14, items 25 and 26): Ctrl-C or Ctrl-D at a confirmation
ends the turn (and Ctrl-D the chat) instead of declining and calling the model again; the URL policy
is checked before the user is asked, so nobody is asked to approve a call that will be refused.
The terminal side (raw keys in a pty) is tests/test_chat_prompt_tty.py's."""

from __future__ import annotations

from typing import Any, cast

import pytest
import trio

from gptme_trio.chat.agent import INTERRUPTED, Agent, ChatSettings
from gptme_trio.chat.interactive import chat_loop
from gptme_trio.chat.prompt import PromptEOF, PromptInterrupted
from gptme_trio.chat.store import Conversation
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.runtime import Interrupts
from gptme_trio.llm import Message
from gptme_trio.tools import tool
from gptme_trio.tools.web import WebTools
from tests.support.scripted import ScriptedProvider
from tests.support.ui import QuietTerminal, RecordingUI

DECLINED = "the user declined this tool call"


async def act(what: str) -> str:
    """Do something.

    Args:
        what: what to do
    """
    return f"did {what}"


class Keys(QuietTerminal):
    """A Prompter: `lines` at the prompt (then Ctrl-D), `answers` at confirmations (an exception is raised)."""

    def __init__(self, lines: list[str], answers: list[bool | type[Exception]]) -> None:
        self.lines, self.answers, self.asked = lines, answers, 0

    async def ask(self, message: str = "> ") -> str:
        if not self.lines:
            raise PromptEOF
        return self.lines.pop(0)

    async def confirm(self, question: str) -> bool:
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, bool):
            return answer
        raise answer


async def chat(tmp_path, model: ScriptedProvider, keys: Keys) -> tuple[int, Conversation]:
    conversation = Conversation.create(tmp_path, "talk")
    conversation.append(Message("system", "s"))

    def make_agent(name: str) -> Agent:
        return Agent(model.resolve(name, {}, None), {"act": tool(act)}, ChatSettings(confirm_tools=True))

    with trio.CancelScope() as scope:
        code = await chat_loop(
            cast(Any, keys), conversation, cast(Any, None), cast(Any, None), Interrupts(scope), make_agent, "s/m", "x"
        )
    return code, conversation


def two_calls(model: ScriptedProvider) -> None:
    model.enqueue(tool_calls=[("act", {"what": "a"}), ("act", {"what": "b"})])


async def test_ctrl_c_at_a_confirmation_cancels_the_turn(tmp_path, capsys):
    model = ScriptedProvider()
    two_calls(model)
    model.enqueue("the next turn")
    keys = Keys(["do it", "next"], [PromptInterrupted])
    code, conversation = await chat(tmp_path, model, keys)
    assert code == 0 and keys.asked == 1  # the second call was not asked about either
    assert len(model.requests) == 2 and model.requests[1].last_user == "next"  # not called again in the turn
    assert model.requests[1].tool_results == [INTERRUPTED, INTERRUPTED]  # a valid exchange, recorded
    assert "[interrupted]" in capsys.readouterr().err


async def test_ctrl_d_at_a_confirmation_ends_chat_after_recording_the_turn(tmp_path):
    model = ScriptedProvider()
    two_calls(model)
    keys = Keys(["do it", "never asked"], [True, PromptEOF])
    code, conversation = await chat(tmp_path, model, keys)
    assert code == 0 and keys.lines == ["never asked"] and len(model.requests) == 1
    assert [m.content for m in conversation.messages if m.role == "tool"] == [INTERRUPTED, INTERRUPTED]


async def test_declining_still_calls_the_model_again(tmp_path):
    model = ScriptedProvider()
    two_calls(model)
    model.enqueue("fine")
    code, _ = await chat(tmp_path, model, Keys(["do it"], [False, True]))
    assert model.requests[1].tool_results == [DECLINED, "did b"]


REFUSED = ["http://127.0.0.1:9/", "file:///etc/passwd", "http://localhost/", "http://[::1]/", "http://10.0.0.1/"]


@pytest.mark.parametrize("tool_name", ["read_url", "screenshot", "snapshot", "open_page"])
async def test_the_policy_refuses_before_anyone_is_asked(tmp_path, browser, tool_name):
    web = WebTools(browser, UrlPolicy(["allowed.example"]), tmp_path)
    tools = {t.name: t for t in web.tools()}
    allowed = "http://allowed.example/"
    model = ScriptedProvider().enqueue(tool_calls=[(tool_name, {"url": u}) for u in [*REFUSED, allowed]])
    model.enqueue("understood")
    conversation = Conversation.create(tmp_path, "talk")
    ui = RecordingUI(default=False)
    await Agent(model, tools, ChatSettings(confirm_tools=True)).turn(conversation, "go", ui)
    assert [call.arguments.get("url") for call, _ in ui.asked] == [allowed]  # only the call that can run
    results = model.requests[1].tool_results
    assert all(r.startswith("error: refused") for r in results[:-1]), results
    assert results[-1] == DECLINED
    assert browser.starts == 0  # nothing was opened for the refused calls


async def test_bad_arguments_are_answered_without_asking(tmp_path):
    model = ScriptedProvider().enqueue(tool_calls=[("act", {"how": "x"}), ("act", {"what": 3})])
    model.enqueue("ok")
    ui = RecordingUI(default=False)
    conversation = Conversation.create(tmp_path, "talk")
    await Agent(model, {"act": tool(act)}, ChatSettings(confirm_tools=True)).turn(conversation, "go", ui)
    assert ui.asked == []
    assert all(r.startswith("error: act:") for r in model.requests[1].tool_results)
