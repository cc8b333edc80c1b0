"""The command line: one module per command, shared options and the runner in common.py.

Every user mistake is found here, before any browser starts, and becomes one
line on stderr with exit code 2. Chat-side code is imported inside the chat
command only, so `gptme-trio fetch` never loads it.
"""

from __future__ import annotations

import sys

import click

from gptme_trio import __version__
from gptme_trio.cli.chat import chat
from gptme_trio.cli.common import fail
from gptme_trio.cli.fetch import fetch
from gptme_trio.cli.mcp import mcp


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


cli.add_command(fetch)
cli.add_command(chat)
cli.add_command(mcp)
