"""A streamed reply taller than the terminal (issue 16, item 1: "no flicker and no duplicated lines when
a reply is longer than the screen; render the finished part and keep only the unfinished block live").

Chat runs in a 24-row pseudo-terminal against the scripted LLM server, which streams a 60-row Markdown
reply slowly enough for the live block to be redrawn many times, one of its blocks (a list) taller than
the screen. Everything the terminal receives is played into pyte, a terminal emulator with scrollback:

- the scrollback and the screen after the reply hold every row of the reply exactly once, in order;
- every row written and every row erased while it streams belongs to the unit being streamed (a text
  block, or one line of a code block): once a later unit shows, an earlier one is never erased or
  written again, so a finished block is printed once and only the unfinished one is live.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pyte

from .test_chat_tty import PROMPT, ctrl_d_exits_cleanly, spawn_chat

ROWS, COLUMNS = 24, 80
MARK = re.compile(r"\br(\d\d)\b")


def tall_reply() -> tuple[str, list[list[int]]]:
    """The reply's Markdown and its units, in order: each unit the row numbers (rNN) it shows."""
    parts = ["r01 What follows is taller than the screen."]
    units = [[1]]
    parts.append("\n".join(f"- r{n:02d} list item number {n}" for n in range(2, 30)))  # 28 rows: one block
    units.append(list(range(2, 30)))
    code = "\n".join(f"value_{n} = compute('r{n:02d}', {n})  # line {n}" for n in range(30, 45))
    parts.append(f"```python\n{code}\n```")
    units += [[n] for n in range(30, 45)]  # a code line is finished when its newline comes
    for n in range(45, 51):
        parts.append(f"r{n:02d} a paragraph of its own, with **bold** words in it.")
        units.append([n])
    parts.append("\n".join(f"1. r{n:02d} the last list, item {n}" for n in range(51, 61)))  # finished by the end
    units.append(list(range(51, 61)))
    return "\n\n".join(parts), units


def marks(text: str) -> list[int]:
    return [int(m) for m in MARK.findall(text)]


@dataclass
class Written:
    """What the terminal did with a row that showed part of the reply."""

    what: str  # "printed" (a line feed left it behind the cursor) or "erased"
    rows: list[int]


class Terminal(pyte.HistoryScreen):
    """A terminal with scrollback that notes, once `watching`, each line written and each row erased."""

    def __init__(self) -> None:
        super().__init__(COLUMNS, ROWS, history=10_000)
        self.watching = False
        self.events: list[Written] = []

    def row(self, y: int) -> str:
        line = self.buffer[y]
        return "".join(line[x].data for x in range(self.columns)).rstrip()

    def linefeed(self) -> None:
        if self.watching and (found := marks(self.row(self.cursor.y))):
            self.events.append(Written("printed", found))
        super().linefeed()

    def erase_in_display(self, how: int = 0, *args: object, **kwargs: object) -> None:
        if self.watching:
            rows = range(self.cursor.y, self.lines) if how == 0 else range(self.lines)
            found = [n for y in rows for n in marks(self.row(y))]
            if found:
                self.events.append(Written("erased", found))
        super().erase_in_display(how, *args, **kwargs)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        row = self.row(self.cursor.y)
        if self.watching and (found := marks(row[self.cursor.x :] if how == 0 else row)):
            self.events.append(Written("erased", found))
        super().erase_in_line(how, private)

    def transcript(self) -> list[str]:
        old = ["".join(line[x].data for x in range(self.columns)).rstrip() for line in self.history.top]
        return old + [self.row(y) for y in range(self.lines)]


@dataclass
class Played:
    terminal: Terminal
    raw: bytes  # what the terminal received after the question was typed
    units: list[list[int]]


def play_tall_reply(llm, tmp_path, typed: str = "") -> Played:
    """The reply streamed to a chat in a 24-row terminal; `typed`: keys typed while it streams."""
    text, units = tall_reply()
    server = llm([{"text": text, "piece": 5, "pace_ms": 8, "delay_ms": 300}])
    child = spawn_chat(
        "-m",
        "local/test-model",
        GPTME_TRIO_HOME=str(tmp_path / "home"),
        COLUMNS=str(COLUMNS),
        LINES=str(ROWS),
        **server.env("local"),
    )
    child.setwinsize(ROWS, COLUMNS)
    log = io.BytesIO()
    child.logfile_read = log
    child.expect(PROMPT)
    before = len(log.getvalue())  # all that came before the question: the banner and the prompt
    child.sendline("tell me everything")
    if typed:
        child.expect("list item number 5")  # streaming: no prompt is up
        child.send(typed)
    child.expect("the last list, item 60")
    child.expect(PROMPT)
    if typed:
        child.expect(typed)  # the next prompt shows it
    raw = log.getvalue()
    child.sendcontrol("u")  # the typeahead goes (Ctrl-D on it would edit it, not exit)
    ctrl_d_exits_cleanly(child, [])
    terminal = Terminal()
    stream = pyte.ByteStream(terminal)
    stream.feed(raw[:before])
    terminal.watching = True
    stream.feed(raw[before:])
    assert len(server.requests()) == 1
    return Played(terminal, raw[before:], units)


def test_a_reply_taller_than_the_screen_shows_each_line_once_and_redraws_only_its_live_block(llm, tmp_path):
    """Fails when rows that scrolled away are redrawn (duplicated in the scrollback) and when finished
    blocks are erased and printed again (a whole-reply live view, as rich's Live would draw it)."""
    played = play_tall_reply(llm, tmp_path)
    shown = [n for line in played.terminal.transcript() for n in marks(line)]
    assert shown == list(range(1, 61))  # every row once, in order: nothing duplicated, nothing lost
    assert b"\x1b[1m" in played.raw  # rendered (bold words), not plain
    unit_of = {n: i for i, unit in enumerate(played.units) for n in unit}
    events = played.terminal.events
    assert sum(e.what == "erased" for e in events) >= 5  # the live block was redrawn while it streamed
    latest = -1  # the latest unit shown so far
    for number, event in enumerate(events):
        units = {unit_of[n] for n in event.rows}
        assert min(units) >= latest, (number, event, latest)  # an earlier unit is never touched again
        if event.what == "erased":
            assert units == {latest}, (number, event, latest)  # only what is live is erased
        latest = max(latest, *units)
    tall = unit_of[2]  # the 28-row list: drawn live only while it fitted on the 24-row screen
    assert max(len(e.rows) for e in events if e.what == "erased" and unit_of[e.rows[0]] == tall) < ROWS


def test_typeahead_during_a_rendered_reply_leaves_no_stray_characters(llm, tmp_path):
    """Issue 16's test list: typeahead during a stream appears in the next prompt, and the screen shows no stray
    characters (tests/test_chat_input_tty.py checks the same in plain mode)."""
    typed = "zq typed ahead"
    played = play_tall_reply(llm, tmp_path, typed)
    rows = [row for row in played.terminal.transcript() if row.strip()]
    shown = [n for row in rows for n in marks(row)]
    assert shown == list(range(1, 61))  # the reply, whole and once, with nothing typed inside it
    assert [row for row in rows if "zq" in row] == [rows[-1]]  # only the prompt at the bottom has it
    assert rows[-1].endswith(typed) and rows[-1].startswith(">")
