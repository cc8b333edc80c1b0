"""Overlay removal on real pages (issue 13: 3): word-F1 with and without it, in the browser, on wcxb-dev.

Run from the repo root (offline: the pages are served on 127.0.0.1 and every request elsewhere is refused in
the browser; a few minutes):

    python -m bench.overlays_bench     # optional: --data DIR (default ../shared/data/wcxb-dev) --every N --out FILE

Every N-th page of wcxb-dev (default 5: ~300 pages, all seven types) is decompressed, opened in Chromium
from `python -m http.server` on 127.0.0.1 (requests to anything else refused: inline scripts run, nothing
else is fetched), settled
(cap 1 s), and its document taken twice from the same render: first as it is (`Page.document(overlays=False)`),
then with overlays removed (the default). Both go through the same extraction (`extract.to_text`, main content)
and are scored against the ground truth with the split's metric (word-F1 of `\\w+` multisets, per page, averaged).
This shows what removing overlays costs or gains on pages nobody built for it; the pages where F1 moves by
more than 0.02 are listed, with what was removed. Writes bench/results/overlays.md.
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
from dataclasses import dataclass
from pathlib import Path

import trio

from bench.harness import ROOT, default_out, header, write
from gptme_trio.core.browser import BrowserSpec, PageOptions, open_browser
from gptme_trio.core.browser.locate import find_browser
from gptme_trio.fetch import extract

DATA = ROOT.parent.parent / "shared" / "data" / "wcxb-dev"


def f1(predicted: str, reference: str) -> float:
    p, r = Counter(re.findall(r"\w+", predicted.lower())), Counter(re.findall(r"\w+", reference.lower()))
    overlap = sum((p & r).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(p.values()), overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class Row:
    id: str
    type: str
    before: float = 0.0  # F1 without removal
    after: float = 0.0  # F1 with it
    removed: int = 0  # characters of HTML it took out
    ms: float = 0.0  # Page.document() with removal
    error: str = ""


async def measure(pages: list[tuple[str, str, str, Path]], base: str) -> list[Row]:
    async def offline(url: str) -> str | None:
        return None if url.startswith((base + "/", "data:", "about:", "blob:")) else "offline"

    rows: list[Row] = []
    async with open_browser(BrowserSpec(executable=find_browser())) as browser:
        tabs = browser.tabs(PageOptions(block_media=True, request_filter=offline))
        for page_id, kind, reference, path in pages:
            url, row = f"{base}/{path.name}", Row(page_id, kind)
            rows.append(row)
            try:
                with trio.fail_after(30):
                    async with tabs.page() as page:
                        await page.goto(url)
                        if await page.settle(1.0) == "navigated":  # offline, some pages reload themselves
                            row.error = "navigated by itself while settling"
                            continue
                        kept = await page.document(overlays=False)
                        started = time.perf_counter()
                        cleaned = await page.document()
                        row.ms = (time.perf_counter() - started) * 1000
            except Exception as exc:  # a page that fails in the browser is reported, not fatal
                row.error = f"{type(exc).__name__}: {exc}"[:120]
                continue
            row.before = f1(extract.to_text(kept, url=url), reference)
            row.after = f1(extract.to_text(cleaned, url=url), reference)
            row.removed = len(kept) - len(cleaned)
            print(page_id, kind, f"{row.before:.3f} -> {row.after:.3f}", flush=True)
    return rows


def report(rows: list[Row], every: int) -> str:
    done = [r for r in rows if not r.error]

    def line(label: str, rs: list[Row]) -> str:
        before, after = (statistics.mean(x) if rs else 0.0 for x in ([r.before for r in rs], [r.after for r in rs]))
        return f"| {label} | {len(rs)} | {before:.3f} | {after:.3f} | {sum(1 for r in rs if r.removed > 0)} |"

    table = "\n".join(line(kind, [r for r in done if r.type == kind]) for kind in sorted({r.type for r in done}))
    moved = [r for r in done if abs(r.after - r.before) > 0.02]
    moved_rows = "\n".join(f"| {r.id} | {r.type} | {r.before:.3f} | {r.after:.3f} | {r.removed} |" for r in moved)
    failed = ", ".join(f"{r.id} ({r.error})" for r in rows if r.error) or "none"
    ms = sorted(r.ms for r in done) or [0.0]
    return f"""## Overlay removal on wcxb-dev pages (every {every}th page, offline, in Chromium)

{len(done)} pages rendered; failed in the browser: {failed}. word-F1 of `extract.to_text` (main content) on
the same render, without and with overlay removal; "changed" counts the pages where something was removed.
The pages' own stylesheets and scripts from other hosts are not loaded (offline), so some elements a site
hides by CSS show here: this errs on the side of more removals than a live page would see.

| type | pages | F1 without removal | F1 with removal (default) | changed |
|---|---|---|---|---|
{table}
{line("**all**", done)}

`Page.document()` with removal (the call that takes the HTML): median {statistics.median(ms):.0f} ms,
p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms.

Pages whose F1 moved by more than 0.02 (removed: characters of HTML taken out):

| page | type | without | with | removed |
|---|---|---|---|---|
{moved_rows or "| — | | | | |"}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--every", type=int, default=5, help="take every N-th page")
    parser.add_argument("--out", default=default_out("overlays.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overlays-bench-") as tmp:
        pages = []
        for source in sorted((args.data / "html").glob("*.html.gz"))[:: args.every]:
            page_id = source.name.removesuffix(".html.gz")
            truth = json.loads((args.data / "ground-truth" / f"{page_id}.json").read_text())
            target = Path(tmp) / f"{page_id}.html"
            target.write_bytes(gzip.decompress(source.read_bytes()))
            kind = truth["_internal"]["page_type"]["primary"]
            pages.append((page_id, kind, truth["ground_truth"].get("main_content") or "", target))
        server = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", tmp],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            port = re.search(r"port (\d+)", server.stdout.readline())
            assert port, "http.server did not say its port"
            rows = trio.run(measure, pages, f"http://127.0.0.1:{port.group(1)}")
        finally:
            server.terminate()
            server.wait(10)
    section = report(rows, args.every)
    print(section)
    write(args.out, [header("Overlay removal on real pages"), section])


if __name__ == "__main__":
    main()
