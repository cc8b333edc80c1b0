"""A small stdio MCP server for chat's client tests: `echo` answers, `hang` never does.

    python -m tests.support.mcp_hang_server RECORD     (from the repository root)

At start it spawns a grandchild (`sleep 1000`) that it never ends, and appends "pids SERVER GRANDCHILD"
to RECORD: chat must end it too. A `hang` call appends "hang" when it starts and "cancelled" when it is
cancelled (the client sent notifications/cancelled, or the server is ending); `mark` appends "mark", so
a "cancelled" before a "mark" came while the server ran. `shout` returns an image too; `fail` is an isError.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import trio
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TOOLS = [
    types.Tool(
        name="echo",
        description="Say the text back.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
    types.Tool(
        name="hang",
        description="Never returns.",
        input_schema={"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
    ),
    types.Tool(name="shout", description="Upper-case text and a picture.", input_schema={"type": "object"}),
    types.Tool(name="fail", description="Always fails.", input_schema={"type": "object", "properties": {}}),
    types.Tool(name="mark", description="Writes a mark in the record.", input_schema={"type": "object"}),
    types.Tool(name="dotted.name", description="A name the providers refuse.", input_schema={"type": "object"}),
]


def main(record: Path) -> None:
    grandchild = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
    with record.open("a") as out:
        out.write(f"pids {os.getpid()} {grandchild.pid}\n")

    async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        if params.name == "hang":
            with record.open("a") as out:
                out.write("hang\n")
            try:
                await trio.sleep_forever()
            finally:
                with record.open("a") as out:
                    out.write("cancelled\n")
        if params.name == "mark":
            with record.open("a") as out:
                out.write("mark\n")
        if params.name == "fail":
            return types.CallToolResult(content=[types.TextContent(text="it failed, as asked")], is_error=True)
        if params.name == "shout":
            image = types.ImageContent(data=base64.b64encode(PNG).decode(), mime_type="image/png")
            return types.CallToolResult(content=[types.TextContent(text="HELLO"), image])
        return types.CallToolResult(content=[types.TextContent(text=f"echo: {arguments.get('text')}")])

    server = Server("hang-server", version="1", on_list_tools=list_tools, on_call_tool=call_tool)

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    trio.run(serve)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
