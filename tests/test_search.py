"""The search tool over real HTTP against tests/support/pages.py's fake DuckDuckGo (/ddg) and SearXNG (/searx)."""

from __future__ import annotations

import httpx
import pytest
import trio

from gptme_trio.core.errors import ToolError, UsageError
from gptme_trio.tools.search import BROWSER_USER_AGENT, ENGINES, MAX_RESULTS, WebSearch

BASES = {"duckduckgo": "/ddg", "searxng": "/searx"}
BOTH = pytest.mark.parametrize("engine", sorted(BASES))
UNUSED = httpx.AsyncClient(trust_env=False)  # WebSearch() only stores it


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=None, trust_env=False) as client:
        yield client


@pytest.fixture
def make(site, client):
    """A WebSearch on the fake engine served by the test site."""
    return lambda engine: WebSearch(client, engine, site.url(BASES[engine]))


# --- results ---------------------------------------------------------------------------------------


async def test_duckduckgo_results_are_unwrapped_and_ads_dropped(make):
    out = await make("duckduckgo").search("  trio nursery ")
    assert out == (
        "1. [Wrapped result for trio nursery](https://example.com/wrapped?a=1&b=caf%C3%A9)\n"
        "   The first snippet, trio nursery.\n"
        "2. [Direct result for trio nursery](https://example.org/direct)\n"
        "   The second snippet."
    )


async def test_searxng_results_skip_those_without_url(make):
    out = await make("searxng").search("trio nursery")
    assert out == (
        "1. [First for trio nursery](https://example.com/one)\n"
        "   First snippet.\n"
        "2. [Second for trio nursery](https://example.org/two)"
    )


@BOTH
async def test_unicode_and_reserved_characters_arrive_intact(make, engine):
    query = 'café "naïve" & 日本語 50%+1 ?#/ <b>'
    results = await make(engine).results(query)
    assert [r.title for r in results][:2] == (
        [f"Wrapped result for {query}", f"Direct result for {query}"]
        if engine == "duckduckgo"
        else [f"First for {query}", f"Second for {query}"]
    )


@BOTH
async def test_at_most_ten_results(make, engine):
    out = await make(engine).search("many results")
    lines = [line for line in out.splitlines() if line[0].isdigit()]
    assert len(lines) == MAX_RESULTS == 10
    assert lines[-1] == "10. [Result 10 for many results](https://example.net/10)"


@BOTH
async def test_no_results(make, engine):
    assert await make(engine).search("nothing") == "no results for 'nothing'"


@BOTH
@pytest.mark.parametrize("query", ["", "   \n\t"])
async def test_empty_query_is_a_tool_error(make, engine, query):
    with pytest.raises(ToolError, match="query is empty"):
        await make(engine).search(query)


def test_duckduckgo_relative_hrefs_and_empty_pages():
    parse = ENGINES["duckduckgo"].parse
    page = '<div class="result"><a class="result__a" href="/rel"> A\n title </a></div><div class="result">no link</div>'
    assert [(r.title, r.url, r.snippet) for r in parse(page, "https://html.duckduckgo.com/html/")] == [
        ("A title", "https://html.duckduckgo.com/rel", "")
    ]
    assert parse("", "https://html.duckduckgo.com/html/") == parse("  ", "https://x.example/") == []


async def test_brackets_in_titles_and_spaces_in_urls_keep_the_links_whole():
    body = {"results": [{"title": "[PDF] a [draft]", "url": "https://x.example/a b(1).pdf", "content": "c"}]}
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    async with httpx.AsyncClient(transport=mock) as client:
        out = await WebSearch(client, "searxng", "https://searx.example").search("draft")
    assert out == "1. [\\[PDF\\] a \\[draft\\]](https://x.example/a%20b(1).pdf)\n   c"


@pytest.mark.parametrize(
    ("href", "url"),
    [
        (
            "//duckduckgo.com/l/?uddg=https%3A%2F%2Fa.example%2Fx%3Fy%3D1%26z%3D%25C3%25A9&rut=9",
            "https://a.example/x?y=1&z=%C3%A9",
        ),
        ("https://duckduckgo.com/l/?kh=-1&uddg=https%3A%2F%2Fb.example%2F", "https://b.example/"),
        ("https://duckduckgo.com/l/?rut=9", "https://duckduckgo.com/l/?rut=9"),  # nothing to unwrap
        ("https://example.org/l/?uddg=https%3A%2F%2Fc.example", "https://example.org/l/?uddg=https%3A%2F%2Fc.example"),
        ("https://example.org/direct", "https://example.org/direct"),
    ],
)
def test_duckduckgo_redirect_links_are_unwrapped(href, url):
    page = f'<div class="result"><a class="result__a" href="{href.replace("&", "&amp;")}">T</a></div>'
    assert [r.url for r in ENGINES["duckduckgo"].parse(page, "https://html.duckduckgo.com/html/")] == [url]


async def test_duckduckgo_default_request():
    """No base URL: html.duckduckgo.com, the query URL-encoded, a browser's User-Agent (nothing leaves the host)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, html="<html><body><div class='no-results'>No results.</div></body></html>")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), headers={"User-Agent": "gptme-trio"}) as client:
        assert await WebSearch(client, "duckduckgo", None).search("a&b c") == "no results for 'a&b c'"
    [request] = seen
    assert str(request.url) == "https://html.duckduckgo.com/html/?q=a%26b+c"
    assert request.headers["User-Agent"] == BROWSER_USER_AGENT
    assert request.extensions["timeout"] == {"connect": None, "read": None, "write": None, "pool": None}


# --- errors the model sees -------------------------------------------------------------------------


@BOTH
async def test_connection_refused(client, free_port, engine):
    search = WebSearch(client, engine, f"http://127.0.0.1:{free_port}/")
    path = ENGINES[engine].path
    with pytest.raises(ToolError) as caught:
        await search.search("trio")
    assert str(caught.value) == f"search engine unreachable: connection refused (http://127.0.0.1:{free_port}{path})"


async def test_tls_error(client, site):
    with pytest.raises(ToolError, match=r"^search engine unreachable: TLS error \(.*certificate"):
        await WebSearch(client, "searxng", site.tls_base).search("trio")


async def test_http_status(make):
    with pytest.raises(ToolError, match=r"^search engine answered HTTP 503 \(http://127\.0\.0\.1:\d+/searx/search\)$"):
        await make("searxng").search("fail")


@pytest.mark.parametrize(
    ("engine", "status", "hint"),
    [
        ("duckduckgo", 202, ": DuckDuckGo is throttling"),
        ("searxng", 403, ": is json listed under search.formats"),
        ("searxng", 404, ""),
    ],
)
async def test_status_hints(engine, status, hint):
    mock = httpx.MockTransport(lambda request: httpx.Response(status, html="<p>no</p>"))
    async with httpx.AsyncClient(transport=mock) as client:
        with pytest.raises(ToolError) as caught:
            await WebSearch(client, engine, "https://search.example").search("trio")
    url = "https://search.example" + ENGINES[engine].path
    assert str(caught.value).startswith(f"search engine answered HTTP {status} ({url}){hint}")
    assert hint or str(caught.value).endswith(")")


@pytest.mark.parametrize(
    ("query", "reason"),
    [("garbage", "sent something that is not JSON"), ("shapeless", "sent JSON without a results list")],
)
async def test_searxng_bad_json(make, query, reason):
    with pytest.raises(ToolError, match=f"^search engine {reason} "):
        await make("searxng").search(query)


@pytest.mark.serial  # a latency bound (back < 0.2 s after the deadline): 0.21 s once in the parallel phase
@BOTH
async def test_deadline_around_a_search_that_never_answers(site, client, engine):
    search = WebSearch(client, engine, site.url("/never"))
    with trio.move_on_after(0.5) as scope:
        await search.search("trio")
    assert scope.cancelled_caught
    assert trio.current_time() - scope.deadline < 0.2


# --- configuration and the tool's schema -----------------------------------------------------------


def test_unknown_engine():
    with pytest.raises(UsageError, match="unknown search engine 'bing': use one of duckduckgo, searxng$"):
        WebSearch(UNUSED, "bing", None)


@pytest.mark.parametrize("base", [None, "", "  "])
def test_searxng_needs_a_base_url(base):
    with pytest.raises(UsageError) as caught:
        WebSearch(UNUSED, "searxng", base)
    message = str(caught.value)
    assert "GPTME_TRIO_SEARCH_URL" in message and "\n" not in message
    assert caught.value.exit_code == 2


def test_base_url_must_be_http():
    with pytest.raises(UsageError, match="GPTME_TRIO_SEARCH_URL must start with http:// or https://"):
        WebSearch(UNUSED, "searxng", "searx.local")


async def test_tool_schema_and_run(make):
    search = make("searxng")
    [tool] = search.tools()
    assert tool.name == "search"
    assert tool.description.startswith("Search the web") and "Args" not in tool.description
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": tool.parameters["properties"]["query"]["description"]}
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    assert "search engine" in tool.parameters["properties"]["query"]["description"]
    assert tool.name == "search"
    with pytest.raises(ToolError):
        tool.check_arguments({"query": 3})
    out = await tool.run(**tool.check_arguments({"query": "from the tool"}))
    assert out.startswith("1. [First for from the tool](https://example.com/one)")
