"""`--extractor auto` (fetch/route.py): an article goes to trafilatura, which drops its comment thread;
a forum thread to the block classifier, which keeps every post; an extractor's exception on a page is
that page's ContentError; `fetch --help` and chat's start-up do not load the chooser."""

from __future__ import annotations

import pytest

from gptme_trio.core.errors import ContentError
from gptme_trio.fetch import classify, extract, route

from .support.meta_pages import ARTICLE, PARAGRAPH
from .test_page_types import FORUM, POSTERS, POSTS

COMMENTS = [
    "Great piece, though I think the delta near my town moved faster than the article suggests.",
    "Does anyone know whether the flood archive covers the years before the dam was built?",
    "I grew up by the river and we found layers of shells after every spring flood, just like this.",
]
ARTICLE_WITH_COMMENTS = ARTICLE.replace(
    "</article>",
    '</article><section id="comments" class="comments"><h2>3 comments</h2>'
    + "".join(
        f'<div class="comment"><span class="comment-author">reader{i}</span><p>{text}</p>'
        f'<a class="reply" href="#c{i}">Reply</a></div>'
        for i, text in enumerate(COMMENTS)
    )
    + "</section>",
)


def test_an_article_goes_to_trafilatura_and_loses_its_comments():
    assert route.looks_like_article(ARTICLE_WITH_COMMENTS, "http://127.0.0.1/meta/river-deltas")
    out = extract.to_markdown(ARTICLE_WITH_COMMENTS, url="http://127.0.0.1/meta/river-deltas", extractor="auto")
    assert PARAGRAPH.split(",")[0] in out
    assert out == extract.to_markdown(ARTICLE_WITH_COMMENTS, url="http://127.0.0.1/meta/river-deltas")
    for text in COMMENTS:
        assert text not in out


@pytest.mark.parametrize("convert", [extract.to_markdown, extract.to_text])
def test_a_forum_thread_goes_to_the_classifier_and_keeps_every_post(convert):
    assert not route.looks_like_article(FORUM, "http://127.0.0.1/t/1")
    out = convert(FORUM, url="http://127.0.0.1/t/1", extractor="auto")
    assert out == convert(FORUM, url="http://127.0.0.1/t/1", extractor="blocks")
    for who, text in zip(POSTERS, POSTS, strict=True):
        assert text in out and who in out


def test_a_small_page_keeps_the_line_the_classifier_drops():
    """A page of a few paragraphs and one short line (as a script might add it): the classifier drops
    the line, trafilatura keeps it; auto, on a page this small, takes trafilatura's text."""
    line = "Written by a timer four hundred and fifty milliseconds after load."
    page = (
        f"<html><head><title>Timer page</title></head><body><article><h1>Timer page</h1><p>{PARAGRAPH * 2}</p>"
        f"<p>{PARAGRAPH}</p><div id='late'><p>{line}</p></div></article></body></html>"
    )
    root = extract.parse_for_blocks(page)
    assert root is not None and route.is_small(root) and not route.looks_like_article(page, "http://127.0.0.1/t")
    assert line not in extract.to_markdown(page, url="http://127.0.0.1/t", extractor="blocks")
    assert line in extract.to_markdown(page, url="http://127.0.0.1/t", extractor="auto")
    assert route.longer("a b c d e f", "a b c d e") == "a b c d e"  # not clearly longer: trafilatura's
    assert route.longer("a b c d e f g", "a b c d e") == "a b c d e f g"


def test_what_the_page_declares_comes_before_its_url():
    page = "<html><head>{}</head><body><p>Some words here.</p></body></html>"
    assert route.looks_like_article(page.format(""), "https://example.org/2024/05/a-long-slug")
    assert route.looks_like_article(page.format(""), "https://example.org/blog/why-we-moved")
    assert not route.looks_like_article(page.format(""), "https://example.org/forum/t/123")
    assert not route.looks_like_article(page.format(""), "http://[oops/blog")  # not a URL
    product = '<script type="application/ld+json">{"@type": "Product", "name": "Aero 13"}</script>'
    assert not route.looks_like_article(page.format(product), "https://example.org/blog/aero-13-review-notes")
    news = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Aero 13"}</script>'
    assert route.looks_like_article(page.format(news), "https://example.org/shop/aero-13")


@pytest.mark.parametrize(
    "url", ["https://example.org/news", "https://example.org/blog/", "https://example.org/news/technology"]
)
def test_a_section_of_a_blog_or_news_site_is_not_an_article(url):
    """A blog's or news site's front page and its sections list stories: the classifier keeps each."""
    page = "<html><head>{}</head><body><p>Some words here.</p></body></html>"
    assert not route.looks_like_article(page.format(""), url)
    assert route.looks_like_article(page.format(""), url.rstrip("/") + "/why-rivers-move-their-deltas")


def test_og_type_article_alone_needs_a_date_or_an_articles_url():
    """WordPress themes declare og:type article on every page: a service page, a shop, a list. With a
    date of publication, or at an address that ends in a slug, it is an article."""
    page = "<html><head>{}</head><body><p>Some words here.</p></body></html>"
    og = '<meta property="og:type" content="article">'
    dated = og + '<meta property="article:published_time" content="2025-03-01T10:00:00Z">'
    ld_dated = og + '<script type="application/ld+json">{"@type": "WebPage", "datePublished": "2025-03-01"}</script>'
    assert not route.looks_like_article(page.format(og), "https://example.org/services/data-analytics")
    assert not route.looks_like_article(page.format(og), "https://example.org/news")
    assert route.looks_like_article(page.format(dated), "https://example.org/services/data-analytics")
    assert route.looks_like_article(page.format(ld_dated), "https://example.org/services/data-analytics")
    assert route.looks_like_article(page.format(og), "https://example.org/guides/how-to-plant-a-tree")


def test_a_local_file_is_judged_by_the_address_it_declares_not_its_folders(tmp_path):
    """A saved page's folders ("blog", "news") are not its site's sections; its canonical link or
    og:url is its address (a relative one, resolved against a file:// URL, is none)."""
    page = "<html><head>{}</head><body><p>Some words here.</p></body></html>"
    in_blog = (tmp_path / "blog" / "page.html").as_uri()
    assert "blog" in in_blog and not route.looks_like_article(page.format(""), in_blog)
    assert not route.looks_like_article(page.format(""), "")
    canonical = '<link rel="canonical" href="https://example.org/2024/05/a-long-slug">'
    og_url = '<meta property="og:url" content="https://example.org/news/a-river-story">'
    assert route.looks_like_article(page.format(canonical), in_blog)
    assert route.looks_like_article(page.format(og_url), "")
    assert route.looks_like_article(page.format(canonical + og_url.replace("news", "shop")), "")  # canonical first
    assert not route.looks_like_article(page.format('<link rel="canonical" href="/blog/why">'), in_blog)
    assert not route.looks_like_article(page.format(canonical), "https://example.org/t/123")  # a web URL is its own
    longer = ARTICLE_WITH_COMMENTS.replace('<p id="end">', f"<p>{PARAGRAPH}</p>" * 4 + '<p id="end">')
    undeclared = longer.replace('"NewsArticle"', '"Thing"').replace('href="/meta/river-deltas"', "")
    saved, address = (tmp_path / "a.html").as_uri(), "https://example.org/2025/03/river-deltas"
    declares = undeclared.replace('rel="canonical"', f'rel="canonical" href="{address}"')
    blocks, trafilatura = (extract.to_markdown(undeclared, url=saved, extractor=e) for e in ("blocks", "trafilatura"))
    assert blocks != trafilatura and not any(text in trafilatura for text in COMMENTS)
    assert extract.to_markdown(undeclared, url=saved) == blocks  # no address: the classifier
    assert extract.to_markdown(declares, url=saved) == trafilatura


def test_a_short_article_takes_the_classifiers_text_only_when_it_adds_text():
    found = "A short teaser of the story.\n"
    body = "\n\n".join(f"{PARAGRAPH} Paragraph {i}." for i in range(4))
    assert route.is_short(found) and route.is_short(None)
    assert route.adds_content(found, f"{found}\n{body}")
    assert not route.adds_content(found, found)  # no longer
    links = "\n".join(f"[Another story about rivers and floods number {i}](/story/{i})" for i in range(20))
    assert not route.adds_content(found, f"{found}\n{links}")  # a list of other stories
    assert not route.adds_content(found, f"{found}\n## Comments\n\n{body}")  # a comment thread


@pytest.mark.parametrize(("page", "url"), [(FORUM, "http://127.0.0.1/t/1"), (ARTICLE, "http://127.0.0.1/news/x")])
def test_an_extractor_exception_is_that_pages_content_error(monkeypatch, page, url):
    import trafilatura

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(classify, "main_html", broken)
    monkeypatch.setattr(trafilatura, "extract", broken)
    with pytest.raises(ContentError, match="RuntimeError: boom") as caught:
        extract.to_markdown(page, url=url, extractor="auto")
    assert caught.value.url == url


def test_the_chooser_loads_only_when_a_page_is_extracted(tmp_path, site):
    """`fetch --help` and chat's start-up never import the chooser; a fetch run with auto does."""
    from .test_layers import modules_of_run

    chooser = ("gptme_trio.fetch.route", "gptme_trio.fetch.classify", "gptme_trio.fetch.blocks")
    for args in (("fetch", "--help"), ("chat", "-n", "hello")):
        _, modules = modules_of_run(tmp_path, *args)
        assert [m for m in modules if m.startswith(chooser)] == [], args
    run = ("fetch", "-q", "--engine", "http", "--extractor", "auto", "-f", "json", site.url("/normal"))
    code, modules = modules_of_run(tmp_path, *run)
    assert code == 0 and "gptme_trio.fetch.route" in modules
