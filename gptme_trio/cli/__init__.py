"""The command line: one module per command, shared options and the runner in common.py.

Every user mistake is found here, before any browser starts, and becomes one
line on stderr with exit code 2. Chat-side code is imported inside the chat
command only, so `gptme-trio fetch` never loads it.
"""

from __future__ import annotations

import difflib
import importlib
import sys

import click

from gptme_trio import __version__
from gptme_trio.cli.common import fail

# name -> the module that defines it: a command's module (its options, its imports) loads only when it runs
# or a help text lists it, so `chat` does not load fetch's and mcp's, nor `fetch` chat's.
COMMANDS = {"fetch": "gptme_trio.cli.fetch", "chat": "gptme_trio.cli.chat", "mcp": "gptme_trio.cli.mcp"}


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


class _LazyGroup(click.Group):
    """click's documented pattern for subcommands loaded on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = getattr(importlib.import_module(COMMANDS[cmd_name]), cmd_name)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name not in COMMANDS and not name.startswith("-"):  # click would suggest from the commands it holds
            close = difflib.get_close_matches(name, COMMANDS)
            ctx.fail(f"No such command {name!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
        return super().resolve_command(ctx, args)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gptme-trio")
def cli() -> None:
    """gptme-trio: read the web from your terminal, on structured concurrency."""
