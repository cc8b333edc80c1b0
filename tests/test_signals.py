"""SIGINT and SIGTERM sent to the real CLI mid-fetch: exit code, output kept, no process left.

Processes are found by walking the CLI's own process tree while it runs (never by name),
and each one must be gone (or a zombie awaiting its reaper) soon after the CLI exits.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from .conftest import alive, cli_command, cli_env, wait_for_descendants


def has_browser(tree) -> bool:
    return any("chrom" in p.name() for p in tree)


def start_fetch(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        cli_command("fetch", *args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )


def first_line(proc: subprocess.Popen, seconds: float) -> bytes:
    """What the CLI has written on stdout up to its first line's end (it writes each record as soon as it
    is done). Read from the pipe itself: communicate() reads there too, never from a file object's buffer."""
    data, deadline = b"", time.monotonic() + seconds
    while b"\n" not in data:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(0, deadline - time.monotonic()))
        assert ready, f"no whole line on stdout within {seconds} s: {data!r}"
        chunk = os.read(proc.stdout.fileno(), 1 << 16)
        assert chunk, f"stdout closed after {data!r}"
        data += chunk
    return data


def assert_tree_gone(tree, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(tree), [f"{p.pid} {p.name()} {p.cmdline()[:2]}" for p in alive(tree)]


@pytest.mark.serial  # an exit latency (0.2-0.4 s here): 3.05 and 3.9 s when it ran beside the parallel phase's load
@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGQUIT, 131), (signal.SIGUSR1, 138)],
)
def test_signal_mid_fetch(site, signum, code):
    # The first URL finishes; the second never does until the signal arrives.
    proc = start_fetch("-f", "json", "-j", "1", "-t", "60", site.url("/normal"), site.url("/never"))
    tree = wait_for_descendants(proc.pid, has_browser, seconds=30)
    first = first_line(proc, seconds=30)  # /normal is fetched and written; /never starts now
    time.sleep(0.3)
    tree = list({p.pid: p for p in tree + wait_for_descendants(proc.pid, has_browser, 5)}.values())
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=15)
    took = time.monotonic() - sent
    assert proc.returncode == code, err
    assert took < 3, f"exit took {took:.2f} s after the signal"
    assert b"Traceback" not in err
    assert b'"title": "Normal page"' in first  # written as soon as it was fetched, not held until exit
    assert [json.loads(line)["url"] for line in (first + out).splitlines()] == [site.url("/normal")], out
    assert_tree_gone(tree)


def test_second_sigint_exits_at_once(site):
    proc = start_fetch("-t", "60", site.url("/never"))
    wait_for_descendants(proc.pid, has_browser, seconds=30)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert proc.returncode == 130


@pytest.mark.parametrize("args", [("/normal",), ("/status/404",)])
def test_no_process_left_after_normal_and_error_exits(site, args):
    proc = start_fetch(*(site.url(a) for a in args), site.url("/slow?ms=800"))
    tree = wait_for_descendants(proc.pid, has_browser, seconds=30)
    proc.communicate(timeout=60)
    assert proc.returncode == (0 if args == ("/normal",) else 1)
    assert_tree_gone(tree)


CTRL_C_WHILE_LOADING = """
import sys

class CtrlC:  # a Ctrl-C that arrives while click is being imported (start-up takes ~0.3 s)
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["gptme-trio", "fetch", "--help"]
from gptme_trio.__main__ import main
main()
"""


def test_ctrl_c_while_the_cli_loads_exits_130_without_a_traceback():
    ran = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_LOADING], capture_output=True, env=cli_env(), timeout=30, check=False
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (130, b"", b"")
