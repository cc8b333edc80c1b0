"""Hostile input: URL/file targets, config files, SSE streams, conversation files, bad CLI options.

Whatever comes in, the answer is a correct result or one of our errors (one line, the
documented exit code), never a traceback. Properties run against the parsing functions
directly; a few CLI runs prove the wiring.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptme_trio.chat.config import load_config
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import MalformedStream, ProviderError, StreamBroken, UsageError
from gptme_trio.fetch.targets import parse_target
from gptme_trio.llm import Message, Provider, Reply, ToolCall
from gptme_trio.llm.anthropic import Anthropic
from gptme_trio.llm.openai import OpenAICompatible
from gptme_trio.llm.retry import RetryPolicy
from tests.support.llm_server import anthropic_stream, openai_stream, split

from .conftest import Ran, invoke_cli

PROPERTIES = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
ANY_TEXT = st.text(st.characters(exclude_categories=()))  # lone surrogates too (argv can hold them)


def one_clear_line(message: str) -> bool:
    return bool(message) and message.isprintable() and len(message) < 600


# Targets as `fetch` sees them


PIECES = ["http", "https", "file", "ftp", ":", "//", "/", "\\", "~", ".", "..", "@", "[", "]", "::1", "localhost"]
PIECES += ["127.0.0.1", ":8080", ":0", ":99999", "%00", "%2e", "?", "#", "page.html", "a" * 300, "\x00", "\x1b", " "]
PIECES += ["é", "\udcff", "~nobody-here"]
URLISH = st.builds("".join, st.lists(st.sampled_from(PIECES), max_size=8))


@PROPERTIES
@given(raw=st.one_of(URLISH, ANY_TEXT))
def test_any_target_is_a_target_or_one_clear_usage_error(raw):
    try:
        target = parse_target(raw)
    except UsageError as exc:
        assert one_clear_line(str(exc)), repr(str(exc))
        return
    parts = urlsplit(target.url)
    assert parts.scheme in ("http", "https", "file")
    assert (target.path is not None) == (parts.scheme == "file") and (parts.hostname or target.path)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("a" * 5000, "File name too long"),  # OSError out of Path.exists() before
        ("x" * 300 + ".html", "File name too long"),
        ("~nobody-here-at-all/page.html", "home directory"),  # RuntimeError out of expanduser() before
        ("\x1b[2J.html", r"'\x1b[2J.html': no such file"),  # the terminal sees an escape, not a clear screen
    ],
)
def test_targets_the_os_chokes_on(raw, words):
    with pytest.raises(UsageError) as caught:
        parse_target(raw)
    assert words in str(caught.value) and one_clear_line(str(caught.value))


# config.toml


NAMES = st.sampled_from(["localhost", "openai/gpt-4o-mini", "searxng", "http://127.0.0.1:8888", "WORK_KEY"])
SCALARS = st.integers(-(2**63), 2**63 - 1) | st.floats() | st.booleans() | st.text(max_size=8) | NAMES
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))
KEYS = st.sampled_from(["model", "allow_hosts", "tool_timeout", "llm_timeout", "max_steps", "colour"])
TABLES = st.sampled_from(["search", "providers.openai", "providers.local", "providers.acme", "providers"])
SUBKEYS = st.sampled_from(["engine", "url", "api_key_env", "base_url", "timeout", "api_key"])


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


@PROPERTIES
@given(
    top=st.dictionaries(KEYS, VALUES, max_size=4),
    tables=st.dictionaries(TABLES, st.dictionaries(SUBKEYS, VALUES, max_size=2), max_size=2),
    garbage=st.one_of(st.just(""), ANY_TEXT),
)
def test_any_config_file_is_a_sane_config_or_one_usage_error(tmp_path_factory, top, tables, garbage):
    home = tmp_path_factory.mktemp("cfg")
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for name, table in tables.items():
        lines += [f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    (home / "config.toml").write_text("\n".join(lines) + "\n" + garbage, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config({"GPTME_TRIO_HOME": str(home)})
    except UsageError as exc:
        assert "\n" not in str(exc).strip() or "TOML" in str(exc)
        return
    for seconds in (config.tool_timeout, config.llm_timeout):
        assert seconds is None or (not isinstance(seconds, bool) and seconds > 0)
    assert config.max_steps is None or 1 <= config.max_steps <= 1000
    assert all(isinstance(h, str) for h in config.allow_hosts)
    assert all(v is None or isinstance(v, str) for v in (config.model, config.search_engine, config.search_url))
    assert all(isinstance(v, str) for table in config.providers.values() for v in table.values())


# SSE streams, over a mock transport (no sockets, many examples)


def stream_bytes(kind: str, text: str) -> bytes:
    encode = openai_stream if kind == "openai" else anthropic_stream
    stream = encode({"text": text}, model="m", usage={"input_tokens": 1, "output_tokens": 1}, sizes=[4])
    return "".join(stream.events + stream.closing).encode()


async def play(kind: str, pieces: list[bytes], content_type: str = "text/event-stream", messages=None, sent=None):
    async def body():
        for piece in pieces:
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        if sent is not None:
            sent.append(json.loads(request.content))
        return httpx.Response(200, headers={"content-type": content_type}, content=body())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        once = RetryPolicy(delays=())
        provider: Provider
        if kind == "openai":
            provider = OpenAICompatible(client, model="m", base_url="http://mock/v1", api_key="k", retry=once)
        else:
            provider = Anthropic(client, model="m", api_key="k", base_url="http://mock", retry=once)
        return await provider.complete(messages or [Message("user", "hi")], [], lambda event: None)


KINDS = pytest.mark.parametrize("kind", ["openai", "anthropic"])
TEXT = "Structured concurrency: every task has an owner. ✓"


@KINDS
@PROPERTIES
@given(data=st.data())
async def test_a_stream_cut_anywhere_is_the_reply_or_broken_with_a_prefix(kind, data):
    body = stream_bytes(kind, TEXT)
    cut = data.draw(st.integers(0, len(body)))
    pieces = split(body[:cut], data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=4)))
    try:
        reply = await play(kind, pieces)
    except StreamBroken as exc:
        assert isinstance(exc.partial, Reply) and TEXT.startswith(exc.partial.text) and cut < len(body)
    except MalformedStream:
        pass  # cut inside a JSON payload: it is not JSON
    else:
        assert reply.text == TEXT


BYTES = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b"\xff\xfe", b"\xc3", b"\r", b"\r\r\n", b"\x00", b"data: \xed\xa0\x80\n\n", b": ping\r\n\r\n",
                     b"data: " + b"[" * 5000 + b"\n\n", b'data: {"choices": 1e999}\n\n', b"event: \xff\ndata: {}\n\n"]),
)  # fmt: skip


@KINDS
@PROPERTIES
@given(data=st.data())
async def test_random_bytes_anywhere_only_raise_our_errors(kind, data):
    body = bytearray(stream_bytes(kind, TEXT))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body)))
        body[at:at] = data.draw(BYTES)
    with contextlib.suppress(ProviderError):  # anything else fails the test
        await play(kind, split(bytes(body), [data.draw(st.integers(1, 64))]))


@KINDS
@pytest.mark.parametrize("where", ["event", "arguments"])
async def test_json_nested_thousands_deep(kind, where):
    deep = "[" * 100_000  # RecursionError out of json.loads, not a ValueError
    encode = openai_stream if kind == "openai" else anthropic_stream
    reply = {"text": "Hi"} if where == "event" else {"tool_calls": [{"id": "t", "name": "f", "arguments": deep}]}
    stream = encode(reply, model="m", usage={"input_tokens": 1, "output_tokens": 1})
    if where == "event":
        stream.events.insert(1, f"event: content_block_delta\ndata: {deep}\n\n")
    with pytest.raises(MalformedStream, match="nested too deeply|not valid JSON"):
        await play(kind, ["".join(stream.events + stream.closing).encode()])


@KINDS
async def test_not_an_event_stream(kind):
    with pytest.raises(MalformedStream, match="not an event stream"):
        await play(kind, [b"<html>a captive portal</html>"], content_type="text/html")


@KINDS
async def test_history_with_lone_surrogates_and_nan_is_still_sent(kind):
    """Page text from JavaScript may hold lone surrogates, model arguments NaN: httpx refused both."""
    messages = [
        Message("user", "read it"),
        Message("assistant", "", [ToolCall("c1", "read_url", {"url": "https://x.example", "n": math.nan})]),
        Message("tool", "half an emoji: \ud83d, and the rest", call_id="c1", name="read_url"),
    ]
    sent: list[dict] = []
    reply = await play(kind, [stream_bytes(kind, "ok")], messages=messages, sent=sent)
    assert reply.text == "ok" and "half an emoji: \ufffd, and the rest" in json.dumps(sent, ensure_ascii=False)


# Conversation files

MESSAGES = st.lists(
    st.builds(Message, st.sampled_from(["system", "user", "assistant"]), ANY_TEXT)
    | st.builds(lambda t, c: Message("tool", t, call_id=c, name="read_url"), ANY_TEXT, st.text(max_size=5)),
    max_size=6,
)


@PROPERTIES
@given(messages=MESSAGES, data=st.data())
def test_a_file_cut_anywhere_loads_every_whole_line(tmp_path_factory, messages, data):
    home = tmp_path_factory.mktemp("conv")
    conversation = Conversation.create(home, "talk")
    for message in messages:
        conversation.append(message)
    conversation.path.touch()
    assert Conversation.open(home, "talk").messages == messages  # U+2028, lone surrogates...: exact round trip
    raw = conversation.path.read_bytes()
    cut = data.draw(st.integers(0, len(raw)))
    conversation.path.write_bytes(raw[:cut])
    whole = sum(1 for end in _line_ends(raw) if end <= cut)
    loaded = Conversation.open(home, "talk")
    assert loaded.messages == messages[:whole]
    assert loaded.skipped_lines == (0 if cut in (0, *_line_ends(raw), *(e + 1 for e in _line_ends(raw))) else 1)


def _line_ends(raw: bytes) -> list[int]:
    """Offsets just past each line's closing brace."""
    return [i for i, byte in enumerate(raw) if byte == ord("\n")]


GARBAGE = st.one_of(
    ANY_TEXT.filter(lambda t: "\n" not in t),
    st.sampled_from(["[" * 100_000, '{"role": "tool", "content": "no call_id"}', '{"role": "user", "content": 1}',
                     '{"role": "assistant", "content": "", "tool_calls": [{"id": 1, "name": "x", "arguments": {}}]}',
                     '{"role": "assistant", "content": "", "tool_calls": {"id": "a"}}', '{"role": "user"}', "null",
                     '{"role": "tool", "content": "x", "call_id": {"nested": 1}}', '"a string"', "NaN", "\x00"]),
)  # fmt: skip


@PROPERTIES
@given(messages=MESSAGES, garbage=st.lists(GARBAGE, min_size=1, max_size=4), data=st.data())
def test_garbage_lines_are_skipped_and_counted(tmp_path_factory, messages, garbage, data):
    home = tmp_path_factory.mktemp("conv")
    conversation = Conversation.create(home, "talk")
    for message in messages:
        conversation.append(message)
    lines = conversation.path.read_text(encoding="utf-8").split("\n")[:-1] if messages else []
    for line in garbage:
        lines.insert(data.draw(st.integers(0, len(lines))), line)
    conversation.path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    loaded = Conversation.open(home, "talk")
    assert loaded.messages == messages and loaded.skipped_lines == len(garbage)


# The CLI: one line on stderr, the documented exit code, never a traceback


def run(*args: str, home: Path) -> Ran:
    """The CLI in process (conftest's invoke_cli): the same entry point, exit code and streams."""
    return invoke_cli(*args, GPTME_TRIO_HOME=str(home), GPTME_TRIO_MODEL="", OPENAI_BASE_URL="", OPENAI_API_KEY="")


def one_error_line(result: Ran, code: int) -> str:
    err = result.stderr.decode(errors="replace")
    assert result.returncode == code and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("gptme-trio: "), err
    return err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["fetch", "-j", "0", "x.html"], "--concurrency"),
        (["fetch", "-t", "-1", "x.html"], "--timeout"),
        (["fetch", "-f", "bogus", "x.html"], "--format"),
        (["fetch", "--no-such-option"], "No such option"),
        (["fetch", "-H", "no colon", "http://127.0.0.1:9/"], "expected 'Name: value'"),
        (["fetch", "a" * 5000], "File name too long"),
        (["fetch", "~nobody-here-at-all/page.html"], "home directory"),
        (["fetch", "-i", "/nonexistent/urls.txt"], "--input"),
        (["fetch", "--engine", "http", "-f", "png", "http://127.0.0.1:9/"], "needs a browser"),
        (["chat", "-n", "--max-steps", "0", "hi"], "--max-steps"),
        (["chat", "-n", "--name", "../escape", "-m", "local/x", "hi"], "--name"),
        (["chat", "-n", "-m", "no-slash", "hi"], "PROVIDER/MODEL"),
        pytest.param(["fetch", "-t", "nan", "{page}"], "--timeout"),
        pytest.param(
            ["chat", "-n", "-m", "ollama/x", "--llm-timeout", "nan", "hi"],
            "--llm-timeout",
        ),
        pytest.param(
            ["fetch", "--engine", "http", "-H", "ł: x", "http://127.0.0.1:9/"],
            "-H",
        ),
    ],
    ids=lambda value: " ".join(value)[:40] if isinstance(value, list) else None,
)
def test_bad_options(tmp_path, args, words):
    """Bad options: one line on stderr naming the option, exit 2, no traceback."""
    (tmp_path / "page.html").write_text("<p>a page</p>")
    args = [arg.replace("{page}", str(tmp_path / "page.html")) for arg in args]
    assert words in one_error_line(run(*args, home=tmp_path), 2)


def test_bad_config_values_are_usage_errors(tmp_path):
    (tmp_path / "config.toml").write_text("max_steps = 0\n")  # before: every turn 'stopped after 0 steps', exit 0
    assert "max_steps must be between 1 and 1000" in one_error_line(run("chat", "-n", "hi", home=tmp_path), 2)
    (tmp_path / "config.toml").write_text("tool_timeout = nan\n")
    assert "tool_timeout must be a number of seconds > 0" in one_error_line(run("chat", "-n", "hi", home=tmp_path), 2)


def test_resuming_a_damaged_conversation(llm, tmp_path):
    server = llm([{"text": "still here"}])
    folder = tmp_path / "home" / "conversations" / "talk"
    folder.mkdir(parents=True)
    good = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "one\u2028two"}]
    bad = ['{"role": "tool", "content": "orphan result"}', "[" * 100_000, '{"role": "assistant", "content": "torn']
    lines = [json.dumps(good[0]), bad[0], json.dumps(good[1], ensure_ascii=False), bad[1], bad[2]]
    (folder / "conversation.jsonl").write_text("\n".join(lines), encoding="utf-8")
    env = {"GPTME_TRIO_HOME": str(tmp_path / "home"), **server.env("local")}
    result = invoke_cli("chat", "-n", "-m", "local/test-model", "-r", "--name", "talk", "go on", **env)
    assert result.returncode == 0 and result.stdout == b"still here\n", result.stderr
    assert b"skipped 3 unreadable line(s)" in result.stderr
    sent = [(m["role"], m["content"]) for m in server.requests()[0]["body"]["messages"]]
    assert sent == [("system", "be brief"), ("user", "one\u2028two"), ("user", "go on")]
