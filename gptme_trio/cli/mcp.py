"""`gptme-trio mcp`: serve the web tools over MCP. The SDK (an optional extra) is imported in here only."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path

import click

from gptme_trio.cli.common import SECONDS, browser_options, fail, run
from gptme_trio.core.errors import UsageError

MCP_EXIT_HELP = """\b
Exit codes:
  0    the client closed stdin (stdio)
  2    usage error: bad option, the [mcp] extra is not installed, no browser found
  130  interrupted (SIGINT)   143  terminated (SIGTERM)"""


@click.command(epilog=MCP_EXIT_HELP)
@click.option(
    "--tools",
    "tool_names",
    metavar="T1,T2",
    help="The tools to serve. Default: the web and page tools. shell and the file tools only when named.",
)
@click.option(
    "--tool-timeout",
    type=SECONDS,
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Deadline for each call; a call's own `timeout` argument may only shorten it.",
)
@click.option(
    "--allow-hosts",
    metavar="H1,H2",
    help="Hosts the tools may open even if local or private (e.g. localhost,127.0.0.1).",
)
@click.option(
    "--http",
    "http_bind",
    metavar="[HOST:]PORT",
    help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST: 127.0.0.1 by default).",
)
@click.option(
    "--auth-token",
    envvar="GPTME_TRIO_MCP_TOKEN",
    metavar="TOKEN",
    help="HTTP clients must send 'Authorization: Bearer TOKEN' (env GPTME_TRIO_MCP_TOKEN); "
    "required when HOST is not loopback.",
)
@click.option("--log", "log_file", type=click.Path(dir_okay=False), metavar="FILE", help="Write logs here.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the server and the URL policy do (to stderr or --log).")
@browser_options
def mcp(
    tool_names: str | None,
    tool_timeout: float,
    allow_hosts: str | None,
    http_bind: str | None,
    auth_token: str | None,
    log_file: str | None,
    verbose: bool,
    browser_path: str | None,
    browser_endpoint: str | None,
    cdp_endpoint: str | None,
) -> None:
    """Serve the web tools to any MCP client (Claude Code, Cursor, Codex, gptme, Zed).

    Every call runs under a deadline and stops when the client cancels it; the browser
    starts on the first call that needs it. Only JSON-RPC goes to stdout; logs go to
    stderr (or --log).

    \b
    Examples:
      gptme-trio mcp                                    # stdio: what a client starts
      claude mcp add gptme-trio -- gptme-trio mcp       # register it in Claude Code
      gptme-trio mcp --tools read_url,search --tool-timeout 20
      gptme-trio mcp --allow-hosts localhost,127.0.0.1  # let it read local dev servers
      gptme-trio mcp --http 8765                        # http://127.0.0.1:8765/mcp
      gptme-trio mcp --http 0.0.0.0:8765 --auth-token "$TOKEN"

    \b
    Tools: read_url fetch search screenshot snapshot read_logs open_page click fill press page_text
    close_page; shell shell_output shell_kill read_file save_file append_file patch_file only
    with --tools. Each also takes max_length and start_index (results come in pages) and timeout.
    """
    from gptme_trio.core.browser.locate import browser_spec
    from gptme_trio.mcp.plan import DEFAULT, INSTALL_HINT, McpPlan, check_bind, check_names, parse_bind

    # Imported here, before anything starts: a signal while it loads (~0.6 s) ends a process with no
    # children at once. The driver then boots while the server meets its client (mcp/toolset.py).
    # hypercorn only for --http: it is a quarter of the SDK's import time, and stdio never needs it.
    try:
        import mcp.server.lowlevel  # noqa: F401
        import mcp.server.stdio  # noqa: F401

        if http_bind is not None:
            import hypercorn.trio  # noqa: F401
    except ImportError:
        fail(INSTALL_HINT)
    try:
        names = check_names([n.strip() for n in tool_names.split(",") if n.strip()]) if tool_names is not None else None
        bind = parse_bind(http_bind) if http_bind is not None else None
        if bind is not None:
            check_bind(bind[0], auth_token)
        spec = browser_spec(path=browser_path, ws_endpoint=browser_endpoint, cdp_endpoint=cdp_endpoint)
        log_path = Path(log_file) if log_file else None
        if log_path is not None:
            _log_to(log_path, verbose)
        plan = McpPlan(
            browser=dataclasses.replace(spec, driver_log=log_path) if log_path else spec,
            tools=names or DEFAULT,
            tool_timeout=tool_timeout,
            allow_hosts=tuple(h.strip() for h in (allow_hosts or "").split(",") if h.strip()),
            http=bind,
            auth_token=auth_token,
            search_engine=os.environ.get("GPTME_TRIO_SEARCH_ENGINE") or "duckduckgo",
            search_url=os.environ.get("GPTME_TRIO_SEARCH_URL"),
            workdir=Path.cwd(),
        )
    except UsageError as exc:
        fail(str(exc))
    from gptme_trio.mcp.server import serve

    try:
        run(lambda interrupts: serve(plan, interrupts), verbose and log_path is None)
    except SystemExit as done:  # everything we started is closed by now: skip the interpreter's teardown
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        logging.shutdown()
        sys.stderr.flush()
        os._exit(code)  # the SDK's modules take ~0.4 s to finalise; a client waits on our exit


def _log_to(path: Path, verbose: bool) -> None:
    """--log FILE: our lines (and the SDK's warnings) go there, not to stderr."""
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--log {path}: {exc.strerror}") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name, level in (("gptme_trio", logging.INFO if verbose else logging.WARNING), ("mcp", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
