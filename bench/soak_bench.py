"""Soak: 1,000 fetches in one `fetch -i` run, 300 tool calls in one `chat -n` session; writes bench/results/soak.md.

Run from the repo root (talks only to 127.0.0.1; about 1.5 minutes on 2 busy cores):

    python -m bench.soak_bench    # optional: --fetches N (1000) --tool-calls N (300)
        [--calls-per-reply N (5)] [--every N (50)] [-j N (4)] [--out PATH]

Pages: throughput_bench's page server (a thread of this process), /page?n=1..N, without its 50 ms delay.
1. `python -m gptme_trio fetch -f json -q -j 4 -i URLS.txt`: stdout is read record by record; at every
   --every-th record the whole process tree (the CLI and all descendants: node driver, Chromium and its
   children) is sampled: RSS and PSS sums, open fds, processes, threads, and the same per role.
2. `python -m gptme_trio chat -n -m local/test-model --allow-hosts 127.0.0.1 ...` against tests/support/llm_server.py
   (a subprocess): replies of --calls-per-reply read_url calls on distinct pages, then a text answer; the
   `-> read_url(` lines on its stderr are counted and the tree is sampled at every --every-th one.
For each metric: least-squares slope over the samples after the warm-up ones, the fitted change over the
run, the noise (residual SD) and a verdict (see THRESHOLDS in the report). Every record / tool result must
succeed and carry its page's marker. At the end it checks that nothing it started is still running.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench import harness
from bench import throughput_bench as tb  # its page server
from bench.harness import ROOT, Noise, default_out, header, housekeeping, kill_tree, serve, tree, write

ROLES = ("python", "driver", "browser", "renderer", "webui", "other")
MiB = 2**20
WARMUP = {"fetch": 2, "chat": 1}  # samples left out of the trend: tabs, caches and heaps still filling
THRESHOLDS = """A metric is **flat** when its fitted change over the measured samples (slope × operations
between the first and last of them) is at most max(floor, 2 × noise), noise being the residual SD of the
samples around the fitted line. Floors: memory 2 % of its mean (at least 1 MiB), fds 3, processes 1,
threads 3 % of their mean (at least 2): Chromium's thread pools grow and shrink by a few threads (its
omnibox-popup renderer moved between 70 and 78 threads over 1,200 chat tool calls, with no trend, while a
300-call run caught it 5 up). Why: the samples are snapshots of a tree whose tabs are replaced every 50 uses and whose
contexts close in the background, so single samples jump by a renderer or a few sockets; 2 × noise keeps
that sawtooth from reading as a trend, and the floor keeps a perfectly quiet series from calling one stray
fd or a 1 % heap wobble growth. A leak of a fixed amount per operation grows the fitted change linearly
with the run length and is flagged once it exceeds both. A metric that is not flat over the run but is flat
over the second half of its samples (same rule) is reported as "rose, then levelled off" (a heap or cache
filling up to its working size), one still rising in its second half as **GROWS**. The criterion is the
tree's totals; the per-role rows are diagnostics: they say which process moves."""
FLOORS = {"mem": (0.02, 1.0), "fds": (0, 3), "procs": (0, 1), "threads": (0.03, 2)}  # (relative, absolute)


def role(p: psutil.Process, root_pid: int) -> str:
    found = harness.role(p, root_pid)
    return found if found in ROLES else "other"  # zygotes, GPU process, network / storage utilities, crash handler


def kind(p: psutil.Process, root_pid: int) -> str:
    """A finer name than the role: Chromium's --type and --utility-sub-type (which utility it is)."""
    cmd = p.cmdline()
    found = [c.split("=", 1)[1] for c in cmd if c.startswith(("--type=", "--utility-sub-type="))]
    return ":".join(found) or role(p, root_pid)


Sample = dict[str, Any]
Env = dict[str, str]


def sample(root: psutil.Process, ops: int, t0: float) -> Sample:
    """Totals and per-role figures of root and all its descendants (zombies counted apart)."""
    s: Sample = {"ops": ops, "t": time.perf_counter() - t0, "pss_kind": "PSS", "kinds": collections.Counter()}
    s |= dict.fromkeys(("rss", "pss", "fds", "procs", "threads", "zombies"), 0)  # kinds: which came or went
    s["roles"] = {r: dict.fromkeys(("n", "pss", "rss", "fds", "threads"), 0) for r in ROLES}
    for p in tree(root):
        try:
            with p.oneshot():
                if p.status() == psutil.STATUS_ZOMBIE:
                    s["zombies"] += 1
                    continue
                r, rss, fds, threads = role(p, root.pid), p.memory_info().rss, p.num_fds(), p.num_threads()
                s["kinds"][kind(p, root.pid)] += 1
                try:
                    pss = p.memory_full_info().pss
                except psutil.AccessDenied:
                    pss, s["pss_kind"] = rss, "RSS"
        except psutil.Error:  # gone between listing and reading
            continue
        for key, value in (("rss", rss), ("pss", pss), ("fds", fds), ("threads", threads), ("procs", 1)):
            s[key] += value
        for key, value in (("n", 1), ("pss", pss), ("rss", rss), ("fds", fds), ("threads", threads)):
            s["roles"][r][key] += value
    return s


def soak(
    cmd: list[str], env: Env, tmp: str, lines: str, count: Callable[[str], int | None], every: int, timeout: float
) -> dict[str, Any]:
    """Run cmd; for each line of its `lines` stream ("stdout" / "stderr") count(line) -> operations
    done (cumulative) or None; sample the tree whenever that count passes a multiple of `every`."""
    other = open(Path(tmp) / f"{'err' if lines == 'stdout' else 'out'}.txt", "wb")  # noqa: SIM115
    pipe = subprocess.PIPE
    pipes = {"stdout": pipe, "stderr": other} if lines == "stdout" else {"stdout": other, "stderr": pipe}
    noise, t0 = Noise(), time.perf_counter()
    with noise.measure():
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, text=True, **pipes)  # type: ignore[call-overload]
        root, samples, done = psutil.Process(proc.pid), [], 0
        timer = threading.Timer(timeout, kill_tree, [root])
        timer.start()
        try:
            for line in getattr(proc, lines):
                ops = count(line)
                if ops is not None and ops // every > done // every:
                    samples.append(sample(root, ops, t0))
                done = ops if ops is not None else done
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                kill_tree(root)
                proc.wait()
            other.close()
    side = Path(other.name).read_text(errors="replace")
    r = {"samples": samples, "rc": proc.returncode, "wall": noise.wall, "cpu": noise.tree, "noise": noise.cpu}
    return r | {"other": side}


def fetch_soak(b: tb.Bench, tmp: str, n: int, every: int, jobs: int) -> dict[str, Any]:
    url_file = Path(tmp) / "soak-urls.txt"
    url_file.write_text("".join(f"{b.base}/page?n={i}\n" for i in range(1, n + 1)))
    cmd = [sys.executable, "-m", "gptme_trio", "fetch", "-f", "json", "-q", "-j", str(jobs), "-i", str(url_file)]
    records: list[dict[str, Any]] = []

    def count(line: str) -> int | None:  # the last record ends the run: sampled then, the tree is exiting
        records.append(json.loads(line))
        return len(records) if len(records) < n else None

    r = soak(cmd, b.env, tmp, "stdout", count, every, timeout=900)
    ok = sum(
        rec["error"] is None and f"page-{i}-done" in (rec["content"] or "") and rec["url"].endswith(f"n={i}")
        for i, rec in enumerate(records, 1)
    )
    return r | {"cmd": cmd, "ok": ok, "total": n, "records": len(records), "hits": tb.Handler.hits.copy()}


def chat_soak(b: tb.Bench, tmp: str, calls: int, per_reply: int, every: int) -> dict[str, Any]:
    urls = [f"{b.base}/page?n={i}" for i in range(1, calls + 1)]
    script = [
        {"tool_calls": [{"name": "read_url", "arguments": {"url": u}} for u in urls[i : i + per_reply]]}
        for i in range(0, calls, per_reply)
    ] + [{"text": "soak done"}]
    (Path(tmp) / "script.json").write_text(json.dumps(script))
    with serve("llm_server", str(Path(tmp) / "script.json"), env=b.env) as port:
        home = Path(tmp) / "home"
        env = b.env | {"GPTME_TRIO_HOME": str(home), "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        env |= {"OPENAI_API_KEY": "sk-soak-local"}
        steps = str(min(1000, len(script) + 5))  # the CLI's maximum
        cmd = [sys.executable, "-m", "gptme_trio", "chat", "-n", "-m", "local/test-model", "--allow-hosts"]
        cmd += ["127.0.0.1", "--max-steps", steps, "--tool-timeout", "60", "Read every page you are given."]
        started, failed = [0], [0]

        def count(line: str) -> int | None:
            failed[0] += line.startswith("   read_url:")
            if line.startswith("-> read_url("):
                started[0] += 1
                return started[0]
            return None

        r = soak(cmd, env, tmp, "stderr", count, every, timeout=900)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_status", timeout=10) as resp:
            status = json.load(resp)
    log = [json.loads(x) for p in home.glob("conversations/*/conversation.jsonl") for x in p.read_text().splitlines()]
    asked = {c["id"]: c["arguments"]["url"] for m in log for c in m.get("tool_calls", [])}
    ok = sum(
        m["role"] == "tool"
        and m.get("metadata", {}).get("ok") is True
        and f"page-{asked.get(m['call_id'], '=?').rsplit('=', 1)[1]}-done" in m["content"]
        for m in log
    )
    return r | {"cmd": cmd, "ok": ok, "total": calls, "started": started[0], "failed": failed[0], "status": status}


def fit(points: list[tuple[float, float]], kind: str) -> dict[str, Any]:
    """Least-squares line: slope, fitted change first..last sample, residual SD, the flat limit."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    slope, intercept = statistics.linear_regression(xs, ys)
    noise = (sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True)) / (len(xs) - 2)) ** 0.5
    rel, floor = FLOORS[kind]
    change, limit = slope * (xs[-1] - xs[0]), max(floor, rel * statistics.fmean(ys), 2 * noise)
    return {"slope": slope * 1000, "change": change, "noise": noise, "limit": limit, "flat": change <= limit}


def trend(points: list[tuple[float, float]], kind: str) -> dict[str, Any]:
    if len(points) < 3:
        return {"verdict": "too few samples"}
    t = fit(points, kind)
    half = points[len(points) // 2 :]
    t["half"] = fit(half, kind)["change"] if len(half) >= 3 else float("nan")
    if t["flat"]:
        t["verdict"] = "flat"
    elif len(half) >= 3 and fit(half, kind)["flat"]:
        t["verdict"] = "rose, then levelled off"
    else:
        t["verdict"] = "**GROWS**"
    first, last, ys = points[0][1], points[-1][1], [p[1] for p in points]
    return t | {"first": first, "last": last, "ratio": last / first if first else float("nan"), "range": ys}


def metrics(r: dict[str, Any]) -> list[tuple[str, str, Callable[[Sample], float]]]:
    kind = r["samples"][0]["pss_kind"] if r["samples"] else "PSS"
    out = [("RSS sum, MiB", "mem", _pick("rss", scale=MiB)), (f"{kind} sum, MiB", "mem", _pick("pss", scale=MiB))]
    out += [("open fds", "fds", _pick("fds")), ("processes", "procs", _pick("procs"))]
    out += [("threads", "threads", _pick("threads"))]
    out += [(f"{kind} {ro}, MiB", "mem", _pick("roles", ro, "pss", scale=MiB)) for ro in ROLES]
    out += [(f"fds {ro}", "fds", _pick("roles", ro, "fds")) for ro in ("python", "driver", "browser")]
    out += [(f"threads {ro}", "threads", _pick("roles", ro, "threads")) for ro in ROLES]
    return out


def _pick(*keys: str, scale: float = 1) -> Callable[[Sample], float]:
    """A sample's number at `keys` (nested), divided by `scale`."""

    def get(sample: Sample) -> float:
        value: Any = sample
        for key in keys:
            value = value[key]
        return float(value) / scale

    return get


def kinds_line(s: list[Sample]) -> str:
    """Which kinds of process came or went between the first and the last measured sample, and when."""
    if len(s) < 2:
        return ""
    changes = []
    for before, after in itertools.pairwise(s):
        diff = (after["kinds"] - before["kinds"]), (before["kinds"] - after["kinds"])
        for sign, counter in zip("+-", diff, strict=True):
            changes += [f"{sign}{n} {k} (by op {after['ops']})" for k, n in sorted(counter.items())]
    first, last = s[0]["kinds"], s[-1]["kinds"]
    net = [f"+{n} {k}" for k, n in sorted((last - first).items())] + [
        f"-{n} {k}" for k, n in sorted((first - last).items())
    ]
    return (
        "Processes by kind (Chromium's --type, --utility-sub-type) between measured samples: "
        + (", ".join(changes) or "no change")
        + f"; first to last: {', '.join(net) or 'the same'}."
    )


def section(title: str, what: str, r: dict[str, Any], warm: int) -> tuple[str, list[str]]:
    s = r["samples"]
    head = "| ops | s | RSS MiB | PSS MiB | fds | procs | threads | PSS MiB: python / driver / browser / renderers (n) / webui (n) / other (n) | fds: python / driver / browser / renderers / webui / other |"
    rows = [head, "|" + "---|" * 9]
    for i, x in enumerate(s):
        ro, zombies = x["roles"], f" +{x['zombies']} zombie" if x["zombies"] else ""
        pss = " / ".join(f"{ro[k]['pss'] / MiB:.0f}" + (f" ({ro[k]['n']})" if k in ROLES[3:] else "") for k in ROLES)
        fds = " / ".join(str(ro[k]["fds"]) for k in ROLES)
        mark = " (warm-up)" if i < warm else ""
        rows.append(
            f"| {x['ops']}{mark} | {x['t']:.0f} | {x['rss'] / MiB:.0f} | {x['pss'] / MiB:.0f} | {x['fds']} | {x['procs']}"
            f"{zombies} | {x['threads']} | {pss} | {fds} |"
        )
    trows = ["| metric | first | last | last / first | slope per 1,000 ops | fitted change | noise (SD) | flat if ≤ "]
    trows = [trows[0] + "| change, 2nd half | min–max | verdict |", "|" + "---|" * 11]
    grows = []
    for name, kind, get in metrics(r):
        t = trend([(x["ops"], get(x)) for x in s[warm:]], kind)
        if "first" not in t:
            trows.append(f"| {name} | | | | | | | | | | {t['verdict']} |")
            continue
        if t["verdict"] != "flat":
            words = name.split()  # "PSS renderer, MiB": one role's share is a diagnostic; sums are criteria
            where = "diagnostic" if len(words) > 1 and words[1].rstrip(",") in ROLES else "criterion"
            grows.append(
                f"{where}: {title.split(':')[0]}: {name} {t['verdict'].strip('*')}: {t['change']:+.1f} over the run "
                f"({t['slope']:+.1f} per 1,000 ops; {t['half']:+.1f} in its second half)"
            )
        trows.append(
            f"| {name} | {t['first']:.1f} | {t['last']:.1f} | {t['ratio']:.3f} | {t['slope']:+.2f} | {t['change']:+.1f} "
            f"| {t['noise']:.1f} | {t['limit']:.1f} | {t['half']:+.1f} | {min(t['range']):.0f}–{max(t['range']):.0f} "
            f"| {t['verdict']} |"
        )
    cmd = shlex.join(["python", *(Path(a).name if os.path.isabs(a) else a for a in r["cmd"][1:])])  # tmp files: names
    passed = r["rc"] == 0 and r["ok"] == r["total"]
    text = f"""## {title}

{what}

Command: `{cmd}`<br>
Result: exit code {r["rc"]}; **{r["ok"]} / {r["total"]}** succeeded with their page's marker ({"PASS" if passed else "**FAIL**"});
{r["wall"]:.0f} s wall ({r["total"] / r["wall"]:.1f} ops/s), tree CPU {r["cpu"]:.0f} s; other processes used
{r["noise"]:.0f} CPU-s meanwhile ({r["noise"] / r["wall"] / (os.cpu_count() or 1):.0%} of all cores).
{r.get("extra", "")}

Samples (the tree at every {r["every"]}th operation; warm-up samples, left out of the trends: the first {warm}):

{chr(10).join(rows)}

{kinds_line(s[warm:])}

Trends over the samples after the warm-up:

{chr(10).join(trows)}
"""
    if not passed:
        grows.append(f"criterion: {title}: not every operation succeeded (exit {r['rc']}, {r['ok']}/{r['total']})")
    return text, grows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fetches", type=int, default=1000)
    parser.add_argument("--tool-calls", type=int, default=300, help="0: no chat soak")
    parser.add_argument("--calls-per-reply", type=int, default=5, help="read_url calls per model reply (run at once)")
    parser.add_argument("--every", type=int, default=50, help="sample every N operations")
    parser.add_argument("-j", "--jobs", type=int, default=4, help="fetch -j")
    parser.add_argument("--out", default=default_out("soak.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    head = header("soak: fetch -i and chat -n")
    tb.DELAY = 0.0  # the page server answers at once: the soak is about drift, not about waiting
    sections, problems = [head], []

    def add(title: str, what: str, r: dict[str, Any], warm: int) -> None:
        print(f"{title.split(':')[0]}: rc {r['rc']}, {r['ok']}/{r['total']} ok, {r['wall']:.0f} s", flush=True)
        text, bad = section(title, what, r, warm)
        sections.append(text)
        problems.extend(bad)

    with tempfile.TemporaryDirectory(prefix="soak-bench-") as tmp:
        bench = tb.Bench(tmp)
        try:
            tb.Handler.hits.clear()
            f = fetch_soak(bench, tmp, args.fetches, args.every, args.jobs) | {"every": args.every}
            f["extra"] = f"Requests served: {dict(f['hits'])}; stderr: `{f['other'][-300:].strip() or '(empty)'}`"
            what = (
                f"{args.fetches} distinct pages (/page?n=1..{args.fetches}: article, stylesheet, two images; images"
                " blocked as usual for text formats) in one process; a record succeeds when its `error` is null and"
                " its content has the page's marker. The last record ends the run, so the last sample is at the last"
                " multiple of the interval before it."
            )
            add(f"1. fetch soak: {args.fetches} pages, -j {args.jobs}", what, f, WARMUP["fetch"])
            if args.tool_calls:  # --tool-calls 0: the fetch soak alone (the long run in results/soak_long.md)
                c = chat_soak(bench, tmp, args.tool_calls, args.calls_per_reply, args.every) | {"every": args.every}
                c["extra"] = (
                    f"`-> read_url(` lines: {c['started']}; failure lines: {c['failed']}; LLM server: {c['status']}; "
                    f"stdout: `{c['other'].strip()[:80]}`"
                )
                replies = -(-args.tool_calls // args.calls_per_reply)
                what = (
                    f"One `chat -n` process; tests/support/llm_server.py replies {replies} times with {args.calls_per_reply}"
                    " read_url calls on distinct pages (run concurrently, so that many reused tabs, each replaced after"
                    " 50 uses), then with a text answer. A tool call succeeds when the conversation log records it"
                    " `ok` and its result has the page's marker. The conversation (all page texts) grows by design."
                )
                add(f"2. chat soak: {args.tool_calls} read_url calls", what, c, WARMUP["chat"])
        finally:
            left = bench.close()
    crit = [p.split(": ", 1)[1] for p in problems if p.startswith("criterion")]
    diag = [p.split(": ", 1)[1] for p in problems if p.startswith("diagnostic")]
    verdict = "**PASS**: every operation succeeded; RSS, PSS, fds, processes and threads of the tree are flat."
    verdict = "**FAIL**:" + "".join(f"\n- {p}" for p in crit) if crit else verdict
    roles = "".join(f"\n- {p}" for p in diag) or " none: every role is flat."
    sections.append(f"""## Verdict

Criterion (the issue: the whole tree's totals stay flat, every operation succeeds): {verdict}

Per-role diagnostics that are not flat (which process grows, if any):{roles}

{THRESHOLDS}

PSS splits shared pages among the processes that map them (the sum is the tree's real footprint); RSS
counts them in every process. Roles: python = the CLI; driver = Playwright's node; browser = Chromium's
main process; renderers = page renderers (one per live tab / context); webui = `--top-chrome-webui`
renderers (Chromium's omnibox popup, chrome://omnibox-popup.top-chrome/, one per browser context);
other = zygotes, GPU process, network and storage utilities. PSS moves between processes when one forks
or exits (shared pages are re-divided), so single per-role samples jump where the sum does not.

""")
    note = "The page server and the sampling run in this script, on the same cores; a sample takes ~0.05 s."
    sections.append(housekeeping(started, left, [note]))
    write(args.out, sections)


if __name__ == "__main__":
    main()
