"""Find a Chromium executable to launch (and check the browser options); no I/O beyond the filesystem.

Order: an explicit path (``--browser-path``), ``$GPTME_TRIO_BROWSER``,
Playwright's own installed Chromium, then ``chromium``, ``chromium-browser``,
``google-chrome`` and ``google-chrome-stable`` on ``$PATH``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from gptme_trio.core.browser.options import BrowserSpec, default_driver_cache
from gptme_trio.core.errors import BrowserNotFound, UsageError

ENV_VAR = "GPTME_TRIO_BROWSER"
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET_ONE = (
    "install one (Debian/Ubuntu: `sudo apt-get install chromium`; or "
    "`python -m playwright install chromium`), or point --browser-path / "
    f"${ENV_VAR} at a Chrome or Chromium executable"
)


def find_browser(explicit: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """Return the path of a Chromium-family executable, or raise BrowserNotFound."""
    for source, value in (("--browser-path", explicit), (f"${ENV_VAR}", env.get(ENV_VAR))):
        if value:
            path = shutil.which(value) or value
            if not _is_executable(Path(path)):
                raise BrowserNotFound(f"{source}: {value} is not an executable file")
            return str(path)
    for candidate in _playwright_chromiums(env):
        return str(candidate)
    for name in SYSTEM_NAMES:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    raise BrowserNotFound(f"no Chromium or Chrome found: {HOW_TO_GET_ONE}")


def browser_spec(
    *, path: str | None, ws_endpoint: str | None, cdp_endpoint: str | None, local: bool = True
) -> BrowserSpec:
    """The browser the options ask for, checked (UsageError); `local=False`: none is needed unless remote.
    Playwright's driver keeps node's compile cache in default_driver_cache()."""
    cache = default_driver_cache(os.environ)
    if ws_endpoint and cdp_endpoint:
        raise UsageError("use --browser-endpoint or --cdp-endpoint, not both")
    if ws_endpoint:
        if not ws_endpoint.startswith(("ws://", "wss://")):
            raise UsageError(f"--browser-endpoint {ws_endpoint}: expected ws://host:port/…")
        return BrowserSpec(ws_endpoint=ws_endpoint, driver_cache=cache)
    if cdp_endpoint:
        if not cdp_endpoint.startswith(("http://", "https://", "ws://", "wss://")):
            raise UsageError(f"--cdp-endpoint {cdp_endpoint}: expected http://host:port")
        return BrowserSpec(cdp_endpoint=cdp_endpoint, driver_cache=cache)
    if not local:
        return BrowserSpec(driver_cache=cache)
    return BrowserSpec(executable=find_browser(path), driver_cache=cache)


def _playwright_chromiums(env: Mapping[str, str]) -> list[Path]:
    """Chromium builds installed by `playwright install`, newest first."""
    root = env.get("PLAYWRIGHT_BROWSERS_PATH")
    if root == "0" or not root:
        root = str(Path(env.get("HOME", "~")).expanduser() / ".cache" / "ms-playwright")
    found = []
    for build in Path(root).glob("chromium-*"):
        for rel in ("chrome-linux64/chrome", "chrome-linux/chrome"):
            if _is_executable(build / rel):
                found.append(build / rel)
    return sorted(found, key=lambda p: _build_number(p.parent.parent.name), reverse=True)


def _build_number(dirname: str) -> int:
    digits = dirname.rsplit("-", 1)[-1]
    return int(digits) if digits.isdigit() else -1


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
