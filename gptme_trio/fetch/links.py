"""A page's outbound links: absolute, deduplicated, bounded, and whether each is in the content returned.

    base_url(html, url)              the URL relative links resolve against: <base href>, else the page's
    absolutize(html, base)           every <a>/<area> href made absolute before extraction, so the
                                     Markdown converters keep the links right (trafilatura resolves a
                                     relative link against the site's root, and neither honours <base>)
    absolutize_tree(root, base)      the rest (root-relative, fragments) in trafilatura's parsed tree
    collect(html, url, content)      the Links, in document order
    section(links, fmt)              a numbered "Links" section for -f markdown / text

What is kept: http(s), mailto: and tel: links (and file: ones on a local file). javascript:, data:,
blob: and the like, links to a part of the same page (#section), empty hrefs and URLs over MAX_URL
characters are dropped. One
entry per URL (its fragment included): its text is the first non-empty one, `main` is True when the
URL is among the links of the content the record returns (the main content; the --selector
element; the whole page with --full). At most MAX_LINKS per page, those in the content first, then
in document order; a text is cut at MAX_TEXT characters.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import lxml.etree

MAX_LINKS = 1000
MAX_TEXT = 200
MAX_URL = 2000
_BASE = re.compile(r"""<base\b[^>]{0,500}?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_HREF = re.compile(r"""(<(?:a|area)\s[^>]{0,2000}?(?<=\s)href\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
# An href that is neither absolute (a scheme), root-relative ("/x", "//host/x") nor a fragment ("#x").
_RELATIVE = re.compile(
    r"""(<(?:a|area)\s[^>]{0,2000}?(?<=\s)href\s*=\s*)"""
    r"""(?:"(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^"]*)"|'(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^']*)'"""
    r"""|(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#|["'])([^\s"'>]+))""",
    re.I,
)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_NEWLINES = re.compile(r"[\t\r\n]")
_BODY = re.compile(r"<body[\s>]", re.I)
_HEAD_MAX = 1_000_000
_MD_TARGET = re.compile(r"\]\(<([^>\n]*)>|\]\(([^)\s]*(?:\([^)\s]*\)[^)\s]*)*)")
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")
_SCHEMES = ("http://", "https://", "mailto:", "tel:")


@dataclass(frozen=True)
class Link:
    text: str
    url: str
    main: bool  # in the content the record returns

    def as_json(self) -> dict[str, str | bool]:
        return {"text": self.text, "url": self.url, "main": self.main}


def base_url(html: str, url: str) -> str:
    """What relative links resolve against: the first <base href> (made absolute), else `url`."""
    body = _BODY.search(html, 0, _HEAD_MAX)
    found = _BASE.search(html, 0, body.start() if body else _HEAD_MAX)
    if found:
        href = htmllib.unescape(next(g for g in found.groups() if g is not None)).strip()
        joined = _join(url, href)
        if joined and joined.lower().startswith(("http://", "https://", "file:")):
            return joined
    return url


def absolutize(html: str, base: str, url: str | None = None) -> str:
    """`html` with its links' hrefs made absolute against `base` (a link that cannot be, as it is).
    With `url` (the page's, when it equals `base`: no <base>) a root-relative href ("/x") is left
    alone: the converters resolve those right, and most links are such (half the cost)."""
    if not base.lower().startswith(("http://", "https://", "file:")):
        return html
    pattern = _RELATIVE if url == base else _HREF
    joined: dict[str, str] = {}

    def fix(match: re.Match[str]) -> str:
        raw = next(g for g in match.groups()[1:] if g is not None)
        if raw not in joined:
            target = _join(base, htmllib.unescape(raw).strip())
            ok = target and not target.lower().startswith("javascript:")
            joined[raw] = f'"{htmllib.escape(target)}"' if ok and target else ""
        return match.group(1) + joined[raw] if joined[raw] else match.group(0)

    return pattern.sub(fix, html)


def absolutize_tree(root: lxml.etree._Element, base: str) -> None:
    """Every <a> href of the parsed page `root` that has no scheme (root-relative, protocol-relative, a
    fragment) made absolute against `base`, in place. For trafilatura, which otherwise resolves each
    link against the site's root ("#x" became https://site#x, not the page's #x) and runs every link
    of the page, absolute ones too, through courlan (~2 ms an article page)."""
    if not base.lower().startswith(("http://", "https://", "file:")):
        return
    for el in root.iter("a"):
        href = el.get("href")
        if not href:
            continue
        clean = _NEWLINES.sub("", href.strip())  # as a browser reads an href (and urlsplit)
        target = clean if _SCHEME.match(clean) else _join(base, clean)
        if target and target != href:
            el.set("href", target)


def collect(root: lxml.etree._Element | None, page_url: str, base: str, content: str) -> list[Link]:
    """The links of the parsed page `root`, `main` when their URL is a link target in `content`."""
    if root is None:
        return []
    in_content = content_targets(content, base)
    page = page_url.split("#", 1)[0]
    schemes = (*_SCHEMES, "file:") if page.lower().startswith("file:") else _SCHEMES  # a local page's own links
    found: dict[str, list[str]] = {}  # url -> [text]
    for el in root.iter("a", "area"):
        href = el.get("href")
        url = _join(base, href.strip()) if href is not None else None
        if url is None or not url.lower().startswith(schemes) or len(url) > MAX_URL:
            continue
        if "#" in url and url.split("#", 1)[0] == page:
            continue  # a part of this page
        text = _text(el)
        if url not in found:
            found[url] = [text]
        elif not found[url][0] and text:
            found[url][0] = text
    main = [u for u in found if _key(u) in in_content]
    kept = set(main[:MAX_LINKS])
    kept.update([u for u in found if u not in kept][: MAX_LINKS - len(kept)])
    return [Link(found[u][0], u, _key(u) in in_content) for u in found if u in kept]


def content_targets(content: str, base: str) -> set[str]:
    """The link targets of Markdown `content`, as _key compares them."""
    targets = set()
    for match in _MD_TARGET.finditer(content):
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        joined = _join(base, raw.strip()) if raw else None
        if joined:
            targets.add(_key(joined))
    return targets


def section(links: list[Link], fmt: Literal["markdown", "text"]) -> str:
    """A numbered list of `links` to put after the content: those in it first, then the others under
    "Elsewhere on the page"."""
    main, other = [link for link in links if link.main], [link for link in links if not link.main]
    if not links:
        return ""
    lines = ["## Links" if fmt == "markdown" else "Links:", ""]
    for n, link in enumerate(main + other, 1):
        if n == len(main) + 1:
            elsewhere = "### Elsewhere on the page" if fmt == "markdown" else "Elsewhere on the page:"
            lines += [*([""] if main else []), elsewhere, ""]
        text = link.text or link.url
        lines.append(f"{n}. [{_md_text(text)}](<{link.url}>)" if fmt == "markdown" else f"{n}. {text} <{link.url}>")
    return "\n".join(lines) + "\n"


def _md_text(text: str) -> str:
    return re.sub(r"([\\\[\]])", r"\\\1", text)


def _text(el: lxml.etree._Element) -> str:
    words = _SPACE.sub(" ", _INVISIBLE.sub(" ", "".join(t for t in el.itertext() if isinstance(t, str)))).strip()
    if not words:
        alt = next((img.get("alt") for img in el.iter("img") if img.get("alt")), None)
        words = _SPACE.sub(" ", alt or el.get("aria-label") or el.get("title") or "").strip()
        words = _INVISIBLE.sub("", words)
    return words if len(words) <= MAX_TEXT else words[: MAX_TEXT - 1].rstrip() + "…"


def _join(base: str, href: str) -> str | None:
    if not href or len(href) > MAX_URL or _INVISIBLE.search(href):
        return None
    try:
        joined = urljoin(base, href) if base else href
        urlsplit(joined)  # an invalid IPv6 literal raises here
    except ValueError:
        return None
    return joined


def _key(url: str) -> str:
    """How two spellings of one URL compare: the scheme and host lower-case, no trailing slash."""
    parts = urlsplit(url)
    path, query, fragment = (unquote(p) for p in (parts.path.rstrip("/"), parts.query, parts.fragment))
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}?{query}#{fragment}"
