"""Retrying a request before its first event: capped exponential backoff, Retry-After.

    reply = await with_retries(attempt, RetryPolicy(), on_retry)

`attempt` raises `Retryable(error, after=...)` for a failure worth another try
(429, 5xx, a connection that could not be opened, a stream that died before its
first event). Once an event reached the caller, nothing is retried: the attempt
raises a plain ProviderError instead. Waits are `trio.sleep`, so the caller's
cancel scope still applies. Before each wait, `on_retry` (the caller's hook, e.g. the
provider's `on_event`) hears why, how long, and which attempt comes next.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import trio

from gptme_trio.core.errors import ProviderError, ProviderHTTPError, StreamBroken
from gptme_trio.llm import Retrying

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """One wait per retry (so `len(delays)` is the retry budget); no wait exceeds `cap`."""

    delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    cap: float = 30.0


class Retryable(Exception):
    """Internal signal from an attempt: `error` is worth another try after `after` s (or the backoff)."""

    def __init__(self, error: ProviderError, *, after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.after = after


async def with_retries(
    attempt: Callable[[], Awaitable[T]], policy: RetryPolicy, on_retry: Callable[[Retrying], None] | None = None
) -> T:
    """Run `attempt` until it succeeds or the retry budget is spent; raise the last error."""
    attempts = len(policy.delays) + 1
    for number, backoff in enumerate((*policy.delays, None), start=1):
        try:
            return await attempt()
        except Retryable as retry:
            if backoff is None:
                raise retry.error from retry.__cause__
            wait = min(max(retry.after if retry.after is not None else backoff, 0.0), policy.cap)
            if on_retry is not None:
                on_retry(Retrying(reason(retry.error), wait, number + 1, attempts))
            await trio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def reason(error: ProviderError) -> str:
    """A few fixed words on why a request is tried again ("rate limited (429)", "server error (503)"):
    never the API's own text, which may echo a key (errors are scrubbed only once they are raised)."""
    if isinstance(error, ProviderHTTPError):
        return f"rate limited ({error.status})" if error.status == 429 else f"server error ({error.status})"
    if isinstance(error, StreamBroken):
        return "the stream broke before the reply began"
    return "could not connect"


def retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` seconds or HTTP-date)."""
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000, 0.0)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _finite(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
