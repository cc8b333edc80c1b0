"""One streamed reply over SSE, shared by every provider; network failures worded here.

    request = SSERequest(provider="openai", origin=base_url, url=..., body=..., headers=..., secret=key)
    reply = await stream_reply(client, request, OpenAIAssembler, on_event, RetryPolicy())

A provider supplies an `Assembler` (protocol below) that turns server-sent events
into our events and, at the end, a Reply. This module owns the rest: opening the
stream with retries (429, 5xx and connection failures, only before the first
event), HTTP error bodies -> ProviderHTTPError (ContextTooLong when the API says the
prompt does not fit), a stream that breaks or ends
before the assembler saw its done marker -> StreamBroken(partial=...), bad data ->
MalformedStream, timings. No error message ever holds the API key.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError, aconnect_sse

from gptme_trio.core.errors import ContextTooLong, MalformedStream, ProviderError, ProviderHTTPError, StreamBroken
from gptme_trio.core.network import FailureKind, NetworkFailure, causes, network_errors
from gptme_trio.llm import Event, Reply
from gptme_trio.llm.retry import Retryable, RetryPolicy, retry_after, with_retries

MAX_MESSAGE = 200  # characters of an API error message we keep
MAX_ERROR_BODY = 16_384  # bytes of an error body we read


class Assembler(Protocol):
    """Builds one Reply from server-sent events; a fresh one per attempt."""

    done: bool  # the protocol's done marker arrived
    has_content: bool  # a text or tool-call token arrived (for ttft)

    def feed(self, sse: ServerSentEvent) -> list[Event]:
        """Take one event; return what to pass to on_event. Raise MalformedStream on bad data."""
        ...

    def reply(self, *, complete: bool) -> Reply:
        """The reply so far (`complete=False`: keep only what parsed) or the final one."""
        ...


@dataclass(frozen=True)
class SSERequest:
    provider: str  # for messages: "openai", "anthropic", ...
    origin: str  # the base URL, for "cannot reach ..."
    url: str
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = field(default=None, repr=False)  # scrubbed from every message


async def stream_reply(
    client: httpx.AsyncClient,
    request: SSERequest,
    new_assembler: Callable[[], Assembler],
    on_event: Callable[[Event], None],
    policy: RetryPolicy,
) -> Reply:
    """POST `request`, stream its events through a new assembler, return the Reply."""
    try:
        return await with_retries(lambda: _attempt(client, request, new_assembler(), on_event), policy, on_event)
    except ProviderError as exc:
        _scrub(exc, request.secret)
        raise


async def _attempt(
    client: httpx.AsyncClient, request: SSERequest, assembler: Assembler, on_event: Callable[[Event], None]
) -> Reply:
    started = time.perf_counter()
    opened = False

    def unreachable(failure: NetworkFailure) -> Exception:
        if failure.kind is FailureKind.INVALID_URL:
            return ProviderError(f"invalid URL {request.url!r}: {failure.detail}")
        if opened:  # closing the response failed; _consume mapped everything before that
            return StreamBroken(f"{request.provider}: connection lost ({_reason(failure)})")
        error = ProviderError(f"cannot reach {request.origin}: {_reason(failure)}")
        return Retryable(error) if failure.transient else error

    with network_errors(unreachable):
        headers = {**request.headers, "content-type": "application/json"}
        async with aconnect_sse(
            client, "POST", request.url, content=encode_body(request.body), headers=headers, timeout=None
        ) as source:
            opened = True
            if source.response.status_code >= 400:
                await _raise_for_status(source.response, request)
            return await _consume(source, request, assembler, on_event, started)


async def _consume(
    source: EventSource,
    request: SSERequest,
    assembler: Assembler,
    on_event: Callable[[Event], None],
    started: float,
) -> Reply:
    delivered = False
    ttft: int | None = None
    problem = f"{request.provider}: the stream ended before the reply was complete"
    cause: StreamBroken | None = None
    try:
        with network_errors(lambda failure: StreamBroken(f"connection lost mid-reply ({_reason(failure)})")):
            try:
                async with aclosing(source.aiter_sse()) as stream:
                    async for sse in stream:
                        events = assembler.feed(sse)
                        if ttft is None and assembler.has_content:
                            ttft = _ms_since(started)
                        for event in events:
                            delivered = True
                            on_event(event)
                        if assembler.done:
                            break
            except SSEError as exc:  # an httpx.TransportError, yet bad data, not a lost connection
                raise MalformedStream(f"not an event stream ({exc})") from exc
    except MalformedStream as exc:
        raise MalformedStream(f"{request.provider}: {exc}") from exc
    except RecursionError as exc:  # JSON nested thousands deep, wherever an assembler parsed it
        raise MalformedStream(f"{request.provider}: JSON nested too deeply") from exc
    except StreamBroken as exc:  # the API reported an error inside the stream, or the connection broke
        problem, cause = f"{request.provider}: {exc}", exc
    else:
        if assembler.done:
            try:
                reply = assembler.reply(complete=True)
            except MalformedStream as exc:
                raise MalformedStream(f"{request.provider}: {exc}") from exc
            except RecursionError as exc:  # tool-call arguments nested thousands deep
                raise MalformedStream(f"{request.provider}: JSON nested too deeply") from exc
            reply.ttft_ms, reply.generation_ms = ttft, _ms_since(started)
            return reply
    partial = assembler.reply(complete=False)
    partial.ttft_ms, partial.generation_ms = ttft, _ms_since(started)
    broken = StreamBroken(problem, partial=partial)
    if not delivered:
        raise Retryable(broken) from cause
    raise broken from cause


async def _raise_for_status(response: httpx.Response, request: SSERequest) -> None:
    body = bytearray()
    with network_errors(lambda failure: None):  # the status is what matters; the body was a courtesy
        async with aclosing(cast(AsyncGenerator[bytes, None], response.aiter_bytes())) as pieces:
            async for piece in pieces:
                body += piece
                if len(body) >= MAX_ERROR_BODY:
                    break
    status = response.status_code
    where = f" at {request.url}" if status == 404 else ""  # most likely a wrong base URL
    words = error_message(bytes(body), response.reason_phrase, secret=request.secret)
    message = f"{request.provider} API error {status}{where}: {words}"
    text = bytes(body).decode("utf-8", errors="replace")
    if status in (400, 413, 422) and is_context_error(text):
        raise ContextTooLong(message, status=status, limit=context_limit(text))
    error = ProviderHTTPError(message, status=status)
    if status == 429 or status >= 500:
        raise Retryable(error, after=retry_after(response.headers))
    raise error


# How the APIs word "the prompt does not fit" (OpenAI and its clones, Anthropic, Gemini, Mistral, xAI)
_CONTEXT_ERROR = re.compile(
    r"context[_ ]length|context window|maximum (?:context|prompt) length|prompt is too long|"
    r"input token count.{0,40}exceeds|exceeds the maximum number of tokens|too large for model with|"
    r"reduce the length of the messages",
    re.IGNORECASE,
)


_LIMIT = re.compile(
    r"maximum (?:context|prompt) length is ([\d,]+)|> ?([\d,]+) maximum|maximum number of tokens allowed \(([\d,]+)\)|"
    r"model with ([\d,]+) maximum context length",
    re.IGNORECASE,
)


def is_context_error(body: str) -> bool:
    """Whether an error body says the request is longer than the model's context window."""
    return _CONTEXT_ERROR.search(body) is not None


def context_limit(body: str) -> int | None:
    """The window in tokens, where a context-length error says it ("maximum context length is 8192")."""
    found = _LIMIT.search(body)
    digits = next((group for group in found.groups() if group), None) if found else None
    return int(digits.replace(",", "")) if digits else None


def encode_body(body: dict[str, Any]) -> bytes:
    """`body` as UTF-8 JSON even when it holds what httpx refuses: lone surrogates (JavaScript strings
    from a page, half an emoji from the model) become U+FFFD, NaN and infinities (model arguments) null."""
    try:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(body), ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # pairs of lone surrogates join up, single ones become U+FFFD
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def error_message(body: bytes, fallback: str, *, secret: str | None = None) -> str:
    """The API's own words: JSON `error.message` (or `message`/`error`), else the body; truncated."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            text = error["message"]
        elif isinstance(error, str):
            text = error
    text = redact(" ".join(text.split()), secret) or fallback  # decoded (JSON may escape the key), then cut
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _reason(failure: NetworkFailure) -> str:
    """ "connection refused", "DNS lookup failed", "TLS error (...)", else the exception's own words."""
    return failure.connect_reason or failure.raw


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def redact(text: str, secret: str | None) -> str:
    """`text` without `secret`, nor what a cut-off quote left of it (its first 8+ characters).

    A key shorter than 8 characters is redacted only where it stands as a whole token: "k" must not
    take the k out of every word."""
    if not secret:
        return text
    if len(secret) < 8:
        return re.sub(rf"(?<![A-Za-z0-9_-]){re.escape(secret)}(?![A-Za-z0-9_-])", "***", text)
    text = text.replace(secret, "***")
    for size in range(len(secret) - 1, 7, -1):
        text = text.replace(secret[:size], "***")
    return text


def _scrub(exc: ProviderError, secret: str | None) -> None:
    """Redact the key from `exc` and every exception it chains to (-v prints the cause too)."""
    if secret:
        for each in causes(exc):
            each.args = tuple(redact(a, secret) if isinstance(a, str) else a for a in each.args)


# Parse helpers for assemblers: wrong shapes become MalformedStream, never KeyError/TypeError.


def load_object(data: str, what: str) -> dict[str, Any]:
    """`data` as a JSON object, or MalformedStream quoting the start of it."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise MalformedStream(f"{what} is not valid JSON ({exc}): {data[:80]!r}") from exc
    return as_dict(value, what)


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedStream(f"{what} should be a JSON object, got {_kind(value)}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedStream(f"{what} should be a JSON array, got {_kind(value)}")
    return value


def as_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedStream(f"{what} should be a string, got {_kind(value)}")
    return value


def as_int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedStream(f"{what} should be an integer, got {_kind(value)}")
    return value


def opt_int(value: Any, what: str) -> int | None:
    return None if value is None else as_int(value, what)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
