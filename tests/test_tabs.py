"""Reused tabs (BrowserService.tabs): one tab serves many uses; anything odd gets a new one."""

from __future__ import annotations

import os

import pytest
import trio

from gptme_trio.core.browser import PageOptions
from gptme_trio.core.browser import tabs as browser_tabs
from gptme_trio.fetch.engines import RenderOptions
from gptme_trio.fetch.engines.browser import BrowserEngine
from gptme_trio.fetch.targets import Target

from .conftest import alive, until
from .test_browser import browser_process


async def test_a_tab_is_reused_with_a_clean_record(browser, site):
    tabs = browser.tabs(PageOptions())
    async with tabs.page() as first:
        await first.goto(site.url("/console"))
        assert first.console
        await first.evaluate("document.cookie = 'seen=yes; path=/'")
    async with tabs.page() as second:
        assert second is first and second.console == []
        await second.goto(site.url("/headers"))
        assert "seen=yes" not in await second.content()  # cookies do not carry over
        assert await second.title() != "Normal page"


@pytest.mark.parametrize("path", ["/normal#part", "/normal"])
async def test_the_same_url_twice_loads_twice(browser, site, path):
    tabs = browser.tabs(PageOptions())
    for _ in range(2):
        async with tabs.page() as page:
            nav = await page.goto(site.url(path))
            assert nav.status == 200  # a fragment-only change would load nothing: status None


async def test_concurrent_users_get_different_tabs(browser, site):
    tabs = browser.tabs(PageOptions())
    seen = []

    async def use() -> None:
        async with tabs.page() as page:
            seen.append(page)
            await page.goto(site.url("/slow?ms=200"))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(use)
    assert len({id(p) for p in seen}) == 3
    async with tabs.page() as page:
        assert page in seen  # back in the pool


@pytest.mark.serial  # how soon the reset tab is back: timed on an otherwise idle machine
@pytest.mark.parametrize("path", ["/never", "/stall-body", "/slow?ms=5000"])
async def test_a_cancelled_use_resets_the_tab_and_the_next_caller_gets_it(browser, site, path, monkeypatch):
    """Cancelled mid-load, the tab is reset (its loading stopped, a script answers) in the background and
    handed to the next caller: one that asks once the cancelled use has returned, and one that asks
    the moment it cancels it (an MCP client's cancel then its next call), while it still unwinds."""
    monkeypatch.setattr(browser_tabs, "RESET_WAIT", 5)  # which tab: independent of the machine's load
    monkeypatch.setattr(browser_tabs, "RELEASE_WAIT", 5)
    tabs = browser.tabs(PageOptions())
    async with tabs.page() as first:
        await first.goto(site.url("/normal"))

    async def loading(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            async with tabs.page() as page:
                assert page is first
                task_status.started(scope)
                await page.goto(site.url(path))

    waits = []
    for at_once in (False, True) * 2:
        async with trio.open_nursery() as nursery:
            scope = await nursery.start(loading)
            await trio.sleep(0.3)
            scope.cancel()
            if not at_once:  # the cancelled use has returned: its tab is being reset, or already back (~20 ms)
                await until(lambda: tabs.resetting == 1 or first in tabs.idle)
            asked = trio.current_time()
            async with tabs.page() as page:
                waits.append(trio.current_time() - asked)
                assert page is first, f"a new tab (asked at once: {at_once})"
                nav = await page.goto(site.url("/normal"))
                assert nav.status == 200 and await page.title() == "Normal page"
    assert browser.open_contexts == 1
    waits.sort()
    assert waits[1] < 0.3, f"waited {waits} for the reset tab (goal: 50 ms; bench/mcp_bench.py measures it)"


async def test_a_cancelled_or_failed_use_closes_the_tab(browser, site, free_port):
    tabs = browser.tabs(PageOptions())
    async with tabs.page() as wedged:
        await wedged.goto(site.url("/normal"))
    with trio.move_on_after(0.5):
        async with tabs.page() as again:
            assert again is wedged
            await wedged.evaluate("while (true) {}")
    async with tabs.page() as page:  # its reset cannot finish: a new tab after RESET_WAIT
        assert page is not wedged
        await page.goto(site.url("/normal"))
    await until(lambda: tabs.resetting == 0 and wedged.closed, 3)  # the reset gave up after RESET_SECONDS
    assert wedged not in tabs.idle
    try:
        async with tabs.page() as failed:
            await failed.goto(f"http://127.0.0.1:{free_port}/")
    except Exception:
        pass
    async with tabs.page() as page:
        assert page is not failed and page is not wedged
        await page.goto(site.url("/normal"))
    await until(lambda: wedged.closed and failed.closed)  # closing runs in the service's nursery


async def test_a_tab_is_replaced_after_its_uses(browser, site, monkeypatch):
    monkeypatch.setattr(browser_tabs, "TAB_USES", 3)
    tabs = browser.tabs(PageOptions())
    pages = []
    for _ in range(4):
        async with tabs.page() as page:
            pages.append(page)
            await page.goto(site.url("/normal"))
    assert pages[0] is pages[1] is pages[2] and pages[3] is not pages[0]


async def test_popups_are_closed_between_uses(browser, site):
    tabs = browser.tabs(PageOptions())
    async with tabs.page() as page:
        await page.goto(site.url("/normal"))
        await page.evaluate("window.open('/normal'); window.open('/links')")
        await until(lambda: len(page.context.pages) == 3)
    async with tabs.page() as again:
        assert again is page and len(page.context.pages) == 1


@pytest.mark.parametrize("victim", ["chromium", "driver"])
async def test_tabs_of_a_dead_browser_are_replaced(browser, site, victim):
    """Died between uses: the next use gets a fresh browser, transparently (nothing was in flight)."""
    tabs = browser.tabs(PageOptions())
    async with tabs.page() as page:
        await page.goto(site.url("/normal"))
    chromium = browser_process(os.getpid())
    target = chromium if victim == "chromium" else chromium.parent()
    assert target is not None
    target.kill()
    await until(lambda: not alive([target]), 10)  # never reap it here (psutil.wait_procs would): the service's child
    async with tabs.page() as fresh:
        assert fresh is not page
        await fresh.goto(site.url("/normal"))
        assert await fresh.title() == "Normal page"


async def test_the_browser_engine_renders_in_reused_tabs(browser, site):
    engine = BrowserEngine(browser, PageOptions(), RenderOptions())
    for n in range(3):
        snap = await engine.snapshot(Target(site.url(f"/normal?n={n}"), site.url(f"/normal?n={n}")))
        assert snap.status == 200 and snap.html is not None and "Structured concurrency" in snap.html
    assert len(engine.tabs.idle) == 1 and engine.tabs.idle[0].uses == 3
