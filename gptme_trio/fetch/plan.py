"""`fetch` from checked options to a finished run.

`build_fetch_plan` turns the CLI's options (a FetchRequest) into a FetchPlan or raises
UsageError: nothing has started yet. `run_fetch_plan` runs it under Trio.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import trio

from gptme_trio.core.browser import BrowserSpec, PageOptions
from gptme_trio.core.browser.locate import browser_spec
from gptme_trio.core.errors import (
    EXIT_FAILED,
    EXIT_OK,
    BrowserCrashed,
    OutputError,
    UsageError,
    os_reason,
    printable,
)
from gptme_trio.core.progress import Reporter
from gptme_trio.core.reading import read_limited_sync
from gptme_trio.fetch import extract
from gptme_trio.fetch.batch import fetch_all
from gptme_trio.fetch.extract import validate_selector, validate_wait_for
from gptme_trio.fetch.options import DEFAULT_SETTLE_MS, EngineName, FetchOptions, FetchRequest, RenderOptions, is_binary
from gptme_trio.fetch.output import Destination, ToStdout, Writer, choose_destination
from gptme_trio.fetch.targets import Target, parse_target, read_target_lines

if TYPE_CHECKING:
    from gptme_trio.core.browser import BrowserService  # loads Playwright's side: only a browser run does
    from gptme_trio.core.browser.driver import SpawnedDriver

BROWSER_START_SECONDS = 60
INPUT_MAX_BYTES = 100_000_000  # -i: a URL list larger than this is a usage error
INPUT_MAX_LINE = 65_536  # -i: so is a line longer than this (no URL is)
TABS_PER_CORE = 4  # bench figure 2: on 2 cores -j 8 is already slower than -j 4; far above it tabs time out


def tab_limit() -> int:
    """How many pages one browser may load at once on this machine."""
    return TABS_PER_CORE * len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class FetchPlan:
    targets: list[Target]
    engine: EngineName
    fetch: FetchOptions
    render: RenderOptions
    page: PageOptions
    browser: BrowserSpec
    destination: Destination
    show_progress: bool
    verbose: bool
    notes: tuple[str, ...] = ()  # warnings for stderr before the run starts


def build_fetch_plan(request: FetchRequest) -> FetchPlan:
    """Check every option of `request` (UsageError for the first that is wrong): nothing starts yet."""
    r, fmt = request, request.fmt
    raw = list(r.urls) + (_read_input(r.input_file) if r.input_file else [])
    if not raw:
        raise UsageError("no URL given (try: gptme-trio fetch https://example.com, or -i FILE; see --help)")
    targets = [parse_target(item) for item in raw]
    if r.engine == "http":
        for flag, name in (
            (is_binary(fmt), f"-f {fmt}"),
            (r.wait_for, "--wait-for"),
            (r.js, "--js"),
            (r.settle is not None, "--settle"),
            (r.frames, "--frames"),
            (r.browser_endpoint, "--browser-endpoint"),
            (r.cdp_endpoint, "--cdp-endpoint"),
        ):
            if flag:
                raise UsageError(f"{name} needs a browser: drop --engine http")
        for value in (*r.headers, r.user_agent or ""):
            if not value.isascii():
                raise UsageError(f"{_flag_of(value, r.user_agent)} {value!r}: --engine http sends ASCII headers only")
    if r.user_agent is not None and not r.user_agent.isprintable():
        raise UsageError(f"--user-agent {r.user_agent!r}: control characters are not allowed")
    if r.wait_for:
        validate_wait_for(r.wait_for)
    if r.full_page and fmt != "png":
        raise UsageError("--full-page only applies to -f png")
    if r.selector:
        validate_selector(r.selector)
    if r.selector and r.full:
        raise UsageError("--selector and --full cannot be combined")
    if r.links and fmt not in ("markdown", "text", "json"):
        raise UsageError(f"--links applies to -f markdown, text or json, not -f {fmt}")
    destination = choose_destination(r.output, fmt, len(targets), _is_terminal(sys.stdout))
    if isinstance(destination, ToStdout) and sys.stdout is None:
        raise OutputError("stdout is closed: nothing could be written (give -o FILE or -o DIR)")
    concurrency, notes = r.concurrency, tuple[str, ...]()
    if r.engine == "browser" and concurrency > tab_limit():
        concurrency = tab_limit()
        notes = (
            f"-j {r.concurrency} is more pages than this machine loads at once in one browser; "
            f"using -j {concurrency} ({TABS_PER_CORE} per CPU core)",
        )
    block = r.block if r.block is not None else not is_binary(fmt)
    if block and is_binary(fmt):
        raise UsageError(f"--block cannot be used with -f {fmt} (it would leave holes in the {fmt.upper()})")
    return FetchPlan(
        targets=targets,
        engine=r.engine,
        fetch=FetchOptions(
            fmt, not r.full, r.selector, r.timeout, concurrency, r.ignore_http_errors, r.extractor, r.links
        ),
        render=RenderOptions(
            wait_until=r.wait_until,
            wait_for=r.wait_for,
            js=r.js,
            js_max_bytes=r.js_max,
            capture=fmt if is_binary(fmt) else "html",
            full_page=r.full_page,
            settle_ms=DEFAULT_SETTLE_MS if r.settle is None else r.settle,
            frames=r.frames,
        ),
        page=PageOptions(
            parse_headers(r.headers),
            r.user_agent,
            check_storage_state(r.storage_state) if r.storage_state else None,
            block,
        ),
        browser=browser_spec(
            path=r.browser_path,
            ws_endpoint=r.browser_endpoint,
            cdp_endpoint=r.cdp_endpoint,
            local=r.engine == "browser",
        ),
        destination=destination,
        show_progress=len(targets) > 1 and not r.quiet and _is_terminal(sys.stderr),
        verbose=r.verbose,
        notes=notes,
    )


async def run_fetch_plan(plan: FetchPlan, driver: SpawnedDriver | None = None) -> int:
    """Fetch every target; the exit code. `driver`: Playwright's driver, spawned by the CLI before
    it loaded this (the browser service takes it; the CLI closes it after)."""
    with Reporter(len(plan.targets), plan.show_progress) as reporter:
        writer = Writer(plan.targets, plan.fetch.format, plan.destination, reporter, plan.verbose)
        try:
            if plan.engine == "http":
                from gptme_trio.fetch.engines.http import HttpEngine, open_client

                page = plan.page
                async with open_client(page.headers, page.user_agent, page.storage_state) as client:
                    await fetch_all(plan.targets, HttpEngine(client), plan.fetch, writer.write)
            else:
                from gptme_trio.core.browser import open_browser
                from gptme_trio.fetch.engines.browser import BrowserEngine

                async with open_browser(plan.browser, driver) as service:
                    # Start-up is not any URL's fault: keep it out of the per-URL deadlines.
                    await _start(service, plan, overlap=not is_binary(plan.fetch.format))
                    engine = BrowserEngine(service, plan.page, plan.render)
                    await fetch_all(plan.targets, engine, plan.fetch, writer.write)
        finally:
            writer.close()
    return EXIT_FAILED if writer.failures else EXIT_OK


async def _start(service: BrowserService, plan: FetchPlan, *, overlap: bool) -> None:
    """Start the browser outside any URL's deadline. Meanwhile, the extraction libraries
    (~150 ms of imports) and the block classifier's model (~100 ms: compiled to Python functions)
    load: `service.start` reports started once the driver process has been spawned, and the driver
    boots (~0.3 s) on the other core while this one imports. The model is loaded even if every page
    turns out to be an article (trafilatura's): it costs no wall time here, and ~0.1 s in the first
    page's extraction otherwise.

    A local Chromium gets BROWSER_START_SECONDS (a cold start is no page's fault); connecting to
    a remote one (--browser-endpoint, --cdp-endpoint) is a network call: -t bounds it."""
    remote = plan.browser.ws_endpoint or plan.browser.cdp_endpoint
    seconds = min(BROWSER_START_SECONDS, plan.fetch.seconds_per_url) if remote else BROWSER_START_SECONDS
    with trio.move_on_after(seconds) as scope:
        async with trio.open_nursery() as nursery:
            await nursery.start(service.start)
            if overlap:
                extract.load_libraries(model=True)
    if scope.cancelled_caught:
        if remote:
            raise BrowserCrashed(f"the browser at {printable(remote)} did not answer within {seconds:g} s (-t)")
        raise BrowserCrashed(f"the browser did not start within {BROWSER_START_SECONDS} s")


def _is_terminal(stream: TextIO | None) -> bool:
    """Whether `stream` is a terminal; False when the shell closed it (`>&-`: Python's None)."""
    return stream is not None and stream.isatty()


def _read_input(source: str) -> list[str]:
    """-i's URLs. Read before anything starts, bounded (INPUT_MAX_BYTES, INPUT_MAX_LINE): -i /dev/zero
    is a usage error after one line's worth, not a MemoryError. A FIFO waits for its writer, as
    `cat` does; Ctrl-C ends the wait (the command says "interrupted")."""
    try:
        if source == "-":
            if sys.stdin is None:
                raise UsageError("-i -: stdin is closed; pipe URLs in, or give -i FILE")
            if sys.stdin.isatty():
                raise UsageError("-i -: stdin is a terminal; pipe URLs in, or give -i FILE")
            path = None
        else:
            path = Path(source).expanduser()
            if path.is_dir():
                raise UsageError(f"--input {printable(source)}: is a directory")
        data = read_limited_sync(path, INPUT_MAX_BYTES, max_line=INPUT_MAX_LINE)
        text = data.decode("utf-8")
    except OSError as exc:
        raise UsageError(f"--input {printable(source)}: {os_reason(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"--input {printable(source)}: not UTF-8 text") from exc
    return read_target_lines(text, source)


def _flag_of(value: str, user_agent: str | None) -> str:
    return "--user-agent" if value == user_agent else "-H"


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token


def parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(name.strip()):
            raise UsageError(f"-H {value!r}: expected 'Name: value' (a name of letters, digits and !#$%&'*+-.^_`|~)")
        if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in content):
            raise UsageError(f"-H {value!r}: control characters are not allowed in a header value")
        headers[name.strip()] = content.strip()
    return headers


def check_storage_state(path: str) -> str:
    try:
        state = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--storage-state {path}: {os_reason(exc)}") from exc
    except ValueError as exc:
        raise UsageError(f"--storage-state {path}: not JSON ({exc})") from exc
    if not isinstance(state, dict) or not isinstance(state.get("cookies", []), list):
        raise UsageError(f"--storage-state {path}: not a Playwright storage state (no 'cookies' list)")
    for cookie in state.get("cookies", []):
        if not (isinstance(cookie, dict) and all(isinstance(cookie.get(k), str) for k in ("name", "value"))):
            raise UsageError(f"--storage-state {path}: a cookie without a string name and value")
        if not isinstance(cookie.get("domain", ""), str) or not isinstance(cookie.get("path", "/"), str):
            raise UsageError(f"--storage-state {path}: a cookie's domain and path must be strings")
        if "url" not in cookie and not ("domain" in cookie and "path" in cookie):
            raise UsageError(f"--storage-state {path}: a cookie needs a url, or a domain and a path")
    if not isinstance(state.get("origins", []), list):
        raise UsageError(f"--storage-state {path}: 'origins' must be a list")
    return str(Path(path).expanduser())
