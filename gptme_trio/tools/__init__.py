"""Tools the model can call: dataclasses built from typed async functions.

    @dataclass ... Tool(name, description, parameters, run)
    read_url = tool(toolbox.read_url)   # name, JSON Schema and description from the function

A tool returns text for the model. Failures the model should see (a page that
cannot be reached, a bad argument) are raised as ToolError or FetchError and
become "error: ..." results; the caller sets each call's deadline, unless the tool
bounds its own time (`own_deadline`: the shell's `timeout` argument) and reports running out of
it as a result.

A tool may take a `report: Report` parameter (not shown to the model): its output for the
user's terminal while it runs, and its result so far should the call be interrupted.
A `preview` shows the user what a call will do before they confirm it (the command, a diff).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, get_type_hints

from gptme_trio.core.errors import ToolError

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SIMPLE = frozenset(_JSON_TYPES.values())


@dataclass
class Report:
    """A running call's line to the user, and what it leaves behind when cancelled."""

    show: Callable[[str], None] = lambda text: None  # output as it arrives, for the terminal
    # Set by the tool: its result so far, which the caller records when the call is interrupted.
    partial: Callable[[], str] | None = None
    # Files the call produced, as (MIME type, bytes): the MCP server returns a screenshot's PNG as an image.
    attach: Callable[[str, bytes], None] = lambda mime, data: None


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., Awaitable[str]]
    # Shared set-up a call waits for before its own deadline starts (starting the browser):
    # not the call's fault, so not counted against --tool-timeout. Ctrl-C still cancels it.
    prepare: Callable[[], Awaitable[None]] | None = None
    # Calls of sequential tools in one reply run one after another, in call order (they act on
    # shared state: the interactive page); the others run concurrently beside them.
    sequential: bool = False
    # How many browsers the tool's service has started: a call that times out after this changed
    # says the browser died meanwhile (its transparent restart came out of the call's deadline).
    starts: Callable[[], int] | None = None
    # Checks a call's arguments before the user is asked to approve it (same keyword arguments
    # as `run`); raises ToolError for a call that would be refused, such as a URL the policy
    # forbids: the model reads why, and the user is never asked about it. `run` checks again.
    check: Callable[..., Awaitable[None]] | None = None
    # The tool keeps its own deadline (from its arguments) and returns what it has when it passes.
    own_deadline: bool = False
    # What the user is shown before confirming the call (checked arguments in; ToolError: the call
    # cannot run, and nobody needs to be asked).
    preview: Callable[[dict[str, Any]], str] | None = None

    @property
    def reports(self) -> bool:
        """It takes a `report: Report` argument."""
        return "report" in inspect.signature(self.run).parameters

    def as_sequential(self) -> Tool:
        return replace(self, sequential=True)

    def check_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments, checked against the schema's names and types, or ToolError.

        Ours are flat (str, int, float, bool; no others allowed). A schema from elsewhere (an MCP
        server's) may allow more names, or types beyond these: what it says beyond them is left to
        the tool's own server to check."""
        props, required = self.parameters.get("properties") or {}, self.parameters.get("required") or []
        closed = self.parameters.get("additionalProperties") is False
        unknown = sorted(set(arguments) - set(props)) if closed else []
        missing = [name for name in required if name not in arguments]
        if unknown or missing:
            raise ToolError(f"{self.name}: unknown arguments {unknown}, missing {missing}".replace(", missing []", ""))
        for name, value in arguments.items():
            expected, actual = (props.get(name) or {}).get("type"), _JSON_TYPES.get(type(value))
            if expected not in _SIMPLE:
                continue
            if actual != expected and not (expected == "number" and actual == "integer"):
                raise ToolError(f"{self.name}: argument {name!r} must be a {expected}")
        return arguments


def tool(
    fn: Callable[..., Awaitable[str]],
    prepare: Callable[[], Awaitable[None]] | None = None,
    starts: Callable[[], int] | None = None,
    *,
    own_deadline: bool = False,
    preview: Callable[[dict[str, Any]], str] | None = None,
    check: Callable[..., Awaitable[None]] | None = None,
) -> Tool:
    """A Tool from an async function: its name, typed parameters and docstring.

    The first docstring paragraph is the description; lines `name: text` under
    an `Args:` heading describe the parameters.
    """
    hints = get_type_hints(fn)
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n\nArgs:\n")
    arg_docs = dict(line.strip().split(": ", 1) for line in rest.splitlines() if ": " in line)
    properties, required = {}, []
    for name, param in inspect.signature(fn).parameters.items():
        if hints.get(name) is Report:
            continue  # given by the caller, not the model
        kind = _JSON_TYPES.get(hints.get(name, str))
        if kind is None:
            raise TypeError(f"tool {fn.__name__}: parameter {name} must be str, int, float or bool")
        properties[name] = {"type": kind, "description": arg_docs.get(name, name)}
        if param.default is inspect.Parameter.empty:
            required.append(name)
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return Tool(
        fn.__name__,
        summary.strip(),
        schema,
        fn,
        prepare,
        starts=starts,
        check=check,
        own_deadline=own_deadline,
        preview=preview,
    )
