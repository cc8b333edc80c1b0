"""What an interactive turn shows: the reply, tool calls, notices and the spinner (interactive.py's
TerminalUI calls in here).

Rendered (a TTY stdout, colour wanted): the reply is Markdown, printed block by block as each block
is finished (chat/blocks.py, chat/render.py), the unfinished one redrawn below at most every
`LIVE_EVERY` s; a tool call is one line (`✓ [3] read_url example.com · 1.2 s · 40 lines, 2,345
chars`) and the first lines of its result; `/show 3` prints the whole. Plain (NO_COLOR,
--no-color, stdout not a TTY): the reply's text as it arrives, `-> read_url(https://example.com)`
when a call starts and `   [3] read_url: ok` (or its error) when it ends, numbered as for `/show`.
Either way a TTY stderr gets the status line (chat/screen.py) while the model or a tool is waited
for, and `/show N` works.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

import trio

from gptme_trio.chat.blocks import BlockSplitter
from gptme_trio.chat.render import MarkdownRenderer
from gptme_trio.chat.screen import Screen, Spinner
from gptme_trio.core.runtime import alongside
from gptme_trio.llm import Retrying, ToolCall

LIVE_EVERY = 0.05  # s: the unfinished block is redrawn at most 20 times a second
PREVIEW_LINES = 3
MODEL = "model"  # the spinner's key for the model's wait (tool calls use their ids)
COMMAND = "command"  # and for a slash command's
_DIM, _RED, _GREEN, _YELLOW, _CYAN, _BOLD = "2", "31", "32", "33", "36", "1"
ROLES = {"user": _GREEN, "assistant": _BOLD, "tool": _CYAN, "system": _DIM}  # SGR codes: each role's colour


def wants_color(env: Mapping[str, str], no_color: bool = False) -> bool:
    """Colour unless --no-color, NO_COLOR (any non-empty value, no-color.org) or TERM=dumb."""
    return not no_color and not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def painted(text: str, role: str, color: bool) -> str:
    """`text` in its role's colour (ROLES) when `color`, else as it is."""
    code = ROLES.get(role, "")
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


def banner(
    spec: str | None, tools: list[str], name: str, path: Path, servers: Sequence[str] = (), width: int = 48
) -> str:
    """The one line chat starts with: the model and its provider (from "PROVIDER/MODEL"), the tools on, the
    MCP servers starting (their tools join when they run: /mcp), the conversation and its file."""
    provider, _, name_of_model = (spec or "").partition("/")
    model = f"{name_of_model} via {provider}" if name_of_model else "no model"
    shown: list[str] = []
    for tool in tools:
        if len(", ".join([*shown, tool])) > width:
            break
        shown.append(tool)
    more = f", +{len(tools) - len(shown)} more" if len(shown) < len(tools) else ""
    listed = f"{len(tools)} tools ({', '.join(shown)}{more})" if tools else "no tools"
    if servers:
        listed += f" · MCP server{'s' if len(servers) > 1 else ''} {', '.join(servers)} starting"
    return f"gptme-trio: {model} · {listed} · conversation {name}, saved in {path} · /help for commands"


def describe(call: ToolCall) -> str:
    """`name(arg, ...)`: how a call is named in questions and plain output."""
    return f"{call.name}({', '.join(str(v) for v in call.arguments.values())})"


def main_argument(call: ToolCall, width: int = 60) -> str:
    """The call's first text argument on one line, a URL without its scheme: `example.com/page`."""
    text = next((v for v in call.arguments.values() if isinstance(v, str) and v.strip()), "")
    text = text.split("://", 1)[1] if "://" in text[:12] else text
    text = " ⏎ ".join(line.strip() for line in text.strip().splitlines())
    return text if len(text) <= width else text[: width - 1] + "…"


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def size(text: str) -> str:
    lines = text.count("\n") + 1 if text else 0
    return f"{lines:,} line{'s' * (lines != 1)}, {len(text):,} chars"


class Display:
    """One per chat: how it shows turns, and every tool result so far (`/show N`)."""

    def __init__(self, color: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        out, err = out or sys.stdout, err or sys.stderr
        out_tty, err_tty = _isatty(out), _isatty(err)
        columns, lines = shutil.get_terminal_size()
        self.rendered = color and out_tty
        self.color = self.rendered and err_tty  # tool lines and notices go to stderr
        self.screen = Screen(out, err, out_tty=out_tty, err_tty=err_tty, width=columns, height=lines)
        self.results: list[tuple[ToolCall, str]] = []
        self._spinner: Spinner | None = None
        self._model = ""
        self._asked = False  # the model was asked for this reply
        self._splitter: BlockSplitter | None = None
        self._renderer: MarkdownRenderer | None = None
        self._drawn = -1.0  # when the live block was last drawn
        self._stale = False  # it changed since
        self._wake = trio.Event()  # wakes the task that draws what changed (only it replaces the event)

    @contextlib.asynccontextmanager
    async def turn(self, model: str) -> AsyncIterator[None]:
        """For one turn: the spinner's and the live block's tasks run; all is settled on the way out."""
        self._model = model
        self.screen.width, self.screen.height = shutil.get_terminal_size()  # resized since the last turn?
        self._spinner = spinner = Spinner(self.screen)
        try:
            async with alongside(spinner.run, self._redraw_live):
                yield
        finally:
            self._spinner = None
            self._splitter = None
            self._asked = False
            self.screen.status(None)
            self.screen.commit()  # a reply cut off stays as drawn

    def text(self, text: str) -> None:
        if self._spinner is not None:
            self._spinner.done(MODEL)
        if not self.rendered:
            self.screen.write(text)
            return
        if self._splitter is None or self._renderer is None:
            self._splitter = BlockSplitter()
            self._renderer = MarkdownRenderer(self.screen.width)
        done = "".join(self._renderer.piece(piece) for piece in self._splitter.feed(text))
        if done or trio.current_time() - self._drawn >= LIVE_EVERY:
            self._draw(done)
        else:
            self._stale = True
            self._wake.set()

    def model_wait(self, seconds: float | None) -> None:
        if seconds is None:
            self._end_reply()
            return
        if self._spinner is None or (self._asked and not self._spinner.waiting(MODEL)):
            return  # text is showing: it is the progress
        label = f"{self._model} is answering" if self._asked else f"waiting for {self._model}"
        self._asked = True
        self._spinner.wait(MODEL, label, seconds)  # data that is not text (a tool call): the deadline starts over

    def retry(self, retry: Retrying) -> None:
        note = f"attempt {retry.attempt}/{retry.attempts}"
        if self._spinner is not None and self.screen.has_status:
            self._spinner.retry(MODEL, retry.reason, retry.wait, note)
        else:  # no status line (stderr is not a terminal): a line says it
            self.notice(f"{retry.reason}, retrying in {retry.wait:.3g} s · {note}")

    def tool_start(self, call: ToolCall, seconds: float | None) -> None:
        if not self.rendered:
            self.screen.write(f"\n-> {describe(call)}\n", err=True)
        if self._spinner is not None:
            self._spinner.wait(call.id, f"{call.name} {main_argument(call)}", seconds)

    def tool_end(self, call: ToolCall, result: str, ok: bool, seconds: float) -> None:
        if self._spinner is not None:
            self._spinner.done(call.id)
        self.results.append((call, result))
        number = len(self.results)  # what `/show N` takes
        if not self.rendered:
            self.screen.write(f"   [{number}] {call.name}: {'ok' if ok else result}\n", err=True)
            return
        mark = self._paint("✓", _GREEN) if ok else self._paint("✗", _RED)
        head = f"{call.name} {main_argument(call)}"
        facts = f"{duration(seconds)} · {size(result) if ok else self._paint('error', _RED)}"
        lines = [f"{mark} {self._paint(f'[{number}]', _DIM)} {self._paint(head, _CYAN)} · {facts}"]
        width = self.screen.width - 6
        for line in [line for line in result.splitlines() if line.strip()][:PREVIEW_LINES]:
            lines.append(self._paint("  │ " + (line if len(line) <= width else line[: width - 1] + "…"), _DIM))
        if len(result.splitlines()) > PREVIEW_LINES:
            lines.append(self._paint(f"  … {size(result)} · /show {number}", _DIM))
        self.screen.write("".join(line + "\n" for line in lines), err=True)

    @contextlib.contextmanager
    def waiting(self, label: str, seconds: float | None = None) -> Iterator[None]:
        """Inside `turn`: something slow that is neither the model nor a tool (a slash command doing I/O)
        is waited for: the status line says `label` and the time (and the deadline, `seconds`, if any)."""
        if self._spinner is not None:
            self._spinner.wait(COMMAND, label, seconds)
        try:
            yield
        finally:
            if self._spinner is not None:
                self._spinner.done(COMMAND)

    @contextlib.contextmanager
    def asking(self) -> Iterator[None]:
        """A prompt is up (a confirmation): no status line meanwhile."""
        self.screen.paused = True
        self.screen.status(None)
        try:
            yield
        finally:
            self.screen.paused = False

    def tool_output(self, text: str) -> None:
        self.screen.write(text, err=True)

    def notice(self, text: str) -> None:
        self.screen.write(self._paint(text, _YELLOW) + "\n", err=True)

    def error(self, text: str) -> None:
        self.screen.write("\n" + self._paint(text, _RED) + "\n", err=True)

    def say(self, text: str, err: bool = False) -> None:
        if self._spinner is not None and not err:
            self._spinner.done(COMMAND)  # a command's answer: what it waited for has come
        self.screen.write(text + "\n", err=err)

    def show(self, arg: str) -> str:
        """The text `/show N` prints: result N in full (default: the last)."""
        if not self.results:
            return "no tool results yet in this chat"
        if arg and not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= len(self.results)):
            return f"usage: /show N, N from 1 to {len(self.results)} (default: the last)"
        call, result = self.results[int(arg) - 1 if arg else -1]
        return f"{self._paint(describe(call), _CYAN)}\n{result}"

    def paint(self, text: str, role: str) -> str:
        """`text` in its role's colour (user, assistant, tool, system), when colour is on."""
        return painted(text, role, self.color)

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and code else text

    def _draw(self, done: str = "") -> None:
        self._stale = False
        if self._splitter is None or self._renderer is None:
            return
        self.screen.write(done, live=self._renderer.live(self._splitter.pending, self._splitter.in_code))
        self._drawn = trio.current_time()

    def _end_reply(self) -> None:
        if self._spinner is not None:
            self._spinner.done(MODEL)
        self._asked = False
        if self._splitter is not None and self._renderer is not None:
            done = "".join(self._renderer.piece(piece) for piece in self._splitter.close())
            self.screen.write(done, live="")
            self.screen.commit()
            self._splitter = None

    async def _redraw_live(self) -> None:
        """The last change to the live block is drawn even when no more text comes to trigger it."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            await trio.sleep_until(self._drawn + LIVE_EVERY)
            if self._stale:
                self._draw()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except ValueError:  # closed
        return False
