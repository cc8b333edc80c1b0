"""Remote browsers: a Playwright server and a Chromium over CDP, both started here on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator

import pytest
from playwright._impl._driver import compute_driver_executable

from gptme_trio.browser import CHROMIUM_ARGS


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
    for line in proc.stderr:
        found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if found:
            break
    else:
        pytest.fail("Chromium printed no DevTools endpoint")
    yield f"http://127.0.0.1:{found.group(1)}"
    stop_group(proc)


@pytest.mark.parametrize("kind", ["ws", "cdp"])
def test_fetch_through_a_remote_browser(run_cli, site, request, kind):
    if kind == "ws":
        option, endpoint = "--browser-endpoint", request.getfixturevalue("playwright_server")
    else:
        option, endpoint = "--cdp-endpoint", request.getfixturevalue("cdp_chromium")
    for _ in range(2):  # the remote browser survives our exit and serves the next run
        result = run_cli(
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
def test_unreachable_endpoint_is_one_clear_error(run_cli, site, free_port, option):
    scheme = "ws" if option == "--browser-endpoint" else "http"
    result = run_cli("fetch", option, f"{scheme}://127.0.0.1:{free_port}/", site.url("/normal"), site.url("/js-title"))
    err = result.stderr.decode()
    assert result.returncode == 1 and "could not start the browser" in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
