"""Fault matrix: signals, crashes and broken servers at random moments of `fetch` and `chat`.

Run from the repo root (only 127.0.0.1); writes bench/results/faults.md:

    python -m bench.fault_matrix [--trials 200] [--seed N] [--jobs 2] [--trial SCENARIO:FAULT:MOMENT:SEED]

A trial runs `python -m gptme_trio` on tests/support/pages.py. fetch: `fetch -f json -j 2 -t 4 -i urls.txt`, 4 slow pages
then 3 fast ones. chat: `chat -n --name trial`, tests/support/llm_server.py answering prompt 1 with read_url(a slow page),
prompt 2 with read_url(/normal); then `chat -n -r --name trial` must resume. Faults, `moment` s after the first
page request: SIGINT, SIGTERM to the CLI; SIGKILL of a renderer, the browser, the driver; kill-at-launch: of the
browser or the driver `moment`/4 s after the browser appears; stall-body, close-body: a page's body stops after
`moment` s, silent or closed. Checks: the README's exit code (-2 / -15, killed by the signal, show as 130 / 143
in a shell) within 5 s of a signal; per failed URL a record and a `URL: reason` line, per failed tool call an
error, saying what happened (a crash is not a timeout) within the deadline; no traceback; later URLs / the next
tool call succeed; the log is JSONL with a result for every tool call, and resumes; no process with the trial's
BENCH_RUN in its environment or its TMPDIR in its command line runs 2 s after exit. Recovered: those
checks held but the last two; orphans: trials that left a process running; corrupt logs: invalid or not resumed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from bench.harness import ROOT, TAG_VAR, default_out, describe, header, role, serve, tagged, tree, wait_gone

T = TypeVar("T")
SCENARIOS, SERVER = ("fetch", "chat"), ("stall-body", "close-body")
KILLS = ("kill-renderer", "kill-browser", "kill-driver", "kill-at-launch")
FAULTS = ("sigint", "sigterm", *KILLS, *SERVER)
SIGNALS = {"sigint": (signal.SIGINT, 130), "sigterm": (signal.SIGTERM, 143)}
WINDOW = 1.6  # moments are drawn from [0, WINDOW]
JOBS, FETCH_T, CHAT_SLOW_MS, TOOL_T = 2, 4, 1800, 4  # -j, -t, chat's first page, --tool-timeout
SLOW_MS = (900, 1300, 900, 900)  # fetch's: a page is in flight until 2 s after the first request (gaps never meet)
START_SLACK = 3.0  # s of browser start-up a chat tool call's tool_ms includes (outside its deadline, by design)
HANG_LIMIT, EXIT_LIMIT, ORPHAN_GRACE = 25.0, 5.0, 2.0  # s: a run is hung; from a signal to exit; orphans
MARK, ARTICLE = TAG_VAR, "Structured concurrency means every task has an owner"
CLEAR_CRASH = ("browser died", "could not start the browser", "page crashed", "page was closed", "could not get ready")


@dataclass(frozen=True)
class Trial:
    scenario: str
    fault: str
    moment: float
    seed: int = 0  # the trial's own choices: the victim, where the cut page goes, how much body it sends

    def label(self) -> str:  # --trial LABEL replays it
        return f"{self.scenario}:{self.fault}:{self.moment:.2f}:{self.seed}"

    def cut_url(self, base: str, rng: random.Random) -> str:  # the page of stall-body / close-body
        route = "stall-mid-body" if self.fault == "stall-body" else "close-body"
        return f"{base}/{route}?ms={round(self.moment * 1000)}&frac={rng.uniform(0.1, 0.9):.2f}"


@dataclass
class Outcome:
    trial: Trial
    problems: list[str] = field(default_factory=list)  # exit code, errors, the next operation
    orphans: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)  # the conversation log: invalid, or it did not resume
    hit: str = ""
    signalled: bool = False  # a signal reached the CLI
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.problems or self.orphans or self.corrupt)

    def explain(self) -> str:
        found = [*self.problems, *(f"orphan: {o}" for o in self.orphans), *(f"log: {c}" for c in self.corrupt)]
        return f"{self.trial.label()} (hit: {self.hit}): " + "; ".join(found or ["ok"])


class Run:
    """One CLI process, its output in files; faults go to it or to its descendants."""

    def __init__(self, args: list[str], env: dict[str, str], out: Path) -> None:
        self.token, self.tmp, self.out, self.err = (
            env[MARK],
            env["TMPDIR"],
            out.with_suffix(".out"),
            out.with_suffix(".err"),
        )
        with self.out.open("wb") as stdout, self.err.open("wb") as stderr:
            cmd = [sys.executable, "-m", "gptme_trio", *args]
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)

    def of_role(self, role: str) -> list[psutil.Process]:
        return [p for p in tree(self.proc.pid)[1:] if role_of(p) == role]

    def until(self, found: Callable[[], T], seconds: float = 60) -> T:  # found's first truthy result
        deadline = time.monotonic() + seconds
        while not (result := found()) and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return result

    def finish(self, outcome: Outcome) -> tuple[int | None, str, str]:  # exit code (None: hung), stdout, stderr
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(HANG_LIMIT)
        if (code := self.proc.poll()) is None:
            self.proc.kill()
            self.proc.wait()
        self.ended = time.monotonic()
        outcome.orphans += leftovers(self.token, self.tmp)
        return code, self.out.read_text(errors="replace"), self.err.read_text(errors="replace")


def role_of(proc: psutil.Process) -> str:
    """driver, renderer, browser, other or gone (harness.role, renderers of either kind as one)."""
    found = {"webui": "renderer", "gpu": "other", "network": "other"}.get(found := role(proc), found)
    return found


def last(err: str) -> str:  # the last line of stderr: a traceback's says what it was
    return repr(err.strip().splitlines()[-1][:160]) if err.strip() else "(empty)"


def inject(run: Run, trial: Trial, base: str, rng: random.Random) -> str:
    """Wait for the trial's moment, deliver the fault, say what it hit."""
    if trial.fault == "kill-at-launch":
        run.until(lambda: run.of_role("browser"))
        time.sleep(trial.moment / 4)
        role = rng.choice(["browser", "driver"])
    elif not run.until(lambda: json.load(urllib.request.urlopen(f"{base}/count?id={run.token}", timeout=10))):
        return "nothing: no page was requested"
    else:
        time.sleep(trial.moment)
        role = trial.fault.removeprefix("kill-")
    if trial.fault in SIGNALS:
        run.proc.send_signal(SIGNALS[trial.fault][0])  # (not if it has exited)
        return "the CLI" if run.proc.returncode is None else "nothing: the CLI had exited"
    if not (victims := run.until(lambda: run.of_role(role), 15)):
        return f"nothing: no {role} process"
    newest = role == "renderer" and rng.random() < 0.5  # the last tab's renderer, most likely
    victim = max(victims, key=lambda p: (p.create_time(), p.pid)) if newest else rng.choice(victims)
    with contextlib.suppress(psutil.Error):
        victim.send_signal(signal.SIGKILL)
        return f"{role} {victim.pid}" + (" (newest)" if newest else "")
    return f"nothing: the {role} exited first"


def leftovers(token: str, tmp: str) -> list[str]:
    """A CLI's processes alive ORPHAN_GRACE s after it exited (then ended: the next trial starts clean). Its: `token`
    in the environment, or its TMPDIR in the command line (Chromium's --user-data-dir; its zygotes clear env)."""
    found = []
    for p in wait_gone(lambda: tagged(token, tmp, MARK), ORPHAN_GRACE):
        found.append(f"{role_of(p)} {describe(p)}")
        with contextlib.suppress(psutil.Error):
            p.kill()
    return found


def run_trial(trial: Trial, base: str, workdir: Path) -> Outcome:
    """One trial against the test site at `base` (http://127.0.0.1:PORT), in a fresh `workdir`."""
    started, outcome = time.monotonic(), Outcome(trial)
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "OPENAI", "ANTHROPIC", "GPTME"))}
    env |= {MARK: f"{os.getpid()}-{time.monotonic_ns()}", "GPTME_TRIO_HOME": str(workdir / "home")}
    # Where Playwright makes Chromium's profile; short: Chromium's sockets in it must fit in 108 bytes.
    env["TMPDIR"] = tempfile.mkdtemp(prefix="fault-matrix-", dir="/tmp")
    try:
        (fetch_trial if trial.scenario == "fetch" else chat_trial)(trial, base, workdir, env, outcome)
    except Exception as exc:  # noqa: BLE001 - the runner's own failure is this trial's, not the whole run's
        outcome.problems.append(f"the trial itself failed: {exc!r}")
    finally:
        shutil.rmtree(env["TMPDIR"], ignore_errors=True)
    outcome.seconds = time.monotonic() - started
    return outcome


def faulted(run: Run, trial: Trial, base: str, outcome: Outcome) -> tuple[int | None, str, str]:
    """The run with its fault: exit code, stdout, stderr. Checks what every run must do, and signals' exit codes."""
    outcome.hit = "the server" if trial.fault in SERVER else inject(run, trial, base, random.Random(trial.seed))
    outcome.signalled = outcome.hit == "the CLI"
    sent = time.monotonic()
    code, out, err = run.finish(outcome)
    took, problems = run.ended - sent, outcome.problems
    if code is None:
        problems.append(f"hung: killed after {HANG_LIMIT:g} s; stderr ends {last(err)}")
    elif "Traceback" in err or "internal error" in err:
        problems.append(f"exit {code} with a traceback / internal error: {last(err)}")
    if outcome.signalled and code is not None:
        outcome.hit += f" (exit {took:.2f} s later)"
        if code not in (SIGNALS[trial.fault][1], -SIGNALS[trial.fault][0]):
            problems.append(f"exit {code} after {trial.fault}, documented: {SIGNALS[trial.fault][1]}; {last(err)}")
        elif took > EXIT_LIMIT:
            problems.append(f"exited {took:.1f} s after {trial.fault} (> {EXIT_LIMIT:g} s)")
    return code, out, err


def fetch_trial(trial: Trial, base: str, workdir: Path, env: dict[str, str], outcome: Outcome) -> None:
    rng, problems, records = random.Random(trial.seed + 1), outcome.problems, list[dict[str, Any]]()
    urls = [f"{base}/counted?ms={ms}&id={env[MARK]}&n={i}" for i, ms in enumerate(SLOW_MS)]
    urls += [f"{base}/normal?n={i}" for i in range(4, 7)]
    cut = rng.randrange(5) if trial.fault in SERVER else None
    if cut is not None:
        urls[cut] = trial.cut_url(base, rng)
    (workdir / "urls.txt").write_text("\n".join(urls) + "\n")
    args = ["fetch", "-q", "-f", "json", "-j", str(JOBS), "-t", str(FETCH_T), "-i", str(workdir / "urls.txt")]
    code, out, err = faulted(Run(args, env, workdir / "fetch"), trial, base, outcome)
    for number, line in enumerate(out.splitlines(), 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            problems.append(f"stdout line {number} is not JSON: {line[:80]!r}")
    if outcome.signalled:
        return
    if [r.get("url") for r in records] != urls:
        problems.append(f"{len(records)} records for {len(urls)} URLs; exit {code}; stderr {last(err)}")
        return
    failed = [i for i, r in enumerate(records) if r["error"] is not None]
    if code != (1 if failed else 0):
        problems.append(f"exit {code} with {len(failed)} failed URL(s)")
    for i, record in enumerate(records):
        if i in failed and f"{urls[i]}: {record['error']}" not in err:
            problems.append(f"URL {i} failed ({record['error']!r}) without its 'URL: reason' line on stderr")
        if i in failed and cut is None and not any(reason in record["error"] for reason in CLEAR_CRASH):
            problems.append(f"URL {i}: {record['error']!r} for a crash")
        if i not in failed and (record["status"] != 200 or ARTICLE not in (record["content"] or "")):
            problems.append(f"URL {i} succeeded with a wrong page: status {record['status']}")
        if record["elapsed_ms"] > FETCH_T * 1000 + 1000:
            problems.append(f"URL {i} took {record['elapsed_ms']} ms with -t {FETCH_T} ({record['error']})")
    if cut is not None and failed != [cut]:
        problems.append(f"failed URLs {failed}, expected only the cut one ({cut})")
    if cut is None and (len(failed) > JOBS or any(i >= len(urls) - 2 for i in failed)):
        problems.append(f"URLs {failed} failed: more than were in flight, or one that started after the fault")
    if trial.fault in ("kill-browser", "kill-driver") and not failed:
        problems.append("no URL failed: the pages in flight when the browser died cannot have succeeded")


def chat_trial(trial: Trial, base: str, workdir: Path, env: dict[str, str], outcome: Outcome) -> None:
    rng, problems = random.Random(trial.seed + 1), outcome.problems
    first = trial.cut_url(base, rng) if trial.fault in SERVER else f"{base}/counted?ms={CHAT_SLOW_MS}&id={env[MARK]}"
    calls = [{"tool_calls": [{"name": "read_url", "arguments": {"url": url}}]} for url in (first, f"{base}/normal?n=2")]
    script = [calls[0], {"text": "first answer"}, calls[1], {"text": "second answer"}]
    (workdir / "script.json").write_text(json.dumps(script))
    (workdir / "resume.json").write_text(json.dumps([{"text": "resumed"}]))
    chat = ["chat", "-n", "-m", "local/test-model", "--allow-hosts", "127.0.0.1", "--tool-timeout", str(TOOL_T)]
    env["OPENAI_API_KEY"], url = "sk-fault-matrix", "http://127.0.0.1:{}/v1"
    with serve("llm_server", str(workdir / "script.json"), quiet=True) as port:
        args = [*chat, "--name", "trial", "first question", "second question"]
        run = Run(args, env | {"OPENAI_BASE_URL": url.format(port)}, workdir / "a")
        code, out, _ = faulted(run, trial, base, outcome)
    messages = log_messages(workdir / "home" / "conversations" / "trial" / "conversation.jsonl", outcome)
    tools = [m for m in messages if m["role"] == "tool"]
    if not outcome.signalled and (code != 0 or out != "first answer\nsecond answer\n" or len(tools) != 2):
        problems.append(f"exit {code}, stdout {out[:60]!r}, {len(tools)} tool results (expected 2)")
    if not outcome.signalled and len(tools) == 2:
        (hit, after), failed = tools, tools[0]["content"].startswith("error: ")
        if trial.fault in (*SERVER, "kill-browser", "kill-driver") and not failed:
            problems.append(f"the faulted tool call succeeded: {hit['content'][:80]!r}")
        if trial.fault in KILLS and failed and not any(reason in hit["content"] for reason in CLEAR_CRASH):
            problems.append(f"the crash came back as {hit['content'][:100]!r}")
        if (hit.get("metadata", {}).get("tool_ms") or 0) > (TOOL_T + START_SLACK) * 1000:
            problems.append(f"the faulted tool call took {hit['metadata']['tool_ms']} ms (--tool-timeout {TOOL_T})")
        if after["content"].startswith("error: ") or ARTICLE not in after["content"]:
            problems.append(f"the next tool call failed: {after['content'][:120]!r}")
    with serve("llm_server", str(workdir / "resume.json"), quiet=True) as port:
        env["OPENAI_BASE_URL"] = url.format(port)
        resume = Run([*chat, "-r", "--name", "trial", "continue"], env, workdir / "b")
        code, out, err = resume.finish(outcome)
        if code != 0 or out != "resumed\n" or "skipped" in err:
            outcome.corrupt.append(f"resume: exit {code}, stdout {out[:60]!r}, stderr {last(err)}")


def log_messages(path: Path, outcome: Outcome) -> list[dict[str, Any]]:
    """The log's messages; what is wrong with it goes to outcome.corrupt (no log: the resume fails)."""
    messages, lines = [], path.read_text(errors="replace").split("\n") if path.exists() else [""]
    for number, line in enumerate(lines, 1):
        if number == len(lines) and line == "":
            break  # after the newline that ends the last message (without it, the last line is cut off)
        with contextlib.suppress(ValueError, TypeError, KeyError):
            message = json.loads(line)
            if message["role"] in ("system", "user", "assistant", "tool") and isinstance(message["content"], str):
                messages.append(message)
                continue
        outcome.corrupt.append(f"line {number} is not a message: {line[:80]!r}")
    answered = {m.get("call_id") for m in messages if m["role"] == "tool"}  # else the APIs refuse the history
    calls = [c["id"] for m in messages for c in m.get("tool_calls") or []]
    outcome.corrupt += [f"tool call {c} has no result" for c in calls if c not in answered]
    return messages


def plan(number: int, seed: int) -> list[Trial]:
    """`number` trials: each scenario × fault cell equally often, in random order, at random moments."""
    rng, cells = random.Random(seed), [(s, f) for s in SCENARIOS for f in FAULTS]
    chosen = (cells * (number // len(cells) + 1))[:number]
    rng.shuffle(chosen)
    return [Trial(s, f, round(rng.uniform(0, WINDOW), 2), rng.randrange(10**6)) for s, f in chosen]


def report(outcomes: list[Outcome], seconds: float, seed: int, jobs: int) -> str:
    def row(name: str, group: list[Outcome]) -> str:
        good, orphans = sum(not o.problems for o in group), sum(bool(o.orphans) for o in group)
        share = f"{100 * good / len(group):.0f} %" if group else "-"
        if group and good < len(group):  # never rounded up to 100 %
            share = f"{min(100 * good / len(group), 99.9):.1f} %"
        return f"| {name} | {len(group)} | {good} ({share}) | {orphans} | {sum(bool(o.corrupt) for o in group)} |"

    run = f"Seed {seed}, --jobs {jobs}; run time: {seconds / 60:.1f} min for {len(outcomes)} trials, at most "
    run += f"{max(o.seconds for o in outcomes):.1f} s each."
    lines = [
        header("Fault matrix: signals, crashes and broken servers at random moments"),
        f"{run}\n\n{(__doc__ or '').split(chr(10) * 2, 3)[3].strip()}\n",
        "Goal: 100 % / 0 / 0.\n\n| fault × scenario | trials | recovered | orphans | corrupt logs |\n|---|---|---|---|---|",
    ]
    for fault in FAULTS:
        for scenario in SCENARIOS:
            group = [o for o in outcomes if (o.trial.scenario, o.trial.fault) == (scenario, fault)]
            lines.append(row(f"{fault} × {scenario}", group))
    lines += [row("**total**", outcomes), "", "## Failures (replay one with `--trial LABEL`)", ""]
    return "\n".join(lines + ([f"- `{o.explain()}`" for o in outcomes if not o.ok] or ["None."])) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, help="default: a random one (printed)")
    parser.add_argument("--jobs", type=int, default=2, help="trials at once (each its own CLI, tree and marker)")
    parser.add_argument("--trial", action="append", default=[], help="replay SCENARIO:FAULT:MOMENT:SEED")
    parser.add_argument("--out", default=default_out("faults.md"))
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    print(f"seed {seed}", flush=True)
    replay = [Trial(s, f, float(m), int(n)) for s, f, m, n in (t.split(":") for t in args.trial)]
    trials = replay or plan(args.trials, seed)
    started = time.monotonic()
    with serve("pages", quiet=True) as port, tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp:

        def one(numbered: tuple[int, Trial]) -> Outcome:
            done = run_trial(numbered[1], f"http://127.0.0.1:{port}", Path(tmp) / str(numbered[0]))
            print(f"{numbered[0]:4}/{len(trials)} {done.seconds:5.1f} s {'ok ' if done.ok else 'BAD'} {done.explain()}")
            return done

        with ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(one, enumerate(trials, 1)))
    seconds = time.monotonic() - started
    Path(args.out).write_text(report(outcomes, seconds, seed, args.jobs))
    print(f"{len(outcomes)} trials, {sum(not o.ok for o in outcomes)} failed, {seconds / 60:.1f} min; wrote {args.out}")


if __name__ == "__main__":
    main()
