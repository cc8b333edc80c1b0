"""A closed stdin (`<&-`) or stdout (`>&-`) is named as such: one line, never a traceback (issue 14, items 20
and 11)."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import cli_command, cli_env


def run_without_stdin(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        cli_command(*args),
        preexec_fn=lambda: os.close(0),  # as the shell's <&-: Python starts with sys.stdin None
        capture_output=True,
        timeout=60,
        env=cli_env(GPTME_TRIO_MODEL=""),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chat"], "gptme-trio: stdin is closed: give the prompt as an argument"),
        (["chat", "-n"], "gptme-trio: stdin is closed: give the prompt as an argument"),
        (["fetch", "-i", "-"], "gptme-trio: -i -: stdin is closed; pipe URLs in, or give -i FILE"),
    ],
)
def test_a_closed_stdin_is_one_usage_line(args, message):
    result = run_without_stdin(*args)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err


def run_without_stdout(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        cli_command(*args),
        preexec_fn=lambda: os.close(1),  # as the shell's >&-: Python starts with sys.stdout None
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
        env=cli_env(),
    )


def test_a_closed_stdout_is_one_line_and_exit_1(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>some text</p></body></html>")
    result = run_without_stdout("fetch", "--engine", "http", str(page))
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.strip() == "gptme-trio: stdout is closed: nothing could be written (give -o FILE or -o DIR)"


def test_a_closed_stdout_does_not_stop_writing_files(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>some text</p></body></html>")
    result = run_without_stdout("fetch", "--engine", "http", "-o", str(tmp_path / "out") + "/", str(page))
    assert result.returncode == 0, result.stderr.decode()
    assert "some text" in (tmp_path / "out" / "page.md").read_text()
