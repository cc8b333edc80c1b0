"""What `fetch` checks before anything starts (exit 2, one line), and how it shows what it did not like.

Each test here failed before its fix (issue 14: items 12, 13, 14, 15).
"""

from __future__ import annotations

import json
import os
import re

import pytest

from gptme_trio.core.errors import UsageError, printable
from gptme_trio.fetch.extract import validate_wait_for
from gptme_trio.fetch.targets import parse_target, read_target_lines

from .support.pages import make_pdf


@pytest.fixture
def fetch(run_cli):
    return lambda *args, **kwargs: run_cli("fetch", "-q", *args, **kwargs)


def one_line(result, code: int = 2) -> str:
    err = result.stderr.decode()
    assert result.returncode == code, (result.returncode, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "args",
    [
        ["--engine", "http", "-H", "X-Name: Bücher"],  # httpx would raise UnicodeEncodeError
        ["--engine", "http", "--user-agent", "Bücher/1.0"],
        ["--user-agent", "agent\nX-Injected: 1"],
        ["--wait-for", "###"],
        ["--wait-for", "div >> ###"],
    ],
)
def test_bad_values_are_usage_errors_before_any_browser(fetch, site, args):
    err = one_line(fetch(*args, site.url("/normal")))
    assert err.startswith("gptme-trio: ") and ("-H" in err or "--user-agent" in err or "--wait-for" in err)


@pytest.mark.parametrize(
    "state",
    [
        {"cookies": [1]},
        {"cookies": [{"name": "a"}]},
        {"cookies": [{"name": "a", "value": "b"}]},  # neither url nor domain and path
        {"cookies": [], "origins": "x"},
    ],
)
def test_a_bad_storage_state_is_a_usage_error(fetch, site, tmp_path, state):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    err = one_line(fetch("--storage-state", str(path), site.url("/normal")))
    assert "--storage-state" in err


@pytest.mark.parametrize("selector", ["text=Hello", "div >> nth=0", 'button:has-text("Go")', "#out", "//p", "css=p"])
def test_playwright_selectors_pass_the_wait_for_check(selector):
    validate_wait_for(selector)


def test_a_bom_before_the_first_url_is_not_part_of_it(fetch, site, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_bytes(("\ufeff" + site.url("/normal") + "\n").encode())
    result = fetch("--engine", "http", "-f", "json", "-i", str(urls))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == site.url("/normal")
    assert read_target_lines("\ufeffa.example\nb.example", "x") == ["a.example", "b.example"]


@pytest.mark.parametrize("host", ["bücher.example", "пример.испытание", "例子.测试/path"])
def test_a_bare_idn_host_is_taken_as_an_address_bar_would(host):
    assert parse_target(host).url == f"https://{host}"


def test_a_word_is_still_not_a_host():
    with pytest.raises(UsageError, match="no such file, and not a URL"):
        parse_target("bücher")


def test_a_failure_line_is_escaped_and_cut(fetch, site):
    long_url = site.url("/status/404?" + "a" * 20_000)
    result = fetch("--engine", "http", long_url, site.url("/status/500?\x1b[31mred"))
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "\x1b" not in err and len(err) < 2000, err[:300]
    assert re.search(r"a{150,}…: HTTP 404", err), err[:500]


def test_printable_escapes_and_cuts():
    assert printable("a\x1b[31mb\nc") == "a\\x1b[31mb\\nc"
    assert printable("x" * 300) == "x" * 199 + "…"
    assert printable("bücher") == "bücher"


def test_library_warnings_stay_off_stderr_without_verbose(fetch, tmp_path):
    data = make_pdf("Hello damaged PDF")
    bad = re.sub(rb"(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 3), data)
    assert bad != data
    path = tmp_path / "damaged.pdf"
    path.write_bytes(bad)
    quiet = fetch(str(path))
    assert quiet.returncode == 0 and b"Hello damaged PDF" in quiet.stdout
    assert quiet.stderr == b""
    loud = fetch("-v", str(path))
    assert b"wrong pointing object" in loud.stderr  # the warning exists: -v shows it


def test_more_tabs_than_the_machine_takes_are_capped_with_one_warning(fetch, site):
    cap = 4 * len(os.sched_getaffinity(0))
    urls = [site.url(f"/normal?n={n}") for n in range(cap + 4)]
    result = fetch("-f", "json", "-j", "64", *urls, timeout=180)
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert err.strip() == (
        "gptme-trio: -j 64 is more pages than this machine loads at once in one browser; "
        f"using -j {cap} (4 per CPU core)"
    )
    assert [json.loads(line)["url"] for line in result.stdout.splitlines()] == urls
    http = fetch("--engine", "http", "-f", "json", "-j", "64", *urls)
    assert http.returncode == 0 and http.stderr == b""  # no browser tabs: no cap


@pytest.mark.parametrize(("word", "hint"), [("fetc", " Did you mean 'fetch'?"), ("zzz", "")])
def test_an_unknown_command_is_one_line_with_a_suggestion(cli, word, hint):
    ran = cli(word, "https://example.com")
    assert (ran.returncode, ran.stdout) == (2, b"")
    assert ran.stderr.decode() == f"gptme-trio: No such command {word!r}.{hint}\n"
