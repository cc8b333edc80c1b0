"""Context features for the block classifier's second stage: what the first stage thinks of a block's
neighbours, its containers and its page (fetch/classify.py runs both stages).

A block is content or not much as its surroundings are: a short line between two paragraphs the
first stage is sure of, a link in a container that is mostly content, one post of a thread whose
other posts are content. features(scores, words, frames, shapes) turns the first stage's log-odds of
every block of a page into FEATURES for each block: its own probability, its neighbours' (three on
each side, -1 outside the page), the word-weighted mean probability of the blocks in and under its
element and its three closest ancestors (the blocks.Block frames), of a window of five blocks on each
side and of the whole page, the mean probability of the blocks of its shape (shape(): tag and class
of it and its parent) and how many they are, where the block lies from the page's best run (the
blocks in a row with the largest sum of (probability - 1/2) x words), and from the <h1> above it.
Pure Python and lxml: the bench (bench/train_blocks.py) computes the same from its own pages.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import lxml.etree

FEATURES: tuple[str, ...] = (
    "s1_logodds",
    "s1_prob",
    *(f"s1_{side}{k}" for side in ("prev", "next") for k in (1, 2, 3)),
    *(f"s1_up{k}" for k in range(4)),
    "s1_window",
    "s1_shape_mean",
    "shape_log",
    "s1_page_mean",
    "s1_page_max",
    "s1_page_kept",
    "s1_rel_max",
    "run_in",
    "run_blocks_log",
    "run_words_between",
    "run_share",
    "h1_above",
    "h1_blocks_log",
)
_NEIGHBOURS = 3
_WINDOW = 5
_OUTSIDE = -1.0


def features(
    scores: Sequence[float],
    words: Sequence[int],
    frames: Sequence[Sequence[Hashable]],
    shapes: Sequence[tuple[str | None, ...]],
) -> list[list[float]]:
    """Each block's FEATURES: `scores` the first stage's log-odds, `words` the blocks' word counts,
    `frames` each block's element and closest ancestors (any keys: shared by the blocks under one),
    `shapes` each block's shape (shape(): the blocks of repeated items share one)."""
    n = len(scores)
    if not n:
        return []
    exp = math.exp
    p = [1.0 / (1.0 + exp(-s)) if s > -50 else 0.0 for s in scores]
    weighted = [pi * wi for pi, wi in zip(p, words, strict=True)]
    total_words = sum(words) or 1
    page_mean = sum(weighted) / total_words
    page_max = max(p)
    kept = sum(w for pi, w in zip(p, words, strict=True) if pi > 0.5) / total_words
    sums: dict[Hashable, list[float]] = {}
    for i, up in enumerate(frames):
        for key in up:
            acc = sums.get(key)
            if acc is None:
                sums[key] = [weighted[i], words[i]]
            else:
                acc[0] += weighted[i]
                acc[1] += words[i]
    by_shape: dict[tuple[str | None, ...], list[float]] = {}
    for pi, key in zip(p, shapes, strict=True):
        acc = by_shape.get(key)
        if acc is None:
            by_shape[key] = [pi, 1.0]
        else:
            acc[0] += pi
            acc[1] += 1.0
    # prefix sums for the windows
    pre_w, pre_ww = [0.0], [0.0]
    for i in range(n):
        pre_w.append(pre_w[-1] + weighted[i])
        pre_ww.append(pre_ww[-1] + words[i])
    start, end = _best_run(p, words)
    run_share = (pre_ww[end + 1] - pre_ww[start]) / total_words
    padded = [_OUTSIDE] * _NEIGHBOURS + p + [_OUTSIDE] * _NEIGHBOURS
    log = math.log1p
    rows = []
    h1 = -1  # the last <h1> block so far
    for i in range(n):
        if shapes[i][0] == "h1":
            h1 = i
        up = frames[i]
        ups = []
        for k in range(4):
            if k < len(up):
                acc = sums[up[k]]
                ups.append(acc[0] / acc[1] if acc[1] else page_mean)
            else:
                ups.append(page_mean)
        same = by_shape[shapes[i]]
        lo, hi = max(0, i - _WINDOW), min(n, i + _WINDOW + 1)
        window_words = pre_ww[hi] - pre_ww[lo]
        if i < start:
            apart, between = start - i, pre_ww[start] - pre_ww[i + 1]
        elif i > end:
            apart, between = i - end, pre_ww[i] - pre_ww[end + 1]
        else:
            apart, between = 0, 0.0
        rows.append(
            [
                scores[i],
                p[i],
                padded[i + 2],
                padded[i + 1],
                padded[i],
                padded[i + 4],
                padded[i + 5],
                padded[i + 6],
                *ups,
                (pre_w[hi] - pre_w[lo]) / window_words if window_words else 0.0,
                same[0] / same[1],
                log(same[1]),
                page_mean,
                page_max,
                kept,
                p[i] / page_max if page_max else 0.0,
                1.0 if apart == 0 else 0.0,
                log(apart),
                between / total_words,
                run_share,
                1.0 if h1 >= 0 else 0.0,
                log(i - h1) if h1 >= 0 else -1.0,
            ]
        )
    return rows


def shape(element: lxml.etree._Element) -> tuple[str | None, ...]:
    """A block's shape: its element's tag and class, its parent's and its grandparent's tag."""
    parent = element.getparent()
    grand = parent.getparent() if parent is not None else None
    return (
        str(element.tag),
        element.get("class"),
        str(parent.tag) if parent is not None else None,
        parent.get("class") if parent is not None else None,
        str(grand.tag) if grand is not None else None,
    )


def _best_run(p: Sequence[float], words: Sequence[int]) -> tuple[int, int]:
    """The first and last index of the blocks in a row with the largest sum of (p - 1/2) x words."""
    best, best_start, best_end = -math.inf, 0, 0
    running, start = 0.0, 0
    for i, (pi, wi) in enumerate(zip(p, words, strict=True)):
        gain = (pi - 0.5) * wi
        if running <= 0:
            running, start = gain, i
        else:
            running += gain
        if running > best:
            best, best_start, best_end = running, start, i
    return best_start, best_end
