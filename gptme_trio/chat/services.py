"""What a chat runs on, opened together: the API client, background commands, the URL-policy proxy, the
browser service, the tools over them, and the agent factory.

    async with open_services(plan, conversation, providers, servers) as services:
        agent = services.make_agent("openai/gpt-4o-mini")

This module is what makes chat's imports heavy (httpx, trio-asyncio and Playwright, every tool, the
providers): interactive chat imports it while its first prompt is already on the screen (session.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from gptme_trio.chat.agent import Agent
from gptme_trio.chat.context import ContextKeeper
from gptme_trio.chat.session import ChatPlan, ServerTools, on_this_machine
from gptme_trio.chat.store import Conversation
from gptme_trio.chat.toolset import choose
from gptme_trio.core.browser import open_browser
from gptme_trio.core.network import api_client
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.llm import Provider
from gptme_trio.tools import Tool
from gptme_trio.tools.background import open_background
from gptme_trio.tools.files import FileTools
from gptme_trio.tools.paths import Workspace
from gptme_trio.tools.search import WebSearch
from gptme_trio.tools.shell import Shell
from gptme_trio.tools.web import WebTools

Providers = Callable[[str, Mapping[str, str], httpx.AsyncClient], Provider]


@dataclass(frozen=True)
class Services:
    web: WebTools
    search: WebSearch
    tools: dict[str, Tool]  # the tools the model has: chat's own that are on, and the MCP servers'
    make_agent: Callable[[str], Agent]  # "PROVIDER/MODEL" -> an agent with these tools
    keeper: ContextKeeper


@asynccontextmanager
async def open_services(
    plan: ChatPlan, conversation: Conversation, providers: Providers | None, servers: ServerTools | None
) -> AsyncIterator[Services]:
    """The services for the duration of the block. `providers`: `llm.registry.resolve` unless a test
    injects one; `servers`: the MCP servers' tools, which join chat's own."""
    policy = UrlPolicy(plan.allow_hosts)
    workspace = Workspace(plan.workdir, plan.allow_paths)
    async with (
        api_client() as client,
        open_background() as background,  # commands run with `background: true`; all end with the chat
        open_policy_proxy(policy) as proxy_url,  # outlives the browser: its pages connect through it
        open_browser(plan.browser) as browser,
    ):
        proxy = proxy_url if on_this_machine(plan.browser) else None
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

        yield Services(web, search, tools, make_agent, keeper)
