"""What `gptme-trio mcp` serves and how: checked by the CLI before the SDK is even imported.

    names = check_names(["read_url", "shell"])   # UsageError for a name that is no tool
    plan = McpPlan(browser, names, tool_timeout=30.0, http=("127.0.0.1", 8765))

The web tools are served by default. The tools that run commands or write files are served
only when `--tools` names them: an MCP client may call them without asking anyone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from gptme_trio.core.browser import BrowserSpec
from gptme_trio.core.errors import UsageError

WEB = ("read_url", "fetch", "search", "screenshot", "snapshot", "read_logs")  # fetch: MCP only (chat has read_url)
PAGE = ("open_page", "click", "fill", "press", "page_text", "close_page")
HANDS = ("shell", "shell_output", "shell_kill", "read_file", "save_file", "append_file", "patch_file")
DEFAULT = (*WEB, *PAGE)
ALL = (*DEFAULT, *HANDS)
_BROUGHT = {"shell": ("shell_output", "shell_kill")}
INSTALL_HINT = "the MCP server needs the optional extra: pip install 'gptme-trio[mcp]'"


@dataclass(frozen=True)
class McpPlan:
    browser: BrowserSpec
    tools: tuple[str, ...] = DEFAULT
    tool_timeout: float = 30.0  # seconds per call; a call's own `timeout` argument may only shorten it
    allow_hosts: tuple[str, ...] = ()
    http: tuple[str, int] | None = None  # (host, port): streamable HTTP at /mcp; None: stdio
    auth_token: str | None = None  # bearer token the HTTP clients must send
    search_engine: str = "duckduckgo"
    search_url: str | None = None
    workdir: Path = field(default_factory=Path.cwd)  # the file tools' tree and the shell's start (when named)
    allow_paths: tuple[Path, ...] = ()


def check_names(names: list[str]) -> tuple[str, ...]:
    """The names with what they bring along (shell: its output and kill), or UsageError."""
    unknown = [name for name in names if name not in ALL]
    if unknown:
        raise UsageError(f"--tools: unknown tool(s) {', '.join(unknown)}; known: {', '.join(ALL)}")
    if not names:
        raise UsageError(f"--tools: name at least one tool; known: {', '.join(ALL)}")
    return tuple(dict.fromkeys([*names, *(extra for name in names for extra in _BROUGHT.get(name, ()))]))


def parse_bind(text: str) -> tuple[str, int]:
    """`--http [HOST:]PORT` -> (host, port); 127.0.0.1 unless a host is given."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--http {text}: expected [HOST:]PORT, e.g. 8765 or 127.0.0.1:8765")
    return host, int(port)


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """A server reachable from other machines must ask for a token."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"--http {host}: listening beyond this machine needs --auth-token TOKEN "
            "(clients then send 'Authorization: Bearer TOKEN')"
        )
