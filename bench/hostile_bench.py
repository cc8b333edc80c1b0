"""Hostile-input replay (issue 14): every class of the list, with random variations, as a user runs it.

    python -m bench.hostile_bench                 # --per-class N (default 3) --seed S --out FILE

Each trial is one `python -m gptme_trio ...` process in a tagged environment (bench/harness.py), against
tests/support/pages.py on 127.0.0.1 and files made in a temporary directory (FIFOs and device nodes of our
own: os.mknod with /dev/null's and /dev/zero's numbers; a read-only tmpfs for class 9: needs root). A trial
counts as documented when its exit code is one the README documents for it, stderr holds the expected
words, and every stderr line is one clean line (ours, no control characters, at most 300 characters).
Also counted: "internal error" lines, Python tracebacks, processes left running 2 s after the exit
(walked by tag, bench/harness.tagged), and damaged files (an output file half-written, emptied, or a
special file replaced by a regular one). The goal: N / N / 0 / 0 / 0 / 0.

Chat's class 20 (closed stdin) is replayed as fetch's are; 22-28 need a terminal and a model: each is a
chat in a pseudo-terminal against the scripted LLM server, keys typed at random moments
(bench/hostile_chat.py). The pty and in-process tests (tests/test_confirmation.py,
tests/test_chat_prompt_tty.py, tests/test_slash_commands.py, tests/test_redaction.py) pin each one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.harness import ROOT, Site, default_out, header, serve, write
from bench.hostile_cases import Attempt, Kit, Trial, classes
from bench.hostile_chat import ChatRun, chat_classes, run_chat_trial

ORPHAN_GRACE, HANG = 2.0, 90.0


def clean_line(line: str) -> bool:
    """One of our stderr lines: `gptme-trio: ...` or `URL: reason`, printable, at most 300 characters."""
    return len(line) <= 300 and line.isprintable() and (line.startswith("gptme-trio: ") or ": " in line)


def requested(base: str, tag: str, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until the site has seen a /counted request with id `tag` (or the run ended)."""
    deadline = time.monotonic() + HANG
    while proc.poll() is None and time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/count?id={tag}", timeout=10) as answer:
            if json.load(answer):
                return True
        time.sleep(0.05)
    return False


def run_trial(
    cls: str, make: Callable[[Kit], Attempt], site: Site, workdir: Path, rng: random.Random, servers: list[str]
) -> Trial:
    workdir.mkdir(parents=True)
    kit = Kit(site.base, workdir, rng)
    trial = Trial(cls, make(kit))
    attempt, env = trial.attempt, {**site.env, "GPTME_TRIO_HOME": str(workdir / "home"), "GPTME_TRIO_MODEL": ""}
    cli = [sys.executable, "-m", "gptme_trio", *attempt.args]
    cmd = ["bash", "-c", attempt.shell.replace("{cli}", subprocess.list2cmdline(cli))] if attempt.shell else cli
    stdin = subprocess.PIPE if attempt.stdin is not None else subprocess.DEVNULL
    closed_stdin = (lambda: os.close(0)) if attempt.stdin is None else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=stdin, stdout=out, stderr=err, preexec_fn=closed_stdin)
        if proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(attempt.stdin or b"")
                proc.stdin.close()
        if attempt.signal_after and requested(site.base, kit.tag, proc):
            time.sleep(attempt.signal_after[0])
            proc.send_signal(attempt.signal_after[1])
        try:
            trial.code = proc.wait(HANG)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            trial.problems.append(f"hung: killed after {HANG:g} s")
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    trial.internal = "internal error" in stderr
    trial.traceback = "Traceback (most recent call last)" in stderr or "Exception Group" in stderr
    time.sleep(ORPHAN_GRACE)
    trial.orphans = len([p for p in site.leftovers() if p not in servers])
    if trial.code is not None and trial.code not in attempt.codes:
        trial.problems.append(f"exit {trial.code}, documented {sorted(attempt.codes)}")
    if attempt.words and not any(w.lower() in stderr.lower() for w in attempt.words):
        trial.problems.append(f"stderr lacks {attempt.words[0]!r}")
    if bad := [line for line in stderr.splitlines() if not clean_line(line)]:
        trial.problems.append(f"{len(bad)} stderr line(s) not one clean line: {bad[0][:100]!r}")
    for check in attempt.checks:
        with contextlib.suppress(FileNotFoundError):
            if damage := check(stdout):
                trial.damaged.append(damage)
    if trial.problems:
        trial.problems.append(f"stderr: {stderr.strip()[-300:]!r}")
    with contextlib.suppress(AttributeError):
        kit.keep.close()  # type: ignore[attr-defined]
    return trial


def report(trials: list[Trial], seconds: float, seed: int, per_class: int) -> str:
    def row(name: str, group: list[Trial]) -> str:
        documented = sum(not (t.problems or t.internal or t.traceback or t.orphans or t.damaged) for t in group)
        counts = (sum(t.internal for t in group), sum(t.traceback for t in group),
                  sum(t.orphans for t in group), sum(len(t.damaged) for t in group))  # fmt: skip
        return f"| {name} | {len(group)} | {documented} | " + " | ".join(map(str, counts)) + " |"

    names = list(dict.fromkeys(t.cls for t in trials))
    rows = [row(n, [t for t in trials if t.cls == n]) for n in names]
    bad = [t for t in trials if t.problems or t.internal or t.traceback or t.orphans or t.damaged]
    detail = (
        "".join(f"\n- {t.cls}: `{' '.join(t.attempt.args)[:150]}`: {'; '.join(t.problems + t.damaged)}" for t in bad)
        or "\nnone"
    )
    return f"""
Seed {seed}, {per_class} trials per class ({len(trials)} runs, {seconds:.0f} s). Goal: N / N / 0 / 0 / 0 / 0.

| class (issue 14) | tried | as documented | internal errors | tracebacks | orphans | damaged files |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{row("**total**", trials)}

Trials not as documented:{detail}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--only", help="classes whose name holds this text")
    parser.add_argument("--out", default=default_out("hostile.md"))
    opts = parser.parse_args()
    rng, started = random.Random(opts.seed), time.monotonic()
    trials: list[Trial] = []
    with tempfile.TemporaryDirectory(prefix="hostile-", dir="/tmp") as tmp, contextlib.ExitStack() as stack:
        site = Site(tmp)
        stack.callback(site.close)
        (Path(tmp) / "script.json").write_text("[]")
        llm_port = stack.enter_context(serve("llm_server", str(Path(tmp) / "script.json"), env=site.env))
        servers = site.leftovers()  # the site and the model carry the tag: not leftovers

        def fetch_class(name: str, make: Callable[[Kit], Attempt]) -> Callable[[Path, random.Random], Trial]:
            return lambda workdir, r: run_trial(name, make, site, workdir, r, servers)

        def chat_class(name: str, play: Callable[[ChatRun], None]) -> Callable[[Path, random.Random], Trial]:
            return lambda workdir, r: run_chat_trial(name, play, site, llm_port, workdir, r, servers, ORPHAN_GRACE)

        every = {n: fetch_class(n, f) for n, f in classes().items()} | {
            n: chat_class(n, f) for n, f in chat_classes().items()
        }
        chosen = {n: f for n, f in every.items() if not opts.only or opts.only in n}
        for n in range(opts.per_class):
            for i, (name, play) in enumerate(chosen.items()):
                trial = play(Path(tmp) / f"t{n}-{i}", random.Random(rng.random()))
                trials.append(trial)
                print(f"{name}: exit {trial.code} {'; '.join(trial.problems + trial.damaged) or 'ok'}", flush=True)
    title = "Hostile-input replay (issue 14): tried / as documented / internal errors / tracebacks / orphans / damaged"
    write(opts.out, [header(title), report(trials, time.monotonic() - started, opts.seed, opts.per_class)])


if __name__ == "__main__":
    main()
