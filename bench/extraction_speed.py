"""How fast the block classifier's extraction is, before and after a change, side by side in one run.

    python -m bench.extraction_speed --base COMMIT     # writes bench/results/extraction_speed.md

`--extractor blocks` as fetch runs it (decode_html + extract.to_markdown, the shipped model.json) on a
type-stratified sample of wcxb-dev (bench/wcxb.py `sample`), in two code trees: this worktree and
`git archive COMMIT` (each with its own model.json). Each tree runs in a subprocess of its own that
imports its own gptme_trio; the trees take turns, round by round (a warm-up call first), and a
page's time is its median over the rounds. Also: word-F1 on the sample for both (the shipped model
saw these pages: a check that the output did not change, not a quality figure; that is
bench/train_blocks.py's cross-validation), how many pages give the same Markdown, and where the
time goes now (cProfile over the sample, the functions with the most cumulative time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import wcxb
from bench.harness import ROOT, default_out, header, shown

WORKER = r"""
import cProfile, gzip, io, json, pstats, sys, time
from gptme_trio.fetch import classify, extract
pages = json.load(sys.stdin)
htmls = [gzip.decompress(open(p["path"], "rb").read()) for p in pages]
model = classify.shipped()
extract.load_libraries()
extract.to_markdown(extract.decode_html(htmls[0]), extractor="blocks", model=model)  # warm-up
def run(page, body):
    started, cpu = time.perf_counter(), time.thread_time()
    text = extract.to_markdown(extract.decode_html(body), url=page["url"], extractor="blocks", model=model)
    return text, (time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000
if sys.argv[1] == "profile":
    profile = cProfile.Profile()
    profile.enable()
    for page, body in zip(pages, htmls):
        run(page, body)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(int(sys.argv[2]))
    import os, sysconfig  # the machine's own paths, shown relative
    text = out.getvalue().replace(sysconfig.get_paths()["purelib"] + "/", "site-packages/")
    print(text.replace(os.getcwd() + "/", ""))
else:
    for page, body in zip(pages, htmls):
        text, ms, cpu = run(page, body)
        print(json.dumps({"id": page["id"], "ms": ms, "cpu": cpu, "text": text}))
"""


def run_worker(tree: Path, pages: list[dict[str, str]], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, *args],
        cwd=tree,
        input=json.dumps(pages),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"worker in {tree} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare with (git archive)")
    parser.add_argument("--data", type=Path, default=wcxb.DATA)
    parser.add_argument("--sample", type=int, default=150, help="pages (type-stratified; default 150)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=default_out("extraction_speed.md"))
    args = parser.parse_args()
    started = time.time()
    pages = wcxb.sample(wcxb.load(args.data), args.sample)
    jobs = [{"id": p.id, "url": p.url, "path": str(args.data / "html" / f"{p.id}.html.gz")} for p in pages]
    base_label = subprocess.run(
        ["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="speed-base-") as name:
        base = Path(name)
        archive = subprocess.run(["git", "archive", args.base, "gptme_trio"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", name], input=archive.stdout, check=True)
        trees = {f"before ({base_label})": base, "after (this tree)": ROOT}
        times: dict[str, dict[str, list[float]]] = {t: {p.id: [] for p in pages} for t in trees}
        cpu: dict[str, dict[str, list[float]]] = {t: {p.id: [] for p in pages} for t in trees}
        texts: dict[str, dict[str, str]] = {}
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(reversed(trees))
            for label in order:
                print(f"round {r + 1}: {label}", file=sys.stderr)
                for line in run_worker(trees[label], jobs, "time").splitlines():
                    record = json.loads(line)
                    times[label][record["id"]].append(record["ms"])
                    cpu[label][record["id"]].append(record["cpu"])
                    texts.setdefault(label, {})[record["id"]] = record["text"]
        profile = run_worker(ROOT, jobs, "profile", "30")
    lines = [
        header("Block-classifier extraction time, before and after (issue 13: 4)"),
        f"{len(pages)} wcxb-dev pages (type-stratified sample), {args.rounds} rounds alternating the trees; "
        f"a page's time is its median over the rounds (decode_html + to_markdown, extractor blocks): wall "
        "clock, and the CPU time of the extracting thread (steadier on a shared machine: it leaves out the "
        f"time other processes held the CPU). The run took {time.time() - started:.0f} s.",
        "",
        "| Code | ms/page median | ms/page p95 | ms/page mean | CPU ms/page median | CPU ms/page p95 "
        "| word-F1 on the sample (seen pages) |",
        "|---|---|---|---|---|---|---|",
    ]
    by_id = {p.id: p for p in pages}
    for label in trees:
        per_page = sorted(statistics.median(v) for v in times[label].values())
        p95 = per_page[min(len(per_page) - 1, int(0.95 * len(per_page)))]
        per_cpu = sorted(statistics.median(v) for v in cpu[label].values())
        cpu95 = per_cpu[min(len(per_cpu) - 1, int(0.95 * len(per_cpu)))]
        f1 = statistics.mean(wcxb.score(by_id[i].truth, wcxb.strip_markdown(t))[2] for i, t in texts[label].items())
        lines.append(
            f"| {label} | {statistics.median(per_page):.1f} | {p95:.1f} | {statistics.mean(per_page):.1f} "
            f"| {statistics.median(per_cpu):.1f} | {cpu95:.1f} | {f1:.4f} |"
        )
    before, after = texts.values()
    same = sum(1 for i in before if before[i] == after[i])
    lines += [
        "",
        f"Same Markdown on {same} of {len(pages)} pages.",
        "",
        "## Where the time goes now (cProfile over the sample, after; profiling slows it down)",
        "",
        "```",
        *[line.rstrip().replace(f"{ROOT}/", "") for line in profile.strip().splitlines() if line.strip()][:45],
        "```",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:20]), file=sys.stderr)
    print(f"wrote {shown(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
