"""Hostile pages, served by tests/support/pages.py under /hostile/ (imported there, in the server process).

/hostile/huge?mb=N            N MB (default 50) of distinct HTML paragraphs, streamed with a Content-Length
/hostile/deep?n=N             a paragraph, N (default 10000) nested <div>s around one sentence, a paragraph;
                              &js=1: built by a script instead (Chromium's HTML parser stops nesting at 512)
/hostile/loop?n=N             302 -> /hostile/loop?n=N+1, forever
/hostile/popups               window.open and alert/confirm/prompt at load and from a timer
/hostile/attachment           an HTML article sent with Content-Disposition: attachment
/hostile/octet                bytes as application/octet-stream
/hostile/charset/KIND         bytes that lie about their encoding: utf8-junk (\\xff\\xfe in UTF-8),
                              nonsense (charset=x-nonsense), bom (UTF-16LE with a BOM, declared UTF-8),
                              surrogate (a script writes a lone UTF-16 surrogate into the DOM)
/hostile/chunked-forever      chunked: the start of an article, then silence until the client leaves
/hostile/ws-page              an article whose script opens /hostile/ws, which sends a message every 50 ms;
                              ?to=WS-URL opens that socket instead; the page shows the socket's state
/hostile/sw-page?to=URL       an article whose script registers /hostile/sw.js?to=URL, a service worker that
                              fetches URL when it installs; the page shows 'registered' or why it was not
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from typing import Any

WORDS = "Structured concurrency means every task has an owner. "
ARTICLE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
    f"<article><h1>{{title}}</h1><p>{WORDS * 4}</p><p>{{text}}</p></article></body></html>"
)
HUGE_HEAD = b"<!doctype html><html><head><meta charset='utf-8'><title>Huge page</title></head><body><article>"
HUGE_PARAGRAPH = b"<p>Paragraph %07d of the huge page, with a few more words in it.</p>\n"
HUGE_TAIL = b"<p>The very end of the huge page.</p></article></body></html>"
POPUPS = """<script>
window.open('/normal'); alert('alert at load'); confirm('confirm at load'); prompt('prompt at load');
setTimeout(() => { window.open('/links'); alert('alert from a timer'); confirm('and a confirm') }, 50);
</script>"""
DEEP_SCRIPT = """<script>
let node = document.body;
for (let i = 0; i < {n}; i++) {{ const div = document.createElement('div'); node.appendChild(div); node = div; }}
node.textContent = 'The sentence at the bottom of the deep page.';
</script>"""
WS_SCRIPT = """<script>
const ws = new WebSocket(%s || 'ws://' + location.host + '/hostile/ws');
const show = (id, text) => { document.getElementById(id).textContent = text };
ws.onopen = () => show('state', 'open');
ws.onerror = () => show('state', 'failed');
ws.onmessage = (event) => show('count', event.data);
</script>"""
SW_SCRIPT = """<script>
const show = (text) => { document.getElementById('sw').textContent = text };
navigator.serviceWorker.register('/hostile/sw.js?to=' + encodeURIComponent(%s))
  .then((r) => show(r ? 'registered' : 'not registered (no registration)'),
        (e) => show('not registered: ' + e.message));
</script>"""
SW_WORKER = "self.addEventListener('install', (event) => event.waitUntil(fetch(%s, {mode: 'no-cors'}).catch(() => 0)));"
CHARSETS: dict[str, tuple[str, bytes]] = {
    "utf8-junk": (
        "text/html; charset=utf-8",
        b"<html><head><title>Junk \xff\xfe title</title></head><body><p>Valid text, then junk: \xff\xfe\xc3"
        b" and more valid text after the junk bytes, and caf\xc3\xa9.</p></body></html>",
    ),
    "nonsense": (
        "text/html; charset=x-nonsense",
        "<html><head><title>Nonsense charset</title></head><body><p>Text under a charset nobody knows: "
        "café, naïve.</p></body></html>".encode(),
    ),
    "bom": (
        "text/html; charset=utf-8",
        "\ufeff<html><head><title>UTF-16 page</title></head><body><p>This page is UTF-16 with a byte order "
        "mark, whatever its header says: café.</p></body></html>".encode("utf-16-le"),
    ),
    "surrogate": (
        "text/html; charset=utf-8",
        b"<html><head><title>Surrogate</title></head><body><p id='p'>Text before a lone surrogate.</p>"
        b"<script>document.getElementById('p').textContent += ' [\\uD800] ' + 'and after.';"
        b"document.title += ' \\uDC00'</script></body></html>",
    ),
}


def handle(handler: Any, path: str, query: dict[str, list[str]]) -> None:
    """Answer one /hostile/ request on `handler` (a tests.pages.Handler)."""
    name = path.removeprefix("/hostile/")
    arg = lambda key, default: int(query.get(key, [default])[0])  # noqa: E731
    if name == "huge":
        huge(handler, arg("mb", "50"))
    elif name == "deep":
        n = arg("n", "10000")
        if query.get("js"):
            inner = DEEP_SCRIPT.format(n=n)
        else:
            inner = "<div>" * n + "The sentence at the bottom of the deep page." + "</div>" * n
        page = f"<p>Before the deep part.</p>{inner}<p>After the deep part.</p>"
        handler.send(200, f"<html><head><title>Deep page</title></head><body>{page}</body></html>".encode())
    elif name == "loop":
        handler.send(302, b"", Location=f"/hostile/loop?n={arg('n', '0') + 1}")
    elif name == "popups":
        handler.send(
            200, ARTICLE.format(title="Popups page", text="Dialogs and popups.").replace("</body>", POPUPS).encode()
        )
    elif name == "attachment":
        body = ARTICLE.format(title="Attached report", text="The report sent as an attachment.").encode()
        handler.send(200, body, Content_Disposition='attachment; filename="report.html"')
    elif name == "octet":
        handler.send(200, bytes(range(256)) * 64, "application/octet-stream")
    elif name.startswith("charset/"):
        content_type, body = CHARSETS[name.removeprefix("charset/")]
        handler.send(200, body, content_type)
    elif name == "chunked-forever":
        chunked_forever(handler)
    elif name == "ws-page":
        text = "Socket <span id='state'>connecting</span>. Messages so far: <span id='count'>0</span>."
        script = WS_SCRIPT % json.dumps(query.get("to", [""])[0]).replace("</", "<\\/")
        handler.send(200, ARTICLE.format(title="WebSocket page", text=text).replace("</body>", script).encode())
    elif name == "ws":
        websocket(handler)
    elif name == "sw-page":
        script = SW_SCRIPT % json.dumps(query.get("to", [""])[0]).replace("</", "<\\/")
        text = "Service worker: <span id='sw'>registering</span>."
        handler.send(200, ARTICLE.format(title="Service worker page", text=text).replace("</body>", script).encode())
    elif name == "sw.js":
        handler.send(200, (SW_WORKER % json.dumps(query.get("to", [""])[0])).encode(), "text/javascript")
    else:
        handler.send(404, b"<html><body>no such hostile page</body></html>")


def huge(handler: Any, mb: int) -> None:
    count = (mb * 1_000_000 - len(HUGE_HEAD) - len(HUGE_TAIL)) // len(HUGE_PARAGRAPH % 0)
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(HUGE_HEAD) + count * len(HUGE_PARAGRAPH % 0) + len(HUGE_TAIL)))
    handler.end_headers()
    with contextlib.suppress(OSError):  # the client may give up half-way
        handler.wfile.write(HUGE_HEAD)
        for start in range(0, count, 10_000):
            handler.wfile.write(b"".join(HUGE_PARAGRAPH % i for i in range(start, min(start + 10_000, count))))
        handler.wfile.write(HUGE_TAIL)
        handler.wfile.flush()


def chunked_forever(handler: Any) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for piece in (b"<html><head><title>Endless</title></head><body>", f"<p>{WORDS * 8}</p>".encode()):
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    handler.wfile.flush()
    wait_for_hangup(handler)


def websocket(handler: Any) -> None:
    magic = handler.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", base64.b64encode(hashlib.sha1(magic.encode()).digest()).decode())
    handler.end_headers()
    handler.close_connection = True
    deadline = time.monotonic() + 300
    with contextlib.suppress(OSError):
        for n in range(1, 1_000_000):
            if time.monotonic() > deadline:
                break
            message = str(n).encode()
            handler.wfile.write(b"\x81" + bytes([len(message)]) + message)  # one unmasked text frame
            handler.wfile.flush()
            time.sleep(0.05)


def wait_for_hangup(handler: Any) -> None:
    """Silence until the client closes the connection (at most 300 s)."""
    handler.close_connection = True
    handler.connection.settimeout(300)
    with contextlib.suppress(OSError):
        while handler.connection.recv(65536):
            pass
