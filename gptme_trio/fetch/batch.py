"""Many URLs under a concurrency limit, each under its own deadline, as records.

    await fetch_all(targets, engine, options, on_record=writer.write)

Each record goes to `on_record(index, record)` as soon as its URL is done
(completion order; the index says which target it was). A failure is a record with `error` set, never an
exception: one bad URL never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from gptme_trio.core.errors import DeadlineError, FetchError, HTTPStatusError, timed_out
from gptme_trio.fetch import extract, links, metadata, pdf
from gptme_trio.fetch.engines import Engine, Snapshot
from gptme_trio.fetch.links import Link
from gptme_trio.fetch.options import FetchOptions as FetchOptions
from gptme_trio.fetch.targets import Target


@dataclass
class Record:
    url: str
    final_url: str | None = None
    status: int | None = None
    title: str = ""
    content: str | None = None  # markdown (text for --format text)
    elapsed_ms: int = 0
    error: str | None = None
    console: list[dict[str, str]] = field(default_factory=list)
    js: Any = None
    payload: bytes | str | None = None  # what --format asks for
    exception: FetchError | None = field(default=None, repr=False)
    meta: metadata.PageMeta | None = None  # -f json and -f markdown (its title line)
    links: list[Link] | None = None  # --links

    def as_json(self) -> dict[str, Any]:
        """-f json's object: these keys, then the page's metadata (PageMeta.as_json) and `links`."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "title": self.title,
            "content": self.content,
            "elapsed_ms": self.elapsed_ms,
            "error": self.error,
            "console": self.console,
            "js": self.js,
            **(self.meta or metadata.NO_META).as_json(),
            "links": [link.as_json() for link in self.links] if self.links is not None else None,
        }


async def fetch_all(
    targets: Sequence[Target],
    engine: Engine,
    options: FetchOptions,
    on_record: Callable[[int, Record], None],
) -> None:
    """Fetch every target, `options.concurrency` at a time; call `on_record` as each one ends."""
    jobs = iter(enumerate(targets))

    async def worker() -> None:
        for index, target in jobs:
            on_record(index, await fetch_one(target, engine, options))

    async with trio.open_nursery() as nursery:
        for _ in range(min(options.concurrency, len(targets))):
            nursery.start_soon(worker)


async def fetch_one(target: Target, engine: Engine, options: FetchOptions) -> Record:
    """Fetch one target under its deadline; errors become the record's `error`."""
    started = time.perf_counter()
    record, starts = Record(url=target.url), engine.starts()
    try:
        with trio.move_on_after(options.seconds_per_url) as scope:
            snapshot = await engine.snapshot(target)
        if scope.cancelled_caught:
            restarted = engine.starts() != starts
            raise DeadlineError(timed_out(options.seconds_per_url, restarted=restarted), url=target.url)
        _fill(record, snapshot, options)
    except FetchError as exc:
        record.error, record.exception = str(exc), exc
        record.payload = record.content = None
    record.elapsed_ms = round((time.perf_counter() - started) * 1000)
    return record


def _fill(record: Record, snap: Snapshot, options: FetchOptions) -> None:
    record.final_url, record.status, record.title = snap.final_url, snap.status, snap.title
    record.console, record.js = snap.console, snap.js_result
    if snap.status is not None and snap.status >= 400 and not options.ignore_http_errors:
        raise HTTPStatusError(f"HTTP {snap.status}", url=snap.url, status=snap.status)
    if snap.capture is not None:
        record.payload = snap.capture
        return
    url = snap.final_url or snap.url
    if snap.body is not None:
        record.content = pdf.to_text(snap.body, url=url)
        html = None
    else:
        html = page = snap.html or ""
        base = links.base_url(page, url)
        if options.format in ("markdown", "json") or options.links:  # relative links made absolute, <base> kept
            html = links.absolutize(page, base, url)
        if options.selector:
            html = extract.select(html, options.selector)
            if html is None:
                raise FetchError(f"no element matches --selector {options.selector!r}", url=url)
        main = options.main_content and not options.selector
        convert = extract.to_text if options.format == "text" else extract.to_markdown
        if options.format != "html" or options.links:  # -f html writes the page: no extraction unless --links
            record.content = convert(html, url=url, main=main, extractor=options.extractor)
        if options.format in ("markdown", "json"):
            record.meta = metadata.read_meta(page, url)
        if options.links:
            markdown = record.content or ""  # links are found in Markdown: -f text converts the page once more
            if options.format == "text":
                markdown = extract.to_markdown(html, url=url, main=main, extractor=options.extractor)
            record.links = links.collect(extract.parse_page(page), url, base, markdown)
    if options.format == "html":
        record.payload = html if html is not None else record.content
    elif options.format == "json":
        record.payload = None  # the writer serialises the record itself
    else:
        record.payload = _readable(record, options)


def _readable(record: Record, options: FetchOptions) -> str | None:
    """-f markdown / text: the content; in Markdown after the page's title (unless it starts with it),
    with --links followed by a numbered list of them (fetch/links.py)."""
    content = record.content
    if content is None:
        return None
    if options.format == "markdown" and not options.selector:
        content = metadata.with_title(content, (record.meta.title if record.meta else None) or record.title)
    if record.links:
        listed = links.section(record.links, "text" if options.format == "text" else "markdown")
        content = content.rstrip("\n") + "\n\n" + listed
    return content
