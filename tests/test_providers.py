"""The OpenAI-compatible presets (issue 15, item 6): gemini, xai, deepseek, groq and mistral, each
resolved from `-m NAME/MODEL` with its key variable and its base URL pointed at the scripted server
on 127.0.0.1 (tests/support/llm_server.py), as a user overrides it; streaming, tool calls and errors
as for openai. Gemini's own stream (no tool-call index, a thought signature that must go back) and
Mistral's refusal of `stream_options` are played by the server's flavours."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gptme_trio.chat.config import PROVIDER_ENV
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import ProviderConfigError, ProviderHTTPError
from gptme_trio.llm import Message, ToolCall, ToolSpec
from gptme_trio.llm.registry import PRESETS, PROVIDERS, describe, resolve
from gptme_trio.llm.retry import RetryPolicy
from tests.support.llm_server import LLMServer
from tests.support.llm_streams import THOUGHT

KEY = "preset-key-0123456789"
FETCH = ToolSpec("fetch", "Fetch a URL", {"type": "object", "properties": {"url": {"type": "string"}}})
PRESET_NAMES = pytest.mark.parametrize("name", ["gemini", "xai", "deepseek", "groq", "mistral"])


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=None, trust_env=False) as client:
        yield client


def env_for(name: str, server: LLMServer) -> dict[str, str]:
    preset = PRESETS[name]
    return {preset.key_var: KEY, preset.url_var: f"{server.base_url}/v1"}


@PRESET_NAMES
async def test_preset_streams_text_and_tool_calls_with_its_key(name, nursery, client):
    flavour = name if name in ("gemini", "mistral") else "openai"
    script = [
        {"tool_calls": [{"name": "fetch", "arguments": {"url": "https://example.com"}}], "usage": {"input_tokens": 7}},
        {"text": "Hello from " + name},
    ]
    server: LLMServer = await nursery.start(LLMServer(script, flavour=flavour).serve)
    provider = resolve(f"{name}/some-model", env_for(name, server), client)
    assert (provider.name, provider.model) == (name, "some-model")
    first = await provider.complete([Message("user", "hi")], [FETCH], lambda event: None)
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("fetch", {"url": "https://example.com"})]
    assert first.usage.input_tokens == 7  # mistral sends usage unasked; the others when asked
    history = [Message("user", "hi"), Message("assistant", "", first.tool_calls), tool_result(first.tool_calls[0])]
    second = await provider.complete(history, [FETCH], lambda event: None)
    assert second.text == "Hello from " + name
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "some-model"
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    assert ("stream_options" in request["body"]) is (name != "mistral")  # Mistral answers 422 to it


def tool_result(call: ToolCall) -> Message:
    return Message("tool", "a page", call_id=call.id, name=call.name)


async def test_gemini_thought_signature_goes_back_with_the_call_and_survives_the_log(nursery, client, tmp_path):
    script: list[dict[str, Any]] = [{"tool_calls": [{"name": "fetch", "arguments": {"url": "https://a"}}]}]
    server: LLMServer = await nursery.start(LLMServer([*script, {"text": "done"}], flavour="gemini").serve)
    provider = resolve("gemini/gemini-2.5-flash", env_for("gemini", server), client)
    reply = await provider.complete([Message("user", "hi")], [FETCH], lambda event: None)
    assert reply.tool_calls[0].extra == THOUGHT and reply.stop_reason == "stop"  # Gemini says stop, not tool_calls
    conversation = Conversation.create(tmp_path, "g")
    for message in (
        Message("user", "hi"),
        Message("assistant", "", reply.tool_calls),
        tool_result(reply.tool_calls[0]),
    ):
        conversation.append(message)
    reloaded = Conversation.open(tmp_path, "g")
    assert reloaded.messages[1].tool_calls[0].extra == THOUGHT
    await provider.complete(reloaded.messages, [FETCH], lambda event: None)
    sent = server.requests[1]["body"]["messages"][1]["tool_calls"][0]
    assert sent["extra_content"] == THOUGHT and sent["function"]["name"] == "fetch"


@PRESET_NAMES
async def test_preset_errors_carry_the_status_and_name_the_provider(name, nursery, client):
    server: LLMServer = await nursery.start(
        LLMServer([{"fault": "status", "status": 401, "message": "Incorrect API key"}]).serve
    )
    provider = resolve(f"{name}/m", env_for(name, server), client)
    provider._retry = RetryPolicy(delays=())  # type: ignore[attr-defined]
    with pytest.raises(ProviderHTTPError, match=f"^{name} API error 401: Incorrect API key") as caught:
        await provider.complete([Message("user", "hi")], [], lambda event: None)
    assert caught.value.status == 401 and KEY not in str(caught.value)


@PRESET_NAMES
def test_preset_without_its_key_names_the_variable_and_defaults_to_the_service(name):
    preset = PRESETS[name]
    with pytest.raises(ProviderConfigError, match=f"{preset.key_var} is not set"):
        resolve(f"{name}/m", {}, httpx.AsyncClient(trust_env=False))
    provider = resolve(f"{name}/m", {preset.key_var: KEY}, httpx.AsyncClient(trust_env=False))
    assert provider.base_url == preset.url.rstrip("/")  # type: ignore[attr-defined]
    assert name in PROVIDERS and preset.key_var in describe(name)
    assert PROVIDER_ENV[name] == (preset.key_var, preset.url_var)  # config.toml's [providers.NAME] knows it
