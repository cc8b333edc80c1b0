"""What the user asked to fetch: URLs and local files, checked before any I/O starts.

    parse_target("https://example.com/a")  -> Target(url="https://example.com/a")
    parse_target("page.html")              -> Target(url="file:///abs/page.html", path=...)
    parse_target("example.com")            -> Target(url="https://example.com")

Anything else raises UsageError with a message that names the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gptme_trio.core.errors import UsageError, os_reason, printable

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# A host as an address bar takes it: letters of any script (an IDN such as bücher.example), digits, '-'.
_LABEL = r"(?:[^\W_]|-)+"
_HOSTNAME = re.compile(rf"^(localhost|\[[0-9A-Fa-f:.]+\]|{_LABEL}(\.{_LABEL})+)$")
_FILE_SUFFIX = re.compile(r"\.(html?|xhtml|pdf|txt|xml|svg)$", re.IGNORECASE)


@dataclass(frozen=True)
class Target:
    raw: str  # as the user wrote it
    url: str  # what we fetch
    path: Path | None = None  # set for local files


def parse_target(raw: str) -> Target:
    """`raw` as a Target, or UsageError naming it (one line, whatever `raw` holds)."""
    try:
        return _parse(raw)
    except UsageError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # a name too long for the OS, ~nosuchuser/...
        raise UsageError(f"{_shown(raw)}: {os_reason(exc)}") from exc


def _shown(raw: str) -> str:
    """`raw` for a message: as typed, or quoted with escapes if it holds control characters; cut if long."""
    return printable(raw if raw.isprintable() else repr(raw))


def _parse(raw: str) -> Target:
    shown = _shown(raw)
    text = raw.strip()
    if not text:
        raise UsageError("empty URL")
    scheme = _SCHEME.match(text)
    url_like = scheme is not None and scheme.group(1).lower() in ("http", "https", "file")
    if not url_like and _exists(raw):
        return _file_target(Path(raw), raw)  # a path as it is on disk: spaces and all
    if any(ch.isspace() for ch in text):
        raise UsageError(f"{_shown(repr(raw))}: not a URL (contains whitespace), and no such file")
    if scheme and not _looks_like_host_port(text):
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return Target(raw, _check_http(text, raw))
        if name == "file":
            return _file_target(Path(unquote(urlsplit(text).path)), raw)
        raise UsageError(f"{shown}: unsupported scheme {_shown(name)!r} (use http, https, file or a path)")
    path = Path(text).expanduser()
    host = re.split(r"[/?#]", text, maxsplit=1)[0]
    looks_like_path = text.startswith(("/", ".", "~")) or "/" not in text and _FILE_SUFFIX.search(text)
    if path.exists() or looks_like_path:
        return _file_target(path, raw)  # a name like page.html means a file, not a host
    if _HOSTNAME.match(re.sub(r":\d+$", "", host)):
        bare = host.split(":")[0] in ("localhost", "127.0.0.1")
        return Target(raw, _check_http(f"{'http' if bare else 'https'}://{text}", raw))
    raise UsageError(f"{shown}: no such file, and not a URL")


def _looks_like_host_port(text: str) -> bool:
    """`localhost:8000/x` has a 'scheme' by the regex but is a host and port."""
    head = text.split("/", 1)[0]
    return bool(re.match(r"^[A-Za-z0-9.-]+:\d+$", head))


def _check_http(url: str, raw: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range
    except ValueError as exc:
        raise UsageError(f"{_shown(raw)}: malformed URL ({exc})") from exc
    if not parts.hostname:
        raise UsageError(f"{_shown(raw)}: malformed URL (no host)")
    if port == 0:
        raise UsageError(f"{_shown(raw)}: malformed URL (port 0)")
    return url


def _exists(raw: str) -> bool:
    """Whether `raw` names something on disk (a path with spaces, /dev/stdin, <(...)'s /dev/fd/63)."""
    return Path(raw).expanduser().exists()


def _file_target(path: Path, raw: str) -> Target:
    path = path.expanduser()
    if not path.exists():
        raise UsageError(f"{_shown(raw)}: no such file")
    if path.is_dir():
        raise UsageError(f"{_shown(raw)}: is a directory")
    # A regular file by its real name; a pipe, FIFO or device as named (/dev/stdin resolves to
    # /proc/PID/fd/pipe:[N], which is no path).
    path = path.resolve() if path.is_file() else path.absolute()
    return Target(raw, path.as_uri(), path)


def read_target_lines(text: str, source: str) -> list[str]:
    """URLs from an --input file: one per line; blank lines and # comments skipped."""
    lines = [line.strip() for line in text.removeprefix("\ufeff").splitlines()]  # a BOM is no part of a URL
    found = [line for line in lines if line and not line.startswith("#")]
    if not found:
        raise UsageError(f"--input {source}: no URLs in it")
    return found
