"""Input parsing: every user mistake is a UsageError naming the input."""

from pathlib import Path

import pytest

from gptme_trio.core.errors import UsageError
from gptme_trio.fetch.targets import parse_target, read_target_lines


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/x"),
        ("example.com", "https://example.com"),
        ("example.com/docs/page.html", "https://example.com/docs/page.html"),
        ("localhost:8000/x", "http://localhost:8000/x"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
    ],
)
def test_urls(raw, url):
    assert parse_target(raw).url == url
    assert parse_target(raw).path is None


def test_local_paths_become_file_urls(tmp_path: Path, monkeypatch):
    page = tmp_path / "page.html"
    page.write_text("<p>hi</p>")
    monkeypatch.chdir(tmp_path)
    for raw in (str(page), "page.html", "./page.html", page.as_uri()):
        target = parse_target(raw)
        assert target.path == page and target.url == page.as_uri()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("http://", "no host"),
        ("http://example.com:99999/", "malformed"),
        ("ftp://example.com/", "unsupported scheme 'ftp'"),
        ("javascript:alert(1)", "unsupported scheme"),
        ("missing.html", "no such file"),
        ("./nope/page", "no such file"),
        ("file:///definitely/not/here.html", "no such file"),
        ("http://exa mple.com", "whitespace"),
        ("not a url", "whitespace"),
        ("", "empty"),
        ("/", "is a directory"),
    ],
)
def test_bad_input_is_a_usage_error(raw, message):
    with pytest.raises(UsageError, match=message):
        parse_target(raw)


def test_input_lines_skip_blanks_and_comments():
    assert read_target_lines("# urls\nhttps://a.example\n\n  https://b.example  \n", "f") == [
        "https://a.example",
        "https://b.example",
    ]
    with pytest.raises(UsageError, match="no URLs"):
        read_target_lines("# nothing\n\n", "empty.txt")
