"""Helpers shared by tests/ and bench/: local sites and servers on 127.0.0.1, the URL-policy attempt table.

Import them as `tests.support.NAME` (the repository root is on sys.path:
pytest's `pythonpath`, or `python -m` from the root);
run a server as `python -m tests.support.NAME` from the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # the repository root: the cwd for server_command()


def server_command(name: str, *args: str) -> list[str]:
    """The argv that runs tests/support/NAME.py as a server process; start it with cwd=ROOT."""
    return [sys.executable, "-m", f"tests.support.{name}", *args]
