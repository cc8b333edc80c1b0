"""The agent's turn loop: model stream -> tool calls in a nursery -> results -> again.

No terminal I/O here: the caller passes a `TurnUI` (callbacks) and owns the turn's
cancel scope. Ctrl-C cancels that scope; the partial reply or the unfinished tool
calls are recorded as interrupted before the cancellation goes on up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import trio

from gptme_trio.chat.context import SUMMARY_PROMPT, ContextKeeper, raw_tokens
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import ContextTooLong, FetchError, ProviderError, StreamBroken, ToolError, timed_out
from gptme_trio.llm import Event, Message, Provider, Reply, Retrying, TextDelta, ToolCall, ToolSpec
from gptme_trio.llm.models import model_info
from gptme_trio.tools import Report, Tool

INTERRUPTED = "interrupted by user"
DECLINED = "the user declined this tool call"
PREPARE_SECONDS = 60  # starting the browser, outside each call's own deadline


@dataclass(frozen=True)
class ChatSettings:
    max_steps: int = 20
    tool_timeout: float = 30.0  # seconds per tool call
    llm_timeout: float = 120.0  # seconds the model may send nothing
    confirm_tools: bool = True


class TurnUI(Protocol):
    def on_text(self, text: str) -> None: ...
    def on_tool_start(self, call: ToolCall) -> None: ...
    def on_tool_end(self, call: ToolCall, result: str, ok: bool) -> None: ...
    def on_tool_output(self, call: ToolCall, text: str) -> None: ...
    def notice(self, text: str) -> None: ...
    def on_model_wait(self, seconds: float | None) -> None:
        """The model was asked and gives up after `seconds` without data; called again when data that
        is not text arrives (a tool call being written: the deadline starts over). None: the reply is
        complete, or given up."""
        ...

    def on_retry(self, retry: Retrying) -> None:
        """The request failed in a way worth another try: why, the wait, which attempt comes next."""
        ...

    async def confirm(self, call: ToolCall, preview: str) -> bool:
        """Whether the user lets `call` run; `preview` (a command, a diff) is shown first when not empty.
        Asked only about calls that passed their tool's `check`. To abandon the whole turn instead
        (Ctrl-C), cancel the turn's scope."""
        ...


@dataclass
class Agent:
    provider: Provider
    tools: dict[str, Tool]
    settings: ChatSettings
    off: Mapping[str, str] = field(default_factory=dict)  # tools not in this chat -> why, for the model
    context: ContextKeeper | None = None  # counts tokens and compacts; None: neither

    async def turn(self, conversation: Conversation, user_text: str, ui: TurnUI) -> str:
        """Run one user turn to the model's final answer; return that answer's text."""
        conversation.append(Message("user", user_text))
        for _ in range(self.settings.max_steps):
            reply = await self._fitting_reply(conversation, ui)
            if not reply.tool_calls:
                return reply.text
            await self._run_tools(conversation, reply.tool_calls, ui)
        ui.notice(f"stopped after {self.settings.max_steps} steps (--max-steps)")
        return ""

    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(t.name, t.description, t.parameters) for t in self.tools.values()]

    async def _fitting_reply(self, conversation: Conversation, ui: TurnUI) -> Reply:
        """The next reply, the conversation compacted first when it nears the window; a context-length
        error from the provider compacts once and retries once, never more."""
        if self.context is None:
            return await self._reply(conversation, ui)
        try:
            await self.context.fit(conversation, self.provider, self.specs(), self.summarise, ui.notice)
        except ProviderError as exc:  # the summary failed: go on; the provider says if it is too long
            ui.notice(f"context: could not summarise the earlier turns ({exc})")
        try:
            return await self._reply(conversation, ui)
        except ContextTooLong as exc:
            why = f"{self.provider.name} said the conversation is too long for {self.provider.model}"
            keeper = self.context
            specs = self.specs()
            keeper.learn(self.provider, exc.limit or int(keeper.estimate(conversation.messages, specs) * 0.9))
            done = await keeper.compact(conversation, self.provider, specs, self.summarise, everything=True)
            if done.changed:  # else the error below says it all
                ui.notice(keeper.describe(done, self.provider, why))
            else:
                hint = "nothing left to compact: /undo, or a model with a larger window"
                raise ContextTooLong(f"{exc} ({hint})", status=exc.status) from exc
        try:
            return await self._reply(conversation, ui)
        except ContextTooLong as exc:
            hint = "still too long after compacting: /undo, or a model with a larger window"
            raise ContextTooLong(f"{exc} ({hint})", status=exc.status) from exc

    async def summarise(self, text: str) -> str:
        """The model's summary of a transcript (for compaction), under the same stall deadline as a reply."""
        messages = [Message("system", SUMMARY_PROMPT), Message("user", text)]
        stall = self.settings.llm_timeout

        def on_event(event: Event) -> None:
            if not isinstance(event, Retrying):  # a retry's wait spends the same budget
                scope.deadline = trio.current_time() + stall

        with trio.CancelScope(deadline=trio.current_time() + stall) as scope:
            reply = await self.provider.complete(messages, [], on_event)
            if self.context is not None:
                self.context.record(self.provider, reply.usage, raw_tokens(messages))
            return reply.text
        raise ProviderError(f"the model sent nothing for {stall:g} s while summarising (--llm-timeout)")

    def _visible(self, messages: list[Message]) -> list[Message]:
        """`messages` as this model can take them: images only for a model that sees (else a note)."""
        provider = self.provider
        info = self.context.info(provider) if self.context else model_info(provider.name, provider.model)
        if info.vision or not any(m.images for m in messages):
            return messages
        note = f"[{{}} image(s) not shown: {provider.name}/{provider.model} does not take images]"
        return [
            replace(m, content=f"{m.content}\n{note.format(len(m.images))}", images=[]) if m.images else m
            for m in messages
        ]

    async def _reply(self, conversation: Conversation, ui: TurnUI) -> Reply:
        parts: list[str] = []
        specs = self.specs()
        sent = raw_tokens(conversation.messages, specs)
        stall = self.settings.llm_timeout

        def on_event(event: Event) -> None:
            if isinstance(event, Retrying):  # nothing arrived: the deadline stays, the user is told
                ui.on_retry(event)
                return
            scope.deadline = trio.current_time() + stall  # progress: the stream is alive
            if isinstance(event, TextDelta):
                parts.append(event.text)
                ui.on_text(event.text)
            else:
                ui.on_model_wait(stall)

        reply = None
        ui.on_model_wait(stall)
        try:
            with trio.CancelScope(deadline=trio.current_time() + stall) as scope:
                reply = await self.provider.complete(self._visible(conversation.messages), specs, on_event)
        except StreamBroken as exc:
            self._keep_partial(conversation, "".join(parts), f"stream broke: {exc}")
            raise
        except trio.Cancelled:
            self._keep_partial(conversation, "".join(parts), INTERRUPTED)
            raise
        finally:
            ui.on_model_wait(None)
        if reply is None:
            self._keep_partial(conversation, "".join(parts), f"no data for {stall:g} s")
            raise ProviderError(f"the model sent nothing for {stall:g} s (--llm-timeout)")
        if self.context is not None:
            self.context.record(self.provider, reply.usage, sent)
        conversation.append(
            Message("assistant", reply.text, reply.tool_calls),
            {
                "model": f"{self.provider.name}/{self.provider.model}",
                "usage": {"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens},
                "ttft_ms": reply.ttft_ms,
                "generation_ms": reply.generation_ms,
                "stop_reason": reply.stop_reason,
            },
        )
        return reply

    def _keep_partial(self, conversation: Conversation, text: str, why: str) -> None:
        if text:
            conversation.append(Message("assistant", text), {"interrupted": why})

    async def _run_tools(self, conversation: Conversation, calls: list[ToolCall], ui: TurnUI) -> None:
        """Run the calls concurrently, each under its deadline; record results in call order."""
        results: list[tuple[str, bool, int] | None] = [None] * len(calls)
        verdicts: list[str | None] = []
        reports = [_report_to(ui, call) for call in calls]

        async def run(index: int, call: ToolCall) -> None:
            ui.on_tool_start(call)
            started = time.perf_counter()
            verdict = verdicts[index]
            text, ok = await self.call_tool(call, reports[index]) if verdict is None else (verdict, False)
            results[index] = (text, ok, round((time.perf_counter() - started) * 1000))
            ui.on_tool_end(call, text, ok)

        def sequential(call: ToolCall) -> bool:
            return call.name in self.tools and self.tools[call.name].sequential

        async def run_in_order(indices: list[int]) -> None:
            for index in indices:
                await run(index, calls[index])

        try:
            for call in calls:  # one question at a time, all before any call runs
                verdicts.append(await self._vet(call, ui))
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_in_order, [i for i, call in enumerate(calls) if sequential(call)])
                for index, call in enumerate(calls):
                    if not sequential(call):
                        nursery.start_soon(run, index, call)
        finally:  # on Ctrl-C too: every call gets a result, so the log stays a valid exchange
            for call, result, report in zip(calls, results, reports, strict=True):
                partial = report.partial() if report.partial is not None and result is None else INTERRUPTED
                text, ok, ms = result or (partial, False, None)
                meta: dict[str, Any] = {"tool_ms": ms, "ok": ok}
                images = [conversation.keep_image(i) for i in getattr(text, "images", ())]  # tools/ Attached
                tool_message = Message("tool", str(text), call_id=call.id, name=call.name, images=images)
                conversation.append(tool_message, meta)

    async def _vet(self, call: ToolCall, ui: TurnUI) -> str | None:
        """None when `call` may run; else the result the model reads instead. When calls are confirmed,
        a call that would be refused (bad arguments, what its tool's `check` refuses, such as a URL
        the policy forbids) is refused here, before the user is asked: never ask about what cannot run."""
        tool = self.tools.get(call.name)
        if not self.settings.confirm_tools or tool is None:
            return None  # an unknown tool is answered by call_tool; with -y the call checks itself
        seconds = self.settings.tool_timeout
        try:
            arguments = tool.check_arguments(call.arguments)
            if tool.check is not None:
                with trio.move_on_after(seconds) as scope:
                    await tool.check(**arguments)
                if scope.cancelled_caught:
                    return f"error: {timed_out(seconds, restarted=False)}"
            preview = tool.preview(arguments) if tool.preview is not None else ""
        except (ToolError, FetchError) as exc:  # a patch that matches nothing, a refused path or URL
            return f"error: {exc}"
        return None if await ui.confirm(call, preview) else DECLINED

    def tool_seconds(self, call: ToolCall) -> float | None:
        """The deadline `call` runs under, in seconds; None when its tool keeps its own (the shell)."""
        tool = self.tools.get(call.name)
        return None if tool is not None and tool.own_deadline else self.settings.tool_timeout

    async def call_tool(self, call: ToolCall, report: Report | None = None) -> tuple[str, bool]:
        """Run one tool call under its deadline: (the text the model reads, whether it succeeded)."""
        tool = self.tools.get(call.name)
        if tool is None:
            available = f"tools you may use: {', '.join(self.tools) or 'none'}"
            if call.name in self.off:
                return f"error: {call.name} is not available in this chat ({self.off[call.name]}); {available}", False
            return f"error: no tool named {call.name!r}; {available}", False
        seconds, starts = self.settings.tool_timeout, tool.starts or (lambda: 0)
        extra: dict[str, Report] = {"report": report or Report()} if tool.reports else {}
        try:
            if tool.prepare is not None:
                with trio.move_on_after(PREPARE_SECONDS) as scope:
                    await tool.prepare()
                if scope.cancelled_caught:
                    return f"error: {call.name} could not get ready within {PREPARE_SECONDS} s", False
            before = starts()
            arguments = {**tool.check_arguments(call.arguments), **extra}
            if tool.own_deadline:
                return await tool.run(**arguments), True
            with trio.move_on_after(seconds):
                return await tool.run(**arguments), True
        except (ToolError, FetchError) as exc:
            return f"error: {exc}", False
        return f"error: {timed_out(seconds, restarted=starts() != before)}", False


def _report_to(ui: TurnUI, call: ToolCall) -> Report:
    """A call's Report: what it shows goes to the UI, tagged with the call."""
    return Report(lambda text: ui.on_tool_output(call, text))
