"""JSON-LD (schema.org data in <script type="application/ld+json">) read cheaply from a page's HTML.

    nodes(html)        the page's own nodes: each block's top-level objects, @graph members, mainEntity
    types(node)        its @type names, lower-case, without a schema.org prefix
    text(node, key)    a string value (the first of a list; an object's name or @value), unescaped

Bounded for hostile pages: the blocks are found by a linear scan, at most _BLOCKS of them, each at
most _MAX characters, at most _NODES nodes each; a block that is not JSON is skipped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

_OPEN = re.compile(r"""<script\b[^>]{0,500}?type\s*=\s*["']?application/ld\+json[^>]{0,500}>""", re.IGNORECASE)
_CLOSE = re.compile(r"</script\s*>", re.IGNORECASE)
_BLOCKS, _MAX, _NODES = 16, 1_000_000, 2_000


def nodes(page: str) -> Iterator[dict[str, Any]]:
    """The page's own JSON-LD nodes: each block's top-level objects, their @graph members and mainEntity."""
    position, blocks = 0, 0
    while blocks < _BLOCKS and (opener := _OPEN.search(page, position)):
        closer = _CLOSE.search(page, opener.end())
        if closer is None:
            return
        position, blocks = closer.end(), blocks + 1
        text = page[opener.end() : closer.start()]
        if len(text) > _MAX:
            continue
        try:
            data = json.loads(text.strip().removeprefix("<!--").removesuffix("-->"))
        except (ValueError, RecursionError):
            continue
        for count, node in enumerate(_top_nodes(data)):
            if count >= _NODES:
                break
            yield node


def _top_nodes(data: Any) -> Iterator[dict[str, Any]]:
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict):
            continue
        yield item
        graph = item.get("@graph")
        for member in graph if isinstance(graph, list) else []:
            if isinstance(member, dict):
                yield member
                entity = member.get("mainEntity")
                if isinstance(entity, dict):
                    yield entity
        entity = item.get("mainEntity")
        if isinstance(entity, dict):
            yield entity


def types(node: dict[str, Any]) -> list[str]:
    found = node.get("@type")
    names = found if isinstance(found, list) else [found]
    return [n.rsplit("/", 1)[-1].lower() for n in names if isinstance(n, str)]


def text(node: dict[str, Any] | None, key: str) -> str | None:
    value = node.get(key) if node is not None else None
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    return html.unescape(value) if isinstance(value, str) else None
