"""Metadata and links: what they cost on top of extraction, and how often they are right (WCXB dev split).

    python -m bench.metadata_bench            # writes bench/results/metadata.md (~5 min, one core)
    python -m bench.metadata_bench --limit 200

Side by side on every page, in one process, the rows in rotating order page by page (so a busy
moment of the shared machine falls on all of them):
- off: `extract.to_markdown(html, url)`, what -f markdown / json ran before metadata and links;
- on: what they run now: links made absolute (links.absolutize), the same extraction,
  metadata.read_meta, the Markdown title line (metadata.with_title);
- on + --links: also links.collect over extract.parse_page;
and alone: read_meta, absolutize, the --links pass, and trafilatura's own metadata extraction
(trafilatura.metadata.extract_metadata: what we would pay for using it instead).
ms/page: one call per page after a warm-up, median and p95; also the per-page difference on - off.

Right or wrong, against the ground truth's `author` and `publish_date`, for ours and trafilatura's:
an author is right when its words equal the truth's (case-folded, in any order) or one contains the
other; a date when its first ten characters (YYYY-MM-DD) are the truth's. `page_type` against the
page's labelled type: how often the page declares one we map, and how often that one is the label.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import json

import lxml.html
from trafilatura.metadata import extract_metadata

from bench import wcxb
from bench.harness import PASS, default_out, header
from gptme_trio.fetch import extract, links, metadata

BUDGET_MS = 20.0  # issue 13: extraction <= 20 ms/page median; metadata must not be what breaks it
SHARE_MS = 2.0  # what metadata and absolute links may add to it: a tenth
_WORDS = re.compile(r"\w+")
_URL = re.compile(r"(?:https?|mailto|file):[^\s)]*")


def off(html: str, url: str) -> str:
    return extract.to_markdown(html, url=url)


def on(html: str, url: str) -> str:
    base = links.base_url(html, url)
    content = extract.to_markdown(links.absolutize(html, base, url), url=url)
    meta = metadata.read_meta(html, url)
    return metadata.with_title(content, meta.title)


def on_links(html: str, url: str) -> str:
    base = links.base_url(html, url)
    content = extract.to_markdown(links.absolutize(html, base, url), url=url)
    meta = metadata.read_meta(html, url)
    found = links.collect(extract.parse_page(html), url, base, content)
    return metadata.with_title(content, meta.title) + links.section(found, "markdown")


def links_alone(html: str, url: str) -> object:
    return links.collect(extract.parse_page(html), url, links.base_url(html, url), "")


def trafilatura_meta(html: str, url: str) -> object:
    return extract_metadata(lxml.html.document_fromstring(html), url)


ROWS: dict[str, Callable[[str, str], object]] = {
    "off (extraction only)": off,
    "on (-f markdown / json)": on,
    "on + --links": on_links,
    "read_meta alone": metadata.read_meta,
    "absolutize alone": lambda html, url: links.absolutize(html, links.base_url(html, url), url),
    "--links pass alone (parse + collect)": links_alone,
    "trafilatura extract_metadata alone": trafilatura_meta,
}


def same_author(found: str | None, truth: str) -> bool:
    if not found:
        return False
    a, b = (" ".join(_WORDS.findall(x.casefold())) for x in (found, truth))
    return sorted(a.split()) == sorted(b.split()) or bool(a and b and (a in b or b in a))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path, default=Path(default_out("metadata.md")))
    args = parser.parse_args()
    pages = wcxb.load(limit=args.limit)
    truths = {
        p.id: json.loads((wcxb.DATA / "ground-truth" / f"{p.id}.json").read_text(encoding="utf-8"))["ground_truth"]
        for p in pages
    }
    htmls = {p.id: extract.decode_html(p.body) for p in pages}
    names = list(ROWS)
    ms: dict[str, dict[str, float]] = {name: {} for name in names}
    outputs: dict[str, dict[str, object]] = {name: {} for name in names}
    for name in names:  # warm-up: imports, the first parse
        ROWS[name](htmls[pages[0].id], pages[0].url)
    started = time.perf_counter()
    for i, page in enumerate(pages):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            t0 = time.perf_counter()
            outputs[name][page.id] = ROWS[name](htmls[page.id], page.url)
            ms[name][page.id] = (time.perf_counter() - t0) * 1000
        if i % 100 == 0:
            print(f"{i}/{len(pages)} pages, {time.perf_counter() - started:.0f} s", file=sys.stderr)

    def stats(values: list[float]) -> tuple[float, float]:
        values = sorted(values)
        return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.95))]

    lines = [
        header(
            "Metadata and links: cost on top of extraction, and accuracy (WCXB dev split)",
            {"pages": str(len(pages)), "trafilatura": _version("trafilatura")},
        ),
        __doc__.split("\n\n", 2)[2].strip() if __doc__ else "",
        "",
        "## Cost (ms/page, one core, this machine)",
        "",
        "| Row | median | p95 |",
        "|---|---:|---:|",
    ]
    for name in names:
        m, p95 = stats(list(ms[name].values()))
        lines.append(f"| {name} | {m:.2f} | {p95:.2f} |")
    for name in ("on (-f markdown / json)", "on + --links"):
        diff = [ms[name][p.id] - ms[names[0]][p.id] for p in pages]
        m, p95 = stats(diff)
        lines.append(f"| {name} minus off, per page | {m:+.2f} | {p95:+.2f} |")
    off_m = stats(list(ms[names[0]].values()))[0]
    meta_m = stats(list(ms["read_meta alone"].values()))[0]
    abs_m = stats(list(ms["absolutize alone"].values()))[0]
    lines += [
        "",
        f"Metadata and absolute links add {meta_m + abs_m:.2f} ms/page median (read_meta {meta_m:.2f} + absolutize "
        f"{abs_m:.2f}) to extraction's {off_m:.1f}: {(meta_m + abs_m) / off_m:.1%}. The {BUDGET_MS:g} ms/page "
        "budget is extraction's own (issue 13, item 4; bench/results/extraction_wcxb.md); metadata's share of it, "
        f"at most {SHARE_MS:g} ms/page median (a tenth), is {PASS[meta_m + abs_m <= SHARE_MS]}.",
    ]
    changed = relinked = 0
    for p in pages:  # the same words, once the title line is added to the text made without absolute links
        titled = metadata.with_title(str(outputs[names[0]][p.id]), metadata.read_meta(htmls[p.id], p.url).title)
        now = str(outputs["on (-f markdown / json)"][p.id])
        changed += _URL.sub("", wcxb.strip_markdown(titled)).split() != _URL.sub("", wcxb.strip_markdown(now)).split()
        relinked += titled != now
    lines += [
        "",
        f"Pages whose extracted words (URLs aside) changed with links made absolute: {changed} of {len(pages)}. "
        f"Pages where a link's target changed: {relinked} (a path-relative link that trafilatura resolved "
        "against the site's root, e.g. docs.rs `attr.main.html` for `tokio/latest/tokio/attr.main.html`).",
    ]
    lines += accuracy(pages, truths, htmls, outputs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[-60:]), file=sys.stderr)


def accuracy(
    pages: list[wcxb.Page],
    truths: dict[str, dict[str, object]],
    htmls: dict[str, str],
    outputs: dict[str, dict[str, object]],
) -> list[str]:
    ours = {p.id: metadata.read_meta(htmls[p.id], p.url) for p in pages}
    theirs = {p.id: outputs["trafilatura extract_metadata alone"][p.id] for p in pages}
    lines = [
        "",
        "## Accuracy against the ground truth",
        "",
        "| Field | pages with a truth | ours: given / right | trafilatura: given / right |",
        "|---|---:|---:|---:|",
    ]
    for field, truth_key, traf_key in (("author", "author", "author"), ("published", "publish_date", "date")):
        with_truth = [p for p in pages if truths[p.id].get(truth_key)]
        counts = []
        for found in (
            {p.id: getattr(ours[p.id], field) for p in pages},
            {p.id: getattr(theirs[p.id], traf_key, None) for p in pages},
        ):
            given = sum(bool(found[p.id]) for p in with_truth)
            if field == "author":
                right = sum(same_author(found[p.id], str(truths[p.id][truth_key])) for p in with_truth)
            else:
                right = sum(str(found[p.id] or "")[:10] == str(truths[p.id][truth_key])[:10] for p in with_truth)
            counts.append(f"{given} / {right} ({right / max(len(with_truth), 1):.0%})")
        lines.append(f"| {field} | {len(with_truth)} | {counts[0]} | {counts[1]} |")
    lines += [
        "",
        "Fields given (not null), of all pages: "
        + ", ".join(
            f"{f} {sum(getattr(ours[p.id], f) is not None for p in pages) / len(pages):.0%}"
            for f in ("page_type", "description", "author", "published", "language", "canonical_url", "site_name")
        )
        + ".",
        "",
        "## page_type: what pages declare, against their labelled type",
        "",
        "| labelled type | pages | declared (mapped) | right | most common wrong |",
        "|---|---:|---:|---:|---|",
    ]
    for kind in wcxb.TYPES:
        of_type = [p for p in pages if p.type == kind]
        declared = [ours[p.id].page_type for p in of_type if ours[p.id].page_type]
        wrong = Counter(d for d in declared if d != kind).most_common(2)
        lines.append(
            f"| {kind} | {len(of_type)} | {len(declared)} | {sum(d == kind for d in declared)} | "
            + (", ".join(f"{d} {n}" for d, n in wrong) or "-")
            + " |"
        )
    declared_all = [p for p in pages if ours[p.id].page_type]
    by_declared: dict[str, Counter[str]] = {}
    for p in declared_all:
        by_declared.setdefault(str(ours[p.id].page_type), Counter())[p.type] += 1
    right_all = sum(ours[p.id].page_type == p.type for p in declared_all)
    lines.append(
        f"| all | {len(pages)} | {len(declared_all)} | {right_all} ({right_all / max(len(declared_all), 1):.0%} "
        "of declared) | |"
    )
    lines += [
        "",
        "| declared page_type | pages | labelled so | precision | labelled otherwise |",
        "|---|---:|---:|---:|---|",
    ]
    for kind, labels in sorted(by_declared.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(labels.values())
        others = ", ".join(f"{k} {c}" for k, c in labels.most_common() if k != kind) or "-"
        lines.append(f"| {kind} | {n} | {labels[kind]} | {labels[kind] / n:.0%} | {others} |")
    return lines


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()
