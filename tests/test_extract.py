"""Pure extraction: HTML/bytes in, content out."""

import pytest

from gptme_trio.core.errors import ContentError, UsageError
from gptme_trio.fetch import extract, pdf

from .support.pages import ARTICLE, make_pdf

PAGE = ARTICLE.format(title="A title")


def test_main_content_drops_navigation_and_footer():
    markdown = extract.to_markdown(PAGE, url="http://127.0.0.1/x")
    assert "Structured concurrency means" in markdown
    assert "Contact" not in markdown and "copyright" not in markdown


def test_full_page_keeps_everything_and_resolves_links():
    markdown = extract.to_markdown(PAGE, url="http://127.0.0.1/dir/x", main=False)
    assert "[Contact](http://127.0.0.1/contact)" in markdown
    assert "copyright" in markdown and "# A title" in markdown


def test_an_article_s_links_resolve_against_the_page_not_the_site_s_root():
    """trafilatura (an article's extractor) resolves every link against the site's root: a footnote
    "#note-1" pointed at https://site.example#note-1, a relative link lost its folders."""
    sentence = "Structured concurrency gives every task an owner and a lifetime that the reader can see. "
    links = (
        '<a href="#note-1">the first note</a>, <a href="guide.html">the guide</a>, <a href="/root">the root</a>, '
        '<a href="//cdn.example/x">the mirror</a> and <a href=" https://other.example/y&#9;">another site</a>'
    )
    html = (
        '<html><head><script type="application/ld+json">{"@type": "Article"}</script></head><body>'
        f"<article><h1>Links</h1><p>{sentence * 4}</p><p>It cites {links}. {sentence * 3}</p></article></body></html>"
    )
    markdown = extract.to_markdown(html, url="https://site.example/docs/a/page.html")
    for text, target in (
        ("the first note", "https://site.example/docs/a/page.html#note-1"),
        ("the guide", "https://site.example/docs/a/guide.html"),
        ("the root", "https://site.example/root"),
        ("the mirror", "https://cdn.example/x"),
        ("another site", "https://other.example/y"),
    ):
        assert f"[{text}]({target})" in markdown


def test_text_has_no_markup():
    text = extract.to_text(PAGE)
    assert "Structured concurrency" in text and "<" not in text and "#" not in text


def test_fallback_when_there_is_no_main_content():
    tiny = "<html><body><ul><li><a href='/a'>Only</a></li><li>links</li></ul></body></html>"
    assert "Only" in extract.to_markdown(tiny)
    assert "Only" in extract.to_text(tiny)


def test_scripts_and_styles_never_leak():
    html = "<html><body><style>p{color:red}</style><script>var secret=1</script><p>Visible</p></body></html>"
    for out in (extract.to_markdown(html, main=False), extract.to_text(html, main=False)):
        assert "Visible" in out and "secret" not in out and "color" not in out


def test_select():
    assert "First point" in (extract.select(PAGE, "ul") or "")
    assert extract.select(PAGE, "table") is None
    with pytest.raises(UsageError, match="not a valid CSS selector"):
        extract.validate_selector("p[[")


@pytest.mark.parametrize(
    ("body", "content_type", "charset"),
    [
        ("café".encode("iso-8859-1"), "text/html; charset=ISO-8859-1", "latin-1"),
        ('<meta charset="windows-1252"><p>naïve – x'.encode("cp1252"), "text/html", "cp1252"),
        ("naïve".encode(), "text/html", "utf-8"),
        ("naïve".encode("cp1252"), "", "cp1252"),
    ],
)
def test_charset(body, content_type, charset):
    import codecs

    assert codecs.lookup(extract.charset_of(body, content_type)).name == codecs.lookup(charset).name
    assert "ï" in extract.decode_html(body, content_type) or "é" in extract.decode_html(body, content_type)


def test_pdf():
    assert "Hello PDF" in pdf.to_text(make_pdf("Hello PDF"))
    with pytest.raises(ContentError, match="not a readable PDF"):
        pdf.to_text(b"%PDF-1.4 garbage")
    assert extract.is_pdf("application/pdf; x=y") and extract.is_pdf("", "http://a/b.PDF?x=1")
    assert not extract.is_pdf("text/html", "http://a/b.pdf")
