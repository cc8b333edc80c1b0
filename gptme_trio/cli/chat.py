"""`gptme-trio chat`: the agent. Chat-side modules are imported inside the command, never at start."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from gptme_trio.cli.common import SECONDS, browser_options, fail, first, run
from gptme_trio.core.errors import EXIT_SIGPIPE, UsageError

if TYPE_CHECKING:
    from gptme_trio.chat.session import ChatPlan
    from gptme_trio.core.runtime import Interrupts
    from gptme_trio.mcp.servers import ServerSpec

CHAT_EXIT_HELP = """\b
Exit codes:
  0    done (-n: the final answer is on stdout)
  1    the provider or the browser failed (one line on stderr)
  2    usage error: bad option, no model configured, unknown conversation, a --name that is
       taken or not a safe file name
  130  interrupted (SIGINT)   143  terminated (SIGTERM)"""


@click.command(epilog=CHAT_EXIT_HELP)
@click.argument("prompts", nargs=-1, metavar="[PROMPT]...")
@click.option(
    "-m",
    "--model",
    envvar="GPTME_TRIO_MODEL",
    metavar="PROVIDER/MODEL",
    help="openai/…, anthropic/…, gemini/…, xai/…, deepseek/…, groq/…, mistral/…, openrouter/…, "
    "ollama/…, local/… (env GPTME_TRIO_MODEL).",
)
@click.option(
    "-n",
    "--non-interactive",
    is_flag=True,
    help="Run the prompts through the tool loop, print the final answer, exit (implies -y).",
)
@click.option("-y", "--no-confirm", is_flag=True, help="Run tool calls without asking.")
@click.option(
    "--name",
    metavar="NAME",
    help="Name of a new conversation (letters, digits, '.', '_', '-'; unique), or the one -r resumes.",
)
@click.option(
    "-r",
    "pick",
    is_flag=True,
    help="Resume a conversation: on a terminal choose from the recent ones; else the latest (or --name).",
)
@click.option("--resume", "resume_name", metavar="NAME", help="Resume the conversation NAME (its model too).")
@click.option(
    "--list",
    "list_them",
    is_flag=True,
    help="List the saved conversations, newest first: name, date, model, messages, size, first words.",
)
@click.option("--json", "as_json", is_flag=True, help="With --list: a JSON array, for scripts.")
@click.option(
    "--tool-timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Deadline for each tool call (shell calls have their own timeout).  [default: 30]",
)
@click.option(
    "--llm-timeout",
    type=SECONDS,
    metavar="SECONDS",
    help="Give up when the model sends nothing for this long.  [default: 120]",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1, 1000),
    metavar="N",
    help="Model replies per turn at most (each may call tools).  [default: 20]",
)
@click.option(
    "--allow-hosts",
    metavar="H1,H2",
    help="Hosts the model may open even if local or private (e.g. localhost,127.0.0.1).",
)
@click.option(
    "--tools",
    "tool_names",
    metavar="T1,T2",
    help="The tools the model gets (e.g. read_url,search,shell,read_file). Default: all of them "
    "interactively; with -n all but shell and the file-writing tools.",
)
@click.option(
    "--allow-paths",
    metavar="DIR1,DIR2",
    help="More directory trees the file tools may touch (besides the one chat started in).",
)
@click.option("--system", metavar="TEXT", help="System prompt for a new conversation.")
@click.option("-v", "--verbose", is_flag=True, help="Show details of failures, and what the URL policy refused.")
@click.option("--no-color", is_flag=True, help="Plain text: no colours, no Markdown rendering (also NO_COLOR=1).")
@browser_options
def chat(
    prompts: tuple[str, ...],
    model: str | None,
    non_interactive: bool,
    no_confirm: bool,
    name: str | None,
    pick: bool,
    resume_name: str | None,
    list_them: bool,
    as_json: bool,
    tool_timeout: float | None,
    llm_timeout: float | None,
    max_steps: int | None,
    allow_hosts: str | None,
    tool_names: str | None,
    allow_paths: str | None,
    system: str | None,
    verbose: bool,
    no_color: bool,
    browser_path: str | None,
    browser_endpoint: str | None,
    cdp_endpoint: str | None,
) -> None:
    """Chat with a model that can read the web.

    Defaults for -m, --allow-hosts, the timeouts and the search engine can live in
    config.toml ($GPTME_TRIO_HOME/config.toml, else ~/.config/gptme-trio/); flags win.

    \b
    Examples:
      gptme-trio chat -m openai/gpt-4o-mini                       # interactive
      gptme-trio chat -n -m anthropic/claude-sonnet-4-5 'Summarise https://example.com'
      GEMINI_API_KEY=… gptme-trio chat -m gemini/gemini-2.5-flash  # also xai/ deepseek/ groq/ mistral/
      OPENAI_BASE_URL=http://127.0.0.1:8080/v1 gptme-trio chat -m local/qwen2.5 -n 'hi'
      gptme-trio chat -r                                          # choose a conversation to resume
      gptme-trio chat --resume research 'and the second link?'     # resume one by name
      gptme-trio chat --list --json                               # the saved conversations
      gptme-trio chat -n --tools shell,read_file,patch_file 'make the tests pass'
      gptme-trio chat --tools read_url,search                     # a web reader only
      gptme-trio chat --allow-paths ~/notes                        # files there too

    \b
    Tools: read_url search screenshot snapshot read_logs open_page click fill press page_text
    close_page (the web); shell shell_output shell_kill (bash in the directory chat started in,
    stdin /dev/null, stopped after its timeout, 60 s without output, or Ctrl-C, with everything
    it started); read_file save_file append_file patch_file (files in that directory's tree).
    Interactively every call is shown (the command, a diff) and confirmed unless -y. With -n
    nobody confirms: shell and the file-writing tools are off unless --tools (or config) names them.

    \b
    Keys: Enter sends; Ctrl-J or Esc-Enter a new line (a paste keeps its newlines); Ctrl-R
    searches the history; Tab completes /commands and paths; /edit or Ctrl-X Ctrl-E opens $EDITOR;
    Ctrl-C stops the reply; Ctrl-D exits, typed ahead during a reply or a /command too.

    \b
    Context: tokens are counted from what the provider reports. Before a request would pass 80%
    of the model's context window (a table of common models; [models."P/M"] context = N in
    config.toml), old tool results are shortened, then the oldest turns summarised, with a
    notice. Interactively: /tokens (usage and cost), /compact, /fetch URL (the page becomes
    context for your next question); /help lists every command.

    \b
    Display: on a terminal replies are rendered Markdown (code in colour, tables drawn), each
    tool call one line and a preview (/show N prints result N whole), and a status line says
    what is waited for and its deadline, retries too. NO_COLOR=1 or --no-color: plain text.

    MCP servers: [mcp.servers.NAME] tables in config.toml (command and args, or url) add
    their tools as NAME__TOOL, called like ours (confirmed, under --tool-timeout, Ctrl-C
    cancels them); they start while the first prompt is up, and /mcp lists the servers, their
    state and tools. Needs the [mcp] extra.

    Conversations: saved under $GPTME_TRIO_HOME/conversations/NAME/ from the first message on
    (a launch where nothing is said leaves nothing). A resumed conversation keeps its model
    (the last /model chosen) unless -m is given, and shows its last exchange.
    """
    from gptme_trio.chat.store import home_dir

    if as_json or list_them:  # before the chat side is imported: a listing starts as fast as Python
        if not list_them:
            fail("--json goes with --list: gptme-trio chat --list --json")
        if prompts:
            fail("--list takes no prompt")
        list_conversations(home_dir(), as_json)
        return
    from gptme_trio.chat.agent import ChatSettings
    from gptme_trio.chat.config import load_config
    from gptme_trio.chat.session import ChatPlan
    from gptme_trio.chat.store import check_name, exists
    from gptme_trio.chat.toolset import check_names, parse_names
    from gptme_trio.core.browser.locate import browser_spec
    from gptme_trio.mcp.servers import parse_servers
    from gptme_trio.tools.shell import ShellSettings

    try:
        resume = pick or resume_name is not None
        if resume_name is not None:
            if resume_name.startswith("-"):  # `--resume --name X`, as when --resume was a flag
                raise UsageError(f"--resume takes a conversation's name, not {resume_name!r}: -r alone offers a list")
            check_name(resume_name, "--resume")
            if name and name != resume_name:
                raise UsageError(f"--resume {resume_name} and --name {name}: name one conversation")
            name = resume_name
        if name:
            check_name(name)
            if not resume and exists(home_dir(), name):
                raise UsageError(f"a conversation named {name!r} exists already: --resume {name}, or another --name")
        config = load_config()
        servers = parse_servers(config.path, config.mcp) if config.mcp else ()
        model = model or config.model
        tool_timeout = first(tool_timeout, config.tool_timeout, 30.0)
        llm_timeout = first(llm_timeout, config.llm_timeout, 120.0)
        max_steps = first(max_steps, config.max_steps, 20)
        hosts = tuple(h for h in allow_hosts.split(",") if h.strip()) if allow_hosts is not None else config.allow_hosts
        if tool_names is not None:
            chosen: tuple[str, ...] | None = check_names(parse_names(tool_names))
        elif config.tools is not None:
            chosen = check_names(config.tools, f"{config.path}: tools")
        else:
            chosen = None
        paths = parse_names(allow_paths) if allow_paths is not None else list(config.allow_paths)
        trees = tuple(existing_dir(p, "--allow-paths" if allow_paths is not None else f"{config.path}") for p in paths)
        stdin = sys.stdin  # None when the shell closed it (`<&-`)
        texts = list(prompts)
        if stdin is None and not texts:
            raise UsageError("stdin is closed: give the prompt as an argument (gptme-trio chat -n 'your question')")
        interactive = not non_interactive and stdin is not None and stdin.isatty()
        if not interactive and not texts and stdin is not None and not stdin.isatty():
            texts = [stdin.read().strip()]
        if not interactive and not any(p.strip() for p in texts):
            raise UsageError("no prompt given: gptme-trio chat -n 'your question' (or pipe it on stdin)")
        plan = ChatPlan(
            prompts=texts,
            model=model,
            browser=dataclasses.replace(
                browser_spec(path=browser_path, ws_endpoint=browser_endpoint, cdp_endpoint=cdp_endpoint),
                driver_log=home_dir() / "logs" / "driver.log",  # never the terminal the prompt owns
            ),
            settings=ChatSettings(max_steps, tool_timeout, llm_timeout, confirm_tools=interactive and not no_confirm),
            home=home_dir(),
            name=name,
            resume=resume,
            system=system,
            allow_hosts=hosts,
            interactive=interactive,
            env=config.provider_env(os.environ),
            search_engine=os.environ.get("GPTME_TRIO_SEARCH_ENGINE") or config.search_engine or "duckduckgo",
            search_url=os.environ.get("GPTME_TRIO_SEARCH_URL") or config.search_url,
            tools=chosen,
            workdir=current_dir(),
            allow_paths=trees,
            shell=ShellSettings(max_timeout=first(config.shell_max_timeout, 600.0)),
            models=config.models,
            color=not no_color,
            model_given=click.get_current_context().get_parameter_source("model") is ParameterSource.COMMANDLINE,
        )
    except UsageError as exc:
        fail(str(exc))
    for name in config.key_vars():  # the plan has its copy; the driver, Chromium and MCP servers inherit no keys
        os.environ.pop(name, None)
    run(lambda interrupts: chat_with_servers(plan, servers, interrupts, config.path), verbose)


async def chat_with_servers(
    plan: ChatPlan, servers: tuple[ServerSpec, ...], interrupts: Interrupts, where: Path | None
) -> int:
    """The chat, with the MCP servers the config names: chat starts them (concurrently, each under its
    start_timeout) while its prompt waits for the first line, and stops them all on the way out."""
    from gptme_trio.chat.session import run_chat
    from gptme_trio.mcp.servers import Configured

    if not servers:
        return await run_chat(plan, interrupts)
    logs = plan.home / "logs" / "mcp"
    return await run_chat(
        plan, interrupts, servers=Configured(servers, logs=logs, env=os.environ, cwd=plan.workdir, config=where)
    )


def list_conversations(home: Path, as_json: bool) -> None:
    """--list: the saved conversations on stdout, newest first (--json: an array of objects)."""
    import json

    from gptme_trio.chat.catalog import summaries, table

    found = summaries(home)
    if as_json:
        text = json.dumps([s.as_json() for s in found], ensure_ascii=False, indent=2) + "\n"
    elif found:
        text = "\n".join(table(found)) + "\n"
    else:
        click.echo(f"gptme-trio: no conversations in {home / 'conversations'}", err=True)
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` had enough: quiet, as `cat`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_SIGPIPE)


def existing_dir(text: str, where: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_dir():
        raise UsageError(f"{where}: {text} is not a directory")
    return path


def current_dir() -> Path:
    try:
        return Path.cwd()
    except OSError as exc:  # removed under us
        raise UsageError(f"the current directory is gone ({exc.strerror}): cd somewhere first") from exc
