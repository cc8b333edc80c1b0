"""LLM providers over real HTTP on 127.0.0.1 against tests/support/llm_server.py; registry; SSE properties."""

from __future__ import annotations

import contextlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptme_trio.core.errors import MalformedStream, ProviderConfigError, ProviderError, ProviderHTTPError, StreamBroken
from gptme_trio.llm import Event, Message, Progress, Provider, Reply, TextDelta, ToolCall, ToolSpec
from gptme_trio.llm.anthropic import Anthropic
from gptme_trio.llm.openai import OpenAICompatible
from gptme_trio.llm.registry import PROVIDERS, resolve
from gptme_trio.llm.retry import RetryPolicy, retry_after
from tests.support import ROOT, server_command
from tests.support.llm_server import LLMServer, anthropic_stream, openai_stream, split

KEY = "sk-test-SECRET-0123456789"
FAST = RetryPolicy(delays=(0.01,) * 4)
KINDS = pytest.mark.parametrize("kind", ["openai", "anthropic"])
FETCH = ToolSpec("fetch", "Fetch a URL", {"type": "object", "properties": {"url": {"type": "string"}}})
HI = [Message("user", "hi")]
UNUSED = httpx.AsyncClient(trust_env=False)  # resolve() only stores it
ARGS = {"url": "https://example.com/a?b=c&d=ü", "depth": 3, "nested": {"list": [1, 2, "三"], "flag": True}}


@pytest.fixture
async def server(nursery) -> LLMServer:
    """The scripted API, in-process (conftest's `llm` runs it as a subprocess)."""
    return await nursery.start(LLMServer().serve)


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=None, trust_env=False) as client:
        yield client


def make(kind: str, server: LLMServer, client: httpx.AsyncClient, **kw: Any) -> Provider:
    if kind == "openai":
        return OpenAICompatible(client, model="gpt-test", base_url=f"{server.base_url}/v1", api_key=KEY, **kw)
    return Anthropic(client, model="claude-test", api_key=KEY, base_url=server.base_url, **kw)


async def complete(provider: Provider, messages=HI, tools=()) -> tuple[Reply, list[Event]]:
    events: list[Event] = []
    reply = await provider.complete(messages, list(tools), events.append)
    return reply, events


def deltas(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@KINDS
async def test_text_streams_in_order_with_usage_and_timings(kind, server, client):
    text = "Structured concurrency: every task has an owner. ünïcödé ✓"
    server.add({"text": text, "delay_ms": 30})
    reply, events = await complete(make(kind, server, client))
    assert reply.text == text == deltas(events)
    assert sum(isinstance(e, TextDelta) for e in events) >= len(text) // 3
    assert reply.tool_calls == [] and reply.stop_reason in ("stop", "end_turn")
    assert reply.usage.input_tokens and reply.usage.output_tokens
    assert reply.ttft_ms is not None and reply.ttft_ms >= 30
    assert reply.generation_ms is not None and reply.generation_ms >= reply.ttft_ms


@KINDS
async def test_tool_calls_assembled_across_chunks(kind, server, client):
    calls = [{"name": "fetch", "arguments": ARGS}, {"name": "fetch", "arguments": {"url": "b"}}, {"name": "noargs"}]
    server.add({"text": "Let me look.", "tool_calls": calls, "piece": 2})
    reply, events = await complete(make(kind, server, client), tools=[FETCH])
    assert reply.text == deltas(events) == "Let me look."
    expected = [ToolCall("call_0_0", "fetch", ARGS), ToolCall("call_0_1", "fetch", {"url": "b"})]
    assert reply.tool_calls == [*expected, ToolCall("call_0_2", "noargs", {})]
    assert reply.stop_reason in ("tool_calls", "tool_use") and reply.ttft_ms is not None
    assert sum(isinstance(e, Progress) for e in events) > len(json.dumps(ARGS)) // 2  # fragments keep it alive


CONVERSATION = [
    Message("system", "You are terse."),
    Message("user", "Read two pages"),
    Message("assistant", "", tool_calls=[ToolCall("c1", "fetch", {"url": "a"}), ToolCall("c2", "fetch", {"url": "b"})]),
    Message("tool", "PAGE A TEXT", call_id="c1", name="fetch"),
    Message("tool", "PAGE B TEXT", call_id="c2", name="fetch"),
]


async def test_openai_request_carries_tools_and_tool_results(server, client):
    server.add({"text": "done"}, {"text": "no key"})
    await complete(make("openai", server, client), CONVERSATION, [FETCH])
    await complete(OpenAICompatible(client, model="m", base_url=f"{server.base_url}/v1"))
    sent, body = server.requests[0], server.requests[0]["body"]
    assert "authorization" not in server.requests[1]["headers"] and sent["path"] == "/v1/chat/completions"
    assert (sent["headers"]["authorization"], sent["headers"]["accept"]) == (f"Bearer {KEY}", "text/event-stream")
    assert body["model"] == "gpt-test" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [{"type": "function", "function": {"name": "fetch", "description": "Fetch a URL",
                                                                "parameters": FETCH.parameters}}]  # fmt: skip
    calls = [{"id": f"c{i}", "type": "function", "function": {"name": "fetch", "arguments": json.dumps({"url": u})}}
             for i, u in ((1, "a"), (2, "b"))]  # fmt: skip
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Read two pages"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": "PAGE A TEXT"},
        {"role": "tool", "tool_call_id": "c2", "content": "PAGE B TEXT"},
    ]


async def test_anthropic_request_carries_system_tools_and_tool_results(server, client):
    server.add({"text": "done"}, {"text": "again"})
    await complete(make("anthropic", server, client), CONVERSATION, [FETCH])
    await complete(make("anthropic", server, client, max_tokens=100))
    sent = server.requests[0]
    assert sent["path"] == "/v1/messages" and "authorization" not in sent["headers"]
    assert sent["headers"]["x-api-key"] == KEY and sent["headers"]["anthropic-version"] == "2023-06-01"
    body = sent["body"]
    assert body["max_tokens"] == 4096 and server.requests[1]["body"]["max_tokens"] == 100
    assert body["system"] == "You are terse." and body["stream"] is True
    assert body["tools"] == [{"name": "fetch", "description": "Fetch a URL", "input_schema": FETCH.parameters}]
    assert body["messages"] == [
        {"role": "user", "content": "Read two pages"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "fetch", "input": {"url": "a"}},
                                          {"type": "tool_use", "id": "c2", "name": "fetch", "input": {"url": "b"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "PAGE A TEXT"},
                                     {"type": "tool_result", "tool_use_id": "c2", "content": "PAGE B TEXT"}]},
    ]  # fmt: skip


RETRIED = {
    "429-retry-after-1s": ([{"fault": "429", "retry_after": "1"}], RetryPolicy(), 1.0),
    "500-503-backoff": ([{"fault": "500"}, {"fault": "500", "status": 503}], RetryPolicy(), 1.5),  # 0.5 s + 1 s
    "retry-after-capped": ([{"fault": "429", "retry_after": "3600"}], RetryPolicy(cap=0.1), 0.1),
    "break-before-any-event": ([{"fault": "break", "after": 0}], RetryPolicy(), 0.5),
}


@KINDS
@pytest.mark.parametrize(("script", "policy", "wait"), RETRIED.values(), ids=RETRIED.keys())
async def test_retried_until_success(kind, script, policy, wait, server, client):
    server.add(*script, {"text": "ok"})
    start = trio.current_time()
    reply, _ = await complete(make(kind, server, client, retry=policy))
    assert reply.text == "ok" and len(server.requests) == len(script) + 1
    assert wait - 0.05 <= trio.current_time() - start < wait + 1.5


@KINDS
@pytest.mark.parametrize(("status", "attempts"), [(500, 5), (401, 1), (404, 1)])  # 5xx retried 4 times; 4xx never
async def test_http_errors_carry_the_apis_words_without_the_key(kind, status, attempts, server, client):
    words = f"key {KEY} failed {'x' * 150}{KEY}{'x' * 300}"  # the second key straddles the 200-character cut
    server.add(*[{"fault": "status", "status": status, "message": words}] * 5, {"text": "no"})
    with pytest.raises(ProviderHTTPError) as caught:
        await complete(make(kind, server, client, retry=FAST))
    assert caught.value.status == status and len(server.requests) == attempts
    message = str(caught.value)
    assert message.startswith(f"{kind} API error {status}") and ": key *** failed xxx" in message
    assert KEY[:8] not in message  # not even a cut-off piece of it
    assert (f" at {server.base_url}/v1/" in message) is (status == 404)  # a 404 names the URL: likely a wrong base URL
    assert message.endswith("x…") and len(message.split(": ", 1)[1]) == 200  # the API's words, cut


@KINDS
@pytest.mark.parametrize(
    ("clean", "problem"), [(False, "connection lost"), (True, "ended before the reply was complete")]
)
async def test_break_mid_reply_keeps_the_partial_and_is_not_retried(kind, clean, problem, server, client):
    server.add({"fault": "break", "text": "Hello there, partial answer", "after": 5, "clean": clean}, {"text": "never"})
    events: list[Event] = []
    with pytest.raises(StreamBroken, match=problem) as caught:
        await make(kind, server, client, retry=FAST).complete(HI, [], events.append)
    partial = caught.value.partial
    assert isinstance(partial, Reply) and partial.text and partial.text == deltas(events)
    assert "Hello there, partial answer".startswith(partial.text) and len(server.requests) == 1


@KINDS
@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ({"fault": "malformed"}, "is not valid JSON"),
        ({"tool_calls": [{"name": "fetch", "arguments": '{"url": "x'}]}, "invalid JSON arguments for tool 'fetch'"),
        ({"tool_calls": [{"name": "fetch", "arguments": "[1, 2]"}]}, "arguments for tool 'fetch' that are not"),
    ],
)
async def test_malformed(kind, reply, problem, server, client):
    server.add(reply)
    with pytest.raises(MalformedStream, match=problem):
        await complete(make(kind, server, client), tools=[FETCH])


@KINDS
async def test_stall_is_cut_by_the_callers_pushed_deadline(kind, server, client):
    server.add({"fault": "stall", "text": "Hello there", "after": 4})
    events: list[Event] = []
    start = trio.current_time()
    with trio.CancelScope(deadline=start + 10) as scope:

        def on_event(event: Event) -> None:
            events.append(event)
            scope.deadline = trio.current_time() + 0.3

        await make(kind, server, client).complete(HI, [], on_event)
    assert scope.cancelled_caught and len(events) >= 3
    assert trio.current_time() - start < 2
    with trio.fail_after(5):
        await server.wait_stall_closed()  # cancelling closed the connection


async def test_connection_refused(client, free_port):
    provider = OpenAICompatible(client, model="m", base_url=f"http://127.0.0.1:{free_port}/v1", retry=FAST)
    with pytest.raises(ProviderError) as caught:
        await complete(provider)
    assert type(caught.value) is ProviderError
    assert str(caught.value) == f"cannot reach http://127.0.0.1:{free_port}/v1: connection refused"


async def test_server_as_a_subprocess(client, tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"tool_calls": [{"name": "fetch", "arguments": {"url": "u"}}]}, {"text": "bye"}]))
    command = server_command("llm_server", str(script))
    with subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        line = (await trio.to_thread.run_sync(proc.stdout.readline)).decode()
        assert line.startswith("PORT "), line
        base = f"http://127.0.0.1:{line.split()[1]}"
        provider = Anthropic(client, model="c", api_key=KEY, base_url=base)
        first, _ = await complete(provider, tools=[FETCH])
        result = Message("tool", "the page", call_id=first.tool_calls[0].id)
        second, _ = await complete(provider, [*HI, Message("assistant", "", first.tool_calls), result])
        assert second.text == "bye"
        recorded = (await client.get(f"{base}/_requests")).json()
        assert recorded[1]["body"]["messages"][-1]["content"][0]["content"] == "the page"
        assert (await client.get(f"{base}/_status")).json() == {"served": 2, "remaining": 0, "stalls_closed": 0}
        proc.stdin.close()  # the server's cue to exit
        assert await trio.to_thread.run_sync(proc.wait, 10) == 0


# Registry


@pytest.mark.parametrize(
    ("spec", "env", "kind", "base"),
    [
        ("openai/gpt-4o-mini", {"OPENAI_API_KEY": KEY}, "openai", "https://api.openai.com/v1"),
        ("openai/gpt-4o", {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://h:1/v1/"}, "openai", "http://h:1/v1"),
        ("anthropic/claude-x", {"ANTHROPIC_API_KEY": KEY}, "anthropic", "https://api.anthropic.com"),
        ("openrouter/meta-llama/llama-3-8b", {"OPENROUTER_API_KEY": KEY}, "openrouter", "https://openrouter.ai/api/v1"),
        ("ollama/llama3", {}, "ollama", "http://127.0.0.1:11434/v1"),
        ("ollama/llama3", {"OLLAMA_HOST": "box:9"}, "ollama", "http://box:9/v1"),
        ("ollama/llama3", {"OLLAMA_HOST": "0.0.0.0"}, "ollama", "http://0.0.0.0:11434/v1"),
        ("ollama/llama3", {"OLLAMA_HOST": "https://o.example/"}, "ollama", "https://o.example/v1"),
        ("local/qwen", {"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}, "local", "http://127.0.0.1:8080/v1"),
    ],
)
def test_resolve(spec, env, kind, base):
    provider = resolve(spec, env, UNUSED)
    assert (provider.name, provider.model, vars(provider)["base_url"]) == (kind, spec.split("/", 1)[1], base)
    assert KEY not in repr(provider) and KEY not in str(vars(provider).get("base_url"))


@pytest.mark.parametrize(
    ("spec", "env", "needle"),
    [
        ("gpt-4o", {}, "PROVIDER/MODEL"),
        ("openai/", {"OPENAI_API_KEY": KEY}, "PROVIDER/MODEL"),
        ("nope/m", {}, "unknown provider 'nope'"),
        ("openai/m", {"OPENAI_API_KEY": ""}, "OPENAI_API_KEY is not set"),
        ("anthropic/m", {"OPENAI_API_KEY": KEY}, "ANTHROPIC_API_KEY is not set"),
        ("openrouter/a/b", {}, "OPENROUTER_API_KEY is not set"),
        ("local/m", {"OPENAI_API_KEY": KEY}, "OPENAI_BASE_URL is not set"),
    ],
)
def test_config_errors_name_what_to_set(spec, env, needle):
    with pytest.raises(ProviderConfigError) as caught:
        resolve(spec, env, UNUSED)
    message = str(caught.value)
    assert needle in message and "\n" not in message and KEY not in message
    if "unknown" in needle:
        assert all(name in message for name in PROVIDERS)


def test_retry_after_forms():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": format_datetime(now + timedelta(seconds=7), usegmt=True)}, now=now) == 7.0
    assert retry_after({"retry-after": "soon"}) is None and retry_after({"retry-after": "nan"}) is None
    assert retry_after({}) is None


# Properties of SSE parsing and assembly, over a mock transport (no sockets: many examples).


async def play(kind: str, body: bytes, cuts: list[int]) -> tuple[Reply, list[Event]]:
    """Stream `body`, delivered in pieces of `cuts` bytes, through a provider over a mock transport."""

    async def chunks():
        for piece in split(body, cuts):
            yield piece

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        once = RetryPolicy(delays=())
        if kind == "openai":
            return await complete(OpenAICompatible(client, model="m", base_url="http://mock/v1", retry=once))
        return await complete(Anthropic(client, model="m", api_key=KEY, base_url="http://mock", retry=once))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@KINDS
@SETTINGS
@given(
    text=st.text(max_size=40),
    calls=st.lists(st.dictionaries(st.text(max_size=5), JSON, max_size=3), max_size=3),
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=5),
    cuts=st.lists(st.integers(1, 50), min_size=1, max_size=8),
)
async def test_any_split_assembles_the_same_reply(kind, text, calls, sizes, cuts):
    expected = [ToolCall(f"t{i}", f"tool{i}", arguments) for i, arguments in enumerate(calls)]
    reply = {"text": text, "tool_calls": [vars(call) for call in expected]}
    encode = openai_stream if kind == "openai" else anthropic_stream
    stream = encode(reply, model="m", usage={"input_tokens": 7, "output_tokens": 5}, sizes=sizes)
    got, events = await play(kind, "".join(stream.events + stream.closing).encode(), cuts)
    assert got.text == text == deltas(events)
    assert got.tool_calls == expected and (got.usage.input_tokens, got.usage.output_tokens) == (7, 5)


FRAGMENTS = ["", "data: [DONE]", "event: ping", ": keep-alive", "data: {", "retry: 10", "data:", "id: 1", "\r"]
GARBAGE = st.one_of(st.text(max_size=30), st.sampled_from(FRAGMENTS), JSON.map(lambda v: "data: " + json.dumps(v)))


@KINDS
@settings(SETTINGS, max_examples=500)
@given(data=st.data())
async def test_corrupted_streams_only_raise_our_errors(kind, data):
    """A valid reply with values swapped for random JSON anywhere, and garbage lines anywhere."""
    reply = {"text": "Hi there", "tool_calls": [{"id": "t0", "name": "f", "arguments": {"url": "https://x"}}]}
    encode = openai_stream if kind == "openai" else anthropic_stream
    stream = encode(reply, model="m", usage={"input_tokens": 1, "output_tokens": 1}, sizes=[9])
    events = stream.events + stream.closing
    for _ in range(data.draw(st.integers(1, 2))):
        i = data.draw(st.integers(0, len(events) - 2))  # keep the done marker: reach the end
        head, _, payload = events[i].rpartition("data: ")
        value = json.loads(payload)
        value = replaced(value, data.draw(st.sampled_from(paths(value))), data.draw(JSON))
        events[i] = f"{head}data: {json.dumps(value)}\n\n"
    for line in data.draw(st.lists(GARBAGE, max_size=2)) if data.draw(st.booleans()) else []:
        events.insert(data.draw(st.integers(0, len(events))), line + "\n\n")
    cuts = data.draw(st.lists(st.integers(1, 64), min_size=1, max_size=4))
    with contextlib.suppress(ProviderError):  # anything else fails the test
        await play(kind, "".join(events).encode(), cuts)


async def test_error_event_mid_stream_is_broken_with_partial():
    stream = anthropic_stream({"text": "Hello"}, model="m", usage={"input_tokens": 1, "output_tokens": 1})
    error = 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    with pytest.raises(StreamBroken, match="Overloaded") as caught:
        await play("anthropic", "".join([*stream.events, error]).encode(), [17])
    assert isinstance(caught.value.partial, Reply) and caught.value.partial.text == "Hello"


def paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value, the root included."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [path, *(p for key, inner in items for p in paths(inner, (*path, key)))]


def replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy
