"""The MCP servers bench/mcp_bench.py compares, how one "read" is done on each, and the hang server.

- @playwright/mcp PEER_VERSION (pinned), installed by `ensure_peer` with `npm install --prefix
  .nox/peers/playwright-mcp` (gitignored), run as `node cli.js --headless --isolated --browser chromium
  --executable-path CHROMIUM` (bench.harness) in a temporary working directory (it writes ./.playwright-mcp).
- Ours: `python -m gptme_trio mcp --tools read_url --allow-hosts 127.0.0.1 --browser-path CHROMIUM
  -v --log FILE` from the repository root, or from another checkout (`--before DIR`: the same command
  on older code, e.g. `git archive COMMIT gptme_trio | tar -x -C DIR`).
- `HangServer`: HTTP on 127.0.0.1 that never answers /hang/ID, and notes when each connection opened and
  when the client (the browser, or our URL-policy proxy in front of it) closed it.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import trio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters

from bench.harness import CHROMIUM, ROOT, shown

PEER_VERSION = "0.0.86"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in their error messages
RESET_LINE = re.compile(
    r"^(\S+ \S+) gptme_trio\S* INFO tab reset ([\d.]+) ms after its use was cancelled "
    r"\(navigation stopped in ([\d.]+) ms, the renderer answered ([\d.]+) ms later\)"
)


def ensure_peer(peers_dir: str) -> Path:
    """cli.js of @playwright/mcp PEER_VERSION under peers_dir/playwright-mcp, installed with npm if missing."""
    prefix = (ROOT / peers_dir).resolve() / "playwright-mcp"
    package = prefix / "node_modules" / "@playwright" / "mcp" / "package.json"
    if not (package.exists() and json.loads(package.read_text())["version"] == PEER_VERSION):
        prefix.mkdir(parents=True, exist_ok=True)
        npm = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"@playwright/mcp@{PEER_VERSION}"]
        print(f"installing @playwright/mcp@{PEER_VERSION} into {shown(prefix)}", flush=True)
        subprocess.run(npm, check=True, capture_output=True)
    return package.parent / "cli.js"


def peer_versions(cli: Path) -> str:
    core = json.loads((cli.parents[2] / "playwright-core" / "package.json").read_text())["version"]
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{PEER_VERSION} (playwright-core {core}), node {node}"


class HangServer:
    """HTTP on 127.0.0.1 that never answers; when each /hang/ID connection opened and closed (time.time())."""

    def __init__(self) -> None:
        self.opened: dict[str, float] = {}
        self.closed: dict[str, float] = {}
        self.port = 0

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, stream: trio.SocketStream) -> None:
        seen, key = b"", None
        with contextlib.suppress(trio.BrokenResourceError, OSError):
            while chunk := await stream.receive_some(4096):
                seen += chunk
                if key is None and b"\r\n\r\n" in seen:
                    path = seen.split(b" ", 2)[1].decode()
                    key = path.removeprefix("/hang/") if path.startswith("/hang/") else None
                    if key is not None:
                        self.opened[key] = time.time()
        if key is not None:
            self.closed[key] = time.time()

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/hang/{key}"


class Side:
    """One server to compare: `ours`, `ours-before` (root: another checkout) or `playwright-mcp` (cli)."""

    def __init__(self, name: str, env: dict[str, str], tmp: str, cli: Path | None = None, root: Path = ROOT) -> None:
        self.name, self.env, self.tmp, self.cli, self.root = name, env, tmp, cli, root
        self.log = Path(tmp) / f"{name}.log"
        self.ours = cli is None

    def params(self) -> StdioServerParameters:
        if self.ours:
            args = ["-m", "gptme_trio", "mcp", "--tools", "read_url", "--allow-hosts", "127.0.0.1"]
            args += ["--browser-path", CHROMIUM, "-v", "--log", str(self.log)]
            return StdioServerParameters(command=sys.executable, args=args, env=self.env, cwd=str(self.root))
        args = [str(self.cli), "--headless", "--isolated", "--browser", "chromium", "--executable-path", CHROMIUM]
        work = tempfile.mkdtemp(dir=self.tmp)  # it writes snapshots and logs under ./.playwright-mcp
        return StdioServerParameters(command="node", args=args, env=self.env, cwd=work)

    async def read(self, session: ClientSession, url: str) -> str:
        """One read: ours `read_url`; theirs `browser_navigate` then `browser_snapshot`. Its text; raises
        RuntimeError on an error result."""
        results = [await session.call_tool("read_url" if self.ours else "browser_navigate", {"url": url})]
        if not self.ours and not results[0].is_error:
            results.append(await session.call_tool("browser_snapshot", {}))
        text = "\n".join(b.text for r in results for b in r.content if b.type == "text")
        if any(r.is_error for r in results):
            plain = ANSI.sub("", text)
            raise RuntimeError(f"{self.name}: {url}: {plain[:300]}")
        return text

    def reset_lines(self) -> list[tuple[float, float, float, float]]:
        """Each `tab reset` line of our -v log: (wall time logged, then in s: scope cancelled -> tab back,
        the navigation's stop, the ping)."""
        found = []
        for line in self.log.read_text().splitlines() if self.log.exists() else []:
            if m := RESET_LINE.match(line):
                logged = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                found.append((logged, float(m[2]) / 1000, float(m[3]) / 1000, float(m[4]) / 1000))
        return found
