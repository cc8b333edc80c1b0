"""The user's text editor on a message: `/edit` and Ctrl-X Ctrl-E at the prompt.

The editor is $VISUAL, else $EDITOR (either may carry arguments: `code -w`), else the first of
`editor` (Debian's alternative), `nano` and `vi` found on PATH. It runs in the prompt worker
thread (the caller's), in the foreground on the terminal, which the caller has put back in
cooked mode; nothing else reads the terminal meanwhile. The text goes through a private
temporary file that is removed afterwards. An editor that cannot start or exits with an error
gives one line on stderr and no text. `stop` (from the Trio thread, when the chat is cancelled
while an editor is open) ends it: no editor outlives the chat.

The editor shares chat's process group: full-screen editors read Ctrl-C as a key (raw mode), but
a line editor in cooked mode lets the terminal send SIGINT to both; under /edit that cancels the
turn, at the prompt (Ctrl-X Ctrl-E) it ends chat as a SIGINT outside a turn does. Giving the
editor its own foreground process group (job control, as a shell does) would avoid it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping

_FALLBACKS = ("editor", "nano", "vi")
_STOP_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for an editor that must go


def editor_command(env: Mapping[str, str]) -> list[str] | None:
    """The editor's command line (without the file), or None when there is none to run."""
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError:  # an unbalanced quote: run it as one word, the editor's error says why
                words = [value]
            if words:
                return words
    for fallback in _FALLBACKS:
        found = shutil.which(fallback, path=env.get("PATH"))
        if found:
            return [found]
    return None


class Editor:
    """Runs the editor on a text; one at a time (the prompt worker is one thread)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def edit(self, text: str) -> str | None:
        """Open the editor on `text` (worker thread, blocking) and return what was saved, without the
        trailing newline editors add; None (after one line on stderr) when the editor failed."""
        command = editor_command(os.environ)
        if command is None:
            _say("no editor found: set $VISUAL or $EDITOR")
            return None
        fd, path = tempfile.mkstemp(prefix="gptme-trio-message-", suffix=".md")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
            code = self._run([*command, path])
            if code is None:
                return None
            if code != 0:
                _say(f"editor {shlex.join(command)} failed (exit {code}); the text is unchanged")
                return None
            with open(path, encoding="utf-8", errors="replace") as file:
                edited = file.read()
        except OSError as exc:
            _say(f"editor: {exc.strerror or exc}")
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return edited.removesuffix("\n")

    def stop(self) -> None:
        """End a running editor (any thread): SIGTERM now; the worker kills it if it lingers."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(OSError):
                process.terminate()

    def _run(self, argv: list[str]) -> int | None:
        try:
            self._process = subprocess.Popen(argv)
        except OSError as exc:
            _say(f"cannot start editor {shlex.join(argv[:-1])}: {exc.strerror or exc}")
            return None
        try:
            return self._process.wait()
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(_STOP_GRACE)  # only when wait() above was interrupted
            if self._process.returncode is None:
                self._process.kill()
                self._process.wait()
            self._process = None


def _say(line: str) -> None:
    print(f"gptme-trio: {line}", file=sys.stderr, flush=True)
