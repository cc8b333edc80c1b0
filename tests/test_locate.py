"""Browser discovery: explicit path, env var, Playwright's install, then PATH; else how to get one."""

from pathlib import Path

import pytest

from gptme_trio.core.browser.locate import find_browser
from gptme_trio.core.errors import BrowserNotFound


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def world(tmp_path):
    bin_dir = tmp_path / "bin"
    pw = tmp_path / "ms-playwright"
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "PLAYWRIGHT_BROWSERS_PATH": str(pw)}
    return tmp_path, bin_dir, pw, env


def test_order(world):
    tmp_path, bin_dir, pw, env = world
    system = executable(bin_dir / "chromium")
    assert find_browser(None, env) == str(system)
    old = executable(pw / "chromium-1100" / "chrome-linux" / "chrome")
    new = executable(pw / "chromium-1200" / "chrome-linux64" / "chrome")
    assert find_browser(None, env) == str(new)  # Playwright's newest build beats the system one
    assert old.exists()
    mine = executable(tmp_path / "my-chrome")
    assert find_browser(None, {**env, "GPTME_TRIO_BROWSER": str(mine)}) == str(mine)
    other = executable(tmp_path / "other-chrome")
    assert find_browser(str(other), {**env, "GPTME_TRIO_BROWSER": str(mine)}) == str(other)


def test_names_on_path(world):
    _, bin_dir, _, env = world
    chrome = executable(bin_dir / "google-chrome")
    assert find_browser(None, env) == str(chrome)


def test_errors(world):
    tmp_path, _, _, env = world
    with pytest.raises(BrowserNotFound, match="apt-get install chromium"):
        find_browser(None, env)
    with pytest.raises(BrowserNotFound, match="GPTME_TRIO_BROWSER: .* is not an executable file"):
        find_browser(None, {**env, "GPTME_TRIO_BROWSER": str(tmp_path / "nope")})
    (tmp_path / "plain").write_text("not executable")
    with pytest.raises(BrowserNotFound, match="--browser-path"):
        find_browser(str(tmp_path / "plain"), env)
