"""The agent loop and the chat session in process: a scripted provider (tests/support/scripted.py).

What the model is sent, how tool calls are dispatched (concurrently, results in call order, sequential
tools in turn), how failures come back to the model, confirmation, the store, the step limit, and the
deadlines and cancellation of a turn, with plain async tools; then the session (`run_chat` with the
provider factory injected): answers on stdout, the store, resume, no model, the real tools, a stall.
In the agent tests time is Trio's: deadlines fire at once under `autojump_clock` (pytest-trio
finds the clock among the test's own arguments only).
The same loop over HTTP and the real CLI: tests/test_chat_cli.py and tests/test_llm.py.
"""

from __future__ import annotations

import json

import pytest
import trio

from gptme_trio.chat.agent import INTERRUPTED, Agent, ChatSettings
from gptme_trio.chat.session import ChatPlan, run_chat
from gptme_trio.chat.store import Conversation
from gptme_trio.core.browser import BrowserSpec
from gptme_trio.core.errors import ProviderConfigError, ProviderError, StreamBroken
from gptme_trio.core.runtime import Interrupts
from gptme_trio.llm import Message, Reply
from gptme_trio.tools import Tool, ToolError, tool
from tests.support.scripted import ScriptedProvider
from tests.support.ui import RecordingUI


async def echo(text: str, times: int = 1) -> str:
    """Repeat some text.

    Args:
        text: what to repeat
        times: how often
    """
    return text * times


async def nap(seconds: float) -> str:
    """Sleep, then say how long.

    Args:
        seconds: how long
    """
    await trio.sleep(seconds)
    return f"slept {seconds:g}"


async def broken(url: str) -> str:
    """Always fail."""
    raise ToolError(f"cannot read {url}")


def toolbox(*tools: Tool) -> dict[str, Tool]:
    return {t.name: t for t in tools or (tool(echo), tool(nap), tool(broken))}


@pytest.fixture
def conversation(tmp_path) -> Conversation:
    conv = Conversation.create(tmp_path, "talk")
    conv.append(Message("system", "be brief"))
    return conv


def agent(model: ScriptedProvider, tools: dict[str, Tool] | None = None, **settings) -> Agent:
    return Agent(model, toolbox() if tools is None else tools, ChatSettings(**{"confirm_tools": False, **settings}))


def stored(conv: Conversation) -> list[dict]:
    return [json.loads(line) for line in conv.path.read_text().splitlines()]


async def test_text_reply_streams_and_is_stored_with_its_usage(conversation, autojump_clock):
    model = ScriptedProvider().enqueue("Hello there, world.", usage=(12, 5))
    ui = RecordingUI()
    assert await agent(model).turn(conversation, "hi", ui) == "Hello there, world."
    assert ui.text == "Hello there, world."
    [request] = model.requests
    assert [(m.role, m.content) for m in request.messages] == [("system", "be brief"), ("user", "hi")]
    assert request.tool_names == ["echo", "nap", "broken"]
    assert request.tools[0].parameters["required"] == ["text"]
    last = stored(conversation)[-1]
    assert last["role"] == "assistant" and last["content"] == "Hello there, world."
    assert last["metadata"]["usage"] == {"input_tokens": 12, "output_tokens": 5}
    assert last["metadata"]["model"] == "scripted/test-model" and last["metadata"]["stop_reason"] == "stop"


async def test_tool_results_go_back_to_the_model_in_call_order(conversation, autojump_clock):
    model = ScriptedProvider()
    model.enqueue(tool_calls=[("nap", {"seconds": 2}), ("echo", {"text": "ab", "times": 2}), ("nap", {"seconds": 1})])
    model.enqueue("done")
    ui = RecordingUI()
    started = trio.current_time()
    assert await agent(model).turn(conversation, "go", ui) == "done"
    assert trio.current_time() - started < 2.5  # concurrent: 2 s, not 3 s
    assert model.requests[1].tool_results == ["slept 2", "abab", "slept 1"]
    log = stored(conversation)
    assert [m["role"] for m in log] == ["system", "user", "assistant", "tool", "tool", "tool", "assistant"]
    calls = log[2]["tool_calls"]
    assert [m["call_id"] for m in log[3:6]] == [c["id"] for c in calls]
    assert [m["metadata"]["tool_ms"] >= 0 and m["metadata"]["ok"] for m in log[3:6]] == [True] * 3


async def test_sequential_tools_run_one_after_another_beside_the_others(conversation, autojump_clock):
    order = []

    async def step(name: str) -> str:
        """A step on the shared page.

        Args:
            name: which
        """
        order.append(("in", name))
        await trio.sleep(1)
        order.append(("out", name))
        return name

    tools = toolbox(tool(step).as_sequential(), tool(nap))
    model = ScriptedProvider()
    model.enqueue(tool_calls=[("step", {"name": "a"}), ("nap", {"seconds": 2}), ("step", {"name": "b"})])
    model.enqueue("ok")
    started = trio.current_time()
    await agent(model, tools).turn(conversation, "go", RecordingUI())
    assert order == [("in", "a"), ("out", "a"), ("in", "b"), ("out", "b")]
    assert trio.current_time() - started == pytest.approx(2, abs=0.1)  # the nap ran beside them
    assert model.requests[1].tool_results == ["a", "slept 2", "b"]


async def test_tool_failures_come_back_to_the_model_as_errors(conversation, autojump_clock):
    model = ScriptedProvider()
    model.enqueue(
        tool_calls=[
            ("broken", {"url": "https://x.example"}),
            ("no_such_tool", {}),
            ("echo", {"text": 3}),
            ("echo", {"txt": "a"}),
            ("nap", {"seconds": 60}),
        ]
    )
    model.enqueue("ok")
    ui = RecordingUI()
    assert await agent(model, tool_timeout=5).turn(conversation, "go", ui) == "ok"
    assert model.requests[1].tool_results == [
        "error: cannot read https://x.example",
        "error: no tool named 'no_such_tool'; tools you may use: echo, nap, broken",
        "error: echo: argument 'text' must be a string",
        "error: echo: unknown arguments ['txt'], missing ['text']",
        "error: timed out after 5 s",
    ]
    assert [e[2] for e in ui.events if e[0] == "end"] == [False] * 5
    assert [m["metadata"]["ok"] for m in stored(conversation) if m["role"] == "tool"] == [False] * 5


async def test_preparing_a_tool_does_not_count_against_its_deadline(conversation, autojump_clock):
    async def start_browser() -> None:
        await trio.sleep(4)

    tools = toolbox(tool(nap, prepare=start_browser))
    model = ScriptedProvider().enqueue(tool_calls=[("nap", {"seconds": 2})]).enqueue("ok")
    await agent(model, tools, tool_timeout=2.5).turn(conversation, "go", RecordingUI())
    assert model.requests[1].tool_results == ["slept 2"]


async def test_declined_calls_are_not_run_and_the_model_is_told(conversation, autojump_clock):
    ran = []

    async def act(what: str) -> str:
        """Do something.

        Args:
            what: what
        """
        ran.append(what)
        return f"did {what}"

    model = ScriptedProvider().enqueue(tool_calls=[("act", {"what": "a"}), ("act", {"what": "b"})]).enqueue("ok")
    ui = RecordingUI(answers=[False, True])
    await agent(model, toolbox(tool(act)), confirm_tools=True).turn(conversation, "go", ui)
    assert ran == ["b"]
    assert [e for e in ui.events if e[0] == "confirm"] == [("confirm", "act")] * 2
    assert model.requests[1].tool_results == ["the user declined this tool call", "did b"]


async def test_the_step_limit_ends_the_turn(conversation, autojump_clock):
    model = ScriptedProvider()
    for _ in range(3):
        model.enqueue(tool_calls=[("echo", {"text": "again"})])
    ui = RecordingUI()
    assert await agent(model, max_steps=3).turn(conversation, "loop", ui) == ""
    assert ("notice", "stopped after 3 steps (--max-steps)") in ui.events
    assert len(model.requests) == 3 and model.remaining == 0


async def test_a_stalled_stream_times_out_and_keeps_the_partial_reply(conversation, autojump_clock):
    model = ScriptedProvider().enqueue("Partial answ", stall=True)
    started = trio.current_time()
    with pytest.raises(ProviderError, match=r"the model sent nothing for 7 s \(--llm-timeout\)"):
        await agent(model, llm_timeout=7).turn(conversation, "go", RecordingUI())
    assert trio.current_time() - started == pytest.approx(7, abs=0.1)
    last = stored(conversation)[-1]
    assert last["content"] == "Partial answ" and last["metadata"] == {"interrupted": "no data for 7 s"}


async def test_a_slow_but_steady_stream_is_not_a_stall(conversation, autojump_clock):
    model = ScriptedProvider().enqueue("takes a while", delay=5, gap=4)  # 5 pieces: 25 s in all
    started = trio.current_time()
    assert await agent(model, llm_timeout=6).turn(conversation, "go", RecordingUI()) == "takes a while"
    assert trio.current_time() - started > 20


async def test_a_broken_stream_keeps_the_partial_reply_and_raises(conversation, autojump_clock):
    model = ScriptedProvider().enqueue("Half a sen", error=StreamBroken("connection reset"))
    with pytest.raises(StreamBroken) as caught:
        await agent(model).turn(conversation, "go", RecordingUI())
    assert isinstance(caught.value.partial, Reply) and caught.value.partial.text == "Half a sen"
    last = stored(conversation)[-1]
    assert last["content"] == "Half a sen" and last["metadata"] == {"interrupted": "stream broke: connection reset"}


async def test_cancelling_a_turn_mid_stream_records_what_arrived(conversation, autojump_clock):
    model = ScriptedProvider().enqueue("Some words", stall=True)
    with trio.move_on_after(3):
        await agent(model).turn(conversation, "go", RecordingUI())
    last = stored(conversation)[-1]
    assert last["content"] == "Some words" and last["metadata"] == {"interrupted": INTERRUPTED}


async def test_cancelling_tool_calls_records_every_call_as_interrupted(conversation, autojump_clock):
    model = ScriptedProvider().enqueue(tool_calls=[("echo", {"text": "x"}), ("nap", {"seconds": 20})])
    with trio.move_on_after(3):
        await agent(model).turn(conversation, "go", RecordingUI())
    tools = [m for m in stored(conversation) if m["role"] == "tool"]
    assert [(m["content"], m["metadata"]["ok"]) for m in tools] == [("x", True), (INTERRUPTED, False)]
    again = Conversation.open(conversation.directory.parent.parent, "talk")  # still a valid exchange: it resumes
    assert [m.role for m in again.messages] == ["system", "user", "assistant", "tool", "tool"]


async def test_provider_errors_go_up_unchanged(conversation, autojump_clock):
    model = ScriptedProvider().enqueue(error=ProviderError("HTTP 401 from the API"))
    with pytest.raises(ProviderError, match="401"):
        await agent(model).turn(conversation, "go", RecordingUI())
    assert [m["role"] for m in stored(conversation)] == ["system", "user"]


# The session: run_chat(plan, interrupts, providers=...) opens the services, wires the tools and runs the prompts.


def plan(home, chromium: str, *prompts: str, model: str | None = "local/test-model", **fields) -> ChatPlan:
    settings = fields.pop("settings", ChatSettings(confirm_tools=False))
    return ChatPlan(list(prompts), model, BrowserSpec(executable=chromium), settings, home, env={}, **fields)


async def session(plan: ChatPlan, model: ScriptedProvider) -> int:
    return await run_chat(plan, Interrupts(trio.CancelScope()), providers=model.resolve)


async def test_run_chat_prints_each_answer_and_keeps_the_conversation(tmp_path, chromium, capsys):
    model = ScriptedProvider().enqueue("First.").enqueue("Second, no newline", usage=(40, 4))
    assert await session(plan(tmp_path, chromium, "one", "two", name="talk"), model) == 0
    assert capsys.readouterr().out == "First.\nSecond, no newline\n"
    assert model.resolved == ["local/test-model"] and (model.name, model.model) == ("local", "test-model")
    assert [r.last_user for r in model.requests] == ["one", "two"]
    assert "read_url" in model.requests[0].tool_names and "search" in model.requests[0].tool_names
    log = stored(Conversation.open(tmp_path, "talk"))
    assert [m["role"] for m in log] == ["system", "user", "assistant", "user", "assistant"]
    assert log[0]["content"].startswith("You are gptme-trio")
    assert log[-1]["metadata"]["model"] == "local/test-model" and log[-1]["metadata"]["usage"]["input_tokens"] == 40


async def test_run_chat_resumes_with_the_history_and_its_own_system_prompt(tmp_path, chromium):
    model = ScriptedProvider().enqueue("A1").enqueue("A2")
    await session(plan(tmp_path, chromium, "Q1", name="talk", system="be terse"), model)
    await session(plan(tmp_path, chromium, "Q2", name="talk", resume=True), model)
    sent = [(m.role, m.content) for m in model.requests[1].messages]
    assert sent == [("system", "be terse"), ("user", "Q1"), ("assistant", "A1"), ("user", "Q2")]


async def test_run_chat_without_a_model_is_a_usage_error(tmp_path, chromium):
    model = ScriptedProvider()
    with pytest.raises(ProviderConfigError, match="no model configured") as caught:
        await session(plan(tmp_path, chromium, "hi", model=None), model)
    assert caught.value.exit_code == 2 and model.resolved == [] and not (tmp_path / "conversations").exists()


async def test_run_chat_wires_the_tools_to_the_session(tmp_path, chromium, site):
    model = ScriptedProvider()
    model.enqueue(
        tool_calls=[("search", {"query": "structured concurrency"}), ("read_url", {"url": "file:///etc/passwd"})]
    )
    model.enqueue("ok")
    searxng = plan(tmp_path, chromium, "look", search_engine="searxng", search_url=site.url("/searx"))
    assert await session(searxng, model) == 0
    found, refused = model.requests[1].tool_results
    assert found.startswith("1. [") and "structured concurrency" in found
    assert refused.startswith("error: refused: only http(s) URLs")


async def test_run_chat_stops_a_stalled_model_at_the_llm_timeout(tmp_path, chromium):
    model = ScriptedProvider().enqueue("Hel", stall=True)
    settings = ChatSettings(llm_timeout=0.3, confirm_tools=False)
    started = trio.current_time()
    with pytest.raises(BaseExceptionGroup) as caught:  # out of the session's service nurseries, as the CLI sees it
        await session(plan(tmp_path, chromium, "hi", name="talk", settings=settings), model)
    matched = caught.value.split(ProviderError)[0]
    assert matched is not None
    [error] = matched.exceptions
    while isinstance(error, BaseExceptionGroup):
        [error] = error.exceptions
    assert str(error) == "the model sent nothing for 0.3 s (--llm-timeout)"
    assert trio.current_time() - started < 5
    assert stored(Conversation.open(tmp_path, "talk"))[-1]["metadata"] == {"interrupted": "no data for 0.3 s"}
