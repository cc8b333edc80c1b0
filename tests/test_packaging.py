"""The package as `pip install .` leaves it (not the editable install the tests run from): every file
the code reads at run time is in it, and the block classifier's model loads from there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.serial  # builds the package (pip, setuptools from the index): a few seconds of CPU
def test_an_installed_package_has_its_data_files_and_reads_a_non_article_page(tmp_path):
    target, work, source = tmp_path / "site", tmp_path / "work", tmp_path / "source"
    work.mkdir()
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    for name in files:  # the tracked files alone, as a clean checkout has them: no egg-info of an earlier build
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", "--target",
         str(target), str(source)],
        capture_output=True, text=True, timeout=300, cwd=work, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    data = [Path(name) for name in files if name.startswith("gptme_trio/") and not name.endswith(".py")]
    assert data, "no data files tracked: this test checks nothing"
    missing = [str(name) for name in data if not (target / name).is_file()]
    assert not missing, f"not in the installed package: {missing}"
    page = "<html><body><ul>" + "".join(f"<li><p>Item {i} of the list, with a line of text.</p></li>" for i in range(9))
    script = (
        "import sys, gptme_trio.fetch.extract as e; assert e.__file__.startswith(sys.argv[1]), e.__file__;"
        f" print(e.to_markdown({page!r} + '</ul></body></html>', extractor='blocks'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(target)}
    ran = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "Item 8 of the list" in ran.stdout
