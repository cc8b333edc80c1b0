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
from typing import Any

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
# A class/id string is in a group when one of the group's words occurs in it; "ad(s)" only as a word
# of its own ("ad", "top-ads"; not "header"). _WORD_BITS: each word's groups, and those of the words
# it starts with ("topic": comment, and chrome for "top"). _GROUP_WORDS finds, at every place of a
# string, the longest word there (a trie, so that it runs in C: ~5 us for a class string).
_WORD_BITS: dict[str, int] = {}
for _i, (_, _pattern) in enumerate(_GROUPS):
    for _word in _pattern.split("|"):
        if _word.isalpha() or "-" in _word:
            _WORD_BITS[_word] = _WORD_BITS.get(_word, 0) | 1 << _i
_WORD_BITS = {
    w: functools.reduce(int.__or__, (b for u, b in _WORD_BITS.items() if w.startswith(u))) for w in _WORD_BITS
}


def _trie(words: list[str]) -> str:
    """A regex matching the longest of `words` that starts at a place (greedy optional tails)."""
    tails: dict[str, list[str]] = {}
    for word in words:
        if word:
            tails.setdefault(word[0], []).append(word[1:])
    branches = [re.escape(first) + _trie(rest) for first, rest in sorted(tails.items())]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in words else body


_GROUP_WORDS = re.compile(f"(?=({_trie(list(_WORD_BITS))}))")
GROUP_BITS = {name: 1 << i for i, (name, _) in enumerate(_GROUPS)}  # a Block's own_mask and anc_mask bits
_ADS, _ADS_BIT = re.compile(r"\bads?\b"), GROUP_BITS["ad"]
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
# For an ASCII text the patterns are searched case-sensitively in the text lower-cased (the same
# answer, faster), after a quick "no" for most blocks: a word one of which a match must contain.
_CURRENCY_LOW, _DATE_LOW, _BOILER_LOW = (re.compile(rx.pattern) for rx in (_CURRENCY, _DATE, _BOILER))
_BOILER_WORDS = re.compile("cookie|privacy|copyright|all rights reserved|sign in|sign up|login|log in|subscribe")
_MONTH_LOW = re.compile("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")  # a date without digits has one


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
    features: list[float] | None = None  # its three features, once a block asks for them


@dataclass(eq=False, slots=True)
class Block:
    element: lxml.etree._Element
    tag: str
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


def _group_mask(words: str) -> int:
    """The groups (bits) whose words occur in `words` (a class, id or role, lower-cased)."""
    mask = 0
    for found in _GROUP_WORDS.finditer(words):
        mask |= _WORD_BITS[found.group(1)]
    if "ad" in words and _ADS.search(words):
        mask |= _ADS_BIT
    return mask


_TAG_BITS = {t: 1 << i for i, t in enumerate(_ANCESTOR_TAGS)}


def _contains_block(el: lxml.etree._Element) -> bool:
    """Whether an inline element contains a block element (a card wrapped in <a>): then it is not inline."""
    for d in el.iterdescendants():
        tag = d.tag
        if isinstance(tag, str) and tag not in INLINE and tag not in SKIP:
            return True
    return False


def _mask(el: lxml.etree._Element, masks: dict[str, int]) -> int:
    """The groups of the element's class, id and role (`masks`: this page's strings so far)."""
    get, mask = el.get, 0
    for words in (get("class"), get("id"), get("role")):
        if words:
            bits = masks.get(words)
            if bits is None:
                bits = masks[words] = _group_mask(words.lower())
            mask |= bits
    return mask


def _walk(start: lxml.etree._Element) -> tuple[list[Block], _Frame, int]:
    """The blocks under `start` in document order, the totals of the whole and the deepest block's depth."""
    blocks: list[Block] = []
    masks: dict[str, int] = {}
    deepest = 0
    find_words, tostring, inline, skip = _WORD.findall, lxml.etree.tostring, INLINE, SKIP

    def visit(
        el: Any, depth: int, anc_mask: int, tag_mask: int, frames: list[_Frame], rep: tuple[int, int, int]
    ) -> _Frame:
        nonlocal deepest
        frame = _Frame()
        slot = len(blocks)  # its block goes before its descendants': document order
        own_mask = _mask(el, masks)
        first, el_tag = el.text, el.tag
        parts = [first] if first else []
        link_words = links = 0
        counts: dict[tuple[Any, str], int] | None = None
        up = [frame, *frames[:3]]
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in skip:
                pass
            elif el_tag == "pre" or tag in inline and not (len(child) and _contains_block(child)):
                if len(child):
                    text = tostring(child, method="text", encoding="unicode", with_tail=False)
                    has_link = tag == "a" or next(child.iter("a"), None) is not None
                else:  # a leaf (most inline elements): its text is all there is
                    text, has_link = child.text or "", tag == "a"
                if text:
                    parts.append(text)
                if has_link:
                    link_words += len(find_words(text))
                    links += 1
            else:
                if counts is None:  # how often each (tag, class) occurs among the children
                    counts = {}
                    if len(el) > 1:
                        for sibling in el:
                            sig = (sibling.tag, sibling.get("class") or "")
                            counts[sig] = counts.get(sig, 0) + 1
                n = counts[(tag, child.get("class") or "")] if counts else 1
                child_tags = tag_mask | _TAG_BITS.get(el_tag, 0)
                sub = visit(child, depth + 1, anc_mask | own_mask, child_tags, up, (n, max(rep[1], n), rep[0]))
                frame.words += sub.words
                frame.link_words += sub.link_words
                frame.blocks += sub.blocks
            tail = child.tail
            if tail:
                parts.append(tail)
        text = " ".join(" ".join(parts).split()) if parts else ""
        words = len(find_words(text)) if text else 0
        if words:
            deepest = max(deepest, depth)
            block = Block(el, el_tag, text, words, link_words, links, depth, own_mask, anc_mask, tag_mask, *rep, up)
            blocks.insert(slot, block)
            frame.words += words
            frame.link_words += link_words
            frame.blocks += 1
        return frame

    page = visit(start, 0, 0, 0, [], (1, 1, 1))
    return blocks, page, deepest


def segment(root: lxml.etree._Element) -> list[Block]:
    """The text blocks of the page's <body> (or root), in document order, their features filled in."""
    body = root.find("body")
    blocks, page, deepest = _walk(body if body is not None else root)
    _fill(blocks, page, deepest, declared(root))
    return blocks


_TAG_ONE_HOT = {t: tuple(1.0 if t == u else 0.0 for u in (*_OWN_TAGS, "")) for t in _OWN_TAGS}
_TAG_OTHER = tuple(1.0 if u == "" else 0.0 for u in (*_OWN_TAGS, ""))
_DIGITS = re.compile(r"\d")
_ALL_NONWORD = re.compile(r"\W*")
_END_WINDOW = 16  # _SENTENCE_END is searched in the text's last characters


def _bits(mask: int, n: int) -> list[float]:
    return [1.0 if mask & (1 << k) else 0.0 for k in range(n)]


def _fill(blocks: list[Block], page: _Frame, max_depth: int, kinds: list[float]) -> None:
    n = len(blocks)
    page_words = max(page.words, 1)
    before = 0
    log = math.log1p
    n_tags, n_groups, deepest = len(_ANCESTOR_TAGS), len(_GROUPS), max(max_depth, 1)
    prefixes: dict[tuple[str, int, int, int], list[float]] = {}  # tag and masks -> their one-hot features
    summary = [[log(b.words), b.link_words / b.words] for b in blocks]
    edge = [0.0, 0.0]
    neighbours = [edge, edge, *summary, edge, edge]  # summary[i - 2] ... summary[i + 2], edges outside
    tail = [log(page.words), page.link_words / page_words, log(n)]
    digits, count = _DIGITS.findall, str.count
    currency, date, boiler = _CURRENCY.search, _DATE.search, _BOILER.search
    currency_low, date_low, boiler_low = _CURRENCY_LOW.search, _DATE_LOW.search, _BOILER_LOW.search
    month_low, boiler_words = _MONTH_LOW.search, _BOILER_WORDS.search
    sentence_end, all_nonword = _SENTENCE_END.search, _ALL_NONWORD.fullmatch
    for i, b in enumerate(blocks):
        text, words = b.text, b.words
        key = (b.tag, b.tag_mask, b.own_mask, b.anc_mask)
        f = prefixes.get(key)
        if f is None:
            f = prefixes[key] = [
                *_TAG_ONE_HOT.get(b.tag, _TAG_OTHER),
                *_bits(b.tag_mask, n_tags),
                *_bits(b.own_mask, n_groups),
                *_bits(b.anc_mask, n_groups),
            ]
        chars = len(text)
        n_digits = len(digits(text))
        if text.isascii():
            low = text.lower()
            has_currency = ("$" in low or "usd" in low or "eur" in low or "gbp" in low) and currency_low(low)
            has_boiler = boiler_words(low) and boiler_low(low)
            has_date = (n_digits or month_low(low)) and date_low(low)
        else:
            has_currency, has_boiler, has_date = currency(text), boiler(text), date(text)
        start = chars - _END_WINDOW  # the whole text when its last characters are all \W
        ends = sentence_end(text, 0 if start <= 0 or all_nonword(text, start) else start)
        punctuation = count(text, ",") + count(text, ".") + count(text, ";") + count(text, ":")
        f = [
            *f,
            log(words),
            log(chars),
            b.link_words / words,
            float(b.links),
            1.0 if ends else 0.0,
            (punctuation + count(text, "!") + count(text, "?")) / chars,
            n_digits / chars,
            1.0 if text[0].isupper() else 0.0,
            1.0 if has_currency else 0.0,
            1.0 if has_date else 0.0,
            1.0 if has_boiler else 0.0,
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
        for fr in frames if len(frames) >= 4 else [*frames, *[page] * (4 - len(frames))]:
            found = fr.features
            if found is None:
                words_up = fr.words
                found = fr.features = [log(words_up), fr.link_words / words_up if words_up else 0.0, log(fr.blocks)]
            f += found
        f += neighbours[i + 1]
        f += neighbours[i]
        f += neighbours[i + 3]
        f += neighbours[i + 4]
        f += tail
        f.append(words / page_words)
        f += kinds
        b.features = f
