"""`--js` results: what JSON can hold is kept (as the structured clone sees it), the rest is that
URL's error naming the type, and a result over --js-max is refused inside the deadline
(issue 14: items 3 and 7)."""

from __future__ import annotations

import json
import time

import pytest
import trio

from gptme_trio.core.browser import PageOptions
from gptme_trio.core.errors import PageError


def _strict(text: str):
    """json.loads that fails on NaN/Infinity (not JSON, though Python writes them)."""

    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


KEPT = [
    ("new Date(0)", "1970-01-01T00:00:00.000Z"),
    ("new Date(NaN)", None),
    ("new Map([['a', 1], ['b', [2]]])", {"a": 1, "b": [2]}),
    ("new Set([1, 'x'])", [1, "x"]),
    ("({big: 12345678901234567890n})", {"big": "12345678901234567890"}),
    ("[NaN, Infinity, -Infinity, undefined, -0]", [None, None, None, None, 0]),
    ("/ab+c/gi", "/ab+c/gi"),
    ("new TypeError('bad')", {"name": "TypeError", "message": "bad"}),
    ("new Uint8Array([1, 2, 255])", [1, 2, 255]),
    ("({a: undefined, b: 1})", {"b": 1}),
    ("(() => { const shared = {x: 1}; return [shared, shared]; })()", [{"x": 1}, {"x": 1}]),
    ("new URL('https://example.com/a?b')", "https://example.com/a?b"),
    ("() => ({called: true})", {"called": True}),
    ("new Promise(r => setTimeout(() => r({when: new Date(1e12)}), 50))", {"when": "2001-09-09T01:46:40.000Z"}),
    ("undefined", None),
    ("10n", "10"),
    ("async function () { return [1n]; }", ["1"]),
    ("'plain'", "plain"),
]

REFUSED = [
    ("(() => { const a = {}; a.self = a; return a; })()", "a cyclic object at $.self"),
    ("({f() {}})", "a function at $.f"),
    ("() => () => 1", "a function as the result"),
    ("[Symbol('s')]", "a Symbol at $[0]"),
    ("({el: document.body})", "a DOM node (HTMLBodyElement) at $.el"),
    ("({w: window})", "a Window at $.w"),
    ("({p: Promise.resolve(1)})", "a Promise at $.p"),
    ("new Map([[{}, 1]])", "a Map with a Object key"),
    ("new WeakMap()", "a WeakMap"),
]


async def test_values_json_cannot_hold_are_converted_or_named(browser, site):
    async with browser.page(PageOptions()) as page:
        await page.goto(site.url("/normal"))
        for script, expected in KEPT:
            assert await page.evaluate_json(script, 10_000_000) == expected, script
        for script, reason in REFUSED:
            with pytest.raises(PageError) as caught:
                await page.evaluate_json(script, 10_000_000)
            assert "cannot be turned into JSON" in str(caught.value) and reason in str(caught.value), script
        # The tab is still good for the next call.
        assert await page.evaluate_json("({ok: 1})", 100) == {"ok": 1}


async def test_the_size_limit_counts_utf8_bytes_and_stops_early(browser, site):
    async with browser.page(PageOptions()) as page:
        await page.goto(site.url("/normal"))
        assert await page.evaluate_json("'x'.repeat(98)", 100) == "x" * 98  # 100 bytes with its quotes
        for script in ("'x'.repeat(99)", "'é'.repeat(50)", "Array.from({length: 50}, (_, i) => i)"):
            with pytest.raises(PageError, match="larger than 100 bytes"):
                await page.evaluate_json(script, 100)
        # A value far over the limit is refused without building all of it.
        started = trio.current_time()
        with pytest.raises(PageError, match="larger than 1,000,000 bytes"):
            await page.evaluate_json("Array.from({length: 3e6}, (_, i) => ({i, text: 'abc'}))", 1_000_000)
        assert trio.current_time() - started < 20


def test_js_results_in_a_run_are_valid_json_and_one_bad_result_loses_no_other_url(run_cli, site):
    urls = [site.url("/normal"), site.url("/normal?second")]
    ran = run_cli("fetch", "-q", "-f", "json", "--js", "[NaN, new Date(0), 1n]", *urls)
    assert ran.returncode == 0, ran.stderr
    records = [_strict(line) for line in ran.stdout.decode().splitlines()]
    assert [r["js"] for r in records] == [[None, "1970-01-01T00:00:00.000Z", "1"]] * 2

    ran = run_cli("fetch", "-q", "-f", "json", "--js", "location.search ? 1 : document.body", *urls)
    assert ran.returncode == 1
    err = ran.stderr.decode()
    assert "DOM node (HTMLBodyElement)" in err and "internal error" not in err and "Traceback" not in err
    first, second = (_strict(line) for line in ran.stdout.decode().splitlines())
    assert first["error"] and "DOM node" in first["error"] and second["js"] == 1


@pytest.mark.serial
def test_a_huge_js_result_is_refused_within_the_deadline(run_cli, site):
    started = time.monotonic()
    ran = run_cli("fetch", "-q", "-f", "json", "-t", "5", "--js", "'x'.repeat(40e6)", site.url("/normal"))
    took = time.monotonic() - started
    assert ran.returncode == 1
    assert "larger than 10,000,000 bytes" in ran.stderr.decode()
    assert took < 15  # browser start-up included; the old code took 16-85 s with -t 5
    ran = run_cli("fetch", "-q", "-f", "json", "--js-max", "1kB", "--js", "'x'.repeat(2000)", site.url("/normal"))
    assert ran.returncode == 1 and "larger than 1,000 bytes" in ran.stderr.decode()


def test_js_max_is_checked_before_any_browser_starts(run_cli):
    for value in ("0", "ten", "5xb", "-3"):
        ran = run_cli("fetch", "--js-max", value, "--js", "1", "https://example.com")
        assert ran.returncode == 2, value
        err = ran.stderr.decode()
        assert "--js-max" in err and ("is not a size" in err or "at least 1 byte" in err), err
        assert "Traceback" not in err
