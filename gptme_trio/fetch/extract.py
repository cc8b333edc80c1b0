"""Pure functions from bytes and HTML to content: no I/O, no async.

decode_html(body, content_type)      bytes -> str, honouring the charset
select(html, css)                    the first element matching a CSS selector
parse_page(html)                     the whole page as lxml elements (for fetch/links.py)
to_markdown / to_text(html, ...)     main content (extractor="auto": trafilatura or the block
                                     classifier of fetch/classify.py, whichever fetch/route.py
                                     picks for the page; "trafilatura" or "blocks": that one), or
                                     the whole page
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
from typing import TYPE_CHECKING, Any, Literal

import lxml.etree
import lxml.html

from gptme_trio.core.errors import ContentError, UsageError

if TYPE_CHECKING:
    from gptme_trio.fetch.classify import Model
    from gptme_trio.fetch.options import Extractor

_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset=[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Main-content extraction (trafilatura) takes time quadratic in the page's size: ~8 s for 8 MB of
# HTML, minutes for 50 MB. Larger pages are converted whole, which takes linear time (~1 s for 50 MB).
MAIN_CONTENT_MAX_CHARS = 8_000_000
# libxml2 (lxml, trafilatura) stops parsing at an element nested 256 deep: everything after it is
# lost. Deeper elements are flattened to this depth first (Chromium's parser stops nesting at 512).
_MAX_DEPTH = 200
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def is_pdf(content_type: str, url: str = "") -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() == "application/pdf"
    return url.lower().split("?")[0].endswith(".pdf")


def is_html_or_text(content_type: str) -> bool:
    mime = content_type.split(";")[0].strip().lower()
    return not mime or mime.startswith("text/") or "html" in mime or "xml" in mime or "json" in mime


def charset_of(body: bytes, content_type: str = "") -> str:
    """The charset a browser would use: byte order mark, header, <meta>, UTF-8 if valid, else cp1252."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    header, meta = _HEADER_CHARSET.search(content_type or ""), _META_CHARSET.search(body[:4096])
    for label in (header.group(1) if header else None, meta.group(1).decode() if meta else None):
        if label:
            try:
                return io.TextIOWrapper(io.BytesIO(), encoding=label).encoding
            except LookupError:
                continue
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def decode_html(body: bytes, content_type: str = "") -> str:
    return body.decode(charset_of(body, content_type), errors="replace")


def load_libraries(*, model: bool = False) -> None:
    """Import the extraction libraries now rather than at the first page (~150 ms); with `model`,
    also read and compile the block classifier's model (~100 ms more), which the pages trafilatura
    extracts (articles) never need, but every other page does."""
    import html_to_markdown  # noqa: F401
    import trafilatura  # noqa: F401

    from gptme_trio.fetch import route  # noqa: F401 - and the page's metadata, read to route it

    if model:
        from gptme_trio.fetch import classify

        classify.shipped()


def validate_selector(css: str) -> None:
    """Raise UsageError unless `css` is a CSS selector we can apply."""
    from cssselect import SelectorError

    try:
        lxml.html.fromstring("<p></p>").cssselect(css)
    except SelectorError as exc:
        raise UsageError(f"--selector: not a valid CSS selector: {css!r} ({exc})") from exc


_ENGINE_PREFIX = re.compile(r"^\s*([a-zA-Z_-]+=|//|\.\.|[\"'])")  # text=, xpath=, nth=, //x, "text"


def validate_wait_for(selector: str) -> None:
    """Raise UsageError when --wait-for cannot be a Playwright selector: each `>>` part is either
    an engine-prefixed one (text=, xpath=, css=...: Playwright's to judge) or CSS that must parse."""
    from cssselect import SelectorError, parse

    for part in selector.split(">>"):
        css = part.strip().removeprefix("css=")
        if not css:
            raise UsageError(f"--wait-for {selector!r}: an empty selector")
        if _ENGINE_PREFIX.match(css) and not part.strip().startswith("css="):
            continue
        try:
            parse(css)
        except SelectorError as exc:
            raise UsageError(f"--wait-for {selector!r}: not a valid selector ({exc})") from exc


def select(html: str, css: str) -> str | None:
    """The outer HTML of the first element matching `css`, or None."""
    root = _parse(html)
    if root is None:
        return None
    found = root.cssselect(css)
    return lxml.html.tostring(found[0], encoding="unicode") if found else None


HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)  # where a page's head ends (metadata.py too)


def title_of(html: str) -> str:
    """The text of the document's first <title>. The head alone is parsed (a tenth of the page or less);
    the whole page only when the head has none (a <title> in the body counts, as in a browser)."""
    end = HEAD_END.search(html)
    for part in ([html[: end.start()]] if end else []) + [html]:
        root = _parse(part)
        node = root.find(".//title") if root is not None else None
        if node is not None:
            return (node.text_content() or "").strip()
    return ""


def to_markdown(
    html: str, *, url: str = "", main: bool = True, extractor: Extractor = "auto", model: Model | None = None
) -> str:
    """Markdown of the main content (or of everything when main=False, or a page that is too large),
    chosen by `extractor`; `model`: the block classifier blocks uses (default: fetch/model.json)."""
    return _extract(_without_nul(html), url, "markdown", main=main, extractor=extractor, model=model)


def to_text(
    html: str, *, url: str = "", main: bool = True, extractor: Extractor = "auto", model: Model | None = None
) -> str:
    """Plain text of the main content (or of everything when main=False, or a page that is too large)."""
    return _extract(_without_nul(html), url, "plain", main=main, extractor=extractor, model=model)


def _extract(
    html: str,
    url: str,
    output_format: Literal["markdown", "plain"],
    *,
    main: bool,
    extractor: Extractor,
    model: Model | None,
) -> str:
    root = tree = None
    article = False  # auto, on a page that looks like an article: trafilatura, checked if short
    auto = extractor == "auto"
    if main and auto and len(html) <= MAIN_CONTENT_MAX_CHARS:
        from gptme_trio.fetch import route

        try:
            article = route.looks_like_article(html, url)  # before any parse: the head, JSON-LD and URL
        except Exception as exc:  # noqa: BLE001 - a bug on one page is that page's error
            raise ContentError(f"cannot extract the main content ({type(exc).__name__}: {exc})", url=url) from exc
        extractor = "trafilatura" if article else "blocks"
    if main and extractor == "blocks" and len(html) <= MAIN_CONTENT_MAX_CHARS:
        html, root = _parse_shallow(html)  # one parse: the depth check and the classifier's tree
    elif main and len(html) <= MAIN_CONTENT_MAX_CHARS:
        html, tree = _parse_for_trafilatura(html)  # one parse: the depth check and trafilatura's tree
    else:
        html = _shallow(html)
    if main and len(html) <= MAIN_CONTENT_MAX_CHARS:
        found = _main_content(html, url, output_format, extractor, model, root, tree, article=article, auto=auto)
        if found:
            return found
    return _convert(html, url, output_format)


def parse_for_blocks(html: str) -> lxml.etree._Element | None:
    """`html` parsed as the block classifier reads it (plain lxml elements: faster than lxml.html's)."""
    return _parse_for_blocks(html)[0]


def _parse_for_blocks(html: str) -> tuple[lxml.etree._Element | None, bool]:
    """parse_for_blocks, and whether libxml2 stopped at an element nested too deep (see _MAX_DEPTH)."""
    if not html.strip():
        return None, False
    parser = lxml.etree.HTMLParser(remove_comments=True, remove_pis=True)
    try:
        root = lxml.etree.fromstring(html, parser)
    except ValueError:  # a str with an XML encoding declaration (never flattened: as _shallow)
        return lxml.etree.fromstring(html.encode("utf-8"), lxml.etree.HTMLParser(encoding="utf-8")), False
    except lxml.etree.ParserError:
        return None, False
    return root, _too_deep(parser)


def _parse_shallow(html: str) -> tuple[str, lxml.etree._Element | None]:
    """`html` flattened as _shallow does, and parsed for the classifier: one parse for most pages."""
    root, deep = _parse_for_blocks(html)
    if not deep:
        return html, root
    html = _flatten(html, _MAX_DEPTH)
    return html, parse_for_blocks(html)


def _parse_for_trafilatura(html: str) -> tuple[str, Any]:
    """`html` flattened as _shallow does, and parsed by trafilatura's own loader (its parser, its repairs)
    for its extraction: one parse instead of two (~1.5 ms/page). None for the tree: trafilatura parses."""
    try:
        from trafilatura import load_html
        from trafilatura.utils import HTML_PARSER

        tree = load_html(html)
        deep = _too_deep(HTML_PARSER)  # the loader's last parse: its error log is this page's
    except Exception:  # noqa: BLE001 - a foreign loader on arbitrary input: the string path decides
        return _shallow(html), None
    return (_flatten(html, _MAX_DEPTH), None) if deep else (html, tree)


def parse_page(html: str) -> lxml.etree._Element | None:
    """`html` parsed whole, flattened first if it nests too deep for libxml2 (fetch/links.py reads it)."""
    return parse_for_blocks(_shallow(_without_nul(html)))


def _main_content(
    html: str,
    url: str,
    output_format: Literal["markdown", "plain"],
    extractor: Extractor,
    model: Model | None,
    root: lxml.etree._Element | None = None,
    tree: Any = None,
    *,
    article: bool = False,
    auto: bool = False,
) -> str | None:
    """trafilatura's choice; with extractor="blocks" the classifier's blocks first; article=True (auto
    on an article): trafilatura's, or the classifier's when trafilatura's is short and the classifier
    adds text to it; auto on any other page with little text: the clearly longer of the two (route.py).
    Whatever these libraries raise on a page is that page's ContentError (the URL's error), never the
    end of a run."""
    fmt: Literal["markdown", "txt"] = "markdown" if output_format == "markdown" else "txt"
    try:
        if extractor != "blocks":
            page = tree if tree is not None else html  # its own parse of `html` (it copies a tree it is given)
            found = _trafilatura(page, url, fmt)
            return _unless_short(found, html, url, output_format, model) if article else found
        from gptme_trio.fetch import classify, route

        root = root if root is not None else parse_for_blocks(html)
        small = auto and root is not None and route.is_small(root)  # before main_html prunes the tree
        chosen = classify.main_html(root, model or classify.shipped()) if root is not None else None
        found = _convert(chosen, url, output_format) if chosen is not None else ""
        if small:
            return route.longer(found, _trafilatura(html, url, fmt))
        return found if found.strip() else _trafilatura(html, url, fmt)
    except ContentError:
        raise
    except Exception as exc:  # noqa: BLE001 - the edge of three foreign libraries, on arbitrary input
        raise ContentError(f"cannot extract the main content ({type(exc).__name__}: {exc})", url=url) from exc


def _unless_short(
    found: str | None, html: str, url: str, output_format: Literal["markdown", "plain"], model: Model | None
) -> str | None:
    """trafilatura's text of an article (`found`), or the classifier's when `found` is short and the
    classifier's Markdown adds text to it (fetch/route.py)."""
    from gptme_trio.fetch import classify, route

    if not route.is_short(found):
        return found
    root = parse_for_blocks(html)
    chosen = classify.main_html(root, model or classify.shipped()) if root is not None else None
    blocks_md = _convert(chosen, url, "markdown") if chosen is not None else ""
    if chosen is None or not route.adds_content(found, blocks_md):
        return found
    return blocks_md if output_format == "markdown" else _convert(chosen, url, output_format)


def _without_nul(html: str) -> str:
    """A browser drops NUL characters from a document; the converter refuses text full of them."""
    return html.replace("\x00", "") if "\x00" in html else html


def _trafilatura(html: Any, url: str, output_format: Literal["markdown", "txt"]) -> str | None:
    """trafilatura's text of `html` (a string, or a tree of its loader's, changed in place). Markdown
    keeps links: made absolute here (links.absolutize_tree), so trafilatura is not given the URL."""
    import trafilatura

    if output_format == "markdown" and url and (tree := trafilatura.load_html(html)) is not None:
        from gptme_trio.fetch import links

        links.absolutize_tree(tree, url)
        html, url = tree, ""
    found = trafilatura.extract(
        html,
        url=url or None,
        output_format=output_format,
        include_comments=False,
        include_tables=True,
        include_links=output_format == "markdown",
        favor_recall=True,
        # Skip trafilatura's comparison with its own readability/jusText fallbacks: it
        # sometimes swaps in a longer text with the site's sidebar. F1 0.954 -> 0.959 on
        # the 181-page benchmark, and faster (bench/results/extraction.md).
        fast=True,
    )
    return found.strip() + "\n" if found and found.strip() else None


def _convert(html: str, url: str, output_format: Literal["markdown", "plain"]) -> str:
    import html_to_markdown
    from html_to_markdown import ConversionOptions, PreprocessingOptions

    options = ConversionOptions(
        output_format=output_format,
        extract_metadata=False,
        base_url=url if url.startswith(("http://", "https://")) else None,
        preprocessing=PreprocessingOptions(remove_navigation=False, remove_forms=False),  # --full: everything
    )
    try:
        converted = html_to_markdown.convert(html, options).content or ""
    except html_to_markdown.ConversionError as exc:  # its every error (binary input, a panic, ...)
        raise ContentError(f"cannot convert the page ({exc})", url=url) from exc
    return converted.strip() + "\n"


def _parse(html: str, *, shallow: bool = True) -> lxml.html.HtmlElement | None:
    if not html.strip():
        return None
    parser = lxml.html.HTMLParser()
    try:
        root = lxml.html.document_fromstring(html, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
    if shallow and _too_deep(parser):
        return _parse(_flatten(html, _MAX_DEPTH), shallow=False)
    return root


def _shallow(html: str) -> str:
    """`html`, flattened if it nests too deep for libxml2 (see _MAX_DEPTH)."""
    parser = lxml.html.HTMLParser()
    with contextlib.suppress(lxml.etree.ParserError, ValueError):
        lxml.html.document_fromstring(html, parser=parser)
    return _flatten(html, _MAX_DEPTH) if _too_deep(parser) else html


def _too_deep(parser: lxml.etree.HTMLParser) -> bool:
    return any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log)


def _flatten(html: str, depth: int) -> str:
    """`html` without the tags of elements nested deeper than `depth` (their text stays, spaced)."""
    parts, level, start = [], 0, 0
    for tag in _TAG.finditer(html):
        closing, name = tag.group(1), tag.group(2).lower()
        if name in _VOID or tag.group(0).endswith("/>"):
            continue
        level = max(level - 1, 0) if closing else level + 1
        if level + (1 if closing else 0) > depth:
            text = html[start : tag.start()]
            parts.append(text + " " if text and not text[-1].isspace() else text)
            start = tag.end()
    parts.append(html[start:])
    return "".join(parts)
