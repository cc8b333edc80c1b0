"""A TurnUI for driving the Agent in process: it records everything the turn shows and asks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import trio

from gptme_trio.llm import Retrying, ToolCall


class RecordingUI:
    """Records events, the reply's text, tool output and every confirmation (the call and its preview);
    answers confirmations from `answers` in order, then with `default`."""

    def __init__(self, answers: list[bool] | None = None, default: bool = True) -> None:
        self.events: list[tuple] = []
        self.text = ""
        self.shown = ""  # tools' streamed output
        self.asked: list[tuple[ToolCall, str]] = []  # (call, preview) of each confirmation
        self.answers, self.default = list(answers or []), default

    def on_text(self, text: str) -> None:
        self.text += text

    def on_tool_start(self, call: ToolCall) -> None:
        self.events.append(("start", call.name, trio.current_time()))

    def on_tool_end(self, call: ToolCall, result: str, ok: bool) -> None:
        self.events.append(("end", call.name, ok))

    def on_tool_output(self, call: ToolCall, text: str) -> None:
        self.shown += text
        self.events.append(("output", call.name, text))

    def notice(self, text: str) -> None:
        self.events.append(("notice", text))

    def on_model_wait(self, seconds: float | None) -> None:
        self.events.append(("wait", seconds))

    def on_retry(self, retry: Retrying) -> None:
        self.events.append(("retry", retry))

    async def confirm(self, call: ToolCall, preview: str = "") -> bool:
        self.events.append(("confirm", call.name))
        self.asked.append((call, preview))
        return self.answers.pop(0) if self.answers else self.default

    @property
    def notices(self) -> list[str]:
        return [event[1] for event in self.events if event[0] == "notice"]

    @property
    def previews(self) -> list[str]:
        return [preview for _, preview in self.asked]


class QuietTerminal:
    """The parts of a Prompter a scripted one does not play: nobody types ahead, no editor opens."""

    @contextlib.asynccontextmanager
    async def watching(self, on_eof: Callable[[], None]) -> AsyncIterator[None]:
        yield

    async def edit(self, text: str) -> str:
        return text
