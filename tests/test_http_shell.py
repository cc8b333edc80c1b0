"""The http engine on a page that is an empty JavaScript shell (issue 13: 6): one clear line naming
the URL and suggesting --engine browser, exit 1, never an empty success; other URLs of the run go on.
<noscript> text is content."""

from __future__ import annotations

import json

import pytest

from gptme_trio.fetch import shell

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
    assert shell.is_script_shell(SHELL)
    assert not shell.is_script_shell(NOSCRIPT)
    assert not shell.is_script_shell(STATIC)
    assert not shell.is_script_shell(SHELL.replace("<div id='root'></div>", "<h1>Our shop opens in May</h1>"))


@pytest.mark.parametrize(
    "body",
    [
        "<body class='app shell dark' data-x='one two three'><div id='root'></div><script>boot()</script></body>",
        "<body><!-- the app writes its words here --><div id='root'></div><script>boot()</script></body>",
        "<body><style>.a b c d {}</style><template>row text here</template><script>x()</script></body>",
        "<body>&nbsp;&nbsp;&nbsp;&#160;<script>boot('one two three four')</script></body>",
        "<BODY><SCRIPT>var words = 'one two three four'</SCRIPT>Loading</BODY>",
        "<body><div id='root'></div><script>boot('one two three four')",  # the script never closes
    ],
)
def test_words_a_reader_does_not_see_do_not_make_a_page_content(body):
    """The shell check reads the body without parsing when it can (a scan that stops at three shown
    words): the body tag's attributes, comments, styles, templates, scripts (closed or not) and
    entities for spaces are no words, exactly as in the parsed check."""
    assert shell.is_script_shell(f"<!doctype html><html><head><title>App</title></head>{body}</html>")


@pytest.mark.parametrize(
    "body",
    [
        "<body><div id='root'></div><script>boot()</script><p>Our shop opens in May.</p></body>",
        "<body><script>boot()</script><STYLE>p{}</STYLE><h1>Caf&eacute; menu today</h1></body>",
        "<body><scripts-list>one two three</scripts-list><script>boot()</script></body>",  # not a <script>
    ],
)
def test_words_shown_after_scripts_make_a_page_content(body):
    assert not shell.is_script_shell(f"<!doctype html><html><head><title>App</title></head>{body}</html>")
