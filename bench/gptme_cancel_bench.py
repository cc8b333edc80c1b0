"""Figure 3, cancellation: gptme-trio's deadline next to gptme's browser thread (`read_url`), same pages.

Run from the repo root (talks only to 127.0.0.1; about 2.5 minutes, plus building the peer venv once):

    python -m bench.gptme_cancel_bench    # optional: --trials N (default 5), --method signal|thread
        [--gptme-python PY] [--peers-dir .nox/peers] [--ours-per-round N]

Per trial, each a fresh process: a normal call (/normal), a call to /never cancelled 0.5 s after it
starts, then the next normal call. gptme has no deadline or cancel argument: its tools are stopped with
KeyboardInterrupt. --method signal (default) is its CLI's way: a 0.5 s timer fires gptme's own SIGINT
handler (gptme.util.interrupt.handle_keyboard_interrupt, interruptible set) in the main thread, which is
inside read_url; --method thread is its TUI's: read_url runs in a worker thread and the caller calls
gptme.util.interrupt.raise_in_thread(worker, KeyboardInterrupt). Ours: `python -m bench.fetch_bench
--worker cancel` (its part 2: trio.move_on_after(0.5) around goto(/never)), --ours-per-round trials per round,
alternating with gptme's trials. Writes bench/results/gptme_cancel.md. The worker (`--worker`) runs in
gptme's venv as `python -m bench.gptme_cancel_bench --worker` from the repository root: this module imports
only the standard library at its top (the harness and peers are imported in main()).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.harness import Site

DEADLINE = 0.5


def worker(base: str, method: str, second: bool) -> None:
    """Runs in gptme's venv: stdlib and gptme only. Prints one JSON line, then leaves without atexit."""
    import signal
    import threading

    from gptme.tools.browser import read_url
    from gptme.util.interrupt import handle_keyboard_interrupt, raise_in_thread, set_interruptible

    def call(url: str) -> dict:
        start = time.perf_counter()
        try:
            ok, err = "Normal page" in read_url(url), ""
        except Exception as exc:  # noqa: BLE001 - the outcome is the measurement
            ok, err = False, f"{type(exc).__name__}: {exc}"
        return {"s": time.perf_counter() - start, "ok": ok, "err": err[:200]}

    def cancelled_call() -> float:
        read_url(base + "/never")
        raise SystemExit("read_url(/never) returned before the interrupt")

    # warm: starts gptme's thread
    out: dict[str, object] = {"warm": call(base + "/normal"), "before": call(base + "/normal")}
    back: list[float] = []
    if method == "signal":
        set_interruptible()
        signal.signal(signal.SIGALRM, handle_keyboard_interrupt)  # what gptme installs for SIGINT
        deadline = time.perf_counter() + DEADLINE
        signal.setitimer(signal.ITIMER_REAL, DEADLINE)
        try:
            cancelled_call()
        except KeyboardInterrupt:
            back.append(time.perf_counter())
    else:

        def tool() -> None:
            try:
                cancelled_call()
            except KeyboardInterrupt:
                back.append(time.perf_counter())

        thread = threading.Thread(target=tool, daemon=True)
        deadline = time.perf_counter() + DEADLINE
        thread.start()
        time.sleep(deadline - time.perf_counter())
        raise_in_thread(thread.ident, KeyboardInterrupt)  # the TUI's "stop a running tool"
        thread.join(30)
    out["late"] = back[0] - deadline if back else None
    out["next"] = call(base + "/normal")
    if second:
        out["second"] = call(base + "/normal")
    print(json.dumps(out), flush=True)
    os._exit(0)  # gptme's atexit handler would wait 20 s for its browser thread


def bench(site: Site, args: argparse.Namespace, gptme: str) -> str:
    from bench import peers
    from bench.harness import CHROMIUM, PASS, med

    def ms(values: list[float]) -> str:
        return med(values, 1000, "{:.0f}")

    ours: dict[str, list[float]] = {"late": [], "before": [], "after": []}
    theirs: list[dict] = []
    fetch_worker = [sys.executable, "-m", "bench.fetch_bench", "--worker", "cancel", site.base]
    for i in range(args.trials):  # rounds: ours (a few trials in one process), then one gptme trial
        r = json.loads(site.run([*fetch_worker, str(args.ours_per_round)], "{")[1].strip().splitlines()[-1])
        for key in ours:
            ours[key] += r[key]
        cmd = [gptme, "-m", "bench.gptme_cancel_bench", "--worker", site.base, args.method]
        cmd += ["--second"] if i == 0 else []
        theirs.append(json.loads(site.run(cmd, "{", peers.env("gptme", gptme), 180)[1].strip().splitlines()[-1]))
        t = theirs[-1]
        print(f"round {i}: gptme late {t['late']}, before {t['before']['s']:.2f} s, next {t['next']}", flush=True)
    late = [t["late"] for t in theirs if t["late"] is not None]
    before, after = [t["before"]["s"] for t in theirs], [t["next"]["s"] for t in theirs]
    ok = sum(t["next"]["ok"] for t in theirs)
    errors = sorted({t["next"]["err"] for t in theirs if t["next"]["err"]})
    o_ratio = statistics.median(ours["after"]) / statistics.median(ours["before"])
    g_ratio = statistics.median(after) / statistics.median(before)

    def lat(values: list[float], fn: Any) -> str:  # noqa: ANN401 - median or max
        return f"{fn(values) * 1000:.1f} ms {PASS[fn(values) <= 0.05]}" if values else "never came back"

    second = theirs[0].get("second", {})
    n_ours, g_ver = len(ours["late"]), peers.version(gptme, "gptme")
    how = {
        "signal": "a 0.5 s SIGALRM timer runs gptme's own SIGINT handler in the main thread (gptme CLI's Ctrl-C)",
        "thread": "read_url in a worker thread, stopped with gptme's raise_in_thread(KeyboardInterrupt) (its TUI)",
    }[args.method]
    return f"""## Figure 3: cancellation, gptme-trio vs gptme's browser thread

{args.trials} rounds, alternating: ours ({args.ours_per_round} trials in one `python -m bench.fetch_bench --worker cancel`
process: a normal fetch of /normal, `trio.move_on_after(0.5)` around `page.goto(/never)`, the next normal
fetch), then one gptme {g_ver} trial in a fresh process (gptme's venv, GPTME_BROWSER_EXECUTABLE_PATH={CHROMIUM}):
a warm-up `read_url(/normal)`, a normal `read_url(/normal)`, `read_url(/never)` cancelled at 0.5 s ({how}),
the next `read_url(/normal)`. gptme's read_url = HEAD request, new context, goto, network-idle wait, content
extraction, pandoc; so each column's ratio compares that tool's next call with its own normal call.
Control back = when the caller holds control again (ours: `trio.current_time()` after the `with` block;
gptme: where the caller catches KeyboardInterrupt), minus the deadline.

| Measure | gptme-trio (library) | gptme {g_ver} browser thread | target |
|---|---|---|---|
| trials | {n_ours} | {len(theirs)} | ≥ 5 |
| deadline → control back, median | {lat(ours["late"], statistics.median)} | {lat(late, statistics.median)} | ≤ 50 ms |
| deadline → control back, max | {lat(ours["late"], max)} | {lat(late, max)} | ≤ 50 ms |
| normal call, no cancel before it: ms median (min–max) | {ms(ours["before"])} | {ms(before)} | — |
| next call right after the cancel: ms median (min–max) | {ms(ours["after"])} | {ms(after)} | — |
| next call returned the page | {n_ours} of {n_ours} | {ok} of {len(theirs)} | — |
| **next / normal, ratio of medians** | **{o_ratio:.2f}×** {PASS[o_ratio <= 1.2]} | **{g_ratio:.2f}×** {PASS[g_ratio <= 1.2]} | ≤ 1.2× |

gptme's next calls failed with: {"; ".join(f"`{e}`" for e in errors) or "(none failed)"}.
In the first gptme trial one more `read_url(/normal)` followed the next call: {second.get("s", 0):.1f} s,
{"returned the page" if second.get("ok") else f"failed with `{second.get('err')}`"}.
Why (gptme's gptme/tools/_browser_thread.py and _browser_playwright.py): `read_url` queues the command for
its browser thread and polls for the result every 0.1 s for at most 20 s (`TIMEOUT`). KeyboardInterrupt
ends only that wait; nothing tells the browser thread, which goes on with `goto(/never)` until Playwright's
default 30 s navigation timeout, then calls `page.query_selector("main")` (no timeout) on the page that is
still navigating to /never, which does not return (Playwright's DEBUG=pw:api log shows it started and
never finished). The thread takes no other command meanwhile: later calls wait in its queue and time out.
"""


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:  # in gptme's venv: no project imports
        return worker(sys.argv[2], sys.argv[3], "--second" in sys.argv[4:])
    import tempfile

    from bench import peers
    from bench.harness import Site, default_out, header, housekeeping, shown, write

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="gptme trials = rounds (>= 5)")
    parser.add_argument("--ours-per-round", type=int, default=3, help="gptme-trio trials per round")
    parser.add_argument("--method", choices=["signal", "thread"], default="signal", help="how gptme is interrupted")
    parser.add_argument("--gptme-python", help="python of a venv with gptme (default: bench.peers makes one)")
    parser.add_argument("--peers-dir", default=peers.DEFAULT_DIR, help="where bench.peers keeps the venvs")
    parser.add_argument("--out", default=default_out("gptme_cancel.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    gptme, reason = peers.resolve("gptme", args.gptme_python, args.peers_dir)
    sections = [header("Cancellation vs gptme's browser thread", {"gptme venv": shown(gptme) if gptme else "-"})]
    with tempfile.TemporaryDirectory(prefix="gptme-cancel-") as tmp:
        site = Site(tmp)
        try:
            if gptme is None:
                sections.append(f"## Figure 3: cancellation vs gptme\n\nNot run: {reason}\n")
            else:
                sections.append(bench(site, args, gptme) + "\n" + site.noise.line() + "\n")
            print(sections[-1], flush=True)
        finally:
            site.close()
        left = site.wait_gone()
    sections.append(housekeeping(started, left))
    write(args.out, sections)


if __name__ == "__main__":
    main()
