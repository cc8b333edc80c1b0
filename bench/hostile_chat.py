"""Chat's hostile-input classes of issue 14 (22-28) for bench/hostile_bench.py: each trial is a fresh
`gptme-trio chat` in a pseudo-terminal (pexpect), against the scripted LLM server (tests/support/llm_server.py)
and the test site on 127.0.0.1, with keys typed as a person would, at random moments and with random text.

A trial counts as documented when chat does what the README and issue 14 say for that class (checked on
the requests the model received, the history file and the screen) and exits 0 on Ctrl-D. Also counted, as
for fetch's classes: "internal error" on the screen, Python tracebacks, processes left running, and a
damaged conversation (a conversation.jsonl line that is not whole JSON).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import string
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pexpect

from bench.harness import ROOT, Site, kill_tree
from bench.hostile_cases import Attempt, Trial

PROMPT = re.compile(rb"(^|\n)(\x1b\[[0-9;?]*[A-Za-z])*>")
QUESTION = re.compile(rb"Run read_url\(.*\)\? \[Y/n\]")
EOF_WITHIN, WAIT = 1.0, 30.0
MODEL = ["-m", "local/test-model"]


class Problem(Exception):
    """The trial did not go as documented: why."""


class ChatRun:
    """One chat in a pseudo-terminal, with the scripted model and what it was sent."""

    def __init__(self, site: Site, llm_port: int, workdir: Path, rng: random.Random) -> None:
        self.site, self.port, self.rng = site, llm_port, rng
        self.home, self.args = workdir / "home", list(MODEL)
        self.key = "sk-hostile-bench-key"
        self.child: pexpect.spawn | None = None
        self.screen = io.BytesIO()  # everything chat wrote to the terminal

    def start(self, script: list[dict], *args: str) -> pexpect.spawn:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/_reset", data=json.dumps(script).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()
        self.args += args
        env = {
            **self.site.env,
            "GPTME_TRIO_HOME": str(self.home),
            "OPENAI_BASE_URL": f"http://127.0.0.1:{self.port}/v1",
            "OPENAI_API_KEY": self.key,
            "PROMPT_TOOLKIT_NO_CPR": "1",
            "NO_COLOR": "1",
        }
        cmd = [sys.executable, "-m", "gptme_trio", "chat", *self.args]
        self.child = pexpect.spawn(cmd[0], cmd[1:], env=env, cwd=str(ROOT), timeout=WAIT)
        self.child.linesep = b"\r"  # Enter as a terminal sends it
        self.child.logfile_read = self.screen
        self.expect(PROMPT, "the first prompt")
        return self.child

    def expect(self, pattern: re.Pattern[bytes] | str, what: str, timeout: float = WAIT) -> bytes:
        """The screen up to `pattern`; a Problem naming `what` if it does not come."""
        assert self.child is not None
        try:
            self.child.expect(pattern, timeout=timeout)
        except pexpect.TIMEOUT:
            raise Problem(f"no {what} within {timeout:g} s") from None
        except pexpect.EOF:
            raise Problem(f"chat ended before {what}") from None
        return bytes(self.child.before or b"")

    def requests(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_requests", timeout=10) as answer:
            return list(json.load(answer))

    def ctrl_d(self, within: float = WAIT) -> None:
        """Ctrl-D: chat must end within `within` s."""
        assert self.child is not None
        sent = time.monotonic()
        self.child.sendcontrol("d")
        self.expect(pexpect.EOF, "exit after Ctrl-D", timeout=WAIT)
        if (took := time.monotonic() - sent) > within:
            raise Problem(f"Ctrl-D ended chat after {took:.2f} s (documented: within {within:g} s)")

    def words(self, n: int) -> str:
        return " ".join("".join(self.rng.choices(string.ascii_lowercase, k=self.rng.randint(1, 8))) for _ in range(n))


def last_user(request: dict) -> str:
    return str(next(m["content"] for m in reversed(request["body"]["messages"]) if m["role"] == "user"))


def tool_results(request: dict) -> list[str]:
    return [str(m["content"]) for m in request["body"]["messages"] if m["role"] == "tool"]


def read_call(url: str, **extra: object) -> dict:
    return {"tool_calls": [{"name": "read_url", "arguments": {"url": url}}], **extra}


def typeahead(run: ChatRun) -> None:
    """22: text typed while the model answers goes to the next ordinary prompt, never to a confirmation."""
    typed, answer = run.rng.choice(["y", "yes", "n", "Y", run.words(run.rng.randint(1, 4))]), run.rng.choice("yn")
    child = run.start([read_call(f"{run.site.base}/normal", delay_ms=1500), {"text": "Done."}, {"text": "Next."}],
                      "--allow-hosts", "127.0.0.1")  # fmt: skip
    child.sendline("read the page")
    time.sleep(run.rng.uniform(0.1, 1.0))  # the model is answering: no prompt is up
    child.send(typed + "\r")
    run.expect(QUESTION, "confirmation question")
    time.sleep(run.rng.uniform(0.2, 0.6))
    child.send(answer + "\r")
    run.expect("Done.", "the reply after the tool")
    run.expect("Next.", "the reply to the typed-ahead line")
    run.expect(PROMPT, "prompt")
    run.ctrl_d()
    requests = run.requests()
    declined = tool_results(requests[1])[0] == "the user declined this tool call"
    if declined != (answer == "n"):
        raise Problem(f"the question answered {answer!r}, the tool {'declined' if declined else 'ran'}")
    if last_user(requests[2]) != typed:
        raise Problem(f"the typed-ahead {typed!r} arrived as {last_user(requests[2])!r}")


def history(run: ChatRun) -> None:
    """23: confirmation answers stay out of the prompt history."""
    answer, line = run.rng.choice(["y", "Y", "yes", "n", "no", ""]), f"read it {run.words(2)}"
    child = run.start([read_call(f"{run.site.base}/normal"), {"text": "Done."}], "--allow-hosts", "127.0.0.1")
    child.sendline(line)
    run.expect(QUESTION, "confirmation question")
    child.send(answer + "\r")
    run.expect("Done.", "the reply after the tool")
    run.expect(PROMPT, "prompt")
    run.ctrl_d()
    entries = [x[1:] for x in (run.home / "history").read_text().splitlines() if x.startswith("+")]
    if entries != [line]:
        raise Problem(f"history holds {entries!r}, not only {line!r}")


EOF_MOMENTS: dict[str, list[dict]] = {
    "as the reply ends": [{"text": "Short."}],
    "while the model thinks": [{"text": "Late.", "delay_ms": 10000}],
    "while a reply streams": [{"fault": "stall", "text": "This reply never ends because", "after": 8}],
}


def eof_any_moment(run: ChatRun) -> None:
    """24: Ctrl-D at any moment ends chat within 1 s."""
    moment = run.rng.choice(list(EOF_MOMENTS))
    child = run.start(EOF_MOMENTS[moment])
    child.sendline(run.words(3))
    if moment == "as the reply ends":
        run.expect("Short.", "the reply")  # before the next prompt is drawn
    else:
        time.sleep(run.rng.uniform(0.3, 1.5))
    run.ctrl_d(within=EOF_WITHIN)


def ctrl_c_at_question(run: ChatRun) -> None:
    """25: Ctrl-C at a confirmation cancels the turn: the model is not called again in it."""
    child = run.start([read_call(f"{run.site.base}/normal"), {"text": "Next turn."}], "--allow-hosts", "127.0.0.1")
    child.sendline("read the page")
    run.expect(QUESTION, "confirmation question")
    time.sleep(run.rng.uniform(0, 0.5))
    child.sendcontrol("c")
    run.expect(PROMPT, "prompt after Ctrl-C", timeout=5)
    if len(run.requests()) != 1:
        raise Problem("the model was called again after Ctrl-C at the question")
    line = run.words(2)
    child.sendline(line)
    run.expect("Next turn.", "the next turn's reply")
    run.expect(PROMPT, "prompt")
    run.ctrl_d()
    if last_user(run.requests()[1]) != line:
        raise Problem("the turn after Ctrl-C did not carry the next line")


def refused_urls(rng: random.Random) -> str:
    port = rng.randrange(1, 65536)
    return rng.choice([
        f"http://127.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}:{port}/",
        f"http://localhost:{port}/x", "http://[::1]/", f"http://10.{rng.randrange(256)}.0.1/",
        f"http://192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}/", "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd", "http://0.0.0.0/", "http://2130706433/", "http://0x7f000001/", "http://127.1/",
    ])  # fmt: skip


def policy_first(run: ChatRun) -> None:
    """26: the URL policy is checked before the user is asked: nobody approves a call that will be refused."""
    url = refused_urls(run.rng)
    child = run.start([read_call(url), {"text": "Understood."}])
    child.sendline("read it")
    screen = run.expect("Understood.", "the reply after the refused call")
    if QUESTION.search(screen):
        raise Problem(f"asked to approve {url}, which is refused")
    run.expect(PROMPT, "prompt")
    run.ctrl_d()
    if not (result := tool_results(run.requests()[1])[0]).startswith("error: refused"):
        raise Problem(f"{url}: the model was told {result[:80]!r}")


BAD_UNDO = ["0", "-1", "abc", "1.5", "1e3", "+", "2 3", "--all", "0x1"]
BAD_NAMES = ["bad/name", "..", ".", "a" * 300, "../escape", "name with/slash", "/abs"]


def commands(run: ChatRun) -> None:
    """27: invalid /undo arguments get a usage line and change nothing; /rename errors speak of /rename."""
    child = run.start([{"text": "First."}])
    child.sendline("hello")
    run.expect("First.", "the reply")
    run.expect(PROMPT, "prompt")
    log = next((run.home / "conversations").glob("*/conversation.jsonl"))
    before = log.read_bytes()
    child.sendline(f"/undo {run.rng.choice(BAD_UNDO)}")
    run.expect("usage: /undo", "the /undo usage line", timeout=5)
    run.expect(PROMPT, "prompt")
    child.sendline(f"/rename {run.rng.choice(BAD_NAMES)}")
    screen = run.expect(PROMPT, "prompt after /rename")
    run.ctrl_d()
    if log.read_bytes() != before:
        raise Problem("an invalid /undo changed the conversation")
    if b"/rename" not in screen or b"--name" in screen:
        raise Problem(f"the /rename error: {screen.decode(errors='replace').strip()[-120:]!r}")


def redaction(run: ChatRun) -> None:
    """28: a short key is redacted only as a whole token; a long one everywhere."""
    run.key = "".join(run.rng.choices(string.ascii_lowercase, k=run.rng.choice([1, 2, 3, 5, 7, 12, 24])))
    word = f"x{run.key}y{run.key}z"  # contains the key, is not the key
    child = run.start([{"fault": "status", "status": 401, "message": f"bad key {run.key} in {word}"}])
    child.sendline("hello")
    screen = run.expect(PROMPT, "prompt after the provider's error").decode(errors="replace")
    run.ctrl_d()
    line = next((x for x in screen.splitlines() if "bad key" in x), "")
    whole = f"bad key *** in {word}" if len(run.key) < 8 else "bad key *** in x***y***z"
    if whole not in line:
        raise Problem(f"key {run.key!r}: the error reads {line.strip()[-120:]!r}")


def chat_classes() -> dict[str, Callable[[ChatRun], None]]:
    return {
        "22 typeahead, confirmations": typeahead,
        "23 answers in history": history,
        "24 Ctrl-D at any moment": eof_any_moment,
        "25 Ctrl-C at a confirmation": ctrl_c_at_question,
        "26 policy before asking": policy_first,
        "27 /undo, /rename arguments": commands,
        "28 short-key redaction": redaction,
    }


def whole_logs(home: Path) -> list[str]:
    damaged = []
    for log in home.glob("conversations/*/conversation.jsonl"):
        for n, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            try:
                json.loads(line)
            except ValueError:
                damaged.append(f"{log.parent.name}/conversation.jsonl line {n} is not whole JSON")
    return damaged


def run_chat_trial(
    cls: str, play: Callable[[ChatRun], None], site: Site, llm_port: int, workdir: Path, rng: random.Random,
    servers: list[str], grace: float,
) -> Trial:  # fmt: skip
    workdir.mkdir(parents=True)
    run = ChatRun(site, llm_port, workdir, rng)
    trial = Trial(cls, Attempt(["chat"], {0}))
    try:
        play(run)
    except Problem as why:
        trial.problems.append(str(why))
    child = run.child
    trial.attempt.args = ["chat", *run.args]
    if child is not None:
        if child.isalive():
            with contextlib.suppress(Exception):
                kill_tree(child.pid)
        with contextlib.suppress(Exception):
            child.read_nonblocking(1 << 20, timeout=0)
        child.close(force=True)
        trial.code = child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0)
        transcript = run.screen.getvalue().decode(errors="replace")
        trial.internal = "internal error" in transcript
        trial.traceback = "Traceback (most recent call last)" in transcript
    if trial.code not in trial.attempt.codes and not trial.problems:
        trial.problems.append(f"exit {trial.code}, documented 0")
    time.sleep(grace)
    trial.orphans = len([p for p in site.leftovers() if p not in servers])
    trial.damaged = whole_logs(run.home)
    return trial
