"""Anthropic's Messages API, streamed.

    provider = Anthropic(client, model="claude-sonnet-4-5", api_key=key)
    reply = await provider.complete(messages, tools, on_event)

Streams `POST {base_url}/v1/messages`. System messages become the top-level
`system` field; assistant tool calls become `tool_use` blocks; tool results go
back in one user message as `tool_result` blocks. The reply is done at
`message_stop`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from gptme_trio.core.errors import MalformedStream, StreamBroken
from gptme_trio.llm import Event, Message, Progress, Reply, TextDelta, ToolCall, ToolSpec, Usage
from gptme_trio.llm.openai import parse_arguments
from gptme_trio.llm.retry import RetryPolicy
from gptme_trio.llm.sse import SSERequest, as_dict, as_int, as_str, error_message, load_object, opt_int, stream_reply

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096


class Anthropic:
    """Claude models through the Messages API."""

    name = "anthropic"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        model: str,
        api_key: str,
        base_url: str = "https://api.anthropic.com",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, shared safely)
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.max_tokens = max_tokens
        self._client = client
        self._api_key = api_key
        self._retry = retry

    def __repr__(self) -> str:
        return f"Anthropic(model={self.model!r}, base_url={self.base_url!r}, max_tokens={self.max_tokens})"

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], on_event: Callable[[Event], None]
    ) -> Reply:
        """Stream one assistant reply; see `gptme_trio.llm`."""
        system, converted = to_anthropic_messages(messages)
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": converted,
            "stream": True,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = [
                {"name": tool.name, "description": tool.description, "input_schema": tool.parameters} for tool in tools
            ]
        request = SSERequest(
            provider=self.name,
            origin=self.base_url,
            url=f"{self.base_url}/v1/messages",
            body=body,
            headers={"x-api-key": self._api_key, "anthropic-version": API_VERSION},
            secret=self._api_key,
        )
        return await stream_reply(self._client, request, AnthropicAssembler, on_event, self._retry)


def to_anthropic_messages(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system text, messages): tool results merge into one user turn, tool calls become tool_use."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        if message.role == "assistant" and not message.content and not message.tool_calls:
            continue  # the API refuses empty content
        if message.role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in message.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks if message.tool_calls else message.content})
            continue
        if message.role == "tool":
            if message.call_id is None:
                raise ValueError("a tool message needs the call_id it answers")
            block = {"type": "tool_result", "tool_use_id": message.call_id, "content": _result(message)}
        else:
            block = {"type": "text", "text": message.content}
        if out and out[-1]["role"] == "user" and _has_tool_result(out[-1]):
            out[-1]["content"].append(block)  # every result of one turn goes back in one user message
        elif message.role == "tool":
            out.append({"role": "user", "content": [block]})
        else:
            out.append({"role": "user", "content": message.content})
    return "\n\n".join(system), out


def _result(message: Message) -> str | list[dict[str, Any]]:
    """A tool result's content: its text, with its images as image blocks."""
    if not message.images:
        return message.content
    blocks: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    for image in message.images:
        data = image.data()
        if data is None:
            blocks.append({"type": "text", "text": f"[{image.path.name}: the image file is gone]"})
        else:
            blocks.append({"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": data}})
    return blocks


def _has_tool_result(message: dict[str, Any]) -> bool:
    content = message["content"]
    return isinstance(content, list) and any(block.get("type") == "tool_result" for block in content)


class AnthropicAssembler:
    """Messages-API events -> our events and one Reply (see `sse.Assembler`)."""

    def __init__(self) -> None:
        self.done = False
        self.has_content = False
        self._text: list[str] = []
        self._blocks: dict[int, dict[str, Any]] = {}  # open tool_use blocks: id, name, json pieces
        self._calls: list[ToolCall] = []
        self._usage = Usage()
        self._stop_reason: str | None = None

    def feed(self, sse: ServerSentEvent) -> list[Event]:
        if not sse.data.strip():
            return [Progress()]
        data = load_object(sse.data, f"{sse.event} event")
        kind = data.get("type")
        handler = _HANDLERS.get(kind if isinstance(kind, str) else sse.event)
        if handler is None:  # ping, and event types newer than this code
            return [Progress()]
        return handler(self, data) or [Progress()]

    def _message_start(self, data: dict[str, Any]) -> list[Event]:
        usage = as_dict(as_dict(data.get("message"), "message").get("usage") or {}, "usage")
        self._usage.input_tokens = _input_tokens(usage)
        self._usage.output_tokens = opt_int(usage.get("output_tokens"), "usage.output_tokens")
        return []

    def _block_start(self, data: dict[str, Any]) -> list[Event]:
        index = as_int(data.get("index"), "content_block_start.index")
        block = as_dict(data.get("content_block"), "content_block")
        if block.get("type") == "tool_use":
            self.has_content = True
            self._blocks[index] = {
                "id": as_str(block.get("id"), "tool_use.id"),
                "name": as_str(block.get("name"), "tool_use.name"),
                "start": block.get("input"),  # used only when no input_json_delta follows
                "json": [],
            }
        elif block.get("type") == "text" and block.get("text"):
            return self._add_text(as_str(block["text"], "text block"))
        return []

    def _block_delta(self, data: dict[str, Any]) -> list[Event]:
        delta = as_dict(data.get("delta"), "content_block_delta.delta")
        if delta.get("type") == "text_delta":
            return self._add_text(as_str(delta.get("text"), "text_delta.text"))
        if delta.get("type") == "input_json_delta":
            block = self._blocks.get(as_int(data.get("index"), "content_block_delta.index"))
            if block is None:
                raise MalformedStream("input_json_delta for a content block that is not an open tool_use")
            block["json"].append(as_str(delta.get("partial_json"), "partial_json"))
            self.has_content = True
        return []

    def _block_stop(self, data: dict[str, Any]) -> list[Event]:
        block = self._blocks.pop(as_int(data.get("index"), "content_block_stop.index"), None)
        if block is not None:
            start = block["start"]
            text = "".join(block["json"]) or (json.dumps(start) if isinstance(start, dict) else "")
            self._calls.append(ToolCall(block["id"], block["name"], parse_arguments(block["name"], text)))
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[Event]:
        delta = as_dict(data.get("delta") or {}, "message_delta.delta")
        if delta.get("stop_reason"):
            self._stop_reason = as_str(delta["stop_reason"], "stop_reason")
        usage = as_dict(data.get("usage") or {}, "message_delta.usage")
        if usage.get("output_tokens") is not None:
            self._usage.output_tokens = as_int(usage["output_tokens"], "usage.output_tokens")
        if usage.get("input_tokens") is not None:
            self._usage.input_tokens = _input_tokens(usage)
        return []

    def _message_stop(self, data: dict[str, Any]) -> list[Event]:
        self.done = True
        return []

    def _error(self, data: dict[str, Any]) -> list[Event]:
        raise StreamBroken(f"the API reported an error mid-stream: {error_message(json.dumps(data).encode(), 'error')}")

    def _add_text(self, text: str) -> list[Event]:
        if not text:
            return []
        self._text.append(text)
        self.has_content = True
        return [TextDelta(text)]

    def reply(self, *, complete: bool) -> Reply:
        if complete and self._blocks:
            raise MalformedStream("message_stop arrived while a tool_use block was still open")
        usage = Usage(self._usage.input_tokens, self._usage.output_tokens)
        return Reply(text="".join(self._text), tool_calls=list(self._calls), usage=usage, stop_reason=self._stop_reason)


def _input_tokens(usage: dict[str, Any]) -> int | None:
    """Input tokens including cache reads and writes (Anthropic counts those apart)."""
    parts = [opt_int(usage.get(key), f"usage.{key}") for key in _INPUT_KEYS]
    return None if parts[0] is None else sum(part or 0 for part in parts)


_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_HANDLERS: dict[str, Callable[[AnthropicAssembler, dict[str, Any]], list[Event]]] = {
    "message_start": AnthropicAssembler._message_start,
    "content_block_start": AnthropicAssembler._block_start,
    "content_block_delta": AnthropicAssembler._block_delta,
    "content_block_stop": AnthropicAssembler._block_stop,
    "message_delta": AnthropicAssembler._message_delta,
    "message_stop": AnthropicAssembler._message_stop,
    "error": AnthropicAssembler._error,
}
