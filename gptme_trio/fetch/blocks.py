"""A page cut into text blocks, each with the features the block classifier reads (fetch/classify.py).

segment(root) -> list[Block], in document order. A block is an element that owns text directly:
its own text and that of its inline children (links, emphasis, code...), not the text of nested
block elements, which are blocks of their own. `pre` and `table` cells stay whole enough for
Markdown: a `pre` is one block; a table cell is a block like any other element.

The features (FEATURES names them, in order) are what the layout tells about a block: its words
and link density, its tag and its ancestors' tags, class/id tokens on it and above it, how often
its element's shape repeats among its siblings (posts, cards, results), its position, and the
size and link density of the containers around it, and what the page declares itself to be (a
product, a forum thread, an article, a list: its JSON-LD @type, og:type or generator), which every
block of it shares. Pure lxml and Python: no I/O, no numpy.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import lxml.etree

_INLINE_TAGS = "a abbr b bdi bdo big cite code data del dfn em font i img ins kbd label mark nobr q s samp small span"
INLINE = frozenset(f"{_INLINE_TAGS} strike strong sub sup time tt u var wbr br".split())  # noqa: SIM905
_SKIP_TAGS = "script style template svg math head iframe object embed canvas select option input button"
SKIP = frozenset(_SKIP_TAGS.split())  # never text: scripts, styles, embedded documents, form controls
# Class/id token groups: each gives two features, "on the element" and "on an ancestor".
_GROUPS: tuple[tuple[str, str], ...] = (
    ("content", r"article|content|post|entry|body|text|story|main|blog|prose|markdown|rich|editor"),
    ("comment", r"comment|reply|replies|respon|discuss|message|thread|forum|topic|answer|question|review"),
    ("nav", r"nav|menu|breadcrumb|pagination|pager|toc|sidebar|side|widget|skip|filter|facet|sort"),
    ("chrome", r"footer|header|masthead|banner|copyright|legal|bottom|top"),
    ("social", r"share|social|follow|subscri|newsletter|signup|login|cookie|consent|gdpr|popup|modal|overlay"),
    ("ad", r"\bads?\b|advert|sponsor|promo|dfp|outbrain|taboola"),
    ("related", r"related|recommend|more|popular|trending|teaser|tag|categor"),
    ("product", r"product|price|spec|detail|descr|attribute|feature|rating|sku|cart|variant|stock"),
    ("item", r"item|card|result|tile|listing|grid|list"),
    ("doc", r"doc|api|code|highlight|admonition|note|warning|tip|example|syntax"),
    ("meta", r"author|date|time|byline|meta|user|avatar|profile|info"),
    ("hidden", r"hidden|sr-only|visually-hidden|screen-reader|collapse|dropdown"),
)
_GROUP_RE = [re.compile(pattern) for _, pattern in _GROUPS]
_ANY_GROUP = re.compile("|".join(f"(?:{pattern})" for _, pattern in _GROUPS))  # most tokens are in none
_ANCESTOR_TAGS: tuple[str, ...] = ("article", "main", "nav", "header", "footer", "aside", "form", "li", "table")
_ANCESTOR_TAGS += ("blockquote", "figure", "a", "dl", "section", "pre")
_OWN_TAGS: tuple[str, ...] = ("p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote")
_OWN_TAGS += ("dd", "dt", "section", "article", "figcaption", "caption", "span", "a", "label")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?:。]\W*$")
_CURRENCY = re.compile(r"[$€£¥₹]|\b(?:usd|eur|gbp)\b", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:\d{4}-\d\d-\d\d|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*)\b",
    re.I,
)
_BOILER = re.compile(r"©|\bcopyright\b|all rights reserved|cookie|privacy|sign (?:in|up)|log ?in|subscribe", re.I)
# Words one of which an ASCII text must contain (lower-cased) for the pattern to match: a quick "no"
# for most blocks before the slower case-insensitive search, which gives the answer.
_CURRENCY_WORDS = ("$", "usd", "eur", "gbp")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_BOILER_WORDS = (
    *("copyright", "all rights reserved", "cookie", "privacy"),
    *("sign in", "sign up", "login", "log in", "subscribe"),
)


def _found(pattern: re.Pattern[str], words: tuple[str, ...], text: str, low: str | None) -> float:
    """Whether `pattern` occurs in `text` (1.0 or 0.0); `low`: text lower-cased when it is ASCII, else None."""
    if low is not None and not any(w in low for w in words):
        return 0.0
    return 1.0 if pattern.search(text) else 0.0


# What the page says it is (JSON-LD @type, og:type, generator): the same for all its blocks, so that
# the trees can weigh a block differently on a product page or a forum. Never the dataset's label.
_KINDS = {
    "product": "product productgroup offer aggregateoffer og:product og:product.item",
    "forum": "discussionforumposting qapage comment discourse vbulletin xenforo phpbb",
    "article": "article newsarticle blogposting reportage techarticle og:article",
    "list": "itemlist collectionpage searchresultspage og:product.group",
}
_DECLARED = {kind: frozenset(words.split()) for kind, words in _KINDS.items()}
_LD_TYPE = re.compile(r'"@type"\s*:\s*\[?\s*"([A-Za-z]+)"')


def declared(root: lxml.etree._Element) -> list[float]:
    """Which kinds (_DECLARED) the page declares: 1.0 or 0.0 each, in _DECLARED's order."""
    words: set[str] = set()
    for script in root.iterfind(".//script[@type='application/ld+json']"):
        words.update(t.lower() for t in _LD_TYPE.findall(script.text or ""))
    head = root.find("head")
    for meta in head.iterfind("meta") if head is not None else ():
        what = (meta.get("property") or meta.get("name") or "").lower()
        if what == "og:type":
            words.add("og:" + (meta.get("content") or "").strip().lower())
        elif what == "generator":
            words.update((meta.get("content") or "").lower().split()[:1])
    return [1.0 if words & kinds else 0.0 for kinds in _DECLARED.values()]


FEATURES: tuple[str, ...] = (
    *(f"tag_{t}" for t in _OWN_TAGS),
    "tag_other",
    *(f"in_{t}" for t in _ANCESTOR_TAGS),
    *(f"cls_{name}" for name, _ in _GROUPS),
    *(f"anc_{name}" for name, _ in _GROUPS),
    "words_log",
    "chars_log",
    "link_density",
    "links",
    "sentence_end",
    "punct_ratio",
    "digit_ratio",
    "upper_start",
    "currency",
    "date",
    "boiler",
    "avg_word_len",
    "depth",
    "depth_rel",
    "position",
    "word_position",
    "rep_self",
    "rep_max",
    "rep_parent",
    *(f"up{k}_{what}" for k in range(4) for what in ("words_log", "link_density", "blocks_log")),
    *(f"{side}{k}_{what}" for side in ("prev", "next") for k in (1, 2) for what in ("words_log", "link_density")),
    "page_words_log",
    "page_link_density",
    "page_blocks_log",
    "share_of_page",
    *(f"declares_{kind}" for kind in _DECLARED),
)


@dataclass(eq=False, slots=True)
class _Frame:
    """Totals of one element's subtree, filled as the walk leaves it."""

    words: int = 0
    link_words: int = 0
    blocks: int = 0


@dataclass(eq=False, slots=True)
class Block:
    element: lxml.etree._Element
    text: str
    words: int
    link_words: int
    links: int
    depth: int
    own_mask: int
    anc_mask: int
    tag_mask: int
    rep_self: int
    rep_max: int
    rep_parent: int
    frames: list[_Frame] = field(default_factory=list)  # self, parent, grandparent, great-grandparent
    order: int = 0  # the element's place in document order (its start tag's)
    features: list[float] = field(default_factory=list)


@functools.lru_cache(maxsize=16384)
def _token_mask(token: str) -> int:
    """The groups a class/id token is in (cached: pages share most of their tokens)."""
    if not _ANY_GROUP.search(token):
        return 0
    return sum(1 << i for i, rx in enumerate(_GROUP_RE) if rx.search(token))


class _Walk:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.has_block: set[lxml.etree._Element] = set()
        self.max_depth = 0
        self.masks: dict[str, int] = {"  ": 0}  # class/id/role string -> group mask, for this page
        self.order = 0  # elements visited so far: a block's place in document order

    def mask(self, el: lxml.etree._Element) -> int:
        get = el.get
        words = f"{get('class') or ''} {get('id') or ''} {get('role') or ''}"
        mask = self.masks.get(words)
        if mask is None:
            mask = 0
            for token in words.lower().split():
                mask |= _token_mask(token)
            self.masks[words] = mask
        return mask

    def mark_containers(self, root: lxml.etree._Element) -> None:
        """Which inline elements contain block elements (a card wrapped in <a>): those are not inline."""
        for el in root.iter():
            tag = el.tag
            if not isinstance(tag, str) or tag in INLINE or tag in SKIP:
                continue
            for ancestor in el.iterancestors():
                if ancestor in self.has_block:
                    break
                self.has_block.add(ancestor)

    def visit(
        self,
        el: lxml.etree._Element,
        depth: int,
        anc_mask: int,
        tag_mask: int,
        frames: list[_Frame],
        rep: tuple[int, int, int],
    ) -> _Frame:
        frame = _Frame()
        order = self.order
        self.order += 1
        own_mask = self.mask(el)
        parts = [el.text or ""]
        link_words = links = 0
        counts: dict[tuple[str, str], int] = {}
        if len(el) > 1:
            for child in el:
                sig = (child.tag, child.get("class") or "")
                counts[sig] = counts.get(sig, 0) + 1
        child_anc = anc_mask | own_mask
        child_tags = tag_mask | _tag_bit(el.tag)
        up = [frame, *frames[:3]]
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in SKIP:
                parts.append(child.tail or "")
                continue
            if tag in INLINE and child not in self.has_block or el.tag == "pre":
                if len(child):
                    text = lxml.etree.tostring(child, method="text", encoding="unicode", with_tail=False)
                    has_link = tag == "a" or next(child.iter("a"), None) is not None
                else:  # a leaf (most inline elements): its text is all there is
                    text, has_link = child.text or "", tag == "a"
                parts.append(text)
                if has_link:
                    link_words += len(_WORD.findall(text))
                    links += 1
            else:
                n = counts[(tag, child.get("class") or "")] if counts else 1
                sub = self.visit(child, depth + 1, child_anc, child_tags, up, (n, max(rep[1], n), rep[0]))
                frame.words += sub.words
                frame.link_words += sub.link_words
                frame.blocks += sub.blocks
            parts.append(child.tail or "")
        text = " ".join(" ".join(parts).split())
        if text:
            words = len(_WORD.findall(text))
            if words:
                self.max_depth = max(self.max_depth, depth)
                block = Block(el, text, words, link_words, links, depth, own_mask, anc_mask, tag_mask, *rep, up, order)
                self.blocks.append(block)
                frame.words += words
                frame.link_words += link_words
                frame.blocks += 1
        return frame


_TAG_BITS = {t: 1 << i for i, t in enumerate(_ANCESTOR_TAGS)}


def _tag_bit(tag: str) -> int:
    return _TAG_BITS.get(tag, 0)


def segment(root: lxml.etree._Element) -> list[Block]:
    """The text blocks of the page's <body> (or root), in document order, their features filled in."""
    body = root.find("body")
    start = body if body is not None else root
    walk = _Walk()
    walk.mark_containers(start)
    page = walk.visit(start, 0, 0, 0, [], (1, 1, 1))
    # Blocks are appended when the walk leaves them (children first); document order is the start tag's.
    blocks = sorted(walk.blocks, key=lambda b: b.order)
    _fill(blocks, page, walk.max_depth, declared(root))
    return blocks


_TAG_ONE_HOT = {t: tuple(1.0 if t == u else 0.0 for u in (*_OWN_TAGS, "")) for t in _OWN_TAGS}
_TAG_OTHER = tuple(1.0 if u == "" else 0.0 for u in (*_OWN_TAGS, ""))
_DIGITS = re.compile(r"\d")


def _bits(mask: int, n: int, cache: dict[tuple[int, int], list[float]]) -> list[float]:
    found = cache.get((mask, n))
    if found is None:
        found = cache[(mask, n)] = [1.0 if mask & (1 << k) else 0.0 for k in range(n)]
    return found


def _fill(blocks: list[Block], page: _Frame, max_depth: int, kinds: list[float]) -> None:
    n = len(blocks)
    page_words = max(page.words, 1)
    before = 0
    log = math.log1p
    cache: dict[tuple[int, int], list[float]] = {}
    summary = [[log(b.words), b.link_words / b.words] for b in blocks]
    edge = [0.0, 0.0]
    frame_features: dict[int, list[float]] = {}  # id(frame) -> its three features (frames are shared)
    page_tail = [log(page.words), page.link_words / page_words, log(n)]
    n_tags, n_groups, deepest = len(_ANCESTOR_TAGS), len(_GROUPS), max(max_depth, 1)
    sentence_end, digits = _SENTENCE_END.search, _DIGITS.findall
    for i, b in enumerate(blocks):
        text = b.text
        words = b.words
        f = list(_TAG_ONE_HOT.get(b.element.tag, _TAG_OTHER))
        f += _bits(b.tag_mask, n_tags, cache)
        f += _bits(b.own_mask, n_groups, cache)
        f += _bits(b.anc_mask, n_groups, cache)
        chars = len(text)
        low = text.lower() if text.isascii() else None
        n_digits = len(digits(text))
        f += [
            log(words),
            log(chars),
            b.link_words / words,
            float(b.links),
            1.0 if sentence_end(text) else 0.0,
            sum(map(text.count, ",.;:!?")) / chars,
            n_digits / chars,
            1.0 if text[0].isupper() else 0.0,
            _found(_CURRENCY, _CURRENCY_WORDS, text, low),
            _found(_DATE, _MONTHS, text, low) if n_digits == 0 else _found(_DATE, (), text, None),
            _found(_BOILER, _BOILER_WORDS, text, low),
            chars / words,
            float(b.depth),
            b.depth / deepest,
            i / n,
            before / page_words,
            log(b.rep_self),
            log(b.rep_max),
            log(b.rep_parent),
        ]
        before += words
        frames = b.frames
        for fr in frames[:4] if len(frames) >= 4 else [*frames, *[page] * (4 - len(frames))]:
            found = frame_features.get(id(fr))
            if found is None:
                found = frame_features[id(fr)] = [
                    log(fr.words),
                    fr.link_words / fr.words if fr.words else 0.0,
                    log(fr.blocks),
                ]
            f += found
        f += summary[i - 1] if i >= 1 else edge
        f += summary[i - 2] if i >= 2 else edge
        f += summary[i + 1] if i + 1 < n else edge
        f += summary[i + 2] if i + 2 < n else edge
        f += page_tail
        f.append(words / page_words)
        f += kinds
        b.features = f
