"""A scripted provider: the LLM's network peer replaced by a queue of replies, in process.

In the spirit of simonw/llm's `MockModel.enqueue`: every `complete` call takes the next
reply, streams it through `on_event` like a real provider, and records what it was sent.
It implements the same `gptme_trio.llm.Provider` protocol as the real providers, so the
agent loop, the session and the CLI run unchanged on it; the real providers stay tested
over HTTP against tests/support/llm_server.py.

    model = ScriptedProvider()
    model.enqueue(tool_calls=[("read_url", {"url": "https://example.com"})])
    model.enqueue("It is about examples.", usage=(12, 5))
    await run_chat(plan, interrupts, providers=model.resolve)   # -m whatever/NAME picks this object
    model.requests[1].tool_results                               # what the second call was sent

A reply can also fail (`error=` an exception to raise once its text has streamed), wait
before its first event (`delay=` seconds) or between events (`gap=`), or stall after its
text (`stall=True`: no event ever again, until the caller's deadline cancels it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from gptme_trio.core.errors import ProviderError, StreamBroken
from gptme_trio.llm import Event, Message, Progress, Provider, Reply, TextDelta, ToolCall, ToolSpec, Usage

CallSpec = tuple[str, dict[str, Any]] | ToolCall


@dataclass
class Scripted:
    """One reply to play."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    error: BaseException | None = None
    delay: float = 0.0
    stall: bool = False
    gap: float = 0.0  # seconds between two events
    piece: int = 3  # characters per TextDelta: the reply arrives in many events, as over SSE


@dataclass
class Request:
    """What one `complete` call was given (a deep copy: later turns do not change it)."""

    messages: list[Message]
    tools: list[ToolSpec]

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]

    @property
    def tool_results(self) -> list[str]:
        return [m.content for m in self.messages if m.role == "tool"]

    @property
    def last_user(self) -> str:
        return next(m.content for m in reversed(self.messages) if m.role == "user")


class ScriptExhausted(ProviderError):
    """The test asked for more replies than it scripted."""


class ScriptedProvider:
    """A `Provider` that plays enqueued replies, one per `complete` call."""

    def __init__(self, model: str = "test-model", name: str = "scripted") -> None:
        self.name = name
        self.model = model
        self.replies: list[Scripted] = []
        self.requests: list[Request] = []
        self.resolved: list[str] = []  # every PROVIDER/MODEL the session asked `resolve` for

    def enqueue(
        self,
        text: str = "",
        *,
        tool_calls: Sequence[CallSpec] = (),
        usage: tuple[int, int] | None = None,
        error: BaseException | None = None,
        delay: float = 0.0,
        stall: bool = False,
        gap: float = 0.0,
        piece: int = 3,
    ) -> ScriptedProvider:
        """Add a reply; tool calls as (name, arguments) pairs get ids `call_<reply>_<n>`."""
        number = len(self.replies)
        calls = [
            c if isinstance(c, ToolCall) else ToolCall(f"call_{number}_{i}", c[0], dict(c[1]))
            for i, c in enumerate(tool_calls)
        ]
        tokens = Usage(*usage) if usage else Usage(1, max(1, len(text) // 4))
        self.replies.append(Scripted(text, calls, tokens, error, delay, stall, gap, piece))
        return self

    def resolve(self, spec: str, env: Mapping[str, str], client: object) -> ScriptedProvider:
        """A stand-in for `llm.registry.resolve`: pass it as `run_chat(..., providers=model.resolve)`."""
        self.resolved.append(spec)
        self.name, _, self.model = spec.partition("/")
        return self

    @property
    def remaining(self) -> int:
        return len(self.replies)

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], on_event: Callable[[Event], None]
    ) -> Reply:
        self.requests.append(Request(copy.deepcopy(list(messages)), list(tools)))
        if not self.replies:
            raise ScriptExhausted(f"scripted: script exhausted after {len(self.requests) - 1} replies")
        reply = self.replies.pop(0)
        if reply.delay:
            await trio.sleep(reply.delay)
        text = ""
        for start in range(0, len(reply.text), reply.piece):
            delta = reply.text[start : start + reply.piece]
            text += delta
            on_event(TextDelta(delta))
            await trio.sleep(reply.gap)
        for _ in reply.tool_calls:
            on_event(Progress())
        if reply.stall:
            await trio.sleep_forever()
        if reply.error is not None:
            if isinstance(reply.error, StreamBroken) and reply.error.partial is None:
                reply.error.partial = Reply(text)
            raise reply.error
        stop = "tool_calls" if reply.tool_calls else "stop"
        return Reply(text, list(reply.tool_calls), reply.usage, stop, ttft_ms=0, generation_ms=0)


if TYPE_CHECKING:  # mypy: the same protocol the real providers implement
    _is_a_provider: Provider = ScriptedProvider()
