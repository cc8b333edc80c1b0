"""core/errors.py: the one wording of an OSError (`os_reason`), and where the CLI shows it."""

from __future__ import annotations

import errno
import os

import pytest

from gptme_trio.core.errors import GptmeTrioError, Refused, ToolError, os_reason


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/x"), "No such file or directory"),
        (PermissionError(errno.EACCES, os.strerror(errno.EACCES)), "Permission denied"),
        (OSError("a message, no errno"), "a message, no errno"),
        (OSError(), "OSError"),
        (ValueError("embedded null byte"), "embedded null byte"),  # a path the OS cannot take
        (RuntimeError(), "RuntimeError"),
    ],
)
def test_os_reason_is_the_short_human_reason(exc, reason):
    assert os_reason(exc) == reason


def test_a_real_failure_is_worded_without_errno_or_path(tmp_path):
    with pytest.raises(OSError) as caught:
        (tmp_path / "missing" / "file").read_bytes()
    assert os_reason(caught.value) == "No such file or directory"


def test_tool_errors_and_refusals_are_in_the_tree():
    assert issubclass(Refused, ToolError) and issubclass(ToolError, GptmeTrioError)


def test_the_cli_words_an_unreadable_input_file_with_it(run_cli, tmp_path):
    missing = tmp_path / "urls.txt"
    result = run_cli("fetch", "-i", str(missing))
    assert result.returncode == 2
    assert f"--input {missing}: No such file or directory" in result.stderr.decode()
