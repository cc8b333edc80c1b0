"""The SSE bodies tests/support/llm_server.py streams: OpenAI chat-completion chunks and Anthropic
Messages-API events for one scripted reply (also used directly by the property tests)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

THOUGHT = {"google": {"thought_signature": "c2lnbmF0dXJl"}}  # Gemini 3 wants it back with the call


@dataclass
class Stream:
    events: list[str]  # SSE events, each ending in a blank line
    closing: list[str]  # the events that finish the reply (finish reason, usage, done marker)


def split(seq: Any, sizes: Sequence[int]) -> list[Any]:
    """`seq` (str or bytes) cut into consecutive pieces of `sizes`, cycled; never an empty list."""
    out, start, cycle = [], 0, itertools.cycle(sizes)
    while start < len(seq):
        size = next(cycle)
        out.append(seq[start : start + size])
        start += size
    return out or [seq]


def arguments(call: dict[str, Any]) -> str:
    arguments = call.get("arguments", {})
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def openai_stream(
    reply: dict[str, Any],
    *,
    model: str,
    usage: dict[str, int] | None,
    sizes: Sequence[int] = (3,),
    gemini: bool = False,
) -> Stream:
    """The chat-completion chunks of `reply`; `usage=None` leaves the usage chunk out; `gemini`: tool
    calls as Gemini sends them."""

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}
        return "data: " + json.dumps({**body, "choices": choices, **extra}) + "\n\n"

    def delta(payload: dict[str, Any], finish: str | None = None) -> str:
        return chunk([{"index": 0, "delta": payload, "finish_reason": finish}])

    events = [delta({"role": "assistant", "content": ""})]
    if reply.get("text"):
        events += [delta({"content": piece}) for piece in split(reply["text"], sizes)]
    for i, call in enumerate(reply.get("tool_calls", [])):
        if gemini:  # one chunk per call, no index, the signature beside it
            function = {"name": call["name"], "arguments": arguments(call)}
            whole = {"id": call["id"], "type": "function", "function": function, "extra_content": THOUGHT}
            events.append(delta({"role": "assistant", "tool_calls": [whole]}))
            continue
        head = {"index": i, "id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": ""}}
        events.append(delta({"tool_calls": [head]}))
        for piece in split(arguments(call), sizes):
            events.append(delta({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
    closing = [delta({}, "tool_calls" if reply.get("tool_calls") and not gemini else "stop")]
    if usage is not None:
        tokens = {"prompt_tokens": usage["input_tokens"], "completion_tokens": usage["output_tokens"]}
        closing.append(chunk([], usage={**tokens, "total_tokens": sum(tokens.values())}))
    return Stream(events, [*closing, "data: [DONE]\n\n"])


def anthropic_stream(
    reply: dict[str, Any], *, model: str, usage: dict[str, int], sizes: Sequence[int] = (3,)
) -> Stream:
    """The Messages-API events of `reply`."""

    def event(kind: str, **data: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": model, "content": []}
    start_usage = {"input_tokens": usage["input_tokens"], "output_tokens": 1}
    events = [event("message_start", message={**message, "usage": start_usage}), event("ping")]
    index = 0
    if reply.get("text"):
        events.append(event("content_block_start", index=0, content_block={"type": "text", "text": ""}))
        for piece in split(reply["text"], sizes):
            events.append(event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece}))
        events.append(event("content_block_stop", index=0))
        index = 1
    for i, call in enumerate(reply.get("tool_calls", []), start=index):
        block = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        events.append(event("content_block_start", index=i, content_block=block))
        for piece in split(arguments(call), sizes):
            events.append(
                event("content_block_delta", index=i, delta={"type": "input_json_delta", "partial_json": piece})
            )
        events.append(event("content_block_stop", index=i))
    stop = "tool_use" if reply.get("tool_calls") else "end_turn"
    closing = [
        event(
            "message_delta",
            delta={"stop_reason": stop, "stop_sequence": None},
            usage={"output_tokens": usage["output_tokens"]},
        ),
        event("message_stop"),
    ]
    return Stream(events, closing)
