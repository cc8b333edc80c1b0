"""One MCP tool call: chat's Tool, its deadline, progress while it runs, and its result in pages.

    schema = mcp_schema(tool)          # the tool's own schema + max_length, start_index, timeout
    outcome = await run_call(tool, arguments, tool_timeout=30.0, progress=send)

The call's deadline is the server's `--tool-timeout`, or the call's `timeout` argument when
shorter. Starting the browser is not counted against it (as in chat). Cancellation comes from
the caller's scope (the SDK cancels it on `notifications/cancelled`); the browser service resets
the call's tab in a shielded, bounded clean-up. Errors the tool raises on purpose come back as an
`Outcome` with `error` set and our one-line message. Text results are returned in pages of
`max_length` characters from `start_index`, as mcp-server-fetch does.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from gptme_trio.core.errors import GptmeTrioError, timed_out
from gptme_trio.tools import Report, Tool

PREPARE_SECONDS = 60  # starting the browser, outside each call's own deadline (chat's agent: the same)
PROGRESS_EVERY = 1.0  # seconds between progress notifications (the issue asks for at most 2)
DEFAULT_MAX_LENGTH = 20_000  # characters per result page (chat's budget per read)

MCP_ARGUMENTS: dict[str, dict[str, Any]] = {
    "max_length": {
        "type": "integer",
        "description": f"characters of the result to return at most (default {DEFAULT_MAX_LENGTH})",
        "minimum": 1,
    },
    "start_index": {
        "type": "integer",
        "description": "where to start in the result, in characters: to read on after a truncated result",
        "minimum": 0,
    },
    "timeout": {
        "type": "number",
        "description": "seconds this call may take at most (the server's --tool-timeout caps it)",
        "exclusiveMinimum": 0,
    },
}

Progress = Callable[[float, float, str], Awaitable[None]]  # (seconds so far, deadline, message)


@dataclass
class Outcome:
    text: str
    error: bool = False
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (MIME type, bytes): images


def mcp_schema(tool: Tool) -> dict[str, Any]:
    """The tool's JSON Schema (the one chat sends its model) plus the MCP-only arguments."""
    schema = copy.deepcopy(tool.parameters)
    schema["properties"].update(copy.deepcopy(MCP_ARGUMENTS))
    return schema


def _mcp_arguments(arguments: dict[str, Any], tool_timeout: float) -> tuple[int, int, float]:
    """(max_length, start_index, seconds) from the call's MCP-only arguments, or GptmeTrioError."""

    def integer(name: str, default: int, least: int) -> int:
        value = arguments.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise GptmeTrioError(f"argument {name!r} must be an integer >= {least}")
        return value

    max_length = integer("max_length", DEFAULT_MAX_LENGTH, 1)
    start = integer("start_index", 0, 0)
    timeout = arguments.get("timeout", tool_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise GptmeTrioError("argument 'timeout' must be a number of seconds > 0")
    if not math.isfinite(timeout):
        timeout = tool_timeout
    return max_length, start, min(float(timeout), tool_timeout)


def page_of(text: str, start: int, max_length: int) -> str:
    """`max_length` characters of `text` from `start`, with a note saying how to read on."""
    if start and start >= len(text):
        raise GptmeTrioError(f"start_index {start} is past the end: the result has {len(text):,} characters")
    end = min(start + max_length, len(text))
    if start == 0 and end == len(text):
        return text
    note = f"[characters {start:,}-{end:,} of {len(text):,}"
    more = f"; call again with start_index={end} for more]" if end < len(text) else "]"
    return f"{text[start:end]}\n\n{note}{more}"


async def run_call(tool: Tool, arguments: dict[str, Any], tool_timeout: float, progress: Progress | None) -> Outcome:
    """Run one call of `tool` under its deadline; the caller's scope cancels it."""
    files: list[tuple[str, bytes]] = []
    own = {name: arguments[name] for name in arguments if name not in MCP_ARGUMENTS}
    try:
        max_length, start, seconds = _mcp_arguments(arguments, tool_timeout)
        own = tool.check_arguments(own)
        if tool.reports:
            own["report"] = Report(attach=lambda mime, data: files.append((mime, data)))
        if tool.prepare is not None:
            with trio.move_on_after(PREPARE_SECONDS) as prepared:
                await tool.prepare()
            if prepared.cancelled_caught:
                return Outcome(f"{tool.name} could not get ready within {PREPARE_SECONDS} s", error=True)
    except GptmeTrioError as exc:  # bad arguments, a browser that cannot start
        return Outcome(str(exc), error=True)
    async with trio.open_nursery() as nursery:  # the call's exceptions are caught in it: none is grouped
        if progress is not None:
            nursery.start_soon(_report_progress, progress, tool.name, seconds)
        outcome = await _attempt(tool, own, seconds, start, max_length)
        nursery.cancel_scope.cancel()
    outcome.files = files
    return outcome


async def _attempt(tool: Tool, arguments: dict[str, Any], seconds: float, start: int, max_length: int) -> Outcome:
    before = tool.starts() if tool.starts else 0
    text: str | None = None
    try:
        if tool.own_deadline:  # the shell: its `timeout` argument, and it returns what it has
            text = await tool.run(**arguments)
        else:
            with trio.move_on_after(seconds):
                text = await tool.run(**arguments)
        if text is None:
            restarted = tool.starts is not None and tool.starts() != before
            return Outcome(timed_out(seconds, restarted=restarted), error=True)
        return Outcome(page_of(text, start, max_length))
    except GptmeTrioError as exc:  # ToolError, FetchError: a refused URL, a page that failed
        return Outcome(str(exc), error=True)


async def _report_progress(progress: Progress, name: str, seconds: float) -> None:
    started = trio.current_time()
    while True:
        await trio.sleep(PROGRESS_EVERY)
        elapsed = trio.current_time() - started
        await progress(elapsed, seconds, f"{name}: {elapsed:.0f} s of at most {seconds:g} s")
