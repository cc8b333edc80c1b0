"""A Chromium that cannot start says why, when the reason is one we can see from here."""

from __future__ import annotations

import shutil
import tempfile

import pytest


def test_a_temporary_folder_too_long_for_chromiums_sockets_is_named(run_cli, tmp_path):
    """The full browser's sockets live in TMPDIR; the headless shell (the default where installed) has none."""
    full = shutil.which("chromium")
    if full is None:  # .ci/run installs it beside the headless shell
        pytest.fail("this test needs Debian's full chromium (apt-get install chromium)")
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    with tempfile.TemporaryDirectory(prefix="x" * 70, dir="/tmp") as long_tmp:
        ran = run_cli("fetch", "-q", "--browser-path", full, str(page), TMPDIR=long_tmp)
        default = run_cli("fetch", "-q", str(page), TMPDIR=long_tmp)
    err = ran.stderr.decode()
    assert ran.returncode == 1, err
    assert "characters long: Chromium's sockets in it must fit in 108 bytes" in err and "TMPDIR" in err
    assert len(err.strip().splitlines()) == 1
    assert default.returncode == 0 and default.stdout.decode().strip() == "x", default.stderr
