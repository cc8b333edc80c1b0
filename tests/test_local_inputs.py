"""Every input is bounded and obeys -t and Ctrl-C: local paths with spaces, /dev/stdin, <(...),
FIFOs, devices, -i lists and http bodies (issue 14: items 8 and 10; part of 11).

Devices are our own nodes (os.mknod with /dev/zero's numbers) in a temporary directory."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import trio

from gptme_trio.core.reading import read_limited, read_limited_sync

from .conftest import alive, cli_command, cli_env, descendants, wait_for_descendants

ENGINES = ["http", "browser"]


@pytest.fixture
def fetch(run_cli):
    return lambda *args, **kwargs: run_cli("fetch", "-q", *args, **kwargs)


@pytest.fixture
def zero(tmp_path):
    node = tmp_path / "zero"
    os.mknod(node, stat.S_IFCHR | 0o444, os.makedev(1, 5))  # /dev/zero's numbers
    return node


def _clean(err: str) -> None:
    assert "internal error" not in err and "Traceback" not in err and "Event loop is closed" not in err, err
    assert "Protocol" not in err, err


@pytest.mark.parametrize("engine", ENGINES)
def test_a_path_with_spaces_stdin_and_process_substitution_are_read(fetch, tmp_path, engine):
    folder = tmp_path / "my pages"
    folder.mkdir()
    (folder / "a page.html").write_text("<html><body><p>The spaced page's text.</p></body></html>")
    ran = fetch("--engine", engine, str(folder / "a page.html"))
    assert ran.returncode == 0, ran.stderr
    assert "The spaced page's text." in ran.stdout.decode()

    ran = fetch("--engine", engine, "/dev/stdin", input=b"<html><body><p>Text from standard input.</p></body></html>")
    assert ran.returncode == 0, ran.stderr
    assert "Text from standard input." in ran.stdout.decode()

    script = f"{' '.join(cli_command('fetch', '-q', '--engine', engine))} <(echo '<p>From a process substitution.</p>')"
    ran = subprocess.run(["bash", "-c", script], capture_output=True, env=cli_env(), timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "From a process substitution." in ran.stdout.decode()
    _clean(ran.stderr.decode())


@pytest.mark.serial
@pytest.mark.parametrize("engine", ENGINES)
def test_a_fifo_without_a_writer_is_that_urls_timeout_and_the_run_goes_on(fetch, tmp_path, engine):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>The page after the FIFO.</p></body></html>")
    started = time.monotonic()
    ran = fetch("--engine", engine, "-t", "8", str(fifo), str(page))
    took = time.monotonic() - started
    err = ran.stderr.decode()
    assert ran.returncode == 1
    assert "timed out after 8 s" in err and "The page after the FIFO." in ran.stdout.decode()
    _clean(err)
    assert took < 40  # browser start-up included; the old http engine never returned


@pytest.mark.parametrize("engine", ENGINES)
def test_a_fifo_is_read_when_its_writer_comes(fetch, tmp_path, engine):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def write_later() -> None:
        time.sleep(1)
        with open(fifo, "w") as fh:
            fh.write("<html><body><p>Written into the FIFO late.</p></body></html>")

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        ran = fetch("--engine", engine, "-t", "30", str(fifo))
    finally:
        writer.join()
    assert ran.returncode == 0, ran.stderr
    assert "Written into the FIFO late." in ran.stdout.decode()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_endless_device_is_cut_at_the_body_limit_not_memory(fetch, zero, tmp_path, engine):
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>An ordinary page.</p></body></html>")
    ran = fetch("--engine", engine, "-t", "60", str(zero), str(page))
    err = ran.stderr.decode()
    assert ran.returncode == 1
    assert "larger than 100,000,000 bytes" in err and "An ordinary page." in ran.stdout.decode()
    _clean(err)


def test_a_png_of_a_pipe_is_a_clear_error(fetch, tmp_path):
    ran = fetch("-f", "png", "-o", str(tmp_path / "x.png"), "/dev/stdin", input=b"<p>x</p>")
    assert ran.returncode == 1
    assert "cannot make a png of a pipe or device" in ran.stderr.decode()
    assert not (tmp_path / "x.png").exists()


def test_an_endless_http_body_is_cut_at_the_limit(fetch, site):
    ran = fetch("--engine", "http", "-t", "60", site.url("/hostile/huge?mb=101"), site.url("/normal"))
    err = ran.stderr.decode()
    assert ran.returncode == 1
    assert "larger than 100,000,000 bytes" in err
    assert ran.stdout.decode().strip()  # the second URL's content
    _clean(err)


def test_input_lists_are_bounded(fetch, zero, tmp_path):
    started = time.monotonic()
    ran = fetch("-i", str(zero))
    assert ran.returncode == 2 and "a line is longer than 65,536 bytes" in ran.stderr.decode()
    assert time.monotonic() - started < 20
    long_line = tmp_path / "long.txt"
    long_line.write_bytes(b"https://example.com/\n" + b"a" * 70_000 + b"\n")
    ran = fetch("-i", str(long_line))
    assert ran.returncode == 2 and "a line is longer than 65,536 bytes" in ran.stderr.decode()
    ran = fetch("-i", str(tmp_path))
    assert ran.returncode == 2 and "is a directory" in ran.stderr.decode()


def test_the_bounded_readers_count_exactly(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_limited_sync(path, 100) == b"x" * 100
    with pytest.raises(OSError, match="larger than 99 bytes"):
        read_limited_sync(path, 99)
    path.write_bytes(b"a" * 10 + b"\n" + b"b" * 20 + b"\n" + b"c" * 5)
    assert read_limited_sync(path, 1000, max_line=20)
    with pytest.raises(OSError, match="longer than 19"):
        read_limited_sync(path, 1000, max_line=19)

    async def read(limit: int) -> bytes:
        return await read_limited(path, limit)

    assert trio.run(read, 100) == path.read_bytes()
    with pytest.raises(OSError, match="larger than 30 bytes"):
        trio.run(read, 30)


def _interrupted(args: tuple[str, ...], signum: int, waiting: Callable[[subprocess.Popen], Any]) -> tuple[Any, ...]:
    """`fetch -q ARGS`, sent `signum` once `waiting(proc)` has returned (the process then waits on a
    FIFO): its exit code, the seconds from the signal to the exit, its stderr, and what waiting() gave."""
    proc = subprocess.Popen(
        cli_command("fetch", "-q", *args),
        env=cli_env(),
        stderr=subprocess.PIPE,
        # Ctrl-C's default, as a terminal's foreground job has it: a test run started as a background
        # job of a script (`nox &`) passes SIGINT on ignored, and Python then never raises on it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - one thread here
    )
    try:
        seen = waiting(proc)
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read().decode() if proc.stderr else ""
    _clean(err)
    return code, took, err, seen


@pytest.mark.serial
@pytest.mark.parametrize("where", ["target", "input"])
def test_ctrl_c_ends_a_wait_on_a_fifo_within_a_second(tmp_path, where):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    args = ("--engine", "http", str(fifo)) if where == "target" else ("--engine", "http", "-i", str(fifo))

    def waiting(proc: subprocess.Popen) -> int:
        time.sleep(2)  # well into the wait (start-up included)
        return proc.pid

    code, took, err, pid = _interrupted(args, signal.SIGINT, waiting)
    assert code == 130, err
    assert took < 1.0, took
    assert not descendants(pid)


@pytest.mark.serial
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_signal_while_input_is_awaited_ends_the_early_driver_too(tmp_path, how):
    """The browser engine spawns Playwright's driver before it reads -i: a signal then stops both."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def waiting(proc: subprocess.Popen) -> list:
        tree = wait_for_descendants(proc.pid, lambda tree: len(tree) == 1, 10)  # the driver, waiting with us
        time.sleep(0.5)  # well into the wait on the FIFO
        return tree

    code, took, err, tree = _interrupted(("-i", str(fifo)), getattr(signal, how), waiting)
    assert code == {"SIGINT": 130, "SIGTERM": 143}[how], err
    assert took < 1.0, took
    assert alive(tree) == []  # stopped and reaped before the exit
