"""`python -m gptme_trio` and the `gptme-trio` command.

The CLI is imported inside `main`: a Ctrl-C while it loads (~0.3 s, seconds on a loaded machine) exits
130 without a traceback, as a Ctrl-C later does.

When the CLI has returned, everything it started is gone: its children were stopped, its files closed,
each by the block that opened it (no atexit, no finalizer does work here). What the interpreter would
still do is tear down ~900 modules and their objects: 65 ms with Playwright imported, 120-150 ms after a
browser fetch, 0.4 s and more on a loaded machine (measured from the signal to exit: 0.36 -> 0.22 s). So
the process ends with `os._exit` once its output is flushed.
"""

import logging
import os
import sys
from typing import NoReturn


def main() -> NoReturn:
    try:
        from gptme_trio.cli import main as cli
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        cli()
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    _exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"): what the interpreter would print
    return 1


def _exit(code: int) -> NoReturn:
    """Flush what is buffered (log files, stdout, stderr), then end the process without tearing it down."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # its reader left, or it was closed (>&-): nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
