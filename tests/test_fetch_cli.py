"""`gptme-trio fetch` driven as a user drives it: the console entry point, real Chromium, local pages.

Most tests run the entry point in process (conftest's `cli`: same argv, stdin, stdout, stderr and exit
code, without a Python start-up per run); `binary` runs the real `gptme-trio` in a subprocess for a few
representative exit codes (0, 1, 2) and for stdin read from a pipe.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import cli_command, cli_env


@pytest.fixture
def run_cli(cli):
    return lambda *args, **kwargs: cli("fetch", *args, **kwargs)


@pytest.fixture
def binary():
    def run(*args: str, input: bytes = b"", **env: str) -> subprocess.CompletedProcess:
        command = cli_command("fetch", *args)
        return subprocess.run(command, input=input, capture_output=True, timeout=90, env=cli_env(**env))

    return run


def jsonl(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def hits(site) -> dict[str, int]:
    with urllib.request.urlopen(site.url("/hits")) as response:
        return json.load(response)


def one_line_error(result) -> str:
    """A user mistake: exit 2, exactly one line on stderr, no traceback."""
    err = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert result.stdout == b""
    return err


# --- formats ---------------------------------------------------------------------------------------


def test_markdown_is_the_default_and_holds_main_content(run_cli, site):
    result = run_cli(site.url("/normal"))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert out.startswith("# Normal page") and "Structured concurrency means" in out
    assert "Contact" not in out and "copyright" not in out  # navigation and footer dropped
    assert result.stderr == b""


def test_full_and_selector(run_cli, site):
    full = run_cli("--full", site.url("/normal")).stdout.decode()
    assert f"[Contact]({site.url('/contact')})" in full and "copyright" in full
    only = run_cli("--selector", "ul", site.url("/normal"))
    assert only.returncode == 0 and only.stdout.decode().split() == ["-", "First", "point", "-", "Second", "point"]
    missing = run_cli("--selector", "table", site.url("/normal"))
    assert missing.returncode == 1 and b"no element matches --selector 'table'" in missing.stderr


def test_text_and_html(run_cli, site):
    text = run_cli("-f", "text", site.url("/normal")).stdout.decode()
    assert "Structured concurrency" in text and "#" not in text and "<" not in text
    html = run_cli("-f", "html", "--full", site.url("/js-title")).stdout.decode()
    assert "<title>Title from JavaScript</title>" in html  # the rendered DOM, not the source


def test_json_record_fields(run_cli, site):
    result = run_cli("-f", "json", "--js", "document.querySelectorAll('li').length", site.url("/redirect"))
    assert result.returncode == 0, result.stderr
    [record] = jsonl(result.stdout)
    assert {"url", "final_url", "status", "title", "content", "elapsed_ms", "error", "console"} <= record.keys()
    assert record["url"] == site.url("/redirect") and record["final_url"] == site.url("/normal")
    assert record["status"] == 200 and record["title"] == "Normal page" and record["error"] is None
    assert record["js"] == 2 and "# Normal page" in record["content"] and record["elapsed_ms"] > 0


def test_console_in_json(run_cli, site):
    [record] = jsonl(run_cli("-f", "json", "--wait-until", "networkidle", site.url("/console")).stdout)
    texts = {(m["type"], m["text"]) for m in record["console"]}
    assert ("log", "hello from the console") in texts and ("error", "something went wrong") in texts
    assert any(kind == "pageerror" and "boom in a timer" in text for kind, text in texts)


def test_png_and_pdf(run_cli, site, tmp_path):
    png, pdf = tmp_path / "shot.png", tmp_path / "page.pdf"
    assert run_cli("-f", "png", "--full-page", "-o", str(png), site.url("/images")).returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 5000
    assert run_cli("-f", "pdf", "-o", str(pdf), site.url("/normal")).returncode == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    piped = run_cli("-f", "png", site.url("/normal"))  # stdout is a pipe here: bytes are fine
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG")


@pytest.mark.parametrize("engine", ["browser", "http"])
@pytest.mark.parametrize("path", ["/doc.pdf", "/pdf-no-ext"])
def test_pdf_becomes_text(run_cli, site, engine, path):
    result = run_cli("--engine", engine, "-f", "json", site.url(path))
    [record] = jsonl(result.stdout)
    assert result.returncode == 0, result.stderr
    assert "Hello from a PDF document" in record["content"]


@pytest.mark.parametrize("engine", ["browser", "http"])
@pytest.mark.parametrize(("path", "word"), [("/latin1", "Café"), ("/latin1-meta", "Naïve – meta")])
def test_non_utf8_pages(run_cli, site, engine, path, word):
    [record] = jsonl(run_cli("--engine", engine, "-f", "json", site.url(path)).stdout)
    assert record["title"] == word.replace("Café", "Café latin") or record["title"].startswith(word)
    assert "�" not in record["content"]


@pytest.mark.parametrize("engine", ["browser", "http"])
def test_five_megabyte_page(run_cli, site, engine):
    result = run_cli("--engine", engine, "-f", "text", site.url("/big"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"of the big page.") == 5000


def test_javascript_content_needs_the_browser(run_cli, site):
    browser = run_cli("--wait-for", "#late", site.url("/late"))
    assert b"arrived late, written by JavaScript" in browser.stdout
    http = run_cli("--engine", "http", "--full", site.url("/late"))
    # Without JavaScript the page is a shell ("loading"): an error that says so (issue 13: 6)
    assert http.returncode == 1 and http.stdout == b"" and b"(try --engine browser)" in http.stderr
    titles = [
        jsonl(run_cli("--engine", e, "-f", "json", site.url("/js-title")).stdout)[0]["title"]
        for e in ("browser", "http")
    ]
    assert titles == ["Title from JavaScript", "Static title"]


# --- inputs and outputs ----------------------------------------------------------------------------


def test_local_file_both_engines(run_cli, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Local</title></head><body><h1>Local heading</h1><p>Local text.</p></body>")
    for engine in ("browser", "http"):
        for ref in (str(page), page.as_uri()):
            result = run_cli("--engine", engine, "--full", ref)
            assert result.returncode == 0 and b"# Local heading" in result.stdout, (engine, ref, result.stderr)


def test_many_urls_with_a_failure_in_the_middle(binary, site, free_port):
    urls = [site.url("/normal"), f"http://127.0.0.1:{free_port}/", site.url("/slow?ms=300"), site.url("/js-title")]
    result = binary("-f", "json", "-j", "2", *urls)
    assert result.returncode == 1
    records = jsonl(result.stdout)
    assert [r["url"] for r in records] == urls  # input order, the failure included
    assert [r["error"] is None for r in records] == [True, False, True, True]
    assert result.stderr.decode().splitlines() == [f"http://127.0.0.1:{free_port}/: connection refused"]
    text = binary("-f", "text", *urls)
    assert text.returncode == 1 and text.stdout.decode().count("==> ") == 3


def test_stdin_input(binary, site):
    urls = f"# a comment\n{site.url('/normal')}\n\n{site.url('/js-title')}\n"
    result = binary("-i", "-", "-f", "json", "-q", input=urls.encode())
    assert result.returncode == 0, result.stderr
    assert [r["title"] for r in jsonl(result.stdout)] == ["Normal page", "Title from JavaScript"]


def test_output_directory(run_cli, site, tmp_path):
    out = tmp_path / "pages"
    urls = [site.url("/normal"), site.url("/js-title"), site.url("/normal")]
    result = run_cli("-o", str(out), *urls)
    assert result.returncode == 0, result.stderr
    mapping = [line.split("\t") for line in result.stdout.decode().splitlines()]
    assert [url for url, _ in mapping] == urls
    paths = [Path(path) for _, path in mapping]
    assert len(set(paths)) == 3 and all(p.parent == out and p.suffix == ".md" for p in paths)
    assert "Structured concurrency" in paths[0].read_text() and paths[0].read_text() == paths[2].read_text()
    assert not list(out.glob(".*.part"))


def test_output_file_and_failure_keeps_old_file(run_cli, site, tmp_path):
    out = tmp_path / "page.md"
    assert run_cli("-o", str(out), site.url("/normal")).returncode == 0
    first = out.read_text()
    assert first.startswith("# Normal page")
    assert run_cli("-o", str(out), site.url("/status/404")).returncode == 1
    assert out.read_text() == first  # a failed fetch never clobbers what was there


def test_headers_user_agent_and_cookies(run_cli, site, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {
                "cookies": [
                    {
                        "name": "session",
                        "value": "s3cr3t",
                        "domain": "127.0.0.1",
                        "path": "/",
                        "expires": -1,
                        "httpOnly": False,
                        "secure": False,
                        "sameSite": "Lax",
                    }
                ],
                "origins": [],
            }
        )
    )
    for engine in ("browser", "http"):
        out = (
            run_cli(
                "--engine",
                engine,
                "--full",
                "-H",
                "X-Test: yes please",
                "--user-agent",
                "probe/1.0",
                "--storage-state",
                str(state),
                site.url("/headers"),
            )
            .stdout.decode()
            .lower()
        )
        assert "x-test: yes please" in out and "user-agent: probe/1.0" in out, (engine, out)
        assert "cookie: session=s3cr3t" in out, (engine, out)


def test_blocking_media(run_cli, site):
    before = hits(site).get("/image.png", 0)
    assert run_cli(site.url("/images")).returncode == 0
    assert hits(site).get("/image.png", 0) == before  # blocked by default for text formats
    assert run_cli("--no-block", site.url("/images")).returncode == 0
    assert hits(site)["/image.png"] == before + 2


# --- failures and exit codes -----------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["browser", "http"])
def test_failures_have_reasons(run_cli, site, free_port, engine):
    cases = {
        f"http://127.0.0.1:{free_port}/": "connection refused",
        "http://nonexistent.invalid/": "DNS lookup failed",
        site.url("/redirect-loop"): "too many redirects",
        site.url("/status/404"): "HTTP 404",
        site.url("/status/500"): "HTTP 500",
        site.tls_base + "/normal": "TLS error",
    }
    result = run_cli("--engine", engine, "-f", "json", *cases)
    assert result.returncode == 1
    records = jsonl(result.stdout)
    for record, reason in zip(records, cases.values(), strict=True):
        assert record["error"].startswith(reason), record
        assert record["content"] is None  # never Chrome's error page as content
    assert len(result.stderr.decode().splitlines()) == len(cases)


def test_ignore_http_errors(run_cli, site):
    result = run_cli("-f", "json", "--ignore-http-errors", site.url("/status/404"))
    [record] = jsonl(result.stdout)
    assert result.returncode == 0 and record["status"] == 404 and "Status 404" in record["content"]


@pytest.mark.serial  # timing-sensitive: nox runs it after the parallel part, alone
@pytest.mark.parametrize("engine", ["browser", "http"])
def test_timeout_is_per_url_and_does_not_stop_others(run_cli, site, engine):
    start = time.monotonic()
    # -t 2, not 1: /normal's first use of a tab (a new context) took over 1 s on a loaded 2-core machine
    result = run_cli("--engine", engine, "-t", "2", "-f", "json", site.url("/never"), site.url("/normal"))
    elapsed = time.monotonic() - start
    never, normal = jsonl(result.stdout)
    assert result.returncode == 1 and never["error"] == "timed out after 2 s" and normal["error"] is None
    assert 2.0 <= never["elapsed_ms"] / 1000 < 2.3 and elapsed < 8


@pytest.mark.serial  # timing-sensitive: nox runs it after the parallel part, alone
def test_infinite_javascript_and_stalled_body(run_cli, site):
    urls = [site.url("/infinite-js"), site.url("/stall-body"), site.url("/normal")]
    # -t 3: /infinite-js keeps one of the 2 cores busy the whole time; /normal's first use of a tab
    # beside it took 0.8-2.4 s (1.1-1.5 s before settling and shadow-root reading came).
    result = run_cli("-t", "3", "-f", "json", *urls)
    records = jsonl(result.stdout)
    assert [r["error"] for r in records] == ["timed out after 3 s", "timed out after 3 s", None]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no URL given"),
        (("ftp://example.com/",), "unsupported scheme"),
        (("http://",), "malformed URL"),
        (("missing-file.html",), "no such file"),
        (("-t", "0", "http://127.0.0.1/"), "Invalid value for '-t'"),
        (("-j", "0", "http://127.0.0.1/"), "Invalid value for '-j'"),
        (("-f", "docx", "http://127.0.0.1/"), "Invalid value for '-f'"),
        (("-H", "no-colon", "http://127.0.0.1/"), "expected 'Name: value'"),
        (("-i", "/nonexistent/urls.txt"), "--input /nonexistent/urls.txt"),
        (("--storage-state", "/nonexistent.json", "http://127.0.0.1/"), "--storage-state"),
        (("--selector", "p[[", "http://127.0.0.1/"), "not a valid CSS selector"),
        (("--engine", "http", "-f", "png", "http://127.0.0.1/"), "needs a browser"),
        (("--engine", "http", "--js", "1", "http://127.0.0.1/"), "needs a browser"),
        (("--full-page", "http://127.0.0.1/"), "--full-page only applies to -f png"),
        (("-f", "png", "http://127.0.0.1/a", "http://127.0.0.1/b"), "needs -o DIR"),
        (("--browser-endpoint", "http://x", "http://127.0.0.1/"), "expected ws://"),
        (("--browser-path", "/nonexistent/chrome", "http://127.0.0.1/"), "is not an executable file"),
        (("--unknown-flag",), "No such option"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run_cli, args, message, tmp_path):
    marker = tmp_path / "launched"
    fake = tmp_path / "fake-chrome"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(0o755)
    result = run_cli(*args, GPTME_TRIO_BROWSER=str(fake))
    assert message in one_line_error(result)
    assert not marker.exists()  # no browser was started for a user mistake


def test_unreadable_input_and_empty_input(run_cli, tmp_path):
    empty = tmp_path / "urls.txt"
    empty.write_text("# nothing here\n")
    assert "no URLs in it" in one_line_error(run_cli("-i", str(empty)))
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "not UTF-8" in one_line_error(run_cli("-i", str(binary)))


def test_no_browser_found_says_how_to_get_one(binary, tmp_path):
    result = binary("http://127.0.0.1/", PATH="/nonexistent", HOME=str(tmp_path), GPTME_TRIO_BROWSER="")
    err = one_line_error(result)
    assert "no Chromium or Chrome found" in err and "apt-get install chromium" in err


def test_help_has_examples_and_exit_codes(run_cli):
    out = run_cli("--help").stdout.decode()
    assert "Examples:" in out and "130" in out and "143" in out


def test_broken_browser_executable_is_a_clear_failure(run_cli, site, tmp_path):
    fake = tmp_path / "fake-chrome"
    fake.write_text("#!/bin/sh\necho 'not a browser' >&2\nexit 3\n")
    fake.chmod(0o755)
    result = run_cli("--browser-path", str(fake), site.url("/normal"))
    assert result.returncode == 1 and b"could not start the browser" in result.stderr
    assert b"Traceback" not in result.stderr
