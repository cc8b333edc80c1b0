"""Which tools chat offers: `--tools`, the config's `tools`, and -n keeping shell and file writers off.

The CLI runs in process with a ScriptedProvider in place of the registry (what the model is offered,
what it is told when it calls a tool that is off); one run goes through the real binary and the
scripted HTTP server, and is interrupted mid-command: the command and what it started must be gone.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from gptme_trio.chat.toolset import ACTING, ALL, check_names, choose
from gptme_trio.core.errors import UsageError
from gptme_trio.llm import registry
from tests.support.scripted import ScriptedProvider

from .conftest import alive, cli_command, cli_env, invoke_cli, wait_for_descendants

READ_ONLY = [name for name in ALL if name not in ACTING]


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def model(monkeypatch) -> ScriptedProvider:
    scripted = ScriptedProvider()
    monkeypatch.setattr(registry, "resolve", scripted.resolve)
    return scripted


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def test_choose_by_mode_and_by_name():
    tools = {name: name for name in ALL}
    assert choose(tools, None, interactive=True) == (tools, {})
    on, off = choose(tools, None, interactive=False)
    assert sorted(on) == sorted(READ_ONLY) and set(off) == set(ACTING)
    assert "-n does without asking; the user can enable it with --tools" in off["shell"]
    on, off = choose(tools, check_names(["shell", "read_file"]), interactive=False)
    assert list(on) == ["shell", "shell_output", "shell_kill", "read_file"]
    assert "did not name it" in off["read_url"]


def test_unknown_names_are_a_usage_error():
    with pytest.raises(UsageError, match="--tools: unknown tool\\(s\\) rm_rf; known: read_url, "):
        check_names(["read_url", "rm_rf"])


def test_dash_n_offers_no_shell_or_writers_and_tells_the_model_what_it_may_use(home, model, project):
    model.enqueue(tool_calls=[("shell", {"command": "touch pwned"})])
    model.enqueue("ok")
    result = invoke_cli("chat", "-n", "-m", "s/m", "go", GPTME_TRIO_HOME=str(home))
    assert result.returncode == 0, result.stderr
    assert sorted(model.requests[0].tool_names) == sorted(READ_ONLY)
    [refusal] = model.requests[1].tool_results
    assert refusal.startswith("error: shell is not available in this chat (it runs commands or writes files")
    assert refusal.endswith(f"tools you may use: {', '.join(model.requests[0].tool_names)}")
    assert not (project / "pwned").exists()


def test_tools_flag_enables_the_shell_in_dash_n_where_chat_started(home, model, project):
    model.enqueue(tool_calls=[("shell", {"command": "pwd; echo hi > made.txt"})])
    model.enqueue(tool_calls=[("read_file", {"path": "made.txt"})])
    model.enqueue("ok")
    result = invoke_cli("chat", "-n", "-m", "s/m", "--tools", "shell,read_file", "go", GPTME_TRIO_HOME=str(home))
    assert result.returncode == 0, result.stderr
    assert model.requests[0].tool_names == ["shell", "shell_output", "shell_kill", "read_file"]
    assert model.requests[1].tool_results == [f"{project}\n[exit status 0]"]
    assert model.requests[2].tool_results[-1] == "     1\thi"
    assert "run shell commands and read and edit files: the project is" in model.requests[0].messages[0].content


def test_config_tools_and_allow_paths(home, model, project, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    home.mkdir()
    (home / "config.toml").write_text(f'tools = ["save_file"]\nallow_paths = ["{notes}"]\n')
    model.enqueue(tool_calls=[("save_file", {"path": str(notes / "a.md"), "content": "x\n"})])
    model.enqueue("ok")
    result = invoke_cli("chat", "-n", "-m", "s/m", "go", GPTME_TRIO_HOME=str(home))
    assert result.returncode == 0, result.stderr
    assert model.requests[0].tool_names == ["save_file"]
    assert (notes / "a.md").read_text() == "x\n"


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--tools", "read_url,nope"], "", "--tools: unknown tool(s) nope; known: read_url"),
        (["--tools", ","], "", "--tools: name at least one tool"),
        (["--allow-paths", "/no/such/dir"], "", "--allow-paths: /no/such/dir is not a directory"),
        ([], 'tools = ["bash"]', "config.toml: tools: unknown tool(s) bash"),
        ([], "tools = [1]", "config.toml: tools must be a list of strings"),
        ([], "shell_max_timeout = -1", "config.toml: shell_max_timeout must be a number of seconds > 0"),
    ],
)
def test_bad_tool_options_are_one_line_and_exit_2(home, model, project, args, config, message):
    home.mkdir()
    (home / "config.toml").write_text(config + "\n")
    result = invoke_cli("chat", "-n", "-m", "s/m", *args, "go", GPTME_TRIO_HOME=str(home))
    assert result.returncode == 2
    assert message.encode() in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert model.requests == []


@pytest.mark.serial  # timing
def test_ctrl_c_in_dash_n_through_the_real_binary_leaves_no_process(llm, home, tmp_path, subreaper):
    server = llm(
        [
            {"tool_calls": [{"name": "shell", "arguments": {"command": "echo go; sh -c 'sleep 100 & sleep 100'"}}]},
            {"text": "never"},
        ]
    )
    before = set(psutil.Process().children(recursive=True))  # the shared servers
    proc = subprocess.Popen(
        cli_command("chat", "-n", "-m", "local/test-model", "--tools", "shell", "run it"),
        env=cli_env(GPTME_TRIO_HOME=str(home), **server.env("local")),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sleeping = lambda tree: len([p for p in tree if p.name() == "sleep"]) == 2  # noqa: E731
    tree = wait_for_descendants(proc.pid, sleeping, seconds=30)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        for left in [*alive(tree), psutil.Process(proc.pid)]:  # what this test started, by pid
            left.kill()
        raise
    took = time.monotonic() - started
    assert proc.returncode == 130, err
    assert b"go" in err  # the output streamed to stderr while the command ran
    assert took < 3, f"exit took {took:.2f} s"
    assert not alive(tree)
    assert not alive([p for p in psutil.Process().children(recursive=True) if p not in before])  # nor orphaned to us


async def test_the_names_the_banner_lists_are_the_tools_chat_builds(tmp_path, chromium):
    """The banner is drawn before the tools exist (chat/session.py): from toolset.ALL. It must name the
    tools chat then builds (services.py), in their order (/tools lists them so)."""
    from gptme_trio.chat.agent import ChatSettings
    from gptme_trio.chat.services import open_services
    from gptme_trio.chat.session import ChatPlan
    from gptme_trio.chat.store import Conversation
    from gptme_trio.core.browser import BrowserSpec

    plan = ChatPlan(
        [], None, BrowserSpec(executable=chromium), ChatSettings(), tmp_path, interactive=True, workdir=tmp_path
    )
    async with open_services(plan, Conversation.new(tmp_path), None, None) as services:
        built, listed = list(services.tools), list(choose({name: name for name in ALL}, None, True)[0])
        assert built == listed, f"{built} != {listed}"
