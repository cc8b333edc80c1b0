"""Chat as an MCP client: [mcp.servers] in config.toml, against `gptme-trio mcp` (stdio and HTTP) and a
test server whose `hang` never returns (tests/support/mcp_hang_server.py), with the SDK's real client and
real processes: the servers' tools offered to the model (as NAME__tool, schemas passed through) and
called, results, errors and images, a call cancelled by its deadline (the server gets
notifications/cancelled), one line for a server that cannot start (chat goes on), the config's mistakes,
and no process of any server left after chat ends. The terminal side: test_mcp_client_tty.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import psutil
import pytest
import trio

from gptme_trio.core.errors import ToolError
from gptme_trio.core.images import Attached
from gptme_trio.mcp.client import RESULT_BUDGET, open_servers
from gptme_trio.mcp.servers import ServerSpec, model_name, parse_servers
from tests.support import ROOT

from .conftest import alive, cli_env
from .test_mcp_server import http_server

HANG = [sys.executable, "-m", "tests.support.mcp_hang_server"]
OURS = [sys.executable, "-m", "gptme_trio", "mcp", "--tools", "read_url", "--allow-hosts", "127.0.0.1"]


def home() -> Path:
    return Path(os.environ["GPTME_TRIO_HOME"])


def configure(*tables: str) -> None:
    home().mkdir(parents=True, exist_ok=True)
    (home() / "config.toml").write_text("\n".join(tables))


def stdio(name: str, argv: list[str], extra: str = "") -> str:
    return f"[mcp.servers.{name}]\ncommand = {json.dumps(argv[0])}\nargs = {json.dumps(argv[1:])}\n{extra}\n"


def recorded(record: Path) -> tuple[list[int], list[str]]:
    """(the pids the test server wrote: itself and its grandchild, the other lines)."""
    lines = record.read_text().splitlines() if record.exists() else []
    pids = [int(p) for line in lines if line.startswith("pids ") for p in line.split()[1:]]
    return pids, [line for line in lines if not line.startswith("pids ")]


def processes(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(psutil.Process(pid))
    return found


def gone_within(tree: list[psutil.Process], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(tree), [" ".join(p.cmdline()) for p in alive(tree)]


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


# --- the client in process: tools, results, cancellation, a server that dies ---------------------


async def test_tools_results_errors_images_and_cancel_in_process(tmp_path, subreaper):
    record, notices = tmp_path / "record", list[str]()
    specs = (
        ServerSpec("hang", command=HANG[0], args=(*HANG[1:], str(record))),
        ServerSpec("picky", command=HANG[0], args=(*HANG[1:], str(tmp_path / "r2")), tools=("echo", "nope")),
        ServerSpec("slow", command="sleep", args=("1000",), start_timeout=3),  # never answers
    )
    started, slow_failed = trio.current_time(), []

    def notice(text: str) -> None:
        notices.append(text)
        if text.startswith("MCP server slow"):
            slow_failed.append(trio.current_time() - started)

    async with open_servers(specs, logs=tmp_path / "logs", env=os.environ, cwd=ROOT, notice=notice) as servers:
        [waiting] = [n for n in notices if n.startswith("waiting")]  # at 2 s: slow, and any other still starting
        notices.remove(waiting)
        assert re.fullmatch(r"waiting for MCP server\(s\) (hang, )?(picky, )?slow to start \(at most \d+ s\)", waiting)
        assert sorted(notices) == [
            "MCP server picky: it has no tool named nope",
            "MCP server slow: did not start within 3 s (start_timeout); chat goes on without its tools "
            f"(its log: {tmp_path / 'logs' / 'slow.log'})",
        ]
        assert 3 <= slow_failed[0] < 5  # its own deadline, whatever the others took
        tools = servers.tools()
        assert sorted(tools) == [
            "hang__dotted_name",  # "dotted.name": the providers take only [A-Za-z0-9_-]
            "hang__echo",
            "hang__fail",
            "hang__hang",
            "hang__mark",
            "hang__shout",
            "picky__echo",  # its allowlist
        ]
        assert tools["hang__hang"].parameters == {
            "type": "object",
            "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
        }  # passed through as the server gave it
        assert await tools["hang__echo"].run(text="hi") == "echo: hi"
        shout = await tools["hang__shout"].run()
        assert isinstance(shout, Attached) and shout.images[0].media_type == "image/png"
        assert shout.images[0].path.read_bytes().startswith(b"\x89PNG")
        with pytest.raises(ToolError, match="^it failed, as asked$"):
            await tools["hang__fail"].run()
        tools["hang__hang"].check_arguments({"tags": ["a", "b"]})  # an array argument is the server's to check
        started = time.perf_counter()
        with trio.move_on_after(0.5):  # as the agent's deadline or Ctrl-C cancels a call
            await tools["hang__hang"].run(tags=["x"])
        deadline = trio.current_time() + 5
        while recorded(record)[1] != ["hang", "cancelled"]:  # the server got notifications/cancelled
            assert trio.current_time() < deadline, recorded(record)
            await trio.sleep(0.02)
        assert time.perf_counter() - started < 2
        assert await tools["hang__echo"].run(text="again") == "echo: again"  # the connection lives on
        report = servers.report()
        assert "hang: running · 6 tool(s)" in report and "  hang__echo: Say the text back." in report
        assert "picky: running · 1 tool(s)" in report and "(no tool named nope on this server)" in report
        pids, _ = recorded(record)
        tree = processes(pids)
        os.kill(pids[0], signal.SIGKILL)  # the server dies under chat
        while "hang: failed" not in servers.report():
            await trio.sleep(0.02)
        assert "hang: failed: stopped: was killed by SIGKILL" in servers.report()
        assert notices[-1].startswith("MCP server hang: stopped: was killed by SIGKILL; chat goes on without its tools")
        assert "hang__echo" not in servers.tools()
        with pytest.raises(ToolError, match="MCP server hang is not running"):
            await tools["hang__echo"].run(text="hi")
    gone_within(tree, 1)  # its grandchild too, though its parent died first


async def test_a_long_result_is_cut_as_ours_are(tmp_path):
    specs = (ServerSpec("hang", command=HANG[0], args=(*HANG[1:], str(tmp_path / "record"))),)
    async with open_servers(specs, logs=tmp_path, env=os.environ, cwd=ROOT, notice=print) as servers:
        text = await servers.tools()["hang__echo"].run(text="x" * (RESULT_BUDGET + 5000))
    assert text.startswith("echo: xxx") and len(text) < RESULT_BUDGET + 100
    assert text.endswith(f"[truncated: showing {RESULT_BUDGET:,} of {RESULT_BUDGET + 5006:,} characters]")


async def test_a_server_over_http_with_a_token_from_the_environment(tmp_path, site, monkeypatch, free_port):
    monkeypatch.setenv("TEST_MCP_TOKEN", "s3cret")
    log = tmp_path / "server.log"
    async with http_server("--auth-token", "s3cret", "--tools", "read_url", "-v", "--log", str(log)) as endpoint:
        specs = (
            ServerSpec("web", url=endpoint, headers={"Authorization": "Bearer ${TEST_MCP_TOKEN}"}),
            ServerSpec("nokey", url=endpoint, headers={"Authorization": "Bearer ${TEST_MCP_UNSET}"}),
            ServerSpec("denied", url=endpoint),  # no token: 401
            ServerSpec("down", url=f"http://127.0.0.1:{free_port}/mcp"),  # nobody listens
        )
        notices: list[str] = []
        async with open_servers(specs, logs=tmp_path, env=os.environ, cwd=ROOT, notice=notices.append) as servers:
            read_url = servers.tools()["web__read_url"]
            assert "Structured concurrency means" in await read_url.run(url=site.url("/normal"))
            with trio.move_on_after(1):  # cancelled: the server resets its tab, the next call works
                await read_url.run(url=site.url("/never"))
            assert "Structured concurrency means" in await read_url.run(url=site.url("/normal"))
            assert sorted(servers.tools()) == ["web__read_url"]
        # chat ended (its servers' scope cancelled): the one session it had was ended with a DELETE all the same
        assert log.read_text().count("a client ended its session (HTTP DELETE /mcp)") == 1
    assert "MCP server nokey: cannot start: its headers Authorization names ${TEST_MCP_UNSET}, which is not set; " in (
        "\n".join(notices)
    )
    assert any(n.startswith("MCP server denied: ") and "(HTTP 401)" in n for n in notices), notices
    assert any(n.startswith("MCP server down: cannot reach it (") for n in notices), notices


def test_tool_names_the_providers_take():
    assert model_name("gh", "search_issues", set()) == "gh__search_issues"
    assert model_name("gh", "a.b/c d", set()) == "gh__a_b_c_d"
    long = model_name("server", "t" * 100, set())
    assert len(long) == 64 and long.startswith("server__ttt")
    assert model_name("gh", "a.b", {"gh__a_b"}) != "gh__a_b"  # two names that would collide stay apart


# --- chat -n: the tools reach the model, calls reach the servers, a broken server is one line --------


def test_chat_offers_and_calls_server_tools(llm, site, tmp_path, run_cli, subreaper):
    record = tmp_path / "record"
    configure(
        stdio("hang", [*HANG, str(record)]),
        stdio("ours", OURS),
        stdio("broken", ["/nonexistent/gptme-trio-test-server"]),
        stdio("off", ["/nonexistent/off"], "enabled = false"),
    )
    server = llm(
        [
            {"tool_calls": [{"name": "hang__echo", "arguments": {"text": "hi there"}}]},
            {"tool_calls": [{"name": "ours__read_url", "arguments": {"url": site.url("/normal")}}]},
            {"text": "All done."},
        ]
    )
    ran = run_cli("chat", "-n", "-m", "local/test-model", "use the tools", **server.env("local"))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == b"All done.\n"
    lines = ran.stderr.decode().splitlines()
    broken = [line for line in lines if "broken" in line]
    assert broken == [
        "gptme-trio: MCP server broken: cannot start /nonexistent/gptme-trio-test-server: No such file or "
        f"directory; chat goes on without its tools (its log: {home() / 'logs' / 'mcp' / 'broken.log'})"
    ]
    assert not any("Traceback" in line for line in lines)
    first, second, third = (r["body"] for r in server.requests())
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert {"hang__echo", "hang__hang", "hang__dotted_name", "ours__read_url", "read_url"} <= set(offered)
    assert not any(name.startswith(("broken__", "off__")) for name in offered)
    assert offered["hang__hang"]["parameters"]["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert offered["ours__read_url"]["parameters"]["properties"]["max_length"]["type"] == "integer"
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["content"] == "echo: hi there"
    assert "Structured concurrency means" in third["messages"][-1]["content"]
    pids, _ = recorded(record)
    gone_within(processes(pids), 1)  # the server and its grandchild: ended with chat
    assert (home() / "logs" / "mcp" / "hang.log").read_text().startswith("--- ")


def test_a_call_past_its_deadline_is_cancelled_on_the_server(llm, tmp_path, run_cli, subreaper):
    record = tmp_path / "record"
    configure(stdio("hang", [*HANG, str(record)]))
    server = llm(
        [
            {"tool_calls": [{"name": "hang__hang", "arguments": {}}]},
            {"tool_calls": [{"name": "hang__mark", "arguments": {}}]},
            {"text": "Gave up on it."},
        ]
    )
    ran = run_cli("chat", "-n", "-m", "local/m", "--tool-timeout", "1", "hang", **server.env("local"))
    assert ran.returncode == 0 and ran.stdout == b"Gave up on it.\n", ran.stderr
    assert server.requests()[1]["body"]["messages"][-1]["content"] == "error: timed out after 1 s"
    assert recorded(record)[1] == ["hang", "cancelled", "mark"]  # notifications/cancelled came while it ran


def test_chat_without_servers_never_loads_the_sdk(llm):
    configure(stdio("off", ["/nonexistent/off"], "enabled = false"))
    server = llm([{"text": "Hi."}])
    code = (
        "import sys\nfrom gptme_trio.cli import main\nsys.argv = ['gptme-trio', 'chat', '-n', '-m', 'local/m', 'hi']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('SDK', any(m.split('.')[0] in ('mcp', 'mcp_types', 'hypercorn') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=cli_env(**server.env("local"))
    )
    assert out.stdout == "Hi.\nSDK False\n", out.stderr


def test_without_the_extra_one_line_and_chat_goes_on(llm, tmp_path):
    configure(stdio("hang", [*HANG, str(tmp_path / "record")]))
    server = llm([{"text": "Hi."}])
    code = (
        "import sys\nsys.modules['mcp'] = None  # as if the [mcp] extra were not installed\n"
        "from gptme_trio.cli import main\nsys.argv = ['gptme-trio', 'chat', '-n', '-m', 'local/m', 'hi']\nmain()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=cli_env(**server.env("local"))
    )
    assert out.returncode == 0 and out.stdout == "Hi.\n"
    assert out.stderr == (
        f"gptme-trio: MCP servers are configured ([mcp.servers] in {home() / 'config.toml'}) but the MCP SDK "
        "is not installed: pip install 'gptme-trio[mcp]'; chat goes on without them\n"
    )


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("[mcp.servers.x]\nargs = []", "[mcp.servers.x]: give either command (a stdio server) or url"),
        ('[mcp.servers.x]\ncommand = "a"\nurl = "http://h/mcp"', "give either command (a stdio server) or url"),
        ('[mcp.servers."a.b"]\ncommand = "a"', "a server's name is a letter, then letters, digits, '-' or '_'"),
        ('[mcp.servers.a__b]\ncommand = "a"', "no '__'"),
        ('[mcp.servers.x]\ncommand = "a"\nargs = "b c"', "[mcp.servers.x]: args must be a list of strings"),
        ('[mcp.servers.x]\ncommand = "a"\nenv = { A = 1 }', "env must be a table of strings"),
        ('[mcp.servers.x]\ncommand = "a"\nenabled = "yes"', "enabled must be true or false"),
        ('[mcp.servers.x]\ncommand = "a"\ntools = []', "tools must be a list of the server's tool names"),
        ('[mcp.servers.x]\ncommand = "a"\nstart_timeout = 0', "start_timeout must be a number of seconds"),
        ('[mcp.servers.x]\nurl = "ftp://h"', "url must be an http:// or https:// URL"),
        ('[mcp.servers.x]\ncommand = "a"\ncwd = "/"', "unknown setting 'cwd' (known: command, args, url"),
        ('[mcp]\nserver = "a"', "[mcp]: only [mcp.servers.NAME] tables go here"),
        ('[mcp.servers.x]\ncommand = "a"\nheaders = { A = "b" }', "[mcp.servers.x]: headers go with url, not command"),
        ('[mcp.servers.x]\nurl = "http://h/mcp"\nheaders = { A = 1 }', "headers must be a table of strings"),
    ],
)
def test_a_bad_server_entry_is_one_line_and_exit_2(cli, table, says):
    configure(table)
    ran = cli("chat", "-n", "-m", "local/m", "hi")
    assert ran.returncode == 2
    [line] = ran.stderr.decode().splitlines()
    assert line.startswith(f"gptme-trio: {home() / 'config.toml'}: [mcp") and says in line, line


def test_config_example_in_the_readme_is_valid():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```toml\n[mcp.servers.")
    example = readme[start + len("```toml\n") : readme.index("```", start + 7)]
    specs = parse_servers(None, tomllib.loads(example)["mcp"])
    assert specs and all(spec.name for spec in specs)
