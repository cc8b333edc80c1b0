"""One prompt_toolkit PromptSession, asked from a Trio worker thread.

prompt_toolkit runs its own asyncio loop. Here it is a plain `SelectorEventLoop`
built directly in the worker thread (never through the asyncio policy, which
trio-asyncio replaces), so it never meets the trio-asyncio loop. Ctrl-C at the
prompt is a key press in raw mode: it surfaces as PromptInterrupted; Ctrl-D as
PromptEOF. Cancelling `ask` asks the application to exit from its own loop and
waits, shielded, for the thread to end (tens of ms).

Editing: Enter sends; Ctrl-J and Esc-Enter insert a newline; a bracketed paste is inserted as
it is, newlines included (one message). Ctrl-R searches the history (multi-line entries are
stored as such). Tab completes slash commands and paths (chat/completion.py). Ctrl-X Ctrl-E
opens the editor on the text typed so far and puts what was saved back, as bash does; `edit`
(the /edit command) opens it on a text and returns what was saved (chat/editor.py). The editor
runs in the worker thread, in cooked mode, with nothing else reading the terminal.

Keys typed while no prompt is up (the model answering, a tool running) are typeahead
(chat/typeahead.py):

- The terminal stays non-canonical between prompts (`with Prompter(...)`; ISIG stays on, so
  Ctrl-C is still SIGINT). In canonical mode a Ctrl-D typed then became a NUL byte once the
  prompt switched to raw mode: it was lost. Typeahead is not echoed; the next prompt shows it.
- During a turn, `watching` waits (in Trio, no thread) for the terminal to become readable and
  moves what it holds into the typeahead store, unanswered. When the keys held, replayed into
  the next prompt, would reach a Ctrl-D on an empty line before any Enter, that prompt would end
  chat at once: so the turn is cancelled now (`on_eof`) and chat ends, within a few ms of the
  key. Every other key stays for the next prompt, in order. Keys typed before the turn began
  (read by the prompt past its Enter, or queued behind a line typed ahead) keep their place: a
  Ctrl-D among them ends chat at the next prompt, after this turn, as it would have had the
  user waited for it. While a confirmation or the editor has the terminal the watch pauses: it
  never reads a key meant for them.
- Typeahead belongs to the next ordinary prompt (`ask`), never to a confirmation (`confirm`):
  a confirmation takes only keys pressed after it appears. What is pending when it appears is
  kept and replayed into the next `ask`, Enter included, as if the confirmation never came.
  Keys left over after a confirmation's answer are dropped: they were typed at a question.
- Confirmation answers, and answers to other questions (`answer`: the -r picker's), are not stored in
  the history: up-arrow never returns them.

The typeahead store is touched by the worker thread only while a prompt runs, and by the Trio
thread only while none does (the watch pauses first): one owner at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import sys
import termios
import threading
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from gptme_trio.chat.editor import Editor
from gptme_trio.chat.typeahead import Typeahead
from gptme_trio.core.runtime import alongside

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.application import Application
    from prompt_toolkit.formatted_text import AnyFormattedText
    from prompt_toolkit.key_binding import KeyBindings

_IFLAG, _LFLAG, _CC = 0, 3, 6  # indices in termios.tcgetattr's list
USER_STYLE = {"prompt": "ansigreen bold", "user": "ansigreen"}  # the user's role colour (display.ROLES)
_T = TypeVar("_T")


class PromptInterrupted(Exception):
    """Ctrl-C at the prompt."""


class PromptEOF(Exception):
    """Ctrl-D at the prompt."""


class _Cancelled(Exception):
    """The Trio side gave up on this prompt."""


class Prompter:
    """The user's lines (`ask`), yes/no answers (`confirm`) and edited texts (`edit`). Use it as a
    context manager: it keeps the terminal non-canonical between prompts and restores its mode on the
    way out. `watching` runs around a turn: it keeps typeahead and notices a Ctrl-D among it."""

    def __init__(self, history: Path, commands: list[str], color: bool = False) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.formatted_text import FormattedText
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.input import create_input
        from prompt_toolkit.lexers import SimpleLexer
        from prompt_toolkit.output import create_output
        from prompt_toolkit.styles import Style

        from gptme_trio.chat.completion import ChatCompleter

        history.parent.mkdir(parents=True, exist_ok=True)
        history.touch(mode=0o600, exist_ok=True)
        self._input = create_input()
        output = create_output(always_prefer_tty=True)  # `chat > reply.md`: the prompt on the terminal (stderr)
        style = Style.from_dict(USER_STYLE if color else {})
        self._message = FormattedText([("class:prompt", "> ")])  # `ask`'s: the user's words in their colour
        self._session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            style=style,
            lexer=SimpleLexer("class:user"),
            completer=ChatCompleter(commands),
            complete_while_typing=True,
            multiline=True,  # shown over several lines; Enter still sends (the bindings below)
            key_bindings=self._bindings(),
            interrupt_exception=PromptInterrupted,
            eof_exception=PromptEOF,
            input=self._input,
            output=output,
        )
        self._output = output
        self._questions: dict[str, PromptSession[str]] = {}  # `confirm`'s and `answer`'s, made when first asked
        self._typeahead = Typeahead()  # kept from turns and confirmations for the next `ask`
        self._editor = Editor()
        self._busy: trio.Event | None = None  # set when the prompt or editor holding the terminal is done
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: Application[str] | None = None  # the prompt drawn now (with _loop), if any
        self._drawn = threading.Lock()  # `say` and the end of a prompt: a line is never lost between them
        self._mode_before: list[Any] | None = None

    def __enter__(self) -> Prompter:
        with contextlib.suppress(termios.error):
            self._mode_before = termios.tcgetattr(self._input.fileno())
            self._hold()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._mode_before is not None:
            self._set_mode(self._mode_before)
            self._mode_before = None

    async def ask(self, shown: Callable[[], None] | None = None) -> str:
        """The user's next message, typeahead first; raises PromptInterrupted / PromptEOF. `shown` is called
        (in Trio's thread) once the prompt is drawn."""
        if shown is None:
            return await self._prompt(self._session, self._message, self._replay_typeahead, lambda: None)
        token, app = trio.lowlevel.current_trio_token(), self._session.app
        told: list[bool] = []

        def drawn(_: object) -> None:  # in the worker, after each render: tell Trio once, without waiting
            if not told:
                told.append(True)
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(shown)

        def before() -> None:
            self._replay_typeahead()
            app.after_render.add_handler(drawn)

        def after() -> None:
            app.after_render.remove_handler(drawn)

        return await self._prompt(self._session, self._message, before, after)

    def say(self, line: str) -> None:
        """`line` on stderr, at once: above the prompt while one is drawn (which is drawn again below it)."""

        def show() -> None:
            print(line, file=sys.stderr, flush=True)

        def in_prompt(app: Application[str]) -> None:  # in the worker, on the prompt's loop
            from prompt_toolkit.application import run_in_terminal

            if app.is_running:
                run_in_terminal(show, in_executor=False)
            else:
                show()

        with self._drawn:
            if self._loop is not None and self._app is not None:
                self._loop.call_soon_threadsafe(in_prompt, self._app)  # runs before the loop closes (`_prompt`)
                return
        show()

    async def answer(self, question: str) -> str:
        """A line typed in answer to `question` (the -r picker's), typeahead first as for `ask`, but never
        stored in the history: up-arrow and Ctrl-R at the chat's prompt never return it."""
        return await self._prompt(self._question("answer"), question, self._replay_typeahead, lambda: None)

    def _replay_typeahead(self) -> None:
        """(In the worker, before a prompt starts.) What was typed ahead goes in first, as if typed there."""
        from prompt_toolkit.input.typeahead import get_typeahead, store_typeahead

        self._typeahead.add_keys(get_typeahead(self._input))
        store_typeahead(self._input, self._typeahead.take())  # the session feeds it in first

    async def confirm(self, question: str) -> bool:
        """Ask yes/no: Enter, y or yes mean yes. Only keys pressed after the question appears count;
        the answer is not stored in the history. Raises PromptInterrupted (Ctrl-C) / PromptEOF (Ctrl-D)."""

        def keep_typeahead() -> None:
            from prompt_toolkit.input.typeahead import get_typeahead

            self._typeahead.add_keys(get_typeahead(self._input))
            self._typeahead.read_pending(self._input.fileno())

        def drop_leftovers() -> None:
            from prompt_toolkit.input.typeahead import clear_typeahead

            clear_typeahead(self._input)

        answer = await self._prompt(self._question("confirm"), f"{question} [Y/n] ", keep_typeahead, drop_leftovers)
        return answer.strip().lower() in ("", "y", "yes")

    async def edit(self, text: str) -> str:
        """Open the editor on `text` and return what was saved ("" after one line on stderr when the
        editor failed). The terminal is in its own mode (cooked) while the editor runs."""

        def run() -> str:
            if self._mode_before is not None:
                self._set_mode(self._mode_before)
            try:
                return self._editor.edit(text) or ""
            finally:
                if self._mode_before is not None:
                    self._hold()

        return await self._in_worker(run, self._editor.stop)

    @contextlib.asynccontextmanager
    async def watching(self, on_eof: Callable[[], None]) -> AsyncIterator[None]:
        """Around a turn: typeahead is kept, and `on_eof` is called when it would end chat (Ctrl-D)."""
        async with alongside(partial(self._watch, on_eof)):
            yield

    async def _watch(self, on_eof: Callable[[], None]) -> None:
        from prompt_toolkit.input.typeahead import get_typeahead

        fd = self._input.fileno()
        if not os.isatty(fd):
            return
        self._typeahead.add_keys(get_typeahead(self._input))  # a prompt's leftovers come first
        if self._typeahead.eof_first():
            return  # a Ctrl-D typed before this turn began (behind its line): it ends chat after the turn
        while True:
            if self._busy is not None:
                await self._busy.wait()  # a confirmation or the editor has the terminal
                continue
            if self._typeahead.eof_first():
                on_eof()
                return
            if self._typeahead.full:
                await trio.sleep_forever()  # a megabyte ahead: the rest waits in the terminal
            await trio.lowlevel.wait_readable(fd)
            if self._busy is None and not self._typeahead.read_pending(fd):
                on_eof()  # the terminal is gone: nothing more can be typed
                return

    def _bindings(self) -> KeyBindings:
        from prompt_toolkit.application import run_in_terminal
        from prompt_toolkit.document import Document
        from prompt_toolkit.enums import DEFAULT_BUFFER
        from prompt_toolkit.filters import has_focus
        from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

        bindings = KeyBindings()
        editing = has_focus(DEFAULT_BUFFER)  # not while searching the history (Ctrl-R): Enter ends the search

        @bindings.add("enter", filter=editing)
        def _send(event: KeyPressEvent) -> None:
            event.current_buffer.validate_and_handle()

        @bindings.add("c-j", filter=editing)
        @bindings.add("escape", "enter", filter=editing)
        def _newline(event: KeyPressEvent) -> None:
            event.current_buffer.newline(copy_margin=False)

        @bindings.add("c-x", "c-e", filter=editing)
        def _open_editor(event: KeyPressEvent) -> None:
            buffer = event.current_buffer

            async def edit() -> None:
                edited = await run_in_terminal(lambda: self._editor.edit(buffer.text))  # this thread, cooked mode
                if edited is not None:
                    buffer.document = Document(edited, len(edited))

            event.app.create_background_task(edit())

        return bindings

    def _question(self, kind: str) -> PromptSession[str]:
        """The session for `kind` of question ("confirm", "answer"): no history, one per kind. Made on first
        use: each PromptSession builds an application and its key bindings (~15 ms), not needed at start-up."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import DummyHistory

        if kind not in self._questions:
            self._questions[kind] = PromptSession(
                history=DummyHistory(),
                interrupt_exception=PromptInterrupted,
                eof_exception=PromptEOF,
                input=self._input,
                output=self._output,
            )
        return self._questions[kind]

    async def _prompt(
        self,
        session: PromptSession[str],
        message: AnyFormattedText,
        before: Callable[[], None],
        after: Callable[[], None],
    ) -> str:
        def run() -> str:
            loop = asyncio.SelectorEventLoop()
            asyncio.set_event_loop(loop)
            with self._drawn:
                self._loop, self._app = loop, session.app
            try:
                before()
                return loop.run_until_complete(session.prompt_async(message))
            finally:
                after()
                with self._drawn:
                    self._loop = self._app = None
                loop.call_soon(loop.stop)
                loop.run_forever()  # what `say` scheduled meanwhile is shown, not dropped by close()
                asyncio.set_event_loop(None)
                loop.close()

        def stop() -> None:
            self._editor.stop()  # an editor opened with Ctrl-X Ctrl-E blocks the loop until it ends
            loop, app = self._loop, session.app
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: app.is_running and app.exit(exception=_Cancelled()))

        return await self._in_worker(run, stop)

    async def _in_worker(self, run: Callable[[], _T], stop: Callable[[], None]) -> _T:
        """`run` in the worker thread, the terminal its own meanwhile. On cancel: `stop` it, and wait
        (shielded, at most 2 s) for the thread to end."""
        finished = trio.Event()
        token = trio.lowlevel.current_trio_token()

        def work() -> _T:
            try:
                return run()
            finally:
                with contextlib.suppress(trio.RunFinishedError):
                    trio.from_thread.run_sync(finished.set, trio_token=token)

        busy = self._busy = trio.Event()  # the watch pauses: it reads no key meant for this
        try:
            return await trio.to_thread.run_sync(work, abandon_on_cancel=True)
        except trio.Cancelled:
            stop()
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await finished.wait()
            raise
        finally:
            self._busy = None
            busy.set()

    def _hold(self) -> None:
        """Non-canonical, no echo, ISIG on: what is typed between prompts waits, unechoed, Ctrl-D as a key.
        ICRNL off, as in the prompt's raw mode: Enter stays CR (send), apart from Ctrl-J's LF (a new line)."""
        if self._mode_before is None:
            return
        hold: list[Any] = copy.deepcopy(self._mode_before)
        hold[_IFLAG] &= ~termios.ICRNL
        hold[_LFLAG] &= ~(termios.ICANON | termios.ECHO)
        hold[_CC][termios.VMIN], hold[_CC][termios.VTIME] = 1, 0
        self._set_mode(hold)

    def _set_mode(self, mode: list[Any]) -> None:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(self._input.fileno(), termios.TCSANOW, mode)  # TCSANOW: what was typed is kept
