"""Ctrl-D to exit: how long chat takes to end after Ctrl-D, at a drawn prompt and typed while the model answers.

Run from the repo root: `python -m bench.eof_bench [--runs N]`; writes bench/results/eof.md.

Issue 14, item 24: EOF at any moment ends chat within 1 s. Three moments, alternating, each run a fresh
`gptme-trio chat -m local/test-model` in a pseudo-terminal against the scripted LLM server
(tests/support/llm_server.py, 127.0.0.1): Ctrl-D at the drawn prompt (the reference), Ctrl-D while the
model thinks (no token yet; the reply would come after 10 s), Ctrl-D while a reply streams (the stream
stalls after its first words and never ends). Time = the key written to the terminal → the process's
exit seen by the benchmark (end of the terminal's output, then the exit status). Before this change the two
mid-turn moments ended only when the reply did: never, for the stalled one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pexpect

from bench.harness import ROOT, alternate, default_out, header, load_average, med, serve, write

PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")
TARGET = 1.0
MOMENTS = {
    "at the drawn prompt": [],
    "while the model thinks": [{"text": "Late answer.", "delay_ms": 10000}],
    "while a reply streams": [{"fault": "stall", "text": "This reply never ends because", "after": 8}],
}


def time_eof(port: int, moment: str) -> float:
    script = json.dumps(MOMENTS[moment]).encode()
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/_reset", data=script, method="POST"))
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "GPTME_TRIO_HOME": home,
            "PROMPT_TOOLKIT_NO_CPR": "1",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "OPENAI_API_KEY": "bench",
        }
        argv = ["-m", "gptme_trio", "chat", "-m", "local/test-model"]
        child = pexpect.spawn(sys.executable, argv, env=env, timeout=30, cwd=ROOT)
        child.expect(PROMPT)
        if moment == "while the model thinks":
            child.send("hello\r")
            time.sleep(0.5)
        elif moment == "while a reply streams":
            child.send("hello\r")
            child.expect("This reply")
        sent = time.perf_counter()
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
        child.close()
        elapsed = time.perf_counter() - sent
        if child.exitstatus != 0:
            raise SystemExit(f"chat exited with {child.exitstatus} ({moment})")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default=default_out("eof.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "script.json"
        empty.write_text("[]")
        with serve("llm_server", str(empty), quiet=True) as port:
            times = alternate(list(MOMENTS), args.runs, lambda moment: time_eof(port, moment))
    rows = "\n".join(
        f"| Ctrl-D {moment} | {med(values, 1000, '{:.0f}')} | ≤ {TARGET * 1000:.0f} | "
        f"{'PASS' if max(values) <= TARGET else 'MISS'} |"
        for moment, values in times.items()
    )
    section = f"""## Ctrl-D → chat ended

1 warm-up, then {args.runs} runs of each moment, alternating; a fresh chat process each run.

| moment | ms, median (min–max) | target (every run) | result |
|---|---|---|---|
{rows}

Load average at the end: {load_average()}.
"""
    write(args.out, [header("Chat: Ctrl-D at any moment"), section])


if __name__ == "__main__":
    main()
