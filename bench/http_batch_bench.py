"""A whole `gptme-trio fetch --engine http -f json -i LIST` run over local pages: ms per page (issue 13's
target: <= 30 ms/page, start-up included).

Run from the repository root: `python -m bench.http_batch_bench [--runs 5] [--data DIR] [--before DIR]`; writes
bench/results/http_batch.md. The pages are the ScrapingHub article set's 181 pages (--data), served as they
are by a static server on 127.0.0.1 in a thread of this process; each run is one CLI process fetching
all of them (the default -j), so start-up is paid once per run and counted. In every round, alternating:
- ours, default extraction (`-f json`: Markdown content with metadata);
- ours, `--extractor blocks` (the block classifier);
- ours, `-f html` (no extraction: the floor of fetching and writing the same pages);
ms/page = the run's wall time / pages. The CPU of the run's process (user + system) is given too: the
server's share runs in this process and is not counted in it.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.harness import PASS, ROOT, default_out, header, load_average, med, rounds, shared_data, shown, write

TARGET_MS = 30.0
VARIANTS = {
    "ours: `-f json` (default extraction)": ["-f", "json"],
    "ours: `-f json --extractor blocks`": ["-f", "json", "--extractor", "blocks"],
    "floor: `-f html` (no extraction)": ["-f", "html"],
}


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """`directory` over HTTP on 127.0.0.1 (a thread of this process); its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run(urls: Path, args: list[str], pages: int, root: Path = ROOT) -> tuple[float, float]:
    """(wall s, CPU s) of one CLI run of `root`'s package; exits unless every page came back without an error."""
    cmd = [sys.executable, "-m", "gptme_trio", "fetch", "--engine", "http", "-q", *args, "-i", str(urls)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}: {proc.stderr[-1000:]}")
    if args[1] == "json":
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        failed = [r["url"] for r in records if r.get("error")]
        if len(records) != pages or failed:
            raise SystemExit(f"{' '.join(args)}: {len(records)} records, errors on {failed[:3]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = shared_data("article-extraction-benchmark")
    parser.add_argument("--data", type=Path, default=data, help=f"the pages (default: {shown(data)})")
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (after 1 warm-up round)")
    parser.add_argument("--before", type=Path, metavar="DIR", help="also run `-f json` from this checkout")
    parser.add_argument("--out", default=default_out("http_batch.md"))
    args = parser.parse_args()
    head = header("fetch --engine http -f json -i LIST over local pages (issue 13)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="http-batch-") as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        (tmp / "pages").mkdir()
        for page in sorted((args.data / "html").glob("*.html.gz")):
            (tmp / "pages" / page.name.removesuffix(".gz")).write_bytes(gzip.decompress(page.read_bytes()))
        base = stack.enter_context(static_server(tmp / "pages"))
        names = sorted(p.name for p in (tmp / "pages").iterdir())
        urls = tmp / "urls.txt"
        urls.write_text("".join(f"{base}/{n}\n" for n in names))
        variants = dict(VARIANTS)
        if args.before is not None:
            variants[f"before: `-f json` from --before ({args.before.name})"] = ["-f", "json"]
        walls: dict[str, list[float]] = {v: [] for v in variants}
        cpus: dict[str, list[float]] = {v: [] for v in variants}
        for i, order in rounds(list(variants), args.runs, 1, True):
            for variant in order:
                root = args.before if variant.startswith("before") else ROOT
                wall, cpu = run(urls, variants[variant], len(names), root)
                if i >= 1:
                    walls[variant].append(wall / len(names))
                    cpus[variant].append(cpu / len(names))
            print(f"round {i}: " + ", ".join(f"{v[:30]} {walls[v][-1] * 1000 if walls[v] else 0:.1f}" for v in order))
    main_variant = next(iter(VARIANTS))
    verdict = PASS[statistics.median(walls[main_variant]) * 1000 <= TARGET_MS]
    rows = "\n".join(
        f"| {v} | {med(walls[v], 1000, '{:.1f}')} | {med(cpus[v], 1000, '{:.1f}')} | "
        + (f"≤ {TARGET_MS:.0f} | {verdict} |" if v == main_variant else "— | info |")
        for v in variants
    )
    section = f"""## One process per run, {len(names)} pages

Pages: {shown(args.data)} ({len(names)} article pages, {sum(p.stat().st_size for p in (args.data / "html").glob("*.gz")) // 1024} KiB
gzipped), served by a static server on 127.0.0.1. 1 warm-up round, then {args.runs} rounds, the variants
alternating (reversed every other round). ms/page = the run's wall time (process start to exit) / pages.

| run | wall ms/page, median (min–max) | CPU ms/page, median (min–max) | target | result |
|---|---|---|---|---|
{rows}

Total {time.perf_counter() - started:.0f} s; load average at the end: {load_average()}.
"""
    print(section)
    write(args.out, [head, section])


if __name__ == "__main__":
    main()
