"""One error tree for gptme-trio; the CLI's exit codes derive from it.

    GptmeTrioError                  base: anything we raise on purpose
    ├── UsageError                  bad input from the user        -> exit 2
    │   └── BrowserNotFound         no Chromium to launch          -> exit 2
    ├── OutputError                 could not write the output     -> exit 1
    │   └── ReaderGone              stdout's reader left (`| head`) -> exit 141, quietly, as `cat`
    ├── ToolError                   a tool call failed; the model reads why
    │   └── Refused                 the URL policy said no; `.refusal` says why, as data
    │       └── LookupFailed        the host name did not resolve (no refusal: unreachable)
    ├── ProviderError               the LLM provider failed        -> exit 1
    │   ├── ProviderConfigError     no model / key / unknown provider  -> exit 2
    │   ├── ProviderHTTPError       HTTP status from the API (after retries)
    │   │   └── ContextTooLong      the request did not fit the model's context window
    │   ├── MalformedStream         the SSE stream could not be parsed
    │   └── StreamBroken            the stream ended mid-reply (carries the partial reply)
    └── FetchError                  one URL could not be fetched   -> exit 1
        ├── NavigationError         DNS, refused, TLS, reset, redirect loop...
        ├── HTTPStatusError         the server answered with status >= 400
        ├── DeadlineError           the caller's deadline passed first
        ├── ContentError            the body could not be read (PDF, bytes that are no page)
        │   └── DownloadResponse    the browser got a download, not a page (engines read it as http does)
        └── BrowserError            the browser failed us
            ├── BrowserCrashed      Chromium or the Playwright driver died
            └── PageError           the page itself failed (JS, closed page)

Foreign exceptions are mapped into this tree once, at the module that talks to
them, with ``raise OurError(...) from exc``: Playwright and asyncio in
`core/browser/errors.py`, httpx (and the socket/TLS errors under it) in
`core/network.py`, pypdf in `fetch/extract.py`; an OSError is worded by
`os_reason`. Nothing else needs to know they exist. A `FetchError` carries the
URL it concerns; a `Refused` carries a `Refusal`: code reads its fields, never
its message.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_SIGPIPE = 141  # 128 + SIGPIPE: what a shell shows for `cat big | head`


class GptmeTrioError(Exception):
    """Base of every error gptme-trio raises on purpose."""

    exit_code = EXIT_FAILED


class UsageError(GptmeTrioError):
    """The user asked for something we cannot do (bad URL, option, file)."""

    exit_code = EXIT_USAGE


class BrowserNotFound(UsageError):
    """No Chromium/Chrome executable could be found."""


class OutputError(GptmeTrioError):
    """Writing the output failed (disk full, stdout closed by its reader)."""


class ReaderGone(OutputError):
    """The reader of our stdout went away (a broken pipe): nothing more can be shown, and a shell
    pipeline expects the quiet exit of a process killed by SIGPIPE."""

    exit_code = EXIT_SIGPIPE


def os_reason(exc: BaseException) -> str:
    """The short human reason of an OSError ("No such file or directory"); for anything else
    (a ValueError from a path, say) its message, or its type's name when it has none."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def printable(text: str, limit: int = 200) -> str:
    """`text` for a one-line message: control characters (and other unprintables) escaped as
    Python would write them, cut to about `limit` characters with an ellipsis."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ToolError(GptmeTrioError):
    """A tool call failed in a way the model should be told about."""


class RefusalKind(Enum):
    """Why the URL policy refused a URL."""

    SCHEME = "scheme"  # not http(s)
    MALFORMED_URL = "malformed URL"  # the URL does not parse
    NO_HOST = "no host"
    MALFORMED_HOST = "malformed host"  # no host a browser could connect to
    LOOKUP = "lookup"  # the name did not resolve (LookupFailed)
    NO_ADDRESS = "no address"  # the name resolved to nothing (LookupFailed)
    NOT_AN_ADDRESS = "not an address"  # the resolver answered something that is no IP address
    ADDRESS = "address"  # the host is, or resolves to, an address that is not public


class AddressClass(Enum):
    """What kind of non-public address made the policy refuse a host (an embedded IPv4 address
    of an IPv6 one, NAT64 or 6to4 say, is classed by that IPv4 address)."""

    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"
    RESERVED = "reserved"
    NOT_GLOBAL = "not global"  # special-purpose ranges without a class of their own (100.64/10, ...)


@dataclass(frozen=True)
class Refusal:
    """Why the URL policy refused: the kind, and the fields that kind fills in. `message` is what the
    model reads, `reason` the same without the "refused: " prefix and the hint (for the browser's
    filter and the policy proxy's header)."""

    kind: RefusalKind
    url: str = ""  # SCHEME, MALFORMED_URL, NO_HOST, MALFORMED_HOST: the URL as given
    host: str = ""  # the canonical host (LOOKUP, NO_ADDRESS, NOT_AN_ADDRESS, ADDRESS)
    scheme: str = ""  # SCHEME: the scheme ("this" when there is none to show)
    detail: str = ""  # MALFORMED_URL, MALFORMED_HOST: the parser's words
    answers: tuple[str, ...] = ()  # NOT_AN_ADDRESS: what the resolver answered
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None  # ADDRESS: the refused address
    address_class: AddressClass | None = None  # ADDRESS: what kind of address it is

    @property
    def reason(self) -> str:
        kind = self.kind
        if kind is RefusalKind.SCHEME:
            return f"only http(s) URLs may be opened, not {self.scheme}: {self.url}"
        if kind is RefusalKind.MALFORMED_URL:
            return f"malformed URL ({self.detail}): {self.url}"
        if kind is RefusalKind.NO_HOST:
            return f"no host in {self.url}"
        if kind is RefusalKind.MALFORMED_HOST:
            return f"malformed host in {self.url} ({self.detail})"
        if kind is RefusalKind.LOOKUP:
            return f"DNS lookup failed for {self.host}"
        if kind is RefusalKind.NO_ADDRESS:
            return f"{self.host} has no address"
        if kind is RefusalKind.NOT_AN_ADDRESS:
            return f"{self.host} resolved to something that is not an address: {list(self.answers)}"
        return f"{self.host} is a local or private address ({self.address})"

    @property
    def message(self) -> str:
        if self.kind is RefusalKind.LOOKUP:
            return self.reason  # not a refusal: the name cannot be reached at all
        hint = "; the user can allow it with --allow-hosts" if self.kind is RefusalKind.ADDRESS else ""
        return f"refused: {self.reason}{hint}"


class Refused(ToolError):
    """The URL policy refused a URL the model chose; `refusal` says why."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class LookupFailed(Refused):
    """The host name did not resolve, or to no address: the page cannot be reached (kind LOOKUP or
    NO_ADDRESS)."""


class ProviderError(GptmeTrioError):
    """Talking to the LLM provider failed. Never carries an API key in its message."""


class ProviderConfigError(ProviderError):
    """No usable model: unknown provider, missing key, malformed -m value."""

    exit_code = EXIT_USAGE


class ProviderHTTPError(ProviderError):
    """The API answered with an error status (429/5xx only after retries)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ContextTooLong(ProviderHTTPError):
    """The API refused the request as longer than the model's context window (chat compacts the
    conversation once and tries again); `limit`: the window in tokens, when the API said it."""

    def __init__(self, message: str, *, status: int, limit: int | None = None) -> None:
        super().__init__(message, status=status)
        self.limit = limit


class MalformedStream(ProviderError):
    """The API's event stream was not what the protocol says."""


class StreamBroken(ProviderError):
    """The stream ended before the reply was complete; `partial` holds what arrived."""

    def __init__(self, message: str, *, partial: object = None) -> None:
        super().__init__(message)
        self.partial = partial


class FetchError(GptmeTrioError):
    """Fetching one URL failed; `url` says which."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class NavigationError(FetchError):
    """The page could not be reached (DNS, connection, TLS, redirects)."""


class HTTPStatusError(FetchError):
    """The server answered with an HTTP status >= 400."""

    def __init__(self, message: str, *, url: str = "", status: int = 0) -> None:
        super().__init__(message, url=url)
        self.status = status


class DeadlineError(FetchError):
    """The per-URL deadline passed before the page was done."""


def timed_out(seconds: float, *, restarted: bool) -> str:
    """What a passed deadline says; `restarted`: a browser crash and its (transparent) restart ate
    into it, which would otherwise read as a slow page."""
    return f"timed out after {seconds:g} s" + (
        "; the browser died meanwhile and was started again" if restarted else ""
    )


class ContentError(FetchError):
    """The response arrived but its body could not be turned into content."""


class DownloadResponse(ContentError):
    """The browser was sent a download (an attachment, a type it does not show) instead of a page."""


class BrowserError(FetchError):
    """The browser failed while working on a URL."""


class BrowserCrashed(BrowserError):
    """Chromium or the Playwright driver died; the next call starts a new one."""


class PageError(BrowserError):
    """The page failed (script error in --js, closed target, bad selector)."""
