"""The MCP server: chat's tools on the SDK's lowlevel `Server`, over stdio or streamable HTTP.

    code = runtime.run(lambda interrupts: serve(plan, interrupts))

The lowlevel Server (not MCPServer, which rewords every error but its own) answers
`tools/list` with each tool's own schema plus the MCP-only arguments, and `tools/call` through
calls.run_call. The SDK runs each request in its own cancel scope and cancels it on
`notifications/cancelled`. Every SDK object is touched from Trio tasks only (never from the
browser's asyncio-flavoured code). SIGINT/SIGTERM cancel `serve` (core/runtime.py); EOF on stdin
ends it: the browser and its driver are closed on the way out.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gptme_trio import __version__
from gptme_trio.core.errors import EXIT_OK, UsageError
from gptme_trio.core.runtime import Interrupts
from gptme_trio.mcp.calls import Outcome, Progress, mcp_schema, run_call
from gptme_trio.mcp.plan import INSTALL_HINT, McpPlan
from gptme_trio.mcp.toolset import open_tools
from gptme_trio.tools import Tool

if TYPE_CHECKING:  # the SDK is imported by the CLI before the server starts (cli/mcp.py), and by build_server
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

INSTRUCTIONS = (
    "Web tools on a real Chromium: read_url returns a page's main content as Markdown, search the web, "
    "screenshot returns a PNG; open_page/click/fill/press/page_text act on one interactive page. "
    "Long results come in pages: call again with start_index to read on. Every call has a deadline "
    "(its timeout argument, capped by the server's) and can be cancelled."
)


def build_server(tools: Mapping[str, Tool], tool_timeout: float) -> Server[Any]:
    try:
        import mcp_types as types
        from mcp.server.lowlevel import Server
    except ImportError as exc:  # the CLI found the package: a broken install, or a stand-in without it
        raise UsageError(INSTALL_HINT) from exc

    listed = [
        types.Tool(name=name, description=tool.description, input_schema=mcp_schema(tool))
        for name, tool in tools.items()
    ]

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            outcome = Outcome(f"no tool named {params.name!r}; tools: {', '.join(tools)}", error=True)
        else:
            outcome = await run_call(tool, dict(params.arguments or {}), tool_timeout, _progress(ctx))
        content: list[types.ContentBlock] = [types.TextContent(text=outcome.text)]
        content += [
            types.ImageContent(data=base64.b64encode(data).decode(), mime_type=mime) for mime, data in outcome.files
        ]
        return types.CallToolResult(content=content, is_error=outcome.error)

    return Server(
        "gptme-trio",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _progress(ctx: ServerRequestContext[Any]) -> Progress | None:
    """Progress notifications for this call, when the client asked for them (a progress token)."""
    token = (ctx.meta or {}).get("progress_token")
    if token is None:
        return None

    async def send(elapsed: float, seconds: float, message: str) -> None:
        related = str(ctx.request_id) if ctx.request_id is not None else None
        await ctx.session.send_progress_notification(token, elapsed, seconds, message, related_request_id=related)

    return send


async def serve(plan: McpPlan, interrupts: Interrupts) -> int:
    """Serve until EOF on stdin (stdio) or a signal; every service closed on the way out."""
    # open_tools starts the browser's driver (when a tool needs it): it boots while the client is met
    if plan.http is not None:
        async with open_tools(plan) as tools:
            server = build_server(tools, plan.tool_timeout)
            from gptme_trio.mcp.http import serve_http

            await serve_http(server, *plan.http, plan.auth_token)
        return EXIT_OK

    from gptme_trio.mcp.stdio import protocol_streams

    # protocol_streams first: the browser's driver inherits the diverted fds, never the client's
    async with protocol_streams() as (lines, writer), open_tools(plan) as tools:
        server = build_server(tools, plan.tool_timeout)
        from mcp.server.stdio import stdio_server

        async with stdio_server(lines, writer) as (read, write):  # type: ignore[arg-type]
            await server.run(read, write, server.create_initialization_options())
    return EXIT_OK
