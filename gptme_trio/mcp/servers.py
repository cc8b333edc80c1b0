"""The MCP servers chat uses, as config.toml names them: checked before the SDK is imported.

    [mcp.servers.github]                  # NAME: a letter, then letters, digits, '-' or '_'
    command = "npx"                       # a stdio server: started by chat, stopped when it ends
    args = ["-y", "@modelcontextprotocol/server-github"]
    env = { GITHUB_PERSONAL_ACCESS_TOKEN = "${GITHUB_TOKEN}" }   # added to chat's environment (the
                                          # providers' keys are taken out); ${VAR}: chat's variable
    tools = ["search_issues"]             # only these of its tools (default: all)
    enabled = true                        # false: listed by /mcp, not started
    start_timeout = 20                    # seconds to start and list its tools (default 15)

    [mcp.servers.web]
    url = "http://127.0.0.1:8765/mcp"     # streamable HTTP: a server that runs on its own
    headers = { Authorization = "Bearer ${WEB_MCP_TOKEN}" }   # sent with every request

    specs = parse_servers(config_path, data["mcp"])   # UsageError: one line naming the entry

A server's tools reach the model as `NAME__tool`: the providers take only letters, digits, '_' and
'-' in a tool name, at most 64 of them (OpenAI ^[a-zA-Z0-9_-]{1,64}$, Anthropic the same, Gemini
wants a letter or '_' first). `model_name` makes such a name of any server tool's name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gptme_trio.core.errors import UsageError

if TYPE_CHECKING:
    from gptme_trio.mcp.client import Servers

SEPARATOR = "__"
MAX_TOOL_NAME = 64
START_SECONDS = 15.0
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,29}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIELDS = ("command", "args", "url", "headers", "env", "tools", "enabled", "start_timeout")
CLIENT_INSTALL_HINT = (
    "MCP servers are configured ([mcp.servers] in {}) but the MCP SDK is not installed: "
    "pip install 'gptme-trio[mcp]'; chat goes on without them"
)


@dataclass(frozen=True)
class ServerSpec:
    name: str
    command: str | None = None  # stdio: the program (args follow)
    args: tuple[str, ...] = ()
    url: str | None = None  # streamable HTTP
    headers: dict[str, str] = field(default_factory=dict)  # with url; values may name ${VAR}s
    env: dict[str, str] = field(default_factory=dict)  # values may name ${VAR}s of chat's environment
    tools: tuple[str, ...] | None = None  # the allowlist of the server's own tool names; None: all
    enabled: bool = True
    start_timeout: float = START_SECONDS

    @property
    def where(self) -> str:
        """How it is reached, in words for /mcp."""
        if self.url:
            return self.url
        return " ".join([self.command or "", *self.args])


def parse_servers(path: Path | None, table: Any) -> tuple[ServerSpec, ...]:
    """The `[mcp]` table's servers, checked; UsageError names the first bad entry."""
    where = f"{path}: [mcp]"
    if not isinstance(table, dict) or set(table) - {"servers"}:
        raise UsageError(f"{where}: only [mcp.servers.NAME] tables go here")
    servers = table.get("servers", {})
    if not isinstance(servers, dict):
        raise UsageError(f"{where}: servers must be tables: [mcp.servers.NAME]")
    return tuple(_parse_one(f"{path}: [mcp.servers.{name}]", name, fields) for name, fields in servers.items())


def _parse_one(where: str, name: str, fields: Any) -> ServerSpec:
    if not _NAME.fullmatch(name) or SEPARATOR in name:
        raise UsageError(
            f"{where}: a server's name is a letter, then letters, digits, '-' or '_' "
            f"(at most 30, no '{SEPARATOR}'): its tools are named NAME{SEPARATOR}tool"
        )
    if not isinstance(fields, dict):
        raise UsageError(f"{where}: must be a table with command (and args) or url")
    unknown = [key for key in fields if key not in _FIELDS]
    if unknown:
        raise UsageError(f"{where}: unknown setting {unknown[0]!r} (known: {', '.join(_FIELDS)})")
    command, url = fields.get("command"), fields.get("url")
    if (command is None) == (url is None):
        raise UsageError(f"{where}: give either command (a stdio server) or url (streamable HTTP)")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise UsageError(f"{where}: command must be a program's name or path")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url)):
        raise UsageError(f"{where}: url must be an http:// or https:// URL, e.g. http://127.0.0.1:8765/mcp")
    args = fields.get("args", [])
    if url is not None and "args" in fields:
        raise UsageError(f"{where}: args go with command, not url")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise UsageError(f"{where}: args must be a list of strings")
    env = fields.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise UsageError(f'{where}: env must be a table of strings: env = {{ NAME = "value" }}')
    headers = fields.get("headers", {})
    if command is not None and "headers" in fields:
        raise UsageError(f"{where}: headers go with url, not command")
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise UsageError(f'{where}: headers must be a table of strings: headers = {{ Authorization = "..." }}')
    tools = fields.get("tools")
    if tools is not None and (not isinstance(tools, list) or not tools or not all(isinstance(t, str) for t in tools)):
        raise UsageError(f"{where}: tools must be a list of the server's tool names (leave it out for all)")
    enabled = fields.get("enabled", True)
    if not isinstance(enabled, bool):
        raise UsageError(f"{where}: enabled must be true or false")
    start = fields.get("start_timeout", START_SECONDS)
    if isinstance(start, bool) or not isinstance(start, int | float) or not 0 < start <= 600:
        raise UsageError(f"{where}: start_timeout must be a number of seconds in (0, 600], got {start!r}")
    return ServerSpec(
        name,
        command=command,
        args=tuple(args),
        url=url,
        headers=dict(headers),
        env=dict(env),
        tools=tuple(tools) if tools is not None else None,
        enabled=enabled,
        start_timeout=float(start),
    )


class Configured:
    """The servers config.toml names, started by `open` (the MCP SDK is imported there, not before): chat
    draws its prompt first and opens them while the user types (chat/session.py's McpServers)."""

    def __init__(
        self, specs: tuple[ServerSpec, ...], *, logs: Path, env: Mapping[str, str], cwd: Path, config: Path | None
    ) -> None:
        self._specs, self._logs, self._env, self._cwd, self._config = specs, logs, env, cwd, config

    @property
    def starting(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self._specs if spec.enabled)

    @asynccontextmanager
    async def open(self, notice: Callable[[str], None]) -> AsyncIterator[Servers | Unstarted | None]:
        """Every enabled server started (client.open_servers) for the block; None without the MCP SDK."""
        if not self.starting:
            yield Unstarted(self._specs)
            return
        try:
            from gptme_trio.mcp.client import open_servers
        except ImportError:
            notice(CLIENT_INSTALL_HINT.format(self._config))
            yield None
            return
        async with open_servers(self._specs, logs=self._logs, env=self._env, cwd=self._cwd, notice=notice) as opened:
            yield opened


class Unstarted:
    """Servers the config names, every one disabled: /mcp lists them, and they have no tools."""

    def __init__(self, specs: tuple[ServerSpec, ...]) -> None:
        self._specs = specs

    def tools(self) -> dict[str, Any]:
        return {}

    def report(self) -> str:
        return "\n".join(f"{spec.name}: disabled · {spec.where}" for spec in self._specs)


def expand(value: str, env: Mapping[str, str], where: str) -> str:
    """`value` with each ${VAR} replaced by the variable's value in `env`; ValueError names one unset."""

    def one(match: re.Match[str]) -> str:
        if match[1] not in env:
            raise ValueError(f"{where} names ${{{match[1]}}}, which is not set")
        return env[match[1]]

    return _VARIABLE.sub(one, value)


def model_name(server: str, tool: str, taken: set[str]) -> str:
    """`server__tool` as the providers take it: other characters become '_', a name too long is cut
    and given a short hash of the original, and a name already `taken` gets one too."""
    name = f"{server}{SEPARATOR}{_UNSAFE.sub('_', tool)}"
    if len(name) <= MAX_TOOL_NAME and name not in taken:
        return name
    digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
    return f"{name[: MAX_TOOL_NAME - 9]}_{digest}"
