"""`gptme-trio mcp`: our web tools served over MCP, each call under its own deadline and cancel scope.

    plan = McpPlan(...)                          # built and checked by the CLI, before anything starts
    code = runtime.run(lambda interrupts: serve(plan, interrupts))

A layer beside chat: on tools, fetch and core. The tools are chat's own `Tool` objects
(toolset.py); calls.py runs one call (its deadline, progress, result pages); server.py maps
them onto the SDK's lowlevel `Server`; stdio.py and http.py are the transports. The `mcp`
SDK and hypercorn are an optional extra, imported only here (plan.py imports neither).
"""

from gptme_trio.mcp.plan import McpPlan as McpPlan
