"""Where records go: stdout, one file, or one file per URL in a directory.

Data goes to stdout (or files); progress and one line per failure go to
stderr. Records are written in input order as soon as all earlier ones are
done, flushed one by one, so an interrupted run keeps what it fetched.
A file is whole or untouched (core/files.py): `-f json -o FILE` streams to a
temporary file that replaces FILE when the run ends, on Ctrl-C too (with the
complete records so far); /dev/null, a FIFO or /dev/stdout is written through.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gptme_trio.core.errors import OutputError, ReaderGone, UsageError, os_reason, printable
from gptme_trio.core.files import Sink, open_sink, write_file
from gptme_trio.core.progress import Reporter
from gptme_trio.fetch.batch import Record
from gptme_trio.fetch.options import Format, is_binary
from gptme_trio.fetch.targets import Target

EXTENSIONS: dict[Format, str] = {
    "markdown": ".md",
    "text": ".txt",
    "html": ".html",
    "json": ".json",
    "png": ".png",
    "pdf": ".pdf",
}


@dataclass(frozen=True)
class ToStdout:
    """Everything on stdout, in input order."""


@dataclass(frozen=True)
class ToFile:
    """One URL's output in one file (-f json: one line per URL)."""

    path: Path


@dataclass(frozen=True)
class ToDir:
    """One file per URL in a directory; its path goes to stdout."""

    path: Path


Destination = ToStdout | ToFile | ToDir


def choose_destination(output: str | None, fmt: Format, n_targets: int, stdout_is_tty: bool) -> Destination:
    """Decide where output goes, or raise UsageError; nothing is created yet."""
    if output is None or output == "-":
        if is_binary(fmt) and n_targets > 1:
            raise UsageError(f"-f {fmt} with several URLs needs -o DIR (one file per URL)")
        if is_binary(fmt) and stdout_is_tty:
            raise UsageError(f"refusing to write {fmt.upper()} bytes to a terminal: use -o FILE or a pipe")
        return ToStdout()
    path = Path(output).expanduser()
    wants_dir = path.is_dir() or output.endswith(("/", os.sep)) or (n_targets > 1 and fmt != "json")
    if wants_dir:
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o {output}: several URLs need a directory, and this is a file")
        return ToDir(path)
    if not path.parent.is_dir():
        raise UsageError(f"-o {output}: directory {path.parent} does not exist")
    return ToFile(path)


class Writer:
    """Receives records in completion order; writes them in input order."""

    def __init__(
        self, targets: list[Target], fmt: Format, destination: Destination, reporter: Reporter, verbose: bool = False
    ) -> None:
        self._verbose = verbose
        self.failures = 0
        self._targets = targets
        self._fmt = fmt
        self._dest = destination
        self._reporter = reporter
        self._pending: dict[int, Record] = {}
        self._next = 0
        self._names: set[str] = set()
        self._stream: IO[bytes] | None = None
        self._sink: Sink | None = None  # -f json -o FILE: the records so far, published by close()
        if isinstance(destination, ToStdout):
            self._stream = sys.stdout.buffer
        elif isinstance(destination, ToFile) and fmt == "json":
            self._sink = open_sink(destination.path)
        elif isinstance(destination, ToDir):
            try:
                destination.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot write {destination.path}: {os_reason(exc)}") from exc

    def write(self, index: int, record: Record) -> None:
        self._reporter.advance()
        if record.error:
            self.failures += 1
            self._reporter.error(f"{printable(record.url)}: {printable(record.error, 500)}")
            cause = record.exception.__cause__ if record.exception else None
            if self._verbose and cause is not None:
                self._reporter.error(f"  details: {type(cause).__name__}: {printable(str(cause), 2000)}")
        self._pending[index] = record
        while self._next in self._pending:
            self._emit(self._next, self._pending.pop(self._next))
            self._next += 1

    def close(self) -> None:
        if self._sink is not None:
            self._sink.commit()

    def _emit(self, index: int, record: Record) -> None:
        if self._fmt == "json":
            line = json.dumps(record.as_json(), ensure_ascii=False) + "\n"
            if isinstance(self._dest, ToDir):
                self._save(self._dest.path, index, record, line.encode())
            elif self._sink is not None:
                self._sink.write(line.encode())
            else:
                self._send(line.encode())
            return
        if record.error or record.payload is None:
            return
        data = record.payload if isinstance(record.payload, bytes) else record.payload.encode()
        if isinstance(self._dest, ToStdout):
            if len(self._targets) > 1:
                self._send(f"==> {record.url} <==\n".encode())
            self._send(data if data.endswith(b"\n") or is_binary(self._fmt) else data + b"\n")
        elif isinstance(self._dest, ToFile):
            write_file(self._dest.path, data)
        else:
            self._save(self._dest.path, index, record, data)

    def _send(self, data: bytes, stream: IO[bytes] | None = None) -> None:
        stream = stream or self._stream
        if stream is None:
            raise RuntimeError("no stream to write to")  # a bug: stdout is the only stream
        try:
            stream.write(data)
            stream.flush()
        except BrokenPipeError as exc:
            # Python would complain again at exit while flushing stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise ReaderGone("stdout's reader went away before all output was written") from exc
        except OSError as exc:
            raise OutputError(f"cannot write output: {os_reason(exc)}") from exc

    def _save(self, directory: Path, index: int, record: Record, data: bytes) -> None:
        name = self._unique(_slug(self._targets[index]) + EXTENSIONS[self._fmt])
        path = directory / name
        write_file(path, data)
        if sys.stdout is not None:  # the list of files; with stdout closed (>&-) the files alone
            self._send(f"{record.url}\t{path}\n".encode(), sys.stdout.buffer)

    def _unique(self, name: str) -> str:
        stem, dot, ext = name.rpartition(".")
        candidate, n = name, 1
        while candidate in self._names:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}"
        self._names.add(candidate)
        return candidate


def _slug(target: Target) -> str:
    text = target.path.stem if target.path else re.sub(r"^https?://(www\.)?", "", target.url).rstrip("/")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:100]
    return slug or "page"
