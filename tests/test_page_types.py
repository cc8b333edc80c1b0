"""Main content on every page type (issue 13: 4): the block classifier keeps every post of a forum
thread, every item of a listing, a product's spec table, a documentation page's code and tables,
and the Markdown structure; the chrome around them goes."""

from __future__ import annotations

import re

import pytest

from gptme_trio.fetch import blocks, classify, context, extract

CHROME_TOP = """<header class="site-header"><a href="/">Home</a> <nav class="main-nav"><ul>
<li><a href="/news">News</a></li><li><a href="/shop">Shop</a></li><li><a href="/about">About us</a></li>
<li><a href="/login">Log in</a></li></ul></nav></header>"""
CHROME_BOTTOM = """<aside class="sidebar"><h3>Popular</h3><ul>
<li><a href="/p/1">Ten tips for spring gardens</a></li><li><a href="/p/2">Why the sky is blue</a></li></ul></aside>
<footer class="site-footer"><p>© 2026 Example Media. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>"""

POSTERS = ["marta_k", "ben.o", "quietfox", "Ada R", "tomasz"]
POSTS = [
    "I replaced the fan in my laptop last week and now it rattles when the lid is closed halfway.",
    "Check whether one of the screws that hold the heat sink is missing; that rattle is typical of it.",
    "Same thing happened to me, it was a loose ribbon cable touching the fan blades after reassembly.",
    "Thanks both, there was indeed a screw missing near the hinge and the cable was bent as well.",
    "Glad it worked out, marking this thread as solved so others can find the answer quickly.",
]
FORUM = f"""<html><head><title>Laptop fan rattles - Hardware forum</title></head><body>{CHROME_TOP}
<main><h1>Laptop fan rattles after replacement</h1><div class="topic-posts">
{
    "".join(
        f'<div class="post" id="post-{i}"><div class="post-meta"><span class="author">{who}</span> '
        f'<time datetime="2026-03-0{i + 1}">March {i + 1}, 2026</time></div>'
        f'<div class="post-body"><p>{text}</p></div>'
        f'<div class="post-actions"><a href="#reply">Reply</a> <a href="#quote">Quote</a></div></div>'
        for i, (who, text) in enumerate(zip(POSTERS, POSTS, strict=True))
    )
}</div></main>{CHROME_BOTTOM}</body></html>"""

ITEMS = [
    ("Quiet hiking in the northern hills", "A two-day route over the ridge with huts that open in May."),
    ("Five lakes you can swim in before June", "Water temperatures, access paths and where to park the car."),
    ("A beginner's guide to alpine weather", "Reading clouds, wind and the forecast before a long climb."),
    ("The best bakeries on the coast road", "Morning stops between the harbour towns, tried by our editors."),
    ("Cycling the old railway line", "Forty kilometres of gentle gradient through tunnels and viaducts."),
    ("Camping with children: a checklist", "What to pack, what to leave at home, and how to keep everyone dry."),
]
LISTING = f"""<html><head><title>Outdoor stories - Search results</title></head><body>{CHROME_TOP}
<div class="content"><h1>Search results for “outdoors”</h1><ul class="results">
{
    "".join(
        f'<li class="result-item"><h2><a href="/story/{i}">{title}</a></h2><p class="snippet">{snippet}</p></li>'
        for i, (title, snippet) in enumerate(ITEMS)
    )
}</ul><div class="pagination"><a href="?page=2">Next page</a></div></div>{CHROME_BOTTOM}</body></html>"""

GRID = f"""<html><head><title>Outdoor guides</title></head><body>{CHROME_TOP}
<div class="content"><h1>Outdoor guides</h1><div class="filters"><a href="?sort=new">Newest</a>
<a href="?sort=top">Most read</a></div><div class="card-grid">{
    "".join(
        f'<div class="card"><a class="card-link" href="/guide/{i}"><img src="/img/{i}.jpg" alt="">'
        f'<h3 class="card-title">{title}</h3></a><div class="card-body">{snippet}</div></div>'
        for i, (title, snippet) in enumerate(ITEMS)
    )
}</div></div>{CHROME_BOTTOM}</body></html>"""

SPECS = [("Weight", "1.2 kg"), ("Battery life", "14 hours"), ("Screen", "13.3 inch OLED"), ("Storage", "512 GB SSD")]
PRODUCT = f"""<html><head><title>Aero 13 laptop - Example Shop</title></head><body>{CHROME_TOP}
<div class="breadcrumb"><a href="/">Shop</a> › <a href="/laptops">Laptops</a></div>
<div class="product-page"><h1 class="product-title">Aero 13 ultralight laptop</h1>
<div class="price">€1,299.00</div><button>Add to cart</button>
<div class="product-description"><p>The Aero 13 is a light laptop for travel, with an aluminium body,
a bright screen and a keyboard that is comfortable for a whole day of writing.</p></div>
<h2>Specifications</h2><table class="specs">{"".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in SPECS)}</table>
</div>{CHROME_BOTTOM}</body></html>"""

DOCS = f"""<html><head><title>Timeouts - Example docs</title></head><body>{CHROME_TOP}
<nav class="docs-sidebar"><ul><li><a href="/docs/start">Getting started</a></li>
<li><a href="/docs/timeouts">Timeouts</a></li>
<li><a href="/docs/retries">Retries</a></li></ul></nav>
<article class="docs-content"><h1>Timeouts</h1><p>Every request has a deadline that the caller sets; the
client never picks one on its own behalf.</p><pre><code>with fail_after(10):
    response = await client.get(url)</code></pre>
<table><thead><tr><th>Option</th><th>Default</th></tr></thead><tbody><tr><td>connect</td><td>5 s</td></tr>
<tr><td>read</td><td>30 s</td></tr></tbody></table>
<p>When the deadline passes, the request is cancelled and the error names the URL it concerned.</p></article>
{CHROME_BOTTOM}</body></html>"""


@pytest.mark.parametrize("convert", [extract.to_markdown, extract.to_text])
def test_a_forum_thread_keeps_every_post_with_its_author(convert):
    out = convert(FORUM, url="http://127.0.0.1/t/1", extractor="blocks")
    for who, text in zip(POSTERS, POSTS, strict=True):
        assert text in out
        assert who in out
    assert "All rights reserved" not in out and "Ten tips" not in out


def test_posts_in_noscript_are_kept():
    """A forum's server-rendered view in <noscript> (Discourse's, for readers without JavaScript):
    the classifier keeps those posts, and the converter must not drop them with the element."""
    page = FORUM.replace('<div class="topic-posts">', '<noscript><div class="topic-posts">').replace(
        "</div></main>", "</div></noscript></main>"
    )
    assert page.count("noscript") == 2
    out = extract.to_markdown(page, url="http://127.0.0.1/t/1", extractor="blocks")
    for text in POSTS:
        assert text in out


def test_a_quoted_post_is_read_once_and_repeated_cells_and_lines_stay():
    """A reply that quotes the first post: the quote's words repeat a kept paragraph, so they come
    out once, and the reply's own words stay. A table whose cells repeat and a short line that repeats
    (an author who posts twice) are not repeats: each stays."""
    quote = f'<blockquote class="quote"><p>{POSTS[0]}</p></blockquote>'
    page = FORUM.replace(f"<p>{POSTS[3]}</p>", f"{quote}<p>{POSTS[3]}</p>").replace(POSTERS[4], POSTERS[1])
    out = extract.to_markdown(page, url="http://127.0.0.1/t/1", extractor="blocks")
    assert out.count(POSTS[0]) == 1 and POSTS[3] in out
    assert out.count(POSTERS[1]) == 2
    warranty = "Two years of repair or replacement at no cost, collected from your door"
    rows = "".join(f"<tr><th>{part} warranty</th><td>{warranty}</td></tr>" for part in ("Laptop", "Battery"))
    product = extract.to_markdown(PRODUCT.replace("</table>", rows + "</table>"), url="http://127.0.0.1/p/aero")
    assert product.count(warranty) == 2


def test_a_line_repeated_by_a_carousel_is_read_once_and_an_author_who_posts_twice_is_not():
    """A product page whose slider clones its slides (the loop's first and last) repeats each line: the
    lines come out once. A forum whose posts show the author in an element of its own, one author
    posting twice: the name is a user's, so it stays beside each of the two posts."""
    slides = ["Fast and free shipping on every order.", "Risk-free trial for ninety-nine days."]
    carousel = '<div class="perks">' + "".join(f'<div class="slide"><p>{t}</p></div>' for t in slides * 3) + "</div>"
    page = PRODUCT.replace("</table>", "</table>" + carousel)
    product = extract.to_markdown(page, url="http://127.0.0.1/p/aero", extractor="blocks")
    assert all(product.count(t) == 1 for t in slides), product
    posters = [*POSTERS[:4], POSTERS[1]]
    forum = FORUM
    for i, who in enumerate(POSTERS):
        forum = forum.replace(f'<span class="author">{who}</span>', f'<div class="username">{posters[i]}</div>')
    out = extract.to_markdown(forum, url="http://127.0.0.1/t/1", extractor="blocks")
    assert out.count(POSTERS[1]) == 2 and all(text in out for text in POSTS), out


@pytest.mark.parametrize(
    ("head", "kinds"),
    [
        ('<script type="application/ld+json">{"@type": "Product", "name": "Aero 13"}</script>', ["product"]),
        ('<script type="application/ld+json">{"@graph": [{"@type": ["NewsArticle"]}]}</script>', ["article"]),
        ('<meta property="og:type" content="product.group">', ["list"]),
        ('<meta name="generator" content="Discourse 3.4.0 - https://github.com/discourse">', ["forum"]),
        ('<meta property="og:type" content="website"><script>var x = {"@type": "Product"}</script>', []),
    ],
)
def test_what_a_page_declares_itself_is_a_feature_of_its_blocks(head, kinds):
    root = extract.parse_for_blocks(f"<html><head>{head}</head><body><p>Some words here.</p></body></html>")
    assert root is not None
    (block,) = blocks.segment(root)
    features = zip(blocks.FEATURES, block.features, strict=True)
    assert {name.removeprefix("declares_") for name, v in features if name.startswith("declares_") and v} == set(kinds)


def test_a_listing_keeps_every_item_with_its_link_and_snippet():
    out = extract.to_markdown(LISTING, url="http://127.0.0.1/search", extractor="blocks")
    for i, (title, snippet) in enumerate(ITEMS):
        assert f"[{title}](http://127.0.0.1/story/{i})" in out
        assert snippet in out
    assert "All rights reserved" not in out


def test_a_card_grid_keeps_every_card_as_a_heading_with_its_link_and_snippet():
    out = extract.to_markdown(GRID, url="http://127.0.0.1/guides", extractor="blocks")
    for i, (title, snippet) in enumerate(ITEMS):
        assert f"### [{title}](http://127.0.0.1/guide/{i})" in out
        assert snippet in out
    assert "Most read" not in out and "All rights reserved" not in out


def test_a_product_keeps_name_price_description_and_spec_table():
    out = extract.to_markdown(PRODUCT, url="http://127.0.0.1/p/aero", extractor="blocks")
    assert "Aero 13 ultralight laptop" in out and "1,299.00" in out and "aluminium body" in out
    for key, value in SPECS:
        assert any(key in line and value in line and line.startswith("|") for line in out.splitlines())
    assert "All rights reserved" not in out


def test_documentation_keeps_code_blocks_and_tables():
    out = extract.to_markdown(DOCS, url="http://127.0.0.1/docs/timeouts", extractor="blocks")
    assert "```" in out and "    response = await client.get(url)" in out
    assert re.search(r"\|\s*connect\s*\|\s*5 s\s*\|", out)
    assert "caller sets" in out and "Getting started" not in out and "All rights reserved" not in out


def test_the_model_is_small_and_matches_the_features():
    model = classify.shipped()
    assert model.first is not None  # two stages: the second reads the first's scores of the blocks around
    row = [0.0] * (len(classify.FEATURES) + len(context.FEATURES))
    assert model.score(row) == pytest.approx(model.score(row))
    from importlib import resources

    size = len(resources.files("gptme_trio.fetch").joinpath("model.json").read_bytes())
    assert size <= 2_000_000


def test_the_fast_decision_is_the_models_own():
    """keep() and sure() stop summing trees once the rest cannot change the answer: they must give
    score's answer on every block of these pages (and on vectors beside the thresholds)."""
    model = classify.shipped()
    features = [
        row
        for page in (FORUM, LISTING, PRODUCT, DOCS)
        if (root := extract.parse_for_blocks(page)) is not None
        for row in classify.rows(blocks.segment(root), model)
    ]
    features += [[v * scale for v in f] for f in features for scale in (0.5, 2.0)]
    assert len(features) > 100
    assert [model.keep(f) for f in features] == [model.score(f) > model.threshold for f in features]
    sure = model.threshold + classify.ITEM_MARGIN
    assert [model.sure(f) for f in features] == [model.score(f) > sure for f in features]


def test_an_extractor_exception_is_that_pages_content_error(monkeypatch):
    """A bug or a library failure on one page becomes a ContentError (the URL's error in a run)."""
    import trafilatura

    from gptme_trio.core.errors import ContentError

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(classify, "main_html", broken)
    monkeypatch.setattr(trafilatura, "extract", broken)
    with pytest.raises(ContentError, match="RuntimeError: boom"):
        extract.to_markdown(FORUM, url="http://127.0.0.1/t/1", extractor="blocks")


CLASSIFIER = ("gptme_trio.fetch.classify", "gptme_trio.fetch.blocks")


def test_the_classifier_loads_only_when_a_page_is_extracted(tmp_path, site):
    """`fetch --help` and chat's start-up never import the classifier; a fetch run does."""
    from .test_layers import modules_of_run

    for args in (("fetch", "--help"), ("chat", "-n", "hello")):
        _, modules = modules_of_run(tmp_path, *args)
        assert [m for m in modules if m.startswith(CLASSIFIER)] == [], args
    run = ("fetch", "-q", "--engine", "http", "--extractor", "blocks", "-f", "json", site.url("/normal"))
    code, modules = modules_of_run(tmp_path, *run)
    assert code == 0 and set(CLASSIFIER) <= set(modules)
