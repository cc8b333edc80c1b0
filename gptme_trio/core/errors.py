"""One error tree for gptme-trio; the CLI's exit codes derive from it.

    GptmeTrioError                  base: anything we raise on purpose
    ├── UsageError                  bad input from the user        -> exit 2
    │   └── BrowserNotFound         no Chromium to launch          -> exit 2
    ├── OutputError                 could not write the output     -> exit 1
    ├── ProviderError               the LLM provider failed        -> exit 1
    │   ├── ProviderConfigError     no model / key / unknown provider  -> exit 2
    │   ├── ProviderHTTPError       HTTP status from the API (after retries)
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

Foreign exceptions (Playwright, httpx, asyncio) are mapped into this tree at
the module that talks to them (`browser/`, `engines/http.py`) with
``raise OurError(...) from exc``; nothing else needs to know they exist.
A `FetchError` carries the URL it concerns.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


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
