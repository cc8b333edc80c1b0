"""Files we write are whole or untouched.

A regular file is written to a unique temporary file beside it (never a shared name: two runs
writing the same path each have their own), fsynced, given the mode (and, where we may, the
owner) of the file it replaces, then renamed over it. A reader sees the old file or the new one,
never half of either. A symlink keeps pointing where it pointed: the file it names is replaced.

A special file (a device such as /dev/null, a FIFO, a terminal, /dev/stdout or /proc/self/fd/N)
is written through, never replaced: renaming over /dev/null would break the machine. A FIFO with
no reader is an error at once rather than a run that blocks forever on open().

    sink = open_sink(path)      # nothing visible yet (a regular file)
    try:
        sink.write(data)        # as often as needed
    finally:
        sink.commit()           # or sink.discard(): the old file stays as it was

OS errors become OutputError with the path and the reason (errors.os_reason).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Protocol

from gptme_trio.core.errors import OutputError, os_reason


class Sink(Protocol):
    """Where the bytes of one output file go."""

    path: Path

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None:
        """Make what was written visible (rename, or just close); idempotent."""

    def discard(self) -> None:
        """Drop what was written: the file stays as it was; idempotent."""


def write_file(path: Path, data: bytes) -> None:
    """Write `data` as the whole content of `path`: whole or untouched."""
    sink = open_sink(path)
    try:
        sink.write(data)
    except BaseException:
        sink.discard()
        raise
    sink.commit()


def open_sink(path: Path) -> Sink:
    """A Sink for `path`: a replacement for a regular (or new) file, a pass-through for a special one."""
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write {path}: it is a directory")
    if st is not None and (not stat.S_ISREG(st.st_mode) or _is_pseudo(path)):
        return _PassThrough(path, st)
    return _Replacement(path, st)


def _is_pseudo(path: Path) -> bool:
    """/dev/stdout, /dev/fd/N, /proc/self/fd/N: a name for an open file, even when that is a regular one."""
    names = (str(path.absolute()), os.path.realpath(path))
    return any(name.startswith(("/dev/", "/proc/")) for name in names)


class _FdSink:
    """A sink writing to one file descriptor (`_fd`; None once committed or discarded)."""

    path: Path
    _fd: int | None

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise OutputError(f"cannot write {self.path}: already closed")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {self.path}: {os_reason(exc)}") from exc

    def discard(self) -> None:
        raise NotImplementedError


class _Replacement(_FdSink):
    def __init__(self, path: Path, st: os.stat_result | None) -> None:
        self.path = path
        target = Path(os.path.realpath(path)) if st is not None else path  # a symlink keeps its link
        self._target = target
        self._st = st
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=".part", dir=target.parent)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc
        self._fd: int | None = fd
        self._tmp = Path(tmp)

    def commit(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _give_attributes(fd, self._st)
            os.fsync(fd)
            os.close(fd)
            os.replace(self._tmp, self._target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.close(fd)
            self._tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {self.path}: {os_reason(exc)}") from exc

    def discard(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.close(fd)
        self._tmp.unlink(missing_ok=True)


def _give_attributes(fd: int, st: os.stat_result | None) -> None:
    """The replaced file's mode and owner; a new file gets what open() would give it (0666 & ~umask)."""
    if st is None:
        os.fchmod(fd, 0o666 & ~_umask())
        return
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    with contextlib.suppress(PermissionError):  # only root may give a file away; others keep theirs
        if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
            os.fchown(fd, st.st_uid, st.st_gid)


def _umask() -> int:
    try:
        with open("/proc/self/status") as status:  # Linux ≥ 4.7: read without changing it
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


class _PassThrough(_FdSink):
    def __init__(self, path: Path, st: os.stat_result) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CLOEXEC
        if stat.S_ISFIFO(st.st_mode):
            flags |= os.O_NONBLOCK  # open() of a FIFO with no reader would block forever
        elif stat.S_ISREG(st.st_mode):
            flags |= os.O_TRUNC  # /dev/stdout on a file: as a shell's `>` would
        try:
            self._fd: int | None = os.open(path, flags)
        except OSError as exc:
            reason = "a FIFO with no reader" if exc.errno == errno.ENXIO else os_reason(exc)
            raise OutputError(f"cannot write {path}: {reason}") from exc
        if flags & os.O_NONBLOCK:
            os.set_blocking(self._fd, True)

    def commit(self) -> None:
        self.discard()  # nothing to publish: every byte went straight through

    def discard(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
