"""Every URL-policy attempt in tests/support/policy_cases.py through UrlPolicy.check: bench/results/policy.md.

    python -m bench.policy_bench [--out bench/results/policy.md]

No network: names resolve through the same table the tests use (tests.support.policy_cases.FakeDNS).
The table of attempts lives in tests/support/ (the tests must not import from bench/; bench/ uses
tests.support, importable from the repository root).
Exits 1 if any outcome differs from the expected one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import trio

from bench.harness import default_out, header, write
from gptme_trio.core.errors import ToolError
from gptme_trio.core.policy import UrlPolicy
from tests.support.policy_cases import CASES, DNS, Case, FakeDNS

CANNOT_CATCH = """\
## What the policy cannot catch

The table above is the URL check alone (`UrlPolicy.check`). In chat and `gptme-trio mcp` it runs on the
URL the model chose, and on every connection the model-opened page opens (the policy proxy,
gptme_trio/core/proxy.py: Chromium's proxy for those pages, which resolves the host once, checks every
address and connects to a checked one). A page opened with the page tools (`open_page`, `click`, ...)
also has it run on every request it makes (the request guard, gptme_trio/core/browser/routing.py, inside
the browser), so that the tool result can list what was refused; a page that is only read (`read_url`,
`fetch`, `screenshot`) leaves that to the proxy (results/nav_cost.md: what the guard costs a read).
results/policy_browser.md runs the attempts only a connection-level check sees in a real Chromium, with
the guard alone and with the proxy:

- **DNS rebinding between our check and the connection.** Closed by the proxy: Chromium never resolves
  a name of a model-opened page (the proxy does, and the answer it checks is the one it connects to).
  The table's `rebind.test` rows show only what the URL check sees.
- **Redirect hops.** Playwright routes only the first request of a redirect chain. For documents the
  guard fetches without following redirects and checks each `Location` (a refused hop is never
  requested: `tests/test_page_tools.py::test_every_hop_of_a_redirect_chain_is_checked`), except the
  document of a tool's own `goto` behind the proxy: Chromium follows its redirects, each hop a new
  connection checked by the proxy (never requested either), and a refused hop is reported from the
  proxy's answer as the guard reports it (`tests/test_policy_proxy.py`; results/nav_cost.md). For
  subresources (images, scripts, `fetch()`) the guard sees only the first URL; each later hop is a new
  request to the proxy, checked there (`tests/test_policy_proxy.py`).
- **WebSockets** are not routed by the guard (with `route_web_socket`, an allowed socket's
  `connect_to_server()` never reached the server from a page loaded with `goto`, Playwright 1.64);
  they reach the proxy as CONNECT and are checked there.
- **What the page does by itself.** Subresources, `fetch()`, iframes and navigations by script go
  through the proxy, and on a page of the page tools through the guard too; there a refused top-level navigation leaves a "Refused" page of ours instead of the
  target. Pages the model opens get no service worker (Playwright's `service_workers="block"`):
  Playwright routes a worker's requests to the guard unless `PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK`
  is set, and with it set a worker's `fetch()` to localhost passed the guard alone (measured; the proxy
  refused it). `tests/test_page_tools.py::test_a_model_opened_page_gets_no_service_worker`, with its
  control (a page without the policy: the worker reaches the target).
- **The proxy's limits.** It checks hosts, not ports or paths (the policy is about addresses). Anything able to connect to 127.0.0.1 on this machine can
  use it while chat runs (it relays only what the policy allows). A browser on another machine
  (`--browser-endpoint`, `--cdp-endpoint`) cannot reach it: chat says so at start and pages are then
  checked by the guard only, with the three gaps above open. Its refusals are not listed in the tool
  result as the guard's are: Chromium reports a refused image hop as blocked by ORB and a refused
  `fetch()` hop as a CORS failure, never with the proxy's answer (measured); `chat -v` prints each one.
- **Our parser vs Chromium's.** We read the host the WHATWG way (backslashes, percent-escapes,
  IPv4 short/octal/hex forms, UTS 46 for non-ASCII) and tests/test_policy.py checks that against
  a WHATWG parser (Node's, shipped with Playwright) on random URLs; Chromium's own parser (GURL)
  is not WHATWG in every corner, and its IDNA (ICU) may differ from the `idna` package in rare cases.
- **Allowed hosts are trusted whole**: every port and path on them, and anything they redirect to
  on the same host. An `--allow-hosts` entry with a port (`127.0.0.1:8080`) matches nothing.
- **Addresses that are public but internal by routing** (a company's intranet on public
  addresses, a VPN).
- **URLs the user types** (`fetch`, `/fetch`, `/screenshot`) are not checked, by design.
"""


async def run_case(case: Case) -> tuple[str, str]:
    try:
        await UrlPolicy(case.allow, FakeDNS()).check(case.url)
    except ToolError as exc:
        return "refused", str(exc)
    return "allowed", ""


def cell(text: str) -> str:
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`" if text else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out("policy.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes = [trio.run(run_case, case) for case in CASES]
    seconds = time.perf_counter() - started
    wrong = [(c, o) for c, o in zip(CASES, outcomes, strict=True) if o[0] != c.expected or c.reason not in o[1]]
    refused = sum(o[0] == "refused" for o in outcomes)
    lines = [
        header("URL policy: bypass attempts"),
        f"Attempts: {len(CASES)} from `tests/support/policy_cases.py` (the table `tests/test_policy.py` runs), "
        f"{refused} refused, {len(CASES) - refused} allowed, **{len(wrong)} not as expected**; "
        f"{seconds * 1000:.0f} ms for all, one `trio.run` each.",
        "",
        "Names resolve through a fixed table, never the network: "
        + ", ".join(f"`{name}` -> {', '.join(addresses) or 'nothing'}" for name, addresses in DNS.items())
        + "; any other name fails like NXDOMAIN.",
        "",
        "| attempt | URL | --allow-hosts | expected | outcome |",
        "|---|---|---|---|---|",
    ]
    for case, (got, message) in zip(CASES, outcomes, strict=True):
        mark = "" if (got, case.reason in message) == (case.expected, True) else " **UNEXPECTED**"
        outcome = f"**{got}**{mark}" + (f"<br>{cell(message)}" if message else "")
        lines.append(f"| {case.why} | {cell(case.url)} | {cell(','.join(case.allow))} | {case.expected} | {outcome} |")
    lines += ["", CANNOT_CATCH]
    write(args.out, ["\n".join(lines)])
    print(f"{len(CASES)} attempts, {len(wrong)} unexpected -> {args.out}")
    for case, (got, message) in wrong:
        print(f"UNEXPECTED: {case.url!r} ({case.why}): expected {case.expected}, got {got} {message}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
