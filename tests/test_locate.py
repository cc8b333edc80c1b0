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
    shell = executable(bin_dir / "chromium-headless-shell")
    assert find_browser(None, env) == str(new)  # still Playwright's
    pw_shell = pw / "chromium_headless_shell-1100"
    pw_shell = executable(pw_shell / "chrome-headless-shell-linux64" / "chrome-headless-shell")
    assert find_browser(None, env) == str(pw_shell)  # its headless shell before its full build, even an older one
    pw_shell.unlink()
    shell_dir = pw.rename(tmp_path / "elsewhere")
    assert find_browser(None, env) == str(shell)  # the system's headless shell before its chromium
    shell_dir.rename(pw)
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
    with pytest.raises(BrowserNotFound, match="apt-get install chromium-headless-shell"):
        find_browser(None, env)
    with pytest.raises(BrowserNotFound, match="GPTME_TRIO_BROWSER: .* is not an executable file"):
        find_browser(None, {**env, "GPTME_TRIO_BROWSER": str(tmp_path / "nope")})
    (tmp_path / "plain").write_text("not executable")
    with pytest.raises(BrowserNotFound, match="--browser-path"):
        find_browser(str(tmp_path / "plain"), env)


def test_a_one_line_wrapper_is_seen_through(world):
    """Debian's chromium-headless-shell runs the browser as the shell's child (no exec): we launch the browser."""
    tmp_path, bin_dir, _, env = world
    real = executable(tmp_path / "lib" / "chromium-headless-shell")
    wrapper = bin_dir / "chromium-headless-shell"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh -e\n\n{real} "$@"\n')
    wrapper.chmod(0o755)
    assert find_browser(None, env) == str(real)
    wrapper.write_text(f'#!/bin/sh\n. /etc/chromium.d/flags\nexec {real} $FLAGS "$@"\n')  # more than a wrapper
    assert find_browser(None, env) == str(wrapper)
