"""The fault matrix's fast subset: every fault once per scenario, at a fixed moment, against the real CLI.

bench/fault_matrix.py runs 200 random trials and writes the counts; this file imports its trial runner
by path (bench/ is not a package; tests/test_soak.py does the same with soak_bench) so that the script
and the tests check one thing one way, and the script stays runnable on its own. One test = one trial:
`fetch -j 2` over 7 pages, or `chat -n` with two prompts each making a read_url call (then a resume),
with SIGINT, SIGTERM, SIGKILL of a renderer / the browser / the driver (mid-page, and as the browser
launches), or a page whose body stalls or is cut off. A failure says what the trial found: exit code,
errors, the next operation, the log, leftover processes. Only 127.0.0.1. About 80 s.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import trio
from playwright.async_api import BrowserContext, CDPSession

from bench import fault_matrix as fm
from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.core.browser import PageOptions
from gptme_trio.core.errors import PageError
from gptme_trio.fetch.batch import FetchOptions, fetch_one
from gptme_trio.fetch.engines import RenderOptions
from gptme_trio.fetch.engines.browser import BrowserEngine
from gptme_trio.fetch.targets import Target
from gptme_trio.llm import ToolCall
from gptme_trio.tools import tool

from .conftest import alive, descendants, until
from .support.scripted import ScriptedProvider

MOMENTS = {"kill-at-launch": 0.0, "stall-body": 0.3, "close-body": 0.3}  # others: 0.5 s into the first page
# Seed 1 picks the newest renderer (the page's), the browser (not the driver) at launch, the cut page first in fetch.
TRIALS = [fm.Trial(s, f, MOMENTS.get(f, 0.5), seed=1) for s in fm.SCENARIOS for f in fm.FAULTS]


@pytest.fixture(autouse=True)
def _quick_hangs(monkeypatch):
    monkeypatch.setattr(fm, "HANG_LIMIT", 15.0)  # a trial takes 2-6 s; a hang costs this


@pytest.mark.serial  # timing-sensitive: nox runs it after the parallel part, alone
@pytest.mark.parametrize("trial", TRIALS, ids=[f"{t.scenario}-{t.fault}" for t in TRIALS])
def test_fault(site, tmp_path, trial):
    outcome = fm.run_trial(trial, site.base, tmp_path)
    assert outcome.ok, outcome.explain()


@pytest.mark.serial  # a latency bound: failed under the parallel phase's load
def test_body_cut_off_is_reported_as_such_at_once(site, cli):
    started = time.monotonic()
    result = cli("fetch", "-q", "-t", "5", site.url("/close-body?ms=100"))
    assert result.returncode == 1 and b"response body cut off" in result.stderr, result.stderr
    assert time.monotonic() - started < 4


@pytest.mark.serial  # timing-sensitive: under the parallel phase's load a fresh browser took over 3 s (CI)
async def test_a_browser_dying_while_a_tab_opens_is_replaced_within_the_callers_deadline(browser, site, monkeypatch):
    # Playwright 1.64's new_page() never settles when Chromium dies under it (its 'disconnected' event fires):
    # the wait used to last the service's own 10 s bound whatever the caller's deadline.
    await browser.start()
    [chromium] = [p for p in descendants(os.getpid()) if fm.role_of(p) == "browser"]
    original = BrowserContext.new_page

    async def new_page_as_chromium_dies(self, *args, **kwargs):  # what Playwright does, made certain
        monkeypatch.setattr(BrowserContext, "new_page", original)  # once: the next browser works
        chromium.kill()
        await asyncio.Event().wait()

    monkeypatch.setattr(BrowserContext, "new_page", new_page_as_chromium_dies)
    with trio.fail_after(5):  # the caller's deadline (the service's own bound is 10 s): a fresh browser takes ~0.5 s
        async with browser.page(PageOptions()) as page:
            navigation = await page.goto(site.url("/normal"))
    assert navigation.status == 200
    assert not chromium.is_running()


@pytest.mark.serial  # timing-sensitive: nox runs it after the parallel part, alone
@pytest.mark.parametrize("crash", [False, True])
async def test_a_deadline_that_a_browser_restart_ate_into_says_so(browser, site, crash):
    """Chromium dies between uses: the next use restarts it transparently, inside that URL's deadline. If
    the deadline then passes, the error says the browser died (a crash must not read as a slow page)."""
    engine = BrowserEngine(browser, PageOptions(), RenderOptions())
    assert (await fetch_one(Target("/normal", site.url("/normal")), engine, FetchOptions())).error is None
    if crash:
        [chromium] = [p for p in descendants(os.getpid()) if fm.role_of(p) == "browser"]
        chromium.kill()
        await until(lambda: not alive([chromium]), 10)  # never reap it here: it is the service's child
    record = await fetch_one(Target("/never", site.url("/never")), engine, FetchOptions(seconds_per_url=3))
    restarted = "; the browser died meanwhile and was started again"
    assert record.error == "timed out after 3 s" + (restarted if crash else "")


@pytest.mark.parametrize("crash", [False, True])
async def test_a_tool_call_that_a_browser_restart_ate_into_says_so(crash):
    starts = [1]

    async def never(url: str) -> str:
        """Hang after a browser restart (or not)."""
        starts[0] += crash
        await trio.sleep_forever()

    agent = Agent(ScriptedProvider(), {"never": tool(never, starts=lambda: starts[0])}, ChatSettings(tool_timeout=0.2))
    text, ok = await agent.call_tool(ToolCall("call-1", "never", {"url": "http://example.test/"}))
    restarted = "; the browser died meanwhile and was started again"
    assert not ok and text == "error: timed out after 0.2 s" + (restarted if crash else "")


async def test_a_renderer_dying_while_its_tab_is_set_up_fails_that_tab_at_once(browser, site, monkeypatch):
    """A CDP session's send to a page whose renderer died never answers (Playwright 1.64). The fault matrix
    caught it: a renderer killed as fetch set up a tab (blocking media, over CDP) left that URL to its
    deadline, reported as a timeout. The page's crash event now ends every call in flight on it."""
    await browser.start()
    original = CDPSession.send

    async def send_as_the_renderer_dies(self, method, params=None):
        if method == "Network.enable":
            monkeypatch.setattr(CDPSession, "send", original)  # once
            pages = [p for p in descendants(os.getpid()) if "--type=renderer" in p.cmdline()]
            pages = [p for p in pages if "--top-chrome-webui" not in p.cmdline()]
            max(pages, key=lambda p: (p.create_time(), p.pid)).kill()  # the new tab's: the send is in flight
        return await original(self, method, params)

    monkeypatch.setattr(CDPSession, "send", send_as_the_renderer_dies)
    with trio.fail_after(5), pytest.raises(PageError, match="the page crashed"):  # not the deadline
        async with browser.page(PageOptions(block_media=True)) as page:
            await page.goto(site.url("/normal"))
    async with browser.page(PageOptions(block_media=True)) as page:  # the browser itself is fine
        assert (await page.goto(site.url("/normal"))).status == 200
