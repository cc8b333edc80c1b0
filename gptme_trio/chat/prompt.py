"""One prompt_toolkit PromptSession, asked from a Trio worker thread.

prompt_toolkit runs its own asyncio loop. Here it is a plain `SelectorEventLoop`
built directly in the worker thread (never through the asyncio policy, which
trio-asyncio replaces), so it never meets the trio-asyncio loop. Ctrl-C at the
prompt is a key press in raw mode: it surfaces as PromptInterrupted; Ctrl-D as
PromptEOF. Cancelling `ask` asks the application to exit from its own loop and
waits, shielded, for the thread to end (tens of ms).

Keys typed while no prompt is up (the model answering, a tool running) are typeahead:

- The terminal stays non-canonical between prompts (`with Prompter(...)`; ISIG stays on, so
  Ctrl-C is still SIGINT). In canonical mode a Ctrl-D typed then became a NUL byte once the
  prompt switched to raw mode: it was lost. Now it reaches the next prompt as Ctrl-D. Typeahead
  is not echoed; the next prompt shows it.
- Typeahead belongs to the next ordinary prompt (`ask`), never to a confirmation (`confirm`):
  a confirmation takes only keys pressed after it appears. What is pending when it appears is
  kept and replayed into the next `ask`, Enter included, as if the confirmation never came.
  Keys left over after a confirmation's answer are dropped: they were typed at a question.
- Confirmation answers are not stored in the history: up-arrow never returns them.

Everything prompt_toolkit runs in the worker thread: typeahead kept here is touched only there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import termios
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.key_binding import KeyPress

_LFLAG, _CC = 3, 6  # indices in termios.tcgetattr's list
_PENDING_MAX = 1 << 20  # bytes of typeahead taken at most: the terminal's own buffer holds 4 KB


class PromptInterrupted(Exception):
    """Ctrl-C at the prompt."""


class PromptEOF(Exception):
    """Ctrl-D at the prompt."""


class _Cancelled(Exception):
    """The Trio side gave up on this prompt."""


class Prompter:
    """The user's lines (`ask`) and yes/no answers (`confirm`). Use it as a context manager:
    it keeps the terminal non-canonical between prompts and restores its mode on the way out."""

    def __init__(self, history: Path, commands: list[str]) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import DummyHistory, FileHistory
        from prompt_toolkit.input import create_input

        history.parent.mkdir(parents=True, exist_ok=True)
        history.touch(mode=0o600, exist_ok=True)
        self._input = create_input()
        self._session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            completer=WordCompleter(commands, sentence=True),
            complete_while_typing=True,
            interrupt_exception=PromptInterrupted,
            eof_exception=PromptEOF,
            input=self._input,
        )
        self._confirmation: PromptSession[str] = PromptSession(
            history=DummyHistory(),
            interrupt_exception=PromptInterrupted,
            eof_exception=PromptEOF,
            input=self._input,
        )
        self._typeahead: list[KeyPress] = []  # kept from confirmations for the next `ask`
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mode_before: list[Any] | None = None

    def __enter__(self) -> Prompter:
        fd = self._input.fileno()
        with contextlib.suppress(termios.error):
            self._mode_before = termios.tcgetattr(fd)
            hold = termios.tcgetattr(fd)
            hold[_LFLAG] &= ~(termios.ICANON | termios.ECHO)
            hold[_CC][termios.VMIN], hold[_CC][termios.VTIME] = 1, 0
            termios.tcsetattr(fd, termios.TCSANOW, hold)  # TCSANOW: what was typed is kept
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._mode_before is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._input.fileno(), termios.TCSANOW, self._mode_before)
            self._mode_before = None

    async def ask(self, message: str = "> ") -> str:
        """The user's next line, typeahead first; raises PromptInterrupted / PromptEOF."""

        def replay_typeahead() -> None:
            from prompt_toolkit.input.typeahead import store_typeahead

            store_typeahead(self._input, self._typeahead)  # the session feeds it in first
            self._typeahead = []

        return await self._prompt(self._session, message, replay_typeahead, lambda: None)

    async def confirm(self, question: str) -> bool:
        """Ask yes/no: Enter, y or yes mean yes. Only keys pressed after the question appears count;
        the answer is not stored in the history. Raises PromptInterrupted (Ctrl-C) / PromptEOF (Ctrl-D)."""

        def keep_typeahead() -> None:
            from prompt_toolkit.input.typeahead import get_typeahead

            self._typeahead += get_typeahead(self._input) + self._pending_keys()

        def drop_leftovers() -> None:
            from prompt_toolkit.input.typeahead import clear_typeahead

            clear_typeahead(self._input)

        answer = await self._prompt(self._confirmation, f"{question} [Y/n] ", keep_typeahead, drop_leftovers)
        return answer.strip().lower() in ("", "y", "yes")

    def _pending_keys(self) -> list[KeyPress]:
        """The keys typed but not read yet (worker thread), parsed as the prompt would parse them."""
        from prompt_toolkit.input.vt100_parser import Vt100Parser

        fd, data = self._input.fileno(), b""
        with contextlib.suppress(OSError):
            while len(data) < _PENDING_MAX and select.select([fd], [], [], 0)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
        keys: list[KeyPress] = []
        parser = Vt100Parser(keys.append)
        parser.feed(data.decode("utf-8", "surrogateescape"))
        parser.flush()
        return keys

    async def _prompt(
        self, session: PromptSession[str], message: str, before: Callable[[], None], after: Callable[[], None]
    ) -> str:
        finished = trio.Event()
        token = trio.lowlevel.current_trio_token()

        def run() -> str:
            loop = asyncio.SelectorEventLoop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                before()
                return loop.run_until_complete(session.prompt_async(message))
            finally:
                after()
                self._loop = None
                asyncio.set_event_loop(None)
                loop.close()
                with contextlib.suppress(trio.RunFinishedError):
                    trio.from_thread.run_sync(finished.set, trio_token=token)

        try:
            return await trio.to_thread.run_sync(run, abandon_on_cancel=True)
        except trio.Cancelled:
            loop, app = self._loop, session.app
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: app.is_running and app.exit(exception=_Cancelled()))
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await finished.wait()
            raise
