"""A scripted LLM API on 127.0.0.1: OpenAI- and Anthropic-style streaming over real HTTP/1.1.

It plays the provider's network peer in tests. Each POST to an API endpoint takes
the next reply of its script (whatever the endpoint) and streams it as SSE in
small pieces (text and tool-call arguments split across many chunks, every event
written in two halves). It records every API request so tests can assert on what
the model was sent.

Script: a JSON list of replies, consumed in order.

    {"text": "Hello!"}                                           a text reply
    {"tool_calls": [{"name": "fetch", "arguments": {"url": "https://x"}}], "text": "optional"}
    {"fault": "429", "retry_after": "1"}        429; Retry-After in seconds or as an HTTP-date
    {"fault": "500"}                            500 (or "status": 503 ...) with a JSON error body
    {"fault": "status", "status": 401, "message": "bad key"}    any error status
    {"fault": "break", "text": "Hel", "after": 3}   stream the reply's events (the first `after`
                                                    if given) but no ending, then drop the connection;
                                                    "clean": true ends the body properly instead
    {"fault": "malformed", "data": "{not json"}     one good event, then a data line that is not JSON
    {"fault": "stall", "text": "Hi", "after": 2}    the first `after` events, then silence until
                                                    the client hangs up (counted in /_status)
    {"fault": "context"}                        400: the prompt does not fit the context window, in
                                                the provider's words (OpenAI's or Anthropic's)

Optional in any reply: "usage": {"input_tokens": 12, "output_tokens": 3} (default: counted from
the request and reply), "delay_ms": 50 (before the first event), "piece": 3 (characters per
delta), "pace_ms": 10 (between events: a reply that streams for a while), "message" (an error's
text). A tool call may carry "id" (default "call_<reply>_<i>"); string "arguments" are sent verbatim
(to test invalid JSON). OpenAI usage is sent only when
the request asked with stream_options.include_usage, as the real API does.

Endpoints:
    POST /v1/chat/completions, /chat/completions    OpenAI (base URL: http://127.0.0.1:PORT/v1)
    POST /v1/messages                               Anthropic (base URL: http://127.0.0.1:PORT)
    GET  /_requests   the recorded API requests: [{"method", "path", "headers", "body"}, ...]
    GET  /_status     {"served": n, "remaining": n, "stalls_closed": n}
    POST /_script     append replies (a JSON list) to the script
    POST /_reset      start over: this script (a JSON list) instead, no requests, counters at zero

An exhausted script answers 400 "llm_server: script exhausted". Server-wide options (in process):
`context_limit=N` answers any request over N tokens (counted as below) with the context-length 400,
before it takes a reply from the script; `flavour="gemini"` streams tool calls as Gemini's
OpenAI-compatible endpoint does (no `index`, arguments whole, an `extra_content` thought signature,
finish_reason "stop"); `flavour="mistral"` refuses `stream_options` with Mistral's 422 and always
sends usage. In a Trio test:

    server = LLMServer([{"text": "hi"}]);  await nursery.start(server.serve)   # server.port

As a process: `python -m tests.support.llm_server SCRIPT.json` (from the repository root) prints `PORT <n>`
and serves until its stdin closes (start it with stdin=subprocess.PIPE, like tests/support/pages.py), then read
`http://127.0.0.1:<n>/_requests`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import trio

from tests.support.llm_streams import Stream, anthropic_stream, arguments, openai_stream, split

__all__ = ["LLMServer", "Stream", "anthropic_stream", "check_script", "openai_stream", "split"]

FAULTS = {"429", "500", "status", "break", "malformed", "stall", "context"}
CONTEXT_ERRORS = {  # what the real APIs say (the numbers are filled in)
    "openai": "This model's maximum context length is {limit} tokens. However, your messages resulted in {used} "
    "tokens. Please reduce the length of the messages.",
    "anthropic": "prompt is too long: {used} tokens > {limit} maximum",
}
OPENAI_PATHS = {"/v1/chat/completions", "/chat/completions"}
ANTHROPIC_PATHS = {"/v1/messages"}


def check_script(replies: Any) -> list[dict[str, Any]]:
    """The replies, or ValueError saying which one is wrong."""
    if not isinstance(replies, list):
        raise ValueError("a script is a JSON list of replies")
    for number, reply in enumerate(replies):
        if not isinstance(reply, dict):
            raise ValueError(f"reply {number} is not an object")
        if "fault" in reply and reply["fault"] not in FAULTS:
            raise ValueError(f"reply {number}: unknown fault {reply['fault']!r} (one of {sorted(FAULTS)})")
        for call in reply.get("tool_calls", []):
            if "name" not in call:
                raise ValueError(f"reply {number}: a tool call needs a name")
    return replies


class LLMServer:
    """The scripted server; `await nursery.start(server.serve)` runs it in the caller's nursery."""

    def __init__(
        self, script: list[dict[str, Any]] | None = None, *, context_limit: int | None = None, flavour: str = "openai"
    ) -> None:
        self.script: list[dict[str, Any]] = check_script(list(script or []))
        self.context_limit = context_limit
        self.flavour = flavour
        self.requests: list[dict[str, Any]] = []
        self.served = 0
        self.stalls_closed = 0
        self.port = 0
        self._stall_closed = trio.Event()

    def add(self, *replies: dict[str, Any]) -> None:
        self.script += check_script(list(replies))

    def reset(self, script: list[dict[str, Any]]) -> None:
        """As if just started with `script` (one server process can then serve many tests in turn)."""
        self.script, self.requests = check_script(list(script)), []
        self.served = self.stalls_closed = 0
        self._stall_closed = trio.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, *, task_status: trio.TaskStatus[LLMServer] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._connection, listeners)

    async def wait_stall_closed(self) -> None:
        """Until a client hung up on a stalled stream."""
        await self._stall_closed.wait()

    async def _connection(self, stream: trio.SocketStream) -> None:
        peer = _Peer(stream, h11.Connection(h11.SERVER))
        try:
            while isinstance(request := await peer.next(), h11.Request):
                body = b""
                while isinstance(event := await peer.next(), h11.Data):
                    body += event.data
                if not await self._respond(peer, request, body) or peer.conn.our_state is not h11.DONE:
                    return
                peer.conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            pass
        finally:
            await stream.aclose()

    async def _respond(self, peer: _Peer, request: h11.Request, body: bytes) -> bool:
        """Answer one request; False when the connection must be dropped."""
        method, path = request.method.decode(), request.target.decode().split("?")[0]
        if method == "GET" and path == "/_requests":
            return await peer.json(200, self.requests)
        if method == "GET" and path == "/_status":
            return await peer.json(
                200, {"served": self.served, "remaining": len(self.script), "stalls_closed": self.stalls_closed}
            )
        if method == "POST" and path in ("/_script", "/_reset"):
            try:
                replies = check_script(json.loads(body))
                if path == "/_reset":
                    self.reset(replies)
                else:
                    self.add(*replies)
            except ValueError as exc:
                return await peer.error("openai", 400, f"llm_server: bad script: {exc}")
            return await peer.json(200, {"remaining": len(self.script)})
        kind = "openai" if path in OPENAI_PATHS else "anthropic" if path in ANTHROPIC_PATHS else None
        if method != "POST" or kind is None:
            return await peer.error(kind or "openai", 404, f"llm_server: no {method} {path}")
        headers = {name.decode().lower(): value.decode("latin-1") for name, value in request.headers}
        try:
            data = json.loads(body)
        except ValueError:
            data = body.decode("utf-8", errors="replace")
        self.requests.append({"method": method, "path": path, "headers": headers, "body": data})
        problem = _invalid(kind, data)
        if not problem and self.flavour == "mistral" and isinstance(data, dict) and "stream_options" in data:
            detail = [
                {"type": "extra_forbidden", "loc": ["body", "stream_options"], "msg": "Extra inputs are not permitted"}
            ]
            return await peer.json(
                422, {"object": "error", "message": {"detail": detail}, "type": "invalid_request_error"}
            )
        if not problem and self.context_limit is not None and counted(data) > self.context_limit:
            return await peer.error(kind, 400, context_error(kind, self.context_limit, counted(data)))
        if not problem and not self.script:
            problem = f"llm_server: script exhausted after {self.served} replies"
        if problem:
            return await peer.error(kind, 400, problem)
        self.served += 1
        return await self._play(peer, kind, data, self.script.pop(0), self.served - 1)

    async def _play(self, peer: _Peer, kind: str, request: dict, reply: dict, number: int) -> bool:
        fault = reply.get("fault")
        if fault == "context":
            limit = int(reply.get("limit", 1000))
            return await peer.error(kind, 400, context_error(kind, limit, max(counted(request), limit + 1)))
        if fault in ("429", "500", "status"):
            status = int(reply.get("status", 429 if fault == "429" else 500))
            extra = [("retry-after", str(reply["retry_after"]))] if "retry_after" in reply else []
            message = reply.get("message", "Rate limit reached" if status == 429 else "The server had an error")
            return await peer.error(kind, status, message, extra)
        calls = [{"id": f"call_{number}_{i}", **call} for i, call in enumerate(reply.get("tool_calls", []))]
        reply = {**reply, "tool_calls": calls}
        if fault in ("break", "stall") and "text" not in reply and not calls:
            reply["text"] = "partial answer"
        played = _encode(kind, reply, request, self.flavour)
        head = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
        await peer.send(h11.Response(status_code=200, headers=head))
        await trio.sleep(reply.get("delay_ms", 0) / 1000)
        if fault == "break":
            await peer.events(played.events[: reply.get("after", len(played.events))])
            if reply.get("clean"):
                await peer.send(h11.EndOfMessage())
            return False  # drop the connection (mid-body unless clean)
        if fault == "stall":
            await peer.events(played.events[: reply.get("after", 2)])
            await peer.wait_hangup()
            self.stalls_closed += 1
            self._stall_closed.set()
            return False
        if fault == "malformed":
            data = reply.get("data", '{"choices": [{"delta": {"content": "oo')
            bad = f"data: {data}\n\n" if kind == "openai" else f"event: content_block_delta\ndata: {data}\n\n"
            await peer.events([played.events[0], bad, *played.closing])
        else:
            await peer.events(played.events + played.closing, reply.get("pace_ms", 0) / 1000)
        await peer.send(h11.EndOfMessage())
        return True


def _invalid(kind: str, data: Any) -> str | None:
    """What the real API would reject in this request body (only what the tests rely on)."""
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return "messages: field required"
    if data.get("stream") is not True:
        return "llm_server streams only: set stream=true"
    if kind == "anthropic" and not isinstance(data.get("max_tokens"), int):
        return "max_tokens: Field required"
    return None


def counted(request: Any) -> int:
    """The input tokens of a request as this server counts them: its JSON's characters / 4."""
    return max(1, len(json.dumps(request)) // 4)


def context_error(kind: str, limit: int, used: int) -> str:
    return CONTEXT_ERRORS[kind].format(limit=limit, used=used)


def _encode(kind: str, reply: dict[str, Any], request: dict[str, Any], flavour: str = "openai") -> Stream:
    text = reply.get("text", "") + "".join(arguments(c) for c in reply["tool_calls"])
    usage = {"input_tokens": counted(request), "output_tokens": max(1, len(text) // 4), **reply.get("usage", {})}
    sizes, model = [int(reply.get("piece", 3))], str(request.get("model", "model"))
    if kind == "anthropic":
        return anthropic_stream(reply, model=model, usage=usage, sizes=sizes)
    wants_usage = (request.get("stream_options") or {}).get("include_usage") is True or flavour == "mistral"
    gemini = flavour == "gemini"
    return openai_stream(reply, model=model, usage=usage if wants_usage else None, sizes=sizes, gemini=gemini)


@dataclass
class _Peer:
    """One client connection, spoken through h11."""

    stream: trio.SocketStream
    conn: h11.Connection

    async def next(self) -> Any:
        while (event := self.conn.next_event()) is h11.NEED_DATA:
            self.conn.receive_data(await self.stream.receive_some(65536))
        return event

    async def send(self, event: Any) -> None:
        await self.stream.send_all(self.conn.send(event))

    async def events(self, events: list[str], pace: float = 0.0) -> None:
        for event in events:
            raw = event.encode()
            for half in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):  # lines split across reads
                await self.send(h11.Data(data=half))
                await trio.sleep(0)
            await trio.sleep(pace)

    async def json(self, status: int, value: Any, extra: Sequence[tuple[str, str]] = ()) -> bool:
        body = json.dumps(value).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body))), *extra]
        for event in (h11.Response(status_code=status, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
            await self.send(event)
        return True

    async def error(self, kind: str, status: int, message: str, extra: Sequence[tuple[str, str]] = ()) -> bool:
        if kind == "anthropic":
            return await self.json(status, {"type": "error", "error": {"type": "api_error", "message": message}}, extra)
        return await self.json(status, {"error": {"message": message, "type": "server_error", "code": None}}, extra)

    async def wait_hangup(self) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while await self.stream.receive_some(65536):
                pass


async def _serve_until_stdin_closes(server: LLMServer) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        print(f"PORT {server.port}", flush=True)
        await trio.to_thread.run_sync(sys.stdin.buffer.read, abandon_on_cancel=True)
        nursery.cancel_scope.cancel()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.llm_server SCRIPT.json", file=sys.stderr)
        return 2
    try:
        server = LLMServer(json.loads(Path(argv[0]).read_text()))
    except (OSError, ValueError) as exc:
        print(f"llm_server: {argv[0]}: {exc}", file=sys.stderr)
        return 2
    trio.run(_serve_until_stdin_closes, server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
