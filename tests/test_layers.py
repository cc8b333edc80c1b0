"""A whole `gptme-trio fetch` run loads no chat-side code: not the LLM providers, the chat loop,
the agent's tools, nor prompt_toolkit (the import-linter contracts check the static graph; this
checks what a real run imports, lazily loaded modules included). Neither a fetch run nor chat up to
its prompt loads rich or Pygments (issue 16's start-up budget: they come with chat's first reply)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pexpect
import pytest

from .conftest import cli_env
from .test_chat_tty import PROMPT

# Runs the real entry point in this process, then lists every module that was loaded.
DUMP_MODULES = """
import json, sys
from gptme_trio.cli import main
sys.argv = ["gptme-trio", *sys.argv[2:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(OUT, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""

CHAT_SIDE = ("gptme_trio.llm", "gptme_trio.chat", "gptme_trio.tools", "prompt_toolkit", "httpx_sse")
RENDERING = ("rich", "pygments", "markdown_it")  # httpx's own CLI (httpx._main) imports the first two


def modules_of_run(tmp_path, *args: str) -> tuple[int, list[str]]:
    out = tmp_path / "modules.json"
    script = f"OUT = {str(out)!r}\n" + DUMP_MODULES
    proc = subprocess.run(
        [sys.executable, "-c", script, "x", *args],
        capture_output=True,
        timeout=90,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
    )
    assert out.exists(), proc.stderr.decode()
    data = json.loads(out.read_text())
    return data["code"], data["modules"]


@pytest.mark.parametrize("engine", ["browser", "http"])
def test_a_fetch_run_imports_nothing_of_the_chat_side(tmp_path, site, engine):
    code, modules = modules_of_run(tmp_path, "fetch", "-q", "--engine", engine, "-f", "json", site.url("/normal"))
    assert code == 0
    assert "gptme_trio.fetch.batch" in modules  # the run did happen in this process
    loaded = [m for m in modules if m.startswith(CHAT_SIDE)]
    assert loaded == []
    assert [m for m in modules if m.split(".")[0] in RENDERING] == []


def test_chat_draws_its_prompt_without_rich_or_pygments(tmp_path):
    child = pexpect.spawn(
        sys.executable,
        ["-X", "importtime", "-m", "gptme_trio", "chat"],
        env=cli_env(PROMPT_TOOLKIT_NO_CPR="1", GPTME_TRIO_HOME=str(tmp_path / "home"), GPTME_TRIO_MODEL=""),
        timeout=30,
    )
    child.expect(PROMPT)
    imported = set(re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", child.before.decode()))
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    later = set(re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", child.before.decode()))
    assert {"prompt_toolkit", "gptme_trio.chat.display"} <= imported  # the probe sees imports
    assert sorted(m for m in imported if m.split(".")[0] in RENDERING) == []
    assert "playwright.async_api" not in imported  # ~60 ms: loaded when the browser starts, not before the prompt
    assert "lxml.etree" not in imported  # the fetch pipeline and search's parser: loaded by the first read
    # The services load while the first prompt is up (chat/session.py), not before it:
    services = {"gptme_trio.chat.services", "httpx", "trio_asyncio", "gptme_trio.tools.web", "gptme_trio.core.proxy"}
    assert imported & services == set()
    assert services <= later


def test_the_probe_sees_chat_side_imports(tmp_path):
    """The control: a chat run (which stops at once: no model configured) does load the chat side."""
    code, modules = modules_of_run(tmp_path, "chat", "-n", "hello")
    assert code == 2
    assert any(m.startswith("gptme_trio.chat.") for m in modules)
