"""Pages for metadata and links (issue 13: 5), served by pages.py under /meta/.

/meta/article    an article that says everything about itself: <html lang>, description, Open Graph,
                 a relative canonical link, JSON-LD (@graph: NewsArticle with two authors and a date,
                 WebSite), a broken JSON-LD block, <base href="/meta/docs/">; links in the article
                 (relative to the base, absolute, mailto:, a duplicate, a #fragment, javascript:) and
                 outside it (nav, footer)
/meta/plain      an article with a <title> and nothing else: every field null, no heading in its text
/meta/many       an article with 80 links in its paragraphs
/meta/hostile    metadata meant to break a run: a 300 kB description, control and bidi characters,
                 JSON-LD that is broken, 100,000 deep, or huge; 5,000 links, a 10,000-character URL
"""

from __future__ import annotations

from typing import Any

PARAGRAPH = (
    "Rivers carry sediment to the delta, where it settles in layers that record every flood of the "
    "last thousand years, and the channels move as the layers grow. "
)
NAV = '<nav><a href="/">Home</a> <a href="/about">About us</a> <a href="javascript:void(0)">Menu</a></nav>'
FOOTER = '<footer><a href="/about">About us</a> <a href="/privacy">Privacy</a></footer>'

ARTICLE = f"""<!doctype html><html lang="en-GB"><head><meta charset="utf-8">
<title>River deltas | The Sediment Times</title>
<base href="/meta/docs/">
<meta name="description" content="How rivers   build deltas, &amp; why they move.">
<meta property="og:site_name" content="The Sediment Times">
<meta property="og:title" content="River deltas">
<meta property="og:type" content="website">
<link rel="canonical" href="/meta/river-deltas">
<script type="application/ld+json">{{"@context": "https://schema.org", "@graph": [
 {{"@type": "NewsArticle", "headline": "River deltas",
   "author": [{{"@type": "Person", "name": "Ada Delta"}}, {{"@type": "Person", "name": "Bo River"}}],
   "datePublished": "2025-03-04T10:00:00Z"}},
 {{"@type": "WebSite", "name": "Sediment Times (site)"}}]}}</script>
<script type="application/ld+json">{{ "@type": "Product", "name": broken </script>
</head><body>{NAV}
<article><h1>River deltas</h1>
<p>{PARAGRAPH} See the <a href="sediment-guide">sediment guide</a> and the
<a href="https://example.org/floods?a=1&amp;b=2">flood archive</a> for how deltas grow.</p>
<p>{PARAGRAPH} Write to <a href="mailto:ada@example.org">the author</a>, read the
<a href="sediment-guide">guide</a> again, or jump to <a href="#end">the end</a>.</p>
<p id="end">{PARAGRAPH}</p>
</article>{FOOTER}</body></html>"""

PLAIN = f"""<!doctype html><html><head><meta charset="utf-8"><title>A plain page</title></head>
<body><div><p>{PARAGRAPH * 2}</p><p>{PARAGRAPH}</p></div></body></html>"""

REFERENCES = "".join(f'<p>{PARAGRAPH} See <a href="/meta/ref{i}">reference {i}</a>.</p>' for i in range(80))
MANY = f"""<!doctype html><html><head><meta charset="utf-8"><title>Many references</title></head><body>
<article><h1>Many references</h1>{REFERENCES}</article></body></html>"""


def hostile() -> str:
    links = "".join(f'<a href="/meta/n{i}">link {i}</a> ' for i in range(5000))
    return (
        '<!doctype html><html lang="x-\u202e\u0007bad lang"><head><meta charset="utf-8"><title>Hostile meta</title>'
        f'<meta name="description" content="{"huge " * 60_000}">'
        '<meta name="author" content="Eve\u0000\u001b[31m\u202eMallory\u0007">'
        '<meta property="og:site_name" content="\u0001\u0002\u0003">'
        '<link rel="canonical" href="javascript:alert(1)">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": </script>'
        f'<script type="application/ld+json">{"[" * 100_000}{"]" * 100_000}</script>'
        f'<script type="application/ld+json">{{"@type": "Article", "author": {{"name": "{"A" * 200_000}"}}}}</script>'
        "</head><body>"
        f'<article><h1>Hostile meta</h1><p>{PARAGRAPH * 3}</p><a href="/meta/{"x" * 10_000}">long</a></article>'
        f"<footer>{links}</footer></body></html>"
    )


def handle(handler: Any, path: str, query: dict[str, list[str]]) -> None:
    """Answer one /meta/ request on `handler` (pages.Handler)."""
    pages = {"/meta/article": ARTICLE, "/meta/plain": PLAIN, "/meta/many": MANY, "/meta/hostile": hostile()}
    if path in pages:
        handler.send(200, pages[path].encode())
    else:
        handler.send(404, b"<html><body>no such page</body></html>")
