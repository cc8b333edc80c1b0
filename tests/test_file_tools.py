"""The file tools: bounded reads, whole-or-untouched writes, exact patches, paths kept inside the tree.

The tools are called directly (they are plain async functions on a Workspace rooted in tmp_path),
and through the agent where confirmation matters (the preview the user sees, a patch that cannot
apply never asking). How chat picks its tools (`--tools`, config, -n): tests/test_tool_choice.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import trio

from gptme_trio.chat.agent import Agent, ChatSettings
from gptme_trio.chat.store import Conversation
from gptme_trio.core.errors import ToolError
from gptme_trio.llm import Message
from gptme_trio.tools.files import MAX_LINES, FileTools
from gptme_trio.tools.paths import Workspace
from tests.support.scripted import ScriptedProvider
from tests.support.ui import RecordingUI


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text("def main():\n    return 1\n\n\ndef other():\n    return 1\n")
    return root


@pytest.fixture
def files(tree) -> FileTools:
    return FileTools(Workspace(tree))


def snapshot(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


async def test_read_file_numbers_lines_and_pages_through_a_long_file(files, tree):
    assert await files.read_file("app.py") == (
        "     1\tdef main():\n     2\t    return 1\n     3\t\n     4\t\n     5\tdef other():\n     6\t    return 1"
    )
    assert await files.read_file("app.py", offset=5, limit=1) == (
        "     5\tdef other():\n[lines 5-5 shown; app.py goes on (53 bytes in all): offset=6 reads on]"
    )
    (tree / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 5001)))
    first = await files.read_file("long.txt", limit=100_000)
    assert first.count("\n") == MAX_LINES  # capped, plus the note
    assert first.endswith(f"offset={MAX_LINES + 1} reads on]")
    assert (await files.read_file("long.txt", offset=4999)).endswith("  5000\tline 5000")
    assert await files.read_file("long.txt", offset=6000) == "[long.txt has 5000 lines; nothing at line 6000]"


async def test_read_file_bounds_its_size_and_cuts_very_long_lines(files, tree):
    (tree / "wide.txt").write_text("x" * 100_000 + "\n" + ("y" * 1000 + "\n") * 200)
    result = await files.read_file("wide.txt")
    assert "… [line cut: 100000 characters]" in result.splitlines()[0]
    assert len(result.encode()) < 60 * 1024
    assert "reads on]" in result


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("notes.zip", b"PK\x03\x04" + b"\0" * 100, "a zip archive"),  # an image is attached: tests/test_vision.py
        ("blob.bin", b"abc\0def", "a binary file"),
    ],
)
async def test_read_file_refuses_binary_files_clearly(files, tree, name, data, kind):
    (tree / name).write_bytes(data)
    with pytest.raises(ToolError, match=f"^{name} is {kind} \\(.*\\); read_file reads text files only$"):
        await files.read_file(name)


async def test_read_file_refuses_a_fifo_without_blocking_and_a_directory(files, tree):
    os.mkfifo(tree / "pipe")
    with trio.fail_after(2), pytest.raises(ToolError, match="it is not a regular file"):
        await files.read_file("pipe")
    (tree / "sub").mkdir()
    with pytest.raises(ToolError, match="it is a directory"):
        await files.read_file("sub")
    with pytest.raises(ToolError, match="cannot read nope.txt: No such file or directory"):
        await files.read_file("nope.txt")


async def test_save_file_creates_folders_and_replacing_keeps_the_mode(files, tree):
    assert await files.save_file("deep/er/new.txt", "a\nb\n") == "saved deep/er/new.txt (2 lines, 4 bytes)"
    assert (tree / "deep/er/new.txt").read_text() == "a\nb\n"
    script = tree / "run.sh"
    script.write_text("old\n")
    script.chmod(0o754)
    await files.save_file("run.sh", "new\n")
    assert script.read_text() == "new\n" and stat.S_IMODE(script.stat().st_mode) == 0o754
    assert await files.append_file("run.sh", "more\n") == "appended to run.sh (2 lines, 9 bytes)"
    assert script.read_text() == "new\nmore\n" and stat.S_IMODE(script.stat().st_mode) == 0o754
    await files.append_file("fresh.log", "one\n")
    assert (tree / "fresh.log").read_text() == "one\n"
    assert sorted(p.name for p in tree.iterdir() if p.name.startswith(".")) == []  # no temporary files left


async def test_patch_file_replaces_exactly_one_match(files, tree):
    assert await files.patch_file("app.py", "def main():\n    return 1", "def main():\n    return 2") == (
        "patched app.py (6 lines, 53 bytes)"
    )
    assert (tree / "app.py").read_text().startswith("def main():\n    return 2\n")


@pytest.mark.parametrize(
    ("old", "message"),
    [
        ("return 3", "`old` matched 0 times in app.py; nothing changed. read_file it and copy the text exactly"),
        ("    return 1", "`old` matched 2 times in app.py; nothing changed. Include more of the surrounding lines"),
        ("", "`old` is empty"),
    ],
)
async def test_patch_file_that_does_not_match_once_says_how_often_and_leaves_the_file(files, tree, old, message):
    before = snapshot(tree / "app.py")
    with pytest.raises(ToolError, match=f"^patch_file: {message}"):
        await files.patch_file("app.py", old, "return 9")
    assert snapshot(tree / "app.py") == before


async def test_overlapping_matches_count_as_several(files, tree):
    (tree / "a.txt").write_text("aaa")
    with pytest.raises(ToolError, match="matched 2 times"):
        await files.patch_file("a.txt", "aa", "b")


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside.txt", "climbs out \\(`..`\\) of"),
        ("sub/../../outside.txt", "climbs out \\(`..`\\) of"),
        ("/etc/passwd", "is an absolute path outside"),
        ("~/x.txt", "is an absolute path outside"),
    ],
)
async def test_paths_outside_the_tree_are_refused_with_the_reason(files, tree, path, why):
    (tree.parent / "outside.txt").write_text("secret\n")
    for call in (files.read_file(path), files.save_file(path, "x"), files.patch_file(path, "secret", "x")):
        with pytest.raises(ToolError, match=f"^refused: .* {why} the directory tree chat started in \\({tree}\\)"):
            await call
    assert (tree.parent / "outside.txt").read_text() == "secret\n"


async def test_symlinks_that_leave_the_tree_are_refused(files, tree):
    outside = tree.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (tree / "link.txt").symlink_to(outside / "secret.txt")
    (tree / "linkdir").symlink_to(outside)
    for path in ("link.txt", "linkdir/secret.txt", "linkdir/new.txt"):
        with pytest.raises(ToolError, match=f"^refused: {path} leads through a symlink to {outside}"):
            await files.read_file(path)
        with pytest.raises(ToolError, match="leads through a symlink"):
            await files.save_file(path, "overwritten\n")
    assert (outside / "secret.txt").read_text() == "secret\n" and not (outside / "new.txt").exists()
    (tree / "inner.txt").symlink_to(tree / "app.py")  # a symlink inside the tree is fine
    assert (await files.read_file("inner.txt")).startswith("     1\tdef main():")


async def test_allowed_paths_widen_the_tree(tree, tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    files = FileTools(Workspace(tree, [notes]))
    await files.save_file(str(notes / "todo.md"), "- one\n")
    assert (notes / "todo.md").read_text() == "- one\n"


async def test_confirmation_shows_a_diff_or_the_new_file_and_a_patch_that_cannot_apply_asks_nothing(files, tree):
    conversation = Conversation.create(tree.parent, "files")
    conversation.append(Message("system", "s"))
    model = ScriptedProvider()
    model.enqueue(tool_calls=[("patch_file", {"path": "app.py", "old": "def main():\n    return 1", "new": "X"})])
    model.enqueue(tool_calls=[("save_file", {"path": "new.txt", "content": "hello\nworld\n"})])
    model.enqueue(tool_calls=[("patch_file", {"path": "app.py", "old": "nowhere", "new": "X"})])
    model.enqueue("done")
    ui = RecordingUI()
    agent = Agent(model, {t.name: t for t in files.tools()}, ChatSettings(confirm_tools=True))
    assert await agent.turn(conversation, "edit", ui) == "done"
    [(_, diff), (_, new)] = ui.asked  # the third call was never put to the user
    assert diff.splitlines()[:3] == ["--- app.py", "+++ app.py", "@@ -1,5 +1,4 @@"]
    assert "-def main():\n-    return 1\n+X" in diff
    assert new == "new file new.txt (2 lines):\nhello\nworld"
    assert model.requests[-1].tool_results[-1].startswith("error: patch_file: `old` matched 0 times in app.py")
