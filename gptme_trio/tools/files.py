"""File tools: read_file, save_file, append_file, patch_file, inside the Workspace's trees.

    files = FileTools(Workspace(Path.cwd()))
    tools = files.tools()                       # files.readers() for read_file alone

Reads are bounded (MAX_LINES lines, MAX_BYTES bytes per call, long lines cut) and refuse what
is not a regular text file. Writes go through core/files.write_file: whole or untouched, the
file's mode kept; save_file creates missing folders (inside the tree). The preview the user
confirms is a unified diff, or a new file's first lines. OS errors become ToolError, worded by
errors.os_reason.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gptme_trio.core.errors import OutputError, ToolError, os_reason
from gptme_trio.core.files import write_file
from gptme_trio.core.images import MAX_IMAGE, Attached, Image, image_type
from gptme_trio.tools import Tool, tool
from gptme_trio.tools.output import size
from gptme_trio.tools.paths import Workspace

MAX_LINES = 2000
MAX_BYTES = 50 * 1024  # of one read_file result
LINE_CHARS = 2000  # a longer line is cut
PREVIEW_LINES = 60
SNIFF = 8192
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a zip archive",
    b"\x7fELF": "an executable (ELF)",
}


@dataclass(frozen=True)
class _Change:
    real: Path
    old: bytes | None  # None: a new file
    new: bytes


class FileTools:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def readers(self) -> list[Tool]:
        return [tool(self.read_file)]

    def tools(self) -> list[Tool]:
        return [
            *self.readers(),
            tool(self.save_file, preview=lambda a: self._preview(self._save(a["path"], a["content"]))),
            tool(self.append_file, preview=lambda a: self._preview(self._append(a["path"], a["content"]))),
            tool(self.patch_file, preview=lambda a: self._preview(self._patch(a["path"], a["old"], a["new"]))),
        ]

    async def read_file(self, path: str, offset: int = 1, limit: int = MAX_LINES) -> str:
        """Read a text file; returns its lines numbered like `cat -n`, at most 2000 lines or 50 KB per call.
        An image file (PNG, JPEG, GIF, WebP) is shown to you when you can see images.

        Args:
        path: the file, relative to the directory chat started in
        offset: the line to start at (1: the first)
        limit: how many lines at most (up to 2000)
        """
        if offset < 1 or limit < 1:
            raise ToolError("read_file: offset and limit start at 1")
        real = self.workspace.resolve(path)
        limit = min(limit, MAX_LINES)
        with _open_regular(real, path) as handle:
            start, total = handle.read(SNIFF), os.fstat(handle.fileno()).st_size
            kind = image_type(start)
            if kind is not None:  # the model sees it when it takes images; else it reads this line
                if total > MAX_IMAGE:
                    most = size(MAX_IMAGE)
                    raise ToolError(f"{path} is an image of {size(total)}: too large to show (at most {most})")
                return Attached(f"{path} is an image ({kind}, {size(total)}), attached", (Image(real, kind),))
            _refuse_binary(start, path, total)
            handle.seek(0)
            lines: list[str] = []
            used, number, more = 0, 0, False
            for number, raw in enumerate(handle, 1):  # noqa: B007 (number is read after the loop)
                if number < offset:
                    continue
                if len(lines) >= limit or used >= MAX_BYTES:
                    more = True
                    break
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if len(text) > LINE_CHARS:
                    text = f"{text[:LINE_CHARS]} … [line cut: {len(text)} characters]"
                lines.append(f"{number:6}\t{text}")
                used += len(text) + 8
            total = os.fstat(handle.fileno()).st_size
        if not lines:
            return f"[{path} has {number} lines; nothing at line {offset}]" if number else f"[{path} is empty]"
        first = offset
        last = first + len(lines) - 1
        body = "\n".join(lines)
        if more:
            goes_on = f"{path} goes on ({size(total)} in all): offset={last + 1} reads on"
            return f"{body}\n[lines {first}-{last} shown; {goes_on}]"
        return body

    async def save_file(self, path: str, content: str) -> str:
        """Write a file whole (created, with missing folders, or replaced).

        Args:
        path: the file, relative to the directory chat started in
        content: the file's new content
        """
        return self._apply(self._save(path, content), "saved")

    async def append_file(self, path: str, content: str) -> str:
        """Add text to the end of a file (created if missing).

        Args:
        path: the file, relative to the directory chat started in
        content: the text to add (include the newline you want before it)
        """
        return self._apply(self._append(path, content), "appended to")

    async def patch_file(self, path: str, old: str, new: str) -> str:
        """Replace one exact piece of a file: `old` must occur exactly once (whitespace included).

        Args:
        path: the file, relative to the directory chat started in
        old: the exact text to replace; include enough lines around the change to make it unique
        new: what it becomes
        """
        return self._apply(self._patch(path, old, new), "patched")

    def _save(self, path: str, content: str) -> _Change:
        real = self.workspace.resolve(path)
        return _Change(real, _read_existing(real, path), content.encode("utf-8"))

    def _append(self, path: str, content: str) -> _Change:
        real = self.workspace.resolve(path)
        old = _read_existing(real, path)
        return _Change(real, old, (old or b"") + content.encode("utf-8"))

    def _patch(self, path: str, old: str, new: str) -> _Change:
        if not old:
            raise ToolError("patch_file: `old` is empty; give the exact text to replace")
        real = self.workspace.resolve(path)
        data = _read_existing(real, path)
        if data is None:
            raise ToolError(f"patch_file: {path} does not exist (save_file creates files)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolError(f"patch_file: {path} is not UTF-8 text") from exc
        found = _count(text, old)
        if found == 0:
            raise ToolError(
                f"patch_file: `old` matched 0 times in {path}; nothing changed. "
                "read_file it and copy the text exactly, whitespace and indentation included"
            )
        if found > 1:
            raise ToolError(
                f"patch_file: `old` matched {found} times in {path}; nothing changed. "
                "Include more of the surrounding lines so it matches exactly once"
            )
        return _Change(real, data, text.replace(old, new, 1).encode("utf-8"))

    def _apply(self, change: _Change, verb: str) -> str:
        if change.old is None:
            try:
                change.real.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ToolError(f"cannot create {change.real.parent}: {os_reason(exc)}") from exc
        try:
            write_file(change.real, change.new)
        except OutputError as exc:
            raise ToolError(str(exc)) from exc
        lines = change.new.count(b"\n") + (not change.new.endswith(b"\n") and bool(change.new))
        return f"{verb} {self.workspace.show(change.real)} ({_lines(lines)}, {size(len(change.new))})"

    def _preview(self, change: _Change) -> str:
        name = self.workspace.show(change.real)
        new = change.new.decode("utf-8", "replace").splitlines(keepends=True)
        if change.old is None:
            head = "".join(new[:PREVIEW_LINES])
            more = f"\n… {len(new) - PREVIEW_LINES} more lines" if len(new) > PREVIEW_LINES else ""
            return f"new file {name} ({_lines(len(new))}):\n{head.rstrip(chr(10))}{more}"
        old = change.old.decode("utf-8", "replace").splitlines(keepends=True)
        diff = [line if line.endswith("\n") else line + "\n" for line in difflib.unified_diff(old, new, name, name)]
        if not diff:
            return f"{name}: no change"
        more = f"… {len(diff) - PREVIEW_LINES} more diff lines\n" if len(diff) > PREVIEW_LINES else ""
        return ("".join(diff[:PREVIEW_LINES]) + more).rstrip("\n")


def _count(text: str, old: str) -> int:
    """How often `old` occurs in `text`, overlapping occurrences included (each is a different edit)."""
    found, start = 0, text.find(old)
    while start >= 0:
        found += 1
        start = text.find(old, start + 1)
    return found


@contextlib.contextmanager
def _open_regular(real: Path, shown: str) -> Iterator[BinaryIO]:
    """A regular file opened for reading; a FIFO, device or directory is refused without blocking."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ToolError(f"cannot read {shown}: {os_reason(exc)}") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory (list it with the shell)" if stat.S_ISDIR(mode) else "not a regular file"
        raise ToolError(f"cannot read {shown}: it is {kind}")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as handle:
        try:
            yield handle
        except OSError as exc:
            raise ToolError(f"cannot read {shown}: {os_reason(exc)}") from exc


def _refuse_binary(start: bytes, shown: str, total: int) -> None:
    kind = next((what for magic, what in _MAGIC.items() if start.startswith(magic)), None)
    if kind is None and b"\0" not in start:
        return
    raise ToolError(f"{shown} is {kind or 'a binary file'} ({size(total)}); read_file reads text files only")


def _read_existing(real: Path, shown: str) -> bytes | None:
    """The file's bytes, None if there is none yet; ToolError for anything but a regular text file."""
    if not os.path.lexists(real):
        return None
    with _open_regular(real, shown) as handle:
        data: bytes = handle.read()
    if b"\0" in data[:SNIFF]:
        raise ToolError(f"{shown} is a binary file ({size(len(data))}); the file tools edit text files only")
    return data


def _lines(count: int) -> str:
    return "1 line" if count == 1 else f"{count} lines"
