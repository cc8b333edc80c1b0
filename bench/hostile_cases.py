"""The hostile-input classes of issue 14 as attempt makers, for bench/hostile_bench.py: each class makes one
`Attempt` (arguments, documented exit codes and words, checks of the files it touched) from a `Kit` (the
site, a fresh directory, a random source), with random variations: engine, sizes, positions, signals."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from tests.support.pages import make_pdf


@dataclass
class Attempt:
    """One run: its arguments, how it must end, and what to check after."""

    args: list[str]
    codes: set[int]
    words: tuple[str, ...] = ()  # one of these must be on stderr (empty: nothing asked)
    stdin: bytes | None = b""  # None: closed (<&-)
    shell: str = ""  # run through bash: the command line with {cli} for ours
    signal_after: tuple[float, int] | None = None  # s after the site saw a /counted request of the run
    checks: list[Callable[[str], str | None]] = field(default_factory=list)  # stdout -> damage, or None


@dataclass
class Trial:
    cls: str
    attempt: Attempt
    code: int | None = None
    problems: list[str] = field(default_factory=list)
    internal: bool = False
    traceback: bool = False
    orphans: int = 0
    damaged: list[str] = field(default_factory=list)


class Kit:
    """What the classes make their attempts from: the site, a fresh directory per trial, a random source."""

    def __init__(self, base: str, workdir: Path, rng: random.Random) -> None:
        self.base, self.dir, self.rng = base, workdir, rng
        self.tag = f"t{rng.randrange(10**9)}"  # the id of its /counted requests

    def page(self, text: str = "An ordinary page of the hostile bench.") -> str:
        path = self.dir / f"page-{self.rng.randrange(10**6)}.html"
        path.write_text(f"<html><head><title>T</title></head><body><p>{text}</p></body></html>")
        return str(path)

    def engine(self) -> list[str]:
        return ["--engine", self.rng.choice(["http", "browser"])]

    def node(self, name: str, major: int, minor: int) -> Path:
        path = self.dir / name
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        return path


def still(path: Path, kind: Callable[[int], bool], what: str) -> Callable[[str], str | None]:
    return lambda _out: None if kind(path.lstat().st_mode) else f"{path.name} is no longer a {what}"


def whole_jsonl(path: Path, at_least: int) -> Callable[[str], str | None]:
    def check(_out: str) -> str | None:
        text = path.read_text()
        try:
            records = [json.loads(line) for line in text.splitlines()]
        except ValueError:
            return f"{path.name} holds a broken JSON line"
        whole = len(records) >= at_least and (text == "" or text.endswith("\n"))
        return None if whole else f"{path.name}: {len(records)} records"

    return check


def strict_json_lines(out: str) -> str | None:
    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        for line in out.splitlines():
            json.loads(line, parse_constant=refuse)
    except ValueError as exc:
        return f"stdout is not strict JSON ({exc})"
    return None


def encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Sealed text"))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=random.choice(["AES-256", "RC4-128"]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


JS = [
    "new Date(0)",
    "(() => {const a = {}; a.a = a; return a})()",
    "/re+/g",
    "new Error('e')",
    "new Map([[1, 2]])",
    "() => () => 1",
    "10n",
    "[NaN, Infinity]",
    "document.body",
    "new Set([1])",
    "Symbol('s')",
    "new WeakMap()",
]


def classes() -> dict[str, Callable[[Kit], Attempt]]:
    def nul(k: Kit) -> Attempt:
        body = k.dir / "nul.html"
        body.write_bytes(b"<p>before</p>" + b"\x00" * k.rng.randrange(1, 300_000) + b"<p>after</p>")
        return Attempt(["fetch", "-q", *k.engine(), str(body), k.page()], {0})

    def pdf(k: Kit) -> Attempt:
        locked = k.rng.random() < 0.5
        path = k.dir / "sealed.pdf"
        path.write_bytes(encrypted("pw" if locked else ""))
        return Attempt(
            ["fetch", "-q", *k.engine(), str(path), k.page()],
            {1} if locked else {0},
            ("encrypted PDF",) if locked else (),
        )

    def js(k: Kit) -> Attempt:
        script = k.rng.choice(JS)
        if k.rng.random() < 0.5:
            script = f"({{wrapped: [{script}]}})"
        return Attempt(
            ["fetch", "-q", "-f", "json", "--js", script, k.page(), k.page()], {0, 1}, checks=[strict_json_lines]
        )

    def special_out(k: Kit) -> Attempt:
        if k.rng.random() < 0.5:
            node = k.node("null", 1, 3)
            return Attempt(
                ["fetch", "-q", *k.engine(), "-o", str(node), k.page()],
                {0},
                checks=[still(node, stat.S_ISCHR, "device")],
            )
        fifo = k.dir / "out.fifo"
        os.mkfifo(fifo)
        threading.Thread(target=lambda: fifo.open("rb").read(), daemon=True).start()
        return Attempt(
            ["fetch", "-q", *k.engine(), "-o", str(fifo), k.page()], {0}, checks=[still(fifo, stat.S_ISFIFO, "FIFO")]
        )

    def many_tabs(k: Kit) -> Attempt:
        return Attempt(
            ["fetch", "-q", "-j", str(k.rng.randrange(9, 65)), *[k.page() for _ in range(10)]], {0}, ("using -j",)
        )

    def json_file(k: Kit) -> Attempt:
        out = k.dir / "out.jsonl"
        out.write_text('{"url": "old", "error": null}\n' * 3)
        urls = [k.page() for _ in range(3)] + [f"{k.base}/status/{k.rng.choice([404, 500])}"]
        k.rng.shuffle(urls)
        if k.rng.random() < 0.5:
            slow = [f"{k.base}/counted?ms=8000&id={k.tag}&n={i}" for i in range(2)]
            return Attempt(
                ["fetch", "-q", "-f", "json", "-j", "1", "-o", str(out), *urls, *slow],
                {130},
                signal_after=(k.rng.uniform(0, 2), signal.SIGINT),
                checks=[whole_jsonl(out, 0)],
            )
        return Attempt(["fetch", "-q", "-f", "json", "-o", str(out), *urls], {1}, checks=[whole_jsonl(out, 4)])

    def big_js(k: Kit) -> Attempt:
        size = k.rng.randrange(11, 41)
        return Attempt(
            ["fetch", "-q", "-f", "json", "-t", "8", "--js", f"'x'.repeat({size}e6)", k.page()],
            {1},
            ("larger than 10,000,000 bytes",),
        )

    def bounded(k: Kit) -> Attempt:
        zero = k.node("zero", 1, 5)
        choice = k.rng.randrange(3)
        if choice == 0:
            return Attempt(["fetch", "-q", *k.engine(), str(zero), k.page()], {1}, ("larger than",))
        if choice == 1:
            return Attempt(["fetch", "-q", "-i", str(zero)], {2}, ("longer than",))
        fifo = k.dir / "in.fifo"
        os.mkfifo(fifo)
        return Attempt(["fetch", "-q", *k.engine(), "-t", "3", str(fifo), k.page()], {1}, ("timed out after 3 s",))

    def read_only(k: Kit) -> Attempt:
        ro = k.dir / "ro"
        ro.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], check=True)
        target = ro if k.rng.random() < 0.5 else ro / "page.md"
        return Attempt(
            ["fetch", "-q", *k.engine(), "-o", str(target), k.page()],
            {1},
            ("read-only file system",),
            shell="{cli}; code=$?; umount " + str(ro) + "; exit $code",
        )

    def local_paths(k: Kit) -> Attempt:
        choice = k.rng.randrange(3)
        if choice == 0:
            folder = k.dir / "a folder"
            folder.mkdir()
            page = folder / "my page.html"
            page.write_text("<p>Spaced.</p>")
            return Attempt(["fetch", "-q", *k.engine(), str(page)], {0})
        if choice == 1:
            return Attempt(["fetch", "-q", *k.engine(), "/dev/stdin"], {0}, stdin=b"<p>From stdin.</p>")
        return Attempt(["fetch", "-q", *k.engine()], {0}, shell="{cli} <(echo '<p>Substituted.</p>')")

    def closed_out(k: Kit) -> Attempt:
        pages = [k.page("Long text. " * 3000) for _ in range(k.rng.randrange(5, 30))]
        if k.rng.random() < 0.5:
            return Attempt(["fetch", "-q", *k.engine(), *pages], {1}, ("stdout is closed",), shell="{cli} >&-")
        return Attempt(
            ["fetch", "-q", *k.engine(), *pages],
            {141},
            shell="{cli} | head -c " + str(k.rng.randrange(1, 5000)) + "; exit ${PIPESTATUS[0]}",
        )

    def usage(k: Kit) -> Attempt:
        args = k.rng.choice(
            [
                ["--engine", "http", "-H", "X-Name: välue"],
                ["--user-agent", "a\nb"],
                ["-H", "X: a\rb"],
                ["--wait-for", "###"],
                ["--storage-state", str(k.page())],
                ["--js-max", "0", "--js", "1"],
                ["-f", "png", "--block"],
                ["--selector", "a[", "--full"],
            ]
        )
        return Attempt(["fetch", *args, k.page()], {2})

    def input_list(k: Kit) -> Attempt:
        lst = k.dir / "urls.txt"
        lst.write_bytes(b"\xef\xbb\xbf" + "\n".join([k.page(), "# comment", "", k.page()]).encode() + b"\n")
        return Attempt(["fetch", "-q", "--engine", "http", "-i", str(lst)], {0})

    def shown(k: Kit) -> Attempt:
        junk = k.rng.choice(["\x1b[31mred\x1b[0m", "a" * k.rng.randrange(1000, 100_000), "\x07bell\ttab"])
        return Attempt(
            ["fetch", "-q", "--engine", "http", f"{k.base}/status/404?{junk}", k.page()], {1, 2}, ("404", "not a URL")
        )

    def damaged_pdf(k: Kit) -> Attempt:
        path = k.dir / "broken.pdf"
        data = bytearray(make_pdf("Broken but partly readable"))
        for _ in range(k.rng.randrange(1, 20)):
            data[k.rng.randrange(len(data))] = k.rng.randrange(256)
        path.write_bytes(bytes(data))
        return Attempt(["fetch", "-q", *k.engine(), str(path), k.page()], {0, 1})

    def png_of_pdf(k: Kit) -> Attempt:
        source = k.rng.choice([f"{k.base}/doc.pdf", f"{k.base}/pdf-no-ext"])
        return Attempt(["fetch", "-q", "-f", "png", "-o", str(k.dir / "x.png"), source], {1}, ("of a PDF",))

    def hung_endpoint(k: Kit) -> Attempt:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        k.keep = sock  # type: ignore[attr-defined]  # open until the trial ends
        option, scheme = k.rng.choice([("--browser-endpoint", "ws"), ("--cdp-endpoint", "http")])
        return Attempt(
            ["fetch", "-q", "-t", "2", option, f"{scheme}://127.0.0.1:{sock.getsockname()[1]}/", k.page()],
            {1},
            ("did not answer within 2 s",),
        )

    def concurrent(k: Kit) -> Attempt:
        out = k.dir / "same.md"
        other = subprocess.list2cmdline(
            [
                sys.executable,
                "-m",
                "gptme_trio",
                "fetch",
                "-q",
                "--engine",
                "http",
                "-o",
                str(out),
                k.page("The other run's page."),
            ]
        )
        return Attempt(
            ["fetch", "-q", *k.engine(), "-o", str(out), k.page("This run's page.")],
            {0},
            shell=f"{other} & {{cli}}; code=$?; wait $! || exit 9; exit $code",
            checks=[
                lambda _o: (
                    None
                    if out.read_text().removeprefix("# T\n").strip() in ("This run's page.", "The other run's page.")
                    else f"{out.name} holds {out.read_text()!r}"
                )
            ],
        )

    def mode(k: Kit) -> Attempt:
        out = k.dir / "private.md"
        out.write_text("old")
        out.chmod(0o600)
        return Attempt(
            ["fetch", "-q", *k.engine(), "-o", str(out), k.page()],
            {0},
            checks=[lambda _o: None if stat.S_IMODE(out.stat().st_mode) == 0o600 else "mode changed"],
        )

    def closed_in(k: Kit) -> Attempt:
        args = k.rng.choice([["chat"], ["chat", "-n"], ["fetch", "-i", "-"]])
        return Attempt(args, {2}, ("stdin is closed",), stdin=None)

    def signals(k: Kit) -> Attempt:
        signum = k.rng.choice(
            [
                signal.SIGINT,
                signal.SIGTERM,
                signal.SIGHUP,
                signal.SIGQUIT,
                signal.SIGUSR1,
                signal.SIGUSR2,
                signal.SIGALRM,
            ]
        )
        return Attempt(
            ["fetch", "-q", *k.engine(), f"{k.base}/counted?ms=20000&id={k.tag}", k.page()],
            {128 + signum},
            signal_after=(k.rng.uniform(0, 2), signum),
        )

    return {"1 NUL bodies": nul, "2 encrypted PDF": pdf, "3 --js values": js, "4 -o special files": special_out,
            "5 -j above the cap": many_tabs, "6 -f json -o FILE": json_file, "7 huge --js result": big_js,
            "8 bounded inputs": bounded, "9 read-only output": read_only, "10 local paths": local_paths,
            "11 closed stdout, SIGPIPE": closed_out, "12 usage errors": usage, "13 -i with a BOM": input_list,
            "14 escapes, long URLs": shown, "15 damaged PDF": damaged_pdf, "16 png of a PDF": png_of_pdf,
            "17 hung endpoint": hung_endpoint, "18 concurrent -o": concurrent, "19 file mode": mode,
            "20 closed stdin": closed_in, "21 signals": signals}  # fmt: skip
