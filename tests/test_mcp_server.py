"""`gptme-trio mcp` as a subprocess, driven by the MCP SDK's own client (stdio, and once over HTTP).

What an agent sees: the tool list (chat's schemas plus max_length, start_index, timeout), a page's
content, a refused URL, a deadline, a cancelled call and the call after it, progress notifications.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from gptme_trio.chat.toolset import ALL as CHAT_TOOLS
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.mcp.calls import MCP_ARGUMENTS
from gptme_trio.mcp.plan import ALL as MCP_TOOLS
from gptme_trio.mcp.plan import DEFAULT
from gptme_trio.tools.search import WebSearch
from gptme_trio.tools.web import WebTools
from tests.support import ROOT

from .conftest import cli_command, cli_env

pytestmark = pytest.mark.serial  # deadlines and cancellation latency: measured on an idle machine


@asynccontextmanager
async def served(tmp_path: Path, *args: str) -> AsyncIterator[ClientSession]:
    command = cli_command("mcp", *args)
    params = StdioServerParameters(command=command[0], args=command[1:], env=cli_env(), cwd=str(ROOT))
    with (tmp_path / "server-stderr.txt").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def test_tools_list_is_chats_tools_plus_the_mcp_arguments(tmp_path, browser):
    web = WebTools(browser, UrlPolicy(()), tmp_path)  # built as chat builds them
    async with httpx.AsyncClient() as client:
        chat = {t.name: t for t in [*web.tools(), *web.fetch_tools(), *WebSearch(client, "duckduckgo", None).tools()]}
    assert set(MCP_TOOLS) == {*CHAT_TOOLS, "fetch"}  # --tools knows every tool chat has, and fetch
    async with served(tmp_path) as session:
        listed = {t.name: t for t in (await session.list_tools()).tools}
    assert sorted(listed) == sorted(DEFAULT)  # no shell or file tool unless named
    for name, tool in listed.items():
        own, schema = chat[name].parameters, tool.input_schema
        assert tool.description == chat[name].description
        assert schema["properties"] == {**own["properties"], **MCP_ARGUMENTS}, name
        assert schema["required"] == own["required"] and schema["additionalProperties"] is False


async def test_named_tools_only_and_hands_only_when_named(tmp_path):
    async with served(tmp_path, "--tools", "read_url,shell") as session:
        names = sorted(t.name for t in (await session.list_tools()).tools)
    assert names == ["read_url", "shell", "shell_kill", "shell_output"]


async def test_read_url_pages_refusal_and_unknown_tool(tmp_path, site):
    async with served(tmp_path, "--allow-hosts", "127.0.0.1") as session:
        whole = await session.call_tool("read_url", {"url": site.url("/normal")})
        assert not whole.is_error, text_of(whole)
        assert "hung page costs its timeout" in text_of(whole)
        first = await session.call_tool("read_url", {"url": site.url("/normal"), "max_length": 100})
        body, note = text_of(first).rsplit("\n\n", 1)
        assert len(body) == 100 and body == text_of(whole)[:100]
        assert re.fullmatch(r"\[characters 0-100 of [\d,]+; call again with start_index=100 for more\]", note)
        second = await session.call_tool("read_url", {"url": site.url("/normal"), "start_index": 100})
        assert text_of(second).startswith(text_of(whole)[100:200])
        gone = await session.call_tool("read_url", {"url": site.url("/status/404")})
        assert gone.is_error and "404" in text_of(gone)
        unknown = await session.call_tool("nope", {})
        assert unknown.is_error and "no tool named 'nope'" in text_of(unknown)
    async with served(tmp_path) as session:  # no --allow-hosts: loopback is refused, with the reason
        refused = await session.call_tool("read_url", {"url": site.url("/normal")})
    assert refused.is_error
    assert text_of(refused) == (
        "refused: 127.0.0.1 is a local or private address (127.0.0.1); the user can allow it with --allow-hosts"
    )


async def test_cancelled_call_frees_the_server_and_the_next_call_works(tmp_path, site):
    """Cancelled after 1 s: the tab is reset (its navigation stopped, its renderer pinged) and back for
    reuse in ~20-45 ms on a loaded 2-core machine (goal 50 ms: bench/mcp_bench.py measures the
    distribution); the bound here is generous, for a loaded CI machine. The next call succeeds."""
    log = tmp_path / "server.log"
    async with served(tmp_path, "--allow-hosts", "127.0.0.1", "-v", "--log", str(log)) as session:
        warm = await session.call_tool("read_url", {"url": site.url("/normal")})  # the browser is up
        assert not warm.is_error, text_of(warm)
        normal = []
        for _ in range(3):
            started = time.perf_counter()
            await session.call_tool("read_url", {"url": site.url("/normal")})
            normal.append(time.perf_counter() - started)
        for _ in range(3):
            with trio.move_on_after(1) as scope:  # the SDK sends notifications/cancelled
                await session.call_tool("read_url", {"url": site.url("/never")})
            assert scope.cancelled_caught
            started = time.perf_counter()
            after = await session.call_tool("read_url", {"url": site.url("/normal")})
            took = time.perf_counter() - started
            assert not after.is_error, text_of(after)
            # the cancelled call's tab is reset and reused, not closed and reopened (~0.7 s more)
            assert took < max(normal) * 1.5 + 0.3, f"the call after a cancelled one took {took:.2f} s vs {normal}"
    text = log.read_text()
    resets = [float(ms) for ms in re.findall(r"tab reset ([\d.]+) ms after its use was cancelled", text)]
    assert len(resets) == 3 and "tab closed" not in text, text
    assert sorted(resets)[1] < 250, f"tab back for reuse {resets} ms after the cancels (goal: 50 ms)"


async def test_deadline_gives_is_error_on_time_with_progress(tmp_path, site):
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with served(tmp_path, "--allow-hosts", "127.0.0.1", "--tool-timeout", "20") as session:
        await session.call_tool("read_url", {"url": site.url("/normal")})  # the browser is up
        started = time.perf_counter()
        result = await session.call_tool(
            "read_url", {"url": site.url("/never"), "timeout": 3}, progress_callback=on_progress
        )
        took = time.perf_counter() - started
        assert result.is_error and text_of(result) == "timed out after 3 s", text_of(result)
        assert 2.9 < took < 5, took
        capped = await session.call_tool("read_url", {"url": site.url("/never"), "timeout": 999})
        assert capped.is_error and text_of(capped) == "timed out after 20 s"
    assert len(seen) >= 2 and all(total == 3 for _, total, _ in seen), seen
    assert [round(value) for value, _, _ in seen[:2]] == [1, 2]


async def test_fetch_with_fetchs_options(tmp_path, site):
    async with served(tmp_path, "--allow-hosts", "127.0.0.1", "--tools", "fetch") as session:
        late = await session.call_tool(
            "fetch", {"url": site.url("/late"), "wait_for": "#late", "format": "text", "js": "document.title"}
        )
        assert not late.is_error, text_of(late)
        record = await session.call_tool("fetch", {"url": site.url("/normal"), "format": "json", "selector": "p"})
        bad = await session.call_tool("fetch", {"url": site.url("/normal"), "format": "png"})
    import json

    fields = json.loads(text_of(record))
    assert fields["status"] == 200 and fields["content"] and "hung page" not in fields["content"], (
        fields
    )  # the first <p>
    assert "Content that arrived late" in text_of(late)
    assert re.search(r'\n\n\[js result: ".*"\]$', text_of(late)), text_of(late)
    assert bad.is_error and text_of(bad) == "fetch: format must be one of markdown, text, html, json, not 'png'"


async def test_screenshot_is_an_image(tmp_path, site):
    async with served(tmp_path, "--allow-hosts", "127.0.0.1", "--tools", "screenshot") as session:
        result = await session.call_tool("screenshot", {"url": site.url("/normal")})
    images = [block for block in result.content if block.type == "image"]
    assert not result.is_error and len(images) == 1 and images[0].mime_type == "image/png"
    import base64

    assert base64.b64decode(images[0].data).startswith(b"\x89PNG")


@asynccontextmanager
async def http_server(*args: str) -> AsyncIterator[str]:
    """`gptme-trio mcp --http 127.0.0.1:0 ARGS` running; yields its /mcp URL (from its stderr line)."""
    proc = await trio.lowlevel.open_process(
        cli_command("mcp", "--http", "127.0.0.1:0", "--allow-hosts", "127.0.0.1", *args),
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        assert proc.stderr is not None
        seen = b""
        with trio.fail_after(20):
            while b"/mcp\n" not in seen:
                seen += await proc.stderr.receive_some(4096)
        url = re.search(rb"MCP server at (http://\S+/mcp)", seen)
        assert url, seen
        yield url[1].decode()
    finally:
        proc.send_signal(15)
        with trio.fail_after(5):
            assert await proc.wait() == 143


async def test_streamable_http(site):
    async with http_server() as endpoint:
        async with (
            streamable_http_client(endpoint) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert sorted(t.name for t in (await session.list_tools()).tools) == sorted(DEFAULT)
            result = await session.call_tool("read_url", {"url": site.url("/normal")})
            assert not result.is_error and "hung page costs its timeout" in text_of(result)
            with trio.move_on_after(1):
                await session.call_tool("read_url", {"url": site.url("/never")})
            again = await session.call_tool("read_url", {"url": site.url("/normal")})
            assert not again.is_error
        async with httpx.AsyncClient() as client:  # DNS rebinding: a foreign Host is refused
            foreign = await client.post(endpoint, headers={"Host": "evil.example:80"}, json={})
        assert foreign.status_code in (403, 421), foreign.status_code


async def test_http_bearer_token():
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with http_server("--auth-token", "s3cret") as endpoint:
        async with httpx.AsyncClient() as client:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                denied = await client.post(endpoint, headers=headers, json={})
                assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        async with (
            create_mcp_http_client(headers={"Authorization": "Bearer s3cret"}) as http,
            streamable_http_client(endpoint, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert "read_url" in [t.name for t in (await session.list_tools()).tools]


def test_non_loopback_http_needs_a_token(run_cli):
    ran = run_cli("mcp", "--http", "0.0.0.0:8765")
    assert ran.returncode == 2
    assert ran.stderr.decode().strip() == (
        "gptme-trio: --http 0.0.0.0: listening beyond this machine needs --auth-token TOKEN "
        "(clients then send 'Authorization: Bearer TOKEN')"
    )


def test_without_the_extra_says_how_to_install_it(run_cli, tmp_path):
    fake = tmp_path / "mcp"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named mcp')\n")
    ran = run_cli("mcp", PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr.decode() == "gptme-trio: the MCP server needs the optional extra: pip install 'gptme-trio[mcp]'\n"
    assert ran.stdout == b""


def test_fetch_never_loads_the_sdk():
    code = (
        "import sys, gptme_trio.cli, gptme_trio.fetch.batch\n"
        "print(any(m.split('.')[0] in ('mcp', 'hypercorn') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("tools", "loaded"), [("read_url,search", "True 1"), ("search,shell", "False 0")])
def test_the_libraries_a_read_needs_are_loaded_before_the_client_is_met(chromium, tools, loaded):
    """Not inside the first read: there they would wait for Chromium's launch (the driver is up by then)."""
    code = (
        "import sys, trio\n"
        "from gptme_trio.core.browser import BrowserSpec\n"
        "from gptme_trio.mcp.plan import McpPlan\n"
        "from gptme_trio.mcp.toolset import open_tools\n"
        "async def main():\n"
        f"    plan = McpPlan(BrowserSpec(executable={chromium!r}), tools={tuple(tools.split(','))!r})\n"
        "    async with open_tools(plan):\n"
        "        from gptme_trio.fetch import classify\n"
        "        print('trafilatura' in sys.modules, classify.shipped.cache_info().currsize)\n"
        "trio.run(main)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=cli_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == loaded
