"""Metadata and links (issue 13: 5): -f json's page fields, --links, the Markdown title line and
read_url's list of main-content links, on both engines; hostile metadata never breaks a run."""

from __future__ import annotations

import json

import pytest

from gptme_trio.core.policy import UrlPolicy
from gptme_trio.fetch import links, metadata
from gptme_trio.fetch.extract import parse_page
from gptme_trio.tools.web import READ_LINKS, WebTools

ENGINES = ["http", "browser"]
META_KEYS = ["page_type", "description", "author", "published", "language", "canonical_url", "site_name"]
OLD_KEYS = ["url", "final_url", "status", "title", "content", "elapsed_ms", "error", "console", "js"]


def fetch_json(run_cli, engine: str, *args: str) -> dict:
    ran = run_cli("fetch", "--engine", engine, "-f", "json", *args)
    assert ran.returncode == 0, ran.stderr.decode()
    return json.loads(ran.stdout)


@pytest.mark.parametrize("engine", ENGINES)
def test_json_has_the_pages_metadata_after_the_keys_it_always_had(run_cli, site, engine):
    record = fetch_json(run_cli, engine, site.url("/meta/article"))
    assert list(record)[: len(OLD_KEYS)] == OLD_KEYS and record["title"] == "River deltas | The Sediment Times"
    assert {k: record[k] for k in META_KEYS} == {
        "page_type": "article",  # JSON-LD's NewsArticle wins over og:type website
        "description": "How rivers build deltas, & why they move.",
        "author": "Ada Delta, Bo River",
        "published": "2025-03-04T10:00:00+00:00",
        "language": "en-GB",
        "canonical_url": site.url("/meta/river-deltas"),
        "site_name": "The Sediment Times",
    }
    assert record["links"] is None  # only with --links


@pytest.mark.parametrize("engine", ENGINES)
def test_a_page_that_says_nothing_has_null_fields(run_cli, site, engine):
    record = fetch_json(run_cli, engine, site.url("/meta/plain"))
    assert all(record[k] is None for k in META_KEYS), record


@pytest.mark.parametrize("engine", ENGINES)
def test_links_are_absolute_deduplicated_and_say_whether_they_are_in_the_main_content(run_cli, site, engine):
    found = fetch_json(run_cli, engine, "--links", site.url("/meta/article"))["links"]
    by_url = {link["url"]: link for link in found}
    assert len(by_url) == len(found)  # one entry per URL
    guide = site.url("/meta/docs/sediment-guide")  # relative to <base href="/meta/docs/">
    assert by_url[guide] == {"text": "sediment guide", "url": guide, "main": True}  # the first text of two
    assert by_url["https://example.org/floods?a=1&b=2"]["main"] is True
    assert by_url["mailto:ada@example.org"] == {"text": "the author", "url": "mailto:ada@example.org", "main": True}
    assert by_url[site.url("/")] == {"text": "Home", "url": site.url("/"), "main": False}
    assert by_url[site.url("/about")]["main"] is False and by_url[site.url("/privacy")]["main"] is False
    assert not any(u.startswith("javascript:") for u in by_url)
    assert [link["url"] for link in found].index(site.url("/")) < [link["url"] for link in found].index(guide)


@pytest.mark.parametrize("engine", ENGINES)
def test_markdown_starts_with_the_title_once_and_lists_the_links_after_the_text(run_cli, site, engine):
    ran = run_cli("fetch", "--engine", engine, "--links", site.url("/meta/article"))
    assert ran.returncode == 0, ran.stderr.decode()
    out = ran.stdout.decode()
    assert out.startswith("# River deltas\n") and out.count("# River deltas") == 1
    text, _, listed = out.partition("\n## Links\n")
    assert "[sediment guide](" + site.url("/meta/docs/sediment-guide") + ")" in text  # relative links resolved
    main, _, elsewhere = listed.partition("### Elsewhere on the page")
    assert f"1. [sediment guide](<{site.url('/meta/docs/sediment-guide')}>)" in main
    assert "[the author](<mailto:ada@example.org>)" in main and "Home" not in main
    assert f"[Home](<{site.url('/')}>)" in elsewhere and "Privacy" in elsewhere


def test_a_page_without_a_heading_gets_its_title_as_one(run_cli, site):
    out = run_cli("fetch", "--engine", "http", site.url("/meta/plain")).stdout.decode()
    assert out.startswith("# A plain page\n\nRivers carry sediment")
    full = run_cli("fetch", "--engine", "http", "--selector", "p", site.url("/meta/plain")).stdout.decode()
    assert full.startswith("Rivers carry sediment")  # --selector: just that element


def test_text_lists_the_links_too(run_cli, site):
    ran = run_cli("fetch", "--engine", "http", "-f", "text", "--links", site.url("/meta/article"))
    out = ran.stdout.decode()
    assert ran.returncode == 0 and not out.startswith("#")
    listed = out.partition("\nLinks:\n")[2]
    assert f"1. sediment guide <{site.url('/meta/docs/sediment-guide')}>" in listed
    assert "Elsewhere on the page:" in listed and f"Home <{site.url('/')}>" in listed


def test_links_with_a_binary_or_html_format_is_a_usage_error(run_cli, site):
    ran = run_cli("fetch", "-f", "html", "--links", site.url("/meta/article"))
    assert ran.returncode == 2 and b"--links applies to -f markdown, text or json" in ran.stderr
    assert b"Traceback" not in ran.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_hostile_metadata_is_cleaned_and_bounded(run_cli, site, engine):
    record = fetch_json(run_cli, engine, "--links", site.url("/meta/hostile"))
    assert record["error"] is None and "Rivers carry sediment" in record["content"]
    author = record["author"]  # control and bidi characters gone (a NUL is U+FFFD or nothing)
    assert author.startswith("Eve") and author.endswith("[31m Mallory") and author.isprintable()
    assert len(record["description"]) <= 1000 and record["description"].endswith("…")
    assert record["site_name"] is None and record["canonical_url"] is None and record["language"] is None
    assert record["page_type"] == "article" and record["published"] is None
    assert len(record["links"]) == links.MAX_LINKS
    assert all(len(link["url"]) <= links.MAX_URL for link in record["links"])


def test_read_meta_survives_anything():
    for html in (
        "",
        "<",
        "\x00" * 10,
        "<html><head>" + "<meta " * 10_000,
        '<?xml version="1.0" encoding="utf-8"?><a/>',
    ):
        assert metadata.read_meta(html, "http://x.test/") is not None
    broken = '<script type="application/ld+json">{"@type": "Article", "author": [1, {"name": ["x"]}, null]}</script>'
    assert metadata.read_meta(broken).author == "x" and metadata.read_meta(broken).page_type == "article"


def test_dates_are_iso_8601():
    def published(value: str) -> str | None:
        return metadata.read_meta(f'<head><meta property="article:published_time" content="{value}"></head>').published

    assert published("2024-05-06") == "2024-05-06"
    assert published("2024-05-06T07:08:09.123Z") == "2024-05-06T07:08:09.123000+00:00"
    assert published("Mon, 06 May 2024 07:08:09 GMT") == "2024-05-06T07:08:09+00:00"
    assert published("2024/05/06 at noon") == "2024-05-06"
    assert published("yesterday") is None and published("0001-01-01") is None


@pytest.mark.parametrize(
    ("body", "author", "published"),
    [
        ("<p>By <a href=/u/jd>Jane Doe</a> · Updated March 5th, 2024</p>", "Jane Doe", "2024-03-05"),
        (
            "<div class=meta><span>Written by Ann-Marie van der Berg</span><time>12 Sept 2023</time></div>",
            "Ann-Marie van der Berg",
            "2023-09-12",
        ),
        ("<p>Posted 2022-11-02</p><p>Some text</p>", None, "2022-11-02"),
        ("<form>Sort By Relevance Price</form><p>Shop by Brand Name</p>", None, None),  # not a byline
        ("<p>03/05/2024: is that March or May?</p><p>By ACME</p>", None, None),  # ambiguous; not a name
        ("<p>" + "words " * 200 + "By Late Author, June 1, 2020</p>", None, None),  # too far below the title
    ],
)
def test_the_byline_under_the_title_when_the_page_declares_nothing(body, author, published):
    page = metadata.read_meta(f"<html><head><title>T</title></head><body><h1>Title</h1>{body}</body></html>")
    assert (page.author, page.published) == (author, published)


def test_what_a_page_declares_wins_over_its_byline():
    head = '<meta name="author" content="Declared Name"><meta property="article:published_time" content="2021-01-02">'
    page = metadata.read_meta(f"<head>{head}</head><body><h1>T</h1><p>By Shown Name, May 5, 2024</p></body>")
    assert (page.author, page.published) == ("Declared Name", "2021-01-02")


def test_the_title_line_is_not_added_twice():
    assert metadata.with_title("# River deltas\n\ntext", "River deltas | Times") == "# River deltas\n\ntext"
    assert metadata.with_title("River deltas\n\ntext", "River deltas") == "River deltas\n\ntext"
    assert metadata.with_title("text", "River deltas") == "# River deltas\n\ntext"
    assert metadata.with_title("text", "\x00 ") == "text"


def test_links_from_markup():
    html = '<base href="https://b.test/d/"><a href="x">X</a><a href="../y#s">Y</a>'
    html += '<a href="#top">t</a><a href="tel:+1">c</a>'
    base = links.base_url(html, "https://a.test/page")
    found = links.collect(parse_page(html), "https://a.test/page", base, "[X](https://b.test/d/x/)")
    assert [(k.url, k.main) for k in found] == [
        ("https://b.test/d/x", True),  # the content's "x/" is the same URL
        ("https://b.test/y#s", False),
        ("https://b.test/d/#top", False),  # with a <base>, "#top" is a part of the base's page, as in a browser
        ("tel:+1", False),
    ]
    page = "<a href='#top'>top</a><a href='/page#x'>x</a><a href='javascript:go()'>go</a><a href='data:,x'>d</a>"
    assert links.collect(parse_page(page), "https://a.test/page", "https://a.test/page", "") == []
    absolute = links.absolutize('<a class="c" href="x?a=1&amp;b=2">X</a><a href=/r>R</a>', base, "https://a.test/page")
    assert absolute == '<a class="c" href="https://b.test/d/x?a=1&amp;b=2">X</a><a href="https://b.test/r">R</a>'


async def test_read_url_lists_the_links_of_the_main_content(browser, site, tmp_path):
    web = WebTools(browser, UrlPolicy(["127.0.0.1"]), tmp_path)
    text = await web.read_url(site.url("/meta/article"))
    body, _, listed = text.partition("\n\nLinks in the main content:\n")
    assert "Rivers carry sediment" in body
    assert listed.splitlines()[:2] == [
        f"1. sediment guide: {site.url('/meta/docs/sediment-guide')}",
        "2. flood archive: https://example.org/floods?a=1&b=2",
    ]
    assert "mailto:" not in listed and site.url("/privacy") not in listed and "Home" not in listed
    listed = (await web.read_url(site.url("/meta/many"))).partition("\n\nLinks in the main content:\n")[2]
    assert listed.splitlines() == [
        *(f"{n + 1}. reference {n}: {site.url(f'/meta/ref{n}')}" for n in range(READ_LINKS)),
        f"(and {80 - READ_LINKS} more)",
    ]


async def test_read_url_gives_the_title_once(browser, site, tmp_path):
    """The page's own <h1> equals its title: read_url shows it once (it used to put `# Title` above the
    content that starts with the same heading), after the line that says where it came from."""
    web = WebTools(browser, UrlPolicy(["127.0.0.1"]), tmp_path)
    text = await web.read_url(site.url("/normal"))
    assert text.startswith(f"(from {site.url('/normal')})\n\n# Normal page\n")
    assert text.count("Normal page") == 1
