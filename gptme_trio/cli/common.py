"""What every command shares: option types, browser options, one-line failures, and the runner
that turns a Trio main function into an exit code (our errors become one line; bugs "internal error")."""

from __future__ import annotations

import contextlib
import logging
import math
import re
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from gptme_trio.core.errors import EXIT_SIGTERM, EXIT_USAGE, GptmeTrioError, ReaderGone

if TYPE_CHECKING:
    from gptme_trio.core.runtime import Interrupts

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class _Seconds(click.FloatRange):
    """A positive, finite number of seconds (FloatRange alone lets nan and inf through)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return seconds


SECONDS = _Seconds(min=0, min_open=True)

_UNITS = {"": 1, "b": 1, "kb": 1000, "k": 1000, "mb": 1000**2, "m": 1000**2, "gb": 1000**3, "g": 1000**3}


class _Bytes(click.ParamType):  # type: ignore[type-arg,unused-ignore]  # generic from click 8.5
    """A size in bytes: 1000, 500kB, 10MB, 1GB (decimal units, as `ls --si`)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        unit = match and _UNITS.get(match[2].lower())
        if not match or unit is None:
            self.fail(f"{value!r} is not a size (examples: 1000, 500kB, 10MB)", param, ctx)
        size = int(float(match[1]) * unit)
        if size < 1:
            self.fail(f"{value!r}: the size must be at least 1 byte", param, ctx)
        return size


BYTES = _Bytes()


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"gptme-trio: {message}", err=True)
    sys.exit(code)


def browser_options(fn: F) -> F:
    """Options shared by every command that drives a browser."""
    for option in reversed(_BROWSER_OPTIONS):  # as a stack of decorators: the first is listed first
        fn = option(fn)
    return fn


_BROWSER_OPTIONS = (
    click.option(
        "--browser-path",
        metavar="PATH",
        envvar="GPTME_TRIO_BROWSER",
        help="Chromium/Chrome executable (env GPTME_TRIO_BROWSER). "
        "Default: Playwright's Chromium, then chromium / google-chrome on PATH.",
    ),
    click.option(
        "--browser-endpoint",
        metavar="WS_URL",
        help="Use a remote Playwright server (ws://…): `playwright launch-server`, browserless, a grid.",
    ),
    click.option(
        "--cdp-endpoint",
        metavar="URL",
        help="Use a running Chromium over CDP (http://host:port from --remote-debugging-port).",
    ),
)


def run(main_fn: Callable[[Interrupts], Awaitable[int]], verbose: bool) -> NoReturn:
    from gptme_trio.core import runtime

    if verbose:
        _log_to_stderr()
    elif not logging.getLogger().handlers:
        # Libraries' warnings (pypdf on a damaged PDF, say) would reach stderr through logging's
        # last-resort handler: without -v, stderr carries our lines only.
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        code = runtime.run(main_fn)
    except BaseException as exc:  # noqa: BLE001 - the one place a bug becomes a clean exit
        error = _first_own_error(exc)
        if isinstance(error, ReaderGone):  # `| head` had enough: quiet, as `cat` killed by SIGPIPE
            sys.exit(error.exit_code)
        if error is not None:
            if verbose and error.__cause__ is not None:
                click.echo(f"details: {error.__cause__}", err=True)
            fail(str(error), error.exit_code)
        if isinstance(exc, SystemExit):
            raise
        if verbose:
            traceback.print_exception(exc)
        fail(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)", 1)
    sys.exit(code)


class _StderrLines(logging.Handler):
    """One `gptme-trio: ...` line per record, on whatever sys.stderr is at the time (the prompt patches it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"gptme-trio: {self.format(record)}\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging's own contract: never raise from emit
            self.handleError(record)


def _log_to_stderr() -> None:
    """-v: our info lines (a browser started again, a request the URL-policy proxy refused) on stderr."""
    logger = logging.getLogger("gptme_trio")
    logger.setLevel(logging.INFO)
    logger.addHandler(_StderrLines())


def first(*values: T | None) -> T:
    """The first value that is not None (the last one given is a default that never is)."""
    return next(v for v in values if v is not None)


def _first_own_error(exc: BaseException) -> GptmeTrioError | None:
    if isinstance(exc, GptmeTrioError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_own_error(inner)
            if found is not None:
                return found
    return None


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Before the runtime takes the signals (`run`): SIGTERM ends the process with 143 through the
    blocks around this one (Python's default leaves at once, skipping them), as SIGINT does with
    KeyboardInterrupt. For a process that already has a child to stop (fetch's early driver)."""

    def terminated(signum: int, frame: object) -> None:
        raise SystemExit(EXIT_SIGTERM)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
