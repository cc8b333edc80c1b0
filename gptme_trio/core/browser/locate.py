"""Find a Chromium executable to launch (and check the browser options); no I/O beyond the filesystem.

Order: an explicit path (``--browser-path``), ``$GPTME_TRIO_BROWSER``, Playwright's own installed
headless shell, then its Chromium, then ``chromium-headless-shell``, ``chromium``,
``chromium-browser``, ``google-chrome`` and ``google-chrome-stable`` on ``$PATH``.

The headless shell first: it is the Chromium build for headless use (what Playwright itself launches
for ``headless=True``), without the full browser's window and UI code. Debian's 156 on this 2-core
machine: launch 250 -> 80 ms, a new context + tab + local page 240 -> 115 ms, a warm navigation
78 -> 56 ms (bare Playwright, three alternating runs).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from gptme_trio.core.browser.options import BrowserSpec, default_driver_cache
from gptme_trio.core.errors import BrowserNotFound, UsageError

ENV_VAR = "GPTME_TRIO_BROWSER"
SYSTEM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET_ONE = (
    "install one (Debian/Ubuntu: `sudo apt-get install chromium-headless-shell`, or chromium; or "
    "`python -m playwright install chromium`), or point --browser-path / "
    f"${ENV_VAR} at a Chrome or Chromium executable"
)
_WRAPPER_MAX = 512  # bytes: a longer script does more than run the browser (Debian's chromium reads its flags)
# Playwright's installed builds (its registry's folders on Linux), the headless shell first:
# (folder prefix, executable paths inside a build's folder)
_PLAYWRIGHT_BUILDS = (
    (
        "chromium_headless_shell-",
        ("chrome-headless-shell-linux64/chrome-headless-shell", "chrome-linux/headless_shell"),
    ),
    ("chromium-", ("chrome-linux64/chrome", "chrome-linux/chrome")),
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
            return _unwrapped(Path(found))
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
    """Chromium builds installed by `playwright install`: headless shells, then full builds, newest first."""
    root = env.get("PLAYWRIGHT_BROWSERS_PATH")
    if root == "0" or not root:
        root = str(Path(env.get("HOME", "~")).expanduser() / ".cache" / "ms-playwright")
    found = []
    for prefix, paths in _PLAYWRIGHT_BUILDS:
        builds = sorted(Path(root).glob(prefix + "*"), key=lambda b: _build_number(b.name), reverse=True)
        found += [build / rel for build in builds for rel in paths if _is_executable(build / rel)]
    return found


def _unwrapped(path: Path) -> str:
    """The browser a one-line wrapper script runs (Debian's chromium-headless-shell is `#!/bin/sh -e` and
    `/usr/lib/chromium/chromium-headless-shell "$@"`, without exec: the browser would be the shell's
    child, and a signal meant for it would reach the shell); `path` itself otherwise."""
    try:
        with path.open("rb") as file:
            head = file.read(_WRAPPER_MAX)
    except OSError:
        return str(path)
    lines = [line.strip() for line in head.decode("utf-8", "replace").splitlines()[1:]]
    commands = [line for line in lines if line and not line.startswith("#")]
    if not head.startswith(b"#!") or len(head) == _WRAPPER_MAX or len(commands) != 1:
        return str(path)
    words = commands[0].removeprefix("exec ").split()
    target = Path(words[0])
    if words[1:] == ['"$@"'] and target.is_absolute() and target.name == path.name and _is_executable(target):
        return str(target)
    return str(path)


def _build_number(dirname: str) -> int:
    digits = dirname.rsplit("-", 1)[-1]
    return int(digits) if digits.isdigit() else -1


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
