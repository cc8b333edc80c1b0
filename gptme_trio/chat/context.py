"""Tokens and the context window: what a chat has spent, and keeping it inside the model's window.

    keeper = ContextKeeper(config.models)         # one per chat: it outlives /model switches
    await keeper.fit(conversation, provider, specs, summarise, notice)   # before each request
    keeper.record(provider, reply.usage, sent)    # after it: what the provider reported
    await keeper.compact(conversation, provider, specs, summarise)       # /compact, a context error

Tokens are counted from the usage the providers report (OpenAI's `stream_options.include_usage`,
Anthropic's `message_start`/`message_delta`) and estimated before a request: the last count a
provider reported plus characters / 4 of what changed since (no tokenizer, nothing downloaded).
The window comes from `llm.models` (overridable in config.toml), or from a provider's error.

Before a request would pass 80% of the window, the conversation is compacted, with one line to
say so: first the tool results of earlier steps are shortened (head and tail kept, with a note);
if that is not enough, the oldest turns are summarised by the model and replaced by the summary
(the latest turns are kept whole, and the system prompt). The log on disk is rewritten to match;
the whole log before it stays beside it (`conversation.before-compact-N.jsonl`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from gptme_trio.chat.store import Conversation
from gptme_trio.llm import Message, Provider, ToolSpec, Usage
from gptme_trio.llm.models import ModelInfo, Overrides, model_info

THRESHOLD = 0.8  # compact before a request would pass this share of the window
TARGET = 0.5  # a compaction summarises until the estimate is under this share
KEEP = 0.3  # the latest turns kept whole take at most this share (the current turn always stays)
CHARS_PER_TOKEN = 4
PER_MESSAGE = 4  # tokens of framing per message (role, separators)
PER_IMAGE = 1_000  # tokens an attached image costs, about (a screenshot: ~800 to ~1,600)
SUMMARY_HEAD = "[summary of the earlier conversation, written when it was compacted]\n"
SUMMARY_PROMPT = (
    "You compact a conversation between a user and an assistant that uses tools. Summarise the "
    "transcript you are given so that the assistant can go on without it: the user's goals and "
    "requests, decisions made, facts learned (URLs, file paths, names, numbers, commands and their "
    "outcomes), and what was still open. Be concise and concrete; write plain prose or bullet points."
)

Summarise = Callable[[str], Awaitable[str]]  # transcript -> summary (the agent asks its model)


@dataclass
class Spent:
    """What one model cost in this chat."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0  # USD; None when the model has no price


@dataclass(frozen=True)
class Compaction:
    shortened: int  # tool results shortened
    summarised: int  # messages replaced by the summary
    before: int  # estimated tokens
    after: int

    @property
    def changed(self) -> bool:
        return bool(self.shortened or self.summarised)


class ContextKeeper:
    """The token ledger and the compaction policy of one chat."""

    def __init__(self, overrides: Overrides | None = None) -> None:
        self._overrides = overrides or {}
        self._anchor: tuple[int, int] | None = None  # (raw_tokens sent, input tokens reported), last request
        self.spent: dict[str, Spent] = {}
        self.earlier: dict[str, Spent] = {}  # what a resumed conversation's log says it cost before
        self.compactions = 0
        self._learned: dict[str, int] = {}  # "PROVIDER/MODEL" -> a window the provider's errors told us
        self._stuck: int | None = None  # the estimate a compaction could not bring under THRESHOLD

    def info(self, provider: Provider) -> ModelInfo:
        info = model_info(provider.name, provider.model, self._overrides)
        learned = self._learned.get(f"{provider.name}/{provider.model}")
        return replace(info, context=learned, known=True) if learned and learned < info.context else info

    def learn(self, provider: Provider, window: int) -> None:
        """The provider refused a request as too long: its window is `window` tokens (or less)."""
        self._learned[f"{provider.name}/{provider.model}"] = max(window, 256)

    def estimate(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
        """Tokens `messages` and `tools` would take: the last reported count, plus characters / 4 of what
        changed since (what a provider adds of its own, tool formatting say, is in the reported count)."""
        raw = raw_tokens(messages, tools)
        if self._anchor is None:
            return raw
        sent, reported = self._anchor
        return max(reported + raw - sent, raw // 4)

    def record(self, provider: Provider, usage: Usage, sent: int | None = None) -> None:
        """Count one reply's usage; `sent` is `raw_tokens` of its request (refines the estimate)."""
        _add(self.spent, f"{provider.name}/{provider.model}", usage, self.info(provider))
        if usage.input_tokens and sent:
            self._anchor = (sent, usage.input_tokens)

    def add_earlier(self, replies: Sequence[tuple[str, int, int]]) -> None:
        """Count the replies a resumed log records: (PROVIDER/MODEL, input tokens, output tokens)."""
        for model, tokens_in, tokens_out in replies:
            provider, _, name = model.partition("/")
            _add(self.earlier, model, Usage(tokens_in, tokens_out), model_info(provider, name, self._overrides))

    async def fit(
        self,
        conversation: Conversation,
        provider: Provider,
        tools: Sequence[ToolSpec],
        summarise: Summarise,
        notice: Callable[[str], None],
    ) -> Compaction | None:
        """Compact `conversation` when the next request would pass THRESHOLD of the window."""
        window = self.info(provider).context
        used = self.estimate(conversation.messages, tools)
        if used <= THRESHOLD * window or (self._stuck is not None and used <= self._stuck + window // 20):
            return None  # fits, or a compaction just did what it could and little was added since
        done = await self.compact(conversation, provider, tools, summarise)
        self._stuck = done.after if done.after > THRESHOLD * window else None
        notice(self.describe(done, provider, f"the conversation neared the context window ({window:,} tokens)"))
        return done

    async def compact(
        self,
        conversation: Conversation,
        provider: Provider,
        tools: Sequence[ToolSpec],
        summarise: Summarise,
        *,
        everything: bool = False,
    ) -> Compaction:
        """Shorten old tool results, then summarise the oldest turns if still over TARGET (or,
        `everything`, as /compact asks: all turns but the latest). ProviderError from `summarise`
        goes up, with nothing changed."""
        window = self.info(provider).context
        messages = list(conversation.messages)
        before = self.estimate(messages, tools)
        shortened = _shorten_old_results(messages, window)
        summarised = 0
        if everything or self.estimate(messages, tools) > TARGET * window:
            start = 1 if messages and messages[0].role == "system" else 0
            cut = self._cut(messages, tools, window, start, everything)
            if cut > start and not (cut - start == 1 and messages[start].content.startswith(SUMMARY_HEAD)):
                budget = int(window * TARGET * CHARS_PER_TOKEN)  # the summary request must fit too
                summary = (await summarise(transcript(messages[start:cut], budget))).strip()
                messages[start:cut] = [Message("user", SUMMARY_HEAD + (summary or "(the model gave no summary)"))]
                summarised = cut - start
        done = Compaction(shortened, summarised, before, self.estimate(messages, tools))
        if done.changed:
            conversation.rewrite(messages, {"compacted": {"shortened": shortened, "summarised": summarised}})
            self.compactions += 1
        return done

    def _cut(self, messages: list[Message], tools: Sequence[ToolSpec], window: int, start: int, all_: bool) -> int:
        """Where the kept turns begin: a user message, so no tool call is parted from its result."""
        starts = [i for i, m in enumerate(messages) if m.role == "user" and i >= start]
        if not starts:
            return start
        if all_:
            return starts[-1]
        fitting = [i for i in starts if self.estimate(messages[i:], tools) <= KEEP * window]
        return min(fitting) if fitting else starts[-1]

    def describe(self, done: Compaction, provider: Provider, why: str) -> str:
        """One line: why, what was done, the estimate before and after."""
        window = self.info(provider).context
        if not done.changed:
            return f"context: {why}, but there is nothing left to compact (~{_share(done.before, window)})"
        parts = []
        if done.shortened:
            parts.append(f"shortened {done.shortened} old tool result(s)")
        if done.summarised:
            parts.append(f"summarised {done.summarised} earlier message(s)")
        return f"context: {why}: {' and '.join(parts)}; ~{_share(done.before, window)} -> ~{_share(done.after, window)}"

    def report(self, conversation: Conversation, provider: Provider | None, tools: Sequence[ToolSpec]) -> str:
        """What /tokens shows: the context now, then the tokens and cost of this chat per model."""
        lines = []
        if provider is not None:
            name, info = f"{provider.name}/{provider.model}", self.info(provider)
            now = self.estimate(conversation.messages, tools)
            assumed = "" if info.known else f' (window assumed: set [models."{name}"] context in config.toml)'
            lines.append(f"context: ~{now:,} of {info.context:,} tokens ({now / info.context:.0%}) for {name}{assumed}")
        if not self.spent:
            lines.append("no requests yet in this chat")
        total: float | None = 0.0
        for label, ledger in (("", self.spent), ("before this chat (from the log): ", self.earlier)):
            for name, spent in ledger.items():
                cost = f"${spent.cost:.4f}" if spent.cost is not None else "cost unknown (no price for this model)"
                lines.append(
                    f"{label}{name}: {spent.requests} request(s), {spent.input_tokens:,} input + "
                    f"{spent.output_tokens:,} output tokens, {cost}"
                )
                total = None if total is None or spent.cost is None else total + spent.cost
        if len(self.spent) + len(self.earlier) > 1 and total is not None:
            lines.append(f"total: ${total:.4f}")
        if self.compactions:
            lines.append(f"compacted {self.compactions} time(s) in this chat")
        return "\n".join(lines)


def _add(ledger: dict[str, Spent], model: str, usage: Usage, info: ModelInfo) -> None:
    spent = ledger.setdefault(model, Spent())
    spent.requests += 1
    tokens_in, tokens_out = usage.input_tokens or 0, usage.output_tokens or 0
    spent.input_tokens += tokens_in
    spent.output_tokens += tokens_out
    cost = info.cost(tokens_in, tokens_out)
    spent.cost = None if cost is None or spent.cost is None else spent.cost + cost


def raw_tokens(messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
    """Characters / 4 of what a request carries, plus a little framing per message."""
    calls = (c for m in messages for c in m.tool_calls)
    chars = sum(len(m.content) for m in messages) + sum(len(c.name) + len(json.dumps(c.arguments)) for c in calls)
    chars += sum(len(t.name) + len(t.description) + len(json.dumps(t.parameters)) for t in tools)
    images = sum(len(m.images) for m in messages)
    return chars // CHARS_PER_TOKEN + PER_MESSAGE * len(messages) + PER_IMAGE * images


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its head and tail with a note of what went."""
    if len(text) <= limit:
        return text
    keep = max(limit - 80, 2) // 2
    omitted = len(text) - 2 * keep
    return f"{text[:keep]}\n[... {omitted:,} characters left out to save context ...]\n{text[-keep:]}"


def _shorten_old_results(messages: list[Message], window: int) -> int:
    """Shorten, in place, tool results before the latest step's, and leave their images out; return how many."""
    latest = len(messages)
    while latest > 0 and messages[latest - 1].role == "tool":
        latest -= 1  # the results the model has not seen yet stay whole
    limit = min(max(window * CHARS_PER_TOKEN // 20, 400), 4000)  # 5% of the window, 400..4000 characters
    count = 0
    for index, message in enumerate(messages[:latest]):
        if message.role == "tool" and (len(message.content) > limit or message.images):
            gone = f"\n[{len(message.images)} image(s) left out to save context]" if message.images else ""
            messages[index] = replace(message, content=shorten(message.content, limit) + gone, images=[])
            count += 1
    return count


def transcript(messages: Sequence[Message], budget: int) -> str:
    """The messages as text for the summariser, each bounded, the whole at most `budget` characters."""
    parts = []
    for message in messages:
        who = {"system": "System", "user": "User", "assistant": "Assistant"}.get(message.role, "Tool result")
        if message.role == "tool":
            who = f"Tool result ({message.name or 'tool'})"
        calls = "".join(f"\n[calls {c.name} {shorten(json.dumps(c.arguments), 300)}]" for c in message.tool_calls)
        parts.append(f"{who}: {shorten(message.content, 3000)}{calls}")
    return shorten("\n\n".join(parts), max(budget, 1000))


def _share(tokens: int, window: int) -> str:
    return f"{tokens:,} tokens ({tokens / window:.0%})"
