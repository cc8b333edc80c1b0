"""Playwright's errors, seen as ours: `map_playwright_error` and the predicates browser.py needs.

Pure functions over exception text (no asyncio here): Playwright reports network failures as
"net::ERR_..." inside its message, and a dead driver with a bare Exception.
"""

from __future__ import annotations

import re
import tempfile

from playwright._impl._errors import Error as PlaywrightError  # playwright.async_api.Error, without its ~60 ms import

from gptme_trio.core.errors import DownloadResponse, NavigationError, PageError

_NET_ERRORS = {
    "ERR_NAME_NOT_RESOLVED": "DNS lookup failed",
    "ERR_NAME_RESOLUTION_FAILED": "DNS lookup failed",
    "ERR_CONNECTION_REFUSED": "connection refused",
    "ERR_CONNECTION_RESET": "connection reset",
    "ERR_CONNECTION_CLOSED": "connection closed by the server",
    "ERR_EMPTY_RESPONSE": "empty response from the server",
    "ERR_CONNECTION_TIMED_OUT": "connection timed out",
    "ERR_ADDRESS_UNREACHABLE": "address unreachable",
    "ERR_INTERNET_DISCONNECTED": "no network",
    "ERR_TOO_MANY_REDIRECTS": "too many redirects",
    "ERR_INVALID_RESPONSE": "invalid HTTP response",
    "ERR_INCOMPLETE_CHUNKED_ENCODING": "response body cut off",
    "ERR_CONTENT_LENGTH_MISMATCH": "response body cut off",
    "ERR_UNSAFE_PORT": "port refused by the browser as unsafe",
    "ERR_FILE_NOT_FOUND": "file not found",
    "ERR_BLOCKED_BY_CLIENT": "blocked by the browser",
    # Through the policy proxy (chat): CONNECT refused by the policy, or the host unreachable.
    "ERR_TUNNEL_CONNECTION_FAILED": "refused by the URL policy or unreachable",
    "ERR_PROXY_CONNECTION_FAILED": "the URL-policy proxy is not reachable",
}


def map_playwright_error(exc: PlaywrightError, url: str) -> Exception:
    """Turn a Playwright error into our error tree (the browser is still alive)."""
    message = first_line(exc)
    if "net::ERR_" in message:
        return net_error(message, url)
    if "Download is starting" in message:  # Playwright's words for a navigation that became a download
        return DownloadResponse("the server sent a download, not a page", url=url)
    if "Target crashed" in message or "Page crashed" in message:
        return PageError("the page crashed", url=url)
    if "has been closed" in message:
        return PageError("the page was closed", url=url)
    return PageError(message, url=url)


def net_error(message: str, url: str) -> NavigationError:
    """Our error for a message holding one of Chromium's "net::ERR_..." codes."""
    code = message.split("net::", 1)[1].split()[0].rstrip(";")
    name = code.removeprefix("ERR_")
    if "CERT" in name or "SSL" in name:
        return NavigationError(f"TLS error ({code})", url=url)
    return NavigationError(_NET_ERRORS.get(code, f"navigation failed ({code})"), url=url)


def is_driver_gone(exc: BaseException) -> bool:
    """Playwright reports a dead driver with a bare Exception, not its Error.

    "Target page, context or browser has been closed" is not a sign of it: a closed page
    says the same; the caller asks the browser whether it is still connected.
    """
    return "Connection closed" in str(exc)


def first_line(exc: BaseException) -> str:
    """The first line of a Playwright message, without its 'Page.goto: ' prefix."""
    text = (getattr(exc, "message", None) or str(exc)).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"^\w+\.\w+: ", "", line)


# Chromium's profile (Playwright makes it in the temporary folder) holds Unix sockets, whose paths
# must fit in 108 bytes: under a long TMPDIR, Chromium exits at once and Playwright only says
# "Target page, context or browser has been closed".
_MAX_TMPDIR = 50


def start_hint() -> str:
    """Why a local Chromium may have failed to start, when the machine shows a reason we know; or ""."""
    folder = tempfile.gettempdir()
    if len(folder) > _MAX_TMPDIR:
        return (
            f" (the temporary folder {folder[:40]}… is {len(folder)} characters long: Chromium's sockets in it"
            f" must fit in 108 bytes; set TMPDIR to a shorter one, such as /tmp)"
        )
    return ""
