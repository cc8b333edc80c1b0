"""Terminal text for a reply's pieces (chat/blocks.py): rich's Markdown for text blocks, Pygments colours
for code, line by line. rich and Pygments are imported when the first reply is drawn, never at start-up.

    renderer = MarkdownRenderer(width=100)
    sys.stdout.write(renderer.piece(piece))        # finished: printed once
    live = renderer.live(splitter.pending, splitter.in_code)   # the unfinished rest, redrawn

A code line is coloured from the lines before it in its block (up to `CONTEXT` of them), never from
what comes after, so a printed line never changes and the colours do not depend on how the reply
was cut into chunks.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

from gptme_trio.chat.blocks import Piece

if TYPE_CHECKING:
    from rich.console import Console
    from rich.syntax import SyntaxTheme

CONTEXT = 40  # lines before a code line that its colours are worked out from
_SGR = re.compile(r"\x1b\[[0-9;]*m")
CODE_THEME = "ansi_dark"  # the terminal's own 16 colours: readable on dark and light backgrounds


class MarkdownRenderer:
    def __init__(self, width: int) -> None:
        from rich.console import Console
        from rich.syntax import Syntax

        self.width = max(width, 20)
        self._console: Console = Console(
            file=io.StringIO(),
            force_terminal=True,
            width=self.width - 1,  # never the last column: no pending wrap to count rows around
            highlight=False,
            markup=False,
            emoji=False,
            legacy_windows=False,
        )
        self._theme: SyntaxTheme = Syntax.get_theme(CODE_THEME)
        self._lexer: Any = None  # a Pygments lexer (Pygments ships no type hints)
        self._code: list[str] = []
        self._started = False  # a block was printed in this reply: the next one gets a blank line first

    def piece(self, piece: Piece) -> str:
        """A finished piece as terminal text, ending with a newline."""
        if piece.kind == "code":
            self._code.append(piece.text)
            return self._code_line()
        if piece.kind == "end":
            self._lexer, self._code = None, []
            return self._styled("```", "dim")
        gap = "\n" if self._started else ""
        self._started = True
        if piece.kind == "fence":
            self._lexer = _lexer(piece.text)
            return gap + self._styled("```" + piece.text, "dim")
        return gap + self._markdown(piece.text)

    def live(self, pending: str, in_code: bool) -> str:
        """The unfinished part as it would look now ("" when there is none); ends with a newline."""
        if not pending:
            return ""
        if in_code:  # one line: cropped, never wrapped (it is redrawn in place)
            return self._styled(pending if len(pending) < self.width else pending[: self.width - 2] + "…", "")
        shown = self._markdown(pending)
        return ("\n" if self._started and shown else "") + shown

    def _markdown(self, text: str) -> str:
        from rich.markdown import Markdown

        with self._console.capture() as captured:
            self._console.print(Markdown(text, code_theme=CODE_THEME, hyperlinks=False))
        lines = [line.rstrip(" ") for line in captured.get().split("\n")]
        while lines and _blank(lines[-1]):
            lines.pop()
        while lines and _blank(lines[0]):
            lines.pop(0)
        return "".join(line + "\n" for line in lines)

    def _styled(self, text: str, style: str) -> str:
        from rich.text import Text

        with self._console.capture() as captured:
            self._console.print(Text(text, style=style), soft_wrap=True)
        return captured.get()

    def _code_line(self) -> str:
        from rich.text import Text

        if self._lexer is None:
            return self._styled(self._code[-1], "")
        window = self._code[-CONTEXT:]
        start = sum(len(line) + 1 for line in window[:-1])  # where the last line begins
        text = Text()
        for offset, kind, value in self._lexer.get_tokens_unprocessed("\n".join(window)):
            end = offset + len(value)
            if end <= start:
                continue
            text.append(value[max(start - offset, 0) :].rstrip("\n"), self._theme.get_style_for_token(kind))
        with self._console.capture() as captured:
            self._console.print(text, soft_wrap=True)  # a long line wraps; it is never redrawn
        return captured.get()


def _blank(line: str) -> bool:
    return not _SGR.sub("", line).strip()


def _lexer(info: str) -> Any:
    """The Pygments lexer a fence's info string names ("python", "js title=x"), or None."""
    from rich.syntax import Syntax

    words = info.split()
    return Syntax("", words[0]).lexer if words else None
