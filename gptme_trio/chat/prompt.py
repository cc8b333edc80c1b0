"""One prompt_toolkit PromptSession, asked from a Trio worker thread.

prompt_toolkit runs its own asyncio loop. Here it is a plain `SelectorEventLoop`
built directly in the worker thread (never through the asyncio policy, which
trio-asyncio replaces), so it never meets the trio-asyncio loop. Ctrl-C at the
prompt is a key press in raw mode: it surfaces as PromptInterrupted; Ctrl-D as
PromptEOF. Cancelling `ask` asks the application to exit from its own loop and
waits, shielded, for the thread to end (tens of ms).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import trio


class PromptInterrupted(Exception):
    """Ctrl-C at the prompt."""


class PromptEOF(Exception):
    """Ctrl-D at the prompt."""


class _Cancelled(Exception):
    """The Trio side gave up on this prompt."""


class Prompter:
    def __init__(self, history: Path, commands: list[str]) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter
        from prompt_toolkit.history import FileHistory

        history.parent.mkdir(parents=True, exist_ok=True)
        history.touch(mode=0o600, exist_ok=True)
        self._session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            completer=WordCompleter(commands, sentence=True),
            complete_while_typing=True,
            interrupt_exception=PromptInterrupted,
            eof_exception=PromptEOF,
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    async def ask(self, message: str = "> ") -> str:
        """The user's next line; raises PromptInterrupted / PromptEOF."""
        finished = trio.Event()
        token = trio.lowlevel.current_trio_token()

        def run() -> str:
            loop = asyncio.SelectorEventLoop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                return loop.run_until_complete(self._session.prompt_async(message))
            finally:
                self._loop = None
                asyncio.set_event_loop(None)
                loop.close()
                with contextlib.suppress(trio.RunFinishedError):
                    trio.from_thread.run_sync(finished.set, trio_token=token)

        try:
            return await trio.to_thread.run_sync(run, abandon_on_cancel=True)
        except trio.Cancelled:
            loop, app = self._loop, self._session.app
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(lambda: app.is_running and app.exit(exception=_Cancelled()))
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await finished.wait()
            raise

    async def confirm(self, question: str) -> bool:
        """Ask yes/no (Enter = yes); Ctrl-C or Ctrl-D mean no."""
        try:
            answer = await self.ask(f"{question} [Y/n] ")
        except (PromptInterrupted, PromptEOF):
            return False
        return answer.strip().lower() in ("", "y", "yes")
