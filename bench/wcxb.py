"""The WCXB dev split (shared/data/wcxb-dev; its README.md): pages, ground truth and the word-F1 metric.

Shared by bench/train_blocks.py (training, cross-validation) and bench/extraction_wcxb.py (the side by
side run). Metric as the README says: lower-case, multisets of `\\w+` tokens, precision, recall and F1
per page, averaged over pages; an empty prediction of a non-empty reference scores 0; Markdown link and
image syntax is stripped before scoring Markdown output.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import shared_data

DATA = shared_data("wcxb-dev")  # ../shared (or ../../shared from a worktree)
TYPES = ("article", "service", "product", "collection", "forum", "listing", "documentation")
WORD = re.compile(r"\w+")
_MARKDOWN = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links: keep the text
]


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    type: str
    domain: str
    body: bytes
    truth: str


def domain_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def load(data: Path = DATA, limit: int | None = None) -> list[Page]:
    pages = []
    for path in sorted((data / "ground-truth").glob("*.json"))[:limit]:
        record = json.loads(path.read_text(encoding="utf-8"))
        kind = record.get("_internal", {}).get("page_type", {}).get("primary", "article")
        truth = record["ground_truth"].get("main_content")
        if truth is None:  # two records (4802, 4893) have no main_content: skipped
            continue
        body = gzip.decompress((data / "html" / f"{path.stem}.html.gz").read_bytes())
        url = record.get("url") or f"https://unknown-{path.stem}.invalid/"  # one record has no url
        pages.append(Page(path.stem, url, kind, domain_of(url), body, truth))
    return pages


def sample(pages: list[Page], n: int) -> list[Page]:
    """About `n` pages, each type in its share, spread over its domains (every k-th page of the type,
    ordered by domain): a quick subset to iterate on, never a result."""
    if n >= len(pages):
        return pages
    chosen: list[Page] = []
    for kind in TYPES:
        of_type = sorted((p for p in pages if p.type == kind), key=lambda p: (p.domain, p.id))
        k = max(1, round(len(of_type) * n / len(pages)))
        chosen += [of_type[int(i * len(of_type) / k)] for i in range(k)] if of_type else []
    return sorted(chosen, key=lambda p: p.id)


def strip_markdown(text: str) -> str:
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    return text


def words(text: str) -> Counter[str]:
    return Counter(WORD.findall(text.lower()))


def score(truth: str, predicted: str) -> tuple[float, float, float]:
    """Word precision, recall, F1 of one page."""
    t, p = words(truth), words(predicted)
    n_t, n_p = sum(t.values()), sum(p.values())
    if n_t == n_p == 0:
        return 1.0, 1.0, 1.0
    common = sum((t & p).values())
    prec = common / n_p if n_p else 0.0
    rec = common / n_t if n_t else 0.0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)
