"""RequestGuard: a tab's request filter, applied in the browser to every request of the tab.

Asyncio-flavoured on purpose: Playwright calls these handlers on the loop. The filter itself is a
Trio function (url -> None, or why not), called through trio-asyncio.

Playwright routes only the first request of a redirect chain: Chromium follows the later hops
by itself. So a document that passes is fetched here without following redirects
(`route.fetch(max_redirects=0)`), a redirect's Location meets the filter, and Chromium never
sees the redirect: the next hop becomes a new navigation, routed like the first (page.goto
follows it itself; other navigations get a page that does `location.replace(hop)`).
Subresources go through unfetched (`continue_`): only their first URL is checked here.
WebSockets are not routed: with `route_web_socket`, an allowed socket's `connect_to_server()`
never reached the server from a page loaded with goto (Playwright 1.64, plain asyncio too).
Both meet the policy in the policy proxy (gptme_trio.core.proxy) instead, when the page has one: it
sees every connection, redirect hops and WebSockets included. Its refusals and failures arrive
here as answers to `route.fetch()` with a header saying so, and are reported as ours.

goto()'s own document, behind the proxy, is the one navigation not fetched here: once it passed
the filter it goes on (`continue_`) and Chromium follows its redirects itself, each hop a new
connection that meets the policy in the proxy. goto() reads the proxy's answer (page.py): a
refused hop (the 403's header; over https, the refused tunnel, judged again by the filter) or a
failed connection (the 502's header) is reported as the filter reports it. That saves the fetch's
round trips through Python on every read (bench/results/nav_cost.md); the tab then shows the
proxy's refusal page instead of ours.

A tab that is only read, behind the proxy (PageOptions.report_refusals False), routes nothing: its
requests meet the policy in the proxy alone, and the guard only judges goto() as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urljoin

from gptme_trio.core.browser.errors import net_error
from gptme_trio.core.errors import NavigationError
from gptme_trio.core.proxy import ERROR_HEADER, REFUSED_HEADER

# route.fetch()'s failures (Node's error codes) -> route.abort()'s error codes (Chromium's net errors)
_FETCH_ERRORS = {
    "ECONNREFUSED": "connectionrefused",
    "ECONNRESET": "connectionreset",
    "ENOTFOUND": "namenotresolved",
    "EAI_AGAIN": "namenotresolved",
    "ETIMEDOUT": "timedout",
    "EHOSTUNREACH": "addressunreachable",
    "ENETUNREACH": "internetdisconnected",
}


# route.abort()'s error codes that the policy proxy sends (ERROR_HEADER) -> Chromium's net errors
_ABORTED_AS = {
    "connectionrefused": "ERR_CONNECTION_REFUSED",
    "connectionreset": "ERR_CONNECTION_RESET",
    "connectionclosed": "ERR_CONNECTION_CLOSED",
    "namenotresolved": "ERR_NAME_NOT_RESOLVED",
    "timedout": "ERR_TIMED_OUT",
    "addressunreachable": "ERR_ADDRESS_UNREACHABLE",
    "internetdisconnected": "ERR_INTERNET_DISCONNECTED",
}


def _proxy_verdict(url: str, headers: dict[str, str]) -> tuple[str | None, str | None]:
    """What the policy proxy said of a document it answered itself (plain http: an https answer is the
    server's): (why it refused, None), (None, Chromium's "net::ERR_..." for a failed connection), or
    (None, None): the server's own answer."""
    if not url.startswith("http:"):
        return None, None
    if (code := headers.get(ERROR_HEADER)) is not None:
        return None, f"net::{_ABORTED_AS.get(code, 'ERR_FAILED')}"
    return headers.get(REFUSED_HEADER), None


class GuardedPage(Protocol):
    """What the guard needs from its tab (page.Page): where to report, and whether goto() runs."""

    @property
    def closed(self) -> bool: ...

    @property
    def in_goto(self) -> bool:
        """Whether a main-frame navigation now is goto()'s."""
        ...

    def note_refused(self, url: str, reason: str) -> None:
        """A request of the page was refused (`reason`)."""
        ...

    def note_refused_navigation(self, shown_at: str, why: str) -> None:
        """The tab's document was refused: the tab shows our refusal page at `shown_at`."""
        ...

    def redirect_goto(self, hop: str) -> None:
        """goto()'s document redirects to `hop` (allowed): goto() navigates there next."""
        ...


class RequestGuard:
    """The filter of one tab. `stop()` cancels the checks in flight (a fetch that never answers
    would outlive the tab). `proxied`: the tab is behind the policy proxy (see the module)."""

    def __init__(
        self,
        page: GuardedPage,
        check: Callable[[str], Awaitable[str | None]],
        trio_as_aio: Callable[[Callable[..., Any]], Callable[..., Any]],
        proxied: bool,
    ) -> None:
        self._page = page
        self._trio_check = check  # the Trio filter, for goto()'s judgement (judge)
        self._check = trio_as_aio(check)  # the same, callable from the loop
        self._proxied = proxied
        self._claimable = False  # goto()'s document not yet seen in this navigation of goto()
        self._failed = ("", "")  # goto()'s last failed main-frame document request: (url, Chromium's error)
        self._tasks: set[asyncio.Task[Any]] = set()

    def next_goto(self) -> None:
        """A navigation of goto() begins: its document is the next main-frame navigation request."""
        self._claimable, self._failed = self._proxied, ("", "")

    def note_failed(self, request: Any, failure: str) -> None:
        """A navigation request failed while goto() ran (the page's requestfailed event)."""
        if request.frame.parent_frame is None:
            self._failed = (request.url, failure)

    async def judge(self, url: str, response: Any = None) -> None:
        """Trio-flavoured, for goto() behind the proxy (its document went on unfetched): the proxy's
        refusal or failed connection in its `response`, or a failed https tunnel that the filter
        refuses (a refused https hop), raised as the filter reports them."""
        if not self._proxied:
            return
        (hop, failure), why = self._failed, None
        if response is not None:
            hop, (why, failed) = response.url, _proxy_verdict(response.url, response.headers)
            if failed is not None:
                raise net_error(failed, url)
        elif "ERR_TUNNEL_CONNECTION_FAILED" in failure:
            why = await self._trio_check(hop)
        if why is not None:
            self._page.note_refused(hop, why)
            raise NavigationError(f"refused by the URL policy: {hop} ({why})", url=url)

    async def install(self, context: Any) -> None:
        await context.route("**/*", self._guarded(self._request))

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _guarded(self, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        async def guarded(route: Any) -> None:
            task = asyncio.current_task()
            if task is not None:  # always: Playwright runs handlers as tasks
                self._tasks.add(task)
            try:
                await handler(route)
            except Exception:  # the page went away meanwhile: nothing to answer
                if not self._page.closed:
                    with contextlib.suppress(Exception):
                        await _refuse_quietly(route)  # never let it through unchecked
            finally:
                if task is not None:
                    self._tasks.discard(task)

        return guarded

    async def _request(self, route: Any) -> None:
        request = route.request
        url = request.url
        reason = await self._check(url)
        if reason is None and not request.is_navigation_request():
            await route.continue_()  # see the module's docstring: its redirect hops are not checked
            return
        if reason is None and self._claimable and self._page.in_goto and request.frame.parent_frame is None:
            self._claimable = False
            await route.continue_()  # behind the proxy: goto() reads its refusal or failure (see the docstring)
            return
        if reason is None:
            try:
                response = await route.fetch(max_redirects=0)
            except Exception as exc:  # as Chromium would have failed it, so the reason survives
                if not self._page.closed:
                    await route.abort(next((c for e, c in _FETCH_ERRORS.items() if e in str(exc)), "failed"))
                return
            location = response.headers.get("location")
            hop = urljoin(url, location) if 300 <= response.status < 400 and location else None
            if (code := response.headers.get(ERROR_HEADER)) is not None:  # the policy proxy could not connect
                await route.abort(code)
                return
            if (reason := response.headers.get(REFUSED_HEADER)) is None:
                if hop is None:
                    await route.fulfill(response=response)
                    return
                if (reason := await self._check(hop)) is None:
                    await self._redirect(route, request, hop)
                    return
            url = hop or url
        self._page.note_refused(url, reason)
        if request.is_navigation_request() and request.frame.parent_frame is None:
            # Aborted, it would leave Chrome's error page, or a document whose load event
            # never comes (goto would wait for it forever): a page of our own says what happened.
            self._page.note_refused_navigation(request.url, f"{url} ({reason})")  # the tab shows it at request.url
            body = _refused_page(url, reason)
            await route.fulfill(status=403, content_type="text/html; charset=utf-8", body=body)
        else:
            await route.abort("blockedbyclient")

    async def _redirect(self, route: Any, request: Any, hop: str) -> None:
        """Chromium is never handed a redirect: it would request every later hop unchecked. The next
        hop becomes a new navigation instead, routed like the first: page.goto() goes there itself;
        a navigation of the page's own (a click, a script, a frame) gets a page that goes there."""
        if self._page.in_goto and request.frame.parent_frame is None:
            self._page.redirect_goto(hop)
            await route.abort("aborted")  # goto() sees it and navigates to the hop
            return
        target = json.dumps(hop).replace("</", "<\\/")
        body = f"<!doctype html><title>Redirecting</title><script>location.replace({target})</script>"
        await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)


async def _refuse_quietly(route: Any) -> None:
    await route.abort("failed")


def _refused_page(url: str, reason: str) -> str:
    return (
        "<!doctype html><title>Refused</title><p>gptme-trio's URL policy refused to open "
        f"{html.escape(url)}: {html.escape(reason)}</p>"
    )
