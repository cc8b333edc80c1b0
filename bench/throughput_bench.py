"""Figure 2: throughput of `gptme-trio fetch` over 100 local pages, vs crawl4ai and gptme; writes
bench/results/throughput.md.

Run from the repo root (talks only to 127.0.0.1; about 7 minutes with the peers, 4 without):

    python -m bench.throughput_bench     # optional: --runs N (default 5), --gptme-pages N (default 20)
        [--crawl4ai-python PY] [--gptme-python PY] [--peers-dir .nox/peers] [--no-peers]

The script serves 100 distinct pages (/page?n=1..100: an article with a stylesheet and two images,
each page answered after a 50 ms sleep) from a ThreadingHTTPServer in a thread of its own process.
Ours: `python -m gptme_trio fetch -f text -q -i URLS.txt -j N` as a subprocess for N = 1, 4, 8 and
`--no-block -j 4`. Peers (crawl4ai arun_many over the 100 URLs, gptme read_url one after another over the
first --gptme-pages) run in their own bench-only virtualenvs: the pythons given, else those bench.peers
makes (or reuses) under --peers-dir; --no-peers skips them. A warm-up run of each tool on 10 URLs (gptme: 3), then
--runs rounds of: ours -j 4, crawl4ai, ours -j 1, gptme, ours -j 8, ours -j 4 --no-block (throughput_peers.py).
Per run: wall time -> pages/s, and the peak memory of the whole process tree (the CLI and all its
descendants: node driver, Chromium and its children), sampled every 50 ms as the sum of PSS
(psutil memory_full_info; RSS where PSS is not readable). Then one profiled -j 4 run: where its time goes
(throughput_profile.py). At the end it checks that nothing it started is still running.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil

from bench import peers, throughput_peers, throughput_profile
from bench.harness import ROOT, Tagged, default_out, header, housekeeping, kill_tree, med, tree, write
from tests.support.pages import make_png

PAGES, DELAY = 100, 0.05


PNG = make_png()  # the test site's 2x2 red PNG
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Page {n}</title>
<link rel="stylesheet" href="/style.css?n={n}"></head><body><nav><a href="/">Home</a></nav>
<article><h1>Throughput page {n}</h1><p>{text}</p><img src="/image.png?n={n}&i=1" alt="one">
<img src="/image.png?n={n}&i=2" alt="two"><p>Marker: page-{n}-done.</p></article></body></html>"""
TEXT = "Structured concurrency means every task has an owner and a visible lifetime. " * 6


class Handler(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()  # path -> requests, reset by the harness before each run

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        url = urlsplit(self.path)
        Handler.hits[url.path] += 1
        if url.path == "/page":
            time.sleep(DELAY)
            n = int(parse_qs(url.query).get("n", ["0"])[0])
            self.send(PAGE.format(n=n, text=TEXT).encode(), "text/html; charset=utf-8")
        elif url.path == "/style.css":
            self.send(b"body { font-family: sans-serif; } h1 { color: #333; }", "text/css")
        elif url.path == "/image.png":
            self.send(PNG, "image/png")
        else:
            self.send_error(404)

    def send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def tree_memory(proc: psutil.Process) -> tuple[int, set[str]]:
    """Sum of PSS (or RSS) of proc and all its descendants; the kinds of measure used."""
    total, kinds = 0, set[str]()
    for p in tree(proc):
        try:
            total, kinds = total + p.memory_full_info().pss, kinds | {"PSS"}
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                total, kinds = total + p.memory_info().rss, kinds | {"RSS"}
        except psutil.Error:  # gone between listing and reading
            pass
    return total, kinds


class Bench(Tagged):
    """The page server in a thread of this process, and runs of commands in the tagged environment."""

    def __init__(self, tmp: str) -> None:
        super().__init__(tmp)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.urls = [f"{self.base}/page?n={n}" for n in range(1, PAGES + 1)]
        self.url_file = Path(tmp) / "urls.txt"
        self.url_file.write_text("\n".join(self.urls) + "\n")
        self.kinds: set[str] = set()

    @property
    def noise_cpu(self) -> float:  # CPU-s of other processes while commands ran
        return self.noise.cpu

    def run(
        self, cmd: list[str], pages: int = PAGES, env: dict[str, str] | None = None, timeout: float = 600, **probe: Any
    ) -> dict[str, Any]:
        """Run cmd, sampling its tree's memory every 50 ms; wall, peak, tree CPU, requests served. Its output
        must hold the markers of pages 1..`pages`. probe: roles={} (filled: pid -> [role, CPU-s]) and role_of."""
        Handler.hits.clear()
        out_path = Path(self.tmp) / "out.txt"
        with self.noise.measure(), open(out_path, "w") as out, open(Path(self.tmp) / "err.txt", "w") as err:
            start = time.perf_counter()
            env = {**self.env, **(env or {})}
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            ps, peak = psutil.Process(proc.pid), 0
            try:
                while proc.poll() is None:
                    tick = time.perf_counter()
                    mem, kinds = tree_memory(ps)
                    peak, self.kinds = max(peak, mem), self.kinds | kinds
                    if probe:  # roles: pid -> [role_of(process, root pid), CPU-s], sampled
                        sample_roles(ps, probe["roles"], probe["role_of"])
                    if tick - start > timeout:
                        raise SystemExit(f"timed out after {timeout} s: {shlex.join(cmd)}")
                    time.sleep(max(0.0, 0.05 - (time.perf_counter() - tick)))
                wall = time.perf_counter() - start
            finally:
                if proc.poll() is None:  # only on errors: end the whole tree we started
                    kill_tree(ps)
                    proc.wait()
        tree_cpu = self.noise.tree
        text = out_path.read_text(errors="replace")
        missing = [n for n in range(1, pages + 1) if f"page-{n}-done" not in text]
        if proc.returncode != 0 or missing:
            tail = text[-500:] + (Path(self.tmp) / "err.txt").read_text(errors="replace")[-2000:]
            raise SystemExit(f"failed ({proc.returncode}, {len(missing)} pages missing): {shlex.join(cmd)}\n{tail}")
        return {"wall": wall, "peak": peak, "cpu": tree_cpu, "hits": dict(Handler.hits), "out": text, "pages": pages}

    def close(self) -> list[str]:
        """Stop the page server; then what this run started and is still running, after up to 5 s."""
        self.server.shutdown()
        self.server.server_close()
        return self.wait_gone()


def sample_roles(
    root: psutil.Process, roles: dict[int, list[Any]], role_of: Callable[[psutil.Process, int], str]
) -> None:
    """pid -> [role_of(process, root pid), CPU-s so far] for root and its descendants."""
    for p in tree(root):
        with contextlib.suppress(psutil.Error):
            if p.pid not in roles:
                roles[p.pid] = [role_of(p, root.pid), 0.0]
            t = p.cpu_times()
            roles[p.pid][1] = t.user + t.system


def bench_rounds(b: Bench, args: argparse.Namespace) -> tuple[str, str, dict[str, list[float]], dict[str, Any]]:
    """Ours and the peers, alternating in every round: our section, the peers' section, our pages/s per variant."""
    fetch = [sys.executable, "-m", "gptme_trio", "fetch", "-f", "text", "-q", "-i"]
    ours = {
        "-j 4": ["-j", "4"],
        "crawl4ai": None,
        "-j 1": ["-j", "1"],
        "gptme": None,
        "-j 8": ["-j", "8"],
        "-j 4 --no-block": ["-j", "4", "--no-block"],
    }
    few = {10: b.url_file.with_name("urls-10.txt"), 3: b.url_file.with_name("urls-3.txt")}
    for n, path in few.items():
        path.write_text("\n".join(b.urls[:n]) + "\n")
    subset = b.url_file.with_name("urls-gptme.txt")
    subset.write_text("\n".join(b.urls[: args.gptme_pages]) + "\n")
    peer_py = {p: getattr(args, f"{p}_python") for p in throughput_peers.PEERS}
    notes, versions = [], {}
    for peer, python in peer_py.items():
        if python:
            versions[peer] = peers.version(python, peer)
        else:
            why = "--no-peers" if args.no_peers else "its virtualenv could not be made"
            error = (args.peer_errors.get(peer) or "")[-600:]
            notes.append(f"- {peer}: not run ({why})" + (f": `{error}`" if error else ""))

    def command(name: str, urls: Path) -> tuple[list[str], dict[str, str] | None]:
        flags = ours[name]
        if flags is not None:
            return [*fetch, str(urls), *flags], None
        python = peer_py[name]
        return [python, "-c", throughput_peers.PEERS[name][1], str(urls)], peers.env(name, python)

    def one(name: str, urls: Path, pages: int, label: str) -> dict[str, Any] | None:
        if ours[name] is None and not peer_py[name]:
            return None
        cmd, env = command(name, urls)
        try:
            r = b.run(cmd, pages, env, args.peer_timeout if env else 600)
        except (SystemExit, Exception) as exc:  # noqa: BLE001 - a peer's failure is a result, not a crash
            if env is None:
                raise
            notes.append(f"- {name} ({label}): `{str(exc).strip().replace(chr(10), ' ')[-600:]}`")
            peer_py[name] = None  # not again
            return None
        print(f"{label} {name}: {pages / r['wall']:.2f} pages/s, peak {r['peak'] / 2**20:.0f} MiB", flush=True)
        return r

    for name, n in (("-j 4", 10), ("crawl4ai", 10), ("gptme", 3)):  # warm-up: file caches, each tool once
        one(name, few[n], n, "warm-up")
    res: dict[str, list[dict[str, Any]]] = {name: [] for name in ours}
    for i in range(args.runs):
        for name in ours:
            pages, urls = (args.gptme_pages, subset) if name == "gptme" else (PAGES, b.url_file)
            if (r := one(name, urls, pages, f"round {i + 1}")) is not None:
                res[name].append({**r, "round": i})
    mine = {n: rs for n, rs in res.items() if ours[n] is not None}
    rate = {n: [PAGES / r["wall"] for r in rs] for n, rs in mine.items()}
    rows = []
    for name, rs in mine.items():
        peak = med([r["peak"] / 2**20 for r in rs], fmt="{:.0f}")
        cpu = med([r["cpu"] / PAGES * 1000 for r in rs], fmt="{:.0f}")
        imgs = statistics.median(r["hits"].get("/image.png", 0) for r in rs)
        css = statistics.median(r["hits"].get("/style.css", 0) for r in rs)
        rows.append(
            f"| `fetch -f text -q -i URLS.txt {name}` | {med(rate[name])} | {peak} | {cpu} | {css:.0f} / {imgs:.0f} "
            "| — | info |"
        )
    m = {n: statistics.median(v) for n, v in rate.items()}
    j4 = m["-j 4"]
    kind = "+".join(sorted(b.kinds)) or "?"
    text = f"""## 1. gptme-trio fetch: {PAGES} pages, CSS + two images each, {DELAY * 1000:.0f} ms server delay

1 warm-up run (-j 4 on 10 URLs) + {args.runs} measured rounds; in every round ours run -j 4, -j 1, -j 8,
-j 4 --no-block, with the peers between them (section 2). Every run must exit 0 and print all {PAGES} page markers.
Command: `{shlex.join(["python", *fetch[1:]])} URLS.txt -j N [--no-block]`.
Peak memory = highest sum of {kind} over the CLI process and all its descendants, sampled every 50 ms.
Tree CPU = CPU-s of the whole process tree (reaped children's rusage) / {PAGES} pages.
Requests = requests the server saw for the stylesheet / the images in one run (median).

| Command | pages/s median (min–max) | peak MiB median (min–max) | tree CPU ms/page | requests CSS / images | target | result |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
| -j 4 / -j 1 pages/s, ratio of medians | {j4 / m["-j 1"]:.2f}× | | | | — | info |
| -j 8 / -j 4 pages/s, ratio of medians | {m["-j 8"] / j4:.2f}× | | | | — | info |
| blocked / --no-block at -j 4, ratio of medians | {j4 / m["-j 4 --no-block"]:.2f}× | | | | — | info |
"""
    peer_runs = {n: rs for n, rs in res.items() if ours[n] is None}
    args.pages = PAGES
    peer_text, ratios = throughput_peers.section(peer_runs, rate["-j 4"], versions, notes, args)
    return text, peer_text, rate, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (>= 5 for a result)")
    parser.add_argument("--gptme-pages", type=int, default=20, help="URLs per gptme run (the first N)")
    parser.add_argument("--crawl4ai-python", help="python of a venv with crawl4ai (default: bench.peers makes one)")
    parser.add_argument("--gptme-python", help="python of a venv with gptme (default: bench.peers makes one)")
    parser.add_argument("--peers-dir", default=peers.DEFAULT_DIR, help="where bench.peers keeps the venvs")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers (crawl4ai, gptme)")
    parser.add_argument("--peer-timeout", type=float, default=300, help="seconds per peer run")
    parser.add_argument("--out", default=default_out("throughput.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    args.peer_errors = peers.resolve_args(args, ("crawl4ai", "gptme"))  # made or reused before measuring
    sections = [header("gptme-trio fetch throughput benchmark")]
    with tempfile.TemporaryDirectory(prefix="throughput-bench-") as tmp:
        bench = Bench(tmp)
        try:
            since = bench.noise.mark()
            text, peer_text, rate, ratios = bench_rounds(bench, args)
            sections.append(f"{text}\n{bench.noise.line(since)} (The runs: ours and the peers'.)\n")
            prof, numbers = throughput_profile.profile(bench, PAGES)
            sections += [prof, peer_text, throughput_profile.explain(numbers, rate, ratios.get("crawl4ai"))]
            print("\n".join(sections[1:]), flush=True)
        finally:
            left = bench.close()
    note = "The page server is a thread of this script; the 50 ms memory sampling also runs here, on the same cores."
    sections.append(housekeeping(started, left, [note]))
    write(args.out, sections)


if __name__ == "__main__":
    main()
