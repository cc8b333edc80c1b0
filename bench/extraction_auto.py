"""`--extractor auto` (fetch/route.py) against trafilatura and the block classifier, on every page type.

    python -m bench.extraction_auto          # writes bench/results/extraction_auto.md (~10 min, one core)

Needs scikit-learn and numpy (bench/train_blocks.py trains the fold models). In one run:
- wcxb-dev (bench/wcxb.py: 1,495 pages of seven types, word F1): trafilatura as fetch runs it
  (extract.to_markdown), and blocks and auto cross-validated as bench/train_blocks.py does: five folds
  grouped by domain, each page extracted by the block classifier trained on the other four (auto's rule
  has no trained part: its constants are route.py's, and the sweep below shows them against others).
- the ScrapingHub article set (bench/extraction_bench.py's data and 4-gram metric; held out: nothing was
  trained on it), extract.to_text with the shipped model.json, each page given its real URL (from
  ground-truth.json), as a fetch of that URL would.
- ms/page: decode_html + the extraction, one call per page after a warm-up, single process, the three
  extractors in turn on each page (order alternating); and how often auto ran both extractors.
- A sweep of route.py's constants (SHORT, GROWTH, MAX_LINK_SHARE) on the same outputs: the F1s each
  setting would give, to retune them when model.json changes.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: the machine is shared

from bench import extraction_bench, train_blocks, wcxb
from bench.harness import PASS, ROOT, default_out, header, shown
from gptme_trio.fetch import classify, extract, route
from gptme_trio.fetch.options import Extractor

NAMES: tuple[Extractor, ...] = ("trafilatura", "blocks", "auto")
SH_TARGET = 0.955
NOTE = (
    "The rule has no trained part. Its first step (an article goes to trafilatura) follows from what the "
    "classifier keeps under articles (comment threads, lists of other stories); its constants and the "
    "comments-heading test were chosen looking at both sets' outputs, so the ScrapingHub figure is held out "
    "for the block classifier's model, not for these constants. The sweep shows the trade: a larger SHORT "
    "gains on wcxb and loses on ScrapingHub. wcxb's figures for blocks and auto are cross-validated by domain "
    "(the block model); the constants were set on all of wcxb-dev."
)
SWEEP = {"SHORT": (50, 100, 200, 400), "GROWTH": (2.0, 3.0), "MAX_LINK_SHARE": (0.3, 0.5, 1.0)}


@dataclass
class Page:
    """One page's outputs (Markdown for wcxb, text for ScrapingHub), times, and what auto saw."""

    truth: str
    kind: str
    out: dict[str, str] = field(default_factory=dict)
    ms: dict[str, float] = field(default_factory=dict)
    article: bool = False  # route.looks_like_article
    route_ms: float = 0.0
    blocks_md: str = ""  # for the sweep (ScrapingHub: the text outputs are scored)


def run(page: Page, name: Extractor, body: bytes, url: str, *, text: bool, model: classify.Model | None) -> None:
    convert = extract.to_text if text else extract.to_markdown
    started = time.perf_counter()
    page.out[name] = convert(extract.decode_html(body), url=url, extractor=name, model=model)
    page.ms[name] = (time.perf_counter() - started) * 1000


def routed(page: Page, html: str, url: str) -> None:
    started = time.perf_counter()
    page.article = route.looks_like_article(html, url)
    page.route_ms = (time.perf_counter() - started) * 1000


def wcxb_pages(data: Path, limit: int | None) -> dict[str, Page]:
    pages = wcxb.load(data, limit)
    print(f"{len(pages)} pages: cutting blocks for the fold models...", file=sys.stderr)
    outputs = train_blocks.cross_validate_extractors(pages, train_blocks.Blocks(pages), NAMES)
    found = {}
    for p in pages:
        page = found[p.id] = Page(p.truth, p.type)
        for name in NAMES:
            page.out[name], page.ms[name] = outputs[name][p.id]
        page.blocks_md = page.out["blocks"]
        routed(page, extract.decode_html(p.body), p.url)
    return found


def sh_pages(data: Path, limit: int | None) -> dict[str, Page]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    found = {}
    for i in sorted(truth)[:limit]:
        body = gzip.decompress((data / "html" / f"{i}.html.gz").read_bytes())
        html = extract.decode_html(body)
        page = found[i] = Page(truth[i]["articleBody"], "article")
        url = truth[i].get("url", "")
        for name in NAMES if len(found) == 1 else ():  # warm-up: imports
            extract.to_text(html, extractor=name)
        for name in NAMES if len(found) % 2 else NAMES[::-1]:
            run(page, name, body, url, text=True, model=None)
        page.blocks_md = extract.to_markdown(html, url=url, extractor="blocks")
        routed(page, html, url)
    return found


def wcxb_score(page: Page, name: str) -> tuple[float, float, float]:
    return wcxb.score(page.truth, wcxb.strip_markdown(page.out[name]))


def sh_score(page: Page, name: str) -> tuple[float, float, float]:
    return extraction_bench.score(page.truth, page.out[name])


def swept(page: Page) -> str:
    """What auto would give with route.py's constants as they are set now."""
    if not page.article:
        return "blocks"
    found = page.out["trafilatura"]
    return "blocks" if route.is_short(found) and route.adds_content(found, page.blocks_md) else "trafilatura"


def sweep(wx: dict[str, Page], sh: dict[str, Page]) -> list[str]:
    saved = {k: getattr(route, k) for k in SWEEP}
    lines = [
        "| SHORT | GROWTH | MAX_LINK_SHARE | wcxb F1 | article F1 | ScrapingHub F1 | wcxb pages to blocks |",
        "|---|---|---|---|---|---|---|",
    ]
    try:
        for values in itertools.product(*SWEEP.values()):
            for key, value in zip(SWEEP, values, strict=True):
                setattr(route, key, value)
            picks = {i: swept(p) for i, p in wx.items()}
            f1 = statistics.mean(wcxb_score(p, picks[i])[2] for i, p in wx.items())
            art = statistics.mean(wcxb_score(p, picks[i])[2] for i, p in wx.items() if p.kind == "article")
            shf = statistics.mean(sh_score(p, swept(p))[2] for p in sh.values())
            mark = " (shipped)" if values == tuple(saved.values()) else ""
            n = sum(v == "blocks" for v in picks.values())
            lines.append(
                f"| {values[0]}{mark} | {values[1]:g} | {values[2]:g} | {f1:.4f} | {art:.4f} | {shf:.4f} | {n} |"
            )
    finally:
        for key, value in saved.items():
            setattr(route, key, value)
    return lines


def relative(path: Path) -> str:
    """`path` relative to the repository root (no machine path in a results file)."""
    return os.path.relpath(path, ROOT) if path.is_absolute() else str(path)


def ms_row(name: str, pages: list[Page], key: str) -> str:
    ms = sorted(p.ms[key] for p in pages)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"| {name} | {statistics.median(ms):.1f} | {statistics.mean(ms):.1f} | {p95:.1f} |"


def report(wx: dict[str, Page], sh: dict[str, Page], args: argparse.Namespace, seconds: float) -> list[str]:
    scores = {n: {i: wcxb_score(p, n) for i, p in wx.items()} for n in NAMES}
    sh_f1 = {n: statistics.mean(sh_score(p, n)[2] for p in sh.values()) for n in NAMES}
    mean = {n: statistics.mean(s[2] for s in scores[n].values()) for n in NAMES}
    lines = [
        header("--extractor auto: trafilatura or the block classifier, per page (issue 13)"),
        f"Data: {relative(args.data)} ({len(wx)} pages) and {relative(args.sh_data)} ({len(sh)} pages). "
        f"The run took {seconds:.0f} s.",
        "",
        "## Targets",
        "",
        "| Target | Measured | |",
        "|---|---|---|",
        f"| ScrapingHub F1 ≥ {SH_TARGET} (auto) | {sh_f1['auto']:.4f} | {PASS[sh_f1['auto'] >= SH_TARGET]} |",
        f"| wcxb F1 ≥ 0.87 (auto, the default; issue 13) | {mean['auto']:.4f} | {PASS[mean['auto'] >= 0.87]} |",
        f"| wcxb F1 ≥ blocks ({mean['blocks']:.4f}) | {mean['auto']:.4f} | {PASS[mean['auto'] >= mean['blocks']]} |",
    ]
    for kind in wcxb.TYPES:
        ids = [i for i, p in wx.items() if p.kind == kind]
        if ids:
            a, t = (statistics.mean(scores[n][i][2] for i in ids) for n in ("auto", "trafilatura"))
            lines.append(f"| {kind}: ≥ trafilatura ({t:.4f}) | {a:.4f} | {PASS[a >= t]} |")
    lines += [
        "",
        "## wcxb-dev, per type (blocks and auto cross-validated by domain)",
        "",
        "| Type | Pages | trafilatura P / R / F1 | blocks P / R / F1 | auto P / R / F1 | auto: pages to blocks |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("all", *wcxb.TYPES):
        ids = [i for i, p in wx.items() if kind in ("all", p.kind)]
        if not ids:
            continue
        cells = [" / ".join(f"{statistics.mean(scores[n][i][k] for i in ids):.4f}" for k in range(3)) for n in NAMES]
        to_blocks = sum(1 for i in ids if swept(wx[i]) == "blocks")
        lines.append(f"| {kind} | {len(ids)} | {' | '.join(cells)} | {to_blocks} |")
    both = [p for p in wx.values() if p.article and route.is_short(p.out["trafilatura"])]
    sh_both = [p for p in sh.values() if p.article and route.is_short(p.out["trafilatura"])]
    lines += [
        "",
        "## ScrapingHub article set (held out)",
        "",
        "| Extractor | F1 | pages extracted by blocks |",
        "|---|---|---|",
        *(
            f"| {n} | {sh_f1[n]:.4f} | {sum(1 for p in sh.values() if swept(p) == 'blocks') if n == 'auto' else '-'} |"
            for n in NAMES
        ),
        "",
        "## Cost (ms/page: decode_html + extraction)",
        "",
        "| wcxb-dev | median | mean | p95 |",
        "|---|---|---|---|",
        *(ms_row(n, list(wx.values()), n) for n in NAMES),
        "",
        "| ScrapingHub | median | mean | p95 |",
        "|---|---|---|---|",
        *(ms_row(n, list(sh.values()), n) for n in NAMES),
        "",
        f"auto's choice (route.looks_like_article: the head, JSON-LD and URL, before any parse): median "
        f"{statistics.median(p.route_ms for p in wx.values()):.2f} ms. Both extractors ran on {len(both)} of "
        f"{len(wx)} wcxb pages and {len(sh_both)} of {len(sh)} ScrapingHub pages (articles whose trafilatura "
        "text is short); every other page ran one.",
        "",
        "## Sweep of route.py's constants (same outputs)",
        "",
        *sweep(wx, sh),
        "",
        NOTE,
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=wcxb.DATA, help=f"default: {shown(wcxb.DATA)}")
    parser.add_argument("--sh-data", type=Path, default=extraction_bench.DATA)
    parser.add_argument("--pages", type=int, help="only the first N pages of each set (a quick try, not a result)")
    parser.add_argument("--out", type=Path, default=default_out("extraction_auto.md"))
    args = parser.parse_args()
    started = time.time()
    sh = sh_pages(args.sh_data, args.pages)
    wx = wcxb_pages(args.data, args.pages)
    lines = report(wx, sh, args, time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-60:]), file=sys.stderr)


if __name__ == "__main__":
    main()
