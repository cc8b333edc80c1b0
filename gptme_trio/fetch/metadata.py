"""What a page says about itself: title, type, description, author, date, language, canonical URL, site.

    read_meta(html, url) -> PageMeta     never raises; a field is None when the page does not say

One cheap pass (bench/results/metadata.md: well under a millisecond a page), not trafilatura's metadata
extraction (~14 ms a page median, 80 ms p95 on wcxb-dev): only the part of the page before </head> is
parsed (lxml: <html lang>, <meta>, <link>, <title>), and the JSON-LD blocks anywhere in it are found by
a linear scan. Sources, first found wins:

    page_type      JSON-LD @type of the page's own nodes (top level, @graph, mainEntity), else og:type,
                   mapped onto the seven kinds of pages we read (fetch/kinds.py: article, forum, product,
                   collection, listing, documentation, service). What the page declares, never a guess.
    description    <meta name=description>, og:description, twitter:description, JSON-LD description
    author         JSON-LD author (names joined by ", "), <meta name=author>, article:author, citation_author,
                   dc.creator, parsely-author; a URL or an @handle is not an author
    published      JSON-LD datePublished, article:published_time and the usual date <meta>s; ISO 8601
                   (a date, or a date and time as the page gave it)
    language       <html lang>, Content-Language <meta>, og:locale, JSON-LD inLanguage; a BCP 47 tag
    canonical_url  <link rel=canonical>, og:url: absolute, http(s)
    site_name      og:site_name, JSON-LD WebSite/publisher name, application-name
    title          og:title, JSON-LD headline, <title> (for the Markdown title line; -f json's `title`
                   stays the document's <title>)

Hostile pages: every value is cleaned (control and bidi characters dropped, whitespace collapsed)
and cut (_LIMITS); the head parsed is at most _HEAD_MAX characters; JSON-LD is read within the
bounds of fetch/jsonld.py, and a broken block is skipped.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.etree

from gptme_trio.fetch import jsonld, kinds
from gptme_trio.fetch.byline import iso_date, shown
from gptme_trio.fetch.extract import HEAD_END

_HEAD_MAX = 1_000_000
_BODY_SCAN = 2_000_000  # the body's microdata and <time>s are looked for in this many characters
_LIMITS = {"description": 1000, "title": 500, "url": 2000}
_DEFAULT_LIMIT = 200
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")

_DATE_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "citation_publication_date",
    "citation_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "dcterms.created",
    "date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "published_time",
    "article.published",
    "sailthru.date",
    "parsely-pub-date",
)
# In the body: microdata and the markup blog engines use for a post's date and author. Found by
# str.find of a literal (regular expressions with alternatives are ~20 times slower on a large page),
# then read in the tag around it.
_ITEMPROP_BEFORE = re.compile(r"""itemprop=["']?$""", re.IGNORECASE)
_AUTHOR_BEFORE = re.compile(r"""(?:rel|itemprop)=["']?$""", re.IGNORECASE)
_DATE_ATTR = re.compile(r"""\b(?:content|datetime)\s*=\s*["']([^"'<>]{6,40})["']""", re.IGNORECASE)
_PUBLISHED_TIME = re.compile(r"""published|entry-date|post-date|datePublished""", re.IGNORECASE)
_TEXT_AFTER = re.compile(r"\s*([^<]{2,100}?)\s*<")
_ANCHORS = 200  # occurrences of a literal looked at, at most
_AUTHOR_META = ("author", "article:author", "citation_author", "dc.creator", "dcterms.creator", "parsely-author")


@dataclass(frozen=True)
class PageMeta:
    page_type: str | None = None
    description: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    title: str | None = None

    def as_json(self) -> dict[str, str | None]:
        """-f json's fields (the title is not one: the record's `title` is the document's)."""
        found = asdict(self)
        del found["title"]
        return found


NO_META = PageMeta()


def read_meta(html: str, url: str = "") -> PageMeta:
    """The page's metadata; NO_META's Nones for what it does not say (or cannot be read)."""
    try:
        return _read(html, url)
    except (ValueError, TypeError, lxml.etree.LxmlError, RecursionError):  # a page we cannot parse at all
        return NO_META


def _read(html: str, url: str) -> PageMeta:
    head, metas, links, title, base = _head_tags(html)
    lang = (head.get("lang") or head.get("{http://www.w3.org/XML/1998/namespace}lang")) if head is not None else None
    page = _absolute(base, url) or url
    nodes = list(jsonld.nodes(html))
    main = _main_node(nodes)

    def meta(*keys: str) -> str | None:
        return next((v for k in keys for v in metas.get(k, ()) if _clean(v)), None)

    author = _clean(_ld_author(nodes) or _author_meta(metas) or _marked_author(html))
    published = (
        iso_date(jsonld.text(main, "datePublished"))
        or next((d for n in nodes if (d := iso_date(jsonld.text(n, "datePublished")))), None)
        or next((d for k in _DATE_META for v in metas.get(k, ()) if (d := iso_date(v))), None)
        or _marked_date(html)
    )
    if author is None or published is None:  # declared nowhere: what the byline under the <h1> shows
        shown_author, shown_date = shown(html)
        author, published = author or _clean(shown_author), published or shown_date
    return PageMeta(
        page_type=kinds.kind_of(nodes, meta("og:type")),
        description=_clean(
            meta("description", "og:description", "twitter:description") or jsonld.text(main, "description"),
            "description",
        ),
        author=author,
        published=published,
        language=_language(lang, meta("content-language", "og:locale", "language"), jsonld.text(main, "inLanguage")),
        canonical_url=_absolute(links.get("canonical"), page) or _absolute(meta("og:url"), page),
        site_name=_clean(
            meta("og:site_name") or _ld_site(nodes) or meta("application-name", "apple-mobile-web-app-title")
        ),
        title=_clean(meta("og:title", "twitter:title") or jsonld.text(main, "headline") or title, "title"),
    )


def kind_and_address(html: str) -> tuple[str | None, str | None, bool]:
    """What fetch/route.py asks before any extractor runs: read_meta(html)'s page_type (from the JSON-LD
    and og:type), the page's own address (<link rel=canonical>, else og:url; absolute http(s) only), and
    whether the kind is more than a bare og:type: a JSON-LD node declares it, or the page declares a date
    of publication (JSON-LD datePublished, article:published_time). None (and False) for what the page
    does not declare, or when it cannot be read."""
    try:
        _, metas, links, _, _ = _head_tags(html)
        og_type = next(iter(metas.get("og:type", ())), None)
        og_url = next((found for v in metas.get("og:url", ()) if (found := _absolute(v, ""))), None)
        nodes = list(jsonld.nodes(html))
        declared = kinds.kind_of(nodes, None)  # by JSON-LD; else the og:type's, which is weak on its own
        kind = declared or kinds.kind_of([], og_type)
        dated = "article:published_time" in metas or any("datePublished" in n for n in nodes)
        address = _absolute(links.get("canonical"), "") or og_url
        return kind, address, declared is not None or (kind is not None and dated)
    except (ValueError, TypeError, lxml.etree.LxmlError, RecursionError):
        return None, None, False


def _head_tags(
    html: str,
) -> tuple[lxml.etree._Element | None, dict[str, list[str]], dict[str, str], str | None, str | None]:
    """The page's head parsed (its first _HEAD_MAX characters at most), its <meta> contents by key, the
    href of the first <link> of each rel, the text of its first <title> and its <base href>."""
    end = HEAD_END.search(html, 0, _HEAD_MAX)
    head = _parse_head(html[: end.start() if end else _HEAD_MAX].replace("\x00", ""))
    metas: dict[str, list[str]] = {}
    links: dict[str, str] = {}
    title = base = None
    for el in head.iter("meta", "link", "title", "base") if head is not None else ():
        if el.tag == "meta":
            key, content = _key(el), el.get("content")
            if key and content:
                metas.setdefault(key, []).append(content)
        elif el.tag == "link":
            for rel in (el.get("rel") or "").lower().split():
                links.setdefault(rel, el.get("href") or "")
        elif el.tag == "title" and title is None:
            title = "".join(t for t in el.itertext() if isinstance(t, str))
        elif el.tag == "base" and base is None:
            base = el.get("href")
    return head, metas, links, title, base


def _key(meta: lxml.etree._Element) -> str:
    return (
        (meta.get("property") or meta.get("name") or meta.get("itemprop") or meta.get("http-equiv") or "")
        .lower()
        .strip()
    )


def _parse_head(head: str) -> lxml.etree._Element | None:
    if not head.strip():
        return None
    parser = lxml.etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        return lxml.etree.fromstring(head, parser)
    except ValueError:  # a str with an XML encoding declaration
        return lxml.etree.fromstring(head.encode("utf-8", "replace"), lxml.etree.HTMLParser(encoding="utf-8"))


def _clean(value: object, field: str = "") -> str | None:
    """`value` as one line of visible text, cut to its field's limit; None when nothing is left."""
    if not isinstance(value, str):
        return None
    text = _SPACE.sub(" ", _INVISIBLE.sub(" ", value)).strip(" ,;|-")
    limit = _LIMITS.get(field, _DEFAULT_LIMIT)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def _absolute(href: object, base: str) -> str | None:
    if not isinstance(href, str) or not (href := href.strip()) or len(href) > _LIMITS["url"]:
        return None
    try:
        found = urljoin(base, href) if base else href
    except ValueError:  # an invalid IPv6 literal and the like
        return None
    if not found.lower().startswith(("http://", "https://")) or _INVISIBLE.search(found) or " " in found:
        return None
    return found


# --- JSON-LD (fetch/jsonld.py reads it) ---------------------------------------------------------


def _main_node(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The node that describes the page's content: the first whose type we know, else the first."""
    return next((n for n in nodes if kinds.names_a_kind(n)), nodes[0] if nodes else None)


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str)), None)
    if not isinstance(value, str):
        return None
    name = _clean(htmllib.unescape(value))
    return name if name and _is_name(name) else None


def _is_name(text: str) -> bool:
    return not text.startswith(("http://", "https://", "@", "/")) and "://" not in text and len(text) <= 100


def _ld_author(nodes: list[dict[str, Any]]) -> str | None:
    for node in nodes:
        value = node.get("author") or node.get("creator")
        people = value if isinstance(value, list) else [value]
        names = list(dict.fromkeys(n for p in people[:20] if (n := _name(p))))
        if names:
            return ", ".join(names)
    return None


def _ld_site(nodes: list[dict[str, Any]]) -> str | None:
    site = next((_name(n) for n in nodes if "website" in jsonld.types(n) and _name(n)), None)
    return site or next((n for node in nodes if (n := _name(node.get("publisher"))) is not None), None)


# --- <meta> values -------------------------------------------------------------------------------


def _tag_around(html: str, start: int, end: int) -> tuple[str, int] | None:
    """The tag that contains html[start:end] (at most 500 characters either side), and where it ends."""
    opened = html.rfind("<", max(0, start - 500), start + 1)
    closed = html.find(">", end, end + 500)
    return (html[opened : closed + 1], closed + 1) if opened >= 0 and closed >= 0 else None


def _found(html: str, needle: str) -> Iterator[int]:
    """Where `needle` is in the first _BODY_SCAN characters, at most _ANCHORS times."""
    position = html.find(needle, 0, _BODY_SCAN)
    for _ in range(_ANCHORS):
        if position < 0:
            return
        yield position
        position = html.find(needle, position + 1, _BODY_SCAN)


def _marked_date(html: str) -> str | None:
    """The first date a body marks as the publication's: itemprop=datePublished (or dateCreated), or
    else a <time> whose class says it is the post's date."""
    candidates = sorted(
        [
            p
            for n in ("datePublished", "dateCreated")
            for p in _found(html, n)
            if _ITEMPROP_BEFORE.search(html, p - 12, p)
        ]
    ) + [p for p in _found(html, "<time") if html[p + 5 : p + 6].isspace()]
    for position in candidates:
        found = _tag_around(html, position, position + 5)
        if found is None or (html.startswith("<time", position) and not _PUBLISHED_TIME.search(found[0])):
            continue
        value = _DATE_ATTR.search(found[0])
        if value and (date := iso_date(htmllib.unescape(value.group(1)))):
            return date
    return None


def _marked_author(html: str) -> str | None:
    """The text right after the first rel=author / itemprop=author tag that reads as a name."""
    for position in _found(html, "author"):
        if not _AUTHOR_BEFORE.search(html, max(0, position - 10), position):
            continue
        found = _tag_around(html, position, position + 6)
        text = _TEXT_AFTER.match(html, found[1], found[1] + 300) if found else None
        name = _clean(htmllib.unescape(text.group(1))) if text else None
        if name and _is_name(name):
            return name
    return None


def _author_meta(metas: dict[str, list[str]]) -> str | None:
    for key in _AUTHOR_META:
        names = list(dict.fromkeys(n for v in metas.get(key, ())[:20] if (n := _clean(v)) and _is_name(n)))
        if names:
            return ", ".join(names)
    return None


def _language(*candidates: str | None) -> str | None:
    for value in candidates:
        tag = (value or "").strip().replace("_", "-")
        if _LANGUAGE.fullmatch(tag) and len(tag) <= 35:
            return tag
    return None


_WORD = re.compile(r"\w+")
_TITLE_PARTS = re.compile(r"\s[|\u2013\u2014:\u00b7\u00bb/-]\s|\s*\|\s*")


def with_title(markdown: str, title: str | None) -> str:
    """`markdown` starting with `# title`, unless there is no title or the content starts with it:
    its first line has the title's words, or those of a part of it ("Headline | Site": "Headline"),
    or it is a heading of three words or more that the title contains or that contains the title."""
    title = _clean(title, "title")
    if not title:
        return markdown
    first = next((line for line in markdown.splitlines() if line.strip()), "")
    head = _WORD.findall(first.lstrip("#").lower())
    parts = [_WORD.findall(part.lower()) for part in [title, *_TITLE_PARTS.split(title)]]
    if head and head in parts:
        return markdown
    words = parts[0]
    if first.startswith("#") and len(head) >= 3 and (_contains(head, words) or _contains(words, head)):
        return markdown
    return f"# {title}\n\n{markdown}"


def _contains(outer: list[str], inner: list[str]) -> bool:
    n = len(inner)
    return bool(n) and any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))
