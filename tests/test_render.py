"""The reply renderer's parts in process: the block splitter (any chunking gives the same pieces and the
same terminal text), the screen's live block and status line, the spinner, and retries reported."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from gptme_trio.chat.blocks import BlockSplitter, Piece
from gptme_trio.chat.display import Display, banner, main_argument, wants_color
from gptme_trio.chat.render import MarkdownRenderer
from gptme_trio.chat.screen import Screen, Spinner
from gptme_trio.core.errors import ProviderHTTPError
from gptme_trio.llm import Retrying, ToolCall
from gptme_trio.llm.retry import Retryable, RetryPolicy, with_retries

REPLY = """Some **bold** text
on two lines.

```python
def add(a, b):
    '''Sum.

    Two lines of docstring.'''
    return a + b
```

| name | value |
|------|-------|
| a    | 1     |

~~~
tilde fence with ``` inside
~~~
- a list
  - nested
1. one

    ```js
    indented();
    ```
trailing line without a newline"""

# Markdown-ish text: the characters that matter to the splitter, often
MARKDOWN = st.lists(st.sampled_from([*"ab `~|-#*\n\t", "```", "~~~", "```py\n", "\n\n"]), max_size=80).map("".join)


def pieces(chunks: list[str]) -> list[Piece]:
    splitter = BlockSplitter()
    found = [piece for chunk in chunks for piece in splitter.feed(chunk)]
    return found + splitter.close()


def cut(text: str, points: list[int]) -> list[str]:
    points = sorted({p % (len(text) + 1) for p in points})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


def rendered(chunks: list[str]) -> str:
    renderer = MarkdownRenderer(80)
    return "".join(renderer.piece(piece) for piece in pieces(chunks))


@given(st.one_of(MARKDOWN, st.just(REPLY)), st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
@settings(max_examples=300, deadline=None)
def test_any_split_gives_the_same_pieces(text, points):
    assert pieces(cut(text, points)) == pieces([text])


@given(st.lists(st.integers(min_value=0, max_value=len(REPLY)), max_size=40))
@settings(max_examples=40, deadline=None)
def test_any_split_renders_the_same_as_the_whole(points):
    assert rendered(cut(REPLY, points)) == rendered([REPLY])


def test_blocks_end_at_blank_lines_and_fences_and_code_comes_line_by_line():
    got = pieces([REPLY])
    assert got[0] == Piece("text", "Some **bold** text\non two lines.")
    assert got[1] == Piece("fence", "python")
    assert [p.text for p in got[2:7]] == [
        "def add(a, b):",
        "    '''Sum.",
        "",
        "    Two lines of docstring.'''",
        "    return a + b",
    ]
    assert got[7] == Piece("end")
    assert got[8] == Piece("text", "| name | value |\n|------|-------|\n| a    | 1     |")
    assert got[9:12] == [Piece("fence"), Piece("code", "tilde fence with ``` inside"), Piece("end")]
    assert got[12] == Piece("text", "- a list\n  - nested\n1. one")
    assert got[13:16] == [Piece("fence", "js"), Piece("code", "indented();"), Piece("end")]  # its indent removed
    assert got[16:] == [Piece("text", "trailing line without a newline")]


def test_pending_is_the_unfinished_block_and_an_unclosed_fence_ends_with_the_reply():
    splitter = BlockSplitter()
    assert splitter.feed("para one\nstill") == []
    assert splitter.pending == "para one\nstill"
    assert splitter.feed(" one\n\n```sh\nls -l") == [Piece("text", "para one\nstill one"), Piece("fence", "sh")]
    assert splitter.in_code and splitter.pending == "ls -l"
    assert splitter.close() == [Piece("code", "ls -l"), Piece("end")]


def test_rendering_colours_code_and_draws_tables():
    text = rendered([REPLY])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "\x1b[" in text and "def" in plain and "|------|" not in plain  # the table is drawn, not shown raw
    assert re.search(r"\x1b\[[0-9;]*m(def|return)\x1b\[0m", text)  # keywords in colour
    assert "bold" in plain and "**bold**" not in plain
    assert "    return a + b" in plain  # code keeps its indentation


def test_a_printed_code_line_never_changes():
    renderer = MarkdownRenderer(80)
    early = "".join(renderer.piece(p) for p in BlockSplitter().feed('```python\nx = """open\n'))
    whole = rendered(['```python\nx = """open\nstill in the string\n"""\n```\n'])
    assert whole.startswith(early) and early.count("\n") == 2


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(height: int = 10) -> tuple[Screen, FakeTTY, FakeTTY]:
    out, err = FakeTTY(), FakeTTY()
    return Screen(out, err, out_tty=True, err_tty=True, width=40, height=height), out, err


def test_the_live_block_is_redrawn_only_over_its_own_rows_and_held_when_taller_than_the_screen():
    s, out, _ = screen(height=6)
    s.write("", live="a\nb\n")
    s.write("", live="a\nb\nc\n")
    assert out.getvalue() == "a\nb\n\x1b[2A\r\x1b[Ja\nb\nc\n"
    s.write("", live="".join(f"{i}\n" for i in range(9)))  # taller than the screen: held as drawn
    assert out.getvalue().endswith("a\nb\nc\n")
    s.write("done\n", live="")  # finished: the held rows are replaced by the final text
    assert out.getvalue().endswith("\x1b[3A\r\x1b[Jdone\n")
    ups = [int(n) for n in re.findall(r"\x1b\[(\d+)A", out.getvalue())]
    assert max(ups) < 6


def test_the_status_line_is_erased_before_any_output_and_never_drawn_mid_line():
    s, out, err = screen()
    s.status("waiting · 1.0 s / 30 s")
    s.write("text\n", err=True)
    assert err.getvalue() == "waiting · 1.0 s / 30 s\x1b[K\r\x1b[Ktext\nwaiting · 1.0 s / 30 s\x1b[K"
    s.write("no newline", err=True)
    s.status("again")
    assert not err.getvalue().endswith("again\x1b[K")  # the cursor is mid-line: no status there
    plain = Screen(FakeTTY(), io.StringIO(), out_tty=True, err_tty=False, width=40, height=10)
    plain.status("never")  # stderr is no terminal: no status line at all
    assert not plain.has_status


async def test_the_spinner_shows_elapsed_deadline_and_retries(autojump_clock):
    s, _, err = screen()
    spinner = Spinner(s)
    spinner.wait("tool", "read_url example.com", 30)
    await trio.sleep(3.2)
    assert re.fullmatch(r". read_url example\.com · 3\.2 s / 30 s", spinner.line() or "")
    spinner.retry("tool", "rate limited (429)", 4, "attempt 2/5")
    await trio.sleep(0.5)
    assert re.fullmatch(r". rate limited \(429\), retrying in 4 s · attempt 2/5", spinner.line() or "")
    spinner.done("tool")
    assert spinner.line() is None


async def test_retries_are_reported_through_the_hook():
    seen: list[Retrying] = []
    tries = 0

    async def attempt() -> str:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise Retryable(ProviderHTTPError("slow down", status=429 if tries == 1 else 503), after=0.01)
        return "ok"

    assert await with_retries(attempt, RetryPolicy(delays=(0.01, 0.01, 0.01)), seen.append) == "ok"
    assert seen == [Retrying("rate limited (429)", 0.01, 2, 4), Retrying("server error (503)", 0.01, 3, 4)]


async def test_a_plain_display_prints_the_text_as_it_arrives():
    out, err = FakeTTY(), io.StringIO()
    display = Display(color=False, out=out, err=err)
    call = ToolCall("c1", "read_url", {"url": "https://example.com/a"})
    async with display.turn("local/m"):
        display.model_wait(120)
        display.text("**hi** ")
        display.text("there")
        display.model_wait(None)
        display.tool_start(call, 30)
        display.tool_end(call, "page text", True, 1.0)
    assert out.getvalue() == "**hi** there"
    assert err.getvalue() == "\n-> read_url(https://example.com/a)\n   [1] read_url: ok\n"
    assert display.show("1").endswith("\npage text") and "usage" in display.show("2")


async def test_a_rendered_display_shows_a_tool_as_one_line_and_a_preview():
    out, err = FakeTTY(), FakeTTY()
    display = Display(color=True, out=out, err=err)
    call = ToolCall("c1", "read_url", {"url": "https://example.com/a"})
    async with display.turn("local/m"):
        display.tool_start(call, 30)
        display.tool_end(call, "\n".join(f"line {i}" for i in range(10)), True, 1.25)
    shown = re.sub(r"\x1b\[[0-9;]*[mK]|\r", "", err.getvalue())
    assert "✓ [1] read_url example.com/a · 1.2 s · 10 lines, 69 chars\n  │ line 0\n  │ line 1\n  │ line 2\n" in shown
    assert "… 10 lines, 69 chars · /show 1" in shown


async def test_a_failed_call_is_one_line_marked_error_and_show_has_its_message():
    out, err = FakeTTY(), FakeTTY()
    display = Display(color=True, out=out, err=err)
    call = ToolCall("c1", "read_file", {"path": "missing.txt"})
    async with display.turn("local/m"):
        display.tool_start(call, None)
        display.tool_end(call, "missing.txt: no such file", False, 0.01)
    assert "\x1b[31m✗\x1b[0m" in err.getvalue() and "\x1b[31merror\x1b[0m" in err.getvalue()  # in red
    shown = re.sub(r"\x1b\[[0-9;]*[mK]|\r", "", err.getvalue())
    assert "✗ [1] read_file missing.txt · 0.0 s · error\n  │ missing.txt: no such file\n" in shown
    assert display.show("1").endswith("\nmissing.txt: no such file")


@pytest.mark.parametrize(
    ("env", "flag", "want"),
    [({}, False, True), ({"NO_COLOR": "1"}, False, False), ({}, True, False), ({"TERM": "dumb"}, False, False)],
)
def test_colour_is_wanted_unless_told_otherwise(env, flag, want):
    assert wants_color(env, no_color=flag) is want


def test_the_banner_and_the_main_argument():
    line = banner("local/qwen2.5", ["read_url", "search", "shell"], "notes", Path("/h/notes/conversation.jsonl"))
    assert line == (
        "gptme-trio: qwen2.5 via local · 3 tools (read_url, search, shell) · conversation notes, "
        "saved in /h/notes/conversation.jsonl · /help for commands"
    )
    assert banner("openrouter/meta-llama/llama-3-8b", [], "n", Path("p")).startswith(
        "gptme-trio: meta-llama/llama-3-8b via openrouter · no tools"
    )
    assert banner(None, ["x"], "n", Path("p")).startswith("gptme-trio: no model · 1 tools (x)")
    assert " · 1 tools (x) · MCP servers gh, web starting · conversation n" in banner(
        None, ["x"], "n", Path("p"), ["gh", "web"]
    )
    assert " · MCP server gh starting · " in banner(None, ["x"], "n", Path("p"), ["gh"])
    assert main_argument(ToolCall("1", "shell", {"command": "ls\n  -l", "timeout": 5})) == "ls ⏎ -l"
    assert main_argument(ToolCall("1", "read_url", {"url": "https://x.org/" + "p" * 100})).endswith("…")
