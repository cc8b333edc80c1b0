"""A local web site with every kind of page the tests need, on 127.0.0.1 only.

Run as a process: `python -m tests.support.pages` (from the repository root) prints `PORT <http> <https>`
and serves until stdin closes (so it never outlives the test run). Pages:

    /normal            an article                    /slow?ms=N       the article after N ms
    /never             never answers                 /stall-body      half a body, then silence
    /infinite-js       a script that never ends      /console         console messages and a page error
    /redirect          302 -> /normal                /redirect-loop   302 -> itself
    /redirect-to?url=U 302 -> U
    /status/N          that status, an HTML body     /doc.pdf, /pdf-no-ext   a PDF with text
    /latin1            ISO-8859-1 by header          /latin1-meta     windows-1252 by <meta>
    /big               ~5 MB of article              /late            text added by JS after 300 ms
    /images            CSS and two images            /headers         echoes request headers/cookies
    /js-title          title set by JavaScript       /hits            JSON count of requests per path
    /image.png         a PNG (for /images)           /links           a list of links (for --full)
    /never/...         never answers (a search base URL that hangs)
    /form              an input, a Greet button, a link to /normal; Enter submits to /form-result?name=
    /lure?to=URL       an image, a fetch() and a link toward URL; &nav=1 also navigates there by script
    /ddg/html/?q=...   DuckDuckGo-style HTML results echoing q; q=nothing: none; q=many results: 15;
                       403 without a browser User-Agent (as DuckDuckGo refuses bots)
    /searx/search?q=...&format=json   SearXNG-style JSON echoing q; q=nothing: none; q=many results: 15;
                       q=fail: 503; q=garbage: HTML, not JSON; q=shapeless: JSON without results;
                       403 without format=json (SearXNG's answer when JSON is disabled)
    /close-body?ms=D&frac=F      headers (Content-Length of a whole article), after D ms the first F
                                 (default 0.5) of the body, then the socket is closed: a body cut off
    /stall-mid-body?ms=D&frac=F  the same, then silence until the client hangs up (at most 300 s)
    /counted?ms=N&id=X           the article after N ms; /count?id=X: JSON, how many /counted requests had id X
    /reading/...                 settling, shadow DOM, frames, overlays: reading_pages.py
    /meta/...                    metadata and links (meta tags, JSON-LD, <base>; hostile ones): meta_pages.py
    /hostile/...                 hostile pages (50 MB, 10,000 deep, endless redirects, popups...): hostile_site.py
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

ARTICLE_TEXT = (
    "Structured concurrency means every task has an owner and a visible lifetime. "
    "When a deadline passes, the cancellation reaches every task below it, and cleanup runs. "
)
ARTICLE = f"""<!doctype html><html><head><meta charset="utf-8"><title>{{title}}</title></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/contact">Contact</a></nav>
<article><h1>{{title}}</h1>
<p>{ARTICLE_TEXT * 3}</p>
<p>The second paragraph says that a hung page costs its timeout, never the session, and that
child processes are gone when the program returns.</p>
<ul><li>First point</li><li>Second point</li></ul>
</article><footer>Footer text, copyright nobody</footer></body></html>"""


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF with `text` in Helvetica."""
    stream = f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def make_png() -> bytes:
    """A 2x2 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = (2).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def ddg_page(q: str) -> bytes:
    """A results page shaped like html.duckduckgo.com's: an ad, a wrapped href, a direct one."""

    def block(title: str, href: str, snippet: str, kind: str = "result results_links web-result") -> str:
        return (
            f'<div class="{kind}"><div class="links_main result__body"><h2 class="result__title">'
            f'<a rel="nofollow" class="result__a" href="{escape(href)}">{title}</a></h2>'
            f'<a class="result__snippet" href="{escape(href)}">{snippet}</a></div></div>\n'
        )

    shown = escape(q)
    if q == "nothing":
        blocks = '<div class="no-results">No results.</div>'
    else:
        wrapped = "//duckduckgo.com/l/?uddg=" + quote("https://example.com/wrapped?a=1&b=caf%C3%A9", safe="")
        blocks = block("Shop now", "https://duckduckgo.com/y.js?ad_domain=shop.example", "An ad.", "result result--ad")
        blocks += block(f"Wrapped result for {shown}", wrapped + "&rut=f00d", f"The <b>first</b>\n snippet, {shown}.")
        blocks += block(f"Direct result for {shown}", "https://example.org/direct", "The second snippet.")
        if q == "many results":
            blocks += "".join(
                block(f"Result {i} for {shown}", f"https://example.net/{i}", f"Snippet {i}.") for i in range(3, 16)
            )
    return (
        f"<!doctype html><html><head><title>{shown} at DuckDuckGo</title></head><body>"
        f'<div id="links" class="results">{blocks}</div></body></html>'
    ).encode()


def searx_json(q: str) -> bytes:
    """An answer shaped like SearXNG's /search?format=json: one result without a URL, one without content."""
    results: list[dict[str, str]] = []
    if q != "nothing":
        results = [
            {"title": f"First for {q}", "url": "https://example.com/one", "content": "First  snippet.", "engine": "x"},
            {"title": "No URL", "content": "a result without a url"},
            {"title": f"Second for {q}", "url": "https://example.org/two", "content": ""},
        ]
    if q == "many results":
        results += [{"title": f"Result {i} for {q}", "url": f"https://example.net/{i}"} for i in range(3, 16)]
    return json.dumps({"query": q, "number_of_results": len(results), "results": results}).encode()


PDF = make_pdf("Hello from a PDF document")
PNG = make_png()
FORM = b"""<!doctype html><html><head><meta charset="utf-8"><title>Form</title></head><body>
<form action="/form-result" method="get"><label>Name <input id="name" name="name"></label>
<button id="greet" type="button" onclick="document.getElementById('out').textContent =
'Hello, ' + document.getElementById('name').value + '!'">Greet</button></form>
<p id="out"></p><a id="article" href="/normal">Read the article</a></body></html>"""
HITS: Counter[str] = Counter()
COUNTED: Counter[str] = Counter()  # /counted requests per id
FOREVER = threading.Event()  # never set: handlers that must hang wait on it


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # send() writes the headers and the body apart. With Nagle's algorithm on, a kept-alive connection's
    # body then waits for the client's delayed ACK of the headers: ~30 ms more per page (a warm goto
    # 52 -> 23 ms), a property of this server, not of the browser or of what we measure. Servers set it
    # off on kept-alive connections (nginx's tcp_nodelay, Trio's sockets).
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:  # quiet
        pass

    def send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8", **headers) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: C901 - one branch per page is the point
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        HITS[path] += 1
        article = ARTICLE.format
        if path in ("/", "/normal"):
            self.send(200, article(title="Normal page").encode())
        elif path == "/slow":
            time.sleep(int(query.get("ms", ["500"])[0]) / 1000)
            self.send(200, article(title="Slow page").encode())
        elif path == "/never" or path.startswith("/never/"):
            FOREVER.wait()
        elif path == "/stall-body":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"<html><body><p>half a page")
            self.wfile.flush()
            FOREVER.wait()
        elif path == "/infinite-js":
            self.send(
                200, b"<html><head><title>Loop</title></head><body><script>while (true) {}</script></body></html>"
            )
        elif path == "/console":
            body = article(title="Console page").replace(
                "</body>",
                "<script>console.log('hello from the console'); console.error('something went wrong');"
                "setTimeout(() => { throw new Error('boom in a timer') }, 0);</script></body>",
            )
            self.send(200, body.encode())
        elif path == "/redirect":
            self.send(302, b"", Location="/normal")
        elif path == "/redirect-to":
            self.send(302, b"", Location=query.get("url", ["/normal"])[0])
        elif path == "/redirect-loop":
            self.send(302, b"", Location="/redirect-loop")
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self.send(code, article(title=f"Status {code}").encode())
        elif path in ("/doc.pdf", "/pdf-no-ext"):
            self.send(200, PDF, "application/pdf")
        elif path == "/latin1":
            body = article(title="Caf\u00e9 latin").replace('<meta charset="utf-8">', "")
            self.send(200, body.encode("iso-8859-1"), "text/html; charset=iso-8859-1")
        elif path == "/latin1-meta":
            body = article(title="Na\u00efve \u2013 meta").replace("utf-8", "windows-1252")
            self.send(200, body.encode("cp1252"), "text/html")
        elif path == "/big":
            paras = "".join(
                f"<p>Paragraph {i} of the big page. " + f"Sentence {i} has words, and more words. " * 25 + "</p>\n"
                for i in range(5_000)
            )  # ~5 MB of distinct paragraphs
            body = article(title="Big page").replace("<ul>", paras + "<ul>")
            self.send(200, body.encode())
        elif path == "/late":
            self.send(
                200,
                b"""<html><head><title>Late</title></head><body><div id="root">loading</div>
<script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late';
p.textContent = 'Content that arrived late, written by JavaScript after three hundred milliseconds.';
document.getElementById('root').replaceChildren(p); }, 300);</script></body></html>""",
            )
        elif path == "/images":
            body = (
                article(title="Images page")
                .replace("</head>", '<link rel="stylesheet" href="/style.css"></head>')
                .replace("<ul>", '<img src="/image.png" alt="one"><img src="/image.png?second" alt="two"><ul>')
            )
            self.send(200, body.encode())
        elif path == "/style.css":
            self.send(200, b"body { font-family: sans-serif; } h1 { color: #333; }", "text/css")
        elif path == "/image.png":
            self.send(200, PNG, "image/png")
        elif path == "/headers":
            items = "".join(f"<li>{k}: {v}</li>" for k, v in self.headers.items())
            self.send(200, f"<html><head><title>Headers</title></head><body><ul>{items}</ul></body></html>".encode())
        elif path == "/js-title":
            self.send(
                200,
                b"<html><head><title>Static title</title></head><body><p>Body text here.</p>"
                b"<script>document.title = 'Title from JavaScript'</script></body></html>",
            )
        elif path == "/links":
            links = "".join(f'<li><a href="/page{i}">Page {i}</a></li>' for i in range(5))
            self.send(200, f"<html><head><title>Links</title></head><body><ul>{links}</ul></body></html>".encode())
        elif path == "/ddg/html/":
            if "Mozilla/" not in self.headers.get("User-Agent", ""):
                self.send(403, b"<html><body>automated queries are not allowed</body></html>")
            else:
                self.send(200, ddg_page(query.get("q", [""])[0]))
        elif path == "/searx/search":
            q = query.get("q", [""])[0]
            if query.get("format") != ["json"]:
                self.send(403, b"<html><body>Forbidden</body></html>")
            elif q == "fail":
                self.send(503, b"<html><body>Service Unavailable</body></html>")
            elif q == "garbage":
                self.send(200, b"<html><body>surely not JSON</body></html>", "application/json")
            elif q == "shapeless":
                self.send(200, b'{"answers": []}', "application/json")
            else:
                self.send(200, searx_json(q), "application/json")
        elif path == "/form":
            self.send(200, FORM)
        elif path == "/form-result":
            name = escape(query.get("name", [""])[0])
            self.send(
                200, f"<html><head><title>Submitted</title></head><body><p>Submitted: {name}</p></body></html>".encode()
            )
        elif path == "/lure":
            to = escape(query.get("to", [""])[0])
            nav = f"<script>setTimeout(() => {{ location.href = '{to}' }}, 50)</script>" if query.get("nav") else ""
            self.send(
                200,
                f"<html><head><title>Lure</title></head><body><p>Lure page.</p><img src='{to}'>"
                f"<script>fetch('{to}').catch(() => {{}})</script><a id='go' href='{to}'>go</a>{nav}"
                "</body></html>".encode(),
            )
        elif path == "/hits":
            self.send(200, json.dumps(HITS).encode(), "application/json")
        elif path in ("/close-body", "/stall-mid-body"):
            self.cut_body(int(query.get("ms", ["0"])[0]), float(query.get("frac", ["0.5"])[0]), path == "/close-body")
        elif path == "/counted":
            COUNTED[query.get("id", [""])[0]] += 1
            time.sleep(int(query.get("ms", ["0"])[0]) / 1000)
            self.send(200, article(title="Counted page").encode())
        elif path == "/count":
            self.send(200, json.dumps(COUNTED[query.get("id", [""])[0]]).encode(), "application/json")
        elif path.startswith("/reading/"):
            from tests.support import reading_pages

            reading_pages.handle(self, path, query)
        elif path.startswith("/meta/"):
            from tests.support import meta_pages

            meta_pages.handle(self, path, query)
        elif path.startswith("/hostile/"):
            from tests.support import hostile_site

            hostile_site.handle(self, path, query)
        else:
            self.send(404, b"<html><body>not found</body></html>")

    def cut_body(self, ms: int, frac: float, close: bool) -> None:
        """A 200 whose body stops at `frac` after `ms` ms: the socket closed, or silent until the client leaves."""
        body = ARTICLE.format(title="Cut page").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        time.sleep(ms / 1000)
        self.wfile.write(body[: int(len(body) * frac)])
        self.wfile.flush()
        self.close_connection = True
        if close:
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.connection.settimeout(300)
        with contextlib.suppress(OSError):
            while self.connection.recv(65536):  # until the client hangs up (or the timeout)
                pass


def serve(server: ThreadingHTTPServer) -> int:
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def tls_server(workdir: str) -> ThreadingHTTPServer:
    """The same pages over HTTPS with a self-signed certificate (a TLS error for clients)."""
    cert, key = f"{workdir}/cert.pem", f"{workdir}/key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def main() -> None:
    port = serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    with tempfile.TemporaryDirectory() as workdir:
        tls_port = serve(tls_server(workdir))
        print(f"PORT {port} {tls_port}", flush=True)
        sys.stdin.read()  # until the test run closes our stdin


if __name__ == "__main__":
    main()
