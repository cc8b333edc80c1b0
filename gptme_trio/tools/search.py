"""Web search for the model: a query in, a numbered Markdown list of results out.

    search = WebSearch(client, "duckduckgo", None)       # or WebSearch(client, "searxng", url)
    tools = search.tools()                               # [Tool "search"]

Engines are entries in one registry (ENGINES): a default base URL, the request
to send, and a parser from the answer's text to Results. Network failures
(core/network.py) become ToolError here, with their reason; configuration mistakes are UsageError when
WebSearch is built. No timeouts of our own: the caller's Trio cancel scope
bounds every call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from gptme_trio.core.errors import ToolError, UsageError
from gptme_trio.core.network import FailureKind, NetworkFailure, network_errors
from gptme_trio.tools import Tool, tool

if TYPE_CHECKING:
    import lxml.html

MAX_RESULTS = 10
SEARCH_URL_ENV = "GPTME_TRIO_SEARCH_URL"  # the variable the user sets for an engine's base URL
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Result:
    title: str
    url: str
    snippet: str


@dataclass(frozen=True)
class Engine:
    """How to ask one search engine, and how to read its answer."""

    path: str  # appended to the base URL
    params: Callable[[str], dict[str, str]]  # query -> URL parameters
    parse: Callable[[str, str], list[Result]]  # (body text, request URL) -> results, or ToolError
    default_base: str | None = None  # None: the user must give the base URL
    headers: Mapping[str, str] = field(default_factory=dict)
    status_hints: Mapping[int, str] = field(default_factory=dict)  # why this engine answers that status


class WebSearch:
    def __init__(self, client: httpx.AsyncClient, engine: str, base_url: str | None) -> None:
        entry = ENGINES.get(engine)
        if entry is None:
            raise UsageError(f"unknown search engine {engine!r}: use one of {', '.join(ENGINES)}")
        base = (base_url or "").strip() or entry.default_base
        if base is None:
            raise UsageError(f"the {engine} search engine needs a server: export {SEARCH_URL_ENV}=https://...")
        if not base.startswith(("http://", "https://")):
            raise UsageError(f"{SEARCH_URL_ENV} must start with http:// or https://, got {base!r}")
        self._client = client
        self._engine = entry
        self.engine = engine
        self.url = base.rstrip("/") + entry.path  # where queries go, without the query string

    def tools(self) -> list[Tool]:
        return [tool(self.search)]

    async def search(self, query: str) -> str:
        """Search the web; returns the top results as a numbered Markdown list of links with snippets.

        Args:
        query: what to search for, as you would type it into a search engine
        """
        query = query.strip()
        if not query:
            raise ToolError("search: the query is empty")
        results = await self.results(query)
        if not results:
            return f"no results for '{query}'"
        return "\n".join(_markdown(number, result) for number, result in enumerate(results, 1))

    async def results(self, query: str) -> list[Result]:
        """At most MAX_RESULTS results for `query`, in the engine's order."""
        text = await self._get(query)
        return self._engine.parse(text, self.url)[:MAX_RESULTS]

    async def _get(self, query: str) -> str:
        where = self.url
        with network_errors(lambda failure: ToolError(_unreachable(failure, where))):
            response = await self._client.get(
                where,
                params=self._engine.params(query),
                headers=dict(self._engine.headers),
                follow_redirects=True,
                timeout=None,  # the caller's cancel scope is the deadline, whatever the client's default
            )
        status = response.status_code
        if status != 200:  # DuckDuckGo answers 202 with a challenge page when it throttles
            hint = self._engine.status_hints.get(status)
            raise ToolError(f"search engine answered HTTP {status} ({where})" + (f": {hint}" if hint else ""))
        return response.text


def _unreachable(failure: NetworkFailure, where: str) -> str:
    kind = failure.kind
    if kind is FailureKind.INVALID_URL:
        return f"search engine URL is invalid: {failure.detail} ({where})"
    if kind in (FailureKind.CONNECT, FailureKind.REFUSED, FailureKind.DNS, FailureKind.TLS):
        why = failure.reason
    elif kind is FailureKind.CLOSED:
        why = "connection closed by the server"
    elif kind is FailureKind.REDIRECTS:
        why = "too many redirects"
    else:
        why = failure.raw
    return f"search engine unreachable: {why} ({where})"


def _markdown(number: int, result: Result) -> str:
    title = result.title.replace("[", "\\[").replace("]", "\\]")
    line = f"{number}. [{title}]({result.url.replace(' ', '%20')})"
    return f"{line}\n   {result.snippet}" if result.snippet else line


def _clean(value: object) -> str:
    """`value` as one line of text ("" for anything but a string)."""
    return " ".join(value.split()) if isinstance(value, str) else ""


# --- DuckDuckGo's HTML page ------------------------------------------------------------------------


def _parse_duckduckgo(text: str, url: str) -> list[Result]:
    import lxml.etree  # here, not at chat's start-up (~10 ms)
    import lxml.html

    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):  # an empty or non-HTML body holds no results
        return []
    results = []
    for block in _select(root, ".result"):
        links = _select(block, "a.result__a")
        if "result--ad" in block.classes or not links or not links[0].get("href"):
            continue
        href = _unwrap(urljoin(url, links[0].get("href")))
        snippets = _select(block, ".result__snippet")
        snippet = _clean(snippets[0].text_content()) if snippets else ""
        results.append(Result(_clean(links[0].text_content()) or href, href, snippet))
    return results


def _select(element: lxml.html.HtmlElement, css: str) -> list[lxml.html.HtmlElement]:
    """What `css` matches under `element` (in an HTML document every element is an HtmlElement)."""
    import lxml.html

    return [found for found in element.cssselect(css) if isinstance(found, lxml.html.HtmlElement)]


def _unwrap(href: str) -> str:
    """The target of DuckDuckGo's redirect link (//duckduckgo.com/l/?uddg=<target>&rut=...), else `href`."""
    parts = urlsplit(href)
    if (parts.hostname or "").endswith("duckduckgo.com") and parts.path.rstrip("/") == "/l":
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return href


# --- SearXNG's JSON API ----------------------------------------------------------------------------


def _parse_searxng(text: str, url: str) -> list[Result]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ToolError(f"search engine sent something that is not JSON ({url})") from exc
    items = data.get("results") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ToolError(f"search engine sent JSON without a results list ({url})")
    results = []
    for item in items:
        link = _clean(item.get("url")) if isinstance(item, dict) else ""
        if link:
            results.append(Result(_clean(item.get("title")) or link, link, _clean(item.get("content"))))
    return results


ENGINES: Mapping[str, Engine] = {
    "duckduckgo": Engine(
        path="/html/",
        params=lambda query: {"q": query},
        parse=_parse_duckduckgo,
        default_base="https://html.duckduckgo.com",
        headers={"User-Agent": BROWSER_USER_AGENT},
        status_hints={
            202: "DuckDuckGo is throttling automated searches; try again later or use searxng",
            403: "DuckDuckGo refused the search; try again later or use searxng",
        },
    ),
    "searxng": Engine(
        path="/search",
        params=lambda query: {"q": query, "format": "json"},
        parse=_parse_searxng,
        status_hints={403: "is json listed under search.formats in the SearXNG settings.yml?"},
    ),
}
