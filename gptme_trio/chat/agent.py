"""The agent's turn loop: model stream -> tool calls in a nursery -> results -> again.

No terminal I/O here: the caller passes a `TurnUI` (callbacks) and owns the turn's
cancel scope. Ctrl-C cancels that scope; the partial reply or the unfinished tool
calls are recorded as interrupted before the cancellation goes on up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import FetchError, ProviderError, StreamBroken, ToolError, timed_out
from gptme_trio.llm import Event, Message, Provider, Reply, TextDelta, ToolCall, ToolSpec
from gptme_trio.tools import Tool

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
    def notice(self, text: str) -> None: ...

    async def confirm(self, call: ToolCall) -> bool:
        """Whether the user lets `call` run. Asked only about calls that passed their tool's `check`.
        To abandon the whole turn instead (Ctrl-C), cancel the turn's scope."""
        ...


@dataclass
class Agent:
    provider: Provider
    tools: dict[str, Tool]
    settings: ChatSettings

    async def turn(self, conversation: Conversation, user_text: str, ui: TurnUI) -> str:
        """Run one user turn to the model's final answer; return that answer's text."""
        conversation.append(Message("user", user_text))
        for _ in range(self.settings.max_steps):
            reply = await self._reply(conversation, ui)
            if not reply.tool_calls:
                return reply.text
            await self._run_tools(conversation, reply.tool_calls, ui)
        ui.notice(f"stopped after {self.settings.max_steps} steps (--max-steps)")
        return ""

    async def _reply(self, conversation: Conversation, ui: TurnUI) -> Reply:
        parts: list[str] = []
        specs = [ToolSpec(t.name, t.description, t.parameters) for t in self.tools.values()]
        stall = self.settings.llm_timeout

        def on_event(event: Event) -> None:
            scope.deadline = trio.current_time() + stall  # progress: the stream is alive
            if isinstance(event, TextDelta):
                parts.append(event.text)
                ui.on_text(event.text)

        reply = None
        try:
            with trio.CancelScope(deadline=trio.current_time() + stall) as scope:
                reply = await self.provider.complete(conversation.messages, specs, on_event)
        except StreamBroken as exc:
            self._keep_partial(conversation, "".join(parts), f"stream broke: {exc}")
            raise
        except trio.Cancelled:
            self._keep_partial(conversation, "".join(parts), INTERRUPTED)
            raise
        if reply is None:
            self._keep_partial(conversation, "".join(parts), f"no data for {stall:g} s")
            raise ProviderError(f"the model sent nothing for {stall:g} s (--llm-timeout)")
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

        async def run(index: int, call: ToolCall) -> None:
            ui.on_tool_start(call)
            started = time.perf_counter()
            verdict = verdicts[index]
            text, ok = await self.call_tool(call) if verdict is None else (verdict, False)
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
            for call, result in zip(calls, results, strict=True):
                text, ok, ms = result or (INTERRUPTED, False, None)
                meta: dict[str, Any] = {"tool_ms": ms, "ok": ok}
                conversation.append(Message("tool", text, call_id=call.id, name=call.name), meta)

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
        except (ToolError, FetchError) as exc:
            return f"error: {exc}"
        return None if await ui.confirm(call) else DECLINED

    async def call_tool(self, call: ToolCall) -> tuple[str, bool]:
        """Run one tool call under its deadline: (the text the model reads, whether it succeeded)."""
        tool = self.tools.get(call.name)
        if tool is None:
            return f"error: no tool named {call.name!r}; available: {', '.join(self.tools)}", False
        seconds, starts = self.settings.tool_timeout, tool.starts or (lambda: 0)
        try:
            if tool.prepare is not None:
                with trio.move_on_after(PREPARE_SECONDS) as scope:
                    await tool.prepare()
                if scope.cancelled_caught:
                    return f"error: {call.name} could not get ready within {PREPARE_SECONDS} s", False
            before = starts()
            with trio.move_on_after(seconds):
                return await tool.run(**tool.check_arguments(call.arguments)), True
        except (ToolError, FetchError) as exc:
            return f"error: {exc}", False
        return f"error: {timed_out(seconds, restarted=starts() != before)}", False
