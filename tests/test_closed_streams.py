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


@pytest.mark.parametrize("engine", ["http", "browser"])
def test_a_reader_that_leaves_ends_the_run_quietly_with_141_as_cat_does(tmp_path, engine):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>" + "A line of the page. " * 2000 + "</p></body></html>")
    script = f"{' '.join(cli_command('fetch', '-q', '--engine', engine))} {' '.join([str(page)] * 40)} | head -c 10"
    ran = subprocess.run(
        ["bash", "-c", script + "; exit ${PIPESTATUS[0]}"], capture_output=True, env=cli_env(), timeout=120
    )
    assert ran.returncode == 141, ran.stderr
    assert ran.stderr == b"" and len(ran.stdout) == 10


@pytest.mark.parametrize("engine", ["http", "browser"])
def test_a_local_file_chromium_would_download_is_read_by_its_type(run_cli, tmp_path, engine):
    archive = tmp_path / "data.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    ran = run_cli("fetch", "-q", "--engine", engine, str(archive))
    err = ran.stderr.decode()
    assert ran.returncode == 1
    assert "cannot extract text from application/zip content" in err
    assert "Protocol" not in err and "Traceback" not in err
