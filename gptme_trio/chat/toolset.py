"""Which tools a chat offers the model: `--tools`, the config's `tools`, or the default for the mode.

    check_names(["read_url", "shell"])              # UsageError for a name that is no tool (the CLI)
    on, off = choose(all_tools, named, interactive)   # off: name -> why, told to the model

Interactive chat has every tool, each call behind the user's confirmation (unless -y). `-n` runs
without anyone to confirm: there the tools that run commands or write files are off unless
named. Naming `shell` brings its helpers (shell_output, shell_kill) along.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from gptme_trio.core.errors import UsageError

T = TypeVar("T")

# Every tool chat builds (chat/services.py), in the order it builds them: the banner names them before
# they exist (tests/test_tool_choice.py checks the two agree).
WEB = ("read_url", "screenshot", "snapshot", "read_logs")
PAGE = ("open_page", "click", "fill", "press", "page_text", "close_page")
SEARCH = ("search",)
SHELL = ("shell", "shell_output", "shell_kill")
FILES_READ = ("read_file",)
FILES_WRITE = ("save_file", "append_file", "patch_file")
ALL = (*WEB, *PAGE, *SEARCH, *SHELL, *FILES_READ, *FILES_WRITE)
ACTING = (*SHELL, *FILES_WRITE)  # off in -n unless named
_BROUGHT = {"shell": SHELL}


def parse_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def check_names(names: Sequence[str], where: str = "--tools") -> tuple[str, ...]:
    """The names with what they bring along, or UsageError naming the unknown ones and the known."""
    unknown = [name for name in names if name not in ALL]
    if unknown:
        raise UsageError(f"{where}: unknown tool(s) {', '.join(unknown)}; known: {', '.join(ALL)}")
    if not names:
        raise UsageError(f"{where}: name at least one tool; known: {', '.join(ALL)}")
    wanted = [*names, *(extra for name in names for extra in _BROUGHT.get(name, ()))]
    return tuple(dict.fromkeys(wanted))


def choose(
    tools: Mapping[str, T], named: Sequence[str] | None, interactive: bool
) -> tuple[dict[str, T], dict[str, str]]:
    """(the tools on, {a tool that is off: why}) for this chat."""
    if named is not None:
        why = "the user did not name it in --tools or the config's tools list"
        wanted = set(named)
    elif interactive:
        return dict(tools), {}
    else:
        why = "it runs commands or writes files, which -n does without asking; the user can enable it with --tools"
        wanted = set(tools) - set(ACTING)
    on = {name: t for name, t in tools.items() if name in wanted}
    return on, {name: why for name in tools if name not in on}
