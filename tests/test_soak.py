"""Short soak (bench/soak_bench.py, smaller): fetch and chat process trees keep their fds, processes, threads.

100 fetches in one `fetch -i` run and 40 read_url calls in one `chat -n` session, the whole process tree
sampled every 8 (fetch) / 4 (chat) operations. The first samples are warm-up; then the median of the first
half of the samples is compared with that of the second half. Medians, not single samples: a tab being
replaced or a context closing in the background moves one sample by a renderer or dozens of fds, while a
leak of one fd per page moves the median by ~40 (fetch) / ~16 (chat): still above TOLERANCE. If tabs are
ever replaced far more often than every 50 uses, that churn moves even the medians: sample more, or widen
TOLERANCE. About 10 s; only 127.0.0.1.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import pytest

from bench import soak_bench, throughput_bench

# Second-half median minus first-half median, at most. Measured at TAB_USES=50 (no tab is replaced within
# 150 pages at -j 4 or 60 calls on 5 tabs): fds move by ±4, processes and threads not at all. A leaked
# context moves processes by ~100 and fds by ~4,500 here; one fd per page, fds by ~60.
TOLERANCE = {"procs": 1, "fds": 12, "threads": 6}


@pytest.fixture
def pages(monkeypatch):
    monkeypatch.setattr(throughput_bench, "DELAY", 0.0)
    # A short TMPDIR for the runs' Chromium: its sockets under a pytest-xdist tmp_path would pass the
    # 108-byte limit of a Unix socket path, and the browser would not start.
    short = tempfile.TemporaryDirectory(prefix="soak-", dir="/tmp")
    bench = throughput_bench.Bench(short.name)
    bench.env = {k: v for k, v in bench.env.items() if not k.startswith("PYTEST")}
    yield bench
    bench.server.shutdown()
    bench.server.server_close()
    deadline = time.monotonic() + 5  # Chromium exits when its pipe closes
    while (left := bench.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.25)
    short.cleanup()
    assert not left, f"still running after the soak: {left}"


def drift(samples: list[dict], warm: int) -> dict[str, float]:
    later = samples[warm:]
    first, second = later[: len(later) // 2], later[len(later) // 2 :]
    return {k: statistics.median(s[k] for s in second) - statistics.median(s[k] for s in first) for k in TOLERANCE}


def check(result: dict, samples: int, warm: int) -> None:
    assert result["rc"] == 0, result["other"][-2000:]
    assert result["ok"] == result["total"]
    assert len(result["samples"]) == samples
    moved = drift(result["samples"], warm)
    table = [(s["ops"], s["fds"], s["procs"], s["threads"]) for s in result["samples"]]
    assert all(moved[k] <= TOLERANCE[k] for k in TOLERANCE), f"drift {moved}; (ops, fds, procs, threads): {table}"


def test_fetch_soak_tree_stays_flat(pages):
    result = soak_bench.fetch_soak(pages, pages.tmp, 100, 8, 4)
    check(result, samples=12, warm=2)  # at 8, 16, ..., 96 (the 100th record ends the run)


def test_chat_soak_tree_stays_flat(pages):
    result = soak_bench.chat_soak(pages, pages.tmp, 40, 5, 4)
    assert (result["started"], result["failed"]) == (40, 0)
    assert result["status"]["remaining"] == 0
    check(result, samples=10, warm=2)  # at 4, 8, ..., 40
