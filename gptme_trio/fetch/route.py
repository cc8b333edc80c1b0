"""`--extractor auto`: trafilatura or the block classifier (fetch/classify.py), whichever suits the page.

trafilatura is best on articles: it drops their comment threads and "latest news" teasers, which the
block classifier keeps. The classifier is best on forums, listings, collections, products and service
pages, where trafilatura keeps one post or one item. So:

1. A page that declares itself an article (fetch/metadata.py's page_type: JSON-LD @type Article,
   NewsArticle, BlogPosting..., else og:type article with a date of publication, JSON-LD datePublished
   or article:published_time), or has an article's URL and declares no other kind, is extracted by
   trafilatura; every other page by the classifier. An article's URL is in a section that says so
   (/blog, /news, /article, /story, /post, /20xx/) and ends in a slug of three words or more or is
   dated (/20xx/): /blog and /news/technology list stories. og:type article alone is weak: WordPress
   themes declare it on every page (service pages, shops, lists), so without a date it needs a slug
   or a dated address too. This is decided before either runs, on the raw HTML: its head and JSON-LD,
   as metadata.py reads them. A local file's folders are not a site's sections: for a page with no web
   URL, the address it declares (canonical link, else og:url) stands in. Read as local files, the
   ScrapingHub articles score 0.950 without it, 0.958 with it.
2. A page that is not an article but has little text in all (fewer than SMALL_PAGE words: a short
   notice, a tiny thread, a test page) gets trafilatura's text, unless the classifier's is more than
   SMALL_GROWTH times as long: the classifier, trained on real pages, may drop a short line that is
   all there is, and trafilatura may keep one post of three.
3. An article whose trafilatura text is short (fewer than SHORT words) may be one trafilatura cut
   short (it kept one container of several, or a teaser): the classifier runs too, and its text is
   taken when it is more than GROWTH times as long and what it adds is text, not a list of links
   (at most MAX_LINK_SHARE of its words are link text) nor a comment thread (no heading that says
   comments, replies, responses or discussion).

Cost: step 1 reads the page's head, JSON-LD and URL (under a millisecond); each page runs one
extractor, and both run only on the small pages of step 2 and the short articles of step 3 (a few
percent of pages).
`python -m bench.extraction_auto` measures the rule against either extractor alone and sweeps its
constants (bench/results/extraction_auto.md): retune them there when model.json changes.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import lxml.etree

from gptme_trio.fetch.metadata import kind_and_address

SHORT = 100  # words: a shorter trafilatura text of an article is checked against the classifier's
GROWTH = 2.0  # the classifier's text is taken when it has more than this many times the words
MAX_LINK_SHARE = 0.5  # ... and at most this share of the words it adds are the text of links
SMALL_PAGE = 200  # words in the body: a page with fewer, not an article, gets trafilatura's text...
SMALL_GROWTH = 1.25  # ... unless the classifier's has more than this many times its words

_DATED = re.compile(r"/20\d\d/")
_ARTICLE_URL = re.compile(r"blog|news|article|story|/post|" + _DATED.pattern)
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}")  # three words or more joined by hyphens
_WORD = re.compile(r"\w+")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_COMMENTS = re.compile(r"^#+ .*\b(comments?|repl(y|ies)|responses?|discussion)\b", re.IGNORECASE | re.MULTILINE)


def looks_like_article(html: str, url: str = "") -> bool:
    """Whether the page is an article as far as its head, JSON-LD and URL tell: it declares itself one
    (JSON-LD, or og:type with a date of publication, a slug or a dated address), or declares no kind and
    has an article's URL: in a section that says so, ending in a slug (/blog/why-we-moved, not /blog or
    /news/technology) or dated (/2024/05/...). A page with no web URL (a local file: its folders are
    not a site's sections) is judged by the address it declares, its canonical link or og:url, if any."""
    kind, address, firm = kind_and_address(html)
    if kind is not None and kind != "article":
        return False
    if kind is not None and firm:  # JSON-LD says so, or og:type and a date of publication
        return True
    if not url.lower().startswith(("http://", "https://")):
        url = address or ""
    try:
        parts = urlsplit(url.lower())
    except ValueError:  # not a URL (an unbalanced "[" in its host...): it says nothing
        return False
    if kind is None and not _ARTICLE_URL.search(parts.path + "?" + parts.query):
        return False
    return bool(_SLUG.search(parts.path.rstrip("/").rsplit("/", 1)[-1]) or _DATED.search(parts.path))


def is_small(root: lxml.etree._Element) -> bool:
    """Whether the page has fewer than SMALL_PAGE words of text (scripts and styles aside). It stops
    counting at SMALL_PAGE: 0.3 ms a page on wcxb-dev, where counting every word took 2.5."""
    body = root.find("body")
    top = body if body is not None else root
    needed = SMALL_PAGE
    walker = lxml.etree.iterwalk(top, events=("start",))
    for _, element in walker:
        if element.tag in ("script", "style"):
            walker.skip_subtree()
        elif isinstance(element.tag, str) and element.text:  # a comment's text is not the page's
            needed -= len(_WORD.findall(element.text))
        if element is not top and element.tail:
            needed -= len(_WORD.findall(element.tail))
        if needed <= 0:
            return False
    return True


def longer(blocks_text: str, trafilatura_text: str | None) -> str:
    """On a small page: trafilatura's text, or the classifier's when it is clearly longer."""
    if words(blocks_text) > SMALL_GROWTH * words(trafilatura_text or ""):
        return blocks_text
    return trafilatura_text or blocks_text


def words(text: str) -> int:
    """The words of Markdown or plain text (a link's text, not its URL)."""
    return len(_WORD.findall(_LINK.sub(r"\1", text)))


def is_short(found: str | None) -> bool:
    """Whether trafilatura's text of an article is short enough to check the classifier's too."""
    return found is None or words(found) < SHORT


def adds_content(found: str | None, blocks_md: str) -> bool:
    """Whether the classifier's Markdown is the text trafilatura (`found`: Markdown or plain text)
    missed: much longer, and what it adds (its lines that trafilatura's lacks) is not mostly the
    text of links nor under a heading that says comments."""
    before = found or ""
    if words(blocks_md) <= GROWTH * words(before):
        return False
    seen = {line.strip() for line in before.splitlines()}
    added = "\n".join(line for line in blocks_md.splitlines() if line.strip() and line.strip() not in seen)
    if _COMMENTS.search(added):
        return False
    link_words = sum(len(_WORD.findall(m.group(1))) for m in _LINK.finditer(added))
    return link_words <= MAX_LINK_SHARE * max(words(added), 1)
