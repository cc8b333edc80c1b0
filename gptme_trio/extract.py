"""Pure functions from bytes and HTML to content: no I/O, no async.

decode_html(body, content_type)      bytes -> str, honouring the charset
select(html, css)                    the first element matching a CSS selector
to_markdown / to_text(html, ...)     main content (trafilatura), or the whole page
pdf_to_text(body)                    text of a PDF
"""

from __future__ import annotations

import io
import re

import lxml.etree
import lxml.html

from .errors import ContentError, UsageError

_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset=[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)


def is_pdf(content_type: str, url: str = "") -> bool:
    if content_type:
        return content_type.split(";")[0].strip().lower() == "application/pdf"
    return url.lower().split("?")[0].endswith(".pdf")


def is_html_or_text(content_type: str) -> bool:
    mime = content_type.split(";")[0].strip().lower()
    return not mime or mime.startswith("text/") or "html" in mime or "xml" in mime or "json" in mime


def charset_of(body: bytes, content_type: str = "") -> str:
    """The charset a browser would use: header, then <meta>, then UTF-8 if valid, else cp1252."""
    for match in (_HEADER_CHARSET.search(content_type or ""), _META_CHARSET.search(body[:4096])):
        if match:
            name = match.group(1).decode() if isinstance(match.group(1), bytes) else match.group(1)
            try:
                return io.TextIOWrapper(io.BytesIO(), encoding=name).encoding
            except LookupError:
                continue
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def decode_html(body: bytes, content_type: str = "") -> str:
    return body.decode(charset_of(body, content_type), errors="replace")


def load_libraries() -> None:
    """Import the extraction libraries now rather than at the first page (~150 ms)."""
    import html_to_markdown  # noqa: F401
    import trafilatura  # noqa: F401


def validate_selector(css: str) -> None:
    """Raise UsageError unless `css` is a CSS selector we can apply."""
    from cssselect import SelectorError

    try:
        lxml.html.fromstring("<p></p>").cssselect(css)
    except SelectorError as exc:
        raise UsageError(f"--selector: not a valid CSS selector: {css!r} ({exc})") from exc


def select(html: str, css: str) -> str | None:
    """The outer HTML of the first element matching `css`, or None."""
    root = _parse(html)
    if root is None:
        return None
    found = root.cssselect(css)
    return lxml.html.tostring(found[0], encoding="unicode") if found else None


def title_of(html: str) -> str:
    root = _parse(html)
    node = root.find(".//title") if root is not None else None
    return (node.text_content() or "").strip() if node is not None else ""


def to_markdown(html: str, *, url: str = "", main: bool = True) -> str:
    """Markdown of the main content (or of everything when main=False)."""
    if main:
        found = _trafilatura(html, url, "markdown")
        if found:
            return found
    return _convert(html, url, "markdown")


def to_text(html: str, *, url: str = "", main: bool = True) -> str:
    """Plain text of the main content (or of everything when main=False)."""
    if main:
        found = _trafilatura(html, url, "txt")
        if found:
            return found
    return _convert(html, url, "plain")


def pdf_to_text(body: bytes, *, url: str = "") -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(body))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ContentError(f"not a readable PDF ({exc})", url=url) from exc
    return "\n\n".join(p for p in pages if p) + "\n"


def _trafilatura(html: str, url: str, output_format: str) -> str | None:
    import trafilatura

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


def _convert(html: str, url: str, output_format: str) -> str:
    import html_to_markdown
    from html_to_markdown import ConversionOptions, PreprocessingOptions

    options = ConversionOptions(
        output_format=output_format,
        extract_metadata=False,
        base_url=url if url.startswith(("http://", "https://")) else None,
        preprocessing=PreprocessingOptions(remove_navigation=False, remove_forms=False),  # --full: everything
    )
    return html_to_markdown.convert(html, options).content.strip() + "\n"


def _parse(html: str) -> lxml.html.HtmlElement | None:
    if not html.strip():
        return None
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None
