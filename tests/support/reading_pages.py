"""Pages for what the browser hands to extraction (issue 13: 1-3), served by pages.py under /reading/.

/reading/timer           text written by setTimeout 450 ms after load
/reading/fetch           text from a fetch() that /reading/data answers 800 ms after load
/reading/data?ms=N       JSON, after N ms
/reading/ticker          an article and a clock that changes every 20 ms, forever
/reading/ticker-40       the same clock, every 40 ms
/reading/shadow          text in open shadow roots: attachShadow, nested, slotted, declarative; one closed
/reading/frames?other=B  an article, a same-origin iframe, and one from origin B (another port)
/reading/inner           what those frames show
/reading/overlays        an article under a OneTrust banner, a newsletter modal covering the viewport
                         (aria-modal, a backdrop, the page made aria-hidden and unscrollable)
/reading/consent         a short page under a consent dialog of a framework nobody lists
/reading/app-shell       a whole article inside a fixed, viewport-sized container (must be kept)
/reading/moves-on?ms=N   a page that goes to /reading/slow-body?ms=N by script, right after its load
/reading/slow-body?ms=N  its heading at once, the rest of its article N ms later
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

PARAGRAPH = (
    "Reading a page well means taking what the reader sees. Rivers carry sediment to the delta, "
    "where it settles in layers that record every flood of the last thousand years. "
)


def _page(title: str, body: str, head: str = "") -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body>{body}</body></html>"
    ).encode()


def _article(title: str, extra: str = "") -> str:
    return f"<article><h1>{title}</h1><p>{PARAGRAPH * 3}</p><p>{PARAGRAPH * 2}</p>{extra}</article>"


TIMER = _page(
    "Timer page",
    _article("Timer page", '<div id="late"></div>')
    + """<script>window.addEventListener('load', () => setTimeout(() => {
document.getElementById('late').innerHTML = '<p>Written by a timer four hundred and fifty milliseconds after load.</p>';
}, 450));</script>""",
)
FETCH = _page(
    "Fetch page",
    _article("Fetch page", '<div id="late"></div>')
    + """<script>window.addEventListener('load', () => {
fetch('/reading/data?ms=800').then((r) => r.json()).then((data) => {
  const p = document.createElement('p'); p.textContent = data.text; document.getElementById('late').append(p);
});
const xhr = new XMLHttpRequest();
xhr.open('GET', '/reading/data?ms=1100&by=xhr');
xhr.onload = () => {
  const p = document.createElement('p'); p.textContent = JSON.parse(xhr.responseText).text;
  document.getElementById('late').append(p);
};
xhr.send();
});</script>""",
)
TICKER = _page(
    "Ticker page",
    _article("Ticker page", '<p>Clock: <span id="clock">0</span></p>')
    + """<script>let n = 0; setInterval(() => { document.getElementById('clock').textContent = String(++n); }, 20);
</script>""",
)
TICKER_40 = TICKER.replace(b"}, 20);", b"}, 40);")  # its first tick comes after a fast load's settle starts
SHADOW = _page(
    "Shadow page",
    """<h1>Shadow page</h1><p>Light text before the components, in the ordinary DOM of the page.</p>
<x-card><span slot="title">Slotted title from the light DOM</span>
<p>Slotted body paragraph of the card, default slot.</p></x-card>
<x-outer></x-outer>
<x-declared><template shadowrootmode="open">
<p>Declarative shadow paragraph, parsed from the HTML.</p></template></x-declared>
<x-closed></x-closed>
<p>Light text after the components.</p>
<script>
customElements.define('x-card', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'open'}).innerHTML = '<style>p{color:red}</style><h2><slot name="title">fallback</slot></h2>'
    + '<p class="shadow-first">Open shadow paragraph of the card, written by attachShadow.</p><slot></slot>'; } });
customElements.define('x-inner', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'open'}).innerHTML = '<p id="deep">Nested shadow paragraph, a root inside a root.</p>'; } });
customElements.define('x-outer', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'open'}).innerHTML =
    '<section><p>Outer shadow paragraph.</p><x-inner></x-inner></section>'; } });
customElements.define('x-closed', class extends HTMLElement { constructor() { super();
  this.attachShadow({mode: 'closed'}).innerHTML = '<p>Closed shadow paragraph nobody can read.</p>'; } });
</script>""",
)
INNER = _page(
    "Inner frame", "<main><h2>Inner frame</h2><p>Text of the framed document, served for an iframe.</p></main>"
)
CONSENT_TEXT = (
    "We value your privacy. We and our 842 partners use cookies and similar technologies to store and access "
    "information on your device, for personalised ads and content, ad and content measurement, audience "
    "research and services development. With your permission we may use precise geolocation data. "
)
PITCH = (
    "Get the best of our reporting in your inbox every morning, free, with the stories our editors choose. "
    "Enter your email address and press the button to join two million readers who start the day with us. "
)
OVERLAYS = _page(
    "Overlay page",
    f"""<div id="page" aria-hidden="true"><div class="story"><h1>Overlay page</h1><p>{PARAGRAPH * 2}</p></div></div>
<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk" style="position:fixed;bottom:0;left:0;right:0">
<h2>We value your privacy</h2><p>{CONSENT_TEXT * 3}</p><p>{CONSENT_TEXT * 3}</p>
<button>Accept All Cookies</button><button>Reject All</button></div></div>
<div class="nl-backdrop" style="position:fixed;inset:0;background:rgba(0,0,0,.6);z-index:9000"></div>
<div class="nl-box" role="dialog" aria-modal="true"
 style="position:fixed;top:10%;left:10%;width:80%;height:70%;z-index:9001">
<h2>Never miss a story</h2><p>{PITCH * 3}</p><p>{PITCH * 3}</p><p>{PITCH * 2}</p>
<input type="email" placeholder="you@example.com"><button>Get the newsletter</button></div>""",
    head="<style>html,body{overflow:hidden}</style>",
)
CONSENT = _page(
    "Consent page",
    f"""<main><h1>Consent page</h1><p>A short note that is the page's own content, and all of it.</p></main>
<div class="x91-wrap" style="position:fixed;left:0;right:0;bottom:0;z-index:50;background:#fff">
<h2>Your choices</h2><p>{CONSENT_TEXT * 4}</p><button>Accept</button><button>Manage options</button></div>""",
)
APP_SHELL = _page(
    "App shell page",
    f"""<div style="position:fixed;inset:0;overflow:auto"><header><a href="/">Home</a></header>
{_article("App shell page")}</div>""",
)


def frames_page(other: str) -> bytes:
    src = escape(other + "/reading/inner?cross=1", quote=True)
    return _page(
        "Frames page",
        _article(
            "Frames page",
            f'<iframe src="/reading/inner" title="same"></iframe><iframe src="{src}" title="cross"></iframe>',
        ),
    )


def _slow_body(handler: Any, ms: int) -> None:
    """A document that commits (its headers and heading sent) well before the rest of it arrives."""
    head, rest = _page("Slow body page", _article("Slow body page")).split(b"<article>")
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.end_headers()
    handler.wfile.write(head)
    handler.wfile.flush()
    time.sleep(ms / 1000)
    handler.wfile.write(b"<article>" + rest)
    handler.close_connection = True


def handle(handler: Any, path: str, query: dict[str, list[str]]) -> None:
    """Answer one /reading/ request on `handler` (pages.Handler)."""
    pages = {
        "/reading/timer": TIMER,
        "/reading/fetch": FETCH,
        "/reading/ticker": TICKER,
        "/reading/ticker-40": TICKER_40,
        "/reading/shadow": SHADOW,
        "/reading/inner": INNER,
        "/reading/overlays": OVERLAYS,
        "/reading/consent": CONSENT,
        "/reading/app-shell": APP_SHELL,
    }
    if path in pages:
        handler.send(200, pages[path])
    elif path == "/reading/frames":
        handler.send(200, frames_page(query.get("other", [""])[0]))
    elif path == "/reading/moves-on":
        to = f"/reading/slow-body?ms={int(query.get('ms', ['0'])[0])}"
        script = f"<script>addEventListener('load', () => setTimeout(() => {{ location.href = '{to}' }}, 0))</script>"
        handler.send(200, _page("Moving page", "<p>A page that moves on.</p>" + script))
    elif path == "/reading/slow-body":
        _slow_body(handler, int(query.get("ms", ["0"])[0]))
    elif path == "/reading/data":
        time.sleep(int(query.get("ms", ["0"])[0]) / 1000)
        text = "Fetched text, answered by the server eight hundred milliseconds after load."
        if query.get("by") == ["xhr"]:
            text = "Text an XMLHttpRequest brought, answered eleven hundred milliseconds after load."
        handler.send(200, json.dumps({"text": text}).encode(), "application/json")
    else:
        handler.send(404, b"no such page")
