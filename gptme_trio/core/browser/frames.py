"""Cross-origin frames' documents, read one by one and put in their placeholders in the parent's HTML
(`Page.document(frames=True)`): scripts.DOCUMENT, run in the page, can read only same-origin frames."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import gptme_trio.core.browser.scripts as scripts
from gptme_trio.core.errors import NavigationError, PageError

MAX_DEPTH = 3  # cross-origin frames inside cross-origin frames are read this deep (--frames)


async def inline_frames(
    call: Callable[..., Awaitable[Any]], frame: Any, html: str, options: dict[str, Any], depth: int = 1
) -> str:
    """`html` (of `frame`) with each cross-origin child frame's document in its placeholder. `call` runs a
    Playwright call with its errors mapped (`Page._call`)."""
    for child in frame.child_frames:
        with contextlib.suppress(PageError, NavigationError):  # a frame gone or still loading: left out
            element = await call(child.frame_element)
            index = await call(element.get_attribute, "data-gptme-frame")
            placeholder = scripts.frame_placeholder(int(index)) if index and index.isdigit() else ""
            if not placeholder or placeholder not in html:
                continue
            part: str = await call(child.evaluate, scripts.DOCUMENT, options)
            if depth < MAX_DEPTH and scripts.FRAME_MARK in part:
                part = await inline_frames(call, child, part, options, depth + 1)
            html = html.replace(placeholder, part, 1)
    return html
