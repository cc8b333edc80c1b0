"""Chat's slash commands as the user sees them: /help's text, the names Tab completes, the slow ones.
(interactive.py runs them; this module is light, for the prompt that comes before it loads.)"""

HELP = """\
/help              this help
/exit              leave (Ctrl-D too)
/edit [TEXT]       write the message in $EDITOR (Ctrl-X Ctrl-E edits the line in place)
/tools             the tools the model can call
/mcp               the MCP servers (config.toml's [mcp.servers]): their state and tools
/log               the conversation so far
/show [N]          tool result N in full, as the model read it (default: the last)
/undo [N]          forget the last N turns (default 1)
/model [NAME]      show or switch the model (PROVIDER/MODEL)
/rename NAME       rename this conversation
/fetch URL         read a page and add it to the conversation as context for your next question
/tokens            tokens used so far in this chat, their cost, and how full the context is
/compact           shorten old tool results and summarise all but the latest turn (uses the model)
/screenshot URL    save a PNG of a page in the conversation's directory
/search QUERY      search the web (DuckDuckGo, or SearXNG via config/GPTME_TRIO_SEARCH_URL)
Anything else goes to the model. Enter sends; Ctrl-J or Esc-Enter starts a new line; Ctrl-R searches
the history; Tab completes commands and paths. Ctrl-C stops the current reply or tool call."""
COMMANDS = [
    "/help",
    "/exit",
    "/edit",
    "/tools",
    "/mcp",
    "/log",
    "/show",
    "/undo",
    "/model",
    "/rename",
    "/fetch",
    "/tokens",
    "/compact",
    "/screenshot",
    "/search",
]
SLOW = frozenset({"/fetch", "/screenshot", "/search", "/compact"})  # I/O: the status line shows while they run
