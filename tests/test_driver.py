"""Pins for core/browser/driver.py, the one place that touches Playwright's internals.

They fail when a Playwright upgrade moves what `driver_start` hooks: the lookup of the driver's
stderr, called right before the driver process is spawned.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import psutil
import trio
from playwright._impl import _transport

from gptme_trio.core.browser import BrowserSpec, PageOptions, open_browser
from gptme_trio.core.browser.driver import spawn_driver
from gptme_trio.core.browser.locate import browser_spec

from .conftest import alive, descendants


def driver_process() -> psutil.Process:
    """The node driver started by this test process."""
    for proc in descendants(os.getpid()):
        if "run-driver" in proc.cmdline():
            return proc
    raise AssertionError("no Playwright driver process found")


def test_playwright_still_asks_the_hooked_lookup_when_it_spawns_the_driver():
    assert callable(getattr(_transport, "_get_stderr_fileno", None))
    source = inspect.getsource(_transport.PipeTransport.connect)
    assert "stderr=_get_stderr_fileno()" in source  # the lookup, in the call that spawns the driver
    assert "create_subprocess_exec" in source


async def test_the_driver_stderr_goes_to_the_log(chromium, tmp_path):
    log = tmp_path / "logs" / "driver.log"
    async with open_browser(BrowserSpec(executable=chromium, driver_log=log)) as browser:
        await browser.start()
        assert Path(os.readlink(f"/proc/{driver_process().pid}/fd/2")) == log
    assert log.exists() and log.stat().st_mode & 0o777 == 0o600


async def test_without_a_log_the_driver_keeps_our_stderr(chromium):
    async with open_browser(BrowserSpec(executable=chromium)) as browser:
        await browser.start()
        assert sys.__stderr__ is not None
        ours = os.readlink(f"/proc/self/fd/{sys.__stderr__.fileno()}")
        assert os.readlink(f"/proc/{driver_process().pid}/fd/2") == ours


async def test_two_services_starting_at_once_each_get_their_own_log(chromium, tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    async with (
        open_browser(BrowserSpec(executable=chromium, driver_log=logs[0])) as one,
        open_browser(BrowserSpec(executable=chromium, driver_log=logs[1])) as two,
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(one.start)
            nursery.start_soon(two.start)
        drivers = [p for p in descendants(os.getpid()) if "run-driver" in p.cmdline()]
        assert sorted(Path(os.readlink(f"/proc/{p.pid}/fd/2")) for p in drivers) == sorted(logs)


async def test_start_reports_started_once_the_driver_is_spawned_before_chromium(chromium):
    """What fetch overlaps its imports with: started() comes when the driver process exists,
    long before it has booted and launched Chromium."""
    async with open_browser(BrowserSpec(executable=chromium)) as browser:
        async with trio.open_nursery() as nursery:
            await nursery.start(browser.start)
            driver = driver_process()  # it exists already
            assert driver.children() == []  # and has not launched Chromium yet
        assert browser.starts == 1 and driver.children()


def test_playwright_still_builds_the_driver_env_with_the_hooked_lookup():
    assert callable(getattr(_transport, "get_driver_env", None))
    source = inspect.getsource(_transport.PipeTransport.connect)
    assert "env = get_driver_env()" in source and "env=env" in source


def driver_env(proc: psutil.Process) -> dict[str, str]:
    return dict(line.split("=", 1) for line in Path(f"/proc/{proc.pid}/environ").read_text().split("\0") if "=" in line)


async def test_the_driver_keeps_node_s_compile_cache_in_the_given_folder(chromium, tmp_path):
    cache = tmp_path / "cache" / "node"
    async with open_browser(BrowserSpec(executable=chromium, driver_cache=cache)) as browser:
        await browser.start()
        assert driver_env(driver_process())["NODE_COMPILE_CACHE"] == str(cache)
        assert cache.stat().st_mode & 0o777 == 0o700
    assert any(p.is_file() for p in cache.rglob("*"))  # node wrote the compiled code as the driver exited


async def test_a_compile_cache_the_user_chose_wins_and_none_is_set_without_one(chromium, tmp_path, monkeypatch):
    monkeypatch.setenv("NODE_COMPILE_CACHE", str(tmp_path / "theirs"))
    async with open_browser(BrowserSpec(executable=chromium, driver_cache=tmp_path / "ours")) as browser:
        await browser.start()
        assert driver_env(driver_process())["NODE_COMPILE_CACHE"] == str(tmp_path / "theirs")
    monkeypatch.delenv("NODE_COMPILE_CACHE")
    async with open_browser(BrowserSpec(executable=chromium)) as browser:
        await browser.start()
        assert "NODE_COMPILE_CACHE" not in driver_env(driver_process())


def test_the_command_line_s_browser_keeps_its_compile_cache_under_gptme_trio_home(chromium, tmp_path, monkeypatch):
    monkeypatch.setenv("GPTME_TRIO_HOME", str(tmp_path))
    for spec in (
        browser_spec(path=chromium, ws_endpoint=None, cdp_endpoint=None),
        browser_spec(path=None, ws_endpoint="ws://127.0.0.1:9/x", cdp_endpoint=None),
    ):
        assert spec.driver_cache == tmp_path / "cache" / "node-compile-cache"


async def test_start_after_an_early_driver_start_reports_started_while_the_driver_boots(chromium):
    """The MCP server starts the driver with itself; its first read then loads the extraction
    libraries while the driver still boots, not after (the driver boots in ~0.3 s)."""
    async with open_browser(BrowserSpec(executable=chromium)) as browser:
        await browser.start_driver()
        async with trio.open_nursery() as nursery:
            await nursery.start(browser.start)
            assert browser.starts == 0  # not waiting for the boot
        assert browser.starts == 1


async def test_a_spawned_driver_is_adopted_by_the_service_and_gone_after_close(chromium, site, tmp_path):
    """gptme-trio fetch spawns the driver before it imports its pipeline; the browser service then drives
    Chromium through that process (no second driver), and close() leaves no process."""
    log, cache = tmp_path / "driver.log", tmp_path / "cache"
    driver = spawn_driver(log, cache)
    try:
        assert [p.pid for p in descendants(os.getpid()) if "run-driver" in p.cmdline()] == [driver.process.pid]
        node = psutil.Process(driver.process.pid)
        assert driver_env(node)["NODE_COMPILE_CACHE"] == str(cache)
        assert Path(os.readlink(f"/proc/{node.pid}/fd/2")) == log and log.stat().st_mode & 0o777 == 0o600
        async with open_browser(BrowserSpec(executable=chromium), driver) as browser:
            async with browser.page(PageOptions()) as page:
                await page.goto(site.url("/normal"), wait_until="load")
                assert "<article>" in await page.content()
            assert driver.adopted
            assert [p.pid for p in descendants(os.getpid()) if "run-driver" in p.cmdline()] == [node.pid]
            assert node.children()  # Chromium, launched by the spawned driver
            tree = [node, *node.children(recursive=True)]
    finally:
        driver.close()
    assert driver.process.returncode is not None and alive(tree) == []


def test_a_spawned_driver_never_adopted_is_killed_by_close(tmp_path):
    driver = spawn_driver(None, None)
    node = psutil.Process(driver.process.pid)
    driver.close()
    assert driver.process.returncode is not None and not node.is_running()


async def test_a_spawned_driver_that_died_is_replaced_by_a_new_one(chromium):
    driver = spawn_driver(None, None)
    driver.process.kill()
    driver.process.wait()
    try:
        async with open_browser(BrowserSpec(executable=chromium), driver) as browser:
            await browser.start()
            assert driver_process().pid != driver.process.pid and driver_process().children()  # Chromium
    finally:
        driver.close()
