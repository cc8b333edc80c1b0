"""Context and tokens (issue 15, item 5): usage counted from what the providers report, the window
table, compaction before a request would pass 80% of the window (old tool results shortened first,
then the oldest turns summarised by the model), and a provider's context-length error: one
compaction, one retry, never a loop. The agent runs in process on the real providers over HTTP
against tests/support/llm_server.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.context import SUMMARY_HEAD, SUMMARY_PROMPT, ContextKeeper, raw_tokens, shorten
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import ContextTooLong
from gptme_trio.llm import Message, Provider
from gptme_trio.llm.anthropic import Anthropic
from gptme_trio.llm.models import DEFAULT_CONTEXT, model_info
from gptme_trio.llm.openai import OpenAICompatible
from gptme_trio.llm.sse import context_limit, is_context_error
from gptme_trio.tools import tool
from tests.support.llm_server import LLMServer
from tests.support.ui import RecordingUI

from .conftest import invoke_cli

KINDS = pytest.mark.parametrize("kind", ["openai", "anthropic"])


async def dump(part: int) -> str:
    """A long document.

    Args:
        part: which part
    """
    return f"part {part} begins " + "lorem ipsum dolor sit amet " * 300 + f" part {part} ends"


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=None, trust_env=False) as client:
        yield client


def provider(kind: str, server: LLMServer, client: httpx.AsyncClient) -> Provider:
    if kind == "openai":
        return OpenAICompatible(client, model="gpt-4o", base_url=f"{server.base_url}/v1", api_key="k")
    return Anthropic(client, model="claude-sonnet-4-5", api_key="k", base_url=server.base_url)


def agent(model: Provider, keeper: ContextKeeper, *tools: Any) -> Agent:
    made = {t.name: t for t in (tool(f) for f in tools)}
    return Agent(model, made, ChatSettings(confirm_tools=False), context=keeper)


def conversation_with_turns(tmp_path, turns: int, size: int) -> Conversation:
    conversation = Conversation.create(tmp_path, "long")
    conversation.append(Message("system", "You are terse."))
    for n in range(turns):
        conversation.append(Message("user", f"question {n}: " + "words " * (size // 6)))
        conversation.append(Message("assistant", f"answer {n}"))
    return conversation


def test_model_table_longest_prefix_vendor_prefix_and_overrides():
    assert model_info("openai", "gpt-4o-mini-2024-07-18").input_price == 0.15  # not gpt-4o's
    assert model_info("openrouter", "anthropic/claude-sonnet-4-5").context == 200_000
    assert model_info("groq", "openai/gpt-oss-120b").context == 131_072
    unknown = model_info("local", "my-finetune")
    assert (unknown.context, unknown.known, unknown.cost(10, 10)) == (DEFAULT_CONTEXT, False, None)
    overrides = {"local/my-finetune": {"context": 4096}, "gpt-4o": {"input_price": 1}}
    assert model_info("local", "my-finetune", overrides).context == 4096
    assert model_info("openai", "gpt-4o", overrides).input_price == 1.0
    assert model_info("openai", "gpt-4o", overrides).context == 128_000


@pytest.mark.parametrize(
    ("body", "limit"),
    [
        ('{"error": {"message": "This model\'s maximum context length is 128,000 tokens. However..."}}', 128000),
        ('{"error": {"message": "prompt is too long: 208000 tokens > 200000 maximum"}}', 200000),
        ("The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", 1048576),
        ("Prompt contains 140000 tokens, too large for model with 131072 maximum context length", 131072),
        ('{"error": {"code": "context_length_exceeded", "message": "Input is long"}}', None),
    ],
)
def test_context_errors_are_recognised_in_each_providers_words(body, limit):
    assert is_context_error(body) and context_limit(body) == limit


def test_rate_limits_and_bad_requests_are_not_context_errors():
    assert not is_context_error('{"error": {"message": "Invalid value for temperature"}}')


def test_shorten_keeps_head_and_tail_and_says_how_much_went():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    short = shorten(text, 1000)
    assert short.startswith("HEAD") and short.endswith("TAIL") and len(short) < 1100
    assert "characters left out to save context" in short and shorten("small", 1000) == "small"


@KINDS
async def test_usage_reported_by_the_provider_is_counted_with_its_cost(kind, nursery, client, tmp_path):
    server = await nursery.start(
        LLMServer([{"text": "hi", "usage": {"input_tokens": 1234, "output_tokens": 56}}]).serve
    )
    keeper = ContextKeeper()
    model = provider(kind, server, client)
    conversation = conversation_with_turns(tmp_path, 0, 0)
    assert await agent(model, keeper).turn(conversation, "hello", RecordingUI()) == "hi"
    spent = keeper.spent[f"{model.name}/{model.model}"]
    assert (spent.requests, spent.input_tokens, spent.output_tokens) == (1, 1234, 56)
    price = model_info(model.name, model.model)
    assert spent.cost == pytest.approx(price.cost(1234, 56))
    report = keeper.report(conversation, model, [])
    assert "1,234 input + 56 output tokens" in report and f"${spent.cost:.4f}" in report
    # the estimate of the next request follows the reported count: 1234 tokens for what was sent
    assert keeper.estimate(server_messages(conversation)) == pytest.approx(1234, rel=0.01)


def server_messages(conversation: Conversation) -> list[Message]:
    return conversation.messages[:2]  # what the first request carried: system and user


async def test_a_conversation_that_passes_the_window_compacts_once_with_a_notice_and_goes_on(nursery, client, tmp_path):
    server: LLMServer = await nursery.start(LLMServer().serve)
    keeper = ContextKeeper({"gpt-4o": {"context": 6000}})  # 80%: 4800 tokens
    model = provider("openai", server, client)
    bot = agent(model, keeper, dump)
    conversation = conversation_with_turns(tmp_path, 0, 0)
    ui = RecordingUI()
    server.add(
        {"tool_calls": [{"name": "dump", "arguments": {"part": 1}}]},
        {"text": "done 1"},  # turn 1: ~2,500 tokens
        {"tool_calls": [{"name": "dump", "arguments": {"part": 2}}]},  # turn 2 passes 80% here
        {"text": "SUMMARY: the user had part 1 read; it was lorem ipsum."},
        {"text": "done 2"},
        {"text": "done 3"},  # turn 3 fits again
    )
    question = "please read this part carefully " * 60
    answers = [await bot.turn(conversation, f"turn {n}: {question}", ui) for n in (1, 2, 3)]
    assert answers == ["done 1", "done 2", "done 3"] and not server.script
    compacting = [n for n in ui.notices if n.startswith("context:")]
    assert len(compacting) == 1, ui.notices
    assert "shortened" in compacting[0] and "summarised" in compacting[0]
    summary_requests = [r for r in server.requests if r["body"]["messages"][0]["content"] == SUMMARY_PROMPT]
    assert len(summary_requests) == 1 and "tools" not in summary_requests[0]["body"]
    last = server.requests[-1]["body"]["messages"]
    assert any(m["role"] == "user" and m["content"].startswith(SUMMARY_HEAD) for m in last)
    assert raw_tokens(conversation.messages) < 0.8 * 6000
    # the log on disk is the compacted conversation; the whole one is kept beside it
    reloaded = Conversation.open(tmp_path, "long")
    assert [m.content for m in reloaded.messages] == [m.content for m in conversation.messages]
    assert (conversation.directory / "conversation.before-compact-1.jsonl").exists()


@KINDS
async def test_a_context_length_error_compacts_once_and_retries_once(kind, nursery, client, tmp_path):
    script = [{"text": "the user asked many questions"}, {"text": "the answer"}, {"text": "never reached"}]
    server: LLMServer = await nursery.start(LLMServer(script, context_limit=1500).serve)
    keeper = ContextKeeper()  # the table says 128k/200k: only the provider knows better
    conversation = conversation_with_turns(tmp_path, 4, 2000)
    ui = RecordingUI()
    assert await agent(provider(kind, server, client), keeper).turn(conversation, "and now?", ui) == "the answer"
    assert len(server.requests) == 3  # refused, the summary, the retry
    assert server.requests[1]["body"]["messages"][-1]["content"].startswith(("System:", "User:"))
    assert len(ui.notices) == 1 and "said the conversation is too long" in ui.notices[0]
    assert conversation.messages[1].content.startswith(SUMMARY_HEAD) and conversation.messages[-2].content == "and now?"
    assert keeper.info(provider(kind, server, client)).context == 1500  # learnt from the error


@KINDS
async def test_a_context_length_error_after_compacting_is_an_error_not_a_loop(kind, nursery, client, tmp_path):
    script = [{"text": "summary"}, {"text": "never reached"}, {"text": "never reached"}]
    server: LLMServer = await nursery.start(LLMServer(script, context_limit=1500).serve)
    conversation = conversation_with_turns(tmp_path, 2, 1000)
    ui = RecordingUI()
    with pytest.raises(ContextTooLong, match="still too long after compacting"):
        await agent(provider(kind, server, client), ContextKeeper()).turn(conversation, "huge " * 3000, ui)
    assert len(server.requests) == 3 and len(server.script) == 2  # refused, the summary, refused: stop
    assert len(ui.notices) == 1


async def test_a_context_length_error_with_nothing_to_compact_stops_at_once(nursery, client, tmp_path):
    server: LLMServer = await nursery.start(LLMServer([{"text": "never reached"}], context_limit=500).serve)
    conversation = conversation_with_turns(tmp_path, 0, 0)
    with pytest.raises(ContextTooLong, match="nothing left to compact"):
        await agent(provider("openai", server, client), ContextKeeper()).turn(
            conversation, "huge " * 3000, RecordingUI()
        )
    assert len(server.requests) == 1


async def test_compact_by_hand_keeps_the_latest_turn(nursery, client, tmp_path):
    server: LLMServer = await nursery.start(LLMServer([{"text": "earlier: four questions"}]).serve)
    keeper = ContextKeeper()
    bot = agent(provider("openai", server, client), keeper)
    conversation = conversation_with_turns(tmp_path, 4, 100)
    done = await keeper.compact(conversation, bot.provider, [], bot.summarise, everything=True)
    assert done.summarised == 6 and done.shortened == 0
    assert [m.role for m in conversation.messages] == ["system", "user", "user", "assistant"]
    assert conversation.messages[1].content == SUMMARY_HEAD + "earlier: four questions"
    sent = json.dumps(server.requests[0]["body"])
    assert "question 0" in sent and "question 3" not in sent  # the latest turn is kept, not summarised


def test_chat_cli_compacts_on_a_context_error_and_answers(llm, tmp_path):
    """The CLI as a user runs it (-n, then -r): the provider refuses the second turn as too long;
    chat says so in one line, summarises the first turn, and answers."""
    summary = "The user asked a first question and got a first answer."
    server = llm([{"text": "First answer."}, {"fault": "context"}, {"text": summary}, {"text": "Second answer."}])
    env = {"GPTME_TRIO_HOME": str(tmp_path), **server.env("local")}
    first = invoke_cli("chat", "-n", "-m", "local/test-model", "--name", "talk", "first question", **env)
    assert first.returncode == 0, first.stderr
    second = invoke_cli("chat", "-n", "-m", "local/test-model", "-r", "--name", "talk", "second question", **env)
    assert second.returncode == 0 and second.stdout == b"Second answer.\n", second.stderr
    [line] = second.stderr.decode().splitlines()
    assert line.startswith("gptme-trio: context: local said the conversation is too long for test-model")
    assert len(server.requests()) == 4  # the first turn; then refused, the summary, the retry
    log = [json.loads(line) for line in (tmp_path / "conversations/talk/conversation.jsonl").read_text().splitlines()]
    assert [m["role"] for m in log] == ["system", "user", "user", "assistant"]
    assert log[1]["content"] == SUMMARY_HEAD + summary and log[2]["content"] == "second question"
    assert (tmp_path / "conversations/talk/conversation.before-compact-1.jsonl").exists()


def test_chat_cli_context_error_with_nothing_to_compact_is_one_line(llm, tmp_path):
    server = llm([{"fault": "context"}, {"fault": "context"}, {"text": "never"}])
    env = {"GPTME_TRIO_HOME": str(tmp_path), **server.env("local")}
    result = invoke_cli("chat", "-n", "-m", "local/test-model", "a question", **env)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err, err
    [line] = err.splitlines()  # one line: no notice of a compaction that did nothing
    assert line.startswith("gptme-trio: local API error 400: This model's maximum context length")
    assert "nothing left to compact" in err and len(server.requests()) == 1


def test_tokens_of_a_resumed_conversation_come_from_its_log(tmp_path):
    conversation = Conversation.create(tmp_path, "old")
    conversation.append(Message("user", "q"))
    usage = {"input_tokens": 1000, "output_tokens": 100}
    conversation.append(Message("assistant", "a"), {"model": "openai/gpt-4o", "usage": usage})
    conversation.append(Message("assistant", "b"), {"model": "openai/gpt-4o", "usage": {"input_tokens": None}})
    conversation.append(Message("assistant", "interrupted"), {"interrupted": "interrupted by user"})
    reopened = Conversation.open(tmp_path, "old")
    assert reopened.usage == [("openai/gpt-4o", 1000, 100), ("openai/gpt-4o", 0, 0)]
    keeper = ContextKeeper()
    keeper.add_earlier(reopened.usage)
    report = keeper.report(reopened, None, [])
    assert "before this chat (from the log): openai/gpt-4o: 2 request(s), 1,000 input + 100 output tokens" in report
    assert "$0.0035" in report  # gpt-4o: $2.50 and $10 per million
