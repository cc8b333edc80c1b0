"""gptme-trio: a terminal agent for reading the web, on Trio structured concurrency."""

import sys

__version__ = "0.1.0"

# `import httpx` also imports httpx's command-line client (httpx._main) whenever rich, Pygments and click are
# installed, as they are here: rich.console, rich.progress, rich.syntax and the Pygments lexers, ~100 ms of
# start-up CPU for every command (bench/results/render.md) for a client we never run. With None in its place
# that import fails and httpx defines a stub `main` instead (its own `except ImportError`); the `httpx`
# console script, another process, is unaffected. Chat imports rich itself, with the first reply.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
