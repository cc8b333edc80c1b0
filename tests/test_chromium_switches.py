"""What we launch Chromium with (core/browser/options.py CHROMIUM_ARGS), pinned to what it does.

Chromium reads only the last --disable-features it is given, so ours must repeat Playwright's own list;
the pin below fails when a Playwright upgrade changes that list.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import playwright
import psutil
import pytest

from gptme_trio.core.browser import BrowserSpec, PageOptions, open_browser
from gptme_trio.core.browser.options import CHROMIUM_ARGS, DISABLED_FEATURES, PLAYWRIGHT_DISABLED_FEATURES

from .conftest import descendants


def playwrights_disabled_features() -> list[str]:
    bundle = Path(playwright.__file__).parent / "driver" / "package" / "lib" / "coreBundle.js"
    source = bundle.read_text(encoding="utf-8", errors="replace")
    listed = re.search(r"disabledFeatures = \[(.*?)\]", source, re.DOTALL)
    assert listed, "playwright-core no longer lists its disabled features as it did: read chromiumSwitches.ts"
    return re.findall(r'^\s*"(\w+)",?\s*$', listed.group(1), re.MULTILINE)


def test_our_disable_features_keeps_every_one_playwright_disables():
    theirs = playwrights_disabled_features()
    assert len(theirs) >= 10 and set(theirs) <= set(PLAYWRIGHT_DISABLED_FEATURES)
    [ours] = [a for a in CHROMIUM_ARGS if a.startswith("--disable-features=")]
    assert ours.removeprefix("--disable-features=").split(",") == [*PLAYWRIGHT_DISABLED_FEATURES, *DISABLED_FEATURES]


async def test_a_new_context_starts_no_renderer_for_the_address_bar_s_popup(site):
    """The full Chromium 156 (the headless shell has no address bar) gives every new window (each browser
    context) a WebUI renderer for the omnibox popup. Users may point --browser-path at it."""
    full = shutil.which("chromium")
    if full is None:  # .ci/run installs it beside the headless shell
        pytest.fail("this test needs Debian's full chromium (apt-get install chromium)")
    async with open_browser(BrowserSpec(executable=full)) as browser:
        for n in range(2):
            async with browser.page(PageOptions()) as page:
                await page.goto(f"{site.base}/normal?n={n}", wait_until="load")
        renderers = [line for p in descendants(os.getpid()) if "--type=renderer" in (line := command_line(p))]
        assert renderers and not [r for r in renderers if "--top-chrome-webui" in r]


def command_line(proc: psutil.Process) -> str:
    """Its command line; empty for one that has exited meanwhile (a renderer of a closed tab)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""
