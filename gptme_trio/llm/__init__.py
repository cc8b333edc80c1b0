"""LLM providers: one protocol, a registry, HTTP through httpx, SSE streaming.

    provider = resolve("openai/gpt-4o-mini", env, client)     # registry.py
    reply = await provider.complete(messages, tools, on_event)

`complete` streams one assistant reply. `on_event(event)` is called for every
piece that arrives (text deltas, and progress ticks so the caller can push a
stall deadline forward), and before each retry (`Retrying`: why, when, which
attempt; nothing arrived, so no deadline moves); it returns when the reply is done. The caller owns
every deadline (cancel scopes); cancelling closes the HTTP connection.

Errors are `gptme_trio.core.errors.ProviderError` subclasses; a stream that breaks
mid-reply raises StreamBroken carrying the partial Reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from gptme_trio.core.images import Image

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]  # parsed JSON; {} when the model sent none
    extra: dict[str, Any] | None = None  # provider data that must go back with the call (Gemini's
    # `extra_content` holding a thought signature); kept in the log


@dataclass
class Message:
    role: Role
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)  # assistant messages
    call_id: str | None = None  # tool messages: which call this answers
    name: str | None = None  # tool messages: the tool's name
    images: list[Image] = field(default_factory=list)  # tool messages: images for a model that sees


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object


@dataclass
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class Reply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    ttft_ms: int | None = None  # request sent -> first token
    generation_ms: int | None = None  # request sent -> done


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Progress:
    """Something arrived (a tool-call fragment, a keep-alive): the stream is alive."""


@dataclass(frozen=True)
class Retrying:
    """The request failed in a way worth another try (before anything reached the caller): attempt
    `attempt` of `attempts` starts in `wait` s. `reason` is short: "rate limited (429)"."""

    reason: str
    wait: float
    attempt: int
    attempts: int


Event = TextDelta | Progress | Retrying


class Provider(Protocol):
    name: str  # "openai", "anthropic", ...
    model: str

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], on_event: Callable[[Event], None]
    ) -> Reply: ...
