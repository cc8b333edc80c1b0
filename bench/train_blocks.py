"""Train the block classifier (gptme_trio/fetch/model.json) on the WCXB dev split, cross-validated.

    python -m bench.train_blocks            # writes gptme_trio/fetch/model.json and bench/results/train_blocks.md

Needs scikit-learn and numpy in the venv (bench only: the package evaluates the trees itself).
1. Every page is parsed and cut into blocks as fetch does (fetch/blocks.py); a block is labelled main
   content when at least half of its word pairs (its word, for one-word blocks) occur in the ground
   truth. Each block is weighted by its share of its page's words, so every page counts alike, as
   in the per-page F1.
2. Two stages of trees: the first on the blocks' features, the second on those and context.FEATURES
   (the first stage's scores of the blocks around, their containers and the page). The second is
   trained on first-stage scores from INNER folds (grouped by domain) of its own training pages,
   never on scores of blocks the first stage was fit on: those are over-confident.
3. Five folds grouped by domain (no site is in both a fold's training and test pages): a model is
   trained on four, and the fifth's pages are extracted with it by the real code (extract.to_markdown
   with that model) and scored. Those out-of-fold scores are the only figures reported.
4. The shipped model is then trained on all pages with the same settings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: the machine is shared

import numpy as np  # type: ignore[import-not-found, unused-ignore]  # bench only
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped, import-not-found, unused-ignore]
from sklearn.model_selection import GroupKFold  # type: ignore[import-untyped, import-not-found, unused-ignore]

from bench import wcxb
from bench.harness import ROOT, default_out, header, shown
from gptme_trio.fetch import blocks, classify, context, extract
from gptme_trio.fetch.options import Extractor

MODEL = ROOT / "gptme_trio" / "fetch" / "model.json"
PARAMS: dict[str, Any] = {
    "max_iter": 120,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "random_state": 0,
}
FIRST: dict[str, Any] = dict(PARAMS)  # the first stage's settings (fetch/context.py reads its scores)
THRESHOLD = 0.5
FOLDS = 5
INNER = 3  # folds for the first-stage scores the second stage is trained on


def label(block: blocks.Block, truth_pairs: set[tuple[str, str]], truth_words: set[str]) -> float:
    tokens = wcxb.WORD.findall(block.text.lower())
    if len(tokens) < 2:
        return float(bool(tokens) and tokens[0] in truth_words)
    pairs = list(zip(tokens, tokens[1:], strict=False))
    return float(sum(1 for p in pairs if p in truth_pairs) * 2 >= len(pairs))


class PageBlocks(NamedTuple):
    """One page's blocks: features, labels, weights, and for context.features their words and frames
    (numbered within the page)."""

    x: list[list[float]]
    y: list[float]
    w: list[float]
    words: list[int]
    frames: list[list[int]]
    shapes: list[tuple[str | None, ...]]


def page_blocks(page: wcxb.Page) -> PageBlocks:
    root = extract.parse_for_blocks(extract.decode_html(page.body))
    if root is None:
        return PageBlocks([], [], [], [], [], [])
    found = blocks.segment(root)
    tokens = wcxb.WORD.findall(page.truth.lower())
    pairs, words = set(zip(tokens, tokens[1:], strict=False)), set(tokens)
    total = sum(b.words for b in found) or 1
    ids: dict[int, int] = {}
    return PageBlocks(
        [b.features for b in found],
        [label(b, pairs, words) for b in found],
        [b.words / total for b in found],
        [b.words for b in found],
        [[ids.setdefault(id(f), len(ids)) for f in b.frames] for b in found],
        [context.shape(b.element) for b in found],
    )


def export(model: HistGradientBoostingClassifier) -> dict[str, Any]:
    """The fitted trees as model.json data: node [value] or [feature, threshold, left, right]."""
    trees = []
    for (predictor,) in model._predictors:  # noqa: SLF001 - bench-only export of sklearn's fitted trees
        nodes = []
        for node in predictor.nodes:
            if node["is_leaf"]:
                nodes.append([round(float(node["value"]), 6)])
            else:
                nodes.append(
                    [int(node["feature_idx"]), float(node["num_threshold"]), int(node["left"]), int(node["right"])]
                )
        trees.append(nodes)
    base = float(np.ravel(model._baseline_prediction)[0])  # noqa: SLF001
    return {
        "features": list(blocks.FEATURES),
        "base": base,
        "threshold": THRESHOLD,
        "trees": trees,
        "trained_on": "shared/data/wcxb-dev",
        "params": PARAMS,
    }


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, params: dict[str, Any]) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(**params)
    model.fit(x, y, sample_weight=w)
    return model


class Blocks:
    """Every page's blocks: features, labels, weights, and the page each row belongs to."""

    def __init__(self, pages: list[wcxb.Page]) -> None:
        self.pages = [page_blocks(p) for p in pages]
        self.domains = [p.domain for p in pages]
        self.rows = np.array([i for i, page in enumerate(self.pages) for _ in page.x])
        self.starts = np.cumsum([0, *(len(page.x) for page in self.pages)])
        self.x = np.array([row for page in self.pages for row in page.x], dtype=np.float64)
        self.y = np.array([v for page in self.pages for v in page.y])
        self.w = np.array([v for page in self.pages for v in page.w])

    def fit(self, pages: np.ndarray | None = None) -> dict[str, Any]:
        """The two stages trained on `pages` (all by default): the first on the blocks' features; the
        second on those and their context.FEATURES from first-stage scores each out of fold (INNER
        folds grouped by domain within `pages`), never a model's scores of the blocks it was fit on."""
        pages = np.arange(len(self.pages)) if pages is None else pages
        mask = np.isin(self.rows, pages)
        first = fit(self.x[mask], self.y[mask], self.w[mask], FIRST)
        scores = np.zeros(len(self.y))
        for inner, held in GroupKFold(n_splits=INNER).split(pages, groups=[self.domains[i] for i in pages]):
            rows = np.isin(self.rows, pages[inner])
            held_rows = np.isin(self.rows, pages[held])
            scores[held_rows] = fit(self.x[rows], self.y[rows], self.w[rows], FIRST).decision_function(
                self.x[held_rows]
            )
        more = np.zeros((len(self.y), len(context.FEATURES)))
        for i in pages:
            start, end = self.starts[i], self.starts[i + 1]
            if end > start:
                page = self.pages[i]
                more[start:end] = context.features(list(scores[start:end]), page.words, page.frames, page.shapes)
        second = fit(np.hstack([self.x, more])[mask], self.y[mask], self.w[mask], PARAMS)
        return {
            **export(second),
            "context": list(context.FEATURES),
            "first": {k: v for k, v in export(first).items() if k in ("base", "trees")},
            "first_params": FIRST,
            "inner_folds": INNER,
        }


def cross_validate(pages: list[wcxb.Page], data: Blocks) -> dict[str, tuple[str, float]]:
    """Each page's Markdown and extraction time (ms: decode_html + to_markdown), from the model of the
    fold that did not see its domain."""
    return cross_validate_extractors(pages, data, ("blocks",))["blocks"]


def cross_validate_extractors(
    pages: list[wcxb.Page], data: Blocks, names: tuple[Extractor, ...]
) -> dict[str, dict[str, tuple[str, float]]]:
    """cross_validate for each of `names` (fetch's --extractor values), timed in turn on each page (the
    order alternating, so that they share the machine's load), with the same fold models."""
    found: dict[str, dict[str, tuple[str, float]]] = {name: {} for name in names}
    folds = GroupKFold(n_splits=FOLDS).split(pages, groups=[p.domain for p in pages])
    for fold, (train, test) in enumerate(folds):
        model = classify.load(data.fit(train))
        for name in names:  # warm-up: imports
            extract.to_markdown(extract.decode_html(pages[test[0]].body), extractor=name, model=model)
        for k, i in enumerate(test):
            page = pages[i]
            for name in names if k % 2 else names[::-1]:
                started = time.perf_counter()
                out = extract.to_markdown(extract.decode_html(page.body), url=page.url, extractor=name, model=model)
                found[name][page.id] = out, (time.perf_counter() - started) * 1000
        f1 = {
            name: statistics.mean(
                wcxb.score(pages[i].truth, wcxb.strip_markdown(found[name][pages[i].id][0]))[2] for i in test
            )
            for name in names
        }
        print(
            f"fold {fold}: {len(test)} pages, F1 " + ", ".join(f"{n} {v:.4f}" for n, v in f1.items()), file=sys.stderr
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=wcxb.DATA)
    parser.add_argument("--pages", type=int, help="only the first N pages (a quick try, not a result)")
    parser.add_argument("--out", type=Path, default=default_out("train_blocks.md"))
    parser.add_argument("--no-write", action="store_true", help="cross-validate only; leave model.json alone")
    args = parser.parse_args()
    started = time.time()
    pages = wcxb.load(args.data, args.pages)
    print(f"{len(pages)} pages: cutting blocks...", file=sys.stderr)
    data = Blocks(pages)
    outputs = cross_validate(pages, data)
    scores = {i: wcxb.score(p.truth, wcxb.strip_markdown(outputs[p.id][0])) for i, p in ((p.id, p) for p in pages)}
    by_type: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for p in pages:
        by_type[p.type].append(scores[p.id])
    lines = [
        header("Block classifier: domain-grouped 5-fold cross-validation on wcxb-dev"),
        f"{len(pages)} pages, {len(data.x)} blocks ({int(data.y.sum())} main content), {time.time() - started:.0f} s.",
        f"Settings: {json.dumps(PARAMS)}, threshold {THRESHOLD}; first stage {json.dumps(FIRST)}, "
        f"its scores for the second from {INNER} inner folds.",
        "",
        "| Type | Pages | Precision | Recall | F1 |",
        "|---|---|---|---|---|",
    ]
    for kind in ("all", *wcxb.TYPES):
        got = list(scores.values()) if kind == "all" else by_type.get(kind, [])
        if got:
            prec, rec, f1 = (statistics.mean(s[k] for s in got) for k in range(3))
            lines.append(f"| {kind} | {len(got)} | {prec:.4f} | {rec:.4f} | {f1:.4f} |")
    if not args.no_write:
        shipped = data.fit()
        MODEL.write_text(json.dumps(shipped, separators=(",", ":")) + "\n", encoding="utf-8")
        lines += [
            "",
            f"Wrote {shown(MODEL)} ({MODEL.stat().st_size // 1024} KB, {len(shipped['trees'])} trees), "
            "trained on all pages.",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-12:]), file=sys.stderr)


if __name__ == "__main__":
    main()
