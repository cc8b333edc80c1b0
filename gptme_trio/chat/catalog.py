"""The conversations on disk, newest first: what `chat --list` prints and the `-r` picker offers.

    for s in summaries(home):  s.name, s.modified, s.model, s.messages, s.size, s.first_words

Only conversations where something was said are listed (a log holding only the system prompt, left
by an older version on an empty launch, is not). Each log is read with the store's own loader, so
what is listed is what resumes.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptme_trio.chat.store import LOG, Conversation
from gptme_trio.core.errors import UsageError

WORDS = 60  # characters of the first question shown


@dataclass(frozen=True)
class Summary:
    name: str
    directory: Path
    modified: float  # when its log was last written (seconds since the epoch)
    model: str | None  # PROVIDER/MODEL, None when it never had one
    messages: int  # not counting the system prompt
    size: int  # bytes in its directory: the log, images, screenshots
    first_words: str  # of the first question

    @property
    def date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modified": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.modified)),
            "model": self.model,
            "messages": self.messages,
            "bytes": self.size,
            "first_words": self.first_words,
            "path": str(self.directory),
        }


def summaries(home: Path, limit: int | None = None) -> list[Summary]:
    """The conversations under `home` where something was said, the most recently written first;
    with `limit`, only the newest `limit` of them (logs are read newest first, until there are enough)."""
    logs = []
    for log in (home / "conversations").glob(f"*/{LOG}"):
        with contextlib.suppress(OSError):  # removed or renamed while we looked
            logs.append((log.stat().st_mtime, log.parent.name))
    found: list[Summary] = []
    for modified, name in sorted(logs, reverse=True):
        if limit is not None and len(found) >= limit:
            break
        with contextlib.suppress(OSError, UsageError):
            summary = summarise(Conversation.open(home, name), modified)
            if summary.messages:
                found.append(summary)
    return found


def count(home: Path) -> int:
    """How many logs there are (some may hold only a system prompt): no log is read."""
    return sum(1 for _ in (home / "conversations").glob(f"*/{LOG}"))


def summarise(conversation: Conversation, modified: float) -> Summary:
    said = [m for m in conversation.messages if m.role != "system"]
    first = next((m.content for m in said if m.role == "user"), "")
    return Summary(
        conversation.name,
        conversation.directory,
        modified,
        conversation.model,
        len(said),
        _size(conversation.directory),
        shorten(first, WORDS),
    )


def shorten(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def human_size(size: int) -> str:
    """1234567 -> "1.2 MB" (powers of 1024)."""
    scaled, unit = float(size), 0
    while scaled >= 1024 and unit < 3:
        scaled, unit = scaled / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{scaled:.1f} {('KB', 'MB', 'GB')[unit - 1]}"


def table(found: list[Summary], numbered: bool = False) -> list[str]:
    """One aligned line per conversation: [number,] name, date, model, messages, size, first words."""
    names = max((len(s.name) for s in found), default=4)
    models = max((len(s.model or "-") for s in found), default=5)
    lines = []
    for i, s in enumerate(found, 1):
        number = f"{i:>3}  " if numbered else ""
        count = f"{s.messages} msg" if s.messages == 1 else f"{s.messages} msgs"
        lines.append(
            f"{number}{s.name:<{names}}  {s.date}  {s.model or '-':<{models}}  {count:>9}  "
            f"{human_size(s.size):>8}  {s.first_words}"
        )
    return lines


def _size(directory: Path) -> int:
    total = 0
    for path in directory.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total
