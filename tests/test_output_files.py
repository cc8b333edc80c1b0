"""A file `fetch -o` writes is whole or untouched; a special file is written through, never replaced.

Special files are our own nodes in tmp_path (os.mknod with /dev/null's device numbers, os.mkfifo,
a symlink to /proc/self/fd/1): never the system's. The CLI runs as a user runs it (a subprocess).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gptme_trio.core.errors import OutputError
from gptme_trio.core.files import open_sink, write_file

from .conftest import cli_command, cli_env


@pytest.fixture
def fetch(run_cli):
    return lambda *args, **kwargs: run_cli("fetch", "-q", "--engine", "http", *args, **kwargs)


def test_a_device_is_written_through_not_replaced(fetch, site, tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    result = fetch("-o", str(null), site.url("/normal"))
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.stat().st_mode) and null.stat().st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temporary file left either


def test_a_fifo_is_written_through_to_its_reader(fetch, site, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader is there before the run
    try:
        result = fetch("-f", "json", "-o", str(fifo), site.url("/normal"))
        got = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert result.returncode == 0, result.stderr
    assert json.loads(got)["title"] == "Normal page"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_fifo_without_a_reader_is_one_clear_error_at_once(fetch, site, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = fetch("-o", str(fifo), site.url("/normal"), timeout=30)
    err = result.stderr.decode()
    assert result.returncode == 1 and time.monotonic() - started < 20
    assert f"cannot write {fifo}: a FIFO with no reader" in err and "Traceback" not in err
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_name_for_stdout_writes_to_stdout(fetch, site, tmp_path):
    out = tmp_path / "stdout"
    out.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    result = fetch("-o", str(out), site.url("/normal"))
    assert result.returncode == 0, result.stderr
    assert b"Normal page" in result.stdout
    assert out.is_symlink() and os.readlink(out) == "/proc/self/fd/1"


def test_a_replaced_file_keeps_its_mode(fetch, site, tmp_path):
    out = tmp_path / "page.md"
    out.write_text("old")
    out.chmod(0o600)
    result = fetch("-o", str(out), site.url("/normal"))
    assert result.returncode == 0, result.stderr
    assert "Normal page" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_new_file_gets_the_umask_mode(fetch, site, tmp_path):
    out = tmp_path / "page.md"
    result = fetch("-o", str(out), site.url("/normal"))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()


def test_a_symlink_keeps_pointing_at_the_file_it_names(fetch, site, tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    result = fetch("-o", str(link), site.url("/normal"))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and "Normal page" in real.read_text()


def test_json_to_a_file_keeps_the_old_file_until_the_run_ends(site, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("OLD\n")
    command = cli_command("fetch", "-q", "--engine", "http", "-f", "json", "-o", str(out), site.url("/slow?ms=2500"))
    with subprocess.Popen(command, env=cli_env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        time.sleep(1.2)  # the run is under way: the page answers after 2.5 s
        during = out.read_text()
        assert proc.wait(timeout=60) == 0
    assert during == "OLD\n"
    assert json.loads(out.read_text())["status"] == 200


def test_json_to_a_file_on_ctrl_c_keeps_the_complete_records(site, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("OLD\n")
    urls = [site.url("/normal"), site.url("/slow?ms=30000")]
    command = cli_command("fetch", "-q", "--engine", "http", "-f", "json", "-o", str(out), *urls)
    with subprocess.Popen(command, env=cli_env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 20
        while not _part_files(tmp_path) or _size(_part_files(tmp_path)[0]) == 0:
            assert time.monotonic() < deadline, "the first record never reached the temporary file"
            time.sleep(0.05)
        proc.send_signal(2)  # Ctrl-C
        proc.wait(timeout=10)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["url"] for r in records] == urls[:1]
    assert _part_files(tmp_path) == []


def test_an_output_directory_that_cannot_be_made_is_one_line(fetch, site, tmp_path):
    (tmp_path / "file").write_text("x")
    result = fetch("-o", str(tmp_path / "file" / "sub") + "/", site.url("/normal"), site.url("/normal?2"))
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.strip().lower() == f"gptme-trio: cannot write {tmp_path / 'file' / 'sub'}: not a directory", err


def test_two_writers_of_one_path_each_have_their_own_temporary_file(tmp_path):
    path = tmp_path / "out"
    first, second = open_sink(path), open_sink(path)
    first.write(b"a" * 100_000)
    second.write(b"b" * 10)
    assert len(_part_files(tmp_path)) == 2
    first.commit()
    assert path.read_bytes() == b"a" * 100_000  # the other writer's half file is never published
    second.commit()
    assert path.read_bytes() == b"b" * 10
    assert _part_files(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"old")

    sink = open_sink(path)
    sink.write(b"new, half")
    sink.discard()
    assert path.read_bytes() == b"old" and _part_files(tmp_path) == []
    with pytest.raises(OutputError, match="it is a directory"):
        write_file(tmp_path, b"x")


def test_a_concurrent_reader_never_sees_half_a_file(tmp_path):
    path = tmp_path / "out"
    write_file(path, b"x" * 1_000_000)
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(len(path.read_bytes()))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for n in range(30):
            write_file(path, (b"y" if n % 2 else b"x") * 1_000_000)
    finally:
        stop.set()
        thread.join()
    assert seen == {1_000_000}


def _part_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".part"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
