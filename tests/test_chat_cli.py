"""`gptme-trio chat -n` end to end: the CLI, real Chromium, and a scripted model.

The model is either tests/support/llm_server.py over real HTTP (what a provider sends and how it reads the
stream: both APIs, errors, stalls, the config file's base URL) or, where only the agent's behaviour
matters, a ScriptedProvider (tests/support/scripted.py) put in place of the provider registry. The CLI
runs in process (conftest's `cli`), except where only a separate process shows it (kill -9 mid-turn).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gptme_trio.llm import registry
from tests.support.scripted import ScriptedProvider

from .conftest import SECRET, Ran, ScriptedLLM, alive, cli_command, cli_env, invoke_cli, wait_for_descendants


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def model(monkeypatch) -> ScriptedProvider:
    """A scripted model in place of every provider the CLI resolves."""
    scripted = ScriptedProvider()
    monkeypatch.setattr(registry, "resolve", scripted.resolve)
    return scripted


def chat(home: Path, server: ScriptedLLM | None, *args: str, provider: str = "local", **env: str) -> Ran:
    """`gptme-trio chat -n -m PROVIDER/test-model ARGS` in process, against `server` (or the `model` fixture)."""
    spec = "anthropic/claude-test" if provider == "anthropic" else f"{provider}/test-model"
    model_env = server.env(provider) if server else {}
    return invoke_cli("chat", "-n", "-m", spec, *args, GPTME_TRIO_HOME=str(home), **model_env, **env)


def chat_binary(home: Path, server: ScriptedLLM, *args: str) -> subprocess.CompletedProcess:
    """The same as a separate process: the real `gptme-trio` binary."""
    env = cli_env(GPTME_TRIO_HOME=str(home), **server.env("local"))
    command = cli_command("chat", "-n", "-m", "local/test-model", *args)
    return subprocess.run(command, capture_output=True, timeout=90, env=env, stdin=subprocess.DEVNULL)


def log_of(home: Path) -> list[dict]:
    [path] = (home / "conversations").glob("*/conversation.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def tool_results(request: dict) -> list[str]:
    """The tool results the model was sent, in either API's shape."""
    body = request["body"]
    found = []
    for message in body["messages"]:
        if message.get("role") == "tool":
            found.append(message["content"])
        if isinstance(message.get("content"), list):
            found += [
                b["content"] if isinstance(b["content"], str) else b["content"][0]["text"]
                for b in message["content"]
                if b.get("type") == "tool_result"
            ]
    return found


@pytest.mark.parametrize("provider", ["local", "anthropic"])
def test_read_url_result_goes_back_to_the_model(llm, site, home, provider):
    server = llm(
        [
            {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/normal")}}]},
            {"text": "The page is about structured concurrency."},
        ]
    )
    result = chat(home, server, "--allow-hosts", "127.0.0.1", "What is on the page?", provider=provider)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "The page is about structured concurrency.\n"
    first, second = server.requests()
    assert [t.get("function", t)["name"] for t in first["body"]["tools"]] == [
        "read_url",
        "screenshot",
        "snapshot",
        "read_logs",
        "open_page",
        "click",
        "fill",
        "press",
        "page_text",
        "close_page",
        "search",
        "read_file",  # -n: the shell and the file writers are off unless --tools names them
    ]
    [sent] = tool_results(second)
    assert "Structured concurrency means every task has an owner" in sent
    log = log_of(home)
    assert [m["role"] for m in log] == ["system", "user", "assistant", "tool", "assistant"]
    assert log[2]["tool_calls"][0]["name"] == "read_url" and log[3]["call_id"] == log[2]["tool_calls"][0]["id"]
    meta = log[4]["metadata"]
    assert meta["model"].endswith("test-model") or meta["model"].startswith("anthropic/")
    assert meta["usage"]["output_tokens"] > 0 and meta["ttft_ms"] is not None
    assert log[3]["metadata"]["tool_ms"] > 0
    [path] = (home / "conversations").glob("*/conversation.jsonl")
    assert SECRET not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.serial  # timing-sensitive: nox runs it after the parallel part, alone
def test_tool_calls_run_concurrently_results_in_call_order(model, site, home):
    urls = [site.url("/slow?ms=1500&n=1"), site.url("/js-title"), site.url("/slow?ms=1500&n=2")]
    # The browser up with three tabs: a tab's first page starts a renderer, ~0.5-2 s when two start at once
    model.enqueue(tool_calls=[("read_url", {"url": site.url(f"/normal?n={n}")}) for n in range(3)])
    model.enqueue(tool_calls=[("read_url", {"url": u}) for u in urls])
    model.enqueue("done")
    started = time.monotonic()
    result = chat(home, None, "--allow-hosts", "127.0.0.1", "read three pages")
    assert result.returncode == 0, result.stderr
    tools_ms = [m["metadata"]["tool_ms"] for m in log_of(home) if m["role"] == "tool"][3:]
    assert max(tools_ms) < 2 * 1500  # two 1.5 s pages did not run one after the other
    assert time.monotonic() - started < 20
    sent = model.requests[2].tool_results[-3:]
    assert [("Slow page" in s, "Title from JavaScript" in s) for s in sent] == [
        (True, False),
        (False, True),
        (True, False),
    ]


def test_failures_come_back_to_the_model_as_errors(model, site, home, free_port):
    calls = [site.url("/normal"), f"http://127.0.0.1:{free_port}/", site.url("/never"), "file:///etc/passwd"]
    model.enqueue(tool_calls=[*(("read_url", {"url": u}) for u in calls), ("no_such_tool", {})])
    model.enqueue("ok")
    # No --allow-hosts for the first: loopback is refused for model-chosen URLs.
    result = chat(home, None, "--allow-hosts", f"127.0.0.1:{free_port},localhost", "--tool-timeout", "1", "go")
    assert result.returncode == 0, result.stderr
    sent = model.requests[1].tool_results
    assert sent[0].startswith("error: refused: 127.0.0.1 is a local or private address")
    assert sent[3].startswith("error: refused: only http(s) URLs")
    assert sent[4].startswith("error: no tool named 'no_such_tool'")


def test_timeouts_and_refused_connections_with_allowed_hosts(model, site, home, free_port):
    model.enqueue(
        tool_calls=[
            ("read_url", {"url": f"http://127.0.0.1:{free_port}/"}),
            ("read_url", {"url": site.url("/never")}),
        ]
    )
    model.enqueue("ok")
    result = chat(home, None, "--allow-hosts", "127.0.0.1", "--tool-timeout", "3", "go")
    assert result.returncode == 0, result.stderr
    refused, never = model.requests[1].tool_results
    assert refused == f"error: connection refused: http://127.0.0.1:{free_port}/"
    assert never == "error: timed out after 3 s"


def test_provider_error_is_one_line_without_the_key(llm, home):
    server = llm([{"fault": "status", "status": 401, "message": f"invalid key {SECRET[:6]}…"}])
    result = chat(home, server, "hello")
    err = result.stderr.decode()
    assert result.returncode == 1 and len(err.strip().splitlines()) == 1, err
    assert "401" in err and SECRET not in err and "Traceback" not in err


def test_stalled_stream_times_out(llm, home):
    server = llm([{"fault": "stall", "text": "Hel", "after": 1}])
    started = time.monotonic()
    result = chat(home, server, "--llm-timeout", "1", "hello")
    assert result.returncode == 1 and b"sent nothing for 1 s" in result.stderr
    assert time.monotonic() - started < 10


def test_resume_sends_the_history(model, home):
    model.enqueue("First answer.").enqueue("Second answer.")
    assert chat(home, None, "--name", "talk", "first question").returncode == 0
    result = chat(home, None, "-r", "--name", "talk", "second question")
    assert result.returncode == 0 and result.stdout == b"Second answer.\n"
    contents = [m.content for m in model.requests[1].messages]
    assert "first question" in contents and "First answer." in contents and "second question" in contents


def test_no_model_is_a_usage_error(home, cli):
    result = cli("chat", "-n", "hi", GPTME_TRIO_HOME=str(home), GPTME_TRIO_MODEL="")
    assert result.returncode == 2 and b"no model configured" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == b""


def test_kill_9_mid_turn_leaves_a_log_that_resumes(llm, site, home):
    server = llm(
        [
            {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/normal")}}]},
            {"fault": "stall", "text": "Partial answ", "after": 3},
            {"text": "Resumed fine."},
        ]
    )
    env = cli_env(GPTME_TRIO_HOME=str(home), **server.env("local"))
    proc = subprocess.Popen(
        cli_command("chat", "-n", "-m", "local/test-model", "--allow-hosts", "127.0.0.1", "go"),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    tree = wait_for_descendants(proc.pid, lambda t: any("chrom" in p.name() for p in t), seconds=30)
    deadline = time.monotonic() + 30
    while len(server.requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # until the second reply is streaming (and stalls)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    log = log_of(home)  # every line is valid JSON
    assert [m["role"] for m in log] == ["system", "user", "assistant", "tool"]
    deadline = time.monotonic() + 5  # orphans die when their pipes close
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(tree)
    result = chat(home, server, "-r", "continue")
    assert result.returncode == 0 and result.stdout == b"Resumed fine.\n", result.stderr


def test_config_file_supplies_model_and_hosts_flags_win(llm, site, home, cli):
    server = llm(
        [
            {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/normal")}}]},
            {"text": "from config"},
            {"text": "flag wins"},
        ]
    )
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        f'model = "local/configured-model"\nallow_hosts = ["127.0.0.1"]\n'
        f'[providers.local]\nbase_url = "http://127.0.0.1:{server.port}/v1"\n'
    )
    env = {"GPTME_TRIO_HOME": str(home), "OPENAI_BASE_URL": "", "GPTME_TRIO_MODEL": ""}
    result = cli("chat", "-n", "read it", **env)
    assert result.returncode == 0 and result.stdout == b"from config\n", result.stderr
    assert server.requests()[0]["body"]["model"] == "configured-model"
    assert "Structured concurrency" in tool_results(server.requests()[1])[0]  # allowed by the config
    result = cli("chat", "-n", "-m", "local/flag-model", "hi", **env)
    assert result.stdout == b"flag wins\n" and server.requests()[2]["body"]["model"] == "flag-model"


def test_snapshot_and_read_logs(model, site, home):
    model.enqueue(tool_calls=[("read_logs", {})])
    model.enqueue(tool_calls=[("snapshot", {"url": site.url("/console")})])
    model.enqueue(tool_calls=[("read_logs", {})])
    model.enqueue(tool_calls=[("screenshot", {"url": site.url("/images")})])
    model.enqueue("seen")
    result = chat(home, None, "--allow-hosts", "127.0.0.1", "inspect the page")
    assert result.returncode == 0, result.stderr
    before, snapshot, logs, shot = (r.tool_results[-1] for r in model.requests[1:])
    assert before == "no page has been opened yet"
    assert '- heading "Console page" [level=1]' in snapshot and "- listitem: First point" in snapshot
    assert logs.startswith(f"console of {site.url('/console')}:")
    assert "[log] hello from the console" in logs and "[error] something went wrong" in logs
    assert shot.startswith("saved a ") and shot.endswith("does not take images]")  # a text-only model
    [png] = (home / "conversations").glob("*/screenshot-*.png")
    assert png.read_bytes().startswith(b"\x89PNG") and str(png) in shot


def test_search_tool_through_searxng(model, site, home):
    model.enqueue(tool_calls=[("search", {"query": "structured concurrency"})]).enqueue("ok")
    searxng = {"GPTME_TRIO_SEARCH_ENGINE": "searxng", "GPTME_TRIO_SEARCH_URL": site.url("/searx")}
    result = chat(home, None, "look it up", **searxng)
    assert result.returncode == 0, result.stderr
    [found] = model.requests[1].tool_results
    assert found.startswith("1. [") and "structured concurrency" in found
    bad = chat(home, None, "hi", GPTME_TRIO_SEARCH_ENGINE="searxng", GPTME_TRIO_SEARCH_URL="")
    assert bad.returncode == 2 and b"GPTME_TRIO_SEARCH_URL" in bad.stderr


@pytest.mark.serial  # a 2.5 s deadline around a real page load: timed on an idle machine
def test_browser_start_up_does_not_count_against_the_tool_timeout(model, site, home, chromium, tmp_path):
    slow = tmp_path / "slow-chromium"
    # Start-up alone (4 s) exceeds the tool timeout; the page's own 2.5 s leave room for a first tab on a
    # loaded machine (0.8 s did not once in CI).
    slow.write_text(f'#!/bin/sh\nsleep 4\nexec "{chromium}" "$@"\n')
    slow.chmod(0o755)
    model.enqueue(tool_calls=[("read_url", {"url": site.url("/normal")})]).enqueue("ok")
    result = chat(home, None, "--allow-hosts", "127.0.0.1", "--tool-timeout", "2.5", "--browser-path", str(slow), "go")
    assert result.returncode == 0, result.stderr
    [sent] = model.requests[1].tool_results
    assert "Structured concurrency means" in sent, sent
