"""Bench-only virtualenvs for the peers we compare against (never project dependencies).

    python -m bench.peers [--dir DIR] [NAME ...]      # NAME: crawl4ai, gptme, shot-scraper (default: all)

Creates (or reuses, when its pinned spec is unchanged) DIR/NAME, a virtualenv with the peer from PyPI,
and prints one line `PEER NAME PYTHON` per peer, or `PEER NAME - REASON` if it could not be made. DIR
defaults to .nox/peers (gitignored). The benchmark scripts import ensure() and env() from here, so
`nox -s bench` on a fresh machine builds the same environments. Every peer runs Debian's Chromium
(bench.harness.CHROMIUM, the browser gptme-trio launches); Playwright's own browser download does not work here:
- crawl4ai: no executable-path setting; its bench script wraps Playwright's BrowserType.launch.
- gptme: GPTME_BROWSER_EXECUTABLE_PATH; `pip install gptme` alone has no browser backend (playwright is
  not a dependency) and no pandoc, so the venv also gets playwright and pypandoc-binary, whose pandoc
  is linked into the venv's bin/ (gptme runs `pandoc` from PATH).
- shot-scraper: no executable-path option (only --browser and --browser-arg), so the venv gets a
  PLAYWRIGHT_BROWSERS_PATH directory with symlinks named like Playwright's own browser folders
  (chromium_headless_shell-REV/..., chromium-REV/..., REV from the venv's playwright) -> CHROMIUM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import CHROMIUM, ROOT, shown

DEFAULT_DIR = ".nox/peers"  # relative to the repository root
PLAYWRIGHT = "playwright==1.65.2"
SPECS = {  # name -> pinned pip requirements (the versions measured; bump them here)
    "crawl4ai": ["crawl4ai==0.9.5", PLAYWRIGHT],
    "gptme": ["gptme==0.35.1", PLAYWRIGHT, "pypandoc-binary==1.17"],
    "shot-scraper": ["shot-scraper==1.12", PLAYWRIGHT],
}
# Playwright's browser folders on linux-x64 (see EXECUTABLE_PATHS in its driver): name -> path inside
PW_FOLDERS = {
    "chromium-headless-shell": ("chrome-headless-shell-linux64", "chrome-headless-shell"),
    "chromium": ("chrome-linux64", "chrome"),
}


class PeerError(Exception):
    """A peer environment could not be made; the message says why."""


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PeerError(f"`{' '.join(cmd)}` exited {proc.returncode}: {(proc.stdout + proc.stderr)[-1500:]}")
    return proc.stdout


def _site_file(python: Path, module: str, *parts: str) -> Path:
    code = f"import os, {module}; print(os.path.dirname({module}.__file__))"
    return Path(_run([str(python), "-c", code]).strip(), *parts)


def _link_pandoc(venv: Path, python: Path) -> None:
    pandoc = _site_file(python, "pypandoc", "files", "pandoc")
    if not pandoc.exists():
        raise PeerError(f"pypandoc-binary installed no pandoc at {pandoc}")
    link = venv / "bin" / "pandoc"
    link.unlink(missing_ok=True)
    link.symlink_to(pandoc)


def _browsers_dir(venv: Path, python: Path) -> None:
    """PLAYWRIGHT_BROWSERS_PATH with Playwright's folder names for this venv's playwright -> CHROMIUM."""
    manifest = _site_file(python, "playwright", "driver", "package", "browsers.json")
    revisions = {b["name"]: b["revision"] for b in json.loads(manifest.read_text())["browsers"]}
    root = venv / "browsers"
    shutil.rmtree(root, ignore_errors=True)
    for name, (folder, exe) in PW_FOLDERS.items():
        target = root / f"{name.replace('-', '_')}-{revisions[name]}" / folder
        target.mkdir(parents=True)
        (target / exe).symlink_to(CHROMIUM)


POST = {"gptme": _link_pandoc, "shot-scraper": _browsers_dir}


def ensure(name: str, root: Path | str = DEFAULT_DIR) -> Path:
    """The python of peer `name`'s virtualenv under root, created or rebuilt if its spec changed."""
    venv = (ROOT / root).resolve() / name  # root: relative to the repository root, or absolute
    python, marker = venv / "bin" / "python", venv / ".peer-spec.json"
    want = {"spec": SPECS[name], "chromium": CHROMIUM, "python": sys.version.split()[0]}
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == want:
        return python
    print(f"peers: building {shown(venv)} ({' '.join(SPECS[name])})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *SPECS[name]])
    if name in POST:
        POST[name](venv, python)
    marker.write_text(json.dumps(want))  # written last: a half-built venv is rebuilt next time
    print(f"peers: {name} ready in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return python


def env(name: str, python: Path | str) -> dict[str, str]:
    """Environment additions to run peer `name` from its venv on Debian's Chromium."""
    bindir = Path(python).parent
    extra = {"PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}  # gptme runs `pandoc`
    if name == "gptme":
        extra["GPTME_BROWSER_EXECUTABLE_PATH"] = CHROMIUM
    if name == "shot-scraper":
        extra["PLAYWRIGHT_BROWSERS_PATH"] = str(bindir.parent / "browsers")
    return extra


def version(python: Path | str, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or "?"


def resolve(name: str, given: str | None, root: Path | str = DEFAULT_DIR) -> tuple[str | None, str]:
    """(python, '') for a peer: `given` if set, else ensure() under root; (None, reason) if that fails."""
    if given:
        return given, ""
    try:
        return str(ensure(name, root)), ""
    except (PeerError, OSError) as exc:
        return None, str(exc)


def resolve_args(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, str]:
    """Set args.<name>_python (None with args.no_peers or on failure) from args.peers_dir; the reasons."""
    reasons: dict[str, str] = {}
    for name in names:
        attr = f"{name.replace('-', '_')}_python"
        python, reasons[name] = (None, "") if args.no_peers else resolve(name, getattr(args, attr), args.peers_dir)
        setattr(args, attr, python)
    return reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"peers to make: {', '.join(SPECS)} (default: all)")
    parser.add_argument(
        "--dir",
        default=str(DEFAULT_DIR),
        help=f"where the venvs live, from the repository root (default {DEFAULT_DIR})",
    )
    args = parser.parse_args()
    if unknown := set(args.names) - set(SPECS):
        parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    failed = 0
    for name in args.names or SPECS:
        python, reason = resolve(name, None, args.dir)
        failed += python is None
        print(f"PEER {name} {shown(python) if python else '- ' + reason.replace(chr(10), ' ')}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
