"""A closed stdin (`<&-`) is named as such: one line, exit 2, never a traceback (issue 14, item 20)."""

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
