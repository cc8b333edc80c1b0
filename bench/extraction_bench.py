"""Extraction-quality benchmark (figure 6 of the bench issue); writes bench/results/extraction.md.

Run from the repo root (offline, reads only local files; about a minute on 2 cores):

    python -m bench.extraction_bench      # optional: --data DIR (default ../shared/data/...) --pages N --out FILE

Needs readability-lxml in the venv for its baseline row (`.venv/bin/pip install readability-lxml`;
benchmark only, not a project dependency). On the 181 pages of the ScrapingHub article extraction
benchmark (--data; see its README.md) it measures: 1. our pipeline as a user runs it, `python -m
gptme_trio fetch --engine http -f text -o DIR -q FILES` on the decompressed pages, and `-f json`
(Markdown `content`, scored after stripping Markdown syntax), plus our extraction time in-process
(decode_html + to_text); 2. trafilatura alone and readability-lxml, as baselines; 3. prototypes of
our pipeline with other trafilatura settings (rows "ours, ..."). Metric as in the data's README:
word 4-gram shingles (multisets of `\\w+` words), precision, recall and F1 per page, averaged over
pages; an empty output scores 0. "F1 (pub.)" is the published formula: 2PR/(P+R) of mean P (over
non-empty outputs) and mean R.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypedDict

import lxml.html
import trafilatura

from bench.harness import PASS, ROOT, default_out, header, shared_data, shown
from gptme_trio.fetch import extract

DATA = shared_data("article-extraction-benchmark")  # ../shared (or ../../shared from a worktree)
TARGET_F1, TARGET_MS = 0.955, 15.0


class TxtOptions(TypedDict):
    """trafilatura.extract keyword arguments."""

    output_format: str
    include_comments: bool
    include_tables: bool


TXT: TxtOptions = {"output_format": "txt", "include_comments": False, "include_tables": True}  # as extract._trafilatura

# Hand-written after reading output vs truth (2026-11-25, trafilatura 2.3.1, current extract.py).
# Pages not listed get only the automatic evidence (first extra / missing line).
NOTES = {
    "b3c19dd5f061": "trafilatura's fallback comparison swapped in a longer candidate, with the site's list of "
    "other posts after the text (fast=True: F1 0.99)",
    "d48aeb9cf2f2": "missed most of the body: Wired splits it over sibling containers and only the first is kept "
    "(no trafilatura setting recovers it; readability-lxml does)",
    "2f42ef1d3ea0": "missed the second half of the body: same Wired multi-container layout",
    "db6b0816c612": "kept a photo gallery (captions twice, 'Image 1 of 8', 'Back to Gallery') via the fallback "
    "comparison (fast=True: F1 0.99)",
    "cc03ddb5ef7d": "kept headline, dateline, tag list and the comment-policy notice on a short page",
    "d90bda7ed14d": "layout table: include_tables kept the whole cell, with the 'Top stories' and 'Partner news' "
    "sidebar (favor_precision drops it: F1 0.99)",
    "51d066b0602c": "noisy ground truth: it interleaves related-story headlines and a caption; ours is the article",
    "042bb7b5feda": "paywalled stub: truth is two sentences, we add the headline and standfirst",
    "f6ac15a4d985": "kept category nav, headline, byline line and the footer address on a short page",
    "3f65af7b6b98": "dropped the embedded tweets the truth keeps; kept author tagline + newsletter promo",
    "232a43fb15ab": "picked a sidebar teaser and 'related' headlines; missed the lede",
    "4a44ab3e4c41": "missed the lede; kept headline, 'Also on rt.com' teaser and share prompt",
    "94fbcc267720": "kept photo captions, related-article links and the copyright footer",
    "5ae11e580afc": "kept date, summary and the boilerplate 'About Ascom' press-release footer",
    "f105de6e63ca": "Japanese: `\\w+` makes whole runs one token, so spacing differences count; plus the headline",
    "7a457a4f7173": "fallback comparison lost the last paragraphs, kept a newsletter promo (fast=True: F1 1.00)",
}


# Scoring: as the data's README and the published evaluate.py.
WORD = re.compile(r"\w+")
MD = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), ""),  # images
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links: keep the text
    (re.compile(r"<(?:https?|mailto):[^>]*>"), ""),  # autolinks
    (re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)"), r"\1"),  # _emphasis_
    (re.compile(r"[*#`>|\\]"), " "),
]


def strip_markdown(text: str) -> str:
    for pattern, repl in MD:
        text = pattern.sub(repl, text)
    return text


def shingles(text: str) -> Counter:
    words = WORD.findall(text or "")
    return Counter(tuple(words[i : i + 4]) for i in range(max(1, len(words) - 3)) if words[i : i + 4])


def score(truth: str, pred: str) -> tuple[float, float, float]:
    t, p = shingles(truth), shingles(pred)
    common, n_pred, n_truth = sum((t & p).values()), sum(p.values()), sum(t.values())
    if n_pred == n_truth == 0:
        return 1.0, 1.0, 1.0
    prec = common / n_pred if n_pred else 0.0
    rec = common / n_truth if n_truth else 0.0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


# Extractors: (body bytes, decoded html, url) -> text.
def ours(body, html, url):
    return extract.to_text(extract.decode_html(body, ""), url=url)


def ours_with(**opts):
    """Our to_text with other trafilatura options (same whole-page fallback)."""

    def run(body, html, url):
        html = extract.decode_html(body, "")
        found = trafilatura.extract(html, url=url or None, **{**TXT, **opts})
        return found.strip() + "\n" if found and found.strip() else extract.to_text(html, url=url, main=False)

    return run


def ours_hybrid(body, html, url):
    """favor_precision unless it keeps under half the words of favor_recall (both fast=True)."""
    html = extract.decode_html(body, "")
    rec = trafilatura.extract(html, url=url or None, favor_recall=True, fast=True, **TXT) or ""
    prec = trafilatura.extract(html, url=url or None, favor_precision=True, fast=True, **TXT) or ""
    found = prec if len(WORD.findall(prec)) >= 0.5 * len(WORD.findall(rec)) else rec
    return found.strip() + "\n" if found.strip() else extract.to_text(html, url=url, main=False)


def ours_blocks(body, html, url):
    """`fetch --extractor blocks`: the block classifier (fetch/model.json, trained on wcxb-dev only: these
    pages are held out for it)."""
    return extract.to_text(extract.decode_html(body, ""), url=url, extractor="blocks")


def traf_alone(**opts):
    return lambda body, html, url: trafilatura.extract(html, output_format="txt", **opts) or ""


BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "blockquote", "pre"}


def readability_lxml(body, html, url):
    from readability import Document

    tree: lxml.html.HtmlElement = lxml.html.fromstring(Document(html).summary())  # the stubs say _Element
    for el in tree.iter(*BLOCKS):  # text_content() alone would glue words across paragraphs
        el.tail = "\n" + (el.tail or "")
    return tree.text_content()


ROWS = [  # (name, extractor, is ours)
    ("ours: decode_html + to_text (in-process)", ours, True),
    ("trafilatura alone, defaults", traf_alone(), False),
    ("trafilatura alone, favor_recall=True", traf_alone(favor_recall=True), False),
    ("readability-lxml (summary + text_content)", readability_lxml, False),
    ("ours, balanced (favor_recall=False)", ours_with(), True),
    ("ours, favor_precision=True", ours_with(favor_precision=True), True),
    ("ours, favor_recall + fast=True", ours_with(favor_recall=True, fast=True), True),
    ("ours, favor_precision + fast=True", ours_with(favor_precision=True, fast=True), True),
    ("ours, hybrid: precision, else recall (fast)", ours_hybrid, True),
    ("ours, --extractor blocks (block classifier, held out)", ours_blocks, True),
]


def run_cli(files: list[Path], fmt: str, outdir: Path | None) -> tuple[list[str], float, int, str]:
    cmd = [sys.executable, "-m", "gptme_trio", "fetch", "--engine", "http", "-f", fmt, "-q"]
    cmd += ["-o", str(outdir)] if outdir else []
    started = time.perf_counter()
    proc = subprocess.run(cmd + [str(f) for f in files], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.stdout.splitlines(), time.perf_counter() - started, proc.returncode, proc.stderr.strip()


def cli_outputs(ids: list[str], tmp: Path) -> dict:
    files = [tmp / "html" / f"{i}.html" for i in ids]
    text_lines, *text_run = run_cli(files, "text", tmp / "text")
    json_lines, *json_run = run_cli(files, "json", None)
    text = dict.fromkeys(ids, "")
    for line in text_lines:  # URL<TAB>path
        url, _, path = line.partition("\t")
        text[Path(url).stem] = Path(path).read_text(encoding="utf-8")
    records = [json.loads(line) for line in json_lines if line.strip()]
    markdown = {Path(r["url"]).stem: strip_markdown(r.get("content") or "") for r in records}
    cli: dict[str, Any] = {
        "text": text,
        "markdown": {i: markdown.get(i, "") for i in ids},
        "runs": [text_run, json_run],
    }
    cli["json_records"], cli["json_errors"] = len(records), sum(1 for r in records if r.get("error"))
    cli["in_order"] = [Path(r["url"]).stem for r in records] == ids
    return cli


def timed(fn, pages: list[dict]) -> tuple[dict, list[float]]:
    for p in pages:  # warm-up pass: imports, caches
        fn(p["body"], p["html"], p["url"])
    outs, times = {}, []
    for p in pages:
        started = time.perf_counter()
        outs[p["id"]] = fn(p["body"], p["html"], p["url"]) or ""
        times.append((time.perf_counter() - started) * 1000)
    return outs, times


def summary(name: str, outs: dict, truth: dict, times: list[float] | None, is_ours: bool) -> dict:
    per = {i: score(truth[i], outs[i]) for i in truth}
    p_mean = statistics.mean(s[0] for s in per.values())
    p_nonempty = statistics.mean(s[0] for i, s in per.items() if WORD.search(outs[i]))
    r_mean = statistics.mean(s[1] for s in per.values())
    row = {"name": name, "ours": is_ours, "per": per, "p": p_mean, "r": r_mean}
    row["f1"] = statistics.mean(s[2] for s in per.values())
    row["pub"] = 2 * p_nonempty * r_mean / (p_nonempty + r_mean)
    row["empty"] = sum(1 for i in truth if not WORD.search(outs[i]))
    row["med"], row["mean"] = (statistics.median(times), statistics.mean(times)) if times else (None, None)
    return row


def first_line(text: str, other_text: str) -> str:
    """The first line of `text` that is not in `other_text`, nor are most of its shingles."""
    other = shingles(other_text)
    for line in text.splitlines():
        s = shingles(line)
        if WORD.search(line) and line.strip() not in other_text and sum((s - other).values()) * 2 >= sum(s.values()):
            return line.strip()[:70]
    return ""


def diagnosis(pid: str, truth: str, out: str) -> str:
    note = NOTES.get(pid[:12])
    extra, missing = first_line(out, truth), first_line(truth, out)
    auto = "; ".join(x for x in (extra and f"extra: “{extra}”", missing and f"missing: “{missing}”") if x)
    return f"{note} ({auto})" if note and auto else note or auto or "-"


def fmt_ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def report(args, cli, rows, pages, truth, same, started) -> str:
    cli_row = rows[0]
    (wall_text, rc_text, _), (wall_json, rc_json, _) = cli["runs"]
    libs = ("trafilatura", "readability-lxml", "lxml", "html-to-markdown")
    lines = [
        header("Extraction quality (figure 6)", {"extraction libraries": ", ".join(f"{d} {version(d)}" for d in libs)}),
        f"The run took {time.time() - started.timestamp():.0f} s. Data: {shown(args.data)} ({len(pages)} pages).",
        "",
        "Mean over pages of per-page precision, recall and F1 on word 4-gram shingles; an empty output "
        "scores 0. F1 (pub.) = the published evaluate.py formula, 2PR/(P+R) of mean P over non-empty "
        "outputs and mean R (the published trafilatura 2.0 figure, 0.958, is on that scale). ms/page: "
        "one call per page after a warm-up pass, single process, median and mean over the pages. "
        f"Targets for ours: F1 ≥ {TARGET_F1} (the per-page mean, first column), extraction ≤ "
        f"{TARGET_MS:g} ms/page (mean).",
        "",
        "| Tool | F1 | Precision | Recall | F1 (pub.) | Empty | ms/page median | ms/page mean "
        "| F1 target | Time target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def line(row, label=None, ms_from=None):
        ms = ms_from or row
        targets = [PASS[row["f1"] >= TARGET_F1], PASS[ms["mean"] <= TARGET_MS]] if row["ours"] else ["", ""]
        lines.append(
            f"| {label or row['name']} | {row['f1']:.4f} | {row['p']:.4f} | {row['r']:.4f} | {row['pub']:.4f} | "
            f"{row['empty']} | {fmt_ms(ms['med'])} | {fmt_ms(ms['mean'])} | {targets[0]} | {targets[1]} |"
        )

    line(cli["row_text"], "**ours: `gptme-trio fetch --engine http -f text`** (CLI output)", cli_row)
    line(cli["row_md"], "ours: `-f json` `content` (Markdown, stripped)", cli_row)
    for row in rows:
        line(row)
    lines += [
        "",
        f"The first two rows score what the CLI wrote; their ms/page are the in-process row's. CLI runs "
        f"over all {len(pages)} files (startup included, -j 4): -f text {wall_text:.1f} s (exit {rc_text}), "
        f"-f json {wall_json:.1f} s (exit {rc_json}); -f json gave {cli['json_records']} records, "
        f"{cli['json_errors']} with an error, {'in' if cli['in_order'] else 'NOT in'} input order. "
        f"The in-process to_text output equals the CLI's .txt file on {same}/{len(pages)} pages. "
        "readability-lxml: block elements get a newline before text_content(), which would otherwise "
        'glue words across paragraphs. Prototype rows ("ours, ...") are to_text with other '
        "trafilatura options, keeping include_comments=False, include_tables=True and the whole-page "
        "fallback; fast=True skips trafilatura's comparison with its readability/jusText fallbacks. "
        "The last row is `--extractor blocks` (fetch/classify.py: trained on wcxb-dev only, so these "
        "pages are held out for it).",
        "",
        "## Our 10 lowest pages (CLI -f text)",
        "",
        "| Page id | F1 | Precision | Recall | Diagnosis |",
        "|---|---|---|---|---|",
    ]
    per = cli["row_text"]["per"]
    for pid in sorted(per, key=lambda i: per[i][2])[:10]:
        p, r, f = per[pid]
        lines.append(
            f"| {pid[:12]} | {f:.3f} | {p:.3f} | {r:.3f} | "
            f"{diagnosis(pid, truth[pid], cli['text'][pid]).replace('|', '/')} |"
        )
    ours_rows = [r for r in rows if r["ours"]]
    base = rows[0]
    lines += ["", "## Per-page changes of the prototypes against ours (F1 differs by > 0.001)", ""]
    for row in ours_rows[1:]:
        diff = [i for i in per if abs(row["per"][i][2] - base["per"][i][2]) > 0.001]
        up = sum(1 for i in diff if row["per"][i][2] > base["per"][i][2])
        lines.append(f"- {row['name']}: better on {up}, worse on {len(diff) - up} pages.")
    lines += ["", "## Findings and recommendations", "", *RECOMMENDATIONS.format(**names(rows)).splitlines()]
    return "\n".join(lines) + "\n"


def names(rows: list[dict]) -> dict:
    get = {r["name"]: r for r in rows}
    found: dict[str, object] = {
        key: f"F1 {get[name]['f1']:.4f}, {get[name]['mean']:.1f} ms mean"
        for key, name in (
            ("ours", ROWS[0][0]),
            ("bal", ROWS[4][0]),
            ("prec", ROWS[5][0]),
            ("rfast", ROWS[6][0]),
            ("pfast", ROWS[7][0]),
            ("hyb", ROWS[8][0]),
            ("tdef", ROWS[1][0]),
            ("trec", ROWS[2][0]),
        )
    }
    base, fast = get[ROWS[0][0]]["per"], get[ROWS[6][0]]["per"]
    found["up"] = sum(1 for i in base if fast[i][2] > base[i][2] + 0.001)
    found["down"] = sum(1 for i in base if fast[i][2] < base[i][2] - 0.001)
    return found


RECOMMENDATIONS = """\
1. **Pass `fast=True` in `extract._trafilatura`** (keep favor_recall=True, include_comments=False,
   include_tables=True and the whole-page fallback): {rfast} against {ours} today; better on {up}
   pages, worse on {down}. Without it trafilatura compares its result with its readability/jusText
   fallbacks and may swap in the longer text, which here brought in a photo gallery, a list of other
   posts or a newsletter promo (see the notes above). It is also faster. One keyword, no new code.
2. Our options are otherwise right. trafilatura alone with its defaults ({tdef}) or favor_recall
   ({trec}) includes comments; our include_comments=False is what lifts "ours, balanced" and "ours"
   above those rows, so keep it. (The published 0.958 run also passed include_comments=False.)
3. For more F1, at the edge of the time budget: **favor_precision, falling back to favor_recall
   when precision keeps under half the words** (both fast=True; {hyb}). favor_precision alone
   ({prec}) is better on most pages (drops headlines, captions, layout-table sidebars) but loses
   the article on a few (keeps only a reprints notice); fast favor_precision alone ({pfast}) loses
   too much recall. The hybrid makes two trafilatura calls, about twice recommendation 1's time:
   right at 15 ms on this 2-CPU machine (13.7-15.7 ms mean over our runs, with other load). Its 0.5
   threshold is round but was checked on this set; recommendation 1 involves no tuning at all.
4. Do not switch to favor_recall=False (balanced: {bal}): no better than today and slower.
5. What no setting fixes: articles split over sibling containers (Wired), embedded tweets the truth
   keeps, noisy ground truth, CJK tokenisation. The whole-page fallback never fires here with our
   settings or those of 1 (only once with favor_precision+fast): no quality lever; keep it anyway.
   readability-lxml gets the Wired pages right (F1 ≥ 0.98) and a per-page best-of-both would score
   about 0.98, but choosing between the candidates is exactly what trafilatura's own fallback
   comparison (fast=False) does, and it chooses worse; we found no cheap general rule for it.
6. The same `_trafilatura` feeds `to_markdown` (-f markdown / json), so one change fixes both.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help=f"benchmark data directory (default: {shown(DATA)})")
    parser.add_argument("--pages", type=int, help="only the first N pages (a quick try, not a result)")
    parser.add_argument("--out", type=Path, default=default_out("extraction.md"), help="Markdown report to write")
    args = parser.parse_args()
    started = datetime.now(UTC)
    truth_json = json.loads((args.data / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(truth_json)[: args.pages]
    truth = {i: truth_json[i]["articleBody"] for i in ids}
    with tempfile.TemporaryDirectory(prefix="extraction-bench-") as name:
        tmp = Path(name)
        (tmp / "html").mkdir()
        pages = []
        for i in ids:
            body = gzip.decompress((args.data / "html" / f"{i}.html.gz").read_bytes())
            path = tmp / "html" / f"{i}.html"
            path.write_bytes(body)
            url = path.resolve().as_uri()  # what the CLI passes to to_text for a local file
            pages.append({"id": i, "body": body, "html": body.decode("utf-8", errors="replace"), "url": url})
        print(f"CLI on {len(ids)} files (-f text, then -f json)...", file=sys.stderr)
        cli = cli_outputs(ids, tmp)
        for fmt, (_, rc, err) in zip(("text", "json"), cli["runs"], strict=True):
            if rc != 0:
                print(f"warning: -f {fmt} exited {rc}: {err[:500]}", file=sys.stderr)
        rows = []
        for name_, fn, is_ours in ROWS:
            print(f"timing {name_}...", file=sys.stderr)
            outs, times = timed(fn, pages)
            rows.append(summary(name_, outs, truth, times, is_ours))
            if fn is ours:
                same = sum(1 for i in ids if outs[i].strip() == cli["text"][i].strip())
    cli["row_text"] = summary("cli text", cli["text"], truth, None, True)
    cli["row_md"] = summary("cli json", cli["markdown"], truth, None, True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(args, cli, rows, pages, truth, same, started), encoding="utf-8")
    for row in [cli["row_text"], cli["row_md"], *rows]:
        print(f"{row['name'][:44]:44} F1 {row['f1']:.4f}, {fmt_ms(row['mean'])} ms", file=sys.stderr)
    print(f"wrote {shown(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
