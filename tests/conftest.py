"""Shared fixtures: the local site, a real Chromium, the CLI in process or as a subprocess, process trees."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest
import trio

from gptme_trio.core.browser import BrowserSpec, open_browser
from gptme_trio.core.browser.locate import find_browser
from gptme_trio.core.errors import BrowserNotFound
from tests.support import ROOT, server_command


@dataclass(frozen=True)
class Site:
    base: str
    tls_base: str  # self-signed: every client must refuse it

    def url(self, path: str) -> str:
        return self.base + path


def _serve_pages() -> Iterator[Site]:
    proc = subprocess.Popen(server_command("pages"), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), f"test site did not start: {line!r}"
    _, port, tls_port = line.split()
    yield Site(f"http://127.0.0.1:{port}", f"https://127.0.0.1:{tls_port}")
    proc.stdin.close()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    yield from _serve_pages()


@pytest.fixture(scope="session")
def other_site() -> Iterator[Site]:
    """The same pages on another port: another origin on 127.0.0.1."""
    yield from _serve_pages()


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        return find_browser()
    except BrowserNotFound as exc:  # fail, never skip: .ci/run installs one
        pytest.fail(f"these tests need Chromium: {exc}")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch) -> None:
    monkeypatch.setenv("GPTME_TRIO_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
async def browser(chromium):
    async with open_browser(BrowserSpec(executable=chromium)) as service:
        yield service


@pytest.fixture
def free_port() -> int:
    """A port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gptme_trio", *args]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(extra)
    return env


@pytest.fixture
def run_cli() -> Callable[..., subprocess.CompletedProcess]:
    def run(*args: str, input: bytes | None = None, timeout: float = 90, **env: str):
        return subprocess.run(
            cli_command(*args),
            input=input if input is not None else b"",
            capture_output=True,
            timeout=timeout,
            env=cli_env(**env),
        )

    return run


@dataclass
class Ran:
    """What an in-process CLI run left: the shape of subprocess.CompletedProcess that tests read."""

    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes


def invoke_cli(*args: str, input: bytes | str = b"", **env: str | None) -> Ran:
    """Run the console entry point (`gptme_trio.cli.main`) in this process, as `gptme-trio ARGS` would.

    stdin/stdout/stderr and os.environ are swapped for the call (click's CliRunner isolation: stdin is
    `input`, nothing is a terminal) and restored after; the exit code is what main passed to sys.exit.
    For what needs a separate process (signals, the TTY, process trees, what children inherit), use
    `run_cli`. Call it from a sync test: the CLI starts its own trio.run.
    """
    from click.testing import CliRunner

    from gptme_trio.cli import main

    argv, logger = sys.argv, logging.getLogger("gptme_trio")
    handlers, level = list(logger.handlers), logger.level  # -v adds a handler: one run's, not the next's
    with CliRunner().isolation(input=input, env=env) as (out, err, _):
        sys.argv = ["gptme-trio", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        finally:
            sys.argv, logger.handlers[:] = argv, handlers
            logger.setLevel(level)
            sys.stdout.flush()
            sys.stderr.flush()
        return Ran(args, code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli() -> Callable[..., Ran]:
    """`cli("fetch", URL, input=b"", ENV_VAR="value")`: the CLI in process (see invoke_cli)."""
    return invoke_cli


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def wait_for_descendants(pid: int, predicate: Callable[[list[psutil.Process]], bool], seconds: float) -> list:
    """Poll the process tree below `pid` until `predicate(tree)` holds (test helper only)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tree = descendants(pid)
        try:
            if predicate(tree):
                return tree
        except psutil.NoSuchProcess:  # one ended between the listing and the look at it: look again
            pass
        time.sleep(0.05)
    raise AssertionError(f"process tree of {pid} never matched: {names(descendants(pid))}")


def names(processes: list[psutil.Process]) -> list[str]:
    """The processes' names; one that has ended meanwhile is left out."""
    found = []
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(proc.name())
    return found


async def until(condition: Callable[[], bool], seconds: float = 5) -> None:
    """Wait until `condition()` holds, failing after `seconds` (test helper only: what the product
    does in the background, such as closing a tab, has no event a test could wait on)."""
    with trio.fail_after(seconds):
        while not condition():
            await trio.sleep(0.02)


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (zombies waiting for a reaper count as gone)."""
    left = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc)
        except psutil.NoSuchProcess:
            pass
    return left


SECRET = "sk-planted-secret-7f3a"


class ScriptedLLM:
    def __init__(self, port: int) -> None:
        self.port = port

    def requests(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_requests") as response:
            return json.load(response)

    def env(self, provider: str) -> dict[str, str]:
        if provider == "anthropic":
            return {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{self.port}", "ANTHROPIC_API_KEY": SECRET}
        return {"OPENAI_BASE_URL": f"http://127.0.0.1:{self.port}/v1", "OPENAI_API_KEY": SECRET}


@pytest.fixture(scope="session")
def _llm_server_port(tmp_path_factory) -> Iterator[int]:
    """One llm_server process for the whole session; each test's `llm(script)` resets it."""
    path = tmp_path_factory.mktemp("llm") / "script.json"
    path.write_text("[]")
    proc = subprocess.Popen(
        server_command("llm_server", str(path)), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PORT "), line
    yield int(line.split()[1])
    proc.stdin.close()
    proc.wait(timeout=10)


@pytest.fixture
def llm(_llm_server_port) -> Callable[[list], ScriptedLLM]:
    """`llm(script)`: the scripted LLM server (tests/support/llm_server.py) playing `script` from the start,
    with no requests recorded yet. The process is shared by the session: one `llm(...)` per test."""
    started: list[bool] = []

    def start(script: list) -> ScriptedLLM:
        assert not started, "one llm(...) per test: a second would reset the first (the server is shared)"
        started.append(True)
        request = urllib.request.Request(
            f"http://127.0.0.1:{_llm_server_port}/_reset", data=json.dumps(script).encode(), method="POST"
        )
        with urllib.request.urlopen(request) as response:
            assert json.load(response) == {"remaining": len(script)}
        return ScriptedLLM(_llm_server_port)

    return start


PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make this process a child subreaper (Linux) for the test: a process orphaned below it is re-parented
    here instead of to init, so a walk of our process tree finds a survivor instead of missing it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    before = set(psutil.Process().children(recursive=True))
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield
    survivors = alive([p for p in psutil.Process().children(recursive=True) if p not in before])
    for proc in survivors:  # a failed test's, by pid: they must not outlive it
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(survivors, timeout=5)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    for proc in psutil.Process().children():  # orphans re-parented to us and ended: reap them
        with contextlib.suppress(psutil.NoSuchProcess, ChildProcessError):
            if proc.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(proc.pid, os.WNOHANG)
