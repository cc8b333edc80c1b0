"""`chat` wired up: browser service, HTTP client, provider, tools and conversation in one nursery.

    plan = ChatPlan(...)            # built and checked by the CLI before anything starts
    code = runtime.run(lambda: run_chat(plan))

The services are async context managers opened here and passed down; nothing is
global. The browser starts lazily, on the first tool call that needs it.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import httpx

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.context import ContextKeeper
from gptme_trio.chat.store import Conversation
from gptme_trio.chat.toolset import ACTING, choose
from gptme_trio.core.browser import BrowserSpec, open_browser
from gptme_trio.core.errors import EXIT_OK, ProviderConfigError
from gptme_trio.core.network import api_client
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.core.runtime import Interrupts
from gptme_trio.llm import Message, Provider, Retrying, ToolCall
from gptme_trio.tools import Tool
from gptme_trio.tools.background import open_background
from gptme_trio.tools.files import FileTools
from gptme_trio.tools.paths import Workspace
from gptme_trio.tools.search import WebSearch
from gptme_trio.tools.shell import Shell, ShellSettings
from gptme_trio.tools.web import WebTools

if TYPE_CHECKING:
    from gptme_trio.chat.prompt import Prompter

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
    providers: Callable[[str, Mapping[str, str], httpx.AsyncClient], Provider] | None = None,
    servers: ServerTools | None = None,
) -> int:
    """`providers` turns "PROVIDER/MODEL" into a Provider: `llm.registry.resolve` unless a test injects one.
    `servers`: the MCP servers' tools, which join chat's own (their config chose them, not --tools)."""
    hands = any(name in plan.tools for name in ACTING) if plan.tools is not None else plan.interactive
    if not plan.interactive:
        return await _serve(plan, open_conversation(plan, hands), interrupts, providers, None, servers)
    from gptme_trio.chat.display import wants_color
    from gptme_trio.chat.interactive import COMMANDS
    from gptme_trio.chat.prompt import Prompter

    color = wants_color(os.environ, no_color=not plan.color)
    with Prompter(plan.home / "history", COMMANDS, color) as prompter:  # the terminal's mode restored on exit
        chosen = None
        if plan.resume and not plan.name:  # -r on a terminal: the user picks
            from gptme_trio.chat.picker import pick

            chosen = await pick(prompter, plan.home)
            if chosen is None:
                return EXIT_OK
        return await _serve(plan, open_conversation(plan, hands, chosen), interrupts, providers, prompter, servers)


async def _serve(
    plan: ChatPlan,
    conversation: Conversation,
    interrupts: Interrupts,
    providers: Callable[[str, Mapping[str, str], httpx.AsyncClient], Provider] | None,
    prompter: Prompter | None,
    servers: ServerTools | None = None,
) -> int:
    """The services opened, then the chat: interactive when there is a `prompter`, else plan.prompts."""
    model = chat_model(plan, conversation)
    if not model and prompter is None:
        raise ProviderConfigError(NO_MODEL_HELP)
    conversation.set_model(model)
    policy = UrlPolicy(plan.allow_hosts)
    workspace = Workspace(plan.workdir, plan.allow_paths)
    async with (
        api_client() as client,
        open_background() as background,  # commands run with `background: true`; all end with the chat
        open_policy_proxy(policy) as proxy_url,  # outlives the browser: its pages connect through it
        open_browser(plan.browser) as browser,
    ):
        proxy = proxy_url if on_this_machine(plan.browser) else None
        if proxy is None:
            print(REMOTE_BROWSER_NOTE.format(plan.browser.ws_endpoint or plan.browser.cdp_endpoint), file=sys.stderr)
        web = WebTools(browser, policy, conversation.directory, proxy=proxy)
        search = WebSearch(client, plan.search_engine, plan.search_url)
        shell = Shell(workspace.root, os.environ, background, plan.shell)  # keys were taken out of os.environ
        every = [*web.tools(), *search.tools(), *shell.tools(), *FileTools(workspace).tools()]
        tools, off = choose({t.name: t for t in every}, plan.tools, plan.interactive)
        tools.update(servers.tools() if servers is not None else {})
        keeper = ContextKeeper(plan.models)  # one ledger for the chat, whichever model /model picks
        keeper.add_earlier(conversation.usage)  # a resumed log's replies (/tokens shows them apart)

        def make_agent(model: str) -> Agent:
            from gptme_trio.llm.registry import resolve

            return Agent((providers or resolve)(model, plan.env, client), tools, plan.settings, off, keeper)

        if prompter is not None:
            from gptme_trio.chat.interactive import chat_loop

            if plan.resume:
                from gptme_trio.chat.display import wants_color
                from gptme_trio.chat.picker import last_exchange, resumed_line

                print(resumed_line(conversation, model), file=sys.stderr, flush=True)
                color = wants_color(os.environ, no_color=not plan.color) and sys.stdout.isatty()
                print(last_exchange(conversation, color), flush=True)
            return await chat_loop(
                prompter,
                conversation,
                web,
                search,
                interrupts,
                make_agent,
                model,
                NO_MODEL_HELP,
                tools=tools,
                keeper=keeper,
                color=plan.color,
                servers=servers.report if servers is not None else None,
            )
        if not model:  # checked above, before anything started; this tells the type checker
            raise ProviderConfigError(NO_MODEL_HELP)
        agent = make_agent(model)
        ui = PlainUI()
        for prompt in plan.prompts:
            answer = await agent.turn(conversation, prompt, ui)
            sys.stdout.write(answer if answer.endswith("\n") else answer + "\n")
            sys.stdout.flush()
    return EXIT_OK


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
