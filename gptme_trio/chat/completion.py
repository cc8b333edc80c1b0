"""Tab completion at the chat prompt: `/commands` as they are typed, paths on Tab.

A line's first word starting with `/` completes to the slash commands while it is typed. Any
other word completes as a path (`~` expanded, directories end in `/`) when Tab is pressed, never
while typing: a menu of files under every word of a message would be noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

if TYPE_CHECKING:
    from collections.abc import Sequence


class ChatCompleter(Completer):
    def __init__(self, commands: Sequence[str]) -> None:
        self._commands = list(commands)
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and not any(c.isspace() for c in before):
            for command in self._commands:
                if command.startswith(before):
                    yield Completion(command, start_position=-len(before))
            return
        if not complete_event.completion_requested:
            return
        word = document.get_word_before_cursor(WORD=True)
        yield from self._paths.get_completions(Document(word, len(word)), complete_event)
