"""A tiny OpenAI-compatible streaming server on 127.0.0.1, run in a thread of the benchmark itself.

    server = TokenServer(gap=0.02).start()      # base URL: server.base_url (ends in /v1)
    server.tokens = ["r01t000 ", "r01t001 ", ...]   # the next reply, one SSE event per token
    ... a client POSTs /v1/chat/completions ...
    server.sent   # {token: time.perf_counter() right after its event was written to the socket}

Every POST to /v1/chat/completions (or /chat/completions) streams the current `tokens`, one
chunk per token, `gap` seconds apart, as chunked HTTP/1.1 with Nagle off: each event leaves
in one send, and its time is taken just before that send (just after it, the thread may first
wait for the GIL while the reader of the terminal runs). Usage is sent
when asked (stream_options.include_usage), then `[DONE]`. Same process as the reader of the
terminal, so both ends use one clock.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = {"/v1/chat/completions", "/chat/completions"}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if extra else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "bench"}
    return b"data: " + json.dumps({**body, "choices": choices, **extra}).encode() + b"\n\n"


def framed(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class TokenServer:
    def __init__(self, gap: float = 0.02) -> None:
        self.gap = gap
        self.tokens: list[str] = []
        self.sent: dict[str, float] = {}
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                if self.path not in PATHS or request.get("stream") is not True:
                    self.send_error(404 if self.path not in PATHS else 400)
                    return
                server.requests += 1
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                self.send(chunk({"role": "assistant", "content": ""}))
                tokens = list(server.tokens)
                frames = [framed(chunk({"content": token})) for token in tokens]
                started = time.perf_counter()
                for number, (token, frame) in enumerate(zip(tokens, frames, strict=True)):
                    time.sleep(max(0.0, started + (number + 1) * server.gap - time.perf_counter()))
                    stamp = time.perf_counter()  # before the send: after it, this thread may wait for the GIL
                    self.connection.sendall(frame)
                    server.sent[token] = stamp
                self.send(chunk({}, "stop"))
                if (request.get("stream_options") or {}).get("include_usage"):
                    usage = {"prompt_tokens": 10, "completion_tokens": len(server.tokens), "total_tokens": 0}
                    self.send(chunk({}, usage=usage))
                self.send(b"data: [DONE]\n\n")
                self.connection.sendall(b"0\r\n\r\n")

            def send(self, data: bytes) -> None:
                self.connection.sendall(framed(data))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> TokenServer:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
