"""The interactive chat: prompt, slash commands, one cancel scope per turn.

Ctrl-C during a turn (SIGINT, the terminal is not in raw mode then) cancels just
that turn: the stream or the tool calls stop, what happened is recorded, and the
prompt comes back. Ctrl-C at a confirmation does the same (the turn ends, its calls are
recorded as interrupted, the model is not called again); Ctrl-D there ends chat after
recording the turn. Ctrl-C at the prompt clears the line; Ctrl-D exits, and a Ctrl-D typed
on an empty line while the model answers or a slash command runs ends it and chat at once
(chat/prompt.py). The commands that do I/O (`SLOW`: /fetch, /search ...) show the status line
while they run, as a turn does for the model and the tools.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

import trio

from gptme_trio.chat.agent import Agent
from gptme_trio.chat.commands import HELP, SLOW
from gptme_trio.chat.context import CHARS_PER_TOKEN, ContextKeeper, shorten
from gptme_trio.chat.display import Display, describe, wants_color
from gptme_trio.chat.prompt import PromptEOF, Prompter, PromptInterrupted
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import EXIT_OK, GptmeTrioError
from gptme_trio.core.runtime import Interrupts
from gptme_trio.fetch.targets import parse_target
from gptme_trio.llm import Message, Retrying, ToolCall
from gptme_trio.tools import Tool
from gptme_trio.tools.search import WebSearch
from gptme_trio.tools.web import WebTools

NO_SERVERS = "no MCP servers configured: add [mcp.servers.NAME] to config.toml (README: MCP servers in chat)"
FETCHED_SHARE = 0.25  # of the model's window (in characters, ~4 a token) that one /fetch may take
FETCHED_MAX = 100_000  # characters, when no model is chosen yet


class TerminalUI:
    """Streams the reply to stdout; tool activity and notices to stderr, all through `display`
    (chat/display.py: rendered or plain, the status line). `turn` is the turn's cancel scope: Ctrl-C
    or Ctrl-D at a confirmation cancels it (`leave` says it was Ctrl-D). `tool_seconds`: a call's
    deadline, shown while it runs."""

    def __init__(
        self,
        prompter: Prompter,
        confirm_tools: bool,
        turn: trio.CancelScope,
        display: Display,
        tool_seconds: Callable[[ToolCall], float | None] = lambda call: None,
    ) -> None:
        self._prompter = prompter
        self._confirm_tools = confirm_tools
        self._turn = turn
        self._display = display
        self._tool_seconds = tool_seconds
        self._started: dict[int, float] = {}  # id(call) -> when it started
        self.leave = False

    def on_text(self, text: str) -> None:
        self._display.text(text)

    def on_tool_start(self, call: ToolCall) -> None:
        self._started[id(call)] = trio.current_time()
        self._display.tool_start(call, self._tool_seconds(call))

    def on_tool_end(self, call: ToolCall, result: str, ok: bool) -> None:
        now = trio.current_time()
        self._display.tool_end(call, result, ok, now - self._started.pop(id(call), now))

    def on_tool_output(self, call: ToolCall, text: str) -> None:
        self._display.tool_output(text)

    def notice(self, text: str) -> None:
        self._display.notice(text)

    def on_model_wait(self, seconds: float | None) -> None:
        self._display.model_wait(seconds)

    def on_retry(self, retry: Retrying) -> None:
        self._display.retry(retry)

    async def confirm(self, call: ToolCall, preview: str) -> bool:
        if not self._confirm_tools:
            return True
        if preview:  # the command, a diff, a new file's first lines
            self._display.say(preview, err=True)
        question = f"Run {call.name}?" if preview else f"Run {describe(call)}?"
        try:
            with self._display.asking():
                return await self._prompter.confirm(question)
        except (PromptInterrupted, PromptEOF) as exc:
            self.leave = isinstance(exc, PromptEOF)
            self._turn.cancel()  # as SIGINT does: the agent records the turn as interrupted
            await trio.lowlevel.checkpoint()  # raises Cancelled
            raise


async def chat_loop(
    prompter: Prompter,
    conversation: Conversation,
    web: WebTools,
    search: WebSearch,
    interrupts: Interrupts,
    make_agent: Callable[[str], Agent],
    model: str | None,
    no_model_help: str,
    tools: Mapping[str, Tool] | None = None,  # the tools the model has (default: the web tools)
    keeper: ContextKeeper | None = None,  # tokens and compaction (/tokens, /compact)
    color: bool = True,  # False: --no-color (NO_COLOR and a stdout that is no terminal count too)
    servers: Callable[[], str] | None = None,  # what /mcp says: the MCP servers, their state and tools
    first_line: Callable[[], Awaitable[str]] | None = None,  # the first prompt, asked already (session.py)
) -> int:
    """The prompt → command or turn loop, after the banner (session.py prints it)."""
    display = Display(wants_color(os.environ, no_color=not color))
    agent = make_agent(model) if model else None

    async def _say(text: str) -> None:  # through the display: never inside the status line
        display.say(text)

    async def switch_model(name: str) -> None:
        nonlocal agent
        if not name:
            await _say(f"model: {model_name(agent)}")
            return
        agent = make_agent(name)  # a bad name raises ProviderConfigError: printed, nothing changes
        conversation.set_model(model_name(agent))  # kept in its meta.json: resume picks it up
        await _say(f"model: {model_name(agent)}")

    async def rename(name: str) -> None:
        if not name:
            await _say("usage: /rename NAME")
            return
        conversation.rename(name, asked_by="/rename")
        web.save_dir = conversation.directory
        await _say(f"renamed to {conversation.name}")

    async def undo(arg: str) -> None:
        if arg and not (arg.isascii() and arg.isdigit() and int(arg) > 0):
            await _say("usage: /undo [N]: forget the last N turns, N a whole number from 1 (default 1)")
            return
        await _say(f"forgot {conversation.undo(int(arg) if arg else 1)} message(s)")

    async def screenshot(url: str) -> None:
        await _say(await web.capture(parse_target(url), check_policy=False) if url else "usage: /screenshot URL")

    async def list_tools(_: str) -> None:
        listed = list(tools.values()) if tools is not None else [*web.tools(), *search.tools()]
        await _say("\n".join(f"{t.name}: {t.description.splitlines()[0]}" for t in listed))

    async def fetch(url: str) -> None:
        if not url:
            await _say("usage: /fetch URL")
            return
        text = await web.read(parse_target(url), check_policy=False)  # typed by the user: not restricted
        await _say(text)
        limit = FETCHED_MAX
        if agent is not None and keeper is not None:
            limit = int(keeper.info(agent.provider).context * CHARS_PER_TOKEN * FETCHED_SHARE)
        content = shorten(text, limit)
        conversation.append(Message("user", f"[content of {url}]\n{content}"), {"fetched": url})
        cut = f", shortened from {len(text):,} characters" if len(content) < len(text) else ""
        await _say(f"[added to the conversation as context: {len(content):,} characters{cut}; ask away]")

    async def search_web(query: str) -> None:
        await _say(await search.search(query) if query else "usage: /search QUERY")

    async def tokens(_: str) -> None:
        if keeper is None:
            await _say("token counting is off in this chat")
            return
        specs = agent.specs() if agent is not None else []
        await _say(keeper.report(conversation, agent.provider if agent is not None else None, specs))

    async def compact(_: str) -> None:
        if agent is None or keeper is None:
            await _say(f"/compact needs a model: {no_model_help}")
            return
        done = await keeper.compact(conversation, agent.provider, agent.specs(), agent.summarise, everything=True)
        await _say(keeper.describe(done, agent.provider, "compacted on request (/compact)"))

    commands: dict[str, Callable[[str], Awaitable[None]]] = {
        "/help": lambda _: _say(HELP),
        "/tools": list_tools,
        "/mcp": lambda _: _say(servers() if servers is not None else NO_SERVERS),
        "/search": search_web,
        "/log": lambda _: _say(_render_log(conversation, display)),
        "/show": lambda arg: _say(display.show(arg)),
        "/undo": undo,
        "/model": switch_model,
        "/rename": rename,
        "/fetch": fetch,
        "/tokens": tokens,
        "/compact": compact,
        "/screenshot": screenshot,
    }
    ask = first_line or prompter.ask
    while True:
        try:
            line = (await ask()).strip()
        except PromptInterrupted:
            continue
        except PromptEOF:
            return EXIT_OK
        finally:
            ask = prompter.ask
        if not line:
            continue
        name, _, arg = line.partition(" ")
        if name == "/exit":
            return EXIT_OK
        turn = trio.CancelScope()
        ui = TerminalUI(prompter, agent.settings.confirm_tools if agent else True, turn, display)
        with turn, interrupts.redirect(turn):
            try:
                if name == "/edit":  # the editor's text is the message ("" when the editor failed)
                    name, line = "", await prompter.edit(arg.strip())
                if not line:
                    pass
                elif name in commands:
                    async with display.turn(model_name(agent)), prompter.watching(partial(_end_chat, ui, turn)):
                        with display.waiting(f"{name} {arg.strip()}") if name in SLOW else contextlib.nullcontext():
                            await commands[name](arg.strip())
                elif name.startswith("/"):
                    await _say(f"unknown command {name}; /help lists them")
                elif agent is None:
                    await _say(no_model_help)
                else:
                    ui = TerminalUI(prompter, agent.settings.confirm_tools, turn, display, agent.tool_seconds)
                    async with (
                        display.turn(model_name(agent)),
                        prompter.watching(partial(_end_chat, ui, turn)),  # keeps typeahead; Ctrl-D in it: leave
                    ):
                        await agent.turn(conversation, line, ui)
                    sys.stdout.write("\n")
            except GptmeTrioError as exc:
                display.error(f"gptme-trio: {exc}")
        # cancel_called, not cancelled_caught: a Ctrl-C that reaches a turn whose last await had already
        # returned (an editor killed by the same SIGINT hands back its result first) cancels nothing
        # more, but it was an interruption all the same.
        if turn.cancel_called:
            print("\n[interrupted]", file=sys.stderr, flush=True)
        if ui.leave:
            return EXIT_OK


def _end_chat(ui: TerminalUI, turn: trio.CancelScope) -> None:
    """A Ctrl-D typed ahead on an empty line: the turn is cancelled and chat ends."""
    ui.leave = True
    turn.cancel()


def model_name(agent: Agent | None) -> str:
    return f"{agent.provider.name}/{agent.provider.model}" if agent else "none"


def _render_log(conversation: Conversation, display: Display) -> str:
    lines = []
    for message in conversation.messages:
        text = message.content if len(message.content) < 400 else message.content[:400] + " …"
        calls = "".join(f"\n  -> {describe(c)}" for c in message.tool_calls)
        lines.append(f"{display.paint(f'[{message.role}]', message.role)} {text}{calls}")
    return "\n".join(lines)
