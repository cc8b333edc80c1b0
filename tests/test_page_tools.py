"""The interactive page tools and the URL policy inside the browser (WebTools on a real Chromium)."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote

import httpx
import pytest
import trio

from gptme_trio.core.browser import PageOptions
from gptme_trio.core.errors import NavigationError, ToolError
from gptme_trio.core.policy import UrlPolicy
from gptme_trio.core.proxy import open_policy_proxy
from gptme_trio.tools.web import WebTools

from .conftest import until
from .test_chat_cli import chat, log_of, tool_results


@pytest.fixture
async def web(browser, tmp_path):
    """As chat builds them: the request guard and the policy proxy."""
    async with open_policy_proxy(policy := UrlPolicy(["127.0.0.1"])) as proxy:
        yield WebTools(browser, policy, tmp_path, proxy=proxy)


async def hits(site, path: str) -> int:
    async with httpx.AsyncClient() as client:
        return json.loads((await client.get(site.url("/hits"))).text).get(path, 0)


def elsewhere(site, path: str) -> str:
    """The same local server under a name the policy does not allow (localhost, not 127.0.0.1)."""
    return site.url(path).replace("127.0.0.1", "localhost")


async def test_open_fill_press_click_and_read(web, site):
    opened = await web.page.open_page(site.url("/form"))
    assert "'Form' at " in opened and 'textbox "Name"' in opened and 'button "Greet"' in opened
    assert "filled #name" in await web.page.fill("#name", "Ada")
    clicked = await web.page.click("text=Greet")
    assert clicked.startswith("clicked text=Greet")
    assert "Hello, Ada!" in await web.page.page_text()
    pressed = await web.page.press("Tab")  # focus moves on; nothing navigates
    assert "'Form'" in pressed
    await web.page.fill("#name", "Grace")
    submitted = await web.page.press("Enter")  # submits the form: the page navigates
    assert "'Submitted'" in submitted and "/form-result?name=Grace" in submitted
    assert "Submitted: Grace" in await web.page.page_text()
    followed = await web.page.open_page(site.url("/form"))
    assert "link" in followed
    assert "'Normal page'" in await web.page.click("#article")


async def test_page_tools_without_a_page_and_after_close(web, site):
    with pytest.raises(ToolError, match="no page is open"):
        await web.page.page_text()
    assert await web.page.close_page() == "no page was open"
    await web.page.open_page(site.url("/form"))
    page = web.page.page
    assert await web.page.close_page() == "closed the page"
    with pytest.raises(ToolError, match="no page is open"):
        await web.page.click("#greet")
    await until(lambda: page.closed)


async def test_a_missing_element_is_an_error_for_the_model(web, site):
    await web.page.open_page(site.url("/form"))
    with trio.move_on_after(1) as scope:  # Playwright waits for the element: the caller's deadline ends it
        await web.page.click("#no-such-button")
    assert scope.cancelled_caught
    assert "Hello" not in await web.page.page_text()  # the page is still usable


async def test_open_page_is_checked_against_the_policy(web, site):
    with pytest.raises(ToolError, match="refused: localhost"):
        await web.page.open_page(elsewhere(site, "/form"))


@pytest.mark.parametrize("allowed", [False, True])
async def test_requests_a_page_makes_go_through_the_policy(browser, site, tmp_path, allowed):
    """An allowed page's image, fetch() and script navigation toward a refused host never leave the browser."""
    target = f"/lure-target-{uuid.uuid4().hex}"
    policy = UrlPolicy(["127.0.0.1", *(["localhost"] if allowed else [])])
    async with open_policy_proxy(policy) as proxy:
        await _lure(WebTools(browser, policy, tmp_path, proxy=proxy), site, target, allowed)


@pytest.mark.parametrize("allowed", [False, True])
async def test_without_the_proxy_the_filter_holds_every_request_of_a_read(browser, site, tmp_path, allowed):
    """With no policy proxy (a remote browser cannot reach ours), the request filter is the policy: a read's
    tab routes every request through it too, though nobody is told what it refused."""
    target = f"/lure-target-{uuid.uuid4().hex}"
    policy = UrlPolicy(["127.0.0.1", *(["localhost"] if allowed else [])])
    await _lure(WebTools(browser, policy, tmp_path), site, target, allowed)


async def _lure(web, site, target, allowed):
    lure = site.url("/lure?nav=1&to=" + elsewhere(site, target))
    try:  # the page navigates by script 50 ms after it runs: before or after the read, by luck
        text = await web.read_url(lure)
        assert "Lure page." in text or (allowed and "not found" in text)
    except ToolError as exc:  # refused by the final-URL check, or (script before the load event) in goto
        assert not allowed and re.search(r"refused(: | by the URL policy: http://)localhost", str(exc)), exc
    try:
        opened = await web.page.open_page(lure)
    except NavigationError as exc:  # the script ran before the load event: goto ended on the refusal
        assert not allowed and "refused by the URL policy: http://localhost" in str(exc)
        opened = "the URL policy refused requests of the page: http://localhost"
    await trio.sleep(0.5)
    if allowed:  # the control: the same page does reach the target when the host is allowed
        assert await hits(site, target) > 0
        return
    assert await hits(site, target) == 0
    assert "the URL policy refused requests of the page: http://localhost" in opened
    with pytest.raises(ToolError, match="refused: localhost"):  # the script's navigation: our page
        await web.page.page_text()


def sw_page(site, target: str) -> str:
    """A page on an allowed host whose service worker fetches `target` on localhost (refused)."""
    return site.url("/hostile/sw-page?to=" + quote(elsewhere(site, target), safe=""))


async def test_the_service_worker_lure_works_when_nothing_stops_it(browser, site):
    """The control for the next test: a plain page (no policy) registers the worker, which reaches the target."""
    target = f"/lure-target-{uuid.uuid4().hex}"
    async with browser.tabs(PageOptions()).page() as page:
        await page.goto(sw_page(site, target))
        with trio.fail_after(5):
            while await hits(site, target) == 0:
                await trio.sleep(0.05)
        assert "Service worker: registered." in await page.evaluate("document.body.innerText")


@pytest.mark.parametrize("proxied", [False, True])
async def test_a_model_opened_page_gets_no_service_worker(browser, site, tmp_path, proxied):
    """Playwright routes a service worker's requests only unless PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK
    is set (then the worker's fetch() passed the request guard unseen); without the proxy (a browser on
    another machine), nothing else would stop it. So model-opened pages get no service worker."""
    target = f"/lure-target-{uuid.uuid4().hex}"
    policy = UrlPolicy(["127.0.0.1"])
    async with open_policy_proxy(policy) as proxy:
        web = WebTools(browser, policy, tmp_path, proxy=proxy if proxied else None)
        await web.page.open_page(sw_page(site, target))
        with trio.fail_after(5):
            while "registering" in (text := await web.page.page_text()):
                await trio.sleep(0.05)
        await trio.sleep(0.5)
    assert await hits(site, target) == 0
    assert "not registered" in text


async def test_every_hop_of_a_redirect_chain_is_checked(web, site):
    """Playwright routes only the first request of a redirect chain: a two-hop chain used to reach localhost."""
    target = f"/lure-target-{uuid.uuid4().hex}"
    hop = site.url("/redirect-to?url=" + quote(elsewhere(site, target), safe=""))  # allowed host, then refused
    with pytest.raises(Exception, match="refused by the URL policy: http://localhost"):
        await web.read_url(site.url("/redirect-to?url=" + quote(hop, safe="")))
    assert await hits(site, target) == 0


@pytest.mark.parametrize("tool", ["read_url", "open_page"])
async def test_an_allowed_redirect_chain_ends_on_its_last_page(web, site, tool):
    chain = "/normal"
    for _ in range(3):
        chain = "/redirect-to?url=" + quote(site.url(chain), safe="")
    result = await getattr(web if tool == "read_url" else web.page, tool)(site.url(chain))
    assert ("Structured concurrency means" if tool == "read_url" else "Normal page") in result, result
    if tool == "open_page":
        assert web.page.page.url == site.url("/normal")


@pytest.mark.parametrize("tool", ["read_url", "open_page"])
async def test_an_allowed_local_page_reaches_another_allowed_local_origin(web, site, other_site, tool):
    """With 127.0.0.1 allowed, a page's image and fetch() to another port arrive. Chromium's Local Network
    Access check blocked them (ERR_FAILED) from the documents the policy fetches and fulfils itself."""
    target = f"/lure-target-{uuid.uuid4().hex}"
    await getattr(web if tool == "read_url" else web.page, tool)(site.url("/lure?to=" + other_site.url(target)))
    with trio.fail_after(5):
        while await hits(other_site, target) < 2:  # the image and the fetch()
            await trio.sleep(0.05)


async def test_a_redirect_to_a_refused_host_is_stopped_in_the_browser(web, site):
    target = f"/lure-target-{uuid.uuid4().hex}"
    with pytest.raises(Exception, match="refused by the URL policy: http://localhost"):
        await web.read_url(site.url("/redirect-to?url=" + elsewhere(site, target)))
    assert await hits(site, target) == 0  # refused before the request went out, not after


def test_page_tools_of_one_reply_run_in_call_order(llm, site, tmp_path):
    """open_page, fill, press, page_text in ONE model reply: each acts on what the last one left."""
    calls = [
        ("open_page", {"url": site.url("/form")}),
        ("fill", {"selector": "#name", "value": "Ada"}),
        ("press", {"key": "Enter"}),
        ("page_text", {}),
        ("close_page", {}),
    ]
    server = llm(
        [
            {"tool_calls": [{"name": name, "arguments": args} for name, args in calls]},
            {"text": "Submitted."},
        ]
    )
    home = tmp_path / "home"
    result = chat(home, server, "--allow-hosts", "127.0.0.1", "Submit the form as Ada")
    assert result.returncode == 0, result.stderr
    sent = tool_results(server.requests()[1])
    assert len(sent) == 5
    assert "textbox" in sent[0] and "filled #name" in sent[1] and "Submitted" in sent[2]
    assert "Submitted: Ada" in sent[3] and sent[4] == "closed the page"
    assert [m["name"] for m in log_of(home) if m["role"] == "tool"] == [name for name, _ in calls]
