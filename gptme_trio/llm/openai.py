"""The OpenAI chat-completions protocol: OpenAI, OpenRouter, Ollama, llama.cpp, vLLM...

    provider = OpenAICompatible(client, model="gpt-4o-mini", base_url="https://api.openai.com/v1", api_key=key)
    reply = await provider.complete(messages, tools, on_event)

Streams `POST {base_url}/chat/completions` with usage included; tool-call
fragments (index, id, name, argument pieces) are assembled across chunks and
their arguments parsed once the stream says `[DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from gptme_trio.core.errors import MalformedStream, StreamBroken
from gptme_trio.core.images import Image
from gptme_trio.llm import Event, Message, Progress, Reply, TextDelta, ToolCall, ToolSpec, Usage
from gptme_trio.llm.retry import RetryPolicy
from gptme_trio.llm.sse import (
    SSERequest,
    as_dict,
    as_int,
    as_list,
    as_str,
    error_message,
    load_object,
    opt_int,
    stream_reply,
)


class OpenAICompatible:
    """Any server speaking OpenAI's streaming chat completions. The key is optional."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        model: str,
        base_url: str,
        api_key: str | None = None,
        name: str = "openai",
        stream_usage: bool = True,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 (frozen, shared safely)
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._api_key = api_key or None
        self._retry = retry
        self._stream_usage = stream_usage  # False for servers that refuse `stream_options` (Mistral)

    def __repr__(self) -> str:
        return f"OpenAICompatible(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], on_event: Callable[[Event], None]
    ) -> Reply:
        """Stream one assistant reply; see `gptme_trio.llm`."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "stream": True,
        }
        if self._stream_usage:
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = [to_openai_tool(tool) for tool in tools]
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        request = SSERequest(
            provider=self.name,
            origin=self.base_url,
            url=f"{self.base_url}/chat/completions",
            body=body,
            headers=headers,
            secret=self._api_key,
        )
        return await stream_reply(self._client, request, OpenAIAssembler, on_event, self._retry)


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our messages in OpenAI's shape: assistant `tool_calls`, `tool` role with `tool_call_id`. A tool
    message holds text only, so the images of a step's results follow its tool messages in one user
    message (image_url data URLs)."""
    out: list[dict[str, Any]] = []
    images: list[Image] = []
    for message in messages:
        if message.role != "tool" and images:
            out.append(_images_message(images))
            images = []
        if message.role == "tool":
            if message.call_id is None:
                raise ValueError("a tool message needs the call_id it answers")
            out.append({"role": "tool", "tool_call_id": message.call_id, "content": message.content})
            images += message.images
        elif message.role == "assistant" and message.tool_calls:
            calls = [_openai_call(call) for call in message.tool_calls]
            out.append({"role": "assistant", "content": message.content or None, "tool_calls": calls})
        else:
            out.append({"role": message.role, "content": message.content})
    if images:
        out.append(_images_message(images))
    return out


def _images_message(images: list[Image]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "The images the tool calls above returned:"}]
    for image in images:
        data = image.data()
        if data is None:
            parts.append({"type": "text", "text": f"[{image.path.name}: the image file is gone]"})
        else:
            parts.append({"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{data}"}})
    return {"role": "user", "content": parts}


def _openai_call(call: ToolCall) -> dict[str, Any]:
    out = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
    if call.extra:
        out["extra_content"] = call.extra  # Gemini 3 refuses a tool call sent back without its signature
    return out


def to_openai_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class OpenAIAssembler:
    """Chat-completion chunks -> events and one Reply (see `sse.Assembler`)."""

    def __init__(self) -> None:
        self.done = False
        self.has_content = False
        self._text: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._usage = Usage()
        self._stop_reason: str | None = None

    def feed(self, sse: ServerSentEvent) -> list[Event]:
        data = sse.data.strip()
        if data == "[DONE]":
            self.done = True
            return []
        if not data:  # a keep-alive
            return [Progress()]
        chunk = load_object(data, "chunk")
        if "error" in chunk:
            raise StreamBroken(f"the API reported an error mid-stream: {error_message(data.encode(), 'error')}")
        reported = chunk.get("usage")
        if reported is None and isinstance(chunk.get("x_groq"), dict):  # Groq's own place for it
            reported = chunk["x_groq"].get("usage")
        if reported is not None:
            usage = as_dict(reported, "usage")
            self._usage = Usage(
                input_tokens=opt_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
                output_tokens=opt_int(usage.get("completion_tokens"), "usage.completion_tokens"),
            )
        events: list[Event] = []
        for choice in as_list(chunk.get("choices") or [], "choices"):
            choice = as_dict(choice, "choice")
            delta = as_dict(choice.get("delta") or {}, "delta")
            if delta.get("content"):
                text = as_str(delta["content"], "delta.content")
                self._text.append(text)
                self.has_content = True
                events.append(TextDelta(text))
            for fragment in as_list(delta.get("tool_calls") or [], "delta.tool_calls"):
                self._tool_fragment(as_dict(fragment, "tool call"))
            if choice.get("finish_reason"):
                self._stop_reason = as_str(choice["finish_reason"], "finish_reason")
        return events or [Progress()]

    def _tool_fragment(self, fragment: dict[str, Any]) -> None:
        self.has_content = True
        call_id = as_str(fragment["id"], "tool call id") if fragment.get("id") else ""
        if fragment.get("index") is not None:
            index = as_int(fragment["index"], "tool call index")
        elif call_id and all(call.id != call_id for call in self._calls.values()):
            index = len(self._calls)  # servers without `index`: a new id starts a new call
        else:
            index = max(self._calls, default=0)
        call = self._calls.setdefault(index, _PartialCall())
        if call_id:
            call.id = call_id
        function = as_dict(fragment.get("function") or {}, "tool call function")
        if function.get("name"):
            call.name = as_str(function["name"], "tool call name")
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a few servers send the object itself
            call.arguments.append(json.dumps(arguments))
        elif arguments:
            call.arguments.append(as_str(arguments, "tool call arguments"))
        if fragment.get("extra_content") is not None:
            call.extra.update(as_dict(fragment["extra_content"], "tool call extra_content"))

    def reply(self, *, complete: bool) -> Reply:
        calls = []
        for position, index in enumerate(sorted(self._calls)):
            try:
                calls.append(_finish_call(self._calls[index], position))
            except MalformedStream:
                if complete:
                    raise
        return Reply(text="".join(self._text), tool_calls=calls, usage=self._usage, stop_reason=self._stop_reason)


def _finish_call(call: _PartialCall, position: int) -> ToolCall:
    if not call.name:
        raise MalformedStream(f"tool call #{position + 1} arrived without a function name")
    arguments = parse_arguments(call.name, "".join(call.arguments))
    return ToolCall(call.id or f"call_{position}", call.name, arguments, call.extra or None)


def parse_arguments(name: str, text: str) -> dict[str, Any]:
    """A tool call's JSON arguments as a dict ({} when empty); MalformedStream when they are not JSON."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MalformedStream(
            f"the model sent invalid JSON arguments for tool {name!r} ({exc}): {text[:80]!r}"
        ) from exc
    if not isinstance(value, dict):
        raise MalformedStream(f"the model sent arguments for tool {name!r} that are not a JSON object: {text[:80]!r}")
    return value
