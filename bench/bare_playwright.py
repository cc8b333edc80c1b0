"""The reference for bench.fetch_bench: plain asyncio Playwright, nothing else.

    python -m bench.bare_playwright URL [CHROMIUM]

Launches the same Chromium with the same flags as gptme-trio (CHROMIUM_ARGS,
headless, handle_sigint=False), opens one page, goes to URL (wait for "load"),
reads page.content(), closes everything and exits 0. It prints the HTML size
only, so the comparison is not about writing output.
"""

from __future__ import annotations

import asyncio
import sys

from playwright.async_api import async_playwright

# Copied from gptme_trio.core.browser.CHROMIUM_ARGS (bench.fetch_bench checks they match),
# so that this script pays no import cost for gptme_trio.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    # Without a limit, Chromium starts a new renderer process for most navigations of pages
    # loaded side by side (43 for 100 URLs at -j 4, vs 6 with it): 20% fewer pages/s.
    "--renderer-process-limit=4",
    # Else, 3 minutes after start, Chromium launches its on-device-model utility process to benchmark the
    # machine for local AI (OnDeviceModelService: measured at 180 s in an idle browser; none in 260 s with
    # this), which a long run then carries. A class given on the command line means no benchmark.
    "--optimization-guide-performance-class=1",
    # Playwright's own --disable-features repeated (Chromium reads only the last one), the omnibox popup's WebUI,
    # and RenderDocument.
    "--disable-features="
    "AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,DialMediaRouteProvider,GlobalMediaControls,"
    "HttpsUpgrades,LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,BlockOriginHeaderModificationOnRedirect,"
    "AvoidCorsURLLoaderRestartOnRedirect,Translate,AutoDeElevate,OptimizationHints,NetworkTimeServiceQuerying,"
    "AimEnabled,msForceBrowserSignIn,msEdgeUpdateLaunchServicesPreferredVersion,WebUIOmniboxPopup,"
    "WebUIOmniboxAimPopup,WebUIOmniboxFullPopup,RenderDocument",
)


async def main(url: str, executable: str) -> int:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS), headless=True, handle_sigint=False
        )
        page = await browser.new_page()
        await page.goto(url, wait_until="load")
        html = await page.content()
        await page.close()
        await browser.close()
    print(len(html))
    return 0 if "<article>" in html else 1


if __name__ == "__main__":
    if not sys.argv[1:] or sys.argv[1] in ("-h", "--help"):  # no argparse: this script's imports are measured
        sys.exit(print(__doc__))
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "chromium-headless-shell")))
