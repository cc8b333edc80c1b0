"""Remote browsers: a Playwright server and a Chromium over CDP, both started here on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright._impl._driver import compute_driver_executable

from gptme_trio.chat.session import on_this_machine
from gptme_trio.core.browser import CHROMIUM_ARGS, BrowserSpec

from .test_chat_cli import chat, tool_results


def start_group(cmd: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL, text=True, **kwargs)


def stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def playwright_server(chromium, tmp_path) -> Iterator[str]:
    config = tmp_path / "server.json"
    config.write_text(
        json.dumps(
            {"executablePath": chromium, "args": list(CHROMIUM_ARGS), "host": "127.0.0.1", "port": 0, "headless": True}
        )
    )
    node, cli = compute_driver_executable()
    proc = start_group(
        [node, cli, "launch-server", "--browser", "chromium", "--config", str(config)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("ws://127.0.0.1:"), line
    yield line
    stop_group(proc)


@pytest.fixture
def cdp_chromium(chromium, tmp_path) -> Iterator[str]:
    args = [
        chromium,
        *CHROMIUM_ARGS,
        "--headless",
        "--remote-debugging-port=0",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={tmp_path / 'profile'}",
        "about:blank",
    ]
    proc = start_group(args, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if found:
            break
    else:
        pytest.fail("Chromium printed no DevTools endpoint")
    yield f"http://127.0.0.1:{found.group(1)}"
    stop_group(proc)


@pytest.mark.parametrize("kind", ["ws", "cdp"])
def test_fetch_through_a_remote_browser(cli, site, request, kind):
    if kind == "ws":
        option, endpoint = "--browser-endpoint", request.getfixturevalue("playwright_server")
    else:
        option, endpoint = "--cdp-endpoint", request.getfixturevalue("cdp_chromium")
    for _ in range(2):  # the remote browser survives our exit and serves the next run
        result = cli(
            "fetch",
            option,
            endpoint,
            "-f",
            "json",
            "-j",
            "2",
            site.url("/js-title"),
            site.url("/normal"),
            site.url("/status/404"),
            GPTME_TRIO_BROWSER="/nonexistent",
        )  # proves no local browser is looked for
        assert result.returncode == 1, result.stderr
        records = [json.loads(line) for line in result.stdout.decode().splitlines()]
        assert [r["title"] for r in records[:2]] == ["Title from JavaScript", "Normal page"]
        assert records[2]["error"] == "HTTP 404"


@pytest.mark.parametrize("option", ["--browser-endpoint", "--cdp-endpoint"])
def test_unreachable_endpoint_is_one_clear_error(cli, site, free_port, option):
    scheme = "ws" if option == "--browser-endpoint" else "http"
    result = cli("fetch", option, f"{scheme}://127.0.0.1:{free_port}/", site.url("/normal"), site.url("/js-title"))
    err = result.stderr.decode()
    assert result.returncode == 1 and "could not start the browser" in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("kind", ["local", "ws", "cdp"])
def test_chat_with_a_browser_on_this_machine_uses_the_policy_proxy(llm, site, request, tmp_path, kind):
    """The model's page loads an image whose redirect hop goes to localhost: only the proxy can refuse it."""
    options = []
    if kind == "ws":
        options = ["--browser-endpoint", request.getfixturevalue("playwright_server")]
    elif kind == "cdp":
        options = ["--cdp-endpoint", request.getfixturevalue("cdp_chromium")]
    target = f"/lure-target-{uuid.uuid4().hex}"
    hop = site.url("/redirect-to?url=" + quote(site.url(target).replace("127.0.0.1", "localhost"), safe=""))
    lure = site.url("/lure?to=" + quote(hop))
    server = llm([{"tool_calls": [{"name": "open_page", "arguments": {"url": lure}}]}, {"text": "Done."}])
    result = chat(tmp_path / "home", server, *options, "--allow-hosts", "127.0.0.1", "Open it")
    assert result.returncode == 0, result.stderr
    assert b"not on this machine" not in result.stderr
    assert "Lure page" in tool_results(server.requests()[-1])[0]
    with urllib.request.urlopen(site.url("/hits")) as response:
        counts = json.load(response)
    assert counts.get("/redirect-to", 0) >= 2 and counts.get(target, 0) == 0  # the image's and fetch()'s first hops


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        ("ws://127.0.0.1:3000/abc", True),
        ("http://localhost:9222", True),
        ("ws://[::1]:3000/", True),
        ("http://127.1.2.3:9222", True),
        ("ws://10.0.0.5:3000/abc", False),
        ("http://browser.internal:9222", False),
        ("wss://[2001:db8::1]:443/", False),
    ],
)
def test_only_a_browser_on_this_machine_is_given_the_proxy(endpoint, local):
    spec = BrowserSpec(ws_endpoint=endpoint) if endpoint.startswith("ws") else BrowserSpec(cdp_endpoint=endpoint)
    assert on_this_machine(spec) is local


@pytest.mark.serial
@pytest.mark.parametrize("option", ["--browser-endpoint", "--cdp-endpoint"])
def test_a_hung_endpoint_is_bounded_by_the_deadline(cli, site, option):
    """A server that takes the connection and never answers: the old code always waited 60 s (item 17)."""
    scheme = "ws" if option == "--browser-endpoint" else "http"
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)  # connections complete in the backlog; nobody ever answers
        port = hung.getsockname()[1]
        started = time.monotonic()
        result = cli("fetch", "-t", "3", option, f"{scheme}://127.0.0.1:{port}/", site.url("/normal"))
        took = time.monotonic() - started
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "did not answer within 3 s" in err and len(err.splitlines()) == 1, err
    assert took < 15, took
