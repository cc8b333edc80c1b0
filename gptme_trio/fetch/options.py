"""What a fetch run is asked for, as types: the one source of truth for every choice.

    Format      -f:            markdown | text | html | json | png | pdf
    EngineName  --engine:      browser | http
    WaitUntil   --wait-until:  commit | domcontentloaded | load | networkidle
    Capture     what a browser engine keeps of a page: html | png | pdf | aria

The tuples beside them (FORMATS, ENGINES, WAIT_UNTIL, ...) are derived with
`typing.get_args`, and the CLI's `click.Choice`s use them: a new value goes into
its Literal only. Option bundles are frozen dataclasses, never `dict[str, Any]`.

This module imports nothing heavy: the CLI loads it before any command runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

Format = Literal["markdown", "text", "html", "json", "png", "pdf"]
BinaryFormat = Literal["png", "pdf"]  # bytes, not text: a browser capture
EngineName = Literal["browser", "http"]
WaitUntil = Literal["commit", "domcontentloaded", "load", "networkidle"]
Capture = Literal["html", "png", "pdf", "aria"]  # aria: the accessibility tree (YAML)
# --extractor: how main content is chosen. auto (the default): trafilatura for a page that declares
# itself an article (or declares nothing and has an article's URL), the block classifier for the
# others, the longer of the two on a small page (fetch/route.py; bench/results/extraction_auto.md:
# wcxb-dev 0.845 against trafilatura's 0.787, ScrapingHub 0.956 against 0.959). blocks alone keeps
# comment threads and lists of other stories on articles (ScrapingHub 0.886); trafilatura alone keeps
# one post of a thread, one item of a list.
Extractor = Literal["trafilatura", "blocks", "auto"]

JS_MAX_BYTES = 10_000_000  # --js-max's default: a --js result's JSON larger than this is refused
DEFAULT_SETTLE_MS = 3000

FORMATS: tuple[Format, ...] = get_args(Format)
BINARY_FORMATS: tuple[BinaryFormat, ...] = get_args(BinaryFormat)
ENGINES: tuple[EngineName, ...] = get_args(EngineName)
WAIT_UNTIL: tuple[WaitUntil, ...] = get_args(WaitUntil)
EXTRACTORS: tuple[Extractor, ...] = get_args(Extractor)
CAPTURES: tuple[Capture, ...] = get_args(Capture)


def is_binary(fmt: Format) -> TypeGuard[BinaryFormat]:
    """png and pdf: bytes from the browser, not text from the page."""
    return fmt in BINARY_FORMATS


@dataclass(frozen=True)
class FetchOptions:
    """How each URL's result is made; the same for every URL of one run."""

    format: Format = "markdown"
    main_content: bool = True  # False: --full
    selector: str | None = None
    seconds_per_url: float = 30.0  # each URL's own deadline, from its start
    concurrency: int = 4
    ignore_http_errors: bool = False
    extractor: Extractor = "auto"
    links: bool = False  # --links: the page's links (fetch/links.py) in the record


@dataclass(frozen=True)
class RenderOptions:
    """How to load a page; the same for every URL of one run."""

    wait_until: WaitUntil = "load"
    wait_for: str | None = None  # CSS selector to wait for (browser only)
    js: str | None = None  # script run after load; its result is kept (browser only)
    js_max_bytes: int = JS_MAX_BYTES  # --js-max: a larger result is that URL's error
    capture: Capture = "html"
    full_page: bool = False  # png: the whole scrollable page
    # After the wait condition, wait until the page is quiet (nothing pending, the DOM unchanged)
    # for at most this long, and never more than half of what is left of the URL's deadline. 0: off.
    settle_ms: int = DEFAULT_SETTLE_MS
    frames: bool = False  # cross-origin frames' documents too (same-origin ones always)


@dataclass(frozen=True)
class FetchRequest:
    """`gptme-trio fetch`'s options as parsed, before any check: `plan.build_fetch_plan`'s input.

    The field names are the click parameters' names, so the command builds it with `**kwargs`.
    """

    urls: tuple[str, ...] = ()
    input_file: str | None = None
    fmt: Format = "markdown"
    output: str | None = None
    full: bool = False
    selector: str | None = None
    extractor: Extractor = "auto"
    links: bool = False
    engine: EngineName = "browser"
    timeout: float = 30.0
    concurrency: int = 4
    wait_until: WaitUntil = "load"
    wait_for: str | None = None
    settle: int | None = None  # None: DEFAULT_SETTLE_MS with the browser
    frames: bool = False
    js: str | None = None
    js_max: int = JS_MAX_BYTES
    headers: tuple[str, ...] = ()
    user_agent: str | None = None
    storage_state: str | None = None
    block: bool | None = None  # None: on for text formats, off for png/pdf
    full_page: bool = False
    ignore_http_errors: bool = False
    quiet: bool = False
    verbose: bool = False
    browser_path: str | None = None
    browser_endpoint: str | None = None
    cdp_endpoint: str | None = None
