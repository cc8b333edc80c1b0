"""`gptme-trio fetch`: URLs (or local files) to Markdown, text, HTML, JSON, PNG or PDF."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from gptme_trio.cli.common import BYTES, SECONDS, browser_options, fail, run, sigterm_raises
from gptme_trio.core.errors import EXIT_SIGINT, GptmeTrioError
from gptme_trio.fetch.options import (
    DEFAULT_SETTLE_MS,
    ENGINES,
    EXTRACTORS,
    FORMATS,
    JS_MAX_BYTES,
    WAIT_UNTIL,
    FetchRequest,
)

if TYPE_CHECKING:
    from gptme_trio.core.browser.driver import SpawnedDriver

EXIT_CODES_HELP = """\b
Exit codes:
  0    every URL succeeded
  1    at least one URL failed (one line each on stderr)
  2    usage error: bad URL, option, file or no browser found
  130  interrupted (SIGINT / Ctrl-C)
  143  terminated (SIGTERM)"""


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("-i", "--input", "input_file", metavar="FILE", help="Read URLs from FILE, one per line ('-' = stdin).")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="markdown",
    show_default=True,
    help="Output format. json = one object per URL per line, with the page's metadata (page_type, "
    "description, author, published, language, canonical_url, site_name; null when the page does not say). "
    "markdown starts with the page's title.",
)
@click.option("-o", "--output", metavar="PATH", help="Write to FILE (one URL) or DIR (one file per URL); '-' = stdout.")
@click.option("--full", is_flag=True, help="Convert the whole page, not just its main content.")
@click.option("--selector", metavar="CSS", help="Take just the first element matching CSS.")
@click.option(
    "--extractor",
    type=click.Choice(EXTRACTORS),
    default="auto",
    show_default=True,
    help="How the main content is chosen. auto: trafilatura for a page that declares itself an article "
    "(JSON-LD, og:type) or has an article's URL (a local file: the canonical URL it declares), a block "
    "classifier (trained on 1,497 pages of seven types) for the others: every post of a thread, every item "
    "of a list; on a small page the longer of the two. blocks: the classifier alone (it keeps comment "
    "threads under articles). trafilatura: it alone (one post of a thread, one item of a list).",
)
@click.option(
    "--links",
    is_flag=True,
    help="Also list the page's links (absolute, one per URL, at most 1000): in -f json as `links` "
    "(text, url, main: whether it is in the content), after the text in a numbered Links section, "
    "those in the content first.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="browser",
    show_default=True,
    help="browser runs JavaScript in Chromium; http fetches with httpx (fast, no JavaScript).",
)
@click.option(
    "-t",
    "--timeout",
    type=SECONDS,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Deadline for each URL.",
)
@click.option(
    "-j",
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    metavar="N",
    help="Pages fetched at once.",
)
@click.option(
    "--wait-until",
    type=click.Choice(WAIT_UNTIL),
    default="load",
    show_default=True,
    help="When a page counts as loaded (bounded by --timeout).",
)
@click.option("--wait-for", metavar="CSS", help="Also wait until an element matching CSS exists.")
@click.option(
    "--js",
    metavar="CODE",
    help="JavaScript to run after load (an expression, or a function to call; a Promise is awaited). "
    "Its result goes into -f json as JSON: Date -> ISO string, Map -> object, Set -> array, BigInt -> "
    "string, NaN/Infinity -> null; a cycle, function or DOM node is that URL's error.",
)
@click.option(
    "--js-max",
    type=BYTES,
    default=JS_MAX_BYTES,
    show_default="10MB",
    metavar="SIZE",
    help="Largest --js result (JSON bytes; 10MB, 500kB, 1000); a larger one is that URL's error.",
)
@click.option(
    "--settle",
    type=click.IntRange(0, 600_000),
    metavar="MS",
    help=f"Then wait until the page is quiet (no DOM changes, no pending short timers, fetches or XHRs) "
    f"for at most MS ms (default {DEFAULT_SETTLE_MS}, never past half of what is left of --timeout); "
    "0 turns it off. A page that is quiet at once costs nothing.",
)
@click.option(
    "--frames",
    is_flag=True,
    help="Include cross-origin frames' content too (same-origin frames always are, marked 'Frame URL:').",
)
@click.option(
    "-H", "--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="Extra request header (repeatable)."
)
@click.option("--user-agent", metavar="UA", help="User-Agent to send.")
@click.option("--storage-state", metavar="FILE", help="Cookies/localStorage as saved by Playwright's storage_state().")
@click.option(
    "--block/--no-block",
    default=None,
    help="Block images, fonts and media (default: on for text formats, never for png/pdf).",
)
@click.option("--full-page", is_flag=True, help="png: capture the whole scrollable page.")
@click.option("--ignore-http-errors", is_flag=True, help="Treat HTTP status >= 400 as success.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="Show details of failures.")
@browser_options
def fetch(**options: Any) -> None:
    """Fetch URLs (or local files) and print their content.

    \b
    Examples:
      gptme-trio fetch https://example.com                   # main content as Markdown
      gptme-trio fetch -f text --full page.html              # a local file, whole page, plain text
      gptme-trio fetch -f json -i urls.txt -j 8 > out.jsonl  # many URLs, one JSON object per line
      gptme-trio fetch -f png --full-page -o shot.png https://example.com
      gptme-trio fetch --engine http -o pages/ URL1 URL2     # no JavaScript; one file per URL
      cat urls.txt | gptme-trio fetch -i - -f text -q
      gptme-trio fetch --settle 8000 https://example.com/app # a slow single-page app: settle up to 8 s
      gptme-trio fetch --settle 0 URL                        # take the page at load, no settling
      gptme-trio fetch --frames URL                          # with its cross-origin iframes' text
      gptme-trio fetch -f json --links URL                   # metadata, and the links (in content or not)

    \b
    What the browser hands to extraction: the DOM after load and settling, with open shadow
    roots (web components) rendered in place and same-origin frames inlined; closed shadow
    roots cannot be read by any script, so their text is missing. Cookie/consent banners,
    newsletter and login modals and overlays covering the page are removed first.
    """
    request = FetchRequest(**options)  # one field per parameter: click checked each choice
    with contextlib.ExitStack() as stack:
        driver = _early_driver(stack) if request.engine == "browser" else None
        try:
            with sigterm_raises():  # the driver is ours to stop from here on
                from gptme_trio.fetch.plan import build_fetch_plan, run_fetch_plan

                plan = build_fetch_plan(request)
        except GptmeTrioError as exc:  # a usage error (exit 2), or stdout closed (exit 1)
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:  # Ctrl-C while -i waited for a FIFO's writer: quiet, as in a run
            sys.exit(EXIT_SIGINT)
        for note in plan.notes:
            click.echo(f"gptme-trio: {note}", err=True)
        run(lambda _interrupts: run_fetch_plan(plan, driver), request.verbose)


def _early_driver(stack: contextlib.ExitStack) -> SpawnedDriver | None:
    """Playwright's driver, spawned before the fetch pipeline is imported and the plan made (~0.1 s):
    node boots (~0.3 s) meanwhile, on the other core. Closed when the command ends, on every path;
    one that cannot be spawned is the browser service's to start (and to say why it cannot)."""
    from gptme_trio.core.browser.driver import spawn_driver
    from gptme_trio.core.browser.options import default_driver_cache

    try:
        driver = spawn_driver(None, default_driver_cache(os.environ))
    except OSError:
        return None
    stack.callback(driver.close)
    return driver
