"""`gptme-trio mcp` ended mid-call, as clients end it: SIGTERM, SIGINT, or closing its stdin.

Raw JSON-RPC lines over pipes (the SDK client would hide the moment of the exit). Each way out
must take under a second and leave no process of the server's tree (walked while it ran, never
found by name); stdout must carry nothing but JSON-RPC, even with -v.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time

import pytest

from .conftest import alive, cli_command, cli_env, names, wait_for_descendants

pytestmark = pytest.mark.serial  # exit latency: measured on an idle machine

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}


class Server:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            cli_command("mcp", "-v", "--allow-hosts", "127.0.0.1", *args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(),
        )
        self.out = b""

    def send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def call(self, id: int, name: str, arguments: dict) -> None:
        self.send(
            {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
        )

    def reply(self, id: int, seconds: float = 30) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            for line in self.out.splitlines():
                message = json.loads(line)
                if message.get("id") == id:
                    return message
            assert self.proc.stdout is not None
            left = deadline - time.monotonic()
            assert left > 0, f"no reply {id}: {self.out!r}"
            if select.select([self.proc.stdout], [], [], left)[0]:
                chunk = self.proc.stdout.read1(65536)  # type: ignore[attr-defined]
                assert chunk, f"stdout closed before reply {id}"
                self.out += chunk

    def start(self) -> None:
        self.send(INIT)
        assert self.reply(1)["result"]["serverInfo"]["name"] == "gptme-trio"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


def has_browser(tree) -> bool:
    return any("chrom" in p.name() for p in tree)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "EOF"])
def test_ended_mid_call_exits_within_a_second_and_leaves_nothing(site, how):
    server = Server()
    try:
        server.start()
        server.call(2, "read_url", {"url": site.url("/normal")})
        assert server.reply(2)["result"]["isError"] is False
        server.call(3, "read_url", {"url": "http://127.0.0.1:9/x", "timeout": 5})  # nothing listens: refused
        server.call(4, "read_url", {"url": site.url("/never")})  # hangs until we end the server
        tree = wait_for_descendants(server.proc.pid, has_browser, 30)
        time.sleep(0.5)  # the call is waiting on the page
        started = time.perf_counter()
        if how == "EOF":
            assert server.proc.stdin is not None
            server.proc.stdin.close()
        else:
            server.proc.send_signal(getattr(signal, how))
        code = server.proc.wait(timeout=10)
        took = time.perf_counter() - started
        assert code == {"SIGTERM": 143, "SIGINT": 130, "EOF": 0}[how], server.proc.stderr.read()  # type: ignore[union-attr]
        assert took < 1.0, f"exit took {took:.2f} s after {how}"
        deadline = time.monotonic() + 1
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive(tree) == [], names(alive(tree))
        assert server.proc.stdout is not None
        server.out += server.proc.stdout.read()
        for line in server.out.splitlines():  # with -v: only JSON-RPC on stdout
            assert json.loads(line)["jsonrpc"] == "2.0", line
        assert server.proc.stderr is not None and b"Traceback" not in server.proc.stderr.read()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


STRAY = """
import os, subprocess, sys, trio
from gptme_trio.mcp.stdio import protocol_streams

async def main():
    async with protocol_streams() as (lines, writer):
        print("stray print")                            # Python's stdout
        os.write(1, b"stray write to fd 1\\n")           # C code writing fd 1
        subprocess.run(["echo", "stray child"])          # a child inheriting fd 1
        subprocess.run(["cat"])                          # a child reading fd 0: must not eat the client's bytes
        async for line in lines:
            await writer.write(line.upper() + "\\n")
    print("after: stdout is ours again")

trio.run(main)
"""


def test_only_protocol_bytes_reach_stdout():
    ran = subprocess.run(
        [sys.executable, "-c", STRAY], input=b'{"a": 1}\n{"b": 2}\n', capture_output=True, env=cli_env(), timeout=30
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == b'{"A": 1}\n{"B": 2}\nafter: stdout is ours again\n'
    assert ran.stderr == b"stray print\nstray write to fd 1\nstray child\n"
