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
    session.install("-e", ".", "pexpect", "readability-lxml")  # bench-only peers, never project deps
    session.run("python", "bench/fetch_bench.py", "--out", "bench/results/fetch.md")
    session.run("python", "bench/extraction_bench.py")
    session.run("python", "bench/chat_bench.py")
    session.run("python", "bench/throughput_bench.py")  # peers: add --crawl4ai-python/--gptme-python
    session.run("python", "bench/report.py")
