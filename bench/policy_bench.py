"""Every URL-policy attempt in tests/policy_cases.py through UrlPolicy.check: bench/results/policy.md.

    python bench/policy_bench.py [--out bench/results/policy.md]

No network: names resolve through the same table the tests use (tests.policy_cases.FakeDNS).
The table of attempts lives in tests/ (the tests must not import from bench/; bench/ already
uses tests/ helpers), so the repo root goes on sys.path and it is imported as a module.
Exits 1 if any outcome differs from the expected one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gptme_trio.policy import UrlPolicy  # noqa: E402
from gptme_trio.tools import ToolError  # noqa: E402
from tests.policy_cases import CASES, DNS, Case, FakeDNS  # noqa: E402

CANNOT_CATCH = """\
## What the policy cannot catch

The check runs in our process, on the URL, before (and after) Chromium does the real work. So:

- **DNS rebinding between our check and Chromium's own lookup.** We resolve the name, find only
  public addresses, and let the URL through; Chromium then resolves it again, itself. A name with a
  zero TTL can answer a public address to us and 127.0.0.1 or 169.254.169.254 to Chromium a moment
  later. The table's `rebind.test` rows show only what we see. Closing this needs the address we
  checked to be the one Chromium connects to: a local proxy that resolves, checks and connects in
  one step (Chromium's `--proxy-server`), or per-launch `--host-resolver-rules` pinning.
- **Redirect hops of subresources.** Playwright routes only the first request of a redirect chain:
  Chromium follows the later hops by itself, unrouted. For documents (top-level and iframe
  navigations) gptme_trio/browser/routing.py fetches the response without following redirects,
  checks the `Location`, and never hands Chromium the redirect: the next hop becomes a new, routed
  navigation (goto follows it itself; a click or script gets a page that does `location.replace`).
  So no refused hop of a document is ever requested, however long the chain
  (`tests/test_page_tools.py::test_every_hop_of_a_redirect_chain_is_checked`: a two-hop chain
  reached localhost before this was done; `tests/test_policy.py::test_a_refused_redirect_target_is_never_requested`).
  For subresources (images, scripts, `fetch()`) only the first URL is checked: an allowed image URL
  that redirects to an internal address is requested by Chromium (the response is not shown to the
  model as text, but a screenshot could show an image). Doing the same for them needs each
  subresource fetched by the driver and its redirects followed there (the response then carries the
  first URL, which breaks relative URLs in CSS); not done. The proxy above would close this too.
- **What the page does by itself.** Subresources, `fetch()`, iframes and navigations by script go
  through the same policy via `context.route()` (tools/web.py `request_filter`); a refused
  top-level navigation leaves a "Refused" page of ours instead of the target. Not seen: requests a
  service worker makes, and WebSockets: with `route_web_socket`, refusing works, but an allowed
  socket's `connect_to_server()` never reached the server from a page loaded with `goto` (tried with
  Playwright 1.64, in plain asyncio too), so routing them would break every page that uses one; not
  routed. Chromium's
  Private Network Access rules are a second line for public -> private requests, not a guarantee.
- **Our parser vs Chromium's.** We read the host the WHATWG way (backslashes, percent-escapes,
  IPv4 short/octal/hex forms, UTS 46 for non-ASCII) and tests/test_policy.py checks that against
  a WHATWG parser (Node's, shipped with Playwright) on random URLs; Chromium's own parser (GURL)
  is not WHATWG in every corner, and its IDNA (ICU) may differ from the `idna` package in rare cases.
- **Allowed hosts are trusted whole**: every port and path on them, and anything they redirect to
  on the same host. An `--allow-hosts` entry with a port (`127.0.0.1:8080`) matches nothing.
- **Addresses that are public but internal by routing** (a company's intranet on public
  addresses, a VPN), and **remote browsers** (`--browser-endpoint`, `--cdp-endpoint`): there,
  "private" is about the browser's network, while we resolve names on ours.
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


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "gptme_trio/policy.py"], cwd=ROOT, capture_output=True)
    except OSError:
        return "unknown"
    return head.stdout.strip() + (" (policy.py modified)" if dirty.stdout.strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "policy.md")
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes = [trio.run(run_case, case) for case in CASES]
    seconds = time.perf_counter() - started
    wrong = [(c, o) for c, o in zip(CASES, outcomes, strict=True) if o[0] != c.expected or c.reason not in o[1]]
    refused = sum(o[0] == "refused" for o in outcomes)
    lines = [
        "# URL policy: bypass attempts",
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC<br>",
        f"Command: `python bench/policy_bench.py` (gptme_trio code: {commit()})<br>",
        f"Attempts: {len(CASES)} from `tests/policy_cases.py` (the table `tests/test_policy.py` runs), "
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"{len(CASES)} attempts, {len(wrong)} unexpected -> {args.out}")
    for case, (got, message) in wrong:
        print(f"UNEXPECTED: {case.url!r} ({case.why}): expected {case.expected}, got {got} {message}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
