"""The bottom of the terminal during a turn: the live (unfinished) block of a reply on stdout, and one
status line on stderr (the spinner: what we wait for, for how long, until when).

Everything a turn prints goes through `Screen.write`: the status line is erased first and the live
block too, the text is written, then both are drawn again below it. So nothing lands inside them,
and a redraw only ever moves the cursor over rows it drew itself. The live block is redrawn only
while it fits on the screen; taller, it is held as last drawn until it is finished (no row that
scrolled away is ever redrawn, so no line shows twice). The status line is drawn only on a TTY
stderr, with the cursor at the start of a line.

    spinner = Spinner(screen)     # its run() is a Trio task for the turn (Display.turn); erased on the way out
        spinner.wait("model", "waiting for openai/gpt-4o", seconds=120)
        ...
        spinner.done("model")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TextIO

import trio

ERASE_LINE = "\r\x1b[K"
FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
REDRAW = 0.1  # s between status redraws: at most ~10 a second


class Screen:
    def __init__(self, out: TextIO, err: TextIO, *, out_tty: bool, err_tty: bool, width: int, height: int) -> None:
        self._out, self._err = out, err
        self._out_tty, self._err_tty = out_tty, err_tty
        self.width, self.height = width, height
        self._live = ""  # the live block as drawn (ends with a newline), on stdout
        self._live_rows = 0
        self._status = ""  # the status line as drawn, on stderr
        self._line_start = True  # the terminal's cursor is at the start of a line
        self.paused = False  # a prompt is up: no status line

    @property
    def has_status(self) -> bool:
        """Whether a status line can show (stderr is a terminal)."""
        return self._err_tty

    def write(self, text: str, *, err: bool = False, live: str | None = None) -> None:
        """Print `text` (stdout, or stderr) above the live block; `live`: the block's new content.
        What goes to stdout (erasing, the text, the new block) is one write: nothing flickers."""
        status = self._status
        self._erase_status()
        new_live = self._live if live is None else live
        rows = new_live.count("\n")
        out: list[str] = []
        if text or new_live != self._live:
            if self._live_rows and (text or rows + 1 < self.height):
                out.append(f"\x1b[{self._live_rows}A\r\x1b[J")  # ours to redraw: it all fits on screen
                self._live_rows, self._live = 0, ""
            if text and err:
                self._emit("".join(out), False)
                self._emit(text, True)
                out = []
            elif text:
                out.append(text)
            if not self._live and new_live and rows + 1 < self.height:
                out.append(new_live)
                self._live, self._live_rows = new_live, rows
        self._emit("".join(out), False)
        if status:
            self.status(status)

    def commit(self) -> None:
        """The live block stays on screen as it is (the reply ended, or was cut off): no longer ours."""
        self._erase_status()
        self._live, self._live_rows = "", 0

    def status(self, line: str | None) -> None:
        """Show `line` as the status (None: erase it); only on a TTY stderr, at the start of a line."""
        if not line or not self._err_tty or self.paused or not self._line_start:
            self._erase_status()
            return
        line = line if len(line) < self.width else line[: self.width - 2] + "…"
        if line != self._status:
            self._err.write(("\r" if self._status else "") + line + "\x1b[K")
            self._err.flush()
            self._status = line

    def _erase_status(self) -> None:
        if self._status:
            self._err.write(ERASE_LINE)
            self._err.flush()
            self._status = ""

    def _emit(self, text: str, err: bool) -> None:
        if not text:
            return
        stream = self._err if err else self._out
        stream.write(text)
        stream.flush()
        if self._err_tty if err else self._out_tty:
            self._line_start = text.endswith("\n")


@dataclass
class _Wait:
    label: str
    started: float
    seconds: float | None  # the deadline, from `started`
    retry: str = ""  # why the next attempt waits
    retry_at: float = 0.0  # when it starts
    note: str = ""  # which attempt this is


class Spinner:
    """What the turn waits for, drawn as one status line: `label · elapsed / deadline`."""

    def __init__(self, screen: Screen) -> None:
        self._screen = screen
        self._waits: dict[object, _Wait] = {}
        self._woken = trio.Event()

    def wait(self, key: object, label: str, seconds: float | None, *, restart: bool = True) -> None:
        """Start (or, with `restart`, start over) waiting for `key`: `label`, `seconds` before the deadline."""
        current = self._waits.get(key)
        if current is None or restart:
            self._waits[key] = _Wait(label, trio.current_time(), seconds)
        else:
            current.label, current.seconds = label, seconds
        self._woken.set()

    def retry(self, key: object, reason: str, wait: float, note: str) -> None:
        """`key`'s wait goes on after a failure: `reason`, a countdown of `wait` s, then `note` (the attempt)."""
        current = self._waits.get(key)
        if current is not None:
            current.retry, current.retry_at, current.note = reason, trio.current_time() + wait, note
            self._woken.set()

    def waiting(self, key: object) -> bool:
        return key in self._waits

    def done(self, key: object) -> None:
        if self._waits.pop(key, None) is not None and not self._waits:
            self._screen.status(None)

    def line(self) -> str | None:
        """The status line now (None: nothing to wait for)."""
        if not self._waits:
            return None
        now = trio.current_time()
        wait = next(iter(self._waits.values()))
        elapsed = now - wait.started
        frame = FRAMES[int(now / REDRAW) % len(FRAMES)]
        more = f" (+{len(self._waits) - 1} more)" if len(self._waits) > 1 else ""
        note = f" · {wait.note}" if wait.note else ""
        if wait.retry and now < wait.retry_at:
            return f"{frame} {wait.retry}, retrying in {math.ceil(wait.retry_at - now)} s{note}{more}"
        limit = f" / {wait.seconds:g} s" if wait.seconds is not None else ""
        return f"{frame} {wait.label} · {elapsed:.1f} s{limit}{note}{more}"

    async def run(self) -> None:
        """Redraw while something is waited for; sleep on an event otherwise. Erases its line on exit."""
        try:
            while True:
                line = self.line()
                if line is None:
                    self._woken = trio.Event()
                    await self._woken.wait()
                    continue
                self._screen.status(line)
                await trio.sleep(REDRAW)
        finally:
            self._screen.status(None)
