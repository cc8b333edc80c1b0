"""Every hostile-input class of issue 14 once, with a random variation, through bench/hostile_bench.py's
runner: as documented, and no internal error, traceback, orphan or damaged file in any of them."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator

import pytest

from bench.harness import Site
from bench.hostile_bench import run_trial
from bench.hostile_cases import classes


@pytest.fixture(scope="module")
def tagged_site() -> Iterator[tuple[Site, list[str]]]:
    with tempfile.TemporaryDirectory(prefix="hostile-", dir="/tmp") as tmp:  # short: Chromium's sockets
        site = Site(tmp)
        try:
            yield site, site.leftovers()
        finally:
            site.close()


@pytest.mark.parametrize("name", list(classes()))
def test_no_hostile_class_ends_in_an_internal_error(name, tagged_site, tmp_path):
    site, servers = tagged_site
    seed = random.randrange(10**6)
    trial = run_trial(name, classes()[name], site, tmp_path / "trial", random.Random(seed), servers)
    summary = f"seed {seed}: {trial.attempt.args}: {trial.problems} {trial.damaged}"
    assert not trial.internal and not trial.traceback, summary
    assert trial.orphans == 0 and not trial.damaged, summary
    assert not trial.problems, summary
