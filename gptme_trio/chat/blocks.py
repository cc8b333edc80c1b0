"""A streamed Markdown reply cut into finished pieces, whatever the chunks it arrives in.

    splitter = BlockSplitter()
    for chunk in stream:
        for piece in splitter.feed(chunk): show(piece)   # finished: printed once, never redrawn
        live(splitter.pending)                           # the unfinished rest
    for piece in splitter.close(): show(piece)

A text block ends at a blank line outside a code fence, or where a fence opens. A code fence is
given line by line: its opening line, each code line once complete (so a long block streams),
and its end (the closing fence, or the end of the reply). Work is per complete line, so the
pieces depend only on the text: any split into chunks gives the same pieces as the whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "fence", "code", "end"]
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<mark>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Piece:
    """`text`: a finished block (its lines, no trailing newline); `fence`: a code block opens (text:
    its info string, e.g. "python"); `code`: one code line; `end`: the code block ended."""

    kind: Kind
    text: str = ""


class BlockSplitter:
    def __init__(self) -> None:
        self._line = ""  # the unfinished line
        self._block: list[str] = []  # the unfinished text block's complete lines
        self._fence: tuple[str, str] | None = None  # (indent, mark) of the open code block

    @property
    def in_code(self) -> bool:
        return self._fence is not None

    @property
    def pending(self) -> str:
        """What is not finished yet: the open text block (or, in a code block, the unfinished line)."""
        if self._fence is not None:
            return self._line
        return "\n".join([*self._block, self._line]) if self._block else self._line

    def feed(self, chunk: str) -> list[Piece]:
        pieces: list[Piece] = []
        *complete, self._line = (self._line + chunk).split("\n")
        for line in complete:
            self._take(line, pieces)
        return pieces

    def close(self) -> list[Piece]:
        """The reply ended: what is pending is finished (an open code block ends too)."""
        pieces: list[Piece] = []
        if self._line:
            self._take(self._line, pieces)
            self._line = ""
        if self._fence is not None:
            pieces.append(Piece("end"))
            self._fence = None
        self._end_block(pieces)
        return pieces

    def _take(self, line: str, pieces: list[Piece]) -> None:
        if self._fence is not None:
            indent, mark = self._fence
            stripped = line.strip()
            if stripped.startswith(mark) and not stripped.strip(mark[0]):  # a closing fence, as long or longer
                pieces.append(Piece("end"))
                self._fence = None
            else:
                pieces.append(Piece("code", line[len(indent) :] if line.startswith(indent) else line.lstrip()))
            return
        opening = _FENCE.match(line)
        if opening is not None:
            self._end_block(pieces)
            self._fence = (opening["indent"], opening["mark"])
            pieces.append(Piece("fence", opening["info"].strip()))
        elif line.strip():
            self._block.append(line)
        else:
            self._end_block(pieces)

    def _end_block(self, pieces: list[Piece]) -> None:
        if self._block:
            pieces.append(Piece("text", "\n".join(self._block)))
            self._block = []
