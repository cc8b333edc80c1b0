"""The http engine on a page that is an empty JavaScript shell (issue 13: 6): one clear line naming
the URL and suggesting --engine browser, exit 1, never an empty success; other URLs of the run go on.
<noscript> text is content."""

from __future__ import annotations

import json

from gptme_trio.fetch import extract

SHELL = (
    "<!doctype html><html><head><title>App</title><script src='/app.js'></script></head>"
    "<body><div id='root'></div><script>window.boot({user: 'x'})</script></body></html>"
)
NOSCRIPT = (
    "<!doctype html><html><head><title>App</title></head><body><noscript>This catalogue needs JavaScript; "
    "the plain list is at /list.</noscript><div id='root'></div><script src='/app.js'></script></body></html>"
)
STATIC = "<!doctype html><html><body><p>Hi.</p></body></html>"  # short, but no scripts: not a shell


def test_a_script_shell_is_an_error_suggesting_the_browser_engine(tmp_path, run_cli):
    shell, page = tmp_path / "shell.html", tmp_path / "page.html"
    shell.write_text(SHELL)
    page.write_text(NOSCRIPT)
    run = run_cli("fetch", "--engine", "http", "-q", "-f", "json", str(shell), str(page))
    assert run.returncode == 1
    assert run.stderr.decode().splitlines() == [
        f"{shell.as_uri()}: the page is an empty JavaScript shell: its text is written by scripts, "
        "which the http engine does not run (try --engine browser)"
    ]
    records = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert records[0]["content"] is None and "--engine browser" in records[0]["error"]
    assert records[1]["error"] is None and "This catalogue needs JavaScript" in records[1]["content"]


def test_what_counts_as_a_shell():
    assert extract.is_script_shell(SHELL)
    assert not extract.is_script_shell(NOSCRIPT)
    assert not extract.is_script_shell(STATIC)
    assert not extract.is_script_shell(SHELL.replace("<div id='root'></div>", "<h1>Our shop opens in May</h1>"))
