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
from urllib.parse import urlsplit

import httpx

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.store import Conversation
from gptme_trio.core.browser import BrowserSpec, open_browser
from gptme_trio.core.errors import EXIT_OK, ProviderConfigError
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.core.runtime import Interrupts
from gptme_trio.llm import Message, Provider, ToolCall
from gptme_trio.tools.search import WebSearch
from gptme_trio.tools.web import WebTools

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
    model: str | None
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


SYSTEM_PROMPT = (
    "You are gptme-trio, a terminal assistant that reads the web. Use the tools to read pages "
    "before answering questions about them, cite the URLs you used, and say so when a page "
    "could not be read."
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

    def notice(self, text: str) -> None:
        print(f"gptme-trio: {text}", file=sys.stderr, flush=True)

    async def confirm(self, call: ToolCall) -> bool:
        return True  # -n implies -y: nobody is there to answer


def open_conversation(plan: ChatPlan) -> Conversation:
    if plan.resume:
        conversation = Conversation.open(plan.home, plan.name)
        if conversation.skipped_lines:
            print(
                f"gptme-trio: skipped {conversation.skipped_lines} unreadable line(s) in {conversation.path}",
                file=sys.stderr,
            )
        return conversation
    conversation = Conversation.create(plan.home, plan.name)
    conversation.append(Message("system", plan.system or SYSTEM_PROMPT))
    return conversation


async def run_chat(
    plan: ChatPlan,
    interrupts: Interrupts,
    *,
    providers: Callable[[str, Mapping[str, str], httpx.AsyncClient], Provider] | None = None,
) -> int:
    """`providers` turns "PROVIDER/MODEL" into a Provider: `llm.registry.resolve` unless a test injects one."""
    if not plan.model and not plan.interactive:
        raise ProviderConfigError(NO_MODEL_HELP)
    conversation = open_conversation(plan)
    policy = UrlPolicy(plan.allow_hosts)
    async with (
        httpx.AsyncClient(timeout=None) as client,
        open_policy_proxy(policy) as proxy_url,  # outlives the browser: its pages connect through it
        open_browser(plan.browser) as browser,
    ):
        proxy = proxy_url if on_this_machine(plan.browser) else None
        if proxy is None:
            print(REMOTE_BROWSER_NOTE.format(plan.browser.ws_endpoint or plan.browser.cdp_endpoint), file=sys.stderr)
        web = WebTools(browser, policy, conversation.directory, proxy=proxy)
        search = WebSearch(client, plan.search_engine, plan.search_url)
        tools = {t.name: t for t in [*web.tools(), *search.tools()]}

        def make_agent(model: str) -> Agent:
            from gptme_trio.llm.registry import resolve

            return Agent((providers or resolve)(model, plan.env, client), tools, plan.settings)

        if plan.interactive:
            from gptme_trio.chat.interactive import COMMANDS, chat_loop
            from gptme_trio.chat.prompt import Prompter

            with Prompter(plan.home / "history", COMMANDS) as prompter:  # the terminal's mode restored on exit
                return await chat_loop(
                    prompter, conversation, web, search, interrupts, make_agent, plan.model, NO_MODEL_HELP
                )
        if not plan.model:  # checked above, before anything started; this tells the type checker
            raise ProviderConfigError(NO_MODEL_HELP)
        agent = make_agent(plan.model)
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
