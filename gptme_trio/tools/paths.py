"""Which files the model may touch: the tree chat started in, and the trees the user allowed.

    space = Workspace(Path.cwd(), allowed=[Path("~/notes").expanduser()])
    real = space.resolve("src/app.py")      # a real path inside a tree, or ToolError saying why not

A relative path is read from the directory chat started in (the shell's `cd` moves neither it nor
the trees). Refused, with the reason: `..` that climbs out, an absolute path outside every tree,
and a path that a symlink leads out of (however deep the symlink sits). The returned path is the
resolved one, so what is checked is what is opened. A symlink swapped in between the check and
the open is not caught: the shell tool can do as much, so this confines mistakes, not an attacker.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gptme_trio.core.errors import ToolError, printable


class Workspace:
    def __init__(self, root: Path, allowed: Sequence[Path] = ()) -> None:
        self.root = Path(os.path.realpath(root))
        self.trees = (self.root, *(Path(os.path.realpath(p)) for p in allowed))

    def inside(self, path: Path) -> bool:
        return any(path == tree or tree in path.parents for tree in self.trees)

    def resolve(self, path: str) -> Path:
        """`path` as the real path it names, if that is inside a tree; else ToolError with the reason."""
        shown = printable(path)
        if not path.strip():
            raise ToolError("the path is empty")
        if "\0" in path:
            raise ToolError(f"the path holds a NUL character: {shown}")
        given = Path(path).expanduser()
        lexical = Path(os.path.normpath(self.root / given))  # an absolute `given` stays as it is
        if not self.inside(lexical):
            if given.is_absolute():
                why = "is an absolute path outside"
            elif ".." in given.parts:
                why = "climbs out (`..`) of"
            else:
                why = "is outside"
            raise ToolError(f"refused: {shown} {why} {self._trees()}{self._hint()}")
        real = Path(os.path.realpath(lexical))
        if not self.inside(real):
            raise ToolError(
                f"refused: {shown} leads through a symlink to {real}, outside {self._trees()}{self._hint()}"
            )
        return real

    def show(self, real: Path) -> str:
        """`real` as the model should name it: relative to the root when inside it."""
        return str(real.relative_to(self.root)) if real.is_relative_to(self.root) else str(real)

    def _trees(self) -> str:
        extra = "".join(f", {tree}" for tree in self.trees[1:])
        return f"the directory tree chat started in ({self.root}{extra})"

    def _hint(self) -> str:
        return "; the user can allow more with --allow-paths"
