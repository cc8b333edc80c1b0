"""Keys typed while no prompt is up, kept for the next ordinary prompt; a Ctrl-D among them ends chat.

`Typeahead` holds, in the order they were typed, key presses: prompt_toolkit's own leftovers
(keys read after a prompt's Enter, or kept from a confirmation) first, then what was read from
the terminal while a turn ran, parsed as it arrives (an escape sequence or a UTF-8 character
split between two reads is completed by the next). `read_pending` drains what the terminal
holds now without blocking (the caller knows it is readable), so nothing typed during a turn
waits in the kernel's 4 KB buffer; at most `PENDING_MAX` bytes are taken, the rest stays there.

`eof_first` says whether the keys held, replayed into the next prompt, would end chat: a Ctrl-D
on an empty line before any Enter. Only then does a turn end early; every other key stays for
the next prompt, Ctrl-D included (after a queued line it ends chat once that line's turn is
over, as it would have had the prompt been up). The keys are followed once each, as they come.
"""

from __future__ import annotations

import codecs
import os
import select
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyPress

PENDING_MAX = 1 << 20  # bytes of typeahead taken from the terminal at most (per turn)


class Typeahead:
    def __init__(self) -> None:
        from prompt_toolkit.input.vt100_parser import Vt100Parser

        self._keys: list[KeyPress] = []  # one list for good: the parser appends to it
        self._parser = Vt100Parser(self._keys.append)
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._taken = 0  # bytes read from the terminal since the last `take`
        self._line = _Line()

    @property
    def full(self) -> bool:
        return self._taken >= PENDING_MAX

    def add_keys(self, keys: list[KeyPress]) -> None:
        """Keys prompt_toolkit read but no prompt used: they were typed before anything held here."""
        if keys:
            self._keys[:0] = keys
            self._line = _Line()

    def read_pending(self, fd: int) -> bool:
        """Take what the terminal holds now, up to the limit; False when it is closed (end of input)."""
        while not self.full:
            try:
                if not select.select([fd], [], [], 0)[0]:
                    return True
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            self._taken += len(chunk)
            self._parser.feed(self._decoder.decode(chunk))
        return True

    def take(self) -> list[KeyPress]:
        """Everything held, as the prompt would parse it; the store is empty after."""
        self._parser.feed(self._decoder.decode(b"", final=True))
        self._parser.flush()  # a lone Esc typed last is a key, not the start of a sequence
        keys = self._keys[:]
        self._keys.clear()
        self._decoder.reset()
        self._taken = 0
        self._line = _Line()
        return keys

    def eof_first(self) -> bool:
        return self._line.follow(self._keys)


class _Line:
    """The next prompt's buffer as the keys held would leave it, followed far enough to know whether a
    Ctrl-D meets it empty before an Enter sends it. Editing keys are followed as far as they decide
    emptiness (Backspace, Ctrl-U, Ctrl-J and Esc-Enter newlines, pasted text); others change nothing
    (up-arrow's history entry is not followed: a Ctrl-D after it counts as on an empty line)."""

    def __init__(self) -> None:
        self._seen = 0
        self._text = ""
        self._after_escape = False
        self._verdict: bool | None = None  # True: Ctrl-D on an empty line; False: Enter came first

    def follow(self, keys: list[KeyPress]) -> bool:
        while self._verdict is None and self._seen < len(keys):
            self._verdict = self._step(keys[self._seen])
            self._seen += 1
        return bool(self._verdict)

    def _step(self, press: KeyPress) -> bool | None:
        from prompt_toolkit.keys import Keys

        key = press.key
        if self._after_escape:  # Esc-Enter is a newline; Esc with another key is a command (Alt-b ...)
            self._after_escape = False
            if key == Keys.ControlM:
                self._text += "\n"
        elif key == Keys.Escape:
            self._after_escape = True
        elif key == Keys.ControlD:
            return not self._text or None  # on text: deletes (nothing at the end)
        elif key == Keys.ControlM:
            return False  # Enter: a line for the next prompt; what follows comes after its turn
        elif key == Keys.ControlJ:
            self._text += "\n"
        elif key == Keys.ControlH:  # Backspace
            self._text = self._text[:-1]
        elif key == Keys.ControlU:
            self._text = self._text[: self._text.rfind("\n") + 1]
        elif key == Keys.BracketedPaste:
            self._text += press.data
        elif len(key) == 1:  # a character typed (keys that are not characters have longer names)
            self._text += key
        return None
