"""Images a tool hands to the model (a screenshot, an image file read): where they are, what type.

    image = Image(path, "image/png")        # the file stays on disk; the log names it
    image_type(first_bytes)                  # "image/png", "image/jpeg", ... or None

The bytes are read only when a request is built (`data`), so a conversation log never
inlines them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

MAX_IMAGE = 5 * 1024 * 1024  # bytes: the smallest limit of the APIs (Anthropic's)
_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


@dataclass(frozen=True)
class Image:
    path: Path
    media_type: str

    def data(self) -> str | None:
        """The file as base64, or None when it is gone (or unreadable) since it was attached."""
        try:
            return base64.b64encode(self.path.read_bytes()).decode("ascii")
        except OSError:
            return None


def image_type(start: bytes) -> str | None:
    """The media type of an image the APIs take (PNG, JPEG, GIF, WebP), from its first bytes."""
    if start[:4] == b"RIFF" and start[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _TYPES.items() if start.startswith(magic)), None)


class Attached(str):
    """A tool's text result with images attached; anything that wants text reads it as the str it is."""

    images: tuple[Image, ...]

    def __new__(cls, text: str, images: tuple[Image, ...]) -> Attached:
        made = super().__new__(cls, text)
        made.images = images
        return made
