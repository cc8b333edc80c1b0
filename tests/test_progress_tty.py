"""On a terminal, several URLs show a progress bar on stderr; -q hides it; stdout stays data."""

from __future__ import annotations

import pexpect
import pytest

from .conftest import cli_command, cli_env


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_on_a_terminal(site, tmp_path, quiet):
    urls = [site.url("/slow?ms=700"), site.url("/normal"), site.url("/slow?ms=1200")]
    args = cli_command("fetch", "-j", "1", "-o", str(tmp_path / "out"), *urls, *(["-q"] if quiet else []))
    child = pexpect.spawn(args[0], args[1:], env=cli_env(COLUMNS="100"), timeout=60)
    child.expect(pexpect.EOF)
    child.close()
    screen = child.before.decode(errors="replace")
    assert child.exitstatus == 0, screen
    assert ("fetching" in screen) is not quiet, screen
    assert screen.count("\t") == 3  # the URL -> file mapping, one line per URL
