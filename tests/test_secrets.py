"""The planted API key never shows: not on stderr/stdout of failing runs (-v too), not in any file
under GPTME_TRIO_HOME (logs, conversations). Conversation and history files are private (0600)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import ProviderError
from gptme_trio.llm import Message
from gptme_trio.llm.anthropic import Anthropic
from gptme_trio.llm.retry import RetryPolicy
from gptme_trio.llm.sse import error_message
from tests.support.llm_server import anthropic_stream

from .conftest import SECRET, Ran, cli_command, cli_env, invoke_cli, wait_for_descendants

PIECES = {SECRET[i : i + 10] for i in range(len(SECRET) - 9)}  # any 10 characters of it in a row


def leaks(data: bytes | str) -> list[str]:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return sorted(piece for piece in PIECES if piece in text)


def scan_home(home: Path) -> dict[str, list[str]]:
    found = {str(p.relative_to(home)): leaks(p.read_bytes()) for p in home.rglob("*") if p.is_file()}
    return {name: pieces for name, pieces in found.items() if pieces}


def chat(home: Path, env: dict[str, str], *args: str) -> Ran:
    """`chat -n -v` in process (what the children inherit is checked on the real binary below)."""
    full = {"GPTME_TRIO_HOME": str(home), "OPENAI_API_KEY": SECRET, **env}
    return invoke_cli("chat", "-n", "-v", "-m", "local/test-model", *args, **full)


def assert_no_key_anywhere(result: Ran, home: Path, code: int, words: str) -> None:
    err = result.stderr.decode(errors="replace")
    assert result.returncode == code and words in err and "Traceback" not in err, err
    assert leaks(result.stdout) == [] and leaks(result.stderr) == [], err
    assert scan_home(home) == {}


FAILURES = {
    "401-echoing-the-key": ([{"fault": "status", "status": 401, "message": f"Incorrect API key provided: {SECRET}"}],
                            "401"),
    "key-at-the-200-character-cut": ([{"fault": "status", "status": 400, "message": "x" * 190 + SECRET}], "400"),
    "malformed-stream-quoting-the-key": ([{"fault": "malformed", "data": '{"echo": "' + SECRET}], "not valid JSON"),
    "key-cut-in-the-quote": ([{"fault": "malformed", "data": "{" + "x" * 64 + SECRET}], "not valid JSON"),
    "connection-dropped": ([{"fault": "break", "text": "partial answer", "after": 4}], "connection lost"),
}  # fmt: skip


@pytest.mark.parametrize(("script", "words"), FAILURES.values(), ids=FAILURES.keys())
def test_failing_provider_runs_never_show_the_key(llm, tmp_path, script, words):
    server = llm(script)
    home = tmp_path / "home"
    result = chat(home, server.env("local"), "hello")
    assert_no_key_anywhere(result, home, 1, words)
    assert server.requests()[0]["headers"]["authorization"] == f"Bearer {SECRET}"  # it was planted and sent


@pytest.mark.parametrize(
    ("base", "code", "words"),
    [
        ("http://127.0.0.1:{port}/wrong/path", 1, "404 at http://127.0.0.1:"),
        ("http://127.0.0.1:port/v1", 1, "invalid URL"),
        ("ftp://127.0.0.1:{port}/v1", 2, "must start with http:// or https://"),
    ],
)
def test_bad_base_urls_never_show_the_key(llm, tmp_path, base, code, words):
    server = llm([])
    home = tmp_path / "home"
    result = chat(home, {"OPENAI_BASE_URL": base.format(port=server.port)}, "hello")
    assert_no_key_anywhere(result, home, code, words)


def test_a_run_with_the_browser_leaves_no_key_in_logs_or_conversations(llm, site, tmp_path):
    server = llm(
        [
            {"tool_calls": [{"name": "read_url", "arguments": {"url": site.url("/headers")}}]},
            {"fault": "status", "status": 401, "message": f"key {SECRET} revoked"},
        ]
    )
    home = tmp_path / "home"
    result = chat(home, server.env("local"), "--allow-hosts", "127.0.0.1", "read it")
    assert_no_key_anywhere(result, home, 1, "401")
    [tool_result] = [m for m in server.requests()[1]["body"]["messages"] if m["role"] == "tool"]
    assert "Authorization" not in tool_result["content"] and leaks(tool_result["content"]) == []  # not sent to pages
    assert (home / "logs" / "driver.log").exists()  # the browser ran, its log was scanned
    assert (home / "logs" / "driver.log").stat().st_mode & 0o777 == 0o600


ESCAPES = st.sampled_from([lambda c: c, lambda c: f"\\u{ord(c):04x}"])


@settings(max_examples=300, deadline=None, database=None)
@given(
    head=st.text("xyz .:", max_size=250),
    tail=st.text("xyz .:", max_size=50),
    escapes=st.lists(ESCAPES, min_size=len(SECRET), max_size=len(SECRET)),
    shape=st.sampled_from(['{{"error": {{"message": "{}"}}}}', '{{"message": "{}"}}', '{{"error": "{}"}}', "{}"]),
)
def test_error_bodies_never_give_the_key_back(head, tail, escapes, shape):
    """Raw or JSON-escaped, whole or cut at the 200-character limit."""
    key = "".join(escape(c) for escape, c in zip(escapes, SECRET, strict=True)) if shape != "{}" else SECRET
    body = shape.format(head + key + tail).encode()
    assert leaks(error_message(body, "Unauthorized", secret=SECRET)) == []


async def test_an_error_event_mid_stream_never_gives_the_key_back():
    stream = anthropic_stream({"text": "Hello"}, model="m", usage={"input_tokens": 1, "output_tokens": 1})
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "y" * 180 + SECRET}}
    body = "".join([*stream.events, f"event: error\ndata: {json.dumps(error)}\n\n"]).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = Anthropic(client, model="m", api_key=SECRET, base_url="http://mock", retry=RetryPolicy(delays=()))
        with pytest.raises(ProviderError) as caught:
            await provider.complete([Message("user", "hi")], [], lambda event: None)
    chain = [caught.value, caught.value.__cause__, caught.value.__context__]
    assert "Overloaded" not in str(caught.value) and all(leaks(str(e)) == [] for e in chain if e is not None)


# File modes


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_conversation_files_are_private_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        conversation = Conversation.create(tmp_path / "home", "talk")
        conversation.append(Message("user", "one"))
        conversation.append(Message("assistant", "two"))
        conversation.undo(1)  # rewrites the file through a temporary one
    finally:
        os.umask(old)
    assert conversation.path.stat().st_mode & 0o777 == 0o600
    assert conversation.directory.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "home" / "conversations").stat().st_mode & 0o077 == 0  # names of conversations too
    assert not (conversation.directory / ".conversation.jsonl.tmp").exists()


def test_history_file_is_created_private(tmp_path):
    from gptme_trio.chat.prompt import Prompter

    old = os.umask(0o000)
    try:
        Prompter(tmp_path / "home" / "history", ["/help"])
    finally:
        os.umask(old)
    assert (tmp_path / "home" / "history").stat().st_mode & 0o777 == 0o600


def test_the_browser_and_driver_inherit_no_key(llm, site, tmp_path):
    """Chromium and the Playwright driver run page code and third-party binaries: no key in their environment."""
    call = {"name": "read_url", "arguments": {"url": site.url("/slow?ms=4000")}}
    server = llm([{"tool_calls": [call]}, {"text": "ok"}])
    env = cli_env(GPTME_TRIO_HOME=str(tmp_path / "home"), WORK_KEY=SECRET, **server.env("local"))
    config = tmp_path / "home" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[providers.local]\napi_key_env = "WORK_KEY"\n')
    args = cli_command("chat", "-n", "-m", "local/test-model", "--allow-hosts", "127.0.0.1", "go")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        tree = wait_for_descendants(proc.pid, lambda ps: sum("chrom" in p.name() for p in ps) >= 3, 30)
        environs = {}
        for p in tree:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # one that ended meanwhile
                environs[p.pid] = Path(f"/proc/{p.pid}/environ").read_bytes()
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(environs) >= 3  # the driver, Chromium and its children
    assert [pid for pid, data in environs.items() if SECRET.encode() in data] == []
