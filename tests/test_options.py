"""The option types are the one source of truth: the CLI's choices and the plan's input derive from them."""

from __future__ import annotations

import dataclasses
from typing import get_args

import click

from gptme_trio.cli.fetch import fetch
from gptme_trio.fetch.options import (
    BINARY_FORMATS,
    CAPTURES,
    ENGINES,
    EXTRACTORS,
    FORMATS,
    WAIT_UNTIL,
    Capture,
    FetchRequest,
    Format,
    is_binary,
)
from gptme_trio.fetch.output import EXTENSIONS


def choices(name: str) -> tuple[str, ...]:
    [param] = [p for p in fetch.params if p.name == name]
    assert isinstance(param.type, click.Choice)
    return tuple(param.type.choices)


def test_the_fetch_command_offers_exactly_the_literals():
    assert choices("fmt") == FORMATS == get_args(Format)
    assert choices("engine") == ENGINES == ("browser", "http")
    assert choices("wait_until") == WAIT_UNTIL == ("commit", "domcontentloaded", "load", "networkidle")
    assert choices("extractor") == EXTRACTORS == ("trafilatura", "blocks", "auto")


def test_every_fetch_parameter_is_a_field_of_the_request():
    fields = {f.name: f.default for f in dataclasses.fields(FetchRequest)}
    params = {p.name: p.default for p in fetch.params}
    assert set(params) == set(fields)
    given = {name: default for name, default in params.items() if isinstance(default, (str, int, float))}
    # fmt, extractor, engine, timeout, concurrency, wait_until, js_max
    assert given == {name: fields[name] for name in given}
    assert len(given) == 7


def test_every_format_has_a_file_extension_and_binary_formats_are_captures():
    assert set(EXTENSIONS) == set(FORMATS)
    assert [f for f in FORMATS if is_binary(f)] == list(BINARY_FORMATS) == ["png", "pdf"]
    assert set(BINARY_FORMATS) <= set(CAPTURES) == set(get_args(Capture))
