"""`chat` wired up: the conversation, the prompt, and the services (services.py) in one nursery.

    plan = ChatPlan(...)            # built and checked by the CLI before anything starts
    code = runtime.run(lambda: run_chat(plan))

The services are async context managers opened here and passed down; nothing is
global. The browser starts lazily, on the first tool call that needs it. On a terminal the
banner and the first prompt come before the services (and their imports) and before the MCP
servers the config names: chat is ready to type into in about half the time it takes to load
them all, however long a server takes to start.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import trio

from gptme_trio.chat.store import Conversation
from gptme_trio.chat.toolset import ACTING, ALL, choose
from gptme_trio.core.browser import BrowserSpec
from gptme_trio.core.errors import EXIT_OK, ProviderConfigError
from gptme_trio.core.runtime import Interrupts, alongside
from gptme_trio.llm import Message, Retrying, ToolCall
from gptme_trio.tools.paths import Workspace
from gptme_trio.tools.shell import ShellSettings

if TYPE_CHECKING:
    from gptme_trio.chat.agent import ChatSettings
    from gptme_trio.chat.prompt import PromptEOF, Prompter, PromptInterrupted
    from gptme_trio.chat.services import Providers
    from gptme_trio.tools import Tool

NO_MODEL_HELP = (
    "no model configured: pass -m PROVIDER/MODEL (e.g. -m openai/gpt-4o-mini, -m local/qwen2.5) "
    "or set GPTME_TRIO_MODEL, with the provider's key in its env var (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)"
)


REMOTE_BROWSER_NOTE = (
    "gptme-trio: the browser at {} is not on this machine, so it cannot reach the URL-policy proxy: "
    "model-opened pages are checked request by request only (redirect hops of images and scripts, "
    "WebSockets and changing DNS answers are not checked)"
)


@dataclass(frozen=True)
class ChatPlan:
    prompts: list[str]
    model: str | None  # -m, else GPTME_TRIO_MODEL, else the config's
    browser: BrowserSpec
    settings: ChatSettings
    home: Path
    name: str | None = None
    resume: bool = False
    system: str | None = None
    allow_hosts: tuple[str, ...] = ()
    interactive: bool = False
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    search_engine: str = "duckduckgo"
    search_url: str | None = None
    tools: tuple[str, ...] | None = None  # --tools / the config's list (checked); None: the mode's default
    workdir: Path = field(default_factory=Path.cwd)  # the tree the file tools may touch, the shell's start
    allow_paths: tuple[Path, ...] = ()  # more trees for the file tools
    shell: ShellSettings = field(default_factory=ShellSettings)
    models: Mapping[str, Mapping[str, float | bool]] = field(default_factory=dict)  # config's [models.*] overrides
    color: bool = True  # False: --no-color (interactive chat prints plain text)
    model_given: bool = False  # -m on the command line: it beats a resumed conversation's own model


class ServerTools(Protocol):
    """Tools served from elsewhere: the MCP servers the CLI opened (mcp/client.py's Servers)."""

    def tools(self) -> dict[str, Tool]: ...
    def report(self) -> str: ...


class McpServers(Protocol):
    """The MCP servers config.toml names, not started yet (mcp/servers.py's Configured: the CLI's).
    `starting`: the names of those that will start; `open(notice)` starts them and yields once each
    runs or has failed (one line through `notice` each), their tools then ready; None when the MCP SDK
    is not installed (said through `notice`)."""

    @property
    def starting(self) -> tuple[str, ...]: ...
    def open(self, notice: Callable[[str], None]) -> AbstractAsyncContextManager[ServerTools | None]: ...


SYSTEM_PROMPT = (
    "You are gptme-trio, a terminal assistant that reads the web. Use the tools to read pages "
    "before answering questions about them, cite the URLs you used, and say so when a page "
    "could not be read."
)
HANDS_PROMPT = (
    " You can also run shell commands and read and edit files: the project is {}, where relative "
    "paths start. Read a file before you change it, and prefer patch_file for small edits."
)


class PlainUI:
    """Non-interactive: tool activity as lines on stderr; the answer goes to stdout by the caller."""

    def on_text(self, text: str) -> None:
        pass

    def on_tool_start(self, call: ToolCall) -> None:
        args = ", ".join(f"{v!r}" for v in call.arguments.values())
        print(f"-> {call.name}({args})", file=sys.stderr, flush=True)

    def on_tool_end(self, call: ToolCall, result: str, ok: bool) -> None:
        if not ok:
            print(f"   {call.name}: {result}", file=sys.stderr, flush=True)

    def on_tool_output(self, call: ToolCall, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def notice(self, text: str) -> None:
        print(f"gptme-trio: {text}", file=sys.stderr, flush=True)

    def on_model_wait(self, seconds: float | None) -> None:
        pass

    def on_retry(self, retry: Retrying) -> None:
        self.notice(f"{retry.reason}, retrying in {retry.wait:.3g} s · attempt {retry.attempt}/{retry.attempts}")

    async def confirm(self, call: ToolCall, preview: str) -> bool:
        return True  # -n implies -y: nobody is there to answer


def open_conversation(plan: ChatPlan, hands: bool = False, chosen: str | None = None) -> Conversation:
    """The conversation to resume (`chosen` by the picker, else --name, else the latest), or a new one:
    a new one is in memory until its first message (store.py)."""
    if plan.resume:
        conversation = Conversation.open(plan.home, chosen or plan.name)
        if conversation.skipped_lines:
            print(
                f"gptme-trio: skipped {conversation.skipped_lines} unreadable line(s) in {conversation.path}",
                file=sys.stderr,
            )
        return conversation
    conversation = Conversation.new(plan.home, plan.name, plan.model)
    system = plan.system or SYSTEM_PROMPT + (HANDS_PROMPT.format(Workspace(plan.workdir).root) if hands else "")
    conversation.append(Message("system", system))
    return conversation


def chat_model(plan: ChatPlan, conversation: Conversation) -> str | None:
    """-m wins; else a resumed conversation keeps its own model; else the default (GPTME_TRIO_MODEL, config)."""
    if plan.resume and conversation.model and not plan.model_given:
        return conversation.model
    return plan.model


async def run_chat(
    plan: ChatPlan,
    interrupts: Interrupts,
    *,
    providers: Providers | None = None,
    servers: McpServers | None = None,
) -> int:
    """`providers` turns "PROVIDER/MODEL" into a Provider: `llm.registry.resolve` unless a test injects one.
    `servers`: the MCP servers, whose tools join chat's own (their config chose them, not --tools)."""
    hands = any(name in plan.tools for name in ACTING) if plan.tools is not None else plan.interactive
    if not plan.interactive:
        return await _answer(plan, open_conversation(plan, hands), providers, servers)
    from gptme_trio.chat.commands import COMMANDS
    from gptme_trio.chat.display import wants_color
    from gptme_trio.chat.prompt import Prompter

    color = wants_color(os.environ, no_color=not plan.color)
    with Prompter(plan.home / "history", COMMANDS, color) as prompter:  # the terminal's mode restored on exit
        chosen = None
        if plan.resume and not plan.name:  # -r on a terminal: the user picks
            from gptme_trio.chat.picker import pick

            chosen = await pick(prompter, plan.home)
            if chosen is None:
                return EXIT_OK
        conversation = open_conversation(plan, hands, chosen)
        return await _converse(plan, conversation, interrupts, providers, prompter, servers)


def _open(servers: McpServers | None, notice: Callable[[str], None]) -> AbstractAsyncContextManager[ServerTools | None]:
    return servers.open(lambda text: notice(f"gptme-trio: {text}")) if servers is not None else nullcontext(None)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _answer(
    plan: ChatPlan, conversation: Conversation, providers: Providers | None, servers: McpServers | None
) -> int:
    """-n: each of plan.prompts in turn, the answers on stdout."""
    from gptme_trio.chat.services import open_services

    model = chat_model(plan, conversation)
    if not model:
        raise ProviderConfigError(NO_MODEL_HELP)
    conversation.set_model(model)
    _note_remote_browser(plan)
    async with _open(servers, _stderr) as opened, open_services(plan, conversation, providers, opened) as services:
        agent = services.make_agent(model)
        ui = PlainUI()
        for prompt in plan.prompts:
            answer = await agent.turn(conversation, prompt, ui)
            sys.stdout.write(answer if answer.endswith("\n") else answer + "\n")
            sys.stdout.flush()
    return EXIT_OK


async def _converse(
    plan: ChatPlan,
    conversation: Conversation,
    interrupts: Interrupts,
    providers: Providers | None,
    prompter: Prompter,
    servers: McpServers | None,
) -> int:
    """Interactive chat. The banner and the first prompt come first, from what is known without the
    services; while the user types the first line, the MCP servers start and the services open (their
    imports are most of chat's start-up: httpx, Playwright, the tools, the providers, the MCP SDK), and
    the first line waits for them if it must. What a server has to say meanwhile shows above the prompt."""
    from gptme_trio.chat.display import banner, wants_color

    model = chat_model(plan, conversation)
    if model and providers is None:  # a model that cannot be used is said now, before the prompt
        from gptme_trio.llm.registry import prepare

        prepare(model, plan.env)
    conversation.set_model(model)
    _note_remote_browser(plan)
    if plan.resume:
        from gptme_trio.chat.picker import last_exchange, resumed_line

        print(resumed_line(conversation, model), file=sys.stderr, flush=True)
        print(last_exchange(conversation, wants_color(os.environ, no_color=not plan.color) and sys.stdout.isatty()))
    names = choose({name: name for name in ALL}, plan.tools, interactive=True)[0]
    starting = servers.starting if servers is not None else ()
    print(banner(model, list(names), conversation.name, conversation.path, starting), file=sys.stderr, flush=True)
    if not model:
        print(f"gptme-trio: {NO_MODEL_HELP}; slash commands still work", file=sys.stderr, flush=True)
    first = _FirstLine(prompter)
    async with alongside(first.ask):
        await first.shown.wait()  # on the screen (or it failed): what follows loads while the user types
        from gptme_trio.chat.interactive import chat_loop
        from gptme_trio.chat.services import open_services

        with trio.CancelScope() as opening:
            first.on_leave = opening.cancel  # Ctrl-D or /exit before all is open: chat ends at once
            if first.left:
                opening.cancel()
            async with (
                _open(servers, prompter.say) as opened,
                open_services(plan, conversation, providers, opened) as services,
            ):
                first.on_leave = None  # from here chat_loop reads the first line as any other
                return await chat_loop(
                    prompter,
                    conversation,
                    services.web,
                    services.search,
                    interrupts,
                    services.make_agent,
                    model,
                    NO_MODEL_HELP,
                    tools=services.tools,
                    keeper=services.keeper,
                    color=plan.color,
                    servers=opened.report if opened is not None else None,
                    first_line=first.line,
                )
        return EXIT_OK


class _FirstLine:
    """The first prompt, asked while the services open: `shown` is set once it is drawn (or has ended),
    and `line()` is what `Prompter.ask` would have returned or raised (PromptInterrupted, PromptEOF)."""

    def __init__(self, prompter: Prompter) -> None:
        self._prompter = prompter
        self.shown = trio.Event()
        self._done = trio.Event()
        self._line: str | None = None
        self._error: PromptInterrupted | PromptEOF | None = None
        self.left = False  # the first line ends chat: Ctrl-D, or /exit
        self.on_leave: Callable[[], None] | None = None  # called when it does

    async def ask(self) -> None:
        from gptme_trio.chat.prompt import PromptEOF, PromptInterrupted

        try:
            self._line = await self._prompter.ask(shown=self.shown.set)
        except (PromptInterrupted, PromptEOF) as exc:
            self._error = exc
        finally:
            self.left = isinstance(self._error, PromptEOF) or (self._line or "").strip() == "/exit"
            if self.left and self.on_leave is not None:
                self.on_leave()
            self.shown.set()
            self._done.set()

    async def line(self) -> str:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._line is not None
        return self._line


def _note_remote_browser(plan: ChatPlan) -> None:
    if not on_this_machine(plan.browser):
        print(REMOTE_BROWSER_NOTE.format(plan.browser.ws_endpoint or plan.browser.cdp_endpoint), file=sys.stderr)


def on_this_machine(spec: BrowserSpec) -> bool:
    """The policy proxy listens on 127.0.0.1: only a browser on this machine can use it."""
    endpoint = spec.ws_endpoint or spec.cdp_endpoint
    if not endpoint:
        return True
    host = (urlsplit(endpoint).hostname or "").strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
