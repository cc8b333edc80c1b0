"""The block classifier: which text blocks of a page are its main content (fetch/blocks.py cuts them).

The model is fetch/model.json: gradient-boosted regression trees in two stages, trained by
`python -m bench.train_blocks` on shared/data/wcxb-dev (bench/results/train_blocks.md has its
cross-validated scores). The first stage scores every block from its blocks.FEATURES; the second
decides from those and the first stage's scores of the blocks around it (fetch/context.py). It is
read on first use and compiled to Python functions: no numpy.

main_html(root, model)   the page with everything but its main-content blocks removed, as HTML
                         (for html_to_markdown), or None when the classifier keeps too little
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import lxml.etree

from gptme_trio.fetch import context
from gptme_trio.fetch.blocks import FEATURES, GROUP_BITS, INLINE, Block, segment

# Fewer words than this kept: the page is not one the classifier understands (the caller falls back).
MIN_WORDS = 10
# A repeated item (a post, a card, a result) is completed around a kept block only when the model is
# this much surer than its threshold (log-odds) that the block is content, or when a sibling item of
# the same shape is completed: a link the model barely keeps in a menu item must not pull in the
# text of every item of the menu, but the last result of a list keeps its snippet.
ITEM_MARGIN = 0.5
# A kept block whose text repeats an earlier kept one word for word is dropped: a forum reply's quote
# of an earlier post, a pull quote, the mobile copy of a section, a carousel's slides cloned for its
# loop, a reviewer's line shown twice. Table cells and code may repeat with a meaning of their own, and
# so may a block whose class or id says it is an author, a date or a user (an author who posts twice).
REPEATS_KEPT = ("td", "th", "pre")


# keep() checks after every this many trees whether the rest can still change its answer.
_CHECK_EVERY = 4
_MARGIN = 1e-9  # leaves room for rounding: an early answer is the one the whole sum would give


@dataclass(frozen=True)
class Model:
    """A compiled model: `score(row)` is the log-odds that a block is main content, `keep(row)`
    whether it passes the threshold (the same answer, faster: it stops summing trees once the rest
    cannot change it), `sure(row)` whether it passes the threshold + ITEM_MARGIN (as fast). A row
    is a block's features, followed by its context.FEATURES when the model has a first stage
    (`first`: its log-odds from the block's features alone); rows() makes them."""

    score: Callable[[Sequence[float]], float]
    threshold: float
    keep: Callable[[Sequence[float]], bool]
    sure: Callable[[Sequence[float]], bool]
    first: Callable[[Sequence[float]], float] | None = None


def load(data: dict[str, Any] | None = None) -> Model:
    """The shipped model (or one given as its JSON data: the bench's cross-validation folds)."""
    if data is None:
        data = json.loads(resources.files("gptme_trio.fetch").joinpath("model.json").read_text(encoding="utf-8"))
    names = list(FEATURES)
    if list(data["features"]) != names or data.get("context", list(context.FEATURES)) != list(context.FEATURES):
        raise ValueError("model.json does not match the block features: retrain it (python -m bench.train_blocks)")
    first = _score(data["first"], len(names)) if "first" in data else None
    if first is not None:
        names += context.FEATURES
    threshold = math.log(data["threshold"] / (1 - data["threshold"]))
    decisions = []
    for cut in (threshold, threshold + ITEM_MARGIN):
        namespace: dict[str, Any] = {"__builtins__": {}}
        exec(compile(_keep_source(data, cut, len(names)), "<model.json>", "exec"), namespace)  # noqa: S102
        decisions.append(namespace["keep"])
    return Model(score=_score(data, len(names)), threshold=threshold, keep=decisions[0], sure=decisions[1], first=first)


def _score(data: dict[str, Any], n_features: int) -> Callable[[Sequence[float]], float]:
    """The log-odds of data's trees (their "base" and "trees") as one compiled function of a row of
    n_features: the row unpacked into locals first (1.7x faster than indexing it in every node)."""
    source = " + ".join(_tree_source(tree, 0, local=True) for tree in data["trees"]) or "0.0"
    namespace: dict[str, Any] = {"__builtins__": {}}
    code = f"def score(x):\n{_unpack(n_features)}\n    return {float(data['base'])!r} + {source}\n"
    exec(compile(code, "<model.json>", "exec"), namespace)  # noqa: S102 - numbers (_tree_source)
    return namespace["score"]  # type: ignore[no-any-return, unused-ignore]


def rows(blocks: list[Block], model: Model) -> list[Sequence[float]]:
    """Each block's row for `model`: its features, and with a first stage its context.FEATURES."""
    if model.first is None:
        return [b.features for b in blocks]
    first = model.first
    scores, words = [first(b.features) for b in blocks], [b.words for b in blocks]
    found = context.features(scores, words, [b.frames for b in blocks], [context.shape(b.element) for b in blocks])
    return [b.features + more for b, more in zip(blocks, found, strict=True)]


@functools.cache
def shipped() -> Model:
    """The shipped model, read and compiled once per process (~50 ms), on first use."""
    return load()


def _unpack(n_features: int) -> str:
    """The line that unpacks a row into the locals x0, x1, ... (faster in every node than x[i])."""
    return f"    ({', '.join(f'x{i}' for i in range(n_features))},) = x"


def _tree_source(tree: list[list[float]], node: int, local: bool = False) -> str:
    """One tree as a nested conditional expression; a node is [value] (a leaf) or [feature, threshold,
    left, right]. local: features are the variables x0, x1, ... rather than x[0], x[1], ..."""
    entry = tree[node]
    if len(entry) == 1:
        return repr(float(entry[0]))
    feature, threshold, left, right = int(entry[0]), float(entry[1]), int(entry[2]), int(entry[3])
    name = f"x{feature}" if local else f"x[{feature}]"
    yes, no = _tree_source(tree, left, local), _tree_source(tree, right, local)
    return f"({yes} if {name} <= {threshold!r} else {no})"


def _keep_source(data: dict[str, Any], threshold: float, n_features: int) -> str:
    """`def keep(x)`: the features unpacked into locals, the trees summed in order, and every
    _CHECK_EVERY trees an early answer when even the largest (smallest) leaves of the trees left
    cannot bring the sum over (under) the threshold."""
    trees = data["trees"]
    leaves = [[float(n[0]) for n in tree if len(n) == 1] for tree in trees]
    lines = ["def keep(x):", _unpack(n_features), f"    s = {float(data['base'])!r}"]
    for k, tree in enumerate(trees):
        lines.append(f"    s += {_tree_source(tree, 0, local=True)}")
        rest = leaves[k + 1 :]
        if rest and (k + 1) % _CHECK_EVERY == 0:
            most, least = sum(max(v) for v in rest), sum(min(v) for v in rest)
            lines.append(f"    if s <= {threshold - most - _MARGIN!r}: return False")
            lines.append(f"    if s > {threshold - least + _MARGIN!r}: return True")
    lines.append(f"    return s > {threshold!r}")
    return "\n".join(lines) + "\n"


def choose(blocks: list[Block], model: Model) -> list[Block]:
    """The blocks the model keeps, completed by structure: a block between two kept ones (a code
    block, a table header), a paragraph beside kept paragraphs, every cell of a table with a kept
    cell, the other text of a repeated item (a post's author and date, a card's snippet) with a kept
    block the model is sure of (ITEM_MARGIN) or in a sibling of such an item, and the heading above;
    a block that repeats an earlier kept one is kept once (REPEATS_KEPT: the tags that may repeat)."""
    keep_block, sure = model.keep, model.sure
    features = rows(blocks, model)
    voted = [keep_block(f) for f in features]
    keep = list(voted)
    for i in range(1, len(blocks) - 1):
        if voted[i - 1] and voted[i + 1] and not _linky(blocks[i]):
            keep[i] = True
    tables = {t for b, k in zip(blocks, keep, strict=True) if k and (t := _table_of(b)) is not None}
    items_of: dict[lxml.etree._Element, lxml.etree._Element | None] = {}
    counts: dict[lxml.etree._Element, dict[tuple[str, str], int]] = {}
    items: set[lxml.etree._Element] = set()
    maybe: list[lxml.etree._Element] = []  # the items of kept blocks the model is not sure of
    for b, f, v in zip(blocks, features, voted, strict=True):
        if v and (it := _item_of(b, items_of, counts)) is not None:
            if sure(f):
                items.add(it)
            else:
                maybe.append(it)
    shapes = {(it.getparent(), it.tag, it.get("class")) for it in items}
    items.update(it for it in maybe if (it.getparent(), it.tag, it.get("class")) in shapes)
    paragraphs = {b.element.getparent() for b, k in zip(blocks, keep, strict=True) if k and b.element.tag == "p"}
    for i, b in enumerate(blocks):
        if keep[i]:
            continue
        if b.element.tag == "p" and not _linky(b) and b.element.getparent() in paragraphs:
            keep[i] = True  # a short paragraph beside kept ones: an article's last line, a one-line answer
        elif tables and _table_of(b) in tables or items and not _linky(b) and _item_of(b, items_of, counts) in items:
            keep[i] = True
    for i in range(1, len(blocks) - 1):  # again, between what the completions kept: code before a table
        if not keep[i] and keep[i - 1] and keep[i + 1] and not _linky(blocks[i]):
            keep[i] = True
    first = next((i for i, k in enumerate(keep) if k), None)
    if first is not None:
        heading = next((i for i in range(first - 1, max(first - 4, -1), -1) if blocks[i].element.tag == "h1"), None)
        if heading is not None:  # the heading, and what sits between it and the content (a price, a byline)
            keep[heading] = True
            for i in range(heading + 1, first):
                keep[i] = not _linky(blocks[i])
    return _without_repeats([b for b, k in zip(blocks, keep, strict=True) if k])


def _without_repeats(kept: list[Block]) -> list[Block]:
    """`kept` without the blocks whose text an earlier one has (but table cells and code, REPEATS_KEPT, and
    a block marked as an author, a date or a user)."""
    seen: set[str] = set()
    found = []
    meta = GROUP_BITS["meta"]
    for b in kept:
        if b.tag not in REPEATS_KEPT and not b.own_mask & meta:
            if b.text in seen:
                continue
            seen.add(b.text)
        found.append(b)
    return found


def _linky(block: Block) -> bool:
    return block.link_words * 2 >= block.words


def _table_of(block: Block) -> lxml.etree._Element | None:
    if block.element.tag not in ("td", "th", "caption"):
        return None
    return next(block.element.iterancestors("table"), None)


def _item_of(
    block: Block,
    found: dict[lxml.etree._Element, lxml.etree._Element | None],
    counts: dict[lxml.etree._Element, dict[tuple[str, str], int]],
) -> lxml.etree._Element | None:
    """The nearest of the block's element and its 5 closest ancestors that has at least 2 siblings of
    its shape (tag and class): a post, a card, a result."""
    start = block.element
    if start in found:
        return found[start]
    el: lxml.etree._Element | None = start
    item = None
    for _ in range(6):
        parent = el.getparent() if el is not None else None
        if el is None or parent is None:
            break
        shapes = counts.get(parent)
        if shapes is None:
            shapes = counts[parent] = {}
            for sibling in parent:
                shape = (str(sibling.tag), sibling.get("class") or "")
                shapes[shape] = shapes.get(shape, 0) + 1
        if shapes.get((str(el.tag), el.get("class") or ""), 0) >= 3 and el.tag not in ("tr", "td", "th", "p"):
            item = el
            break
        el = parent
    found[start] = item
    return item


def main_html(root: lxml.etree._Element, model: Model) -> str | None:
    """The page's <body> pruned to the blocks the model keeps, structure (lists, tables, headings,
    code) intact; None when it keeps fewer than MIN_WORDS words. `root` is changed in place."""
    blocks = segment(root)
    kept = choose(blocks, model)
    if sum(b.words for b in kept) < MIN_WORDS:
        return None
    body = root.find("body")
    start = body if body is not None else root
    keep = {b.element for b in kept}
    above: set[lxml.etree._Element] = set()
    for el in keep:
        for ancestor in el.iterancestors():
            if ancestor in above:
                break
            above.add(ancestor)
    _prune(start, keep, above)
    for hidden in start.iter("noscript"):  # kept text in <noscript> (a forum's posts): the converter skips it
        hidden.tag = "div"
    return lxml.etree.tostring(start, encoding="unicode", method="html")


def _prune(el: lxml.etree._Element, keep: set[lxml.etree._Element], above: set[lxml.etree._Element]) -> None:
    """Keep `keep`'s own text and inline children, the bare structure of `above`, nothing else."""
    if el.tag == "pre" and el in keep:
        return
    own = el in keep
    if not own:
        el.text = None
    for child in list(el):
        tag = child.tag
        if child in keep or child in above:
            _prune(child, keep, above)
        elif own and isinstance(tag, str) and tag in INLINE and not _has_block_descendant(child):
            continue  # the kept block's own inline text
        elif own and child.tail and child.tail.strip():
            _drop_keeping_tail(child)
            continue
        else:
            el.remove(child)
            continue
        if not own:
            child.tail = None


def _has_block_descendant(el: lxml.etree._Element) -> bool:
    return any(isinstance(d.tag, str) and d.tag not in INLINE for d in el.iterdescendants())


def _drop_keeping_tail(child: lxml.etree._Element) -> None:
    parent, tail = child.getparent(), child.tail
    previous = child.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + " " + (tail or "")
    elif parent is not None:
        parent.text = (parent.text or "") + " " + (tail or "")
    if parent is not None:
        parent.remove(child)
