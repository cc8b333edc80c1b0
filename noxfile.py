"""Sessions: `nox -s tests` (what CI runs), `nox -s lint`, `nox -s bench`."""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "gptme_trio", "tests", "bench")
    session.run("ruff", "format", "--check", "gptme_trio", "tests", "bench")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark, then bench/RESULTS.md; about 20 minutes on a quiet 2-core machine, less than 30."""
    session.install("-e", ".", "pexpect", "readability-lxml", "psutil")  # bench-only tools, never project deps
    # Peers in bench-only virtualenvs under .nox/peers: built once (about 2 minutes), then reused while the
    # versions pinned in bench/peers.py are unchanged. A peer that cannot be built is reported, not fatal.
    out = session.run("python", "bench/peers.py", silent=True, success_codes=[0, 1])
    session.log(out.strip())
    found = [line.split()[1:3] for line in out.splitlines() if line.startswith("PEER ")]
    py = {name: python for name, python in found if python != "-"}

    def peer(name: str) -> list[str]:
        return [f"--{name}-python", py[name]] if name in py else []

    session.run("python", "bench/fetch_bench.py", "--out", "bench/results/fetch.md")
    session.run("python", "bench/oneshot_peers_bench.py", *peer("shot-scraper"))
    session.run("python", "bench/gptme_cancel_bench.py", *peer("gptme"))
    session.run("python", "bench/extraction_bench.py")
    session.run("python", "bench/chat_bench.py")
    session.run("python", "bench/throughput_bench.py", *peer("crawl4ai"), *peer("gptme"))
    session.run("python", "bench/policy_bench.py")
    session.run("python", "bench/soak_bench.py")
    session.run("python", "bench/fault_matrix.py")
    session.run("python", "bench/report.py")
