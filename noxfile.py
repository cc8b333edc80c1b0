"""Sessions: `nox` (lint, then tests: what CI runs), `nox -s tests`, `nox -s lint`, `nox -s bench`."""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The suite on 2 pytest-xdist workers (a third of its wall time is waiting on subprocesses and
    deadlines), then the tests marked `serial` alone: their limits (cancellation latency, a deadline
    across a browser restart, concurrent tool calls) are measured on an otherwise idle machine."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "2", "-m", "not serial", *session.posargs)
    session.run("pytest", "-m", "serial", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff; the layer contracts (import-linter, [tool.importlinter]); mypy --strict on gptme_trio
    ([tool.mypy]) and a looser mypy on tests/ (mypy-tests.ini). mypy reads the dependencies' types, so they
    are installed, with the stubs of the two that ship none (lxml, psutil)."""
    session.install("-e", ".[test]", "ruff>=0.6", "import-linter>=2.1", "mypy>=1.15", "lxml-stubs>=0.5", "types-psutil")
    session.run("ruff", "check", "gptme_trio", "tests", "bench")
    session.run("ruff", "format", "--check", "gptme_trio", "tests", "bench")
    session.run("lint-imports")
    session.run("mypy")
    session.run("mypy", "--config-file", "mypy-tests.ini")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark, then bench/RESULTS.md with a table of how long each part took (bench/results/durations.json).

    About 20 minutes on a quiet 2-core machine (budget: 25; the issue allows 30). Figure 2 with its peers is the
    longest part (~7 min), then the fault matrix (~6 min, 2 trials at once), then figure 3 (~2.5 min: gptme
    waits out its own 20 s timeouts).
    """
    import json
    import time

    started, durations = time.perf_counter(), []  # (part, command, seconds): bench.report tabulates them

    def part(name: str, *args: str) -> str | None:
        t0 = time.perf_counter()
        if name == "venv":
            out = session.install(*args)
        else:
            out = session.run(*args, silent=name == "peers", success_codes=[0, 1] if name == "peers" else [0])
        command = " ".join(("pip install", *args) if name == "venv" else args)
        durations.append({"part": name, "command": command, "seconds": round(time.perf_counter() - t0, 1)})
        session.log(f"bench part {name}: {durations[-1]['seconds']:.0f} s")
        total = {"part": "total (nox -s bench, venv set-up included)", "seconds": round(time.perf_counter() - started)}
        with open("bench/results/durations.json", "w") as f:  # rewritten after each part: a failed run shows how far
            json.dump({"command": "nox -s bench", "parts": [*durations, total]}, f, indent=1)
        return out

    part("venv", "-e", ".[mcp]", "pexpect", "readability-lxml", "psutil")  # bench-only tools, never project deps
    # Peers in bench-only virtualenvs under .nox/peers: built once (about 2 minutes), then reused while the
    # versions pinned in bench/peers.py are unchanged. A peer that cannot be built is reported, not fatal.
    out = part("peers", "python", "-m", "bench.peers")
    session.log(out.strip())
    found = [line.split()[1:3] for line in out.splitlines() if line.startswith("PEER ")]
    py = {name: python for name, python in found if python != "-"}

    def peer(name: str) -> list[str]:
        return [f"--{name}-python", py[name]] if name in py else []

    part("fetch", "python", "-m", "bench.fetch_bench", "--out", "bench/results/fetch.md")
    part("figure 1: one-shot vs peers", "python", "-m", "bench.oneshot_peers_bench", *peer("shot-scraper"))
    part("settle", "python", "-m", "bench.settle_bench")
    part("overlays", "python", "-m", "bench.overlays_bench")
    part("figure 3: cancellation vs gptme", "python", "-m", "bench.gptme_cancel_bench", *peer("gptme"))
    part("shell vs gptme", "python", "-m", "bench.shell_bench", *peer("gptme"))
    part("figure 6: extraction", "python", "-m", "bench.extraction_bench")
    part("issue 13: http batch", "python", "-m", "bench.http_batch_bench")  # ~1.5 min
    part("figure 5: chat", "python", "-m", "bench.chat_bench")
    part("issue 16: rendering", "python", "-m", "bench.render_bench")  # ~1.5 min
    part("issue 17: chat as an MCP client", "python", "-m", "bench.mcp_client_bench")  # needs the [mcp] extra
    part("figure 2: throughput vs peers", "python", "-m", "bench.throughput_bench", *peer("crawl4ai"), *peer("gptme"))
    part("policy", "python", "-m", "bench.policy_bench")
    part("policy in the browser", "python", "-m", "bench.proxy_bench")
    part("issue 17: what the URL policy costs a goto", "python", "-m", "bench.nav_cost")  # ~30 s
    part("soak", "python", "-m", "bench.soak_bench")
    # 200 trials, 2 at once (~6 min). Not 3: a trial costs ~2.3 CPU-s, so 3 at once keep both cores ~90 % busy and
    # the trials' own deadlines (-t 4, a browser restart) start failing from load, not from the product.
    part("fault matrix", "python", "-m", "bench.fault_matrix", "--jobs", "2")
    part(
        "hostile inputs", "python", "-m", "bench.hostile_bench", "--per-class", "5"
    )  # ~10 min; needs root (mknod, mount)
    part("report", "python", "-m", "bench.report")
