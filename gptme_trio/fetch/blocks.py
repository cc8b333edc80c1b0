"""A page cut into text blocks, each with the features the block classifier reads (fetch/classify.py).

segment(root) -> list[Block], in document order. A block is an element that owns text directly:
its own text and that of its inline children (links, emphasis, code...), not the text of nested
block elements, which are blocks of their own. `pre` and `table` cells stay whole enough for
Markdown: a `pre` is one block; a table cell is a block like any other element.

The features (FEATURES names them, in order) are what the layout tells about a block: its words
and link density, its tag and its ancestors' tags, class/id tokens on it and above it, how often
its element's shape repeats among its siblings (posts, cards, results), its position, and the
size and link density of the containers around it. Pure lxml and Python: no I/O, no numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
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
)


@dataclass(eq=False)
class _Frame:
    """Totals of one element's subtree, filled as the walk leaves it."""

    words: int = 0
    link_words: int = 0
    blocks: int = 0


@dataclass(eq=False)
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
    features: list[float] = field(default_factory=list)


def _token_mask(token: str) -> int:
    return sum(1 << i for i, rx in enumerate(_GROUP_RE) if rx.search(token))


class _Walk:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.has_block: set[lxml.etree._Element] = set()
        self.max_depth = 0
        self.masks: dict[str, int] = {"": 0}  # class/id/role string -> group mask, for this page

    def mask(self, el: lxml.etree._Element) -> int:
        get = el.get
        words = f"{get('class') or ''} {get('id') or ''} {get('role') or ''}"
        mask = 0
        masks = self.masks
        for token in words.lower().split():
            found = masks.get(token)
            if found is None:
                found = masks[token] = _token_mask(token)
            mask |= found
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
                text = lxml.etree.tostring(child, method="text", encoding="unicode", with_tail=False)
                parts.append(text)
                if tag == "a" or child.find(".//a") is not None:
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
                block = Block(el, text, words, link_words, links, depth, own_mask, anc_mask, tag_mask, *rep, up)
                self.blocks.append(block)
                frame.words += words
                frame.link_words += link_words
                frame.blocks += 1
        return frame


def _tag_bit(tag: str) -> int:
    return 1 << _ANCESTOR_TAGS.index(tag) if tag in _ANCESTOR_TAGS else 0


def segment(root: lxml.etree._Element) -> list[Block]:
    """The text blocks of the page's <body> (or root), in document order, their features filled in."""
    body = root.find("body")
    start = body if body is not None else root
    walk = _Walk()
    walk.mark_containers(start)
    page = walk.visit(start, 0, 0, 0, [], (1, 1, 1))
    blocks = sorted(walk.blocks, key=_order(start))
    _fill(blocks, page, walk.max_depth)
    return blocks


def _order(start: lxml.etree._Element) -> Callable[[Block], int]:
    """Blocks are appended when the walk leaves them (children first); document order is the start tag's."""
    index = {el: i for i, el in enumerate(start.iter())}
    return lambda block: index[block.element]


_TAG_ONE_HOT = {t: tuple(1.0 if t == u else 0.0 for u in (*_OWN_TAGS, "")) for t in _OWN_TAGS}
_TAG_OTHER = tuple(1.0 if u == "" else 0.0 for u in (*_OWN_TAGS, ""))
_DIGITS = re.compile(r"\d")


def _bits(mask: int, n: int, cache: dict[tuple[int, int], list[float]]) -> list[float]:
    found = cache.get((mask, n))
    if found is None:
        found = cache[(mask, n)] = [1.0 if mask & (1 << k) else 0.0 for k in range(n)]
    return found


def _log(x: float) -> float:
    return math.log1p(x)


def _fill(blocks: list[Block], page: _Frame, max_depth: int) -> None:
    n = len(blocks)
    page_words = max(page.words, 1)
    before = 0
    cache: dict[tuple[int, int], list[float]] = {}
    summary = [(_log(b.words), b.link_words / b.words) for b in blocks]
    for i, b in enumerate(blocks):
        text = b.text
        tag = b.element.tag
        f = list(_TAG_ONE_HOT.get(tag, _TAG_OTHER))
        f += _bits(b.tag_mask, len(_ANCESTOR_TAGS), cache)
        f += _bits(b.own_mask, len(_GROUPS), cache)
        f += _bits(b.anc_mask, len(_GROUPS), cache)
        chars = len(text)
        f += [
            _log(b.words),
            _log(chars),
            b.link_words / b.words,
            float(b.links),
            1.0 if _SENTENCE_END.search(text) else 0.0,
            sum(map(text.count, ",.;:!?")) / chars,
            len(_DIGITS.findall(text)) / chars,
            1.0 if text[0].isupper() else 0.0,
            1.0 if _CURRENCY.search(text) else 0.0,
            1.0 if _DATE.search(text) else 0.0,
            1.0 if _BOILER.search(text) else 0.0,
            chars / b.words,
            float(b.depth),
            b.depth / max(max_depth, 1),
            i / n,
            before / page_words,
            _log(b.rep_self),
            _log(b.rep_max),
            _log(b.rep_parent),
        ]
        before += b.words
        frames = b.frames + [page] * (4 - len(b.frames))
        for fr in frames[:4]:
            f += [_log(fr.words), fr.link_words / fr.words if fr.words else 0.0, _log(fr.blocks)]
        for j in (i - 1, i - 2, i + 1, i + 2):
            f += list(summary[j]) if 0 <= j < n else [0.0, 0.0]
        f += [_log(page.words), page.link_words / page_words, _log(n), b.words / page_words]
        b.features = f
