"""What the browser service is asked for: where Chromium comes from, how a page is set up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Playwright's --disable-features (playwright-core 1.64, server/chromium/chromiumSwitches.ts), which a
# --disable-features of ours would otherwise replace. tests/test_chromium_switches.py fails when an upgrade
# changes it.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "DialMediaRouteProvider",
    "GlobalMediaControls", "HttpsUpgrades", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "BlockOriginHeaderModificationOnRedirect",
    "AvoidCorsURLLoaderRestartOnRedirect", "Translate", "AutoDeElevate", "OptimizationHints",
    "NetworkTimeServiceQuerying", "AimEnabled", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)  # fmt: skip
# Chromium 156 renders the address bar's popup as a WebUI page in a renderer of its own, started for every
# new window, and each browser context (one per fetched URL) opens one: ~90 ms more CPU per context
# (290 -> 201 ms per context and page on this machine), for a popup a headless browser never shows.
# RenderDocument gives every navigation of a tab a new frame, made in the renderer beside the old one and
# swapped in at commit: for a reused tab reading one page after another, a warm goto of a small local page
# took 26.7 -> 19.7 ms without it, and the driver and Chromium 50.9 -> 34.8 ms of CPU per read (Playwright
# alone, 6 alternating runs: bench/results/nav_cost.md has ours). Processes stay per site as before.
DISABLED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup", "RenderDocument")
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
    # Chromium reads only the last --disable-features: ours repeats Playwright's own list
    # (PLAYWRIGHT_DISABLED_FEATURES) and adds DISABLED_FEATURES.
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, *DISABLED_FEATURES)),
)
# Blocked without a Python round trip per request (CDP Network.setBlockedURLs).
_BLOCKED_EXTENSIONS = "png jpg jpeg gif webp avif svg ico bmp woff woff2 ttf otf eot mp4 webm mp3 ogg wav m4a"
BLOCKED_URL_PATTERNS = tuple(f"*.{ext}{tail}" for ext in _BLOCKED_EXTENSIONS.split() for tail in ("", "?*"))  # noqa: SIM905


@dataclass(frozen=True)
class BrowserSpec:
    """Where the browser comes from: a local executable or a remote endpoint."""

    executable: str | None = None
    ws_endpoint: str | None = None  # a Playwright server: `playwright launch-server`
    cdp_endpoint: str | None = None  # a Chromium with --remote-debugging-port
    driver_log: Path | None = None  # the driver's stderr goes here instead of the terminal
    driver_cache: Path | None = None  # node's compile cache for the driver (default_driver_cache); None: none


def default_driver_cache(env: Mapping[str, str]) -> Path:
    """Where Playwright's driver keeps node's compile cache (driver.py): $GPTME_TRIO_HOME/cache, else
    the user's cache directory."""
    if env.get("GPTME_TRIO_HOME"):
        return Path(env["GPTME_TRIO_HOME"]).expanduser() / "cache" / "node-compile-cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gptme-trio")) / "node-compile-cache"


@dataclass(frozen=True)
class PageOptions:
    headers: dict[str, str] = field(default_factory=dict)
    user_agent: str | None = None
    storage_state: str | None = None
    block_media: bool = False
    viewport: tuple[int, int] = (1280, 800)
    # Every request the page makes (navigations, redirects, subresources) is first shown to this
    # Trio-flavoured function: None lets it through, a string refuses it (the reason). It costs a
    # round trip to Python per request, so fetch runs without one; chat's URL policy uses it.
    request_filter: Callable[[str], Awaitable[str | None]] | None = field(default=None, compare=False)
    # Grant Chromium's Local Network Access permission: requests to local and private addresses are
    # then left to the request filter. Without it Chromium blocks them from any document the filter
    # fetched and fulfilled itself (such a document has no address, so it counts as public): with
    # --allow-hosts 127.0.0.1, a page's requests to another local port failed (measured).
    local_network: bool = False
    # The URL of the policy proxy (gptme_trio.core.proxy) every connection of the page goes through.
    proxy: str | None = None
    # Behind the proxy, which holds every connection to the policy, the request filter sees every request
    # so that the tab can say what the policy refused (Page.refused: the page tools tell the model).
    # False leaves the refusals to the proxy, unreported: a tab that is only read saves Chromium pausing
    # every request for a round trip through the driver and Python (~4-9 ms of a warm goto of a one-request
    # page: bench/results/nav_cost.md). The filter still words goto()'s refusals. Without a proxy the
    # filter is the policy, and sees every request regardless.
    report_refusals: bool = True


@dataclass(frozen=True)
class Navigation:
    status: int | None
    final_url: str
    content_type: str


def context_kwargs(options: PageOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "viewport": {"width": options.viewport[0], "height": options.viewport[1]},
        "accept_downloads": False,
    }
    if options.headers:
        kwargs["extra_http_headers"] = options.headers
    if options.user_agent:
        kwargs["user_agent"] = options.user_agent
    if options.storage_state:
        kwargs["storage_state"] = options.storage_state
    if options.request_filter is not None:
        # A service worker's requests reach the filter only while Playwright routes them (it does
        # unless PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK is set: then a worker's fetch() got
        # through, measured). A page read once loses nothing without one.
        kwargs["service_workers"] = "block"
    if options.local_network:  # granted as the context is made: no round trip of its own (~5-100 ms)
        kwargs["permissions"] = ["local-network-access"]
    if options.proxy:
        kwargs["proxy"] = {"server": options.proxy}  # Playwright sends loopback through it too (<-loopback>)
    return kwargs
