"""The command line: parse and check everything, then hand over to the runtime.

Every user mistake is found here, before any browser starts, and becomes one
line on stderr with exit code 2. Deadlines are set from these options.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import sys
import traceback

import click

from . import __version__
from .errors import EXIT_USAGE, GptmeTrioError, UsageError
from .fetch import FORMATS

EXIT_CODES_HELP = """\b
Exit codes:
  0    every URL succeeded
  1    at least one URL failed (one line each on stderr)
  2    usage error: bad URL, option, file or no browser found
  130  interrupted (SIGINT / Ctrl-C)
  143  terminated (SIGTERM)"""


class _Seconds(click.FloatRange):
    """A positive, finite number of seconds (FloatRange alone lets nan and inf through)."""

    name = "seconds"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return seconds


SECONDS = _Seconds(min=0, min_open=True)


def fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"gptme-trio: {message}", err=True)
    sys.exit(code)


def browser_options(fn):
    """Options shared by every command that drives a browser."""

    @click.option(
        "--browser-path",
        metavar="PATH",
        envvar="GPTME_TRIO_BROWSER",
        help="Chromium/Chrome executable (env GPTME_TRIO_BROWSER). "
        "Default: Playwright's Chromium, then chromium / google-chrome on PATH.",
    )
    @click.option(
        "--browser-endpoint",
        metavar="WS_URL",
        help="Use a remote Playwright server (ws://…): `playwright launch-server`, browserless, a grid.",
    )
    @click.option(
        "--cdp-endpoint",
        metavar="URL",
        help="Use a running Chromium over CDP (http://host:port from --remote-debugging-port).",
    )
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


def main() -> None:
    """Console entry point: click's own usage errors become one line and exit 2 too."""
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help())
        sys.exit(0)
    except click.UsageError as exc:
        hint = f" (see: gptme-trio {exc.ctx.info_name} --help)" if exc.ctx and exc.ctx.parent else ""
        fail(f"{exc.format_message()}{hint}")
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gptme-trio")
def cli() -> None:
    """gptme-trio: read the web from your terminal, on structured concurrency."""


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("-i", "--input", "input_file", metavar="FILE", help="Read URLs from FILE, one per line ('-' = stdin).")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="markdown",
    show_default=True,
    help="Output format. json = one object per URL per line.",
)
@click.option("-o", "--output", metavar="PATH", help="Write to FILE (one URL) or DIR (one file per URL); '-' = stdout.")
@click.option("--full", is_flag=True, help="Convert the whole page, not just its main content.")
@click.option("--selector", metavar="CSS", help="Take just the first element matching CSS.")
@click.option(
    "--engine",
    type=click.Choice(["browser", "http"]),
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
    type=click.Choice(["commit", "domcontentloaded", "load", "networkidle"]),
    default="load",
    show_default=True,
    help="When a page counts as loaded (bounded by --timeout).",
)
@click.option("--wait-for", metavar="CSS", help="Also wait until an element matching CSS exists.")
@click.option("--js", metavar="CODE", help="JavaScript to run after load; its JSON result goes into -f json.")
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
def fetch(urls, input_file, fmt, output, **opts) -> None:
    """Fetch URLs (or local files) and print their content.

    \b
    Examples:
      gptme-trio fetch https://example.com                   # main content as Markdown
      gptme-trio fetch -f text --full page.html              # a local file, whole page, plain text
      gptme-trio fetch -f json -i urls.txt -j 8 > out.jsonl  # many URLs, one JSON object per line
      gptme-trio fetch -f png --full-page -o shot.png https://example.com
      gptme-trio fetch --engine http -o pages/ URL1 URL2     # no JavaScript; one file per URL
      cat urls.txt | gptme-trio fetch -i - -f text -q
    """
    from .plan import build_fetch_plan, run_fetch_plan

    verbose = opts["verbose"]
    try:
        plan = build_fetch_plan(urls, input_file, fmt, output, opts)
    except UsageError as exc:
        fail(str(exc))
    _run(lambda _interrupts: run_fetch_plan(plan), verbose)


def _run(main_fn, verbose: bool) -> None:
    from . import runtime

    if verbose:
        _log_to_stderr()
    try:
        code = runtime.run(main_fn)
    except BaseException as exc:  # noqa: BLE001 - the one place a bug becomes a clean exit
        error = _first_own_error(exc)
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


def _first(*values):
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


CHAT_EXIT_HELP = """\b
Exit codes:
  0    done (-n: the final answer is on stdout)
  1    the provider or the browser failed (one line on stderr)
  2    usage error: bad option, no model configured, unknown conversation
  130  interrupted (SIGINT)   143  terminated (SIGTERM)"""


@cli.command(epilog=CHAT_EXIT_HELP)
@click.argument("prompts", nargs=-1, metavar="[PROMPT]...")
@click.option(
    "-m",
    "--model",
    envvar="GPTME_TRIO_MODEL",
    metavar="PROVIDER/MODEL",
    help="openai/…, anthropic/…, openrouter/…, ollama/…, local/… (env GPTME_TRIO_MODEL).",
)
@click.option(
    "-n",
    "--non-interactive",
    is_flag=True,
    help="Run the prompts through the tool loop, print the final answer, exit (implies -y).",
)
@click.option("-y", "--no-confirm", is_flag=True, help="Run tool calls without asking.")
@click.option("--name", metavar="NAME", help="Name of the conversation (to create, or to resume with -r).")
@click.option("-r", "--resume", is_flag=True, help="Resume the latest conversation (or --name).")
@click.option(
    "--tool-timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Deadline for each tool call.  [default: 30]",
)
@click.option(
    "--llm-timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Give up when the model sends nothing for this long.  [default: 120]",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1, 1000),
    metavar="N",
    help="Model replies per turn at most (each may call tools).  [default: 20]",
)
@click.option(
    "--allow-hosts",
    metavar="H1,H2",
    help="Hosts the model may open even if local or private (e.g. localhost,127.0.0.1).",
)
@click.option("--system", metavar="TEXT", help="System prompt for a new conversation.")
@click.option("-v", "--verbose", is_flag=True, help="Show details of failures, and what the URL policy refused.")
@browser_options
def chat(
    prompts,
    model,
    non_interactive,
    no_confirm,
    name,
    resume,
    tool_timeout,
    llm_timeout,
    max_steps,
    allow_hosts,
    system,
    verbose,
    browser_path,
    browser_endpoint,
    cdp_endpoint,
) -> None:
    """Chat with a model that can read the web.

    Defaults for -m, --allow-hosts, the timeouts and the search engine can live in
    config.toml ($GPTME_TRIO_HOME/config.toml, else ~/.config/gptme-trio/); flags win.

    \b
    Examples:
      gptme-trio chat -m openai/gpt-4o-mini                       # interactive
      gptme-trio chat -n -m anthropic/claude-sonnet-4-5 'Summarise https://example.com'
      OPENAI_BASE_URL=http://127.0.0.1:8080/v1 gptme-trio chat -m local/qwen2.5 -n 'hi'
      gptme-trio chat -r --name research 'and the second link?'   # resume a conversation
    """
    from .chat import ChatSettings
    from .config import load_config
    from .plan import _browser_spec
    from .session import ChatPlan, run_chat
    from .store import check_name, home_dir

    try:
        config = load_config()
        model = model or config.model
        tool_timeout = _first(tool_timeout, config.tool_timeout, 30.0)
        llm_timeout = _first(llm_timeout, config.llm_timeout, 120.0)
        max_steps = _first(max_steps, config.max_steps, 20)
        hosts = tuple(h for h in allow_hosts.split(",") if h.strip()) if allow_hosts is not None else config.allow_hosts
        interactive = not non_interactive and sys.stdin.isatty()
        prompts = list(prompts)
        if not interactive and not prompts and not sys.stdin.isatty():
            prompts = [sys.stdin.read().strip()]
        if not interactive and not any(p.strip() for p in prompts):
            raise UsageError("no prompt given: gptme-trio chat -n 'your question' (or pipe it on stdin)")
        if name:
            check_name(name)
        plan = ChatPlan(
            prompts=prompts,
            model=model,
            browser=dataclasses.replace(
                _browser_spec(
                    "browser",
                    {"browser_endpoint": browser_endpoint, "cdp_endpoint": cdp_endpoint, "browser_path": browser_path},
                ),
                driver_log=home_dir() / "logs" / "driver.log",  # never the terminal the prompt owns
            ),
            settings=ChatSettings(max_steps, tool_timeout, llm_timeout, confirm_tools=interactive and not no_confirm),
            home=home_dir(),
            name=name,
            resume=resume,
            system=system,
            allow_hosts=hosts,
            interactive=interactive,
            env=config.provider_env(os.environ),
            search_engine=os.environ.get("GPTME_TRIO_SEARCH_ENGINE") or config.search_engine or "duckduckgo",
            search_url=os.environ.get("GPTME_TRIO_SEARCH_URL") or config.search_url,
        )
    except UsageError as exc:
        fail(str(exc))
    for name in config.key_vars():  # the plan has its copy; the driver and Chromium inherit no keys
        os.environ.pop(name, None)
    _run(lambda interrupts: run_chat(plan, interrupts), verbose)
